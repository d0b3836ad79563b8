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
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ErrorBody, TooMany};
use super::operator::{json_body, optional_json_body, require};
use super::page::value;
use super::{ApiError, AppState, outcome};
use crate::operators::Role;
use crate::services::clients::{
    ClientDetailsView, ClientPatch, ClientView, NoticeView, RotatedSecretView, UpdatedClientView,
};

/// A client's path: `/admin/clients/{key}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct ClientPath {
    /// The client's consumer key.
    key: String,
}

/// A page of clients, and the key to go on after.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ClientsPage {
    /// Up to `limit` clients, in key order.
    clients: Vec<ClientView>,
    /// The last client's key, to pass as `after` for the next page (`null`: none listed).
    #[schema(required = true)]
    next_after: Option<String>,
}

/// The client's notices not delivered.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Deliveries {
    /// Pending and given-up notices, in log order.
    notices: Vec<NoticeView>,
}

/// A grant an operator revoked.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct RevokedGrant {
    /// The grant.
    grant_id: String,
    /// Always `revoked`.
    status: &'static str,
}

/// `GET /admin/clients?after=KEY&limit=N`: up to `limit` (default 100, at most 1,000)
/// clients after consumer key `after`, in key order, and where to go on from.
#[utoipa::path(get, path = "/admin/clients", tag = "admin", security(("admin" = [])),
    params(
        ("after" = Option<String>, Query, description = "List the clients after this consumer key."),
        ("limit" = Option<u32>, Query, description = "How many, 1 to 1000 (default 100)."),
    ),
    responses(
        (status = 200, description = "A page of clients.", body = ClientsPage),
        (status = 400, description = "A malformed query or a limit out of range.", body = ErrorBody),
    ))]
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
    Ok(HttpResponse::Ok().json(ClientsPage { clients: clients.iter().map(ClientView::from).collect(), next_after }))
}

/// `GET /admin/clients/{key}`: the client and its grants counted by status now.
#[utoipa::path(get, path = "/admin/clients/{key}", tag = "admin", security(("admin" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "The client.", body = ClientDetailsView),
        (status = 404, description = "No client has that key.", body = ErrorBody),
    ))]
pub(super) async fn show_client(
    request: HttpRequest,
    path: web::Path<ClientPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let details = state.services.client_details(&path.key, Utc::now()).await?;
    outcome("client_shown");
    Ok(HttpResponse::Ok().json(ClientDetailsView::from(&details)))
}

/// `PATCH /admin/clients/{key}`'s body: any of the fields; `homepage: null` removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ProfileChange {
    /// A new name.
    #[serde(default)]
    name: Option<String>,
    /// A new homepage; `null` removes it.
    #[serde(default, deserialize_with = "given")]
    homepage: Option<Option<String>>,
    /// The callback URLs, all of them.
    #[serde(default)]
    callback_urls: Option<Vec<String>>,
    /// Where revocation notices go; `null` stops them.
    #[serde(default, deserialize_with = "given")]
    notify_url: Option<Option<String>>,
}

/// A field that was given, even as `null` (`Some(None)`), apart from one left out.
fn given<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(from: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(from).map(Some)
}

/// `PATCH /admin/clients/{key}`: changes its name, homepage or callbacks; 200 with the
/// client as it now is (nothing is recorded when nothing changes).
#[utoipa::path(patch, path = "/admin/clients/{key}", tag = "admin", security(("admin" = [])),
    params(ClientPath),
    request_body = ProfileChange,
    responses(
        (status = 200, description = "The client as it now is; `notify_secret` when this change made one.",
            body = UpdatedClientView),
        (status = 400, description = "Nothing to change, or a value that is not valid (named).", body = ErrorBody),
        (status = 404, description = "No client has that key.", body = ErrorBody),
        (status = 429, response = TooMany),
    ))]
pub(super) async fn update_client(
    request: HttpRequest,
    path: web::Path<ClientPath>,
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
    let updated = state.services.update_client(&path.key, patch).await?;
    outcome("client_updated");
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(UpdatedClientView::from(&updated)))
}

/// `POST /admin/clients/{key}/rotate-secret`'s body (which may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Rotation {
    /// How long the previous secret keeps working, in seconds (at most 7 days).
    #[serde(default)]
    grace_seconds: Option<u32>,
}

/// `POST /admin/clients/{key}/rotate-secret`: a new secret, in this answer only; the
/// old one stops working at once, or after `grace_seconds`.
#[utoipa::path(post, path = "/admin/clients/{key}/rotate-secret", tag = "admin", security(("admin" = [])),
    params(ClientPath),
    request_body(content = Option<Rotation>, description = "May be left out: no grace period."),
    responses(
        (status = 200, description = "The new secret, shown this once.", body = RotatedSecretView),
        (status = 400, description = "A grace period that is not valid.", body = ErrorBody),
        (status = 404, description = "No client has that key.", body = ErrorBody),
        (status = 409, description = "A grace period is running.", body = ErrorBody),
        (status = 429, response = TooMany),
    ))]
pub(super) async fn rotate_secret(
    request: HttpRequest,
    path: web::Path<ClientPath>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let rotation: Rotation = optional_json_body(&body)?;
    let grace = rotation.grace_seconds.map(|seconds| chrono::Duration::seconds(i64::from(seconds)));
    let rotated = state.services.rotate_client_secret(&path.key, grace, Utc::now()).await?;
    outcome("client_secret_rotated");
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(RotatedSecretView::from(&rotated)))
}

/// The body of a suspension or a revocation: why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Reason {
    /// Why, in words (owners read it on their grants page).
    reason: String,
}

/// The body of a resumption, which may say why.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Why {
    /// Why, in words.
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /admin/clients/{key}/suspend` with `{"reason"}`: every request of the client is
/// refused from now on; its grants stay as they are. 409 if already suspended.
#[utoipa::path(post, path = "/admin/clients/{key}/suspend", tag = "admin", security(("admin" = [])),
    params(ClientPath),
    request_body = Reason,
    responses(
        (status = 200, description = "The client, suspended.", body = ClientView),
        (status = 400, description = "No reason, or one that is not valid.", body = ErrorBody),
        (status = 404, description = "No client has that key.", body = ErrorBody),
        (status = 409, description = "It is suspended already.", body = ErrorBody),
        (status = 429, response = TooMany),
    ))]
pub(super) async fn suspend_client(
    request: HttpRequest,
    path: web::Path<ClientPath>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let Reason { reason } = json_body(&body)?;
    let client = state.services.suspend_client(&path.key, &reason).await?;
    outcome("client_suspended");
    Ok(HttpResponse::Ok().json(ClientView::from(&client)))
}

/// `POST /admin/clients/{key}/resume` (optionally with `{"reason"}`): its grants work
/// again. 409 if not suspended.
#[utoipa::path(post, path = "/admin/clients/{key}/resume", tag = "admin", security(("admin" = [])),
    params(ClientPath),
    request_body(content = Option<Why>, description = "May be left out."),
    responses(
        (status = 200, description = "The client, active again.", body = ClientView),
        (status = 400, description = "A reason that is not valid.", body = ErrorBody),
        (status = 404, description = "No client has that key.", body = ErrorBody),
        (status = 409, description = "It is not suspended.", body = ErrorBody),
        (status = 429, response = TooMany),
    ))]
pub(super) async fn resume_client(
    request: HttpRequest,
    path: web::Path<ClientPath>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let why: Why = optional_json_body(&body)?;
    let client = state.services.resume_client(&path.key, why.reason.as_deref()).await?;
    outcome("client_resumed");
    Ok(HttpResponse::Ok().json(ClientView::from(&client)))
}

/// `POST /admin/grants/{id}/revoke` with `{"reason"}`: the grant ends now; 409 if it had
/// ended already.
#[utoipa::path(post, path = "/admin/grants/{id}/revoke", tag = "admin", security(("admin" = [])),
    params(("id" = String, Path, description = "The grant's id.")),
    request_body = Reason,
    responses(
        (status = 200, description = "The grant is revoked.", body = RevokedGrant),
        (status = 400, description = "No reason, or one that is not valid.", body = ErrorBody),
        (status = 404, description = "No grant has that id.", body = ErrorBody),
        (status = 409, description = "The grant had ended already.", body = ErrorBody),
        (status = 429, response = TooMany),
    ))]
pub(super) async fn revoke_grant(
    request: HttpRequest,
    grant_id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let Reason { reason } = json_body(&body)?;
    state.services.revoke_grant_as_admin(&grant_id, &reason, Utc::now()).await?;
    outcome("grant_revoked_by_admin");
    Ok(HttpResponse::Ok().json(RevokedGrant { grant_id: grant_id.into_inner(), status: "revoked" }))
}

/// `GET /admin/clients/{key}/deliveries`: its revocation notices not delivered, pending
/// or given up on, in log order.
#[utoipa::path(get, path = "/admin/clients/{key}/deliveries", tag = "admin", security(("admin" = [])),
    params(ClientPath),
    responses(
        (status = 200, description = "Its undelivered notices.", body = Deliveries),
        (status = 404, description = "No client has that key.", body = ErrorBody),
    ))]
pub(super) async fn deliveries(
    request: HttpRequest,
    path: web::Path<ClientPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let notices = state.services.undelivered_notices(&path.key).await?;
    outcome("deliveries_listed");
    Ok(HttpResponse::Ok().json(Deliveries { notices: notices.iter().map(NoticeView::from).collect() }))
}
