//! The auditor's page (`/audit`): whether the log verifies, its signed checkpoint, who
//! could read what as of a moment (each grant with its approving event and receipt),
//! and the export to check offline. Read-only but for logging out.

use grantlog_projection::replay::ReplayedGrant;
use grantlog_store::{ChainReport, StoredCheckpoint, Violation};
use maud::{Markup, html};

use super::{page, page_with_header, time};

/// The auditor's login form; `error` is shown above it.
pub fn auditor_login(csrf_token: &str, error: Option<&str>) -> Markup {
    page(
        "Auditor",
        html! {
            h1 { "Audit the grant log" }
            p { "Log in with the auditor token the provider gave you (GRANTLOG_AUDITOR_TOKEN)." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/audit/login" {
                input type="hidden" name="csrf_token" value=(csrf_token);
                label { "Auditor token " input type="password" name="token" autocomplete="off" required; }
                button type="submit" { "Log in" }
            }
        },
    )
}

/// What the auditor asked, as typed: a moment and the optional filters.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    /// An RFC 3339 time.
    pub as_of: &'a str,
    /// A username or an owner id; empty for every owner.
    pub owner: &'a str,
    /// A consumer key; empty for every client.
    pub client: &'a str,
}

/// Everything the page shows.
#[derive(Debug)]
pub struct AuditorView<'a> {
    /// The chain, tree and checkpoints walked just now.
    pub verdict: &'a Result<ChainReport, Violation>,
    /// The latest signed checkpoint, if any.
    pub checkpoint: Option<&'a StoredCheckpoint>,
    /// The replay's question.
    pub question: Question<'a>,
    /// The grants as they stood then, or why there is no answer.
    pub answer: Result<&'a [ReplayedGrant], &'a str>,
    /// The logout form's CSRF token.
    pub csrf_token: &'a str,
}

/// `/audit` for a logged-in auditor. Long because it is the page's one template, read
/// best top to bottom.
pub fn auditor(view: &AuditorView<'_>) -> Markup {
    let navigation = html! {
        nav.account aria-label="Auditor" {
            a href="/audit" { "The log" }
            form method="post" action="/audit/logout" {
                input type="hidden" name="csrf_token" value=(view.csrf_token);
                button type="submit" { "Log out" }
            }
        }
    };
    let question = view.question;
    page_with_header(
        "Auditor",
        Some(navigation),
        html! {
            h1 { "The grant log" }
            section aria-labelledby="verdict" {
                h2 #verdict { "Does it verify?" }
                @match view.verdict {
                    Ok(report) => p.notice #verified role="status" {
                        "Yes: the hash chain of all " (report.events) " events, the Merkle tree over them and every "
                        "signed checkpoint match. Head: " code { (report.head) }
                    },
                    Err(violation) => p.error #violated role="alert" {
                        "No: " (violation) ". Nothing read from this log can be trusted."
                    },
                }
            }
            section aria-labelledby="checkpoint" {
                h2 #checkpoint { "Signed checkpoint" }
                @match view.checkpoint {
                    Some(checkpoint) => {
                        p { "The latest, signed " (time(checkpoint.signed_at)) ", covers the first "
                            (checkpoint.tree_size) " events. Keep it: a later log must prove it extends this one." }
                        pre #note { (checkpoint.note) }
                        p { a href="/audit/checkpoint" download="checkpoint.txt" { "Download the checkpoint" } }
                    }
                    None => p { "No checkpoint is signed yet: the server signs them when started with "
                        code { "--checkpoint-key-file" } "." },
                }
            }
            section aria-labelledby="replay" {
                h2 #replay { "Who could read what" }
                form.replay method="get" action="/audit" {
                    label { "As of (RFC 3339) " input type="text" name="as_of" value=(question.as_of) required; }
                    label { "Owner (username or owner id, optional) " input type="text" name="owner" value=(question.owner); }
                    label { "Client (consumer key, optional) " input type="text" name="client" value=(question.client); }
                    button type="submit" { "Replay" }
                }
                @match view.answer {
                    Err(why) => p.error #replay-refused role="alert" { (why) },
                    Ok([]) => p #no-grants { "No grant matches as of " (question.as_of) "." },
                    Ok(grants) => {
                        p #replayed {
                            (grants.len()) @if grants.len() == 1 { " grant" } @else { " grants" }
                            " as of " (question.as_of) "."
                        }
                        @for grant in grants { (replayed(grant)) }
                    }
                }
            }
            section aria-labelledby="export" {
                h2 #export { "Export" }
                p {
                    "Every event with its whole envelope, up to the head: "
                    a href="/audit/export?format=csv" download="grantlog-events.csv" { "CSV" } " or "
                    a href="/audit/export?format=jsonl" download="grantlog-events.jsonl" { "JSON Lines" } "."
                }
                p { "Check the CSV offline against the checkpoint and the provider's verifier key: "
                    code { "grantlog audit verify-export --export FILE --checkpoint FILE --key KEY" } }
            }
        },
    )
}

fn replayed(grant: &ReplayedGrant) -> Markup {
    let id = &grant.grant_id;
    html! {
        article.grant id={ "grant-" (id) } data-status=(grant.status.as_str()) {
            h3 { (grant.client_name) ": " (grant.status.as_str()) }
            dl {
                dt { "Grant" } dd { code { (id) } }
                dt { "Owner" } dd {
                    @match &grant.owner_id {
                        Some(owner) => { code { (owner) } @if grant.owner_erased { " (erased owner)" } },
                        None => "nobody yet",
                    }
                }
                dt { "Client" } dd { code { (grant.client_key) } }
                dt { "Access" } dd { (grant.scope) }
                dt { "Photos" } dd {
                    @if grant.resources.is_empty() { "none" } @else { (grant.resources.join(", ")) }
                }
                dt { "Since" } dd { (grant.since) }
                dt { "Approved by" } dd {
                    @match grant.approved_position {
                        Some(position) => {
                            a href={ "/audit/events?after=" (position.saturating_sub(1)) "&limit=1" } { "event " (position) }
                            " (" a href={ "/audit/proof/inclusion?position=" (position) } { "its inclusion proof" } ")"
                        },
                        None => "no approval",
                    }
                }
            }
            @if grant.approved_position.is_some() {
                p.actions { a href={ "/audit/receipts/" (id) } { "Consent receipt" } }
            }
        }
    }
}
