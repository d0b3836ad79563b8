//! Failed-login counters, kept in the database so every process shares them.
//!
//! An attempt is reserved before the password is checked, in one statement that adds
//! it and returns the new count: guesses sent at once each see the others', so no more
//! than the limit are ever checked. An attempt that turns out not to be a failure (the
//! password was right, or it was never checked) is released again.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::Row;

use crate::SideTables;
use crate::error::StoreError;
use crate::event::format_timestamp;

/// A key's count, the reserved attempt included, and when its window began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// Attempts in the current window.
    pub attempts: u32,
    /// When the current window began.
    pub since: DateTime<Utc>,
}

impl Reserved {
    /// How long from `now` until a window of `window` that began at [`Reserved::since`]
    /// ends: when the refused may try again.
    pub fn window_ends_in(&self, window: TimeDelta, now: DateTime<Utc>) -> TimeDelta {
        self.since + window - now
    }
}

/// Counts an attempt for `key` at `now`, starting a new window when the last one began
/// before `window_start`, and returns the count with it.
pub async fn reserve(
    tables: &SideTables,
    key: &str,
    now: DateTime<Utc>,
    window_start: DateTime<Utc>,
) -> Result<Reserved, StoreError> {
    let row = sqlx::query(
        "INSERT INTO login_failures (throttle_key, failures, since) VALUES ($1, 1, $2) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
         failures = CASE WHEN login_failures.since < $3 THEN 1 ELSE login_failures.failures + 1 END, \
         since = CASE WHEN login_failures.since < $3 THEN excluded.since ELSE login_failures.since END \
         RETURNING failures, since",
    )
    .bind(key)
    .bind(format_timestamp(&now))
    .bind(format_timestamp(&window_start))
    .fetch_one(&tables.pool)
    .await?;
    let since: String = row.try_get("since")?;
    Ok(Reserved {
        attempts: u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
        since: DateTime::parse_from_rfc3339(&since)
            .map_err(|e| StoreError::Corrupt(format!("login_failures.since: {e}")))?
            .with_timezone(&Utc),
    })
}

/// Takes back an attempt reserved for `key` in the window that began `since` and that
/// was not a failure; nothing if that window has since been replaced by a new one.
pub async fn release(tables: &SideTables, key: &str, since: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE login_failures SET failures = failures - 1 WHERE throttle_key = $1 AND since = $2 AND failures > 0",
    )
    .bind(key)
    .bind(format_timestamp(&since))
    .execute(&tables.pool)
    .await?;
    Ok(())
}

/// Forgets `key`'s failures (after a successful login).
pub async fn clear(tables: &SideTables, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1").bind(key).execute(&tables.pool).await?;
    Ok(())
}

/// Deletes the counters whose window began before `window_start` (they count nothing
/// any more); returns how many.
pub async fn prune(tables: &SideTables, window_start: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM login_failures WHERE since < $1")
        .bind(format_timestamp(&window_start))
        .execute(&tables.pool)
        .await?;
    Ok(result.rows_affected())
}
