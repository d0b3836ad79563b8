//! Faults under load. On a PostgreSQL of the test's own (`support::postgres`): the
//! database stopped and started again while two nodes serve signed requests. While it
//! is down every request is answered at once with 503 and `Retry-After` (never a 500,
//! never a hang) and `/readyz` says not ready within a second; once it is back, both
//! nodes serve again by themselves, without a restart, and the log still verifies. On
//! SQLite: the server killed (SIGKILL) in a burst of appends, and started again: the
//! chain verifies and every registration it acknowledged is there. And one node cut off
//! from the database while another revokes: it serves nothing stale.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::browser::{beppa_gets, jane_gives_beppa_access};
use crate::support::postgres::{OwnPostgres, url_parts, url_through};
use crate::support::proxy::CuttableProxy;
use crate::support::{Server, call, eventually, patient_agent};

/// The longest a request may take while the database is down: the pool's two-second
/// wait for a connection, and slack for a loaded machine.
const ANSWERED_WITHIN: Duration = Duration::from_millis(3_500);

/// One answer the load received.
#[derive(Debug)]
struct Answer {
    node: usize,
    at: Instant,
    status: u16,
    retry_after: Option<String>,
    took: Duration,
}

/// `/readyz`'s status and how long it took to say it.
fn readiness(server: &Server) -> (u16, Duration) {
    let started = Instant::now();
    let status = patient_agent().get(&server.url("/readyz")).call().map_or(0, |response| response.status().as_u16());
    (status, started.elapsed())
}

/// Long because the fault and what is checked during it read best as one story.
#[test]
fn a_database_restart_under_load_is_answered_503_and_recovered_from_without_a_restart() {
    let postgres = OwnPostgres::start();
    let first = Server::process(&postgres.url(), &["--demo"]);
    let second = first.beside();
    let nodes = [&first, &second];
    let (_jane, _beppa, _request, access) = jane_gives_beppa_access(&first, "fault");

    let answers = Mutex::new(Vec::new());
    let stopping = AtomicBool::new(false);
    let (down, up) = std::thread::scope(|scope| {
        for (node, server) in nodes.iter().enumerate() {
            let (answers, stopping, access) = (&answers, &stopping, &access);
            scope.spawn(move || {
                for n in 0.. {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let started = Instant::now();
                    let answered = beppa_gets(&server.base_url, "/api/photos", access, &format!("load-{node}-{n}"));
                    let (status, retry_after) = answered.map_or((0, None), |reply| (reply.status, reply.retry_after));
                    let took = started.elapsed();
                    answers.lock().unwrap().push(Answer { node, at: started, status, retry_after, took });
                }
            });
        }
        std::thread::sleep(Duration::from_secs(1));
        postgres.stop();
        let down = Instant::now();
        for server in nodes {
            let (status, took) = readiness(server);
            assert_eq!(status, 503, "/readyz while the database is down");
            assert!(took < Duration::from_millis(1_500), "/readyz took {took:?} to say not ready");
        }
        std::thread::sleep(Duration::from_secs(3));
        postgres.start_again();
        let up = Instant::now();
        for server in nodes {
            eventually("the node to be ready again by itself", || (readiness(server).0 == 200).then_some(()));
        }
        std::thread::sleep(Duration::from_secs(1));
        stopping.store(true, Ordering::Relaxed);
        (down, up)
    });

    let answers = answers.into_inner().unwrap();
    let unexpected: Vec<&Answer> = answers
        .iter()
        .filter(|answer| !(answer.status == 200 || answer.status == 503 && answer.retry_after.as_deref() == Some("1")))
        .collect();
    assert!(unexpected.is_empty(), "only 200, or 503 with Retry-After: 1: {unexpected:#?}");
    let slowest = answers.iter().map(|answer| answer.took).max().unwrap();
    assert!(slowest < ANSWERED_WITHIN, "an answer took {slowest:?}");
    // Begun and answered while it was down (one begun then may be served once it is back).
    let while_down =
        answers.iter().filter(|answer| answer.at > down + Duration::from_millis(500) && answer.at + answer.took < up);
    let statuses_while_down: Vec<(u16, Duration)> =
        while_down.map(|answer| (answer.status, answer.at - down)).collect();
    assert!(
        !statuses_while_down.is_empty() && statuses_while_down.iter().all(|(status, _)| *status == 503),
        "while the database was down: {statuses_while_down:?}"
    );
    for node in 0..nodes.len() {
        let recovered = answers.iter().filter(|answer| answer.node == node && answer.at > up);
        assert!(recovered.clone().any(|answer| answer.status == 200), "node {node} serves again");
    }
    let recovered_in = answers
        .iter()
        .filter(|answer| answer.at > up && answer.status == 200)
        .map(|answer| answer.at - up)
        .min()
        .unwrap();
    assert!(recovered_in < Duration::from_secs(10), "recovered {recovered_in:?} after the database returned");
    let verified = first.grantlog(&["audit", "verify"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
}

const ADMIN: &str = "admin-token-for-the-faults-0123456789abcd";

#[test]
fn sqlite_killed_in_a_burst_of_appends_keeps_everything_it_acknowledged() {
    let database = grantlog_store::testing::TestDatabase::sqlite();
    let mut server = Server::process(&database.url, &["--admin-token", ADMIN]);
    let acknowledged = Mutex::new(Vec::new());
    let killed = AtomicBool::new(false);
    let url = server.url("/admin/clients");
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let (url, acknowledged, killed) = (&url, &acknowledged, &killed);
            scope.spawn(move || {
                for n in 0.. {
                    let registration = serde_json::json!({
                        "name": format!("Burst {writer}-{n}"),
                        "callback_urls": ["https://burst.example/back"],
                    });
                    // A refused connection once it is killed: the burst is over.
                    let body = registration.to_string();
                    let Ok(answered) = std::panic::catch_unwind(|| call("POST", url, Some(ADMIN), Some(&body))) else {
                        break;
                    };
                    match answered {
                        (201, _, body) => {
                            acknowledged.lock().unwrap().push(body["client_key"].as_str().unwrap().to_owned())
                        }
                        other => assert!(killed.load(Ordering::Relaxed), "refused before the kill: {other:?}"),
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(1_500));
        killed.store(true, Ordering::Relaxed);
        server.kill_and_restart(&["--admin-token", ADMIN]);
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() > 20, "a burst: {} acknowledged", acknowledged.len());
    let verified = server.grantlog(&["audit", "verify"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    for key in &acknowledged {
        let (status, _, shown) = call("GET", &server.url(&format!("/admin/clients/{key}")), Some(ADMIN), None);
        assert_eq!(status, 200, "{key} was acknowledged, so it is there: {shown}");
    }
}

/// A node whose connection to the database is cut while another node revokes the grant
/// fails closed: each request is 503, never served on what it knew before the cut, and
/// once the connection is back the revocation is in force there too.
#[test]
fn a_node_cut_off_from_the_database_serves_nothing_stale() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(grantlog_store::testing::TestDatabase::postgres()) else { return };
    let first = Server::process(&database.url, &["--demo", "--admin-token", ADMIN]);
    let (_, upstream, _) = url_parts(&database.url);
    let proxy = CuttableProxy::start(upstream);
    let cut_off = first.beside_on(&url_through(&database.url, proxy.port()), &[]);
    let (_jane, _beppa, request, access) = jane_gives_beppa_access(&first, "cut");
    let photos = |n: usize| beppa_gets(&cut_off.base_url, "/api/photos", &access, &format!("cut-{n}"));
    assert_eq!(photos(0).map(|reply| reply.status), Some(200), "served, and its grant and client kept in memory");

    proxy.cut();
    let store = runtime.block_on(database.store());
    let grant = runtime.block_on(grantlog_projection::tables::grant_by_token(store.reader(), &request.0));
    let grant = grant.unwrap().expect("the grant").grant_id.to_string();
    let revoke = serde_json::json!({ "reason": "cut off" }).to_string();
    let revoked = call("POST", &first.url(&format!("/admin/grants/{grant}/revoke")), Some(ADMIN), Some(&revoke));
    assert_eq!(revoked.0, 200, "revoked on the other node");
    // New connections held unanswered, then accepted and closed at once as a TCP
    // balancer with no backend does: either way every request fails closed.
    for n in 1..7 {
        if n == 4 {
            proxy.cut_closing();
        }
        let started = Instant::now();
        let reply = photos(n).expect("an answer, not a hang");
        assert_eq!((reply.status, reply.retry_after.as_deref()), (503, Some("1")), "fails closed: {reply:?}");
        assert!(started.elapsed() < ANSWERED_WITHIN, "answered in {:?}", started.elapsed());
    }

    proxy.restore();
    let mut n = 10;
    let refused = eventually("the node to reach the database again", || {
        n += 1;
        photos(n).filter(|reply| reply.status != 503)
    });
    assert_eq!((refused.status, refused.param("oauth_problem").as_deref()), (401, Some("token_revoked")));
}
