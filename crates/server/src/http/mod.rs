//! The HTTP edge: routes, the one mapping from errors to responses, and the server's
//! start. Handlers stay thin: gather the request, call one use case, shape the answer.

use std::net::{SocketAddr, TcpListener};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, Service as _, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use grantlog_oauth1::IncomingRequest;
use grantlog_oauth1::encoding::percent_encode;
use grantlog_oauth1::uri::signed_url;
use opentelemetry::trace::TraceContextExt as _;
use secrecy::{ExposeSecret, SecretString};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{RootSpanBuilder, TracingLogger};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use grantlog_domain::{OwnerId, Permission};
use grantlog_oauth1::encoding::parse_form;
use grantlog_projection::tables::timestamp;
use grantlog_store::photos;
use grantlog_store::sessions::Session;

use crate::owner::{Decision, DecisionError, LoginError, Outcome, Pending};
use crate::pages::{self, LoginFor, PhotoChoice};
use crate::service::random_token;

use crate::metrics;
use crate::oauth::{Checks, RequestError};
use crate::operators::OperatorTokens;
use crate::service::Services;
use crate::signed::Access;
use client_address::TrustedProxies;

mod account;
pub mod client_address;
mod error;
mod operator;

pub use error::ApiError;
use error::with_retry_after;

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
    /// Who may call the admin and auditor APIs.
    pub operators: OperatorTokens,
    /// The proxies whose forwarding headers name the client's address.
    pub trusted_proxies: TrustedProxies,
}

impl AppState {
    /// The absolute URL the client signed: our public URL and the request target.
    fn signed_url(&self, request: &HttpRequest) -> String {
        signed_url(&self.public_url, request.uri().path_and_query().map_or("/", |target| target.as_str()))
    }

    /// Where the request comes from, for throttling: see [`TrustedProxies`].
    fn client_address(&self, request: &HttpRequest) -> std::net::IpAddr {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all(self.trusted_proxies.header().name())
            .filter_map(|value| value.to_str().ok())
            .collect();
        let peer = request.peer_addr().map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |peer| peer.ip());
        self.trusted_proxies.client_address(peer, &forwarded)
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
        operators: OperatorTokens,
        trusted_proxies: TrustedProxies,
    ) -> std::io::Result<Self> {
        let address = listener.local_addr()?;
        let public_url = public_url.unwrap_or_else(|| format!("http://{address}"));
        let checks = Checks { plaintext_allowed: public_url.starts_with("https://"), ..checks };
        let state = AppState { services, public_url, checks, operators, trusted_proxies };
        let server = HttpServer::new(move || {
            App::new()
                .wrap_fn(|request, service| {
                    let started = std::time::Instant::now();
                    let method = request.method().to_string();
                    let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                    let answered = service.call(request);
                    async move {
                        let response = answered.await;
                        let status = match &response {
                            Ok(response) => response.status(),
                            Err(error) => error.as_response_error().status_code(),
                        };
                        metrics::request_answered(&method, &route, status.as_u16(), started.elapsed().as_secs_f64());
                        response
                    }
                })
                .wrap(TracingLogger::<RequestSpan>::new())
                .app_data(web::Data::new(state.clone()))
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/metrics", web::get().to(metrics_page))
                .route("/oauth/initiate", web::post().to(initiate))
                .route("/oauth/token", web::post().to(token))
                .route("/oauth/verify", web::post().to(verify))
                .route("/oauth/authorize", web::get().to(authorize_page))
                .route("/oauth/authorize", web::post().to(authorize_decision))
                .route("/login", web::get().to(account::login_form))
                .route("/login", web::post().to(login))
                .route("/logout", web::post().to(account::logout))
                .route(GRANTS_PAGE, web::get().to(account::grants))
                .route("/account/grants/{id}", web::get().to(account::grant))
                .route("/account/grants/{id}/revoke", web::post().to(account::revoke))
                .route("/account/clients/{id}/revoke", web::post().to(account::disconnect))
                .route("/account/clients/{id}/forget", web::post().to(account::forget))
                .route("/admin/clients", web::post().to(operator::register_client))
                .route("/audit/events", web::get().to(operator::events))
                .route("/audit/verify", web::get().to(operator::verify))
                .route("/audit/replay", web::get().to(operator::replay))
                .route("/static/grantlog.css", web::get().to(stylesheet))
                .route("/api/photos", web::get().to(photos))
                .route("/api/photos/{id}", web::get().to(photo))
                .default_service(web::to(not_found))
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

/// Any other path, or a method a path does not take: a 404 that says so.
async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().content_type("text/plain").body("no such page (or not with this method)\n")
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

/// `GET /metrics`: OpenMetrics text for Prometheus.
async fn metrics_page(state: web::Data<AppState>) -> HttpResponse {
    match metrics::scrape(&state.services.store).await {
        Ok(text) => HttpResponse::Ok().content_type(metrics::CONTENT_TYPE).body(text),
        Err(error) => {
            tracing::error!(%error, "reading the metrics failed");
            HttpResponse::InternalServerError().content_type("text/plain").body("internal error\n")
        }
    }
}

/// `POST /oauth/initiate`.
async fn initiate(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let incoming = incoming(&request, &url, &body);
    let credentials = state.services.initiate(&incoming, Utc::now(), state.checks, &trace_id(&request)).await?;
    outcome("temporary_credentials_issued");
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
    let credentials = state.services.exchange(&incoming, Utc::now(), state.checks, &trace_id(&request)).await?;
    outcome("token_credentials_issued");
    Ok(form(&[("oauth_token", &credentials.token), ("oauth_token_secret", credentials.secret.expose_secret())]))
}

/// A request another resource server received, forwarded for checking.
#[derive(Debug, serde::Deserialize)]
struct ForwardedRequest {
    method: String,
    /// The absolute URL the client signed, query included.
    url: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    /// The body as received (read for parameters only when it is a form).
    #[serde(default)]
    body: String,
}

/// `POST /oauth/verify`: for other resource servers. Given a request's method, URL,
/// headers and body, says whether its signature and access token are valid now, and if
/// so for which owner, client, scope and resources. The check is the full one,
/// nonce included: forward each request once. A verdict is always a 200; only a
/// malformed question is a 400.
async fn verify(forwarded: web::Json<ForwardedRequest>, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let header =
        |name: &str| forwarded.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let incoming = IncomingRequest {
        method: &forwarded.method,
        url: &forwarded.url,
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: forwarded.body.as_bytes(),
    };
    // PLAINTEXT is safe only if the request it came in reached that server over TLS.
    let checks = Checks { plaintext_allowed: forwarded.url.starts_with("https://"), ..state.checks };
    let verdict = match state.services.access(&incoming, None, Utc::now(), checks).await {
        Ok(access) => {
            outcome("valid");
            serde_json::json!({
                "valid": true,
                "owner_id": access.grant.owner_id,
                "client_key": access.client_key,
                "scope": access.grant.scope.permissions().map(|permission| permission.as_str()).collect::<Vec<_>>(),
                "resources": access.grant.resources,
                "expires_at": access.grant.expires_at.map(timestamp),
            })
        }
        Err(RequestError::Refused(problem)) => {
            outcome("invalid");
            Span::current().record("oauth.problem", problem.problem());
            serde_json::json!({ "valid": false, "oauth_problem": problem.problem(), "status": problem.status() })
        }
        Err(other) => return Err(other.into()),
    };
    Ok(HttpResponse::Ok().json(verdict))
}

/// A request for photos: signed with an access token whose grant reads photos now.
async fn photo_access(request: &HttpRequest, state: &AppState) -> Result<Access, ApiError> {
    let url = state.signed_url(request);
    let incoming = incoming(request, &url, &[]);
    Ok(state.services.access(&incoming, Some(Permission::PhotosRead), Utc::now(), state.checks).await?)
}

/// `GET /api/photos`: the photos the access token's grant covers.
async fn photos(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let access = photo_access(&request, &state).await?;
    outcome("access_granted");
    let owned = state.services.photos(access.grant.owner_id.uuid()).await.map_err(ApiError::from)?;
    let listed: Vec<serde_json::Value> = owned
        .iter()
        .filter(|photo| access.covers(&photo.photo_id))
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
    let access = photo_access(&request, &state).await?;
    outcome("access_granted");
    let found = match access.covers(&id) {
        true => photos::photo_bytes(state.services.store.reader(), access.grant.owner_id.uuid(), &id)
            .await
            .map_err(ApiError::from)?,
        false => None,
    };
    Ok(match found {
        Some((content_type, bytes)) => HttpResponse::Ok().content_type(content_type).body(bytes),
        None => HttpResponse::NotFound().content_type("text/plain").body("no such photo\n"),
    })
}

const SESSION_COOKIE: &str = "grantlog_session";
/// The owner's grants page.
const GRANTS_PAGE: &str = "/account/grants";
const LOGIN_CSRF_COOKIE: &str = "grantlog_login_csrf";

/// `GET /oauth/authorize?oauth_token=…`: the login form, or the consent page for a
/// logged-in owner. Any `oauth_callback` here is ignored: the callback is the one
/// given at initiate.
async fn authorize_page(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let query = parse_form(request.query_string()).unwrap_or_default();
    let token = value(&query, "oauth_token").unwrap_or_default();
    let now = Utc::now();
    let Some(pending) = state.services.pending(token, now).await.map_err(ApiError::from)? else {
        return Err(gone());
    };
    match state.session(&request, now).await? {
        Some(session) => {
            let owner = OwnerId::new(session.owner_id);
            let remembered = state.services.remembered(owner, pending.client.client_id).await;
            if let Some(remembered) = remembered.map_err(ApiError::from)? {
                let trace = trace_id(&request);
                match state.services.apply_remembered(session.owner_id, &pending, &remembered, now, &trace).await {
                    Ok(Some(done)) => {
                        outcome("approved_by_remembered_decision");
                        return Ok(answered(done, &pending.client.name));
                    }
                    // It no longer fits, or the request is no longer answerable: ask her.
                    Ok(None) | Err(DecisionError::Invalid(_) | DecisionError::Gone) => {}
                    Err(DecisionError::Failed(error)) => return Err(error.into()),
                }
            }
            outcome("consent_shown");
            consent_page(&state, &pending, &session, StatusCode::OK, None).await
        }
        None => {
            outcome("login_shown");
            Ok(login_page(&state, LoginFor::Request(token), StatusCode::OK, None))
        }
    }
}

/// `POST /login`: the login form's answer. Leads on to the request's consent page, or
/// to the account page the form names.
async fn login(request: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let form = form_fields(&body);
    let then = login_for(value(&form, "oauth_token"), value(&form, "next"));
    if !cookie(&request, LOGIN_CSRF_COOKIE).is_some_and(|expected| csrf_matches(&form, expected)) {
        return Err(forbidden());
    }
    let address = state.client_address(&request);
    let password = SecretString::from(value(&form, "password").unwrap_or_default().to_owned());
    let username = value(&form, "username").unwrap_or_default();
    match state.services.login(username, password, address, Utc::now()).await {
        Ok(new) => {
            outcome("logged_in");
            let location = match then {
                LoginFor::Request(token) => format!("/oauth/authorize?oauth_token={}", percent_encode(token)),
                LoginFor::Account(next) => next.to_owned(),
            };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .append_header((
                    header::SET_COOKIE,
                    state.cookie(SESSION_COOKIE, new.cookie.expose_secret(), "/", "Lax"),
                ))
                .append_header((header::SET_COOKIE, expire_cookie(LOGIN_CSRF_COOKIE, "/login")))
                .finish())
        }
        Err(LoginError::Refused) => {
            outcome("login_refused");
            Ok(login_page(&state, then, StatusCode::UNAUTHORIZED, Some("Wrong username or password.")))
        }
        Err(LoginError::InvalidUsername) => {
            outcome("login_refused");
            Ok(login_page(&state, then, StatusCode::BAD_REQUEST, Some("A username is 1 to 64 printable characters.")))
        }
        Err(LoginError::Throttled { retry_after }) => {
            outcome("login_throttled");
            let page = login_page(
                &state,
                then,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many failed logins. Try again later."),
            );
            Ok(with_retry_after(page, retry_after.num_seconds().max(1)))
        }
        Err(LoginError::Busy) => {
            outcome("login_busy");
            let page =
                login_page(&state, then, StatusCode::SERVICE_UNAVAILABLE, Some("Too many logins at once. Try again."));
            Ok(with_retry_after(page, 1))
        }
        Err(LoginError::Failed(error)) => Err(error.into()),
    }
}

/// Where a login form leads: the request it names, else the account page it names if
/// that is one of ours, else the grants page. Only local `/account/…` paths of plain
/// characters are followed, so the form cannot send anyone elsewhere.
fn login_for<'a>(oauth_token: Option<&'a str>, next: Option<&'a str>) -> LoginFor<'a> {
    match (oauth_token.filter(|token| !token.is_empty()), next) {
        (Some(token), _) => LoginFor::Request(token),
        (None, Some(next))
            if next.starts_with("/account/")
                && next.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'))
                && !next.contains("//") =>
        {
            LoginFor::Account(next)
        }
        (None, _) => LoginFor::Account(GRANTS_PAGE),
    }
}

/// `POST /oauth/authorize`: approve or deny. Without the session's CSRF token: 403,
/// and nothing changes.
async fn authorize_decision(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let form = form_fields(&body);
    let Some(session) = state.posting_session(&request, &form).await? else { return Err(forbidden()) };
    let decision = Decision {
        token: value(&form, "oauth_token").unwrap_or_default().to_owned(),
        approve: value(&form, "decision") == Some("approve"),
        photos: form.iter().filter(|(name, _)| name == "photos").map(|(_, photo)| photo.clone()).collect(),
        expires: value(&form, "expires").unwrap_or("1hour").to_owned(),
        remember: value(&form, "remember").is_some(),
    };
    let pending = state.services.pending(&decision.token, now).await.map_err(ApiError::from)?;
    let approve = decision.approve;
    let decided = state.services.decide(session.owner_id, decision, now, &trace_id(&request)).await;
    if decided.is_ok() {
        outcome(if approve { "approved" } else { "denied" });
    }
    match decided {
        Ok(done) => Ok(answered(done, &pending.map(|p| p.client.name).unwrap_or_default())),
        Err(DecisionError::Invalid(problem)) => {
            outcome("decision_invalid");
            match pending {
                Some(pending) => consent_page(&state, &pending, &session, StatusCode::BAD_REQUEST, Some(problem)).await,
                None => Err(gone()),
            }
        }
        Err(DecisionError::Gone) => Err(gone()),
        Err(DecisionError::Failed(error)) => Err(error.into()),
    }
}

/// Where the owner goes once her answer is recorded: back to the client, or to the
/// verifier page for `oob`.
fn answered(outcome: Outcome, client_name: &str) -> HttpResponse {
    match outcome {
        Outcome::Redirect(location) => HttpResponse::Found().insert_header((header::LOCATION, location)).finish(),
        Outcome::ShowVerifier(verifier) => html(StatusCode::OK, pages::verifier(client_name, &verifier)),
    }
}

async fn consent_page(
    state: &AppState,
    pending: &Pending,
    session: &Session,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let photos = state.services.photos(session.owner_id).await.map_err(ApiError::from)?;
    let choices: Vec<PhotoChoice<'_>> =
        photos.iter().map(|p| PhotoChoice { id: &p.photo_id, title: &p.title }).collect();
    let markup = pages::consent(
        &pending.client.name,
        pending.client.homepage.as_deref(),
        &choices,
        &pending.grant.request_token,
        &session.csrf_token,
        error,
    );
    Ok(page_with_form_targets(status, markup, origin(&pending.grant.callback).as_deref()))
}

fn login_page(state: &AppState, then: LoginFor<'_>, status: StatusCode, error: Option<&str>) -> HttpResponse {
    let csrf = random_token(24);
    let mut response = html(status, pages::login(then, &csrf, error));
    if let Ok(value) = HeaderValue::from_str(&state.cookie(LOGIN_CSRF_COOKIE, &csrf, "/login", "Strict")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A form without its session's CSRF token.
fn forbidden() -> ApiError {
    outcome("forbidden");
    let text = "The form was stale or forged. Go back and try again.";
    ApiError::Page { status: StatusCode::FORBIDDEN, title: "Forbidden", text }
}

/// A request token that is unknown, expired or already answered.
fn gone() -> ApiError {
    outcome("unknown_request");
    let text = "This request is unknown, has expired, or was already answered. Start again from the application.";
    ApiError::Page { status: StatusCode::BAD_REQUEST, title: "Request not found", text }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(pages::STYLESHEET)
}

/// An HTML page with the headers every page carries: no script, no framing, no
/// sniffing, no referrer leaking the request token, no caching; forms post only here.
fn html(status: StatusCode, markup: maud::Markup) -> HttpResponse {
    page_with_form_targets(status, markup, None)
}

/// Like [`html`], also letting a form's answer redirect to `callback_origin`: browsers
/// apply `form-action` to the redirect that follows a post, and the consent form's
/// answer is a redirect to the client's callback.
fn page_with_form_targets(status: StatusCode, markup: maud::Markup, callback_origin: Option<&str>) -> HttpResponse {
    let targets = callback_origin.map_or_else(|| "'self'".to_owned(), |origin| format!("'self' {origin}"));
    let policy = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {targets}; frame-ancestors 'none'; base-uri 'none'"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

/// `scheme://host[:port]` of an absolute URL (`None` for `oob`). Callbacks were parsed
/// strictly at initiate, so this only cuts.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    Some(format!("{scheme}://{authority}"))
}

fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    std::str::from_utf8(body).ok().and_then(|text| parse_form(text).ok()).unwrap_or_default()
}

/// Whether a form carries the expected CSRF token, compared in constant time so that
/// the answer's timing tells nothing about how much of a guess was right.
fn csrf_matches(form: &[(String, String)], expected: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    value(form, "csrf_token").is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(expected.as_bytes())))
}

fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn cookie<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    let header = request.headers().get(header::COOKIE)?.to_str().ok()?;
    header.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v)
}

fn expire_cookie(name: &str, path: &str) -> String {
    format!("{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict")
}

impl AppState {
    /// The owner's session, if the request carries a live one.
    async fn session(&self, request: &HttpRequest, now: chrono::DateTime<Utc>) -> Result<Option<Session>, ApiError> {
        match cookie(request, SESSION_COOKIE) {
            Some(value) => self.services.session(value, now).await.map_err(ApiError::from),
            None => Ok(None),
        }
    }

    /// A cookie: HttpOnly always, Secure when we are reached over https.
    fn cookie(&self, name: &str, value: &str, path: &str, same_site: &str) -> String {
        let secure = if self.public_url.starts_with("https://") { "; Secure" } else { "" };
        format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}")
    }
}

/// The request's W3C trace id, which every event it causes carries: its span's, which
/// continues the caller's `traceparent` when there is one. Without a tracer installed
/// (the in-process demo) the `traceparent`'s or a fresh one.
fn trace_id(request: &HttpRequest) -> String {
    let context = Span::current().context();
    let span = context.span();
    if span.span_context().is_valid() {
        return format!("{:032x}", span.span_context().trace_id());
    }
    let from_parent = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(|parent| parent.split('-').nth(1))
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .filter(|id| id.bytes().any(|b| b != b'0'));
    match from_parent {
        Some(id) => id.to_owned(),
        None => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).expect("the operating system's random source works");
            bytes.iter().map(|byte| format!("{byte:02x}")).collect()
        }
    }
}

/// Records what became of the request on its span, in words an operator searches for,
/// and counts it for `/metrics`.
fn outcome(what: &'static str) {
    Span::current().record("oauth.outcome", what);
    metrics::outcome(what);
}

/// The span of one request: method, route, path, status and the OAuth outcome. Never
/// the query string (a signed query carries OAuth parameters), a header or a body.
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
        let span = tracing::info_span!(
            "HTTP request",
            otel.name = %format!("{} {route}", request.method()),
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = %request.method(),
            http.route = %route,
            url.path = %request.path(),
            http.response.status_code = Empty,
            oauth.outcome = Empty,
            oauth.problem = Empty,
        );
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&RequestHeaders(request.headers()))
        });
        // Fails only when no tracer is installed; the span then has no trace to join.
        let _ = span.set_parent(parent);
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        // As i64: the OpenTelemetry layer turns unsigned integers into strings.
        span.record("http.response.status_code", i64::from(status.as_u16()));
        span.record("otel.status_code", if status.is_server_error() { "ERROR" } else { "OK" });
        match error.and_then(|error| error.as_error::<ApiError>()) {
            Some(ApiError::Protocol(problem)) => {
                span.record("oauth.outcome", "refused");
                span.record("oauth.problem", problem.problem());
                metrics::outcome("refused");
            }
            Some(ApiError::TooMany { .. }) => {
                span.record("oauth.outcome", "rate_limited");
                metrics::outcome("rate_limited");
            }
            Some(ApiError::Internal(_)) => {
                span.record("oauth.outcome", "failed");
                metrics::outcome("failed");
            }
            // Their handlers recorded what happened.
            Some(ApiError::Page { .. } | ApiError::Operator { .. }) | None => {}
        }
    }
}

/// Request headers as the trace-context propagator reads them.
struct RequestHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl opentelemetry::propagation::Extractor for RequestHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
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

/// A form-encoded 200. Never cached: the credentials endpoints answer with secrets.
fn form(pairs: &[(&str, &str)]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-www-form-urlencoded")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(encode_form(pairs))
}

fn encode_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}
