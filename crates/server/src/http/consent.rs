//! The consent page: the owner sees what a client asks for and approves or denies it.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_domain::OwnerId;
use grantlog_oauth1::encoding::parse_form;
use grantlog_store::sessions::Session;

use super::login::login_page;
use super::page::{forbidden, form_fields, html, origin, page_with_form_targets, value};
use super::{ApiError, AppState, outcome, trace_id};
use crate::pages;
use crate::pages::{LoginFor, PhotoChoice};
use crate::services::consent::{Decision, DecisionError, Outcome, Pending};

/// `GET /oauth/authorize?oauth_token=…`: the login form, or the consent page for a
/// logged-in owner. Any `oauth_callback` here is ignored: the callback is the one
/// given at initiate.
pub(super) async fn authorize_page(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
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

/// `POST /oauth/authorize`: approve or deny. Without the session's CSRF token: 403,
/// and nothing changes.
pub(super) async fn authorize_decision(
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
pub(super) fn answered(outcome: Outcome, client_name: &str) -> HttpResponse {
    match outcome {
        Outcome::Redirect(location) => HttpResponse::Found().insert_header((header::LOCATION, location)).finish(),
        Outcome::ShowVerifier(verifier) => html(StatusCode::OK, pages::verifier(client_name, &verifier)),
    }
}

pub(super) async fn consent_page(
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

/// A request token that is unknown, expired or already answered.
pub(super) fn gone() -> ApiError {
    outcome("unknown_request");
    let text = "This request is unknown, has expired, or was already answered. Start again from the application.";
    ApiError::Page { status: StatusCode::BAD_REQUEST, title: "Request not found", text }
}
