//! Secrets (client secrets, token secrets, verifiers) live apart from the events,
//! encrypted at rest with XChaCha20-Poly1305 under a key from configuration. A secret is
//! bound to its id (the id is the AEAD's associated data), so a ciphertext copied to
//! another row does not decrypt. Wiping a row destroys the secret and leaves the log
//! untouched.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::{AnyPool, Row};

use crate::error::StoreError;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// The encryption key for the secret store, and the operations on the `secrets` table.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBox").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl SecretBox {
    /// A box for a 32-byte key.
    pub fn from_key(key: &[u8; KEY_LEN]) -> Self {
        let key_id = hex::encode(&Sha256::digest(key)[..8]);
        Self { cipher: XChaCha20Poly1305::new(key.into()), key_id }
    }

    /// The key for a database's secrets: the key file at `path`, which must be the key
    /// the database's secrets are sealed with. It is created (as [`Self::load_or_create`]
    /// does) only for a database that holds no sealed secret: a new key would leave
    /// every secret already sealed unreadable. A missing or different key is refused in
    /// one line naming the key id expected and the file read.
    pub async fn open_for(path: &Path, pool: &AnyPool) -> Result<Self, StoreError> {
        let sealed_with: Vec<String> = sqlx::query("SELECT DISTINCT key_id FROM secrets ORDER BY key_id")
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| row.try_get("key_id"))
            .collect::<Result<_, _>>()?;
        let expected = sealed_with.join(", ");
        let restore = "restore that key file from its backup (docs/operations.md)";
        if !sealed_with.is_empty() && !path.exists() {
            return Err(StoreError::Secrets(format!(
                "no key file at {}, but this database's secrets are sealed with key {expected}; {restore}",
                path.display()
            )));
        }
        let key = Self::load_or_create(path)?;
        if sealed_with.iter().any(|key_id| *key_id != key.key_id) {
            return Err(StoreError::Secrets(format!(
                "the key in {} is {}, but this database's secrets are sealed with key {expected}; {restore}",
                path.display(),
                key.key_id
            )));
        }
        Ok(key)
    }

    /// Reads the key file (64 hex digits), creating it with a random key, readable by
    /// its owner only, when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, StoreError> {
        let failed =
            |what: &str, error: &dyn fmt::Display| StoreError::Secrets(format!("{what} {}: {error}", path.display()));
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mut key = [0; KEY_LEN];
                hex::decode_to_slice(text.trim(), &mut key).map_err(|e| failed("reading key file", &e))?;
                Ok(Self::from_key(&key))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0; KEY_LEN];
                getrandom::fill(&mut key).map_err(|e| failed("generating key for", &e))?;
                // Written whole and synced under a temporary name, then linked into place:
                // a crash never leaves an empty key file, and of two processes starting
                // at once the loser reads the winner's key.
                let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&temporary).map_err(|e| failed("creating key file", &e))?;
                writeln!(file, "{}", hex::encode(key)).map_err(|e| failed("writing key file", &e))?;
                file.sync_all().map_err(|e| failed("syncing key file", &e))?;
                let linked = std::fs::hard_link(&temporary, path);
                let _ = std::fs::remove_file(&temporary);
                match linked {
                    Ok(()) => {
                        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                            std::fs::File::open(folder).and_then(|dir| dir.sync_all()).ok();
                        }
                        Ok(Self::from_key(&key))
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
                    Err(error) => Err(failed("creating key file", &error)),
                }
            }
            Err(error) => Err(failed("reading key file", &error)),
        }
    }

    /// Which key this is: the first 8 bytes of its SHA-256, in hex. Stored with each
    /// secret so a wrong key is reported as such.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Stores `secret` under `id`, in the caller's transaction. Refused when the stored
    /// secrets are sealed with another key: a rotation committed while this process ran
    /// with the old one, whose secrets nothing could open alongside the rotated ones.
    pub async fn put(&self, connection: &mut AnyConnection, id: &str, secret: &str) -> Result<(), StoreError> {
        let (nonce, ciphertext) = self.seal(id, secret.as_bytes())?;
        let inserted = sqlx::query(
            "INSERT INTO secrets (id, key_id, nonce, ciphertext) SELECT $1, $2, $3, $4 \
             WHERE NOT EXISTS (SELECT 1 FROM secrets WHERE key_id < $2 OR key_id > $2)",
        )
        .bind(id)
        .bind(&self.key_id)
        .bind(nonce)
        .bind(ciphertext)
        .execute(connection)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Secrets(format!(
                "the stored secrets are sealed with another key than {} (rotated since this process started): \
                 restart it with the current key file",
                self.key_id
            )));
        }
        Ok(())
    }

    /// The secret stored under `id`, if any (none after it was wiped).
    pub async fn get(&self, pool: &AnyPool, id: &str) -> Result<Option<SecretString>, StoreError> {
        let Some(row) = sqlx::query("SELECT key_id, nonce, ciphertext FROM secrets WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
        else {
            return Ok(None);
        };
        let plaintext = self.open(id, &row)?;
        let text =
            String::from_utf8(plaintext).map_err(|_| StoreError::Secrets(format!("secret {id} is not UTF-8")))?;
        Ok(Some(SecretString::from(text)))
    }

    /// How many secrets are stored.
    pub async fn count(pool: &AnyPool) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM secrets").fetch_one(pool).await?.try_get("n")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Re-seals every stored secret under `new`, in the caller's transaction (so with the
    /// event that records it); returns how many. Every secret must be sealed with this
    /// key: one that is not stops the whole re-sealing.
    pub async fn reseal_all(&self, new: &SecretBox, connection: &mut AnyConnection) -> Result<u64, StoreError> {
        let rows = sqlx::query("SELECT id, key_id, nonce, ciphertext FROM secrets ORDER BY id")
            .fetch_all(&mut *connection)
            .await?;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let plaintext = zeroize::Zeroizing::new(self.open(&id, row)?);
            let (nonce, ciphertext) = new.seal(&id, &plaintext)?;
            sqlx::query("UPDATE secrets SET key_id = $1, nonce = $2, ciphertext = $3 WHERE id = $4")
                .bind(&new.key_id)
                .bind(nonce)
                .bind(ciphertext)
                .bind(&id)
                .execute(&mut *connection)
                .await?;
        }
        Ok(rows.len() as u64)
    }

    /// A fresh nonce and `plaintext` sealed under `id` with it.
    fn seal(&self, id: &str, plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let mut nonce = [0; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| StoreError::Secrets(format!("generating a nonce: {e}")))?;
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::try_from(&nonce[..]).expect("nonce length checked"),
                Payload { msg: plaintext, aad: id.as_bytes() },
            )
            .map_err(|_| StoreError::Secrets("encryption failed".into()))?;
        Ok((nonce.to_vec(), ciphertext))
    }

    /// The plaintext of a `secrets` row (`key_id`, `nonce`, `ciphertext`) stored under
    /// `id`, if this key sealed it.
    fn open(&self, id: &str, row: &sqlx::any::AnyRow) -> Result<Vec<u8>, StoreError> {
        let key_id: String = row.try_get("key_id")?;
        if key_id != self.key_id {
            return Err(StoreError::Secrets(format!("secret {id} was sealed with key {key_id}, not {}", self.key_id)));
        }
        let nonce: Vec<u8> = row.try_get("nonce")?;
        let ciphertext: Vec<u8> = row.try_get("ciphertext")?;
        if nonce.len() != NONCE_LEN {
            return Err(StoreError::Secrets(format!("secret {id} has a malformed nonce")));
        }
        self.cipher
            .decrypt(
                &XNonce::try_from(&nonce[..]).expect("nonce length checked"),
                Payload { msg: &ciphertext, aad: id.as_bytes() },
            )
            .map_err(|_| StoreError::Secrets(format!("secret {id} does not decrypt (tampered or moved)")))
    }

    /// Stores `secret` under `id` unless a secret is stored there already, in the
    /// caller's transaction; returns whether it stored it. (Appends hold the chain
    /// head's lock, so within one two writers cannot both find `id` free.)
    pub async fn put_if_absent(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        secret: &str,
    ) -> Result<bool, StoreError> {
        let stored = sqlx::query("SELECT 1 AS found FROM secrets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *connection)
            .await?;
        if stored.is_some() {
            return Ok(false);
        }
        self.put(connection, id, secret).await?;
        Ok(true)
    }

    /// Seals the secret stored under `from` again under `to` (replacing what `to`
    /// held), in the caller's transaction: the id is the ciphertext's associated data,
    /// so a row cannot simply be copied. Returns whether `from` held one.
    pub async fn copy(&self, connection: &mut AnyConnection, from: &str, to: &str) -> Result<bool, StoreError> {
        let Some(row) = sqlx::query("SELECT key_id, nonce, ciphertext FROM secrets WHERE id = $1")
            .bind(from)
            .fetch_optional(&mut *connection)
            .await?
        else {
            return Ok(false);
        };
        let plaintext = self.open(from, &row)?;
        let text =
            String::from_utf8(plaintext).map_err(|_| StoreError::Secrets(format!("secret {from} is not UTF-8")))?;
        Self::wipe(connection, to).await?;
        self.put(connection, to, &text).await?;
        Ok(true)
    }

    /// Destroys the secret under `id`; returns whether there was one.
    pub async fn wipe(connection: &mut AnyConnection, id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM secrets WHERE id = $1").bind(id).execute(connection).await?;
        Ok(result.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_owner_only_and_then_reused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("grantlog.key");
        let created = SecretBox::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let reloaded = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(created.key_id(), reloaded.key_id());
        assert_ne!(created.key_id(), SecretBox::load_or_create(&folder.path().join("other.key")).unwrap().key_id());
    }

    #[test]
    fn a_damaged_key_file_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("grantlog.key");
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(SecretBox::load_or_create(&path), Err(StoreError::Secrets(_))));
    }
}
