//! Nonces recorded a batch at a time. Every signed request records its nonce before it
//! is answered; one statement per request made that write most of a signed request's
//! cost, with the requests queueing for SQLite's single writer lock. Here one task
//! writes whatever requests are waiting in one statement, so the statements per second
//! stay few however many requests arrive, and each request still waits until its
//! nonce is in the database: a replay is refused in every process, as before.
//!
//! On PostgreSQL several batches are in flight at once, so throughput does not stop at
//! one batch per round trip; SQLite has one writer, so one batch at a time.

use std::sync::Arc;

use grantlog_store::nonces::{SeenNonce, remember_all};
use grantlog_store::{Backend, EventStore, StoreError};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// The most nonces one statement carries.
const BATCH_MOST: usize = 512;

/// Batches written at once on PostgreSQL: a few, so that one waits for its round trip
/// while the next fills, and few enough to leave the pool's connections to the reads.
const POSTGRES_IN_FLIGHT: usize = 3;

/// A nonce waiting to be written, and where its answer goes.
type Waiting = (SeenNonce, oneshot::Sender<Result<Answer, Arc<StoreError>>>);

/// What a request learns of its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Whether the nonce was new (false: a replay).
    pub fresh: bool,
    /// The log's head as of the batch's beginning: a revocation committed before the
    /// request's batch began is at or below it.
    pub head: u64,
}

/// The handle requests use; the writing task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct NonceLedger {
    waiting: mpsc::Sender<Waiting>,
}

/// Why a nonce could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database refused or failed the batch it was in.
    #[error("recording nonces failed: {0}")]
    Store(#[source] Arc<StoreError>),
    /// The writing task is gone (the runtime it ran on is shutting down).
    #[error("the nonce ledger has stopped")]
    Stopped,
}

impl NonceLedger {
    /// Starts the writing task on the current Tokio runtime.
    pub fn start(store: EventStore) -> Self {
        let (waiting, arriving) = mpsc::channel(BATCH_MOST * 4);
        let in_flight = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_IN_FLIGHT,
        };
        tokio::spawn(write_batches(store, arriving, in_flight));
        Self { waiting }
    }

    /// Records `nonce`; answers whether it was new, and the log's head after it.
    pub async fn remember(&self, nonce: SeenNonce) -> Result<Answer, LedgerError> {
        let (answer, answered) = oneshot::channel();
        self.waiting.send((nonce, answer)).await.map_err(|_| LedgerError::Stopped)?;
        answered.await.map_err(|_| LedgerError::Stopped)?.map_err(LedgerError::Store)
    }
}

/// Writes what is waiting, up to [`BATCH_MOST`] at a time and `in_flight` batches at
/// once, until every handle is gone. A batch is taken only once a slot is free, so
/// requests gather while the batches before them are written. A request that gave up
/// meanwhile has its nonce written all the same.
async fn write_batches(store: EventStore, mut arriving: mpsc::Receiver<Waiting>, in_flight: usize) {
    let slots = Arc::new(Semaphore::new(in_flight));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let mut batch = Vec::with_capacity(BATCH_MOST);
        if arriving.recv_many(&mut batch, BATCH_MOST).await == 0 {
            return;
        }
        let store = store.clone();
        tokio::spawn(async move {
            write_batch(&store, batch).await;
            drop(slot);
        });
    }
}

/// Writes one batch and answers each of its requests.
async fn write_batch(store: &EventStore, batch: Vec<Waiting>) {
    let (nonces, answers): (Vec<SeenNonce>, Vec<_>) = batch.into_iter().unzip();
    match remember_all(store, &nonces).await {
        Ok(remembered) => {
            for (answer, fresh) in answers.into_iter().zip(remembered.fresh) {
                let _ = answer.send(Ok(Answer { fresh, head: remembered.head }));
            }
        }
        // One bad row fails its whole statement: a batch that failed is written again
        // one nonce at a time, so a failure stays with the request that caused it. (A
        // batch long enough for several statements may have had some written before
        // the failing one; those now read as replays: refused, never let in twice.)
        Err(error) if nonces.len() > 1 => {
            tracing::warn!(%error, nonces = nonces.len(), "a batch of nonces failed; writing them one by one");
            for (nonce, answer) in nonces.into_iter().zip(answers) {
                let written = remember_all(store, std::slice::from_ref(&nonce))
                    .await
                    .map(|remembered| Answer { fresh: remembered.fresh[0], head: remembered.head });
                let _ = answer.send(written.map_err(Arc::new));
            }
        }
        Err(error) => {
            if let Some(answer) = answers.into_iter().next() {
                let _ = answer.send(Err(Arc::new(error)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use grantlog_store::testing::TestDatabase;

    use super::*;

    fn nonce(text: &str) -> SeenNonce {
        SeenNonce { client_key: "beppa".to_owned(), token: String::new(), timestamp: 100, nonce: text.to_owned() }
    }

    /// Batches in flight at once (PostgreSQL): more nonces than four batches hold, among
    /// them forty copies of one, all sent at once. Each unique one is new; of the copies,
    /// wherever their batches landed, exactly one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn copies_spread_over_batches_in_flight_are_new_once() {
        let Some(database) = TestDatabase::postgres().await else { return };
        let ledger = NonceLedger::start(database.store().await);
        let mut sent = tokio::task::JoinSet::new();
        for n in 0..(BATCH_MOST * 4) {
            let unique = ledger.clone();
            sent.spawn(async move { (true, unique.remember(nonce(&format!("unique-{n}"))).await.unwrap().fresh) });
            if n % 50 == 0 {
                let copy = ledger.clone();
                sent.spawn(async move { (false, copy.remember(nonce("copy")).await.unwrap().fresh) });
            }
        }
        let answers = sent.join_all().await;
        assert!(answers.iter().filter(|(unique, _)| *unique).all(|(_, fresh)| *fresh), "every unique nonce is new");
        let copies: Vec<bool> = answers.iter().filter(|(unique, _)| !unique).map(|(_, fresh)| *fresh).collect();
        assert_eq!((copies.len(), copies.iter().filter(|fresh| **fresh).count()), (41, 1));
    }

    /// PostgreSQL refuses NUL in text, so a nonce holding one fails its statement (the
    /// protocol layer refuses such nonces first; this is the ledger's own guard).
    #[tokio::test]
    async fn a_row_that_fails_fails_only_its_own_request() {
        let Some(database) = TestDatabase::postgres().await else { return };
        let store = database.store().await;
        let (batch, answered): (Vec<Waiting>, Vec<_>) = ["good", "bad\0", "good"]
            .into_iter()
            .map(|text| {
                let (answer, answered) = oneshot::channel();
                ((nonce(text), answer), answered)
            })
            .unzip();
        write_batch(&store, batch).await;
        let mut answers = Vec::new();
        for answer in answered {
            answers.push(answer.await.unwrap().map_err(|error| error.to_string()));
        }
        let fresh = |answer: &Result<Answer, String>| answer.as_ref().map(|answer| answer.fresh).ok();
        assert_eq!(fresh(&answers[0]), Some(true));
        assert!(answers[1].is_err(), "{answers:?}");
        assert_eq!(fresh(&answers[2]), Some(false), "the same nonce again is a replay");
    }
}
