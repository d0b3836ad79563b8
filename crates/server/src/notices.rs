//! Revocation notices to clients (`notify_url`), driven by the log. Every process runs
//! a [`Notifier`]: it reads the log past the consumer's stored position and queues a
//! notice for each `grant.revoked` (by the owner or an operator: a client knows what it
//! gave back itself) and `grant.credentials_expired` of a client with a notification
//! URL, moving the position in the same transaction; then it attempts the notices due,
//! each client's oldest first, so a client hears in log order. A notice is a `POST` of
//! JSON `{"event", "grant", "token", "at", "position"}` with `Grantlog-Timestamp` and
//! `Grantlog-Signature: v1=<hex HMAC-SHA256 over "<timestamp>.<body>">` under the
//! client's notification key. A 2xx delivers it; anything else is tried again after
//! 1, 2, 4 … seconds (at most ten minutes apart) for a day from its first attempt, then
//! given up (at once if the client no longer has a URL or key). An attempt holds its
//! notice for a minute against other processes, and its outcome is written only if it
//! still held it. Delivery is at least once: a process that dies between sending and
//! recording, or whose hold lapsed, has it sent again.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use grantlog_domain::{Event, Revoker};
use grantlog_projection::decode;
use grantlog_projection::tables::{client_by_id, grant_by_id};
use grantlog_store::notices::{self, Attempt, Notice, NoticeState};
use grantlog_store::{EventStore, RecordedEvent, SecretBox};
use hmac::{Hmac, KeyInit as _, Mac as _};
use secrecy::ExposeSecret as _;
use sha2::Sha256;

use crate::services::operators::notify_secret_id;

/// How often the log and the queue are looked at.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// Events read per look.
const EVENTS_PER_LOOK: u32 = 500;
/// Notices attempted per look.
const NOTICES_PER_LOOK: u32 = 50;
/// How long an attempt holds its notice against other processes.
const LEASE: TimeDelta = TimeDelta::seconds(60);
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// After how long a notice is given up on.
const GIVE_UP_AFTER: TimeDelta = TimeDelta::days(1);
/// The longest wait between two attempts.
const LONGEST_WAIT: TimeDelta = TimeDelta::minutes(10);

/// The header with the notice's time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "Grantlog-Timestamp";
/// The header with the notice's signature.
pub const SIGNATURE_HEADER: &str = "Grantlog-Signature";

/// Queues and delivers revocation notices for one process.
#[derive(Debug, Clone)]
pub struct Notifier {
    store: EventStore,
    secrets: SecretBox,
    agent: ureq::Agent,
}

impl Notifier {
    /// A notifier on `store`, opening notification keys with `secrets`.
    pub fn new(store: EventStore, secrets: SecretBox) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        Self { store, secrets, agent }
    }

    /// Queues and delivers until the task is dropped.
    pub async fn run(self) {
        let mut ticks = tokio::time::interval(POLL_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.queue_new(Utc::now()).await {
                tracing::warn!(error = format!("{error:#}"), "queueing revocation notices failed; tried again");
            }
            if let Err(error) = self.deliver_due(Utc::now()).await {
                tracing::warn!(error = format!("{error:#}"), "delivering revocation notices failed; tried again");
            }
        }
    }

    /// Reads the log past the consumer's position (a batch at most) and queues its
    /// notices; answers how many. Another process that read the same events first wins,
    /// and this one queues nothing.
    pub async fn queue_new(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let tables = self.store.side_tables();
        let from = notices::consumer_position(tables).await?;
        let head = self.store.head().await?.position;
        let events = self.store.read_up_to(from, head, EVENTS_PER_LOOK).await?;
        let Some(last) = events.last() else { return Ok(0) };
        let mut queued = Vec::new();
        for recorded in &events {
            if let Some(notice) = self.notice_of(recorded, now).await? {
                queued.push(notice);
            }
        }
        Ok(if notices::queue(tables, from, last.position, &queued).await? { queued.len() } else { 0 })
    }

    /// The notice `recorded` calls for, if any.
    async fn notice_of(&self, recorded: &RecordedEvent, now: DateTime<Utc>) -> anyhow::Result<Option<Notice>> {
        let grant_id = match decode(recorded)? {
            Event::GrantRevoked(revoked) if !matches!(revoked.by, Revoker::Client(_)) => revoked.grant_id,
            Event::CredentialsExpired(expired) => expired.grant_id,
            _ => return Ok(None),
        };
        let reader = self.store.reader();
        let Some(grant) = grant_by_id(reader, &grant_id.to_string()).await? else { return Ok(None) };
        let client = client_by_id(reader, &grant.client_id.to_string()).await?;
        if client.is_none_or(|client| client.notify_url.is_none()) {
            return Ok(None);
        }
        Ok(Some(Notice {
            client_id: grant.client_id.to_string(),
            position: recorded.position,
            event_type: recorded.event_type.clone(),
            grant_id: grant_id.to_string(),
            token: grant.access_token.unwrap_or(grant.request_token),
            occurred_at: recorded.occurred_at,
            queued_at: now,
            state: NoticeState::Pending,
            attempts: 0,
            next_attempt_at: now,
            first_attempt_at: None,
            last_error: None,
        }))
    }

    /// Attempts the notices due at `now`, each client's oldest, the clients' at once (a
    /// client that does not answer holds up only its own notices).
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let due = notices::due(self.store.side_tables(), now, NOTICES_PER_LOOK).await?;
        for attempted in futures_util::future::join_all(due.iter().map(|notice| self.attempt(notice))).await {
            attempted?;
        }
        Ok(())
    }

    /// Claims `notice`, sends it, and records what came of it.
    async fn attempt(&self, notice: &Notice) -> anyhow::Result<()> {
        let tables = self.store.side_tables();
        let claimed_until = Utc::now() + LEASE;
        if !notices::claim(tables, notice, claimed_until).await? {
            return Ok(());
        }
        let attempt = match self.send(notice).await {
            Ok(()) => Attempt::Delivered,
            Err(Undelivered::Never(error)) => Attempt::GiveUp { error },
            Err(Undelivered::Now(error)) => {
                let first = notice.first_attempt_at.unwrap_or_else(Utc::now);
                if Utc::now() - first >= GIVE_UP_AFTER {
                    Attempt::GiveUp { error }
                } else {
                    Attempt::Retry { at: Utc::now() + wait_after(notice.attempts + 1), error }
                }
            }
        };
        if !notices::record(tables, notice, claimed_until, &attempt, Utc::now()).await? {
            tracing::warn!(
                position = notice.position,
                "a notice's hold lapsed during its attempt; another process has it"
            );
        }
        Ok(())
    }

    /// One attempt: what went wrong, and whether trying again can help.
    async fn send(&self, notice: &Notice) -> Result<(), Undelivered> {
        let reader = self.store.reader();
        let failed = |error: &dyn std::fmt::Display| Undelivered::Now(error.to_string());
        let client = client_by_id(reader, &notice.client_id).await.map_err(|error| failed(&error))?;
        let Some(url) = client.and_then(|client| client.notify_url) else {
            return Err(Undelivered::Never("the client has no notify_url any more".to_owned()));
        };
        let never = |what: &str| Undelivered::Never(what.to_owned());
        let client_id = notice.client_id.parse().map_err(|_| never("a malformed client id"))?;
        let key = self.secrets.get(reader, &notify_secret_id(client_id)).await.map_err(|error| failed(&error))?;
        let key = key.ok_or_else(|| never("the client has no notification key"))?;
        let body = notice_body(notice);
        let timestamp = Utc::now().timestamp();
        let signature = sign(key.expose_secret(), timestamp, &body);
        let agent = self.agent.clone();
        let sent = tokio::task::spawn_blocking(move || {
            agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, signature)
                .send(body.as_bytes())
        })
        .await
        .map_err(|error| failed(&error))?;
        match sent {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(Undelivered::Now(format!("answered {}", response.status().as_u16()))),
            Err(error) => Err(failed(&error)),
        }
    }
}

/// Why a notice was not delivered.
enum Undelivered {
    /// Something that may pass: a refusal, a timeout, our database.
    Now(String),
    /// Something no retry mends: the client has no URL or key any more.
    Never(String),
}

/// The notice's JSON body.
pub fn notice_body(notice: &Notice) -> String {
    serde_json::json!({
        "event": notice.event_type,
        "grant": notice.grant_id,
        "token": notice.token,
        "at": grantlog_projection::tables::timestamp(notice.occurred_at),
        "position": notice.position,
    })
    .to_string()
}

/// `v1=<hex HMAC-SHA256 of "<timestamp>.<body>" under key>`.
pub fn sign(key: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("v1={}", digest.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// How long to wait before attempt `attempts + 1`: 1, 2, 4 … seconds, at most ten minutes.
fn wait_after(attempts: u64) -> TimeDelta {
    let doubling = 1_i64 << attempts.saturating_sub(1).min(20);
    TimeDelta::seconds(doubling).min(LONGEST_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_a_second_to_ten_minutes() {
        let waits: Vec<i64> = (1..=12).map(|n| wait_after(n).num_seconds()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(wait_after(u64::MAX), LONGEST_WAIT);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // The expected digest was computed with Python's hmac module, apart from this code.
        let signed = sign("Jefe", 1_700_000_000, r#"{"event":"grant.revoked"}"#);
        assert_eq!(signed, "v1=c2bb41ba0f6ef895f9a76d6beb5fa2d3a85905dfc6cd7479f0a06a82753ba8c8");
    }
}
