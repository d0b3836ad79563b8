//! Nonces seen within the timestamp window, shared by every process on the database.

use sqlx::AnyPool;

use crate::error::{StoreError, is_unique_violation};

/// Records `(client_key, token, timestamp, nonce)`; false when it was already there
/// (a replay).
pub async fn remember(
    pool: &AnyPool,
    client_key: &str,
    token: &str,
    timestamp: u64,
    nonce: &str,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query("INSERT INTO nonces (client_key, token, timestamp, nonce) VALUES ($1, $2, $3, $4)")
        .bind(client_key)
        .bind(token)
        .bind(i64::try_from(timestamp).unwrap_or(i64::MAX))
        .bind(nonce)
        .execute(pool)
        .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(error) if is_unique_violation(&error) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Forgets nonces with timestamps before `earliest` (seconds since the epoch); returns
/// how many.
pub async fn forget_before(pool: &AnyPool, earliest: i64) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM nonces WHERE timestamp < $1").bind(earliest).execute(pool).await?;
    Ok(result.rows_affected())
}
