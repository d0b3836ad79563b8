//! The admin API, behind the admin's bearer token (401 without it): registering
//! clients (`POST /admin/clients`). `require` checks any role's token.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_domain::Actor;
use utoipa::ToSchema;

use super::error::ErrorBody;
use super::{ApiError, AppState, outcome};
use crate::operators::Role;
use crate::services::operators::{ErasedView, RegisteredClientView};
use crate::services::{NewClient, ServiceError};

/// `POST /admin/clients`'s body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ClientRegistration {
    /// The name owners see on the consent page.
    name: String,
    /// The callback URLs it may use besides `oob` (a trailing `*` allows any path below).
    callback_urls: Vec<String>,
    /// Its homepage.
    #[serde(default)]
    homepage: Option<String>,
    /// Its RSA public key (PEM), for RSA-SHA1.
    #[serde(default)]
    rsa_public_key: Option<String>,
    /// Where its revocation notices go.
    #[serde(default)]
    notify_url: Option<String>,
}

/// `POST /admin/clients`: registers a client; 201 with its key and secret (shown once).
#[utoipa::path(post, path = "/admin/clients", tag = "admin", security(("admin" = [])),
    request_body = ClientRegistration,
    responses(
        (status = 201, description = "Its credentials, shown this once.", body = RegisteredClientView),
        (status = 400, description = "A value that is not valid (named).", body = ErrorBody),
    ))]
pub(super) async fn register_client(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let registration: ClientRegistration = json_body(&body)?;
    if registration.callback_urls.is_empty() {
        let message = "callback_urls: give at least one (oob is always allowed)";
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, message));
    }
    let new = NewClient {
        name: registration.name,
        callbacks: registration.callback_urls,
        homepage: registration.homepage,
        rsa_public_key: registration.rsa_public_key,
        notify_url: registration.notify_url,
    };
    let issued = state.services.register_client(new, Actor::Admin).await.map_err(|error| match error {
        ServiceError::Invalid(_) | ServiceError::UnusableRsaKey => {
            ApiError::operator(StatusCode::BAD_REQUEST, error.to_string())
        }
        error => ApiError::from(error),
    })?;
    outcome("client_registered");
    // The secret is in this answer and nowhere else: no cache may keep it.
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(RegisteredClientView::from(&issued)))
}

/// `POST /admin/owners/erase`'s body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Erasure {
    /// The owner's username.
    username: String,
}

/// `POST /admin/owners/erase`: erases an owner (`grantlog owner erase`); 200 with her
/// pseudonymous id and the grants revoked, 404 for a username nobody has.
#[utoipa::path(post, path = "/admin/owners/erase", tag = "admin", security(("admin" = [])),
    request_body = Erasure,
    responses(
        (status = 200, description = "She is erased.", body = ErasedView),
        (status = 400, description = "A malformed body.", body = ErrorBody),
        (status = 404, description = "Nobody has that username.", body = ErrorBody),
    ))]
pub(super) async fn erase_owner(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require(&state, &request, Role::Admin)?;
    let erasure: Erasure = json_body(&body)?;
    let erased = state.services.erase_owner(&erasure.username, Utc::now()).await.map_err(|error| match error {
        ServiceError::UnknownUsername => ApiError::operator(StatusCode::NOT_FOUND, error.to_string()),
        error => ApiError::from(error),
    })?;
    outcome("owner_erased");
    Ok(HttpResponse::Ok().json(ErasedView::from(&erased)))
}

/// An admin request's JSON body, an object; 400 naming what is wrong with it. (serde
/// would also read a struct from an array of its fields, which no one means to send.)
pub(super) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let invalid =
        |error: serde_json::Error| ApiError::operator(StatusCode::BAD_REQUEST, format!("invalid JSON: {error}"));
    let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
    if !value.is_object() {
        return Err(ApiError::operator(StatusCode::BAD_REQUEST, "the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(invalid)
}

/// Like [`json_body`], for a body that may be left out: empty, it is the default.
pub(super) fn optional_json_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() { Ok(T::default()) } else { json_body(body) }
}

/// Refuses (401) a request without `role`'s bearer token (or, for the auditor's reads,
/// the auditor page's session cookie).
pub(super) fn require(state: &AppState, request: &HttpRequest, role: Role) -> Result<(), ApiError> {
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    if state.operators.allows(role, authorization)
        || (role == Role::Auditor && super::auditor::signed_in(state, request).is_some())
    {
        return Ok(());
    }
    outcome("operator_refused");
    Err(ApiError::operator(StatusCode::UNAUTHORIZED, "a valid bearer token for this API is required"))
}
