//! The owner's account pages: her grants, a grant's history, and the forms that revoke
//! a grant, disconnect a client or forget a remembered decision; logging in and out.
//! Pages need a session (visitors without one are sent to log in); every form needs
//! the session's CSRF token (403 without it, and nothing changes).

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_domain::OwnerId;
use grantlog_oauth1::encoding::{parse_form, percent_encode};
use grantlog_store::sessions::Session;

use super::login::{login_for, login_page};
use super::page::{cookie, csrf_matches, expire_cookie, forbidden, form_fields, html, value};
use super::{ApiError, AppState, GRANTS_PAGE, SESSION_COOKIE, outcome, trace_id};
use crate::pages;
use crate::services::account::{AccountError, ClientGrants};
use crate::services::receipts::Reader;

/// `GET /login`: the login form, leading on to `next` (an account page) or to a
/// request's consent page (`oauth_token`).
pub(super) async fn login_form(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = parse_form(request.query_string()).unwrap_or_default();
    outcome("login_shown");
    login_page(&state, login_for(value(&query, "oauth_token"), value(&query, "next")), StatusCode::OK, None)
}

/// `POST /logout`: ends the session.
pub(super) async fn logout(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.posting_session(&request, &form_fields(&body)).await?.is_none() {
        return Err(forbidden());
    }
    if let Some(value) = cookie(&request, SESSION_COOKIE) {
        state.services.logout(value).await.map_err(ApiError::from)?;
    }
    outcome("logged_out");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .append_header((header::SET_COOKIE, expire_cookie(SESSION_COOKIE, "/")))
        .finish())
}

/// `GET /account/grants`: every grant, grouped by client. `revoked`, `disconnected`
/// and `forgot` in the query name what was just done, for the confirmation.
pub(super) async fn grants(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(session) = state.session(&request, Utc::now()).await? else { return Ok(to_login(&request)) };
    let clients = state.services.owner_grants(owner(&session), Utc::now()).await.map_err(ApiError::from)?;
    let query = parse_form(request.query_string()).unwrap_or_default();
    let notice = confirmation(&clients, &query);
    outcome("grants_shown");
    Ok(html(StatusCode::OK, pages::grants(&clients, &session.csrf_token, notice.as_deref())))
}

/// `GET /account/grants/{id}`: one of her grants and its history.
pub(super) async fn grant(
    request: HttpRequest,
    grant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = state.session(&request, Utc::now()).await? else { return Ok(to_login(&request)) };
    let history = state.services.grant_history(owner(&session), &grant_id, Utc::now()).await?;
    outcome("history_shown");
    Ok(html(StatusCode::OK, pages::history(&history, &session.csrf_token)))
}

/// `GET /account/grants/{id}/receipt`: the consent receipt of one of her grants, as a
/// JSON download (404 for a grant not hers, or never approved).
pub(super) async fn receipt(
    request: HttpRequest,
    grant_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = state.session(&request, Utc::now()).await? else { return Ok(to_login(&request)) };
    let receipt = state.services.receipt(&grant_id, Reader::Owner(owner(&session))).await?;
    outcome("receipt_shown");
    let file = format!("attachment; filename=\"consent-receipt-{}.json\"", percent_encode(&grant_id));
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_DISPOSITION, file))
        .json(receipt))
}

/// `POST /account/grants/{id}/revoke`.
pub(super) async fn revoke(
    request: HttpRequest,
    grant_id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change(&request, &body, &state, "revoked", async |owner, trace_id| {
        let revoked = state.services.revoke_grant(owner, &grant_id, Utc::now(), trace_id).await?;
        let mut location = format!("{GRANTS_PAGE}?revoked={}", percent_encode(&grant_id));
        if revoked.forgot {
            location.push_str(&format!("&forgot={}", percent_encode(&revoked.client_id.to_string())));
        }
        Ok(location)
    })
    .await
}

/// `POST /account/clients/{id}/revoke`: revoke every live grant to the client and
/// forget its remembered decision.
pub(super) async fn disconnect(
    request: HttpRequest,
    client_id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change(&request, &body, &state, "disconnected", async |owner, trace_id| {
        state.services.disconnect(owner, &client_id, Utc::now(), trace_id).await?;
        Ok(format!("{GRANTS_PAGE}?disconnected={}", percent_encode(&client_id)))
    })
    .await
}

/// `POST /account/clients/{id}/forget`: turn off the remembered decision.
pub(super) async fn forget(
    request: HttpRequest,
    client_id: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change(&request, &body, &state, "forgotten", async |owner, trace_id| {
        state.services.forget(owner, &client_id, Utc::now(), trace_id).await?;
        Ok(format!("{GRANTS_PAGE}?forgot={}", percent_encode(&client_id)))
    })
    .await
}

/// A change to her account from a form: the session and its CSRF token are checked
/// (403 without), `apply` runs as her, and she is sent to the page it names, which
/// confirms what was done (`outcome` on the request's span).
async fn change(
    request: &HttpRequest,
    body: &[u8],
    state: &AppState,
    done: &'static str,
    apply: impl AsyncFnOnce(OwnerId, &str) -> Result<String, AccountError>,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = state.posting_session(request, &form_fields(body)).await? else { return Err(forbidden()) };
    let location = apply(owner(&session), &trace_id(request)).await?;
    outcome(done);
    Ok(see_other(&location))
}

impl AppState {
    /// The session of a form post that carries its CSRF token; `None` (answer 403)
    /// otherwise.
    pub(super) async fn posting_session(
        &self,
        request: &HttpRequest,
        form: &[(String, String)],
    ) -> Result<Option<Session>, ApiError> {
        let session = self.session(request, Utc::now()).await?;
        Ok(session.filter(|session| csrf_matches(form, &session.csrf_token)))
    }
}

/// What the grants page confirms, from the names in its query. Ids that are not among
/// hers are ignored, so the page never echoes what a link says.
fn confirmation(clients: &[ClientGrants], query: &[(String, String)]) -> Option<String> {
    let client = |id: Option<&str>| clients.iter().find(|c| Some(c.client.client_id.to_string().as_str()) == id);
    let forgot = client(value(query, "forgot"));
    let again = |name: &str| format!(" {name} will ask you again next time.");
    if let Some(grant_id) = value(query, "revoked") {
        let owner = clients.iter().find(|c| c.grants.iter().any(|g| g.row.grant_id.to_string() == grant_id))?;
        let name = &owner.client.name;
        let mut text = format!("You revoked {name}'s access. Its next request with that token is refused.");
        if forgot.is_some() {
            text.push_str(&again(name));
        }
        return Some(text);
    }
    if let Some(disconnected) = client(value(query, "disconnected")) {
        let name = &disconnected.client.name;
        return Some(format!("You disconnected {name}: none of its access works any more.{}", again(name)));
    }
    forgot.map(|client| format!("You turned off the remembered decision.{}", again(&client.client.name)))
}

fn owner(session: &Session) -> OwnerId {
    OwnerId::new(session.owner_id)
}

/// A visitor without a session goes to log in, and comes back here after.
fn to_login(request: &HttpRequest) -> HttpResponse {
    outcome("login_required");
    see_other(&format!("/login?next={}", percent_encode(request.path())))
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}
