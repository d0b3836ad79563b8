//! Rebuild and replay over a log of a million events, on each backend: events per
//! second and peak memory. Each backend runs in a child process of its own so that its
//! peak resident memory is its own.
//!
//! Run: `GRANTLOG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p grantlog-projection --bench replay`
//! (`GRANTLOG_BENCH_EVENTS` changes the log's size; PostgreSQL is skipped without its URL).

use std::time::Instant;

use chrono::{TimeDelta, Utc};
use grantlog_domain::{
    AccessDuration, Actor, Aggregate, ClientCommand, ClientId, ClientState, ExchangeVerifier, GrantCommand, GrantId,
    GrantState, OwnerCommand, OwnerId, OwnerState, PresentedSecret, Revoke, Revoker, TokenKey,
};
use grantlog_projection::replay::{Filter, render_text, replay};
use grantlog_projection::testing::{approve, authenticate, issue};
use grantlog_projection::{ClientRecord, Context, Horizon, Projection, fold, rebuild};
use grantlog_store::testing::{Kind, TestDatabase};
use grantlog_store::{EventStore, ExpectedVersion, NewEvent, StreamAppend};

const CLIENTS: usize = 50;
const OWNERS: usize = 10_000;
const GRANTS_PER_TRANSACTION: usize = 1_000;

fn envelope(event: &grantlog_domain::Event, at: chrono::DateTime<Utc>) -> NewEvent {
    Context { now: at, actor: Actor::System, trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()) }.envelope(event)
}

fn run<S: Aggregate<Event = grantlog_domain::Event> + Clone>(commands: &[S::Command]) -> Vec<grantlog_domain::Event>
where
    S::Error: std::fmt::Debug,
{
    let mut state = S::default();
    let mut events = Vec::new();
    for command in commands {
        let (next, produced) = state.execute(command).expect("a valid story");
        state = next;
        events.extend(produced);
    }
    events
}

/// Appends a log of at least `target` events: clients, owners, and grants that each
/// run the whole flow (issue, log in, approve, exchange), a third of them revoked.
async fn generate(store: &EventStore, target: u64) -> (u64, chrono::DateTime<Utc>) {
    let start = Utc::now() - TimeDelta::days(30);
    let mut streams: Vec<(String, Vec<NewEvent>)> = Vec::new();
    let mut clients = Vec::new();
    for n in 0..CLIENTS {
        let id = ClientId::new(uuid::Uuid::from_u128(n as u128 + 1));
        let command = ClientCommand::Register {
            client_id: id,
            consumer_key: grantlog_domain::ConsumerKey::parse(&format!("client-{n}")).unwrap(),
            name: grantlog_domain::ClientName::parse("Beppa Prints").unwrap(),
            homepage: None,
            callbacks: vec![grantlog_domain::CallbackPattern::parse("http://127.0.0.1:*").unwrap()],
            secret_fingerprint: grantlog_domain::Fingerprint::of("secret"),
            rsa_public_key: None,
            notify_url: None,
        };
        let events = run::<ClientState>(&[command]);
        let record = ClientRecord { state: ClientState::fold(&events), registered_at: Some(start), position: 0 };
        clients.push((id, record));
        streams.push((id.stream_id(), events.iter().map(|e| envelope(e, start)).collect()));
    }
    let owners: Vec<OwnerId> = (0..OWNERS).map(|n| OwnerId::new(uuid::Uuid::from_u128(1 << 64 | n as u128))).collect();
    for owner in &owners {
        let events = run::<OwnerState>(&[OwnerCommand::Register { owner_id: *owner }]);
        streams.push((owner.stream_id(), events.iter().map(|e| envelope(e, start)).collect()));
    }
    flush(store, &mut streams).await;

    let mut written = (CLIENTS + OWNERS) as u64;
    let mut grant = 0u128;
    while written < target {
        let at = start + TimeDelta::seconds(grant as i64 * 10);
        let (client_id, client) = &clients[grant as usize % CLIENTS];
        let owner = owners[grant as usize % OWNERS];
        let id = GrantId::new(uuid::Uuid::from_u128(2 << 64 | grant));
        let mut commands: Vec<GrantCommand> = vec![
            issue(id, client, &format!("request-{grant}"), at),
            authenticate(owner, at),
            approve(owner, "verifier", AccessDuration::ThirtyDays, grant.is_multiple_of(5), at),
            ExchangeVerifier {
                client_id: *client_id,
                verifier: PresentedSecret::new("verifier"),
                access_token: TokenKey::parse(&format!("access-{grant}")).unwrap(),
                client_active: true,
                now: at,
            }
            .into(),
        ];
        if grant.is_multiple_of(3) {
            commands.push(Revoke { by: Revoker::Owner(owner), reason: None, now: at + TimeDelta::hours(1) }.into());
        }
        let events = run::<GrantState>(&commands);
        written += events.len() as u64;
        streams.push((id.stream_id(), events.iter().map(|e| envelope(e, at)).collect()));
        grant += 1;
        if streams.len() == GRANTS_PER_TRANSACTION {
            flush(store, &mut streams).await;
        }
    }
    flush(store, &mut streams).await;
    (written, start + TimeDelta::seconds(grant as i64 * 5))
}

async fn flush(store: &EventStore, streams: &mut Vec<(String, Vec<NewEvent>)>) {
    let appends: Vec<StreamAppend<'_>> = streams
        .iter()
        .map(|(stream_id, events)| StreamAppend { stream_id, expected: ExpectedVersion::Exactly(0), events })
        .collect();
    store.append_many(&appends).await.unwrap();
    streams.clear();
}

/// Peak resident memory since the last reset, in MiB (Linux).
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// Resets the peak to the current resident size (Linux: `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn measure(kind: Kind, target: u64) {
    let Some(database) = TestDatabase::new(kind).await else { return };
    let store = database.store().await;
    let started = Instant::now();
    let (events, middle) = generate(&store, target).await;
    let generated = started.elapsed().as_secs_f64();

    reset_peak();
    let started = Instant::now();
    let rebuilt = rebuild(&store).await.unwrap();
    let rebuild_secs = started.elapsed().as_secs_f64();
    let rebuild_peak = peak_mib();

    reset_peak();
    let started = Instant::now();
    let projection = fold(&store, Horizon::Time(middle)).await.unwrap();
    let text = render_text(&replay(&projection, middle, &Filter::default()));
    let replay_secs = started.elapsed().as_secs_f64();
    let replay_peak = peak_mib();
    drop(projection);

    // Reading alone: the events through the store, decoded into envelopes, not folded.
    let started = Instant::now();
    let (mut after, mut read) = (0, 0u64);
    loop {
        let page = store.read_from(after, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
    }
    let read_rate = read as f64 / started.elapsed().as_secs_f64();

    // The fold alone, without the database: the same events, already in memory.
    let page = store.read_from(0, 100_000).await.unwrap();
    let started = Instant::now();
    let mut alone = Projection::default();
    for event in &page {
        alone.apply(event).unwrap();
    }
    let fold_rate = page.len() as f64 / started.elapsed().as_secs_f64();

    println!(
        "| {kind:?} | {events} | {:.0} events/s | {:.0} events/s, {} rows, peak {:.0} MiB | {:.0} events/s, {} grants listed, peak {:.0} MiB | {read_rate:.0} events/s | {fold_rate:.0} events/s |",
        events as f64 / generated,
        rebuilt.events as f64 / rebuild_secs,
        rebuilt.rows,
        rebuild_peak,
        events as f64 / replay_secs,
        text.lines().count() - 1,
        replay_peak,
    );
    store.close().await;
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` probes with --list; there is nothing to list.
    }
    let target: u64 = std::env::var("GRANTLOG_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let runtime = || tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match std::env::var("GRANTLOG_BENCH_BACKEND").as_deref() {
        Ok("sqlite") => runtime().block_on(measure(Kind::Sqlite, target)),
        Ok("postgres") => runtime().block_on(measure(Kind::Postgres, target)),
        _ => {
            println!(
                "| backend | events | append (bulk) | rebuild | replay (fold to the middle, render) | read alone | fold alone (first 100k) |"
            );
            println!("|---|---|---|---|---|---|---|");
            for backend in ["sqlite", "postgres"] {
                let status = std::process::Command::new(std::env::current_exe().unwrap())
                    .env("GRANTLOG_BENCH_BACKEND", backend)
                    .status()
                    .unwrap();
                assert!(status.success(), "{backend} run failed");
            }
        }
    }
}
