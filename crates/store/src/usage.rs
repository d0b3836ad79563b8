//! How often and when each grant's access token was used: counters beside the log, not
//! events (a fetch changes no grant), shared by every process on the database. Each
//! process adds what it counted in batches ([`record_uses`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::SideTables;
use crate::error::StoreError;
use crate::event::format_timestamp;

/// A grant's use so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Successful protected-resource requests made with its access token.
    pub count: u64,
    /// When the first was made (RFC 3339).
    pub first_used_at: String,
    /// When the last was made (RFC 3339).
    pub last_used_at: String,
}

/// Uses of one grant not yet written: how many, the first and the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uses {
    /// The grant.
    pub grant_id: String,
    /// How many.
    pub count: u64,
    /// When the first was made.
    pub first: DateTime<Utc>,
    /// When the last was made.
    pub last: DateTime<Utc>,
}

/// How long a batch's id is remembered: far longer than a process takes to retry it.
const BATCHES_KEPT_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Adds the batch `batch_id` of `uses` to the counters, in one transaction, unless a
/// batch with that id was added already: a batch whose write failed is retried under
/// the same id, and the failure may have come after its commit landed.
pub async fn record_uses(
    tables: &SideTables,
    batch_id: uuid::Uuid,
    uses: &[Uses],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut transaction = tables.pool.begin().await?;
    let first_time = sqlx::query(
        "INSERT INTO grant_usage_batches (batch_id, written_at) VALUES ($1, $2) ON CONFLICT (batch_id) DO NOTHING",
    )
    .bind(batch_id.to_string())
    .bind(format_timestamp(&now))
    .execute(&mut *transaction)
    .await?
    .rows_affected()
        == 1;
    if !first_time {
        return Ok(());
    }
    for used in uses {
        sqlx::query(
            "INSERT INTO grant_usage (grant_id, use_count, first_used_at, last_used_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (grant_id) DO UPDATE SET use_count = grant_usage.use_count + excluded.use_count, \
             first_used_at = CASE WHEN excluded.first_used_at < grant_usage.first_used_at \
                                  THEN excluded.first_used_at ELSE grant_usage.first_used_at END, \
             last_used_at = CASE WHEN excluded.last_used_at > grant_usage.last_used_at \
                                 THEN excluded.last_used_at ELSE grant_usage.last_used_at END",
        )
        .bind(&used.grant_id)
        .bind(i64::try_from(used.count).unwrap_or(i64::MAX))
        .bind(format_timestamp(&used.first))
        .bind(format_timestamp(&used.last))
        .execute(&mut *transaction)
        .await?;
    }
    sqlx::query("DELETE FROM grant_usage_batches WHERE written_at < $1")
        .bind(format_timestamp(&(now - BATCHES_KEPT_FOR)))
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

/// The use of those of `grant_ids` that were used, by grant id.
pub async fn usage_of(tables: &SideTables, grant_ids: &[String]) -> Result<HashMap<String, Usage>, StoreError> {
    let mut found = HashMap::new();
    // A few hundred ids per statement keeps well inside every driver's bind limit.
    for chunk in grant_ids.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT grant_id, use_count, first_used_at, last_used_at FROM grant_usage WHERE grant_id IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for grant_id in chunk {
            query = query.bind(grant_id);
        }
        for row in query.fetch_all(&tables.pool).await? {
            found.insert(row.try_get("grant_id")?, usage(&row)?);
        }
    }
    Ok(found)
}

/// The use of one grant, if it was used.
pub async fn usage_of_grant(tables: &SideTables, grant_id: &str) -> Result<Option<Usage>, StoreError> {
    let row = sqlx::query("SELECT use_count, first_used_at, last_used_at FROM grant_usage WHERE grant_id = $1")
        .bind(grant_id)
        .fetch_optional(&tables.pool)
        .await?;
    Ok(row.as_ref().map(usage).transpose()?)
}

fn usage(row: &sqlx::any::AnyRow) -> Result<Usage, sqlx::Error> {
    Ok(Usage {
        count: u64::try_from(row.try_get::<i64, _>("use_count")?).unwrap_or(0),
        first_used_at: row.try_get("first_used_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}
