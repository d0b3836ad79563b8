//! Access tokens' grant and client kept in each process's memory, following the log, on
//! the real binary, SQLite and PostgreSQL: a revocation committed while requests stream
//! in refuses every request sent after it, on a process that kept the grant; a
//! suspension refuses the client's every request at once on every process, and a
//! reinstatement lets its grants work again; a cache smaller than the live tokens still
//! answers each one correctly.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::support::Server;
use crate::support::browser::{Browser, Client};
use chrono::Utc;
use grantlog_domain::{Actor, ClientCommand, Reason, Revoke, Revoker};
use grantlog_projection::tables::{client_by_key, grant_by_token};
use grantlog_projection::testing::{context, grant};
use grantlog_projection::{ClientRecord, execute};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};

fn beppa(server: &Server) -> Client<'_> {
    Client { server, key: "beppa-demo-key".to_owned(), secret: "beppa-demo-secret".to_owned() }
}

/// Token credentials for a grant Jane approves for `photos`.
fn approved(server: &Server, jane: &mut Browser, photos: &[&str], nonce: &str) -> (String, String) {
    let beppa = beppa(server);
    let request = beppa.request_token(&format!("{nonce}-r"));
    let choices: Vec<(&str, &str)> = photos.iter().map(|photo| ("photos", *photo)).collect();
    let verifier = jane.approve(server, &request.0, &choices);
    beppa.exchange(&request, &verifier, &format!("{nonce}-x"))
}

/// Revokes the grant of `access_token` as Jane, straight into the log (another writer).
async fn revoke(store: &EventStore, access_token: &str) {
    let row = grant_by_token(store.reader(), access_token).await.unwrap().unwrap();
    let (owner, grant_id) = (row.owner_id.unwrap(), row.grant_id);
    let revoke = Revoke { by: Revoker::Owner(owner), reason: None, now: Utc::now() };
    grant(store, grant_id, revoke.into(), Utc::now(), Actor::Owner(owner.uuid())).await.unwrap();
}

async fn a_revocation_refuses_every_request_sent_after_it_commits(database: TestDatabase) {
    let first = Server::start_with(&database.url, &["--demo"]);
    let second = first.beside();
    let mut jane = Browser::new();
    jane.log_in(&first, "jane", "islay-scotch");
    let access = approved(&first, &mut jane, &["islay-harbour"], "a");

    let stop = AtomicBool::new(false);
    let nonce = AtomicU64::new(0);
    let revoked_at = std::sync::Mutex::new(None::<Instant>);
    let answers: Vec<(Instant, u16)> = std::thread::scope(|scope| {
        let streams: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let beppa = beppa(&second);
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        let started = Instant::now();
                        let n = nonce.fetch_add(1, Ordering::SeqCst);
                        seen.push((started, beppa.photos(&second, &access, &format!("s-{n}")).status));
                    }
                    seen
                })
            })
            .collect();
        // Whatever happens below, the streams stop.
        let _stop_streams = StopOnDrop(&stop);
        std::thread::sleep(Duration::from_millis(600));
        // On a thread and runtime of its own: this thread drives the test's runtime.
        let revoking = scope.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
                revoke(&store, &access.0).await;
            });
        });
        revoking.join().unwrap();
        *revoked_at.lock().unwrap() = Some(Instant::now());
        std::thread::sleep(Duration::from_millis(600));
        stop.store(true, Ordering::SeqCst);
        streams.into_iter().flat_map(|stream| stream.join().unwrap()).collect()
    });
    let revoked_at = revoked_at.into_inner().unwrap().unwrap();
    let before = answers.iter().filter(|(started, _)| *started < revoked_at).count();
    let after: Vec<u16> = answers.iter().filter(|(started, _)| *started > revoked_at).map(|(_, s)| *s).collect();
    assert!(answers.iter().any(|(started, status)| *started < revoked_at && *status == 200), "{before} before");
    assert!(!after.is_empty(), "requests kept coming after the revocation");
    assert!(after.iter().all(|status| *status == 401), "a request sent after the revocation was served: {after:?}");
}

/// Sets its flag when dropped, a panic included.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Suspends or reinstates Beppa as an operator, straight into the log (another writer).
async fn beppa_standing(store: &EventStore, command: ClientCommand) {
    let client = client_by_key(store.reader(), "beppa-demo-key").await.unwrap().unwrap();
    let context = context(Utc::now(), Actor::Admin);
    execute::<ClientRecord>(store, &client.client_id.stream_id(), &command, &context).await.unwrap();
}

async fn a_suspended_client_is_refused_at_once_everywhere_and_resumes(database: TestDatabase) {
    let first = Server::start_with(&database.url, &["--demo"]);
    let second = first.beside();
    let mut jane = Browser::new();
    jane.log_in(&first, "jane", "islay-scotch");
    let access = approved(&first, &mut jane, &["islay-harbour"], "a");
    let beppa = beppa(&first);
    // Both processes hold the token's state in memory.
    for (n, server) in [&first, &second].into_iter().enumerate() {
        assert_eq!(beppa.photos(server, &access, &format!("kept-{n}")).status, 200);
    }
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let suspend = ClientCommand::Suspend { reason: Reason::parse("scraping beyond its grant").unwrap() };
    beppa_standing(&store, suspend).await;
    for (n, server) in [&first, &second].into_iter().enumerate() {
        let reply = beppa.photos(server, &access, &format!("suspended-{n}"));
        assert_eq!((reply.status, reply.param("oauth_problem").as_deref()), (401, Some("consumer_key_rejected")));
        let reply = beppa.initiate(server, &format!("suspended-initiate-{n}"));
        assert_eq!((reply.status, reply.param("oauth_problem").as_deref()), (401, Some("consumer_key_rejected")));
    }
    beppa_standing(&store, ClientCommand::Reinstate { reason: None }).await;
    for (n, server) in [&first, &second].into_iter().enumerate() {
        assert_eq!(beppa.photos(server, &access, &format!("reinstated-{n}")).status, 200, "the grant works again");
    }
}

async fn a_cache_smaller_than_the_live_tokens_answers_each_correctly(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo", "--token-cache-size", "2"]);
    let mut jane = Browser::new();
    jane.log_in(&server, "jane", "islay-scotch");
    let choices: [&[&str]; 4] =
        [&["islay-harbour"], &["islay-distillery"], &["islay-harbour", "islay-distillery"], &["islay-harbour"]];
    let grants: Vec<((String, String), &[&str])> = choices
        .iter()
        .enumerate()
        .map(|(n, photos)| (approved(&server, &mut jane, photos, &format!("g{n}")), *photos))
        .collect();
    let beppa = beppa(&server);
    for round in 0..3 {
        for (n, (access, photos)) in grants.iter().enumerate() {
            let reply = beppa.photos(&server, access, &format!("p-{round}-{n}"));
            assert_eq!(reply.status, 200, "{reply:?}");
            let listed: Vec<serde_json::Value> = serde_json::from_str(&reply.body).unwrap();
            let mut ids: Vec<&str> = listed.iter().map(|photo| photo["id"].as_str().unwrap()).collect();
            ids.sort_unstable();
            let mut wanted = photos.to_vec();
            wanted.sort_unstable();
            assert_eq!(ids, wanted, "grant {n}, round {round}");
        }
    }
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    revoke(&store, &grants[1].0.0).await;
    assert_eq!(beppa.photos(&server, &grants[1].0, "after").status, 401);
    assert_eq!(beppa.photos(&server, &grants[0].0, "still").status, 200);
}

backend_tests!(
    a_revocation_refuses_every_request_sent_after_it_commits,
    a_suspended_client_is_refused_at_once_everywhere_and_resumes,
    a_cache_smaller_than_the_live_tokens_answers_each_correctly,
);
