//! The HTTP edge: routes, the one mapping from errors to responses, and the server's
//! start. Handlers stay thin: gather the request, call one use case, shape the answer.

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use chrono::Utc;
use grantlog_oauth1::encoding::percent_encode;
use grantlog_oauth1::uri::signed_url;
use grantlog_oauth1::{IncomingRequest, ProtocolError};
use secrecy::ExposeSecret;

use grantlog_store::photos;

use crate::oauth::{Checks, RequestError};
use crate::service::Services;

/// Largest request body accepted: OAuth forms are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "grantlog";

/// Everything a handler needs.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The use cases.
    pub services: Services,
    /// The scheme, host and port clients reach us by (they sign URLs with it).
    pub public_url: String,
    /// Timestamp window and other checks.
    pub checks: Checks,
}

impl AppState {
    /// The absolute URL the client signed: our public URL and the request target.
    fn signed_url(&self, request: &HttpRequest) -> String {
        signed_url(&self.public_url, request.uri().path_and_query().map_or("/", |target| target.as_str()))
    }
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    address: SocketAddr,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `listener` and builds the server; port 0 lets the OS choose (tests).
    /// `public_url` defaults to `http://` and the bound address.
    pub fn build(
        listener: TcpListener,
        services: Services,
        public_url: Option<String>,
        checks: Checks,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let state =
            AppState { services, public_url: public_url.unwrap_or_else(|| format!("http://{address}")), checks };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/oauth/initiate", web::post().to(initiate))
                .route("/oauth/token", web::post().to(token))
                .route("/api/photos", web::get().to(photos))
                .route("/api/photos/{id}", web::get().to(photo))
        })
        .listen(listener)?
        .run();
        Ok(Self { server, address })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until stopped (SIGINT or SIGTERM).
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Ready when the database answers.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.services.store.head().await {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ready\n"),
        Err(error) => {
            tracing::error!(%error, "readiness check failed");
            HttpResponse::ServiceUnavailable().content_type("text/plain").body("database unavailable\n")
        }
    }
}

/// `POST /oauth/initiate`.
async fn initiate(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let url = signed_url(&state.public_url, request.uri().path_and_query().map_or("/", |p| p.as_str()));
    let incoming = incoming(&request, &url, &body);
    let credentials = state.services.initiate(&incoming, Utc::now(), state.checks).await?;
    Ok(form(&[
        ("oauth_token", &credentials.token),
        ("oauth_token_secret", credentials.secret.expose_secret()),
        ("oauth_callback_confirmed", "true"),
    ]))
}

/// `POST /oauth/token`.
async fn token(request: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let incoming = incoming(&request, &url, &body);
    let credentials = state.services.exchange(&incoming, Utc::now(), state.checks).await?;
    Ok(form(&[("oauth_token", &credentials.token), ("oauth_token_secret", credentials.secret.expose_secret())]))
}

/// `GET /api/photos`: the photos the access token's grant covers.
async fn photos(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let access = state.services.access(&incoming(&request, &url, &[]), Utc::now(), state.checks).await?;
    let owned = photos::photos_of(state.services.store.reader(), access.owner_id).await.map_err(internal)?;
    let listed: Vec<serde_json::Value> = owned
        .iter()
        .filter(|photo| access.resources.contains(&photo.photo_id))
        .map(|photo| {
            serde_json::json!({
                "id": photo.photo_id,
                "title": photo.title,
                "content_type": photo.content_type,
                "url": format!("/api/photos/{}", percent_encode(&photo.photo_id)),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(listed))
}

/// `GET /api/photos/{id}`: one covered photo's bytes. A photo the grant does not
/// cover is answered exactly like one that does not exist.
async fn photo(
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let access = state.services.access(&incoming(&request, &url, &[]), Utc::now(), state.checks).await?;
    let found = match access.resources.contains(&id) {
        true => photos::photo_bytes(state.services.store.reader(), access.owner_id, &id).await.map_err(internal)?,
        false => None,
    };
    Ok(match found {
        Some((content_type, bytes)) => HttpResponse::Ok().content_type(content_type).body(bytes),
        None => HttpResponse::NotFound().content_type("text/plain").body("no such photo\n"),
    })
}

fn internal(error: grantlog_store::StoreError) -> ApiError {
    ApiError::Internal(grantlog_projection::ProjectionError::from(error).into())
}

/// What the protocol needs of an HTTP request.
fn incoming<'a>(request: &'a HttpRequest, url: &'a str, body: &'a [u8]) -> IncomingRequest<'a> {
    let header = |name| request.headers().get(name).and_then(|value: &HeaderValue| value.to_str().ok());
    IncomingRequest {
        method: request.method().as_str(),
        url,
        authorization: header(header::AUTHORIZATION),
        content_type: header(header::CONTENT_TYPE),
        body,
    }
}

/// A form-encoded 200.
fn form(pairs: &[(&str, &str)]) -> HttpResponse {
    HttpResponse::Ok().content_type("application/x-www-form-urlencoded").body(encode_form(pairs))
}

fn encode_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Every error a handler returns, mapped to a response in one place.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// An OAuth problem: 400 or 401 with Problem Reporting parameters.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Our failure: logged with its cause, answered with a bare 500.
    #[error("internal error")]
    Internal(#[source] crate::service::ServiceError),
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        match error {
            RequestError::Refused(problem) => Self::Protocol(problem),
            RequestError::Failed(failure) => Self::Internal(failure),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Protocol(problem) => StatusCode::from_u16(problem.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Protocol(problem) => {
                let report = problem.report();
                let pairs: Vec<(&str, &str)> = report.iter().map(|(name, value)| (*name, value.as_str())).collect();
                let mut response = HttpResponse::build(self.status_code());
                if problem.status() == 401 {
                    response.insert_header((
                        header::WWW_AUTHENTICATE,
                        format!("OAuth realm=\"{REALM}\", oauth_problem=\"{}\"", problem.problem()),
                    ));
                }
                response.content_type("application/x-www-form-urlencoded").body(encode_form(&pairs))
            }
            Self::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                HttpResponse::InternalServerError().content_type("text/plain").body("internal error\n")
            }
        }
    }
}
