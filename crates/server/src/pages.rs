//! The owner's pages, as maud templates: semantic HTML, no script, one small stylesheet
//! served by the binary. Every value is escaped by maud; client names and photo titles
//! show as text.

use maud::{DOCTYPE, Markup, html};

use crate::owner::consent_text;

/// The stylesheet, served at `/static/grantlog.css`.
pub const STYLESHEET: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}\
fieldset{border:1px solid #ccc;margin:1rem 0}label{display:block;margin:.25rem 0}\
button{font-size:1rem;margin:.5rem .5rem 0 0;padding:.4rem 1rem}.error{color:#a00}";

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — grantlog" }
                link rel="stylesheet" href="/static/grantlog.css";
            }
            body { main { (body) } }
        }
    }
}

/// The login form; `error` is shown above it.
pub fn login(oauth_token: &str, csrf_token: &str, error: Option<&str>) -> Markup {
    page(
        "Log in",
        html! {
            h1 { "Log in to Faji" }
            p { "An application asks for access to your photos. Log in to see what it asks." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf_token" value=(csrf_token);
                input type="hidden" name="oauth_token" value=(oauth_token);
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
            p { (consent_text(client_name)) " It cannot change or delete anything, and it never learns your password." }
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
                label { input type="checkbox" name="remember" value="yes"; " Remember this decision" }
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
