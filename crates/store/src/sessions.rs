//! Owners' login sessions, by the SHA-256 of the cookie's random id.

use chrono::{DateTime, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::SideTables;
use crate::error::StoreError;
use crate::event::format_timestamp;

/// A live session.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// Who is logged in.
    pub owner_id: Uuid,
    /// The token every state-changing form of this session must carry.
    pub csrf_token: String,
}

/// Leaves out the CSRF token.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("owner_id", &self.owner_id).finish_non_exhaustive()
    }
}

/// Starts a session under `id_hash` until `expires_at`.
pub async fn start(
    tables: &SideTables,
    id_hash: &str,
    session: &Session,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO sessions (id_hash, owner_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id_hash)
        .bind(session.owner_id.to_string())
        .bind(&session.csrf_token)
        .bind(format_timestamp(&expires_at))
        .execute(&tables.pool)
        .await?;
    Ok(())
}

/// The session under `id_hash`, if it has not expired at `now`.
pub async fn find(tables: &SideTables, id_hash: &str, now: DateTime<Utc>) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query("SELECT owner_id, csrf_token FROM sessions WHERE id_hash = $1 AND expires_at > $2")
        .bind(id_hash)
        .bind(format_timestamp(&now))
        .fetch_optional(&tables.pool)
        .await?;
    row.map(|row| {
        let owner: String = row.try_get("owner_id")?;
        Ok(Session {
            owner_id: owner.parse().map_err(|_| StoreError::Corrupt(format!("session owner {owner} is not a UUID")))?,
            csrf_token: row.try_get("csrf_token")?,
        })
    })
    .transpose()
}

/// Ends the session under `id_hash`.
pub async fn end(tables: &SideTables, id_hash: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&tables.pool).await?;
    Ok(())
}

/// Deletes the sessions that expired before `now`; returns how many.
pub async fn prune(tables: &SideTables, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(format_timestamp(&now))
        .execute(&tables.pool)
        .await?;
    Ok(result.rows_affected())
}
