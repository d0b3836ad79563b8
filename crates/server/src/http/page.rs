//! What every HTML page carries (CSP, no framing, no caching), the stylesheet, cookies,
//! forms and their CSRF check.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use grantlog_oauth1::encoding::parse_form;

use super::{ApiError, outcome};
use crate::pages;

/// A form without its session's CSRF token.
pub(super) fn forbidden() -> ApiError {
    outcome("forbidden");
    let text = "The form was stale or forged. Go back and try again.";
    ApiError::Page { status: StatusCode::FORBIDDEN, title: "Forbidden", text }
}

pub(super) async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(pages::STYLESHEET)
}

/// An HTML page with the headers every page carries: no script, no framing, no
/// sniffing, no referrer leaking the request token, no caching; forms post only here.
pub(super) fn html(status: StatusCode, markup: maud::Markup) -> HttpResponse {
    page_with_form_targets(status, markup, None)
}

/// Like [`html`], also letting a form's answer redirect to `callback_origin`: browsers
/// apply `form-action` to the redirect that follows a post, and the consent form's
/// answer is a redirect to the client's callback.
pub(super) fn page_with_form_targets(
    status: StatusCode,
    markup: maud::Markup,
    callback_origin: Option<&str>,
) -> HttpResponse {
    let targets = callback_origin.map_or_else(|| "'self'".to_owned(), |origin| format!("'self' {origin}"));
    let policy = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {targets}; frame-ancestors 'none'; base-uri 'none'"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, policy))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}

/// `scheme://host[:port]` of an absolute URL (`None` for `oob`). Callbacks were parsed
/// strictly at initiate, so this only cuts.
pub(super) fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    Some(format!("{scheme}://{authority}"))
}

pub(super) fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    std::str::from_utf8(body).ok().and_then(|text| parse_form(text).ok()).unwrap_or_default()
}

/// Whether a form carries the expected CSRF token, compared in constant time so that
/// the answer's timing tells nothing about how much of a guess was right.
pub(super) fn csrf_matches(form: &[(String, String)], expected: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    value(form, "csrf_token").is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(expected.as_bytes())))
}

pub(super) fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

pub(super) fn cookie<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    let header = request.headers().get(header::COOKIE)?.to_str().ok()?;
    header.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v)
}

pub(super) fn expire_cookie(name: &str, path: &str) -> String {
    format!("{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict")
}
