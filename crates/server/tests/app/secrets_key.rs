//! Rotating the key that seals secrets at rest, on the real binary, SQLite and
//! PostgreSQL: every client secret and token secret still signs under the new key, the
//! old key opens nothing any more, and the log records the rotation by key ids alone.

use crate::support::Server;
use crate::support::browser::{Browser, Client};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, SecretBox, backend_tests};

fn key_path() -> tempfile::TempPath {
    let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::remove_file(&path).unwrap();
    path
}

async fn after_rotate_key_every_client_and_token_still_signs(database: TestDatabase) {
    let mut before = Server::process(&database.url, &["--demo"]);
    let beppa = Client::demo(&before);
    let request = beppa.request_token("r-1");
    let mut jane = Browser::new();
    jane.log_in(&before, "jane", "islay-scotch");
    let verifier = jane.approve(&before, &request.0, &[("photos", "islay-harbour")]);
    let access = beppa.exchange(&request, &verifier, "r-2");
    assert_eq!(beppa.photos(&before, &access, "r-3").status, 200);
    let old_key = SecretBox::load_or_create(before.key_file()).unwrap().key_id().to_owned();
    let (key, secret) = (beppa.key, beppa.secret);
    // A second node someone forgot to stop, still holding the old key.
    let forgotten = before.beside();
    assert!(before.terminate().success());

    let new_key = key_path();
    let rotated = before.grantlog(&["secrets", "rotate-key", "--new-key-file", new_key.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&rotated.stdout).into_owned();
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let new_id = SecretBox::load_or_create(&new_key).unwrap().key_id().to_owned();
    assert!(said.starts_with("re-sealed ") && said.contains(&format!("under key {new_id} (was {old_key})")), "{said}");

    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let head = store.head().await.unwrap();
    let recorded = store.read_from(head.position - 1, 1).await.unwrap().remove(0);
    assert_eq!((recorded.event_type.as_str(), recorded.stream_id.as_str()), ("secrets.key_rotated", "secrets-key"));
    assert_eq!(recorded.actor, grantlog_domain::Actor::Admin);
    let resealed = recorded.payload["resealed"].as_u64().unwrap();
    assert!(resealed >= 3, "the client's secret, the request token's and the access token's: {}", recorded.payload);
    assert_eq!(recorded.payload["from_key_id"], old_key.as_str());
    assert_eq!(recorded.payload["to_key_id"], new_id.as_str());
    assert!(store.verify_chain(None).await.unwrap().is_ok());

    // The forgotten node can seal nothing under the old key any more: its next request
    // token fails, and leaves the database all under the new key (the start below).
    let url = forgotten.url("/oauth/initiate");
    let unsigned = grantlog_oauth1::Unsigned {
        method: "POST",
        url: &url,
        body: &[],
        extra: &[("oauth_callback", "oob")],
        nonce: "r-stale",
        timestamp: crate::support::browser::now(),
    };
    let signed =
        grantlog_oauth1::Signer::new(key.as_str(), secret.as_str(), grantlog_oauth1::SignatureMethod::HmacSha1)
            .authorization_header(&unsigned, None)
            .unwrap();
    assert_eq!(crate::support::post(&url, Some(&signed), "").status, 500);
    drop(forgotten);

    // The old key opens nothing now: a server given it is refused before it serves.
    let refused = before.grantlog(&["client", "add", "--name", "Late", "--callback", "oob"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains(&format!("sealed with key {new_id}")));

    let after = Server::process_with_key(&database.url, &[], new_key);
    let beppa = Client { server: &after, key, secret };
    assert_eq!(beppa.photos(&after, &access, "r-4").status, 200, "the token secret unseals under the new key");
    let (token, _) = beppa.request_token("r-5");
    assert!(!token.is_empty(), "the client secret unseals under the new key");
    let again = after.grantlog(&["secrets", "rotate-key", "--new-key-file", after.key_file().to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "rotating to the key in use is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("the new key is the key in use"));
}

backend_tests!(after_rotate_key_every_client_and_token_still_signs);
