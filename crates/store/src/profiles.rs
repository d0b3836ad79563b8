//! Owners' personal data (username, password hash), kept out of the events: events
//! name owners by pseudonymous id only, so erasing a person deletes this row and
//! leaves the hash chain intact.

use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::error::{StoreError, is_unique_violation};

/// An owner's login record.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnerProfile {
    /// The pseudonymous id the events use.
    pub owner_id: Uuid,
    /// The login name.
    pub username: String,
    /// The password hash (PHC string); never the password.
    pub password_hash: String,
}

/// Leaves out the password hash, which can be attacked offline.
impl std::fmt::Debug for OwnerProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnerProfile").field("owner_id", &self.owner_id).field("username", &self.username).finish()
    }
}

/// Records a new owner's profile in the caller's transaction.
pub async fn insert_owner_profile(connection: &mut AnyConnection, profile: &OwnerProfile) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO owner_profiles (owner_id, username, password_hash) VALUES ($1, $2, $3)")
        .bind(profile.owner_id.to_string())
        .bind(&profile.username)
        .bind(&profile.password_hash)
        .execute(connection)
        .await
        .map_err(|error| if is_unique_violation(&error) { StoreError::UsernameTaken } else { error.into() })?;
    Ok(())
}

/// The profile for `username`, if there is one.
pub async fn find_owner_by_username(pool: &AnyPool, username: &str) -> Result<Option<OwnerProfile>, StoreError> {
    if !crate::storable(username) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT owner_id, username, password_hash FROM owner_profiles WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await?;
    row.map(|row| {
        let owner_id: String = row.try_get("owner_id")?;
        Ok(OwnerProfile {
            owner_id: owner_id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("owner id {owner_id} is not a UUID")))?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
        })
    })
    .transpose()
}

/// Deletes an owner's personal data — her username, password hash and photos — and
/// ends her sessions; returns whether there was a profile. Runs in the erasure's transaction.
pub async fn erase_owner_profile(connection: &mut AnyConnection, owner_id: Uuid) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM owner_profiles WHERE owner_id = $1")
        .bind(owner_id.to_string())
        .execute(&mut *connection)
        .await?;
    for sql in ["DELETE FROM sessions WHERE owner_id = $1", "DELETE FROM photos WHERE owner_id = $1"] {
        sqlx::query(sql).bind(owner_id.to_string()).execute(&mut *connection).await?;
    }
    Ok(result.rows_affected() > 0)
}
