//! The OAuth endpoints (RFC 5849 section 2): temporary credentials, token credentials,
//! and `/oauth/verify` for other resource servers. Each parses the HTTP request into what
//! the protocol needs and calls one use case.

use actix_web::http::header;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_oauth1::IncomingRequest;
use grantlog_oauth1::encoding::percent_encode;
use grantlog_projection::tables::timestamp;
use secrecy::ExposeSecret as _;
use tracing::Span;

use super::{ApiError, AppState, outcome, trace_id};
use crate::services::oauth::{Checks, RequestError};

/// `POST /oauth/initiate`.
pub(super) async fn initiate(
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
pub(super) async fn token(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let incoming = incoming(&request, &url, &body);
    let now = Utc::now();
    let credentials = state.services.exchange(&incoming, now, state.checks, &trace_id(&request)).await?;
    outcome("token_credentials_issued");
    let mut pairs =
        vec![("oauth_token", credentials.token), ("oauth_token_secret", credentials.secret.expose_secret().to_owned())];
    // The OAuth Session extension's name for how long the token lasts; absent: for good.
    if let Some(expires_at) = credentials.expires_at {
        pairs.push(("oauth_expires_in", (expires_at - now).num_seconds().max(0).to_string()));
    }
    Ok(form(&pairs.iter().map(|(name, value)| (*name, value.as_str())).collect::<Vec<_>>()))
}

/// `GET /oauth/token_info`, signed with an access token: its grant's scope, resources,
/// when it was granted and ends, and its status now, whatever that is.
pub(super) async fn token_info(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let incoming = incoming(&request, &url, &[]);
    let info = state.services.token_info(&incoming, Utc::now(), state.checks).await?;
    outcome("token_info_shown");
    let grant = &info.grant;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({
        "scope": grant.scope.as_ref().map(|scope| scope.permissions().map(|permission| permission.as_str()).collect::<Vec<_>>()),
        "resources": grant.resources,
        "granted_at": grant.approved_at.map(timestamp),
        "expires_at": grant.expires_at.map(timestamp),
        "status": info.status.as_str(),
    })))
}

/// `POST /oauth/revoke`, signed with an access token: the client gives it back; 200
/// with an empty body.
pub(super) async fn revoke(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let incoming = incoming(&request, &url, &body);
    state.services.give_back(&incoming, Utc::now(), state.checks, &trace_id(&request)).await?;
    outcome("token_given_back");
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).finish())
}

/// A request another resource server received, forwarded for checking.
#[derive(Debug, serde::Deserialize)]
pub(super) struct ForwardedRequest {
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
pub(super) async fn verify(
    forwarded: web::Json<ForwardedRequest>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
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

/// What the protocol needs of an HTTP request.
pub(super) fn incoming<'a>(request: &'a HttpRequest, url: &'a str, body: &'a [u8]) -> IncomingRequest<'a> {
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
pub(super) fn form(pairs: &[(&str, &str)]) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-www-form-urlencoded")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(encode_form(pairs))
}

pub(super) fn encode_form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", percent_encode(name), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}
