//! Proofs from a log of a million events: the time to build it (bulk appends, the tree
//! kept as it grows), then inclusion proofs for random positions and consistency proofs
//! between random sizes, each a few indexed reads of stored subtrees. Every proof is
//! verified, so a fast wrong answer cannot pass.
//!
//! Run: `GRANTLOG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p grantlog-store --bench proofs`
//! (PostgreSQL is skipped without the variable; `GRANTLOG_BENCH_EVENTS` sets the size).

use std::time::{Duration, Instant};

use chrono::Utc;
use grantlog_domain::Actor;
use grantlog_store::testing::{Kind, TestDatabase};
use grantlog_store::{EventStore, ExpectedVersion, NewEvent, StreamAppend};
use grantlog_tlog::merkle::{verify_consistency, verify_inclusion};

const PER_TRANSACTION: u64 = 1_000;
const PROOFS: usize = 2_000;

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_type: "grant.approved".into(),
        schema_version: 1,
        payload: serde_json::json!({ "grant_id": uuid::Uuid::from_u128(u128::from(n)), "scope": ["photos:read"] }),
        occurred_at: Utc::now(),
        actor: Actor::System,
        trace_id: None,
    }
}

/// A small deterministic generator: the benchmark needs spread, not secrecy.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn percentiles(mut times: Vec<Duration>) -> String {
    times.sort();
    let at = |p: usize| times[(times.len() - 1) * p / 100].as_secs_f64() * 1e6;
    format!("p50 {:.0} µs, p99 {:.0} µs", at(50), at(99))
}

async fn build(store: &EventStore, events: u64) -> f64 {
    let started = Instant::now();
    for batch in 0..events / PER_TRANSACTION {
        let events: Vec<NewEvent> = (0..PER_TRANSACTION).map(|n| event(batch * PER_TRANSACTION + n)).collect();
        let stream = format!("grant-{batch}");
        let append = StreamAppend { stream_id: &stream, expected: ExpectedVersion::Exactly(0), events: &events };
        store.append_many(&[append]).await.unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo test --benches` probes with --list; there is nothing to list.
    }
    let events: u64 = std::env::var("GRANTLOG_BENCH_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    println!("| backend | events | appended (tree kept) | inclusion proof | consistency proof |");
    println!("|---|---|---|---|---|");
    for kind in [Kind::Sqlite, Kind::Postgres] {
        let Some(database) = TestDatabase::new(kind).await else {
            continue;
        };
        let store = database.store().await;
        let rate = build(&store, events).await;
        let size = store.tree_size().await.unwrap();
        let root = store.tree_root(size).await.unwrap();
        let mut state = 0x9E37_79B9_7F4A_7C15;
        let mut inclusion = Vec::with_capacity(PROOFS);
        for _ in 0..PROOFS {
            let index = next(&mut state) % size;
            let started = Instant::now();
            let proof = store.inclusion_proof(index, size).await.unwrap();
            inclusion.push(started.elapsed());
            verify_inclusion(index, size, &proof.leaf_hash, &proof.hashes, &root).unwrap();
        }
        let mut consistency = Vec::with_capacity(PROOFS);
        for _ in 0..PROOFS {
            let from = next(&mut state) % size + 1;
            let started = Instant::now();
            let proof = store.consistency_proof(from, size).await.unwrap();
            consistency.push(started.elapsed());
            let first = store.tree_root(from).await.unwrap();
            verify_consistency(from, size, &first, &root, &proof).unwrap();
        }
        println!(
            "| {kind:?} | {size} | {rate:.0} events/s | {} | {} |",
            percentiles(inclusion),
            percentiles(consistency)
        );
        store.close().await;
    }
}
