//! Failed-login counters, kept in the database so every process shares them.

use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

use crate::error::StoreError;
use crate::event::format_timestamp;

/// How many failures `key` has had since `window_start` (older ones do not count).
pub async fn failures(pool: &AnyPool, key: &str, window_start: DateTime<Utc>) -> Result<u32, StoreError> {
    let row = sqlx::query("SELECT failures FROM login_failures WHERE throttle_key = $1 AND since >= $2")
        .bind(key)
        .bind(format_timestamp(&window_start))
        .fetch_optional(pool)
        .await?;
    Ok(row
        .map(|row| row.try_get::<i64, _>("failures"))
        .transpose()?
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
}

/// Counts a failure for `key` at `now`, starting a new window when the last one began
/// before `window_start`.
pub async fn record_failure(
    pool: &AnyPool,
    key: &str,
    now: DateTime<Utc>,
    window_start: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO login_failures (throttle_key, failures, since) VALUES ($1, 1, $2) \
         ON CONFLICT (throttle_key) DO UPDATE SET \
         failures = CASE WHEN login_failures.since < $3 THEN 1 ELSE login_failures.failures + 1 END, \
         since = CASE WHEN login_failures.since < $3 THEN excluded.since ELSE login_failures.since END",
    )
    .bind(key)
    .bind(format_timestamp(&now))
    .bind(format_timestamp(&window_start))
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets `key`'s failures (after a successful login).
pub async fn clear(pool: &AnyPool, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1").bind(key).execute(pool).await?;
    Ok(())
}
