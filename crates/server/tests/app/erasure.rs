//! Erasure that keeps the chain, SQLite and PostgreSQL: an admin erases Jane. Her
//! username, password hash and sessions are gone, her live grant is revoked, and
//! `owner.erased` is recorded; the chain verifies, the checkpoint signed before is
//! proved consistent with the one after, replay shows an erased owner, and her consent
//! receipt still verifies offline. Refusals change nothing.

use grantlog_projection::tables::grant_by_token;
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use grantlog_tests::run_python_client;
use grantlog_tlog::checkpoint::Checkpoint;
use grantlog_tlog::merkle::verify_consistency;
use grantlog_tlog::note::NoteVerifier;
use serde_json::{Value, json};

use crate::support::browser::{Browser, jane_gives_beppa_access};
use crate::support::{Server, checkpoint_key, eventually, get_with_bearer, post_with};

const ADMIN: &str = "admin-token-for-the-erasure-0123456789abcdef";
const AUDITOR: &str = "auditor-token-for-the-erasure-0123456789abcd";

fn auditor_get(server: &Server, path: &str) -> (u16, String) {
    get_with_bearer(server, AUDITOR, path)
}

fn erase(server: &Server, token: &str, body: &str) -> (u16, String) {
    let authorization = format!("Bearer {token}");
    let headers = [("Authorization", authorization.as_str()), ("Content-Type", "application/json")];
    let reply = post_with(&server.url("/admin/owners/erase"), &headers, body);
    (reply.status, reply.body)
}

/// The latest checkpoint once it covers `size` events: its note and what it says.
fn checkpoint_of(server: &Server, verifier: &NoteVerifier, size: u64) -> (String, Checkpoint) {
    eventually(&format!("a checkpoint of {size}"), || {
        let (status, note) = auditor_get(server, "/audit/checkpoint");
        let checkpoint = (status == 200).then(|| Checkpoint::parse(verifier.open(&note).unwrap()).unwrap())?;
        (checkpoint.size >= size).then_some((note, checkpoint))
    })
}

async fn an_erased_owner_leaves_a_log_that_still_proves_everything(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let (key_file, verifier_key) = checkpoint_key(folder.path(), "faji.test/log");
    let verifier = NoteVerifier::parse(&verifier_key).unwrap();
    let key = key_file.as_str();
    let server = Server::start_with(
        &database.url,
        &[
            "--demo",
            "--admin-token",
            ADMIN,
            "--auditor-token",
            AUDITOR,
            "--checkpoint-key-file",
            key,
            "--checkpoint-every",
            "1",
        ],
    );
    let (mut jane, beppa, request, access) = jane_gives_beppa_access(&server, "r-1");
    assert_eq!(beppa.photos(&server, &access, "p-1").status, 200);
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let grant = grant_by_token(store.reader(), &request.0).await.unwrap().unwrap().grant_id;
    let (_, before) = checkpoint_of(&server, &verifier, store.tree_size().await.unwrap());
    let (_, receipt) = auditor_get(&server, &format!("/audit/receipts/{grant}"));
    let receipt: Value = serde_json::from_str(&receipt).unwrap();

    // Refused: nothing changes.
    assert_eq!(erase(&server, AUDITOR, r#"{"username":"jane"}"#).0, 401);
    assert_eq!(erase(&server, ADMIN, r#"{"username":"nobody"}"#).0, 404);
    assert_eq!(erase(&server, ADMIN, r#"{"user":"jane"}"#).0, 400);
    assert_eq!(erase(&server, ADMIN, "not json").0, 400);
    assert_eq!(store.tree_size().await.unwrap(), before.size, "no refusal wrote an event");

    let (status, body) = erase(&server, ADMIN, r#"{"username":"jane"}"#);
    assert_eq!(status, 200, "{body}");
    let erased: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(erased["grants_revoked"], 1);
    assert_eq!(erase(&server, ADMIN, r#"{"username":"jane"}"#).0, 404, "her username is gone");
    let cli = server.grantlog(&["owner", "erase", "--username", "jane"]);
    assert_eq!(cli.status.code(), Some(1));

    // Her data and her access are gone.
    assert_eq!(jane.get(&server.url("/account/grants")).status, 303, "her session ended");
    let mut again = Browser::new();
    let form = again.get(&server.url("/login"));
    let csrf = crate::support::browser::hidden(&form.body, "csrf_token");
    let login = again.submit(
        &server.url("/login"),
        &[("csrf_token", &csrf), ("next", "/account/grants"), ("username", "jane"), ("password", "islay-scotch")],
    );
    assert_eq!(login.status, 401, "she can no longer log in: {}", login.body);
    let owner = erased["owner_id"].as_str().unwrap();
    for table in ["owner_profiles", "sessions", "photos"] {
        let sql = format!("SELECT COUNT(*) AS left_over FROM {table} WHERE owner_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner).fetch_one(store.reader()).await.unwrap();
        assert_eq!(sqlx::Row::get::<i64, _>(&row, "left_over"), 0, "{table} still holds her data");
    }
    let refused = beppa.photos(&server, &access, "p-2");
    assert_eq!((refused.status, refused.param("oauth_problem").as_deref()), (401, Some("token_revoked")));

    // The log still proves everything.
    let (status, verified) = auditor_get(&server, "/audit/verify");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&verified).unwrap()["ok"], true);
    let (_, after) = checkpoint_of(&server, &verifier, store.tree_size().await.unwrap());
    assert!(after.size > before.size);
    let (status, proof) =
        auditor_get(&server, &format!("/audit/proof/consistency?from={}&to={}", before.size, after.size));
    assert_eq!(status, 200);
    let hashes: Vec<[u8; 32]> = serde_json::from_str::<Value>(&proof).unwrap()["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| {
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, hash.as_str().unwrap());
            bytes.unwrap().try_into().unwrap()
        })
        .collect();
    verify_consistency(before.size, after.size, &before.root, &after.root, &hashes).unwrap();
    let (_, replay) = auditor_get(&server, &format!("/audit/replay?position={}", after.size));
    let replay: Value = serde_json::from_str(&replay).unwrap();
    let janes = replay.as_array().unwrap().iter().find(|row| row["grant_id"] == grant.to_string()).unwrap();
    assert_eq!((&janes["owner_erased"], &janes["status"]), (&json!(true), &json!("revoked")));
    assert_eq!(janes["owner_id"], erased["owner_id"]);
    let (_, later) = auditor_get(&server, &format!("/audit/receipts/{grant}"));
    let later: Value = serde_json::from_str(&later).unwrap();
    assert_eq!(later["event"], receipt["event"], "the receipt is still about the same approval");

    let job = json!({ "verifier_key": verifier_key, "receipts": [receipt, later] });
    let verdict: Value =
        serde_json::from_slice(&run_python_client("tlog_verify.py", &[], job.to_string().as_bytes())).unwrap();
    assert_eq!(verdict["receipts_verified"], 2, "issued before and after erasure, both verify offline");
}

backend_tests!(an_erased_owner_leaves_a_log_that_still_proves_everything);
