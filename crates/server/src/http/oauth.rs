//! The OAuth endpoints (RFC 5849 section 2): temporary credentials, token credentials,
//! and `/oauth/verify` for other resource servers. Each parses the HTTP request into what
//! the protocol needs and calls one use case.

use actix_web::http::header;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_domain::{GrantStatus, ResourceId, Scope};
use grantlog_oauth1::IncomingRequest;
use grantlog_oauth1::encoding::percent_encode;
use grantlog_projection::tables::timestamp;
use secrecy::ExposeSecret as _;
use serde::Serialize;
use tracing::Span;
use utoipa::ToSchema;

use super::error::{ErrorBody, OAuthProblemBody};
use super::operator::json_body;
use super::{ApiError, AppState, outcome, trace_id};
use crate::services::oauth::{Checks, RequestError};

/// What `GET /oauth/token_info` tells a client of its grant.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct TokenInfo {
    /// The permissions granted (`null` before the owner approved).
    #[schema(required = true, value_type = Option<Vec<String>>)]
    scope: Option<Scope>,
    /// The photos granted.
    #[schema(value_type = Vec<String>)]
    resources: Vec<ResourceId>,
    /// When the owner approved.
    #[schema(required = true, format = DateTime)]
    granted_at: Option<String>,
    /// When access ends (`null`: when revoked).
    #[schema(required = true, format = DateTime)]
    expires_at: Option<String>,
    /// `active`, `expired` or `revoked`, …
    status: GrantStatus,
}

/// `POST /oauth/verify`'s answer: the forwarded request's access, or why it has none.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(super) enum Verdict {
    /// Signed well with a live access token.
    Valid(Access),
    /// Refused, as the resource server should refuse it.
    Invalid(Refusal),
}

/// A valid request's access.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Access {
    /// Always `true`.
    valid: bool,
    /// The owner's pseudonymous id.
    #[schema(format = Uuid)]
    owner_id: String,
    /// The client's consumer key.
    client_key: String,
    /// The permissions granted.
    #[schema(value_type = Vec<String>)]
    scope: Scope,
    /// The photos granted.
    #[schema(value_type = Vec<String>)]
    resources: Vec<ResourceId>,
    /// When access ends (`null`: when revoked).
    #[schema(required = true, format = DateTime)]
    expires_at: Option<String>,
}

/// A refused request: the problem and the status to answer the client with.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Refusal {
    /// Always `false`.
    valid: bool,
    /// RFC 5849's Problem Reporting name for what is wrong.
    oauth_problem: &'static str,
    /// 400 or 401.
    status: u16,
}

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
#[utoipa::path(get, path = "/oauth/token_info", tag = "oauth", security(("oauth1" = [])),
    responses(
        (status = 200, description = "Its grant.", body = TokenInfo),
        (status = 400, description = "A malformed request.", body = OAuthProblemBody,
            content_type = "application/x-www-form-urlencoded"),
        (status = 401, description = "A bad signature, nonce, timestamp, client or token.", body = OAuthProblemBody,
            content_type = "application/x-www-form-urlencoded",
            headers(("WWW-Authenticate" = String, description = "OAuth realm=\"grantlog\", oauth_problem=\"…\""))),
    ))]
pub(super) async fn token_info(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let url = state.signed_url(&request);
    let incoming = incoming(&request, &url, &[]);
    let info = state.services.token_info(&incoming, Utc::now(), state.checks).await?;
    outcome("token_info_shown");
    let grant = &info.grant;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(TokenInfo {
        scope: grant.scope.clone(),
        resources: grant.resources.clone(),
        granted_at: grant.approved_at.map(timestamp),
        expires_at: grant.expires_at.map(timestamp),
        status: info.status,
    }))
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
#[derive(Debug, serde::Deserialize, ToSchema)]
pub(super) struct ForwardedRequest {
    /// Its method.
    method: String,
    /// The absolute URL the client signed, query included.
    url: String,
    /// Its headers (`Authorization`, `Content-Type`; others are ignored).
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
#[utoipa::path(post, path = "/oauth/verify", operation_id = "verify_request", tag = "oauth",
    request_body = ForwardedRequest,
    responses(
        (status = 200, description = "The verdict.", body = Verdict),
        (status = 400, description = "A malformed question.", body = ErrorBody),
    ))]
pub(super) async fn verify(body: web::Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let forwarded: ForwardedRequest = json_body(&body)?;
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
            Verdict::Valid(Access {
                valid: true,
                owner_id: access.grant.owner_id.to_string(),
                client_key: access.client_key,
                scope: access.grant.scope,
                resources: access.grant.resources,
                expires_at: access.grant.expires_at.map(timestamp),
            })
        }
        Err(RequestError::Refused(problem)) => {
            outcome("invalid");
            Span::current().record("oauth.problem", problem.problem());
            Verdict::Invalid(Refusal { valid: false, oauth_problem: problem.problem(), status: problem.status() })
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
