//! Three `grantlog serve` nodes on one PostgreSQL database, as behind a load balancer
//! without stickiness. Every grant's flow hops between them (initiate on one, consent
//! on the next, token on the third); then signed requests are spread over all three
//! while Jane revokes grants one by one, three other clients run whole flows across the
//! nodes that stay up, and one node is killed (SIGKILL) mid-load and started again. A
//! client whose node is gone retries on the next one.
//!
//! Afterwards every answer is checked against the log: every token issued has its
//! grant and events (and served at once on another node), no request begun after
//! Jane's revocation was acknowledged was served, every request was answered (200, or
//! a refusal of a revoked token), no use was counted twice and the killed node lost no
//! more use counts than it answered in its last flush interval, the chain verifies,
//! and the read models equal the fold of the log.
//!
//! The same runs through Debian's PgBouncer in session pooling and through a current
//! PgBouncer in transaction pooling; Debian's is checked to refuse transaction pooling
//! as docs/deployment.md says.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime};

use grantlog_projection::tables::{Tables, grant_by_id, grant_by_token};
use grantlog_projection::{Horizon, fold};
use grantlog_store::testing::TestDatabase;

use crate::support::Server;
use crate::support::browser::{Browser, CALLBACK, Client, beppa_gets};
use crate::support::pgbouncer::OwnPgBouncer;

const NODES: usize = 3;
const GRANTS: usize = 6;
const LOAD_THREADS: usize = 4;
/// Clients registered beside the demo's, whose flows run while the load does.
const CLIENTS: usize = 3;

/// A signed resource request and how it was answered, by which node.
#[derive(Debug)]
struct Served {
    grant: usize,
    node: String,
    began: SystemTime,
    answered: SystemTime,
    status: u16,
    problem: Option<String>,
}

/// How far back from a SIGKILL the uses a node counted may be lost: those since its
/// last flush that committed. Flushes start every second (`FLUSH_EVERY`); a second more
/// covers the flush being written when the node died, or one that failed and is tried
/// again, on a loaded machine.
const USES_LOST_AT_MOST_SINCE: Duration = Duration::from_secs(2);

#[test]
fn three_nodes_under_load_with_one_killed_agree_with_the_log() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::postgres()) else { return };
    agree_with_the_log(&runtime, &database, &database.url);
}

/// The same through PgBouncer in session pooling, as Debian ships it.
#[test]
fn three_nodes_through_debian_pgbouncer_in_session_pooling_agree_with_the_log() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::postgres()) else { return };
    let pooler = OwnPgBouncer::start(grantlog_tests::pgbouncer(), &database.url, "session", &[]);
    agree_with_the_log(&runtime, &database, &pooler.url_for(&database.url));
}

/// The same through PgBouncer in transaction pooling, as docs/deployment.md says: a
/// PgBouncer of 1.21 or later with `max_prepared_statements` set, which tracks sqlx's
/// named prepared statements across server connections.
#[test]
fn three_nodes_through_current_pgbouncer_in_transaction_pooling_agree_with_the_log() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::postgres()) else { return };
    let binary = grantlog_tests::current_pgbouncer();
    assert!(OwnPgBouncer::version(binary) >= (1, 21), "{} tracks prepared statements", binary.display());
    let pooler = OwnPgBouncer::start(binary, &database.url, "transaction", &["max_prepared_statements = 200"]);
    agree_with_the_log(&runtime, &database, &pooler.url_for(&database.url));
}

/// Processes that migrate at once through transaction pooling take turns and leave no
/// lock behind: every one finishes, round after round. (sqlx's own session lock, taken
/// and released by separate statements that PgBouncer may send to different server
/// connections, was left held, and later starts waited forever.)
#[test]
fn migrations_at_once_through_current_pgbouncer_in_transaction_pooling_all_finish() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::postgres()) else { return };
    let pooler = OwnPgBouncer::start(
        grantlog_tests::current_pgbouncer(),
        &database.url,
        "transaction",
        &["max_prepared_statements = 200"],
    );
    let url = pooler.url_for(&database.url);
    let key = tempfile::tempdir().unwrap();
    for round in 0..3 {
        let mut migrating: Vec<_> = (0..6)
            .map(|_| {
                migrate_through(&url, &key)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let started = std::time::Instant::now();
        for child in &mut migrating {
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    for child in &mut migrating {
                        let _ = child.kill();
                    }
                    panic!("round {round}: a migration still waits after 30 s\n{}", pooler.log());
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let mut said = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut said).unwrap();
            assert!(status.success(), "round {round}: {said}");
        }
    }
    let store = runtime.block_on(database.store());
    let count =
        |sql: &'static str| runtime.block_on(sqlx::query_scalar::<_, i64>(sql).fetch_one(store.reader())).unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/postgres"))
        .unwrap()
        .filter(|file| file.as_ref().unwrap().path().extension().is_some_and(|ext| ext == "sql"))
        .count();
    assert_eq!(count("SELECT COUNT(*) FROM _sqlx_migrations WHERE success") as usize, files, "each applied once");
    let held = "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                WHERE l.locktype = 'advisory' AND d.datname = current_database()";
    assert_eq!(count(held), 0, "no advisory lock is left held");
}

/// Before 1.21 (Debian 12 ships 1.18) transaction pooling cannot carry named prepared
/// statements: grantlog is refused at once, at migration, naming the prepared
/// statement, and nothing is recorded.
#[test]
fn transaction_pooling_through_debian_pgbouncer_before_1_21_is_refused_at_migration() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::postgres()) else { return };
    let binary = grantlog_tests::pgbouncer();
    if OwnPgBouncer::version(binary) >= (1, 21) {
        eprintln!("{} is 1.21 or later: the refusal cannot be shown with it", binary.display());
        return;
    }
    let pooler = OwnPgBouncer::start(binary, &database.url, "transaction", &[]);
    let key = tempfile::tempdir().unwrap();
    let migrated = migrate_through(&pooler.url_for(&database.url), &key).output().unwrap();
    let said = String::from_utf8_lossy(&migrated.stderr);
    assert!(!migrated.status.success() && said.contains("prepared statement"), "{said}\n{}", pooler.log());
    let store = runtime.block_on(database.store());
    assert_eq!(runtime.block_on(store.head()).unwrap().position, 0, "nothing was recorded");
}

/// `grantlog migrate` against `url`, with a secrets key in `key`, not yet run.
fn migrate_through(url: &str, key: &tempfile::TempDir) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_grantlog"));
    command.args(["--database-url", url, "--secrets-key-file"]).arg(key.path().join("grantlog.key")).arg("migrate");
    command
}

/// Three nodes serving `serve_url` (the database, or a pooler in front of it), checked
/// against `database` directly. Long because the load, the fault and the checks read
/// best as one story.
fn agree_with_the_log(runtime: &tokio::runtime::Runtime, database: &TestDatabase, serve_url: &str) {
    let first = Server::process(serve_url, &["--demo"]);
    let second = first.beside();
    // The node that is killed; the others stay up.
    let mut victim = first.beside();
    let store = runtime.block_on(database.store());

    // Each grant's flow hops: initiate on one node, consent on the next, token on the third.
    let mut jane = Browser::new();
    jane.log_in(&second, "jane", "islay-scotch");
    let mut grants = Vec::new();
    {
        let nodes = [&first, &second, &victim];
        for n in 0..GRANTS {
            let on = |hop: usize| Client::demo(nodes[(n + hop) % NODES]);
            let request = on(0).request_token(&format!("flow-{n}"));
            let verifier = jane.approve(nodes[(n + 1) % NODES], &request.0, &[("photos", "islay-harbour")]);
            let access = on(2).exchange(&request, &verifier, &format!("flow-{n}-token"));
            let grant = runtime.block_on(grant_by_token(store.reader(), &request.0)).unwrap().expect("its grant");
            grants.push((grant.grant_id.to_string(), access));
        }
    }

    let steady = [&first, &second];
    let base_urls = RwLock::new([&first, &second, &victim].map(|node| node.base_url.clone()).to_vec());
    let served = Mutex::new(Vec::new());
    let retried = Mutex::new(0_usize);
    let revoked_at = Mutex::new(vec![None; GRANTS]);
    let stopping = AtomicBool::new(false);
    let killed = Mutex::new(None);
    // Other clients' whole flows while the load runs, hopping between the nodes that
    // stay up: each token issued is used once at once, and checked against the log after.
    let clients: Vec<(String, String)> =
        (0..CLIENTS).map(|n| first.add_client_named(&format!("Printer {n}"), CALLBACK)).collect();
    let mut owner = Browser::new();
    owner.log_in(&first, "jane", "islay-scotch");
    let issued = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for thread in 0..LOAD_THREADS {
            let (base_urls, served, retried, stopping, grants) = (&base_urls, &served, &retried, &stopping, &grants);
            scope.spawn(move || {
                for n in 0.. {
                    if stopping.load(Ordering::Relaxed) {
                        break;
                    }
                    let grant = (thread + n) % GRANTS;
                    let began = SystemTime::now();
                    // Round-robin over the nodes; the next one when a node is gone.
                    let answer = (0..NODES).find_map(|attempt| {
                        let node = base_urls.read().unwrap()[(thread + n + attempt) % NODES].clone();
                        let nonce = format!("load-{thread}-{n}-{attempt}");
                        let answer = beppa_gets(&node, "/api/photos", &grants[grant].1, &nonce).map(|reply| {
                            let problem = (reply.status != 200).then(|| reply.param("oauth_problem")).flatten();
                            (node, reply.status, problem)
                        });
                        if answer.is_none() {
                            *retried.lock().unwrap() += 1;
                        }
                        answer
                    });
                    let (node, status, problem) = answer.expect("some node answers");
                    let answered = SystemTime::now();
                    served.lock().unwrap().push(Served { grant, node, began, answered, status, problem });
                }
            });
        }
        // Jane revokes half the grants, on the nodes that stay up, while the load runs.
        scope.spawn(|| {
            for n in 0.. {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let (key, secret) = &clients[n % CLIENTS];
                let on = |node: usize| Client { server: steady[node % 2], key: key.clone(), secret: secret.clone() };
                let request = on(n).request_token(&format!("during-{n}"));
                let verifier = owner.approve(steady[(n + 1) % 2], &request.0, &[("photos", "islay-harbour")]);
                let access = on(n).exchange(&request, &verifier, &format!("during-{n}-token"));
                let used = on(n + 1).photos(steady[(n + 1) % 2], &access, &format!("during-{n}-use"));
                assert_eq!(used.status, 200, "a token just issued serves on the other node: {used:?}");
                issued.lock().unwrap().push(request.0);
            }
        });
        let revoker = scope.spawn(|| {
            for grant in 0..GRANTS / 2 {
                std::thread::sleep(Duration::from_millis(900));
                let node = steady[grant % 2];
                let csrf = jane.csrf(node, "/account/grants");
                let path = format!("/account/grants/{}/revoke", grants[grant].0);
                let done = jane.submit(&node.url(&path), &[("csrf_token", &csrf)]);
                assert_eq!(done.status, 303, "{}", done.body);
                revoked_at.lock().unwrap()[grant] = Some(SystemTime::now());
            }
        });
        // After the revocations, the third node is killed and started again (on a new
        // port, which the balancer learns): late enough that it has served for longer
        // than the use counts it may lose.
        std::thread::sleep(Duration::from_millis(3300));
        *killed.lock().unwrap() = Some((victim.base_url.clone(), SystemTime::now()));
        victim.kill_and_restart(&[]);
        base_urls.write().unwrap()[2] = victim.base_url.clone();
        revoker.join().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        stopping.store(true, Ordering::Relaxed);
    });

    let served = served.into_inner().unwrap();
    let issued = issued.into_inner().unwrap();
    assert!(!issued.is_empty(), "flows ran during the load");
    eprintln!("cluster: {} flows by {CLIENTS} clients during the load", issued.len());
    for request_token in &issued {
        let grant = runtime.block_on(grant_by_token(store.reader(), request_token)).unwrap().expect("its grant");
        let history = runtime.block_on(store.read_stream(&format!("grant-{}", grant.grant_id))).unwrap();
        assert!(history.len() >= 3, "a token issued has its grant's events: {history:?}");
        assert_eq!(grant.status.as_str(), "active");
    }
    let revoked_at = revoked_at.into_inner().unwrap();
    assert!(served.len() > 100, "a load: {} requests", served.len());
    let refused = served.iter().filter(|answer| answer.status == 401).count();
    let retried = retried.into_inner().unwrap() as u64;
    eprintln!("cluster: {} requests, {refused} refused as revoked, {retried} retried on another node", served.len());
    assert!(retried > 0, "some requests met the killed node and were retried");
    for answer in &served {
        let revoked = revoked_at[answer.grant].is_some_and(|at| answer.began > at);
        match (answer.status, answer.problem.as_deref()) {
            (200, _) => assert!(!revoked, "served after its revocation was acknowledged: {answer:?}"),
            (401, Some("token_revoked")) => {
                assert!(revoked_at[answer.grant].is_some(), "refused though never revoked: {answer:?}")
            }
            _ => panic!("neither served nor refused as revoked: {answer:?}"),
        }
    }
    for (grant, (id, _)) in grants.iter().enumerate() {
        let row = runtime.block_on(grant_by_id(store.reader(), id)).unwrap().expect("the grant");
        let expected = if revoked_at[grant].is_some() { "revoked" } else { "active" };
        assert_eq!(row.status.as_str(), expected, "grant {grant}");
    }
    // Stopped as an operator stops them, the nodes that lived write their last counts;
    // the killed node lost at most those of its last flush interval.
    let mut nodes = [first, second, victim];
    for node in &mut nodes {
        assert!(node.terminate().success());
    }
    let (killed_url, killed_at) = killed.into_inner().unwrap().expect("the victim was killed");
    let ids: Vec<String> = grants.iter().map(|(id, _)| id.clone()).collect();
    let usage = runtime.block_on(grantlog_store::usage::usage_of(store.side_tables(), &ids)).unwrap();
    let mut lost = 0;
    for (grant, id) in ids.iter().enumerate() {
        let answered = served.iter().filter(|answer| answer.grant == grant && answer.status == 200).count() as u64;
        let recorded = usage.get(id).map_or(0, |usage| usage.count);
        // A request the killed node counted but whose answer never arrived was retried:
        // one per load thread, in flight at the kill, may be counted twice.
        let in_flight = LOAD_THREADS as u64;
        assert!(recorded <= answered + in_flight, "grant {grant}: {recorded} uses recorded, {answered} answered");
        lost += answered.saturating_sub(recorded);
    }
    let at_risk = served
        .iter()
        .filter(|answer| answer.node == killed_url && answer.status == 200)
        .filter(|answer| answer.answered + USES_LOST_AT_MOST_SINCE > killed_at)
        .count() as u64;
    eprintln!("cluster: {lost} uses lost with the killed node, of {at_risk} it answered in its last 2 s");
    assert!(lost <= at_risk, "{lost} uses lost, more than the {at_risk} the killed node answered in its last 2 s");
    let [first, ..] = &nodes;
    let verified = first.grantlog(&["audit", "verify"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let live = runtime.block_on(Tables::read(store.reader())).unwrap();
    let folded = runtime.block_on(fold(&store, Horizon::Everything)).unwrap();
    assert_eq!(live, folded.tables(), "the read models equal the fold of the log");
}
