//! Nonces recorded a batch at a time. Every signed request records its nonce before it
//! is answered; one statement per request made that write most of a signed request's
//! cost, with the requests queueing for SQLite's single writer lock. Here one task
//! writes whatever requests are waiting in one statement, so the statements per second
//! stay few however many requests arrive, and each request still waits until its
//! nonce is in the database: a replay is refused in every process, as before.

use std::sync::Arc;

use grantlog_store::nonces::{SeenNonce, remember_all};
use grantlog_store::{AnyPool, StoreError};
use tokio::sync::{mpsc, oneshot};

/// The most nonces one statement carries.
const BATCH_MOST: usize = 512;

/// A nonce waiting to be written, and where its answer goes.
type Waiting = (SeenNonce, oneshot::Sender<Result<bool, Arc<StoreError>>>);

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

    /// Records `nonce` and answers whether it was new (false: a replay).
    pub async fn remember(&self, nonce: SeenNonce) -> Result<bool, LedgerError> {
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
        let (nonces, answers): (Vec<SeenNonce>, Vec<_>) = batch.drain(..).unzip();
        match remember_all(&pool, &nonces).await {
            Ok(fresh) => {
                for (answer, fresh) in answers.into_iter().zip(fresh) {
                    let _ = answer.send(Ok(fresh));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
    }
}
