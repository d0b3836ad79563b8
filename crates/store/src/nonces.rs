//! Nonces seen within the timestamp window, shared by every process on the database.

use std::collections::HashSet;

use sqlx::Row;

use crate::SideTables;
use crate::error::StoreError;
use crate::store::{Backend, EventStore, statement_chunks, values_placeholders};

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

/// What recording a batch of nonces came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// For each nonce, in the order given, whether it was new (false: a replay).
    pub fresh: Vec<bool>,
    /// The log's head as of the write: every event committed before the batch's
    /// statements began is at or below it.
    pub head: u64,
}

/// Records every one of `seen`, a statement per few hundred, and reads the log's head
/// as of the batch's beginning. A nonce already recorded is a replay, and so is the
/// second of two equal ones in `seen`. On PostgreSQL the head comes back from the
/// insert's own statement (its snapshot is taken when the statement begins); SQLite
/// reads it in a statement before. Either way, an error means no nonce was written by
/// the statement that failed, and none after it.
pub async fn remember_all(store: &EventStore, seen: &[SeenNonce]) -> Result<Remembered, StoreError> {
    let with_head = store.backend() == Backend::Postgres;
    let mut inserted = HashSet::new();
    let mut head = if with_head { None } else { Some(head_now(store).await?) };
    // In key order, so that two processes inserting overlapping nonces take their row
    // locks in the same order and never deadlock (PostgreSQL).
    let mut ordered: Vec<&SeenNonce> = seen.iter().collect();
    ordered.sort_unstable_by(|a, b| {
        (&a.client_key, &a.token, a.timestamp, &a.nonce).cmp(&(&b.client_key, &b.token, b.timestamp, &b.nonce))
    });
    let bytes = |nonce: &&SeenNonce| nonce.client_key.len() + nonce.token.len() + nonce.nonce.len() + 8;
    for chunk in statement_chunks(&ordered, bytes) {
        let insert = format!(
            "INSERT INTO nonces (client_key, token, timestamp, nonce) VALUES {} \
             ON CONFLICT DO NOTHING RETURNING client_key, token, timestamp, nonce",
            values_placeholders(chunk.len(), 4)
        );
        // The head's row joined to whatever was inserted: one row even when nothing was.
        let sql = match with_head {
            true => format!(
                "WITH inserted AS ({insert}) SELECT i.client_key, i.token, i.timestamp, i.nonce, h.position AS head \
                 FROM chain_head h LEFT JOIN inserted i ON TRUE WHERE h.id = 1"
            ),
            false => insert,
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for nonce in chunk {
            query = query.bind(&nonce.client_key).bind(&nonce.token).bind(nonce.timestamp).bind(&nonce.nonce);
        }
        for row in query.fetch_all(store.reader()).await? {
            if with_head {
                head = Some(row.try_get::<i64, _>("head")?);
            }
            if let Some(client_key) = row.try_get::<Option<String>, _>("client_key")? {
                inserted.insert(SeenNonce {
                    client_key,
                    token: row.try_get("token")?,
                    timestamp: row.try_get("timestamp")?,
                    nonce: row.try_get("nonce")?,
                });
            }
        }
    }
    let head = head.ok_or_else(|| StoreError::Corrupt("the chain head row is missing".to_owned()))?;
    // Each inserted row is the first of its copies in `seen`; the row answers that one.
    let fresh = seen.iter().map(|nonce| inserted.remove(nonce)).collect();
    Ok(Remembered { fresh, head: u64::try_from(head).unwrap_or(0) })
}

/// The log's head position now.
async fn head_now(store: &EventStore) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT position FROM chain_head WHERE id = 1")
        .fetch_one(store.reader())
        .await?
        .try_get("position")?)
}

/// Forgets nonces with timestamps before `earliest` (seconds since the epoch); returns
/// how many.
pub async fn forget_before(tables: &SideTables, earliest: i64) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM nonces WHERE timestamp < $1").bind(earliest).execute(&tables.pool).await?;
    Ok(result.rows_affected())
}
