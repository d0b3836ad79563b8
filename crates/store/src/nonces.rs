//! Nonces seen within the timestamp window, shared by every process on the database.

use std::collections::HashSet;

use sqlx::{AnyPool, Row};

use crate::error::StoreError;
use crate::store::{statement_chunks, values_placeholders};

/// A nonce as a signed request carried it (RFC 5849 section 3.3): unique per client,
/// token and timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeenNonce {
    /// The client's consumer key.
    pub client_key: String,
    /// The token, `""` for requests signed without one.
    pub token: String,
    /// `oauth_timestamp`, in seconds since the epoch.
    pub timestamp: i64,
    /// `oauth_nonce`.
    pub nonce: String,
}

/// Records every one of `seen`, a statement per few hundred; answers, for each, whether
/// it was new. A nonce already recorded is a replay, and so is the second of two
/// equal ones in `seen`.
pub async fn remember_all(pool: &AnyPool, seen: &[SeenNonce]) -> Result<Vec<bool>, StoreError> {
    let mut inserted = HashSet::new();
    // In key order, so that two processes inserting overlapping nonces take their row
    // locks in the same order and never deadlock (PostgreSQL).
    let mut ordered: Vec<&SeenNonce> = seen.iter().collect();
    ordered.sort_unstable_by(|a, b| {
        (&a.client_key, &a.token, a.timestamp, &a.nonce).cmp(&(&b.client_key, &b.token, b.timestamp, &b.nonce))
    });
    let bytes = |nonce: &&SeenNonce| nonce.client_key.len() + nonce.token.len() + nonce.nonce.len() + 8;
    for chunk in statement_chunks(&ordered, bytes) {
        let sql = format!(
            "INSERT INTO nonces (client_key, token, timestamp, nonce) VALUES {} \
             ON CONFLICT DO NOTHING RETURNING client_key, token, timestamp, nonce",
            values_placeholders(chunk.len(), 4)
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for nonce in chunk {
            query = query.bind(&nonce.client_key).bind(&nonce.token).bind(nonce.timestamp).bind(&nonce.nonce);
        }
        for row in query.fetch_all(pool).await? {
            inserted.insert(SeenNonce {
                client_key: row.try_get("client_key")?,
                token: row.try_get("token")?,
                timestamp: row.try_get("timestamp")?,
                nonce: row.try_get("nonce")?,
            });
        }
    }
    // Each inserted row is the first of its copies in `seen`; the row answers that one.
    Ok(seen.iter().map(|nonce| inserted.remove(nonce)).collect())
}

/// The log's head position now: read after a batch of nonces was written, every event
/// committed before the batch began is at or below it.
pub async fn head_after(pool: &AnyPool) -> Result<u64, StoreError> {
    let head: i64 =
        sqlx::query("SELECT position FROM chain_head WHERE id = 1").fetch_one(pool).await?.try_get("position")?;
    Ok(u64::try_from(head).unwrap_or(0))
}

/// Forgets nonces with timestamps before `earliest` (seconds since the epoch); returns
/// how many.
pub async fn forget_before(pool: &AnyPool, earliest: i64) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM nonces WHERE timestamp < $1").bind(earliest).execute(pool).await?;
    Ok(result.rows_affected())
}
