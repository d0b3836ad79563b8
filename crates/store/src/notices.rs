//! Revocation notices to clients: a queue beside the log, filled by a consumer that
//! reads the log from its stored position, and emptied by delivery attempts. The queue
//! and the position move in one transaction, and only the process whose position was
//! current moves it, so notices are queued once however many processes consume. Each
//! attempt's outcome is written here, never as an event: it changes no grant.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::SideTables;
use crate::error::StoreError;
use crate::event::format_timestamp;

/// The consumer that queues notices, by its row in `consumer_positions`.
pub const CONSUMER: &str = "notices";

/// Where a notice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeState {
    /// Not yet delivered; attempted again at `next_attempt_at`.
    Pending,
    /// The client answered 2xx.
    Delivered,
    /// Given up on: it could not be delivered for a day.
    Failed,
}

impl NoticeState {
    /// `pending`, `delivered` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("notice state {other:?}"))),
        }
    }
}

/// One notice to a client about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The client told.
    pub client_id: String,
    /// The event's position in the log: the notice's order among the client's.
    pub position: u64,
    /// `grant.revoked` or `grant.credentials_expired`.
    pub event_type: String,
    /// The grant.
    pub grant_id: String,
    /// The grant's access token (its request token if it never had one).
    pub token: String,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// Where it stands.
    pub state: NoticeState,
    /// Attempts so far.
    pub attempts: u64,
    /// When it is attempted next (pending), or was last (otherwise).
    pub next_attempt_at: DateTime<Utc>,
    /// When it was first attempted (a day later it is given up).
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// What went wrong at the last attempt.
    pub last_error: Option<String>,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The client took it.
    Delivered,
    /// It failed; try again at this time.
    Retry {
        /// When.
        at: DateTime<Utc>,
        /// What went wrong.
        error: String,
    },
    /// It failed, and it is given up on.
    GiveUp {
        /// What went wrong.
        error: String,
    },
}

/// The consumer's position: the last event it has read.
pub async fn consumer_position(tables: &SideTables) -> Result<u64, StoreError> {
    let row = sqlx::query("SELECT position FROM consumer_positions WHERE name = $1")
        .bind(CONSUMER)
        .fetch_optional(&tables.pool)
        .await?;
    Ok(row.map(|row| row.try_get::<i64, _>("position")).transpose()?.map_or(0, to_u64))
}

/// Queues `notices` and moves the consumer from `from` to `to`, in one transaction;
/// `false` (nothing written) if the position was no longer `from`: another process
/// read the same events and queued them first.
pub async fn queue(tables: &SideTables, from: u64, to: u64, notices: &[Notice]) -> Result<bool, StoreError> {
    let mut transaction = tables.pool.begin().await?;
    let moved = sqlx::query("UPDATE consumer_positions SET position = $1 WHERE name = $2 AND position = $3")
        .bind(to_i64(to))
        .bind(CONSUMER)
        .bind(to_i64(from))
        .execute(&mut *transaction)
        .await?
        .rows_affected();
    if moved == 0 {
        transaction.rollback().await?;
        return Ok(false);
    }
    for notice in notices {
        sqlx::query(
            "INSERT INTO notices (client_id, position, event_type, grant_id, token, occurred_at, queued_at, state, \
             attempts, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8) \
             ON CONFLICT (client_id, position) DO NOTHING",
        )
        .bind(&notice.client_id)
        .bind(to_i64(notice.position))
        .bind(&notice.event_type)
        .bind(&notice.grant_id)
        .bind(&notice.token)
        .bind(format_timestamp(&notice.occurred_at))
        .bind(format_timestamp(&notice.queued_at))
        .bind(format_timestamp(&notice.next_attempt_at))
        .execute(&mut *transaction)
        .await?;
    }
    transaction.commit().await?;
    Ok(true)
}

/// Up to `limit` notices due at `now`, each the oldest pending one of its client (a
/// client's later notices wait for it, so each client hears in log order).
pub async fn due(tables: &SideTables, now: DateTime<Utc>, limit: u32) -> Result<Vec<Notice>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM notices n WHERE state = 'pending' AND next_attempt_at <= $1 AND position = \
         (SELECT MIN(position) FROM notices m WHERE m.client_id = n.client_id AND m.state = 'pending') \
         ORDER BY position LIMIT $2",
    )
    .bind(format_timestamp(&now))
    .bind(i64::from(limit))
    .fetch_all(&tables.pool)
    .await?;
    rows.iter().map(notice).collect()
}

/// Takes `notice` for an attempt until `until`; `false` if another process took it
/// first (its `next_attempt_at` moved).
pub async fn claim(tables: &SideTables, notice: &Notice, until: DateTime<Utc>) -> Result<bool, StoreError> {
    let claimed = sqlx::query(
        "UPDATE notices SET next_attempt_at = $1 WHERE client_id = $2 AND position = $3 AND state = 'pending' \
         AND next_attempt_at = $4",
    )
    .bind(format_timestamp(&until))
    .bind(&notice.client_id)
    .bind(to_i64(notice.position))
    .bind(format_timestamp(&notice.next_attempt_at))
    .execute(&tables.pool)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// Records the outcome of the attempt that claimed `notice` until `claimed_until`, at
/// `now`; `false` (nothing written) if the claim had lapsed and another process took
/// the notice since: its outcome is the one that counts.
pub async fn record(
    tables: &SideTables,
    notice: &Notice,
    claimed_until: DateTime<Utc>,
    attempt: &Attempt,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let (state, next, error) = match attempt {
        Attempt::Delivered => (NoticeState::Delivered, now, None),
        Attempt::Retry { at, error } => (NoticeState::Pending, *at, Some(error.as_str())),
        Attempt::GiveUp { error } => (NoticeState::Failed, now, Some(error.as_str())),
    };
    let delivered_at = (state == NoticeState::Delivered).then(|| format_timestamp(&now));
    let recorded = sqlx::query(
        "UPDATE notices SET state = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3, \
         delivered_at = $4, first_attempt_at = COALESCE(first_attempt_at, $5) \
         WHERE client_id = $6 AND position = $7 AND state = 'pending' AND next_attempt_at = $8",
    )
    .bind(state.as_str())
    .bind(format_timestamp(&next))
    .bind(error)
    .bind(delivered_at)
    .bind(format_timestamp(&now))
    .bind(&notice.client_id)
    .bind(to_i64(notice.position))
    .bind(format_timestamp(&claimed_until))
    .execute(&tables.pool)
    .await?
    .rows_affected();
    Ok(recorded == 1)
}

/// A client's pending and failed notices, in log order (at most `limit`).
pub async fn undelivered(tables: &SideTables, client_id: &str, limit: u32) -> Result<Vec<Notice>, StoreError> {
    let rows =
        sqlx::query("SELECT * FROM notices WHERE client_id = $1 AND state <> 'delivered' ORDER BY position LIMIT $2")
            .bind(client_id)
            .bind(i64::from(limit))
            .fetch_all(&tables.pool)
            .await?;
    rows.iter().map(notice).collect()
}

fn notice(row: &AnyRow) -> Result<Notice, StoreError> {
    let time = |name: &str| -> Result<DateTime<Utc>, StoreError> {
        let text: String = row.try_get(name)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| StoreError::Corrupt(format!("notice {name} {text:?}")))
    };
    Ok(Notice {
        client_id: row.try_get("client_id")?,
        position: to_u64(row.try_get("position")?),
        event_type: row.try_get("event_type")?,
        grant_id: row.try_get("grant_id")?,
        token: row.try_get("token")?,
        occurred_at: time("occurred_at")?,
        queued_at: time("queued_at")?,
        state: NoticeState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: to_u64(row.try_get("attempts")?),
        next_attempt_at: time("next_attempt_at")?,
        first_attempt_at: match row.try_get::<Option<String>, _>("first_attempt_at")? {
            Some(_) => Some(time("first_attempt_at")?),
            None => None,
        },
        last_error: row.try_get("last_error")?,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).expect("positions and counts stay below 2^63")
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
