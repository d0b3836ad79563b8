//! Signed checkpoints as stored (`checkpoints`): one per tree size, never changed. The
//! signing is the server's; the store keeps them and answers which was in force when.

use chrono::{DateTime, Utc};
use grantlog_tlog::merkle::Hash;
use sqlx::Row;

use crate::error::StoreError;
use crate::event::format_timestamp;
use crate::store::EventStore;

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size it covers.
    pub tree_size: u64,
    /// The tree's root at that size.
    pub root: Hash,
    /// The signed note, as served.
    pub note: String,
    /// When it was signed.
    pub signed_at: DateTime<Utc>,
}

impl EventStore {
    /// Keeps `checkpoint`; `false` when one of its size is kept already (another process
    /// signed the same tree first: same size, same root, the same note).
    pub async fn record_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO checkpoints (tree_size, root, note, signed_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tree_size) DO NOTHING",
        )
        .bind(i64::try_from(checkpoint.tree_size).map_err(|_| StoreError::Corrupt("a tree size".into()))?)
        .bind(checkpoint.root.to_vec())
        .bind(&checkpoint.note)
        .bind(format_timestamp(&checkpoint.signed_at))
        .execute(self.reader())
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// The checkpoint of the largest tree.
    pub async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.one_checkpoint("SELECT * FROM checkpoints ORDER BY tree_size DESC LIMIT 1", None).await
    }

    /// The checkpoint in force at `at`: the largest signed at or before it.
    pub async fn checkpoint_at(&self, at: DateTime<Utc>) -> Result<Option<StoredCheckpoint>, StoreError> {
        let sql = "SELECT * FROM checkpoints WHERE signed_at <= $1 ORDER BY tree_size DESC LIMIT 1";
        self.one_checkpoint(sql, Some(format_timestamp(&at))).await
    }

    /// Every checkpoint, smallest tree first.
    pub async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query("SELECT * FROM checkpoints ORDER BY tree_size").fetch_all(self.reader()).await?;
        rows.iter().map(from_row).collect()
    }

    async fn one_checkpoint(
        &self,
        sql: &'static str,
        at: Option<String>,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let mut query = sqlx::query(sql);
        if let Some(at) = at {
            query = query.bind(at);
        }
        let row = query.fetch_optional(self.reader()).await?;
        row.map(|row| from_row(&row)).transpose()
    }
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredCheckpoint, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("checkpoints: {what}"));
    let tree_size = u64::try_from(row.try_get::<i64, _>("tree_size")?).map_err(|_| corrupt("tree_size"))?;
    let root = Hash::try_from(row.try_get::<Vec<u8>, _>("root")?).map_err(|_| corrupt("root"))?;
    let signed_at = row.try_get::<String, _>("signed_at")?;
    let signed_at = DateTime::parse_from_rfc3339(&signed_at).map_err(|_| corrupt("signed_at"))?.with_timezone(&Utc);
    Ok(StoredCheckpoint { tree_size, root, note: row.try_get("note")?, signed_at })
}
