//! The login form, for the consent page and the owner's account pages.

use actix_web::http::header::HeaderValue;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use grantlog_oauth1::encoding::percent_encode;
use secrecy::{ExposeSecret as _, SecretString};

use super::error::with_retry_after;
use super::page::{cookie, csrf_matches, expire_cookie, forbidden, form_fields, html, value};
use super::{ApiError, AppState, GRANTS_PAGE, SESSION_COOKIE, outcome};
use crate::pages;
use crate::pages::LoginFor;
use crate::services::login::LoginError;
use crate::services::random_token;

pub(super) const LOGIN_CSRF_COOKIE: &str = "grantlog_login_csrf";

/// `POST /login`: the login form's answer. Leads on to the request's consent page, or
/// to the account page the form names.
pub(super) async fn login(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let form = form_fields(&body);
    let then = login_for(value(&form, "oauth_token"), value(&form, "next"));
    if !cookie(&request, LOGIN_CSRF_COOKIE).is_some_and(|expected| csrf_matches(&form, expected)) {
        return Err(forbidden());
    }
    let address = state.client_address(&request);
    let password = SecretString::from(value(&form, "password").unwrap_or_default().to_owned());
    let username = value(&form, "username").unwrap_or_default();
    match state.services.login(username, password, address, Utc::now()).await {
        Ok(new) => {
            outcome("logged_in");
            let location = match then {
                LoginFor::Request(token) => format!("/oauth/authorize?oauth_token={}", percent_encode(token)),
                LoginFor::Account(next) => next.to_owned(),
            };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .append_header((
                    header::SET_COOKIE,
                    state.cookie(SESSION_COOKIE, new.cookie.expose_secret(), "/", "Lax"),
                ))
                .append_header((header::SET_COOKIE, expire_cookie(LOGIN_CSRF_COOKIE, "/login")))
                .finish())
        }
        Err(LoginError::Refused) => {
            outcome("login_refused");
            Ok(login_page(&state, then, StatusCode::UNAUTHORIZED, Some("Wrong username or password.")))
        }
        Err(LoginError::InvalidUsername) => {
            outcome("login_refused");
            Ok(login_page(&state, then, StatusCode::BAD_REQUEST, Some("A username is 1 to 64 printable characters.")))
        }
        Err(LoginError::Throttled { retry_after }) => {
            outcome("login_throttled");
            let page = login_page(
                &state,
                then,
                StatusCode::TOO_MANY_REQUESTS,
                Some("Too many failed logins. Try again later."),
            );
            Ok(with_retry_after(page, retry_after.num_seconds().max(1)))
        }
        Err(LoginError::Busy) => {
            outcome("login_busy");
            let page =
                login_page(&state, then, StatusCode::SERVICE_UNAVAILABLE, Some("Too many logins at once. Try again."));
            Ok(with_retry_after(page, 1))
        }
        Err(LoginError::Failed(error)) => Err(error.into()),
    }
}

/// Where a login form leads: the request it names, else the account page it names if
/// that is one of ours, else the grants page. Only local `/account/…` paths of plain
/// characters are followed, so the form cannot send anyone elsewhere.
pub(super) fn login_for<'a>(oauth_token: Option<&'a str>, next: Option<&'a str>) -> LoginFor<'a> {
    match (oauth_token.filter(|token| !token.is_empty()), next) {
        (Some(token), _) => LoginFor::Request(token),
        (None, Some(next))
            if next.starts_with("/account/")
                && next.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_'))
                && !next.contains("//") =>
        {
            LoginFor::Account(next)
        }
        (None, _) => LoginFor::Account(GRANTS_PAGE),
    }
}

pub(super) fn login_page(
    state: &AppState,
    then: LoginFor<'_>,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    form_page_with_csrf(state, status, LOGIN_CSRF_COOKIE, "/login", |csrf| pages::login(then, csrf, error))
}

/// A page whose form carries a fresh CSRF token, also set in cookie `name` for `path`
/// (where the form posts): a form posted from another site carries none that matches.
pub(super) fn form_page_with_csrf(
    state: &AppState,
    status: StatusCode,
    name: &str,
    path: &str,
    form: impl FnOnce(&str) -> maud::Markup,
) -> HttpResponse {
    let csrf = random_token(24);
    let mut response = html(status, form(&csrf));
    if let Ok(value) = HeaderValue::from_str(&state.cookie(name, &csrf, path, "Strict")) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
