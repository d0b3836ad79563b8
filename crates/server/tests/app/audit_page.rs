//! The auditor's page, SQLite and PostgreSQL: an auditor logs in with the auditor token
//! (and nothing else), sees that the log verifies and its signed checkpoint, replays
//! who could read what as of a moment, filtered by owner and client, follows a grant to
//! its approving event's proof and its receipt, downloads the export that `grantlog
//! audit verify-export` then checks offline, and logs out. Forged sessions, stale
//! forms, wrong questions, names with HTML and a tampered log each get a clear answer.

use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use serde_json::Value;

use crate::support::browser::{Browser, CALLBACK, Client, Page, hidden, jane_approves_beppa};
use crate::support::{Server, checkpoint_key, eventually};

const AUDITOR: &str = "auditor-token-for-the-audit-page-0123456789";
const ADMIN: &str = "admin-token-for-the-audit-page-0123456789ab";
const SESSION: &str = "grantlog_auditor";

fn server_with_auditor(database: &TestDatabase, extra: &[&str]) -> Server {
    let mut args = vec!["--demo", "--auditor-token", AUDITOR, "--admin-token", ADMIN];
    args.extend_from_slice(extra);
    Server::start_with(&database.url, &args)
}

/// The login form, then the auditor token posted with its CSRF token.
fn auditor_logs_in(server: &Server, auditor: &mut Browser, token: &str) -> Page {
    let form = auditor.get(&server.url("/audit"));
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains(r#"action="/audit/login""#), "{}", form.body);
    let csrf = hidden(&form.body, "csrf_token");
    auditor.submit(&server.url("/audit/login"), &[("csrf_token", &csrf), ("token", token)])
}

fn has_session(browser: &Browser) -> bool {
    browser.cookies.iter().any(|(name, _)| name == SESSION)
}

async fn an_auditor_replays_proves_and_exports_on_the_audit_page(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let (key_file, verifier) = checkpoint_key(folder.path(), "faji.test/log");
    let server = server_with_auditor(&database, &["--checkpoint-key-file", &key_file, "--checkpoint-every", "1"]);
    let (_jane, _beppa, _request, grant) = jane_approves_beppa(&server, &database.url, "a-1").await;

    // Nothing without the token: not the page, not the API behind it.
    let mut auditor = Browser::new();
    let form = auditor.get(&server.url("/audit"));
    assert!(form.csp.as_deref().is_some_and(|csp| csp.contains("default-src 'none'")), "{:?}", form.csp);
    assert_eq!(form.frame_options.as_deref(), Some("DENY"));
    assert!(!form.body.contains(&grant), "the login form shows no grant");
    assert_eq!(auditor.get(&server.url(&format!("/audit/receipts/{grant}"))).status, 401);
    let stale = auditor.submit(&server.url("/audit/login"), &[("csrf_token", "guessed"), ("token", AUDITOR)]);
    assert_eq!((stale.status, has_session(&auditor)), (403, false), "a login without its form's CSRF token");
    for wrong in [ADMIN, "", &AUDITOR[1..], &format!("{AUDITOR}\0")] {
        let refused = auditor_logs_in(&server, &mut auditor, wrong);
        assert_eq!((refused.status, has_session(&auditor)), (401, false), "{wrong:?}");
        assert!(refused.body.contains("That is not the auditor token."), "{}", refused.body);
    }

    let logged_in = auditor_logs_in(&server, &mut auditor, AUDITOR);
    assert_eq!((logged_in.status, logged_in.location.as_deref()), (303, Some("/audit")));
    let set = logged_in.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect::<Vec<_>>();
    let session = set.iter().find(|cookie| cookie.starts_with("grantlog_auditor=")).expect("a session cookie");
    for attribute in ["Path=/audit", "HttpOnly", "SameSite=Strict"] {
        assert!(session.contains(attribute), "{session}");
    }

    // The page: the verdict, the checkpoint once signed, and the grant with its proofs.
    let page = eventually("a checkpoint on the page", || {
        let page = auditor.get(&server.url("/audit"));
        assert_eq!(page.status, 200, "{}", page.body);
        page.body.contains(r#"id="note""#).then_some(page)
    });
    assert!(page.body.contains(r#"id="verified""#), "{}", page.body);
    assert!(page.body.contains("faji.test/log"), "the note's origin: {}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(page.body.contains(&format!(r#"id="grant-{grant}" data-status="authorized""#)), "{}", page.body);
    let receipt = auditor.get(&server.url(&format!("/audit/receipts/{grant}")));
    assert_eq!(receipt.status, 200, "the session reaches the receipt: {}", receipt.body);
    // Kept by no cache, whichever way it was asked for.
    assert_eq!(receipt.header("cache-control"), Some("no-store"));
    assert_eq!(receipt.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(receipt.header("vary"), Some("Authorization, Cookie"));
    let receipt: Value = serde_json::from_str(&receipt.body).unwrap();
    let approved = receipt["event"]["position"].as_u64().unwrap();
    let proof_link = format!("/audit/proof/inclusion?position={approved}");
    assert!(page.body.contains(&proof_link), "the approving event is the receipt's: {}", page.body);
    let proof: Value = serde_json::from_str(&auditor.get(&server.url(&proof_link)).body).unwrap();
    assert_eq!(proof["leaf_index"].as_u64(), Some(approved - 1));
    let event_link = format!("/audit/events?after={}&amp;limit=1", approved - 1);
    assert!(page.body.contains(&event_link), "the approving event itself: {}", page.body);
    let event: Value = serde_json::from_str(&auditor.get(&server.url(&event_link.replace("&amp;", "&"))).body).unwrap();
    assert_eq!(event["events"][0]["event_type"], "grant.approved");
    assert_eq!(event["events"][0]["position"].as_u64(), Some(approved));

    // Filters and moments.
    let replay = |auditor: &mut Browser, query: &str| auditor.get(&server.url(&format!("/audit?{query}")));
    let hers = replay(&mut auditor, "owner=jane&client=beppa-demo-key");
    assert!(hers.body.contains(&format!("grant-{grant}")) && hers.body.contains("1 grant as of"), "{}", hers.body);
    let none = replay(&mut auditor, "client=nobodys-key");
    assert!(none.body.contains(r#"id="no-grants""#) && !none.body.contains(&grant), "{}", none.body);
    let before = replay(&mut auditor, "as_of=2000-01-01T00:00:00Z");
    assert!(before.body.contains(r#"id="no-grants""#), "{}", before.body);
    for (query, says) in [("owner=nobody", "no owner named"), ("as_of=yesterday", "As of must be an RFC 3339 time")] {
        let refused = replay(&mut auditor, query);
        assert_eq!(refused.status, 400, "{query}");
        assert!(refused.body.contains(r#"id="replay-refused""#) && refused.body.contains(says), "{}", refused.body);
    }

    // The checkpoint and the export, downloaded, verify offline.
    let note = auditor.get(&server.url("/audit/checkpoint"));
    let export = auditor.get(&server.url("/audit/export?format=csv"));
    assert_eq!(export.status, 200);
    assert_eq!(export.header("content-disposition"), Some(r#"attachment; filename="grantlog-events.csv""#));
    // The head it names is its last event's position and hash.
    let rows = csv::Reader::from_reader(export.body.as_bytes()).into_records().collect::<Result<Vec<_>, _>>().unwrap();
    let last = rows.last().unwrap();
    assert_eq!(export.header("grantlog-log-head"), Some(format!("{}:{}", &last[0], &last[8]).as_str()));
    let (note_file, export_file) = (folder.path().join("checkpoint.txt"), folder.path().join("events.csv"));
    std::fs::write(&note_file, &note.body).unwrap();
    std::fs::write(&export_file, &export.body).unwrap();
    let checked = server.verify_export(&export_file, &note_file, &verifier);
    assert_eq!(checked.status.code(), Some(0), "{}", String::from_utf8_lossy(&checked.stderr));
    let jsonl = auditor.get(&server.url("/audit/export?format=jsonl"));
    assert_eq!(jsonl.body.lines().count() + 1, export.body.lines().count(), "the same events, without a header");
    assert_eq!(auditor.get(&server.url("/audit/export?format=xml")).status, 400);

    // Logging out takes the page's own form.
    let forged = auditor.submit(&server.url("/audit/logout"), &[("csrf_token", "guessed")]);
    assert_eq!((forged.status, has_session(&auditor)), (403, true));
    let page = auditor.get(&server.url("/audit"));
    let out = auditor.submit(&server.url("/audit/logout"), &[("csrf_token", &hidden(&page.body, "csrf_token"))]);
    assert_eq!((out.status, has_session(&auditor)), (303, false));
    assert!(auditor.get(&server.url("/audit")).body.contains(r#"action="/audit/login""#));
}

async fn the_audit_page_escapes_names_refuses_forgeries_and_shows_a_tampered_log(database: TestDatabase) {
    let server = server_with_auditor(&database, &[]);
    let (key, secret) = server.add_client_named("<script>alert(1)</script> Prints", CALLBACK);
    let mallory = Client { server: &server, key: key.clone(), secret };
    mallory.request_token("m-1");

    let mut auditor = Browser::new();
    assert_eq!(auditor_logs_in(&server, &mut auditor, AUDITOR).status, 303);
    let page = auditor.get(&server.url(&format!("/audit?client={key}")));
    assert!(page.body.contains(r#"data-status="pending""#), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "a client's name is text: {}", page.body);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; Prints"), "{}", page.body);

    // The auditor's session is no admin's.
    let posted = auditor.submit(&server.url("/admin/clients"), &[("name", "x")]);
    assert_eq!(posted.status, 401, "{}", posted.body);

    // A session cookie nobody made, or the admin's token, opens nothing.
    let mut forger = Browser::new();
    let expires = chrono::Utc::now().timestamp() + 600;
    forger.cookies.push((SESSION.to_owned(), format!("{expires}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")));
    assert!(forger.get(&server.url("/audit")).body.contains(r#"action="/audit/login""#));
    assert!(!has_session(&forger), "the login form clears a session cookie that is no longer good");
    forger.cookies.push((SESSION.to_owned(), format!("{expires}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")));
    for path in ["/audit/export", "/audit/verify", "/audit/checkpoint"] {
        assert_eq!(forger.get(&server.url(path)).status, 401, "{path}");
        assert_eq!(crate::support::get_with_bearer(&server, ADMIN, path).0, 401, "{path}");
    }

    // A row slipped in past the head: the page says the log fails, and exports nothing.
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let head = store.head().await.unwrap().position;
    let slipped_in = format!(
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash) \
         SELECT {}, 'grant-x', 1, event_type, schema_version, payload, occurred_at, actor, trace_id, hash FROM events WHERE position = {head}",
        head + 1
    );
    database.tamper(&store, &[&slipped_in]).await;
    let page = auditor.get(&server.url("/audit"));
    assert!(page.body.contains(r#"id="violated""#), "{}", page.body);
    assert!(page.body.contains(&format!("position {}: an event past the recorded head", head + 1)), "{}", page.body);
    assert_eq!(auditor.get(&server.url("/audit/export?format=csv")).status, 409);
}

async fn without_an_auditor_token_the_page_is_off(database: TestDatabase) {
    let server = Server::start(&database.url);
    let page = Browser::new().get(&server.url("/audit"));
    assert_eq!(page.status, 404);
    assert!(page.body.contains("switched off") && !page.body.contains("<form"), "{}", page.body);
}

backend_tests!(
    without_an_auditor_token_the_page_is_off,
    an_auditor_replays_proves_and_exports_on_the_audit_page,
    the_audit_page_escapes_names_refuses_forgeries_and_shows_a_tampered_log
);
