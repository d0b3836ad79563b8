//! The server's background tasks, owned by the running [`Application`]: a sweep every
//! minute (nonces, sessions and failed-login counters pruned once they no longer count;
//! expiries recorded in the log, in force by the clock anyway; ended credentials'
//! secrets wiped), the use counts written every second, and once more after the
//! server stopped, revocation notices queued and delivered (`notices.rs`), and, with a
//! signing key, a checkpoint signed when the log grew.
//!
//! [`Application`]: crate::http::Application

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use grantlog_store::EventStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::checkpoints::Checkpointer;
use crate::expiry::{record_expiries, wipe_ended_secrets};
use crate::notices::Notifier;
use crate::services::login::prune_logins;
use crate::services::oauth::{Checks, prune_nonces};
use crate::usage::{FLUSH_EVERY, UsageCounter};

/// The tasks while they run.
#[derive(Debug)]
pub struct Background {
    sweep: JoinHandle<()>,
    signing: Option<JoinHandle<()>>,
    notifying: JoinHandle<()>,
    stop_flushing: oneshot::Sender<()>,
    flusher: JoinHandle<()>,
    store: EventStore,
    usage: Arc<UsageCounter>,
}

impl Background {
    /// Starts the tasks on the current Tokio runtime: checkpoints only with `signing`.
    pub fn start(
        store: EventStore,
        usage: Arc<UsageCounter>,
        checks: Checks,
        signing: Option<Signing>,
        notifier: Notifier,
    ) -> Self {
        let sweep = tokio::spawn(sweep_every_minute(store.clone(), checks));
        let signing = signing.map(|signing| tokio::spawn(sign_checkpoints(store.clone(), signing)));
        let notifying = tokio::spawn(notifier.run());
        let (stop_flushing, stopped) = oneshot::channel();
        let flusher = tokio::spawn(flush_every_second(store.clone(), usage.clone(), stopped));
        Self { sweep, signing, notifying, stop_flushing, flusher, store, usage }
    }

    /// Stops both and writes the use counts still held.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.sweep.abort();
        // A notice sent but not yet recorded is sent again by the next process: at least once.
        self.notifying.abort();
        if let Some(signing) = self.signing {
            signing.abort();
        }
        // The flusher may have stopped already if it panicked; either way it is done.
        let _ = self.stop_flushing.send(());
        let _ = self.flusher.await;
        write_last_use_counts(&self.usage, &self.store).await
    }
}

async fn sweep_every_minute(store: EventStore, checks: Checks) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        if let Err(error) = prune_nonces(&store, Utc::now(), checks).await {
            tracing::warn!(%error, "pruning nonces failed");
        }
        if let Err(error) = prune_logins(&store, Utc::now()).await {
            tracing::warn!(%error, "pruning sessions and failed-login counters failed");
        }
        match record_expiries(&store, Utc::now()).await {
            Ok(0) => {}
            Ok(recorded) => tracing::info!(recorded, "recorded expired grants"),
            Err(error) => tracing::warn!(%error, "recording expired grants failed; the next sweep tries again"),
        }
        match wipe_ended_secrets(&store, Utc::now()).await {
            Ok(0) => {}
            Ok(wiped) => tracing::info!(wiped, "wiped the secrets of ended credentials"),
            Err(error) => {
                tracing::warn!(%error, "wiping ended credentials' secrets failed; the next sweep tries again")
            }
        }
    }
}

/// Checkpoints signed by this process: with which key, how often at most.
#[derive(Debug, Clone)]
pub struct Signing {
    /// The log's key.
    pub checkpointer: Checkpointer,
    /// The least time between two checkpoints.
    pub every: Duration,
}

async fn sign_checkpoints(store: EventStore, signing: Signing) {
    let mut ticks = tokio::time::interval(signing.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match signing.checkpointer.sign_if_grown(&store, Utc::now()).await {
            Ok(None) => {}
            Ok(Some(checkpoint)) => tracing::info!(tree_size = checkpoint.tree_size, "signed a checkpoint"),
            Err(error) => tracing::error!(%error, "signing a checkpoint failed"),
        }
    }
}

async fn flush_every_second(store: EventStore, usage: Arc<UsageCounter>, stopped: oneshot::Receiver<()>) {
    let mut every_second = tokio::time::interval(FLUSH_EVERY);
    tokio::pin!(stopped);
    loop {
        // A flush under way is never cut short: the stop is seen between flushes.
        tokio::select! {
            _ = every_second.tick() => {
                if let Err(error) = usage.flush(store.side_tables()).await {
                    tracing::warn!(%error, "writing use counts failed; kept for the next try");
                }
            }
            _ = &mut stopped => break,
        }
    }
}

/// Writes the use counts still held once the server has stopped. Connections the
/// stopped workers opened died with their runtimes; the pool drops each one that
/// fails, so a later try gets a connection opened here (at most one per pooled one).
async fn write_last_use_counts(usage: &UsageCounter, store: &EventStore) -> anyhow::Result<()> {
    let mut tries = store.reader().size() + 1;
    loop {
        match usage.flush(store.side_tables()).await {
            Ok(()) => return Ok(()),
            Err(_) if tries > 1 => tries -= 1,
            Err(error) => return Err(error).context("Failed to write the last use counts"),
        }
    }
}
