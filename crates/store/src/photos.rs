//! Owners' photos: the resources the demo's resource server (Faji) protects. Kept in the
//! same database for the demo; not events.

use sqlx::Row;
use uuid::Uuid;

use crate::SideTables;
use crate::error::StoreError;

/// A photo's description, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// Its id (what grants name as a resource).
    pub photo_id: String,
    /// Whose it is.
    pub owner_id: Uuid,
    /// Its title.
    pub title: String,
    /// Its media type.
    pub content_type: String,
}

/// Stores a photo.
pub async fn insert_photo(tables: &SideTables, photo: &Photo, bytes: &[u8]) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO photos (photo_id, owner_id, title, content_type, bytes) VALUES ($1, $2, $3, $4, $5)")
        .bind(&photo.photo_id)
        .bind(photo.owner_id.to_string())
        .bind(&photo.title)
        .bind(&photo.content_type)
        .bind(bytes.to_vec())
        .execute(&tables.pool)
        .await?;
    Ok(())
}

/// An owner's photos, by id.
pub async fn photos_of(tables: &SideTables, owner_id: Uuid) -> Result<Vec<Photo>, StoreError> {
    let rows =
        sqlx::query("SELECT photo_id, owner_id, title, content_type FROM photos WHERE owner_id = $1 ORDER BY photo_id")
            .bind(owner_id.to_string())
            .fetch_all(&tables.pool)
            .await?;
    rows.iter()
        .map(|row| {
            let owner: String = row.try_get("owner_id")?;
            Ok(Photo {
                photo_id: row.try_get("photo_id")?,
                owner_id: owner
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("photo owner {owner} is not a UUID")))?,
                title: row.try_get("title")?,
                content_type: row.try_get("content_type")?,
            })
        })
        .collect()
}

/// One of an owner's photos with its bytes, if it is theirs.
pub async fn photo_bytes(
    tables: &SideTables,
    owner_id: Uuid,
    photo_id: &str,
) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let row = sqlx::query("SELECT content_type, bytes FROM photos WHERE owner_id = $1 AND photo_id = $2")
        .bind(owner_id.to_string())
        .bind(photo_id)
        .fetch_optional(&tables.pool)
        .await?;
    row.map(|row| Ok((row.try_get("content_type")?, row.try_get("bytes")?))).transpose()
}
