//! The operators' APIs served over HTTP, SQLite and PostgreSQL: an admin registers a
//! client over HTTP and it can sign at once; auditors page through the log, verify it
//! (and see an edit named) and replay grants as of a moment; each API wants its own
//! bearer token, and without one configured it refuses everyone.

use std::process::Command;

use crate::support::browser::{Browser, Client};
use crate::support::{Server, call};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-the-tests-0123456789abcdef";
const AUDITOR: &str = "auditor-token-for-the-tests-0123456789abcd";

/// Status, `WWW-Authenticate` (or, on a 201, `Cache-Control`) and JSON body of a call
/// with an optional bearer token.
fn with_tokens(database: &TestDatabase) -> Server {
    Server::start_with(&database.url, &["--demo", "--admin-token", ADMIN, "--auditor-token", AUDITOR])
}

async fn an_admin_registers_a_client_that_can_sign_at_once(database: TestDatabase) {
    let server = with_tokens(&database);
    let url = server.url("/admin/clients");
    let body = json!({ "name": "Print Shop", "callback_urls": ["http://127.0.0.1:*"] }).to_string();
    for token in [None, Some(AUDITOR), Some("admin-token-for-the-tests-0123456789abcdeX")] {
        let (status, challenge, _) = call("POST", &url, token, Some(&body));
        assert_eq!((status, challenge.as_deref()), (401, Some("Bearer realm=\"grantlog\"")), "{token:?}");
    }
    for (bad, why) in [
        ("{", "invalid JSON"),
        (r#"{"name": "X", "callback_urls": ["http://127.0.0.1:*"], "admin": true}"#, "unknown field"),
        (r#"{"name": "X", "callback_urls": []}"#, "callback_urls"),
        (r#"{"name": "X", "callback_urls": ["ftp://printer.example/"]}"#, "callback"),
        (r#"{"name": "", "callback_urls": ["oob"]}"#, "name"),
        // Armour fine, content no key: refused here rather than on every request after.
        (
            r#"{"name": "X", "callback_urls": ["oob"], "rsa_public_key": "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----"}"#,
            "rsa_public_key: not a usable RSA public key",
        ),
    ] {
        let (status, _, answer) = call("POST", &url, Some(ADMIN), Some(bad));
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{bad}: {answer}");
    }
    let (_, _, before) = call("GET", &server.url("/audit/events"), Some(AUDITOR), None);

    let (status, cache, issued) = call("POST", &url, Some(ADMIN), Some(&body));
    assert_eq!((status, cache.as_deref()), (201, Some("no-store")), "{issued}");
    let client = Client {
        server: &server,
        key: issued["client_key"].as_str().unwrap().to_owned(),
        secret: issued["client_secret"].as_str().unwrap().to_owned(),
    };
    let (token, _) = client.request_token("n-1");
    assert!(!token.is_empty(), "the new client signs a request at once");

    // Refused registrations wrote nothing; the one that worked is the admin's.
    let (_, _, after) =
        call("GET", &server.url(&format!("/audit/events?after={}", before["head"])), Some(AUDITOR), None);
    let types: Vec<&str> =
        after["events"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["client.registered", "grant.temporary_credentials_issued"]);
    assert_eq!(after["events"][0]["actor"], json!({ "kind": "admin" }));
    assert_eq!(after["events"][0]["payload"]["name"], "Print Shop");
    assert!(!after.to_string().contains(issued["client_secret"].as_str().unwrap()), "the log holds no secret");

    // A usable key (RFC 5849's test vectors' own) is taken.
    let vectors =
        std::fs::read_to_string(grantlog_tests::workspace_root().join("crates/oauth1/tests/vectors/signatures.json"))
            .unwrap();
    let pem = serde_json::from_str::<Value>(&vectors).unwrap()["rsa_public_key_pem"].clone();
    let with_key = json!({ "name": "RSA Prints", "callback_urls": ["oob"], "rsa_public_key": pem }).to_string();
    let (status, _, answer) = call("POST", &url, Some(ADMIN), Some(&with_key));
    assert_eq!(status, 201, "{answer}");
}

async fn auditors_page_through_verify_and_replay_the_log(database: TestDatabase) {
    let server = with_tokens(&database);
    let events = server.url("/audit/events");
    for token in [None, Some(ADMIN)] {
        assert_eq!(call("GET", &events, token, None).0, 401, "{token:?}");
        assert_eq!(call("GET", &server.url("/audit/verify"), token, None).0, 401);
        assert_eq!(call("GET", &server.url("/audit/replay?position=1"), token, None).0, 401);
    }
    // Something to replay: Jane approves Beppa's request through the pages.
    let beppa = Client::demo(&server);
    let mut jane = Browser::new();
    jane.log_in(&server, "jane", "islay-scotch");
    let request = beppa.request_token("r-1");
    let verifier = jane.approve(&server, &request.0, &[("photos", "islay-harbour"), ("expires", "never")]);
    beppa.exchange(&request, &verifier, "x-1");

    let (status, _, all) = call("GET", &events, Some(AUDITOR), None);
    assert_eq!(status, 200, "{all}");
    let head = all["head"].as_u64().unwrap();
    let positions: Vec<u64> =
        all["events"].as_array().unwrap().iter().map(|e| e["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, (1..=head).collect::<Vec<_>>());
    let (_, _, first_two) = call("GET", &format!("{events}?limit=2"), Some(AUDITOR), None);
    assert_eq!((first_two["events"].as_array().unwrap().len(), first_two["next_after"].as_u64()), (2, Some(2)));
    let (_, _, rest) = call("GET", &format!("{events}?after=2&limit=10000"), Some(AUDITOR), None);
    assert_eq!(rest["events"][0]["position"], 3);
    let (_, _, none) = call("GET", &format!("{events}?after={head}"), Some(AUDITOR), None);
    assert_eq!((none["events"].as_array().unwrap().len(), none["next_after"].as_u64()), (0, Some(head)));
    for bad in ["limit=many", "after=-1", "after=9223372036854775808"] {
        assert_eq!(call("GET", &format!("{events}?{bad}"), Some(AUDITOR), None).0, 400, "{bad}");
    }

    let (status, _, verdict) = call("GET", &server.url("/audit/verify"), Some(AUDITOR), None);
    assert_eq!((status, &verdict["ok"], verdict["events"].as_u64()), (200, &json!(true), Some(head)), "{verdict}");
    let recorded = verdict["head"].as_str().unwrap().to_owned();
    let anchored = call("GET", &server.url(&format!("/audit/verify?expect_head={recorded}")), Some(AUDITOR), None);
    assert_eq!(anchored.2["ok"], true, "{}", anchored.2);
    assert_eq!(call("GET", &server.url("/audit/verify?expect_head=nonsense"), Some(AUDITOR), None).0, 400);

    let (status, _, grants) = call("GET", &server.url("/audit/replay?as_of=2999-01-01T00:00:00Z"), Some(AUDITOR), None);
    assert_eq!(status, 200, "{grants}");
    assert_eq!(grants.as_array().unwrap().len(), 1);
    assert_eq!((&grants[0]["status"], &grants[0]["resources"]), (&json!("active"), &json!(["islay-harbour"])));
    let (_, _, janes) = call("GET", &server.url("/audit/replay?position=999999&owner=jane"), Some(AUDITOR), None);
    assert!(janes["error"].as_str().unwrap().contains("past the end of the log"), "{janes}");
    let (_, _, at_start) = call("GET", &server.url("/audit/replay?position=1&owner=jane"), Some(AUDITOR), None);
    assert_eq!(at_start, json!([]));
    for bad in ["", "?as_of=yesterday", "?as_of=2999-01-01T00:00:00Z&position=1", "?position=1&owner=mallory"] {
        let (status, _, answer) = call("GET", &server.url(&format!("/audit/replay{bad}")), Some(AUDITOR), None);
        assert_eq!(status, 400, "{bad}: {answer}");
    }

    // Someone edits an event behind grantlog's back: the auditor is told where.
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    database.tamper(&store, &[r#"UPDATE events SET payload = '{"tampered":true}' WHERE position = 2"#]).await;
    let (status, _, verdict) = call("GET", &server.url("/audit/verify"), Some(AUDITOR), None);
    assert_eq!((status, &verdict["ok"]), (200, &json!(false)), "{verdict}");
    assert!(verdict["violation"].as_str().unwrap().contains("position 2: hash does not match"), "{verdict}");

    // A row slipped in past the head: no page of the log and no replay is served from it.
    let past = format!(
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash) \
         SELECT {}, stream_id || '-copy', 1, event_type, schema_version, payload, occurred_at, actor, trace_id, hash FROM events WHERE position = 1",
        head + 1
    );
    database.tamper(&store, &[&past]).await;
    let named =
        format!("the event log fails verification: position {}: an event past the recorded head ({head})", head + 1);
    for asked in ["/audit/events", "/audit/replay?as_of=2999-01-01T00:00:00Z", "/audit/replay?position=1"] {
        let (status, _, answer) = call("GET", &server.url(asked), Some(AUDITOR), None);
        assert_eq!((status, answer["error"].as_str()), (409, Some(named.as_str())), "{asked}: {answer}");
    }
}

async fn without_tokens_the_operator_apis_refuse_everyone(database: TestDatabase) {
    let server = Server::start(&database.url);
    let body = json!({ "name": "X", "callback_urls": ["oob"] }).to_string();
    assert_eq!(call("POST", &server.url("/admin/clients"), Some(ADMIN), Some(&body)).0, 401);
    assert_eq!(call("POST", &server.url("/admin/clients"), Some(""), Some(&body)).0, 401);
    assert_eq!(call("GET", &server.url("/audit/events"), Some(AUDITOR), None).0, 401);

    // A token too short to be safe stops the server from starting at all.
    let refused = Command::new(env!("CARGO_BIN_EXE_grantlog"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("GRANTLOG_DATABASE_URL", &database.url)
        .env("GRANTLOG_SECRETS_KEY_FILE", std::env::temp_dir().join(format!("grantlog-ops-{}.key", std::process::id())))
        .env("GRANTLOG_ADMIN_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("the admin token must be at least 32 characters"), "{said}");
    assert!(!said.contains("short\n") && !said.contains("\"short\""), "the token is not echoed: {said}");
}

backend_tests!(
    an_admin_registers_a_client_that_can_sign_at_once,
    auditors_page_through_verify_and_replay_the_log,
    without_tokens_the_operator_apis_refuse_everyone,
);
