//! The owner's pages (and the auditor's, in `auditor`), as maud templates: semantic HTML, no script, one small stylesheet
//! served by the binary. Every value is escaped by maud; client names and photo titles
//! show as text.

use chrono::{DateTime, SecondsFormat, Utc};
use grantlog_domain::{GrantStatus, consent_wording};
use grantlog_projection::tables::ClientRow;
use maud::{DOCTYPE, Markup, html};

use crate::services::account::{ClientGrants, GrantHistory, GrantSummary, Remembered};

use crate::timeline::{self, Entry, parse_time};

mod auditor;
pub use auditor::{AuditorView, Question, auditor, auditor_login};

/// The stylesheet, served at `/static/grantlog.css`.
pub const STYLESHEET: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem;line-height:1.5;color:#222}\
fieldset{border:1px solid #ccc;margin:1rem 0}label{display:block;margin:.25rem 0}\
button{font-size:1rem;margin:.5rem .5rem 0 0;padding:.4rem 1rem}.error{color:#a00}\
:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}\
nav.account{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ccc}\
nav.account form{margin:0}.notice{background:#e8f4e8;border-left:4px solid #2a7a2a;padding:.5rem 1rem}\
section.client{border-top:2px solid #ccc;margin-top:1.5rem}\
article.grant{border:1px solid #ddd;border-radius:6px;padding:0 1rem;margin:1rem 0}\
article.grant h3{font-size:1.05rem}article.grant[data-status=active]{border-left:4px solid #2a7a2a}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}dt{font-weight:600}dd{margin:0}\
dd ul{margin:0;padding-left:1.2rem}.actions{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem}\
.actions form{display:inline}.remembered{background:#fff8e0;padding:.25rem 1rem;border-radius:6px}\
ol.timeline{padding-left:1.5rem}ol.timeline li{margin:.6rem 0}ol.timeline time{display:block;font-weight:600;color:#444}\
.event{color:#555}.hint{margin:.1rem 0 .5rem 1.6rem;font-size:.9rem;color:#555}\
pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.5rem}code{word-break:break-all}";

fn page(title: &str, body: Markup) -> Markup {
    page_with_header(title, None, body)
}

fn page_with_header(title: &str, header: Option<Markup>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — grantlog" }
                link rel="stylesheet" href="/static/grantlog.css";
            }
            body {
                @if let Some(header) = header { header { (header) } }
                main { (body) }
            }
        }
    }
}

/// Where a login leads: the consent page for a request token, or an account page.
#[derive(Debug, Clone, Copy)]
pub enum LoginFor<'a> {
    /// A client's request (`oauth_token`).
    Request(&'a str),
    /// A page of the owner's account (a local path).
    Account(&'a str),
}

/// The login form; `error` is shown above it.
pub fn login(then: LoginFor<'_>, csrf_token: &str, error: Option<&str>) -> Markup {
    page(
        "Log in",
        html! {
            h1 { "Log in to Faji" }
            @match then {
                LoginFor::Request(_) => p { "An application asks for access to your photos. Log in to see what it asks." },
                LoginFor::Account(_) => p { "Log in to see and revoke the access you gave applications to your photos." },
            }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf_token" value=(csrf_token);
                @match then {
                    LoginFor::Request(token) => input type="hidden" name="oauth_token" value=(token);,
                    LoginFor::Account(next) => input type="hidden" name="next" value=(next);,
                }
                label { "Username " input type="text" name="username" autocomplete="username" required; }
                label { "Password " input type="password" name="password" autocomplete="current-password" required; }
                button type="submit" { "Log in" }
            }
        },
    )
}

/// A photo offered on the consent page.
#[derive(Debug)]
pub struct PhotoChoice<'a> {
    /// Its id.
    pub id: &'a str,
    /// Its title.
    pub title: &'a str,
}

/// The consent page.
pub fn consent(
    client_name: &str,
    homepage: Option<&str>,
    photos: &[PhotoChoice<'_>],
    oauth_token: &str,
    csrf_token: &str,
    error: Option<&str>,
) -> Markup {
    page(
        "Allow access?",
        html! {
            h1 { (client_name) " wants to see your photos" }
            @if let Some(homepage) = homepage { p { "Its website: " a href=(homepage) rel="noopener noreferrer" { (homepage) } } }
            p { (consent_wording(client_name)) " It cannot change or delete anything, and it never learns your password." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/oauth/authorize" {
                input type="hidden" name="csrf_token" value=(csrf_token);
                input type="hidden" name="oauth_token" value=(oauth_token);
                fieldset {
                    legend { "Which photos" }
                    @for photo in photos {
                        label { input type="checkbox" name="photos" value=(photo.id) checked; " " (photo.title) }
                    }
                }
                fieldset {
                    legend { "For how long" }
                    label { input type="radio" name="expires" value="1hour" checked; " One hour" }
                    label { input type="radio" name="expires" value="1day"; " One day" }
                    label { input type="radio" name="expires" value="30days"; " 30 days" }
                    label { input type="radio" name="expires" value="never"; " Until I revoke it" }
                }
                label {
                    input type="checkbox" name="remember" value="yes" aria-describedby="remember-hint";
                    " Remember this decision"
                }
                p.hint id="remember-hint" {
                    "Next time " (client_name) " asks, it gets the same photos for the same time without asking you. "
                    "You can turn this off on your grants page."
                }
                button type="submit" name="decision" value="approve" { "Allow" }
                button type="submit" name="decision" value="deny" { "Deny" }
            }
        },
    )
}

/// The verifier, for a client that asked for `oob`.
pub fn verifier(client_name: &str, verifier: &str) -> Markup {
    page(
        "Access allowed",
        html! {
            h1 { "Access allowed" }
            p { "Give this code to " (client_name) ":" }
            p { code { (verifier) } }
        },
    )
}

/// A plain message page.
pub fn message(title: &str, text: &str) -> Markup {
    page(title, html! { h1 { (title) } p { (text) } })
}

/// An account page: the page with the account's navigation and a way out.
fn account_page(title: &str, csrf_token: &str, body: Markup) -> Markup {
    let navigation = html! {
        nav.account aria-label="Account" {
            a href="/account/grants" { "Your grants" }
            form method="post" action="/logout" {
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { "Log out" }
            }
        }
    };
    page_with_header(title, Some(navigation), body)
}

/// `/account/grants`: every grant, grouped by client; `notice` confirms what was just
/// done.
pub fn grants(clients: &[ClientGrants], csrf_token: &str, notice: Option<&str>) -> Markup {
    account_page(
        "Your grants",
        csrf_token,
        html! {
            h1 { "Your grants" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if clients.is_empty() {
                p { "You have not given any application access to your photos." }
            }
            @for client in clients {
                @let heading = format!("client-{}", client.client.client_id);
                section.client aria-labelledby=(heading) {
                    h2 id=(heading) { (client.client.name) }
                    @if !client.client.active {
                        p.remembered role="status" {
                            (client.client.name) " is suspended by the provider: none of its access works until "
                            "the provider lets it back. You can still revoke it."
                        }
                    }
                    @if let Some(remembered) = &client.remembered {
                        (remembered_decision(&client.client, remembered, csrf_token))
                    }
                    @for grant in &client.grants {
                        @let id = &grant.row.grant_id;
                        article.grant id={ "grant-" (id) } data-status=(grant.status.as_str()) {
                            h3 { (status_words(grant)) }
                            (details(grant))
                            p.actions {
                                a href={ "/account/grants/" (id) } { "History" }
                                @if grant.is_live() {
                                    form method="post" action={ "/account/grants/" (id) "/revoke" } {
                                        input type="hidden" name="csrf_token" value=(csrf_token);
                                        button type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                    @if client.remembered.is_some() || client.grants.iter().any(GrantSummary::is_live) {
                        form.disconnect method="post" action={ "/account/clients/" (client.client.client_id) "/revoke" } {
                            input type="hidden" name="csrf_token" value=(csrf_token);
                            button type="submit" { "Disconnect " (client.client.name) }
                        }
                    }
                }
            }
        },
    )
}

fn remembered_decision(client: &ClientRow, remembered: &Remembered, csrf_token: &str) -> Markup {
    let approval = &remembered.approval;
    html! {
        div.remembered {
            p {
                strong { "Remembered decision: " }
                (client.name) " gets " (timeline::access(&approval.scope)) " to "
                (timeline::photo_count(approval.resources.len())) " for " (timeline::duration(approval.duration))
                " each time it asks, without asking you. You chose this on "
                (time(approval.approved_at)) "."
            }
            form method="post" action={ "/account/clients/" (client.client_id) "/forget" } {
                input type="hidden" name="csrf_token" value=(csrf_token);
                button type="submit" { "Forget this decision" }
            }
        }
    }
}

/// The facts of a grant, as a description list.
fn details(grant: &GrantSummary) -> Markup {
    let row = &grant.row;
    let access = capitalized(timeline::access(row.scope.as_ref().unwrap_or(&row.requested_scope)));
    html! {
        dl {
            dt { "Access" } dd { (access) }
            dt { "Photos" }
            dd {
                @if grant.photos.is_empty() { "None" }
                @else { ul { @for photo in &grant.photos { li { (photo) } } } }
            }
            dt { "Granted" } dd { (optional_time(row.approved_at, "Not granted")) }
            dt { "Expires" }
            dd {
                @match (row.approved_at, row.expires_at) {
                    (None, _) => "—",
                    (Some(_), Some(at)) => (time(at)),
                    (Some(_), None) => "Only when you revoke it",
                }
            }
            dt { "Last used" }
            dd { (optional_time(grant.usage.as_ref().map(|used| parse_time(&used.last_used_at)), "Never")) }
            dt { "Uses" } dd { (grant.usage.as_ref().map_or(0, |used| used.count)) }
            dt { "Remembered" } dd { @if row.remembered { "Yes" } @else { "No" } }
            dt { "Status" } dd { (status_words(grant)) }
        }
    }
}

/// `/account/grants/{id}`: the grant and its history.
pub fn history(grant: &GrantHistory, csrf_token: &str) -> Markup {
    let summary = &grant.summary;
    let id = &summary.row.grant_id;
    account_page(
        "Grant history",
        csrf_token,
        html! {
            h1 { (grant.client.name) ": " (status_words(summary)) }
            (details(summary))
            @if summary.is_live() {
                form method="post" action={ "/account/grants/" (id) "/revoke" } {
                    input type="hidden" name="csrf_token" value=(csrf_token);
                    button type="submit" { "Revoke" }
                }
            }
            h2 { "What happened" }
            ol.timeline {
                @for entry in &grant.entries {
                    li {
                        (time(entry.at)) " "
                        span.what { (entry.text) }
                        @match entry.position {
                            Some(position) => small.event { " event " code { "#" (position) } },
                            None => small.event { " (not an event: " (not_an_event(entry)) ")" },
                        }
                    }
                }
            }
            p.event-note {
                "Event numbers are positions in grantlog's log: an auditor finds them with "
                code { "grantlog audit replay" } "."
            }
            @if summary.row.scope.is_some() {
                p {
                    a href={ "/account/grants/" (id) "/receipt" } download { "Download the consent receipt" }
                    " (what you agreed to, with the proof that it is in the log)"
                }
            }
            p { a href="/account/grants" { "Back to your grants" } }
        },
    )
}

fn not_an_event(entry: &Entry) -> &'static str {
    if entry.text.starts_with("Access ran out") { "due by the clock, not yet recorded" } else { "a usage counter" }
}

fn status_words(grant: &GrantSummary) -> String {
    let since = |label: &str| format!("{label} {}", timeline::clock(grant.row.status_since));
    match grant.status {
        GrantStatus::Active => "Active".to_owned(),
        GrantStatus::Authorized => "Approved, not yet collected".to_owned(),
        GrantStatus::Pending => "Waiting for your answer".to_owned(),
        GrantStatus::Denied => since("Denied"),
        GrantStatus::Revoked => since("Revoked"),
        GrantStatus::Expired => "Expired".to_owned(),
    }
}

/// A `<time>` element: machine-readable, shown in UTC.
fn time(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (timeline::clock(at)) } }
}

fn optional_time(at: Option<DateTime<Utc>>, otherwise: &str) -> Markup {
    match at {
        Some(at) => time(at),
        None => html! { (otherwise) },
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}
