//! The operators' JSON APIs, each behind its role's bearer token (401 without it):
//! registering clients (`POST /admin/clients`, admin) and reading, verifying and
//! replaying the log (`GET /audit/…`, auditor).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use grantlog_domain::Actor;
use grantlog_oauth1::encoding::parse_form;
use grantlog_store::{Head, StoreError, Violation};
use secrecy::ExposeSecret as _;

use super::page::value;
use super::{ApiError, AppState, outcome};
use crate::audit::{Moment, ReplayError};
use crate::export::event_json;
use crate::operators::Role;
use crate::services::{NewClient, ServiceError};

/// The most events one `GET /audit/events` returns.
const MAX_EVENTS_PER_PAGE: u32 = 10_000;

/// `POST /admin/clients`'s body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientRegistration {
    name: String,
    callback_urls: Vec<String>,
    #[serde(default)]
    homepage: Option<String>,
    #[serde(default)]
    rsa_public_key: Option<String>,
}

/// `POST /admin/clients`: registers a client; 201 with its key and secret (shown once).
pub(super) async fn register_client(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let registration: ClientRegistration = serde_json::from_slice(&body)
        .map_err(|error| ApiError::operator(StatusCode::BAD_REQUEST, format!("invalid JSON: {error}")))?;
    if registration.callback_urls.is_empty() {
        let message = "callback_urls: give at least one (oob is always allowed)";
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, message));
    }
    let new = NewClient {
        name: registration.name,
        callbacks: registration.callback_urls,
        homepage: registration.homepage,
        rsa_public_key: registration.rsa_public_key,
    };
    let issued = state.services.register_client(new, Actor::Admin).await.map_err(|error| match error {
        ServiceError::Invalid(_) | ServiceError::UnusableRsaKey => {
            ApiError::operator(StatusCode::BAD_REQUEST, error.to_string())
        }
        error => ApiError::from(error),
    })?;
    outcome("client_registered");
    // The secret is in this answer and nowhere else: no cache may keep it.
    Ok(HttpResponse::Created().insert_header((header::CACHE_CONTROL, "no-store")).json(serde_json::json!({
        "client_id": issued.client_id,
        "client_key": issued.client_key,
        "client_secret": issued.client_secret.expose_secret(),
    })))
}

/// `GET /audit/events?after=N&limit=M`: up to `limit` (default 1,000, at most 10,000)
/// events after position `after` (default 0), each with its whole envelope as `grantlog
/// audit export` writes it, and where to go on from.
pub(super) async fn events(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    // Positions are stored as signed 64-bit integers: larger numbers are no position.
    let number = |name: &str, default: u64| {
        value(&query, name).map_or(Some(default), |text| text.parse::<i64>().ok().and_then(|n| u64::try_from(n).ok()))
    };
    let (Some(after), Some(limit)) = (number("after", 0), number("limit", 1_000)) else {
        let message = "after and limit are whole numbers from 0 to 2^63-1";
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, message));
    };
    // Up to the recorded head, and nothing from a log with rows past it.
    let limit = u32::try_from(limit).unwrap_or(u32::MAX).clamp(1, MAX_EVENTS_PER_PAGE);
    let page = state.services.audit().events(after, limit).await.map_err(|error| match error {
        StoreError::Tampered(violation) => tampered(&violation),
        error => ApiError::from(error),
    })?;
    let listed =
        page.events.iter().map(event_json).collect::<Result<Vec<serde_json::Value>, _>>().map_err(ApiError::failed)?;
    outcome("events_listed");
    let next_after = page.events.last().map_or(after, |event| event.position);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "events": listed, "next_after": next_after, "head": page.head })))
}

/// `GET /audit/verify[?expect_head=POSITION:HASH]`: the whole chain walked, as
/// `grantlog audit verify` does. Always 200: the verdict is in the body.
pub(super) async fn verify(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    let expect_head = value(&query, "expect_head")
        .map(str::parse::<Head>)
        .transpose()
        .map_err(|_| ApiError::operator(StatusCode::BAD_REQUEST, "expect_head is POSITION:HASH"))?;
    Ok(match state.services.audit().verify(expect_head).await? {
        Ok(report) => {
            outcome("log_verified");
            HttpResponse::Ok().json(serde_json::json!({
                "ok": true, "events": report.events, "head": report.head.to_string()
            }))
        }
        Err(violation) => {
            outcome("log_violated");
            HttpResponse::Ok().json(serde_json::json!({ "ok": false, "violation": violation.to_string() }))
        }
    })
}

/// `GET /audit/replay?as_of=RFC3339` (or `position=N`), optionally `owner=` (username
/// or owner id) and `client=` (consumer key): the grants as they stood then, as
/// `grantlog audit replay --json` prints them.
pub(super) async fn replay(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    let moment = match (value(&query, "as_of"), value(&query, "position")) {
        (Some(as_of), None) => as_of.parse().map(Moment::Time).ok(),
        (None, Some(position)) => position.parse().map(Moment::Position).ok(),
        _ => None,
    };
    let Some(moment) = moment else {
        let message = "give as_of (RFC 3339) or position (a whole number), not both";
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, message));
    };
    let client = value(&query, "client").map(str::to_owned);
    let grants =
        state.services.audit().replay(moment, value(&query, "owner"), client).await.map_err(|error| match error {
            ReplayError::Failed(error) => match error.chain().find_map(|cause| cause.downcast_ref::<Violation>()) {
                Some(violation) => tampered(violation),
                None => ApiError::failed(error),
            },
            // Past the end of the log, or an owner nobody is: the question's fault.
            question => ApiError::operator(StatusCode::BAD_REQUEST, question.to_string()),
        })?;
    outcome("replayed");
    Ok(HttpResponse::Ok().json(grants))
}

/// Refuses (401) a request without `role`'s bearer token.
fn require(state: &AppState, request: &HttpRequest, role: Role) -> Result<(), ApiError> {
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    if state.operators.allows(role, authorization) {
        return Ok(());
    }
    outcome("operator_refused");
    Err(ApiError::operator(StatusCode::UNAUTHORIZED, "a valid bearer token for this API is required"))
}

/// The log fails verification: no answer from it can be trusted (409, naming why).
fn tampered(violation: &Violation) -> ApiError {
    outcome("log_violated");
    ApiError::operator(StatusCode::CONFLICT, format!("the event log fails verification: {violation}"))
}
