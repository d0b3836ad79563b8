//! The auditor's page: `GET /audit` (the login form, or the page for a logged-in
//! auditor), `POST /audit/login` with the auditor token, `POST /audit/logout`. The
//! session is a stateless cookie (`crate::operators`), sent only under `/audit`, which
//! the auditor API (`require`) accepts as it accepts the bearer token, so the page's
//! links to receipts, proofs, the checkpoint and the export work in the browser.

use actix_web::http::header::HeaderValue;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use grantlog_oauth1::encoding::parse_form;

use super::audit::unanswered;
use super::login::form_page_with_csrf;
use super::page::{cookie, csrf_matches, expire_cookie, forbidden, form_fields, html, value};
use super::{ApiError, AppState, outcome};
use crate::audit::Moment;
use crate::operators::Role;
use crate::pages::{self, AuditorView, Question};

/// The auditor's session cookie, sent under `/audit` only.
const AUDITOR_COOKIE: &str = "grantlog_auditor";
const LOGIN_CSRF_COOKIE: &str = "grantlog_auditor_login_csrf";
const PAGE: &str = "/audit";
const LOGIN: &str = "/audit/login";
const EXPIRED_SESSION: &str = "grantlog_auditor=; Path=/audit; Max-Age=0; HttpOnly; SameSite=Strict";

/// The request's auditor session cookie, if it carries a live one.
pub(super) fn signed_in<'a>(state: &AppState, request: &'a HttpRequest) -> Option<&'a str> {
    cookie(request, AUDITOR_COOKIE).filter(|session| state.operators.auditor_session_valid(session, Utc::now()))
}

/// `GET /audit[?as_of=RFC3339&owner=…&client=…]`: the page, or the login form.
pub(super) async fn page(request: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.operators.configured(Role::Auditor) {
        let text = "The auditor's page is switched off: this server has no auditor token.";
        return Ok(html(StatusCode::NOT_FOUND, pages::message("Auditor", text)));
    }
    let Some(session) = signed_in(&state, &request) else {
        outcome("auditor_login_shown");
        let mut form = login_page(&state, StatusCode::OK, None);
        // An expired or foreign session cookie would otherwise be sent for nothing.
        if cookie(&request, AUDITOR_COOKIE).is_some() {
            form.headers_mut().append(header::SET_COOKIE, HeaderValue::from_static(EXPIRED_SESSION));
        }
        return Ok(form);
    };
    let csrf_token = state.operators.auditor_csrf(session).unwrap_or_default();
    let query = parse_form(request.query_string()).unwrap_or_default();
    let typed = |name| value(&query, name).map(str::trim).filter(|text| !text.is_empty());
    // To the microsecond: a whole second would leave out what happened in this one.
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let question = Question {
        as_of: typed("as_of").unwrap_or(&now),
        owner: typed("owner").unwrap_or_default(),
        client: typed("client").unwrap_or_default(),
    };
    let audit = state.services.audit();
    let verdict = audit.verify(None).await?;
    let checkpoint = audit.checkpoint(None).await?;
    let (status, answer) = match question.as_of.parse::<DateTime<Utc>>() {
        Err(_) => {
            (StatusCode::BAD_REQUEST, Err("As of must be an RFC 3339 time, such as 2026-12-02T17:00:00Z.".to_owned()))
        }
        Ok(as_of) => {
            let owner = Some(question.owner).filter(|owner| !owner.is_empty());
            let client = Some(question.client).filter(|client| !client.is_empty()).map(str::to_owned);
            match audit.replay(Moment::Time(as_of), owner, client).await {
                Ok(grants) => (StatusCode::OK, Ok(grants)),
                Err(error) => {
                    let (status, why) = unanswered(error)?;
                    (status, Err(format!("No replay: {why}.")))
                }
            }
        }
    };
    outcome("auditor_page_shown");
    let view = AuditorView {
        verdict: &verdict,
        checkpoint: checkpoint.as_ref(),
        question,
        answer: answer.as_deref().map_err(String::as_str),
        csrf_token: &csrf_token,
    };
    Ok(html(status, pages::auditor(&view)))
}

/// `POST /audit/login`: the auditor token (field `token`) for a session cookie.
pub(super) async fn login(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form = form_fields(&body);
    if !cookie(&request, LOGIN_CSRF_COOKIE).is_some_and(|expected| csrf_matches(&form, expected)) {
        return Err(forbidden());
    }
    let Some(session) = state.operators.auditor_session(value(&form, "token").unwrap_or_default(), Utc::now()) else {
        outcome("auditor_login_refused");
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some("That is not the auditor token.")));
    };
    outcome("auditor_logged_in");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, PAGE))
        .append_header((header::SET_COOKIE, state.cookie(AUDITOR_COOKIE, &session, PAGE, "Strict")))
        .append_header((header::SET_COOKIE, expire_cookie(LOGIN_CSRF_COOKIE, LOGIN)))
        .finish())
}

/// `POST /audit/logout`: forgets the session cookie (which nothing else held).
pub(super) async fn logout(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let expected = signed_in(&state, &request).and_then(|session| state.operators.auditor_csrf(session));
    if !expected.is_some_and(|expected| csrf_matches(&form_fields(&body), &expected)) {
        return Err(forbidden());
    }
    outcome("auditor_logged_out");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, PAGE))
        .append_header((header::SET_COOKIE, EXPIRED_SESSION))
        .finish())
}

fn login_page(state: &AppState, status: StatusCode, error: Option<&str>) -> HttpResponse {
    form_page_with_csrf(state, status, LOGIN_CSRF_COOKIE, LOGIN, |csrf| pages::auditor_login(csrf, error))
}
