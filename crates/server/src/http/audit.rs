//! The auditors' JSON API, behind the auditor's bearer token (401 without it): the log
//! read, verified and replayed, and its signed checkpoint with inclusion and
//! consistency proofs (`GET /audit/…`), as `grantlog audit …` prints them.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use grantlog_oauth1::encoding::parse_form;
use grantlog_projection::replay::ReplayedGrant;
use grantlog_store::{Head, StoreError, Violation};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::operator::require;
use super::page::value;
use super::{ApiError, AppState, outcome};
use crate::audit::{ConsistencyProofView, InclusionProofView, Moment, ReplayError};
use crate::export::{ExportedEvent, Format};
use crate::operators::Role;
use crate::receipt::ConsentReceipt;
use crate::services::account::AccountError;
use crate::services::receipts::Reader;

/// The export's answer names the head it ends at (`POSITION:HASH`) in this header.
const LOG_HEAD: &str = "grantlog-log-head";

/// The most events one `GET /audit/events` returns.
const MAX_EVENTS_PER_PAGE: u32 = 10_000;

/// A page of the log.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EventsPage<'a> {
    /// Up to `limit` events, in log order, never past the head.
    events: Vec<ExportedEvent<'a>>,
    /// The last position listed, to pass as `after` for the next page.
    next_after: u64,
    /// The recorded head's position.
    head: u64,
}

/// The whole chain walked: it holds (`ok`, with its length and head) or it does not
/// (the first violation).
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Verification {
    /// Whether every event's hash chains from the one before and the head is as recorded.
    ok: bool,
    /// The events walked, when it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    events: Option<u64>,
    /// The head (`POSITION:HASH`), when it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    head: Option<String>,
    /// What fails, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    violation: Option<String>,
}

/// `GET /audit/events?after=N&limit=M`: up to `limit` (default 1,000, at most 10,000)
/// events after position `after` (default 0), each with its whole envelope as `grantlog
/// audit export` writes it, and where to go on from.
#[utoipa::path(get, path = "/audit/events", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(
        ("after" = Option<u64>, Query, description = "List the events after this position (default 0)."),
        ("limit" = Option<u64>, Query, description = "How many (default 1000; more than 10000 lists 10000)."),
    ),
    responses(
        (status = 200, description = "A page of events.", body = EventsPage),
        (status = 400, description = "after or limit is not a whole number.", body = ErrorBody),
        (status = 409, description = "The log has rows past its recorded head.", body = ErrorBody),
    ))]
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
    let page = state.services.audit().events(after, limit).await.map_err(unreadable)?;
    outcome("events_listed");
    let next_after = page.events.last().map_or(after, |event| event.position);
    let events = page.events.iter().map(ExportedEvent::from).collect();
    Ok(HttpResponse::Ok().json(EventsPage { events, next_after, head: page.head }))
}

/// `GET /audit/verify[?expect_head=POSITION:HASH]`: the whole chain walked, as
/// `grantlog audit verify` does. Always 200: the verdict is in the body.
#[utoipa::path(get, path = "/audit/verify", operation_id = "verify_log", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(("expect_head" = Option<String>, Query,
        description = "`POSITION:HASH` from an earlier verification: the log must still hold it.")),
    responses(
        (status = 200, description = "The verdict.", body = Verification),
        (status = 400, description = "expect_head is not POSITION:HASH.", body = ErrorBody),
    ))]
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
            let head = Some(report.head.to_string());
            HttpResponse::Ok().json(Verification { ok: true, events: Some(report.events), head, violation: None })
        }
        Err(violation) => {
            outcome("log_violated");
            let violation = Some(violation.to_string());
            HttpResponse::Ok().json(Verification { ok: false, events: None, head: None, violation })
        }
    })
}

/// `GET /audit/replay?as_of=RFC3339` (or `position=N`), optionally `owner=` (username
/// or owner id) and `client=` (consumer key): the grants as they stood then, as
/// `grantlog audit replay --json` prints them.
#[utoipa::path(get, path = "/audit/replay", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(
        ("as_of" = Option<String>, Query, format = DateTime, description = "The moment (RFC 3339)."),
        ("position" = Option<u64>, Query, description = "Or: up to and including this position."),
        ("owner" = Option<String>, Query, description = "Only this owner's: a username, or an owner id."),
        ("client" = Option<String>, Query, description = "Only this client's: a consumer key."),
    ),
    responses(
        (status = 200, description = "The grants as they stood, in the order they were issued.",
            body = Vec<ReplayedGrant>),
        (status = 400, description = "Neither or both of as_of and position, a position past the end, an owner \
            nobody is.", body = ErrorBody),
        (status = 409, description = "The log fails verification.", body = ErrorBody),
    ))]
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
        state.services.audit().replay(moment, value(&query, "owner"), client).await.map_err(
            |error| match unanswered(error) {
                Ok((status, message)) => ApiError::operator(status, message),
                Err(failed) => failed,
            },
        )?;
    outcome("replayed");
    Ok(HttpResponse::Ok().json(grants))
}

/// `GET /audit/checkpoint[?as_of=RFC3339]`: the latest signed checkpoint, or the one in
/// force at that moment, the note as signed (`text/plain`); 404 when none was signed.
#[utoipa::path(get, path = "/audit/checkpoint", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(("as_of" = Option<String>, Query, format = DateTime, description = "The one in force at this moment.")),
    responses(
        (status = 200, description = "The checkpoint: a C2SP signed note (tlog-checkpoint).", body = String,
            content_type = "text/plain"),
        (status = 400, description = "as_of is not an RFC 3339 time.", body = ErrorBody),
        (status = 404, description = "None is signed yet.", body = ErrorBody),
    ))]
pub(super) async fn checkpoint(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    let as_of = value(&query, "as_of")
        .map(str::parse)
        .transpose()
        .map_err(|_| ApiError::operator(StatusCode::BAD_REQUEST, "as_of is an RFC 3339 time"))?;
    let Some(checkpoint) = state.services.audit().checkpoint(as_of).await? else {
        let message = "no checkpoint is signed yet (serve --checkpoint-key-file signs them)";
        return Err(ApiError::operator(StatusCode::NOT_FOUND, message));
    };
    outcome("checkpoint_served");
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(checkpoint.note))
}

/// `GET /audit/proof/inclusion?position=P[&size=N]`: the event at position P is leaf
/// P − 1 of the tree of N events (by default the latest checkpoint's).
#[utoipa::path(get, path = "/audit/proof/inclusion", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(
        ("position" = u64, Query, description = "The event's position, from 1."),
        ("size" = Option<u64>, Query, description = "The tree's size (default: the latest checkpoint's)."),
    ),
    responses(
        (status = 200, description = "The proof.", body = InclusionProofView),
        (status = 400, description = "A position or size the tree cannot prove.", body = ErrorBody),
    ))]
pub(super) async fn inclusion(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    let position = whole_number(&query, "position")?.filter(|position| *position > 0);
    let Some(position) = position else {
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, "position is a whole number from 1"));
    };
    let proof = state.services.audit().inclusion(position, whole_number(&query, "size")?).await?;
    outcome("inclusion_proved");
    Ok(HttpResponse::Ok().json(InclusionProofView::from(&proof)))
}

/// `GET /audit/proof/consistency?from=M&to=N`: the tree of N events extends that of M.
#[utoipa::path(get, path = "/audit/proof/consistency", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(
        ("from" = u64, Query, description = "The smaller tree's size."),
        ("to" = u64, Query, description = "The larger tree's size."),
    ),
    responses(
        (status = 200, description = "The proof.", body = ConsistencyProofView),
        (status = 400, description = "Sizes the tree cannot prove.", body = ErrorBody),
    ))]
pub(super) async fn consistency(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    let (Some(from), Some(to)) = (whole_number(&query, "from")?, whole_number(&query, "to")?) else {
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, "give from and to, whole numbers"));
    };
    let hashes = state.services.audit().consistency(from, to).await?;
    outcome("consistency_proved");
    Ok(HttpResponse::Ok().json(ConsistencyProofView::new(from, to, &hashes)))
}

/// `GET /audit/receipts/{grant_id}`: any grant's consent receipt (404 for a grant that
/// does not exist or was never approved).
#[utoipa::path(get, path = "/audit/receipts/{grant_id}", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(("grant_id" = String, Path, description = "The grant's id.")),
    responses(
        (status = 200, description = "Its consent receipt.", body = ConsentReceipt),
        (status = 404, description = "No approved grant has that id.", body = ErrorBody),
    ))]
pub(super) async fn receipt(
    request: HttpRequest,
    grant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let receipt = state.services.receipt(&grant_id, Reader::Auditor).await.map_err(|error| match error {
        AccountError::NotFound => ApiError::operator(StatusCode::NOT_FOUND, "no approved grant has that id"),
        AccountError::Ended | AccountError::Failed(_) => ApiError::from(error),
    })?;
    outcome("receipt_shown");
    Ok(HttpResponse::Ok().json(receipt))
}

/// `GET /audit/export?format=jsonl|csv` (default jsonl): every event up to the head,
/// as `grantlog audit export` writes it, streamed a page at a time; 409 for a log with
/// rows past its head.
#[utoipa::path(get, path = "/audit/export", tag = "audit", security(("auditor" = []), ("auditor_session" = [])),
    params(("format" = Option<String>, Query, description = "`jsonl` (default) or `csv`.")),
    responses(
        (status = 200, description = "Every event up to the head: an ExportedEvent per line (jsonl), or a \
            row with the same fields, actor and payload as JSON text (csv).",
            content(("application/jsonl"), ("text/csv")),
            headers(("Grantlog-Log-Head" = String, description = "The head it ends at: POSITION:HASH."))),
        (status = 400, description = "An unknown format.", body = ErrorBody),
        (status = 409, description = "The log has rows past its recorded head.", body = ErrorBody),
    ))]
pub(super) async fn export(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Auditor)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    let (format, content_type, file) = match value(&query, "format").unwrap_or("jsonl") {
        "jsonl" => (Format::Jsonl, "application/jsonl", "grantlog-events.jsonl"),
        "csv" => (Format::Csv, "text/csv; charset=utf-8", "grantlog-events.csv"),
        _ => return Err(ApiError::operator(StatusCode::BAD_REQUEST, "format is jsonl or csv")),
    };
    let export = state.services.audit().export_pages(format).await.map_err(unreadable)?;
    outcome("log_exported");
    // The head it ends at, to check the download against: a failure midway can only cut
    // the answer short (the connection is closed), and a CSV cut before the checkpoint's
    // size fails verify-export, but one cut after it, or a JSON Lines file, is noticed
    // only by its last event not being this head.
    let head = export.head().to_string();
    let pages = futures_util::stream::unfold(Some(export), |export| async move {
        let mut export = export?;
        match export.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(web::Bytes::from(chunk)), Some(export))),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "the export failed midway");
                Some((Err(std::io::Error::other("the export failed midway")), None))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file}\"")))
        .insert_header((LOG_HEAD, head))
        .streaming(pages))
}

/// The query parameter `name` as a whole number below 2^63, if given.
fn whole_number(query: &[(String, String)], name: &str) -> Result<Option<u64>, ApiError> {
    value(query, name)
        .map(|text| text.parse::<i64>().ok().and_then(|n| u64::try_from(n).ok()))
        .map(|number| {
            number.ok_or_else(|| {
                ApiError::operator(StatusCode::BAD_REQUEST, format!("{name} is a whole number from 0 to 2^63-1"))
            })
        })
        .transpose()
}

/// Why a replay was not made, as a status and words for the auditor: 409 for a log that
/// fails verification, 400 for a question it cannot answer (past the end of the log, an
/// owner nobody is); or our failure.
pub(super) fn unanswered(error: ReplayError) -> Result<(StatusCode, String), ApiError> {
    if let Some(violation) = error.violation() {
        outcome("log_violated");
        return Ok((StatusCode::CONFLICT, format!("the event log fails verification: {violation}")));
    }
    match error {
        ReplayError::Failed(error) => Err(ApiError::failed(error)),
        question => Ok((StatusCode::BAD_REQUEST, question.to_string())),
    }
}

/// A read refused because the log has rows past its head is 409; anything else as usual.
fn unreadable(error: StoreError) -> ApiError {
    match error {
        StoreError::Tampered(violation) => tampered(&violation),
        error => ApiError::from(error),
    }
}

/// The log fails verification: no answer from it can be trusted (409, naming why).
fn tampered(violation: &Violation) -> ApiError {
    outcome("log_violated");
    ApiError::operator(StatusCode::CONFLICT, format!("the event log fails verification: {violation}"))
}
