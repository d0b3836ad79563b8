//! Consent receipts, SQLite and PostgreSQL: Jane approves Beppa Prints on the consent
//! page and downloads the receipt from the grant's page; an auditor gets the same one;
//! it names the provider, the client, her photos, the notice she was shown, and carries
//! the approval event with its inclusion proof, which the independent Python verifier
//! checks offline against the signed checkpoint. Her revocation shows on it as a later
//! event, and it still verifies. Nobody else gets her receipt.

use grantlog_domain::{Fingerprint, consent_wording};
use grantlog_projection::tables::grant_by_token;
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use grantlog_tests::run_python_client;
use serde_json::{Value, json};

use crate::support::browser::{Browser, hidden, jane_approves_beppa};
use crate::support::{Server, checkpoint_key, eventually, get_with_bearer};

const AUDITOR: &str = "auditor-token-for-the-receipts-0123456789ab";

fn auditor_get(server: &Server, path: &str) -> (u16, String) {
    get_with_bearer(server, AUDITOR, path)
}

/// The receipt as Jane downloads it, once a checkpoint covers its approval.
fn janes_receipt(server: &Server, jane: &mut Browser, grant: &str) -> Value {
    eventually("a checkpoint covering the approval", || {
        let page = jane.get(&server.url(&format!("/account/grants/{grant}/receipt")));
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(page.header("content-disposition").is_some_and(|value| value.starts_with("attachment;")));
        let receipt: Value = serde_json::from_str(&page.body).unwrap();
        (!receipt["proof"].is_null()).then_some(receipt)
    })
}

async fn jane_downloads_a_receipt_that_verifies_offline(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let (key_file, verifier) = checkpoint_key(folder.path(), "faji.test/log");
    let server = Server::start_with(
        &database.url,
        &[
            "--demo",
            "--auditor-token",
            AUDITOR,
            "--provider-name",
            "Faji Photos",
            "--checkpoint-key-file",
            &key_file,
            "--checkpoint-every",
            "1",
        ],
    );
    let (mut jane, beppa, _request, grant) = jane_approves_beppa(&server, &database.url, "r-1").await;
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();

    let history = jane.get(&server.url(&format!("/account/grants/{grant}")));
    assert!(history.body.contains(&format!("/account/grants/{grant}/receipt")), "the page links the receipt");
    let receipt = janes_receipt(&server, &mut jane, &grant);
    assert_eq!(receipt["version"], "KI-CR-v1.1.0");
    assert_eq!(receipt["piiControllers"][0]["piiController"], "Faji Photos");
    assert_eq!(receipt["recipient"]["name"], "Beppa Prints");
    assert_eq!(receipt["services"][0]["purposes"][0]["thirdPartyName"], "Beppa Prints");
    assert_eq!(receipt["resources"], json!(["islay-harbour"]));
    assert_eq!(receipt["duration"], "1day");
    assert_eq!(receipt["collectionMethod"], "consent page");
    assert_eq!(receipt["notice"]["version"], "v1");
    let shown = Fingerprint::of(&consent_wording("Beppa Prints")).to_string();
    assert_eq!(receipt["notice"]["sha256"], shown, "the notice is the wording she was shown");
    assert_eq!(receipt["withdrawal"]["events"], json!([]));
    let (status, audited) = auditor_get(&server, &format!("/audit/receipts/{grant}"));
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&audited).unwrap(), receipt, "the auditor sees the same receipt");

    // Someone else, or no one, gets nothing.
    let mut stranger = Browser::new();
    server.add_owner("mallory", "mallory-password");
    stranger.log_in(&server, "mallory", "mallory-password");
    assert_eq!(stranger.get(&server.url(&format!("/account/grants/{grant}/receipt"))).status, 404);
    assert_eq!(Browser::new().get(&server.url(&format!("/account/grants/{grant}/receipt"))).status, 303);
    assert_eq!(auditor_get(&server, "/audit/receipts/no-such-grant").0, 404);
    let unapproved = beppa.request_token("r-2");
    let pending = grant_by_token(store.reader(), &unapproved.0).await.unwrap().unwrap().grant_id;
    assert_eq!(auditor_get(&server, &format!("/audit/receipts/{pending}")).0, 404, "never approved");

    // She revokes it: the receipt says so, and still verifies.
    let page = jane.get(&server.url(&format!("/account/grants/{grant}")));
    let revoked = jane.submit(
        &server.url(&format!("/account/grants/{grant}/revoke")),
        &[("csrf_token", &hidden(&page.body, "csrf_token"))],
    );
    assert_eq!(revoked.status, 303);
    let after = janes_receipt(&server, &mut jane, &grant);
    let events = after["withdrawal"]["events"].as_array().unwrap();
    assert_eq!((events.len(), &events[0]["what"], &events[0]["by"]), (1, &json!("revoked"), &json!("the owner")));
    assert_eq!(after["event"], receipt["event"], "the same approval");

    // A receipt that claims other terms than its proved event is refused.
    let someone_else = json!({ "client_id": "00000000-0000-0000-0000-000000000000", "name": "Beppa Prints" });
    for (field, claim) in
        [("duration", json!("never")), ("resources", json!(["islay-distillery"])), ("recipient", someone_else)]
    {
        let mut altered = receipt.clone();
        altered[field] = claim;
        let job = json!({ "verifier_key": verifier, "receipts": [altered] });
        let mut child = std::process::Command::new(grantlog_tests::python())
            .arg(grantlog_tests::workspace_root().join("tests/clients/python/tlog_verify.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), job.to_string().as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(1), "an altered {field} passed");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains(&format!("the receipt's {field} is not its event's")), "{said}");
    }

    let job = json!({ "verifier_key": verifier, "receipts": [receipt, after] });
    let verdict: Value =
        serde_json::from_slice(&run_python_client("tlog_verify.py", &[], job.to_string().as_bytes())).unwrap();
    assert_eq!(verdict, json!({ "receipts_verified": 2, "origins": ["faji.test/log"] }));
}

backend_tests!(jane_downloads_a_receipt_that_verifies_offline);
