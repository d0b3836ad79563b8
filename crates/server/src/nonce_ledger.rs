//! Nonces recorded a batch at a time. Every signed request records its nonce before it
//! is answered; one statement per request made that write most of a signed request's
//! cost, with the requests queueing for SQLite's single writer lock. Here one task
//! writes whatever requests are waiting in one statement, so the statements per second
//! stay few however many requests arrive, and each request still waits until its
//! nonce is in the database: a replay is refused in every process, as before.

use std::sync::Arc;

use grantlog_store::nonces::{SeenNonce, head_after, remember_all};
use grantlog_store::{AnyPool, StoreError};
use tokio::sync::{mpsc, oneshot};

/// The most nonces one statement carries.
const BATCH_MOST: usize = 512;

/// A nonce waiting to be written, and where its answer goes.
type Waiting = (SeenNonce, oneshot::Sender<Result<Answer, Arc<StoreError>>>);

/// What a request learns of its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Whether the nonce was new (false: a replay).
    pub fresh: bool,
    /// The log's head as of after the nonce was written: a revocation committed before
    /// the request's batch began is at or below it.
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
    Store(Arc<StoreError>),
    /// The writing task is gone (the runtime it ran on is shutting down).
    #[error("the nonce ledger has stopped")]
    Stopped,
}

impl NonceLedger {
    /// Starts the writing task on the current Tokio runtime.
    pub fn start(pool: AnyPool) -> Self {
        let (waiting, arriving) = mpsc::channel(BATCH_MOST * 4);
        tokio::spawn(write_batches(pool, arriving));
        Self { waiting }
    }

    /// Records `nonce`; answers whether it was new, and the log's head after it.
    pub async fn remember(&self, nonce: SeenNonce) -> Result<Answer, LedgerError> {
        let (answer, answered) = oneshot::channel();
        self.waiting.send((nonce, answer)).await.map_err(|_| LedgerError::Stopped)?;
        answered.await.map_err(|_| LedgerError::Stopped)?.map_err(LedgerError::Store)
    }
}

/// Writes what is waiting, up to [`BATCH_MOST`] at a time, until every handle is gone.
/// A request that gave up meanwhile has its nonce written all the same.
async fn write_batches(pool: AnyPool, mut arriving: mpsc::Receiver<Waiting>) {
    let mut batch = Vec::with_capacity(BATCH_MOST);
    while arriving.recv_many(&mut batch, BATCH_MOST).await > 0 {
        write_batch(&pool, std::mem::take(&mut batch)).await;
    }
}

/// Writes one batch and answers each of its requests.
async fn write_batch(pool: &AnyPool, batch: Vec<Waiting>) {
    let (nonces, answers): (Vec<SeenNonce>, Vec<_>) = batch.into_iter().unzip();
    match remember_all(pool, &nonces).await {
        // The nonces are in; a failure to read the head now fails the requests (the
        // nonces stay written: writing them again would call every one a replay).
        Ok(fresh) => match head_after(pool).await.map_err(Arc::new) {
            Ok(head) => {
                for (answer, fresh) in answers.into_iter().zip(fresh) {
                    let _ = answer.send(Ok(Answer { fresh, head }));
                }
            }
            Err(error) => {
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        },
        // One bad row fails its whole statement: a batch that failed is written again
        // one nonce at a time, so a failure stays with the request that caused it.
        Err(error) if nonces.len() > 1 => {
            tracing::warn!(%error, nonces = nonces.len(), "a batch of nonces failed; writing them one by one");
            for (nonce, answer) in nonces.into_iter().zip(answers) {
                let written = match remember_all(pool, std::slice::from_ref(&nonce)).await {
                    Ok(fresh) => head_after(pool).await.map(|head| Answer { fresh: fresh[0], head }),
                    Err(error) => Err(error),
                };
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
        write_batch(store.reader(), batch).await;
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
