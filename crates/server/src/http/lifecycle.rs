//! The admin API over the life of clients and grants, behind the admin's bearer token:
//! `GET /admin/clients` (paged) and `/admin/clients/{key}`, `PATCH` of a client's
//! profile (name, homepage, callbacks, `notify_url`: a new notification key is answered
//! once), `rotate-secret`, `suspend`, `resume`, and `POST /admin/grants/{id}/revoke`.
//! `grantlog client …` and `grantlog grant revoke` run the same use cases
//! (`services/clients.rs`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_oauth1::encoding::parse_form;
use serde::Deserialize;

use super::operator::{json_body, optional_json_body, require};
use super::page::value;
use super::{ApiError, AppState, outcome};
use crate::operators::Role;
use crate::services::clients::{ClientPatch, client_json, notice_json};

/// `GET /admin/clients?after=KEY&limit=N`: up to `limit` (default 100, at most 1,000)
/// clients after consumer key `after`, in key order, and where to go on from.
pub(super) async fn list_clients(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let limit_wrong = || ApiError::operator(StatusCode::BAD_REQUEST, "limit is a whole number from 1 to 1000");
    let query = parse_form(request.query_string())
        .map_err(|_| ApiError::operator(StatusCode::BAD_REQUEST, "the query is not well-formed"))?;
    let limit = match value(&query, "limit") {
        None => 100,
        Some(text) => text.parse::<u32>().ok().filter(|limit| (1..=1000).contains(limit)).ok_or_else(limit_wrong)?,
    };
    let clients = state.services.clients(value(&query, "after").unwrap_or(""), limit).await?;
    outcome("clients_listed");
    let next_after = clients.last().map(|client| client.consumer_key.clone());
    let listed: Vec<serde_json::Value> = clients.iter().map(client_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "clients": listed, "next_after": next_after })))
}

/// `GET /admin/clients/{key}`: the client and its grants counted by status now.
pub(super) async fn show_client(
    request: HttpRequest,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let details = state.services.client_details(&key, Utc::now()).await?;
    outcome("client_shown");
    Ok(HttpResponse::Ok().json(details.to_json()))
}

/// `PATCH /admin/clients/{key}`'s body: any of the fields; `homepage: null` removes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "given")]
    homepage: Option<Option<String>>,
    #[serde(default)]
    callback_urls: Option<Vec<String>>,
    #[serde(default, deserialize_with = "given")]
    notify_url: Option<Option<String>>,
}

/// A field that was given, even as `null` (`Some(None)`), apart from one left out.
fn given<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(from: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(from).map(Some)
}

/// `PATCH /admin/clients/{key}`: changes its name, homepage or callbacks; 200 with the
/// client as it now is (nothing is recorded when nothing changes).
pub(super) async fn update_client(
    request: HttpRequest,
    key: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let change: ProfileChange = json_body(&body)?;
    let patch = ClientPatch {
        name: change.name,
        homepage: change.homepage,
        callbacks: change.callback_urls,
        notify_url: change.notify_url,
    };
    if patch.is_empty() {
        let message = "give at least one of name, homepage, callback_urls, notify_url";
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, message));
    }
    let updated = state.services.update_client(&key, patch).await?;
    outcome("client_updated");
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(updated.to_json()))
}

/// `POST /admin/clients/{key}/rotate-secret`'s body (which may be empty).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotation {
    #[serde(default)]
    grace_seconds: Option<u32>,
}

/// `POST /admin/clients/{key}/rotate-secret`: a new secret, in this answer only; the
/// old one stops working at once, or after `grace_seconds`.
pub(super) async fn rotate_secret(
    request: HttpRequest,
    key: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let rotation: Rotation = optional_json_body(&body)?;
    let grace = rotation.grace_seconds.map(|seconds| chrono::Duration::seconds(i64::from(seconds)));
    let rotated = state.services.rotate_client_secret(&key, grace, Utc::now()).await?;
    outcome("client_secret_rotated");
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(rotated.to_json()))
}

/// The body of a suspension, a resumption or a revocation: why.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Why {
    #[serde(default)]
    reason: Option<String>,
}

impl Why {
    fn required(body: &[u8]) -> Result<String, ApiError> {
        let why: Self = json_body(body)?;
        why.reason.ok_or_else(|| ApiError::operator(StatusCode::BAD_REQUEST, "reason: say why"))
    }
}

/// `POST /admin/clients/{key}/suspend` with `{"reason"}`: every request of the client is
/// refused from now on; its grants stay as they are. 409 if already suspended.
pub(super) async fn suspend_client(
    request: HttpRequest,
    key: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let reason = Why::required(&body)?;
    let client = state.services.suspend_client(&key, &reason).await?;
    outcome("client_suspended");
    Ok(HttpResponse::Ok().json(client_json(&client)))
}

/// `POST /admin/clients/{key}/resume` (optionally with `{"reason"}`): its grants work
/// again. 409 if not suspended.
pub(super) async fn resume_client(
    request: HttpRequest,
    key: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let why: Why = optional_json_body(&body)?;
    let client = state.services.resume_client(&key, why.reason.as_deref()).await?;
    outcome("client_resumed");
    Ok(HttpResponse::Ok().json(client_json(&client)))
}

/// `POST /admin/grants/{id}/revoke` with `{"reason"}`: the grant ends now; 409 if it had
/// ended already.
pub(super) async fn revoke_grant(
    request: HttpRequest,
    grant_id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let reason = Why::required(&body)?;
    state.services.revoke_grant_as_admin(&grant_id, &reason, Utc::now()).await?;
    outcome("grant_revoked_by_admin");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "grant_id": grant_id.as_str(), "status": "revoked" })))
}

/// `GET /admin/clients/{key}/deliveries`: its revocation notices not delivered, pending
/// or given up on, in log order.
pub(super) async fn deliveries(
    request: HttpRequest,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let notices = state.services.undelivered_notices(&key).await?;
    outcome("deliveries_listed");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "notices": notices.iter().map(notice_json).collect::<Vec<_>>() })))
}
