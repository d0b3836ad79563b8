//! Appends per second on each backend: one event per transaction (sequential and from
//! four concurrent tasks) and batches of 100 events per transaction.
//!
//! Run: `GRANTLOG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p grantlog-store --bench append`
//! (PostgreSQL is skipped without the variable).

use std::time::Instant;

use chrono::Utc;
use grantlog_domain::Actor;
use grantlog_store::testing::{Kind, TestDatabase};
use grantlog_store::{EventStore, ExpectedVersion, NewEvent};

const SINGLE: u64 = 2_000;
const BATCHES: u64 = 200;
const BATCH: u64 = 100;
const TASKS: u64 = 4;

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_type: "grant.approved".into(),
        schema_version: 1,
        payload: serde_json::json!({
            "grant_id": uuid::Uuid::from_u128(u128::from(n)),
            "owner_id": uuid::Uuid::from_u128(7),
            "scope": ["photos:read"],
            "resources": ["islay-1", "islay-2"],
            "duration": "one_hour",
            "remembered": false,
        }),
        occurred_at: Utc::now(),
        actor: Actor::Owner(uuid::Uuid::from_u128(7)),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    }
}

async fn single(store: &EventStore, tasks: u64) -> f64 {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..SINGLE / tasks {
                    let stream = format!("grant-single-{tasks}-{task}-{n}");
                    store.append(&stream, ExpectedVersion::Exactly(0), &[event(n)]).await.unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    SINGLE as f64 / started.elapsed().as_secs_f64()
}

async fn batched(store: &EventStore) -> f64 {
    let started = Instant::now();
    for batch in 0..BATCHES {
        let events: Vec<NewEvent> = (0..BATCH).map(|n| event(batch * BATCH + n)).collect();
        store.append(&format!("grant-batch-{batch}"), ExpectedVersion::Exactly(0), &events).await.unwrap();
    }
    (BATCHES * BATCH) as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` probes with --list; there is nothing to list.
    }
    println!(
        "| backend | one event per transaction | same, {TASKS} concurrent tasks | {BATCH} events per transaction | verify |"
    );
    println!("|---|---|---|---|---|");
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let Some(database) = TestDatabase::new(kind).await else {
            continue;
        };
        let store = database.store().await;
        let sequential = single(&store, 1).await;
        let concurrent = single(&store, TASKS).await;
        let batch = batched(&store).await;
        let verified = Instant::now();
        let report = store.verify_chain(None).await.unwrap().unwrap();
        let verify_rate = report.events as f64 / verified.elapsed().as_secs_f64();
        println!(
            "| {kind:?} | {sequential:.0} events/s | {concurrent:.0} events/s | {batch:.0} events/s | {verify_rate:.0} events/s ({} events) |",
            report.events
        );
        store.close().await;
    }
}
