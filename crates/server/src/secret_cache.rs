//! Secrets unsealed once per process. Reading and decrypting the client's and the
//! token's secrets cost a signed request two of its statements. Nothing here decides
//! whether a credential is good: that is the rows' (`token_states.rs`, made as new as
//! each request's nonce batch). A client's secret is kept under the fingerprint its row names, so a
//! rotation is seen at once; a token's secret never changes.

use std::collections::HashMap;
use std::sync::Mutex;

use grantlog_store::{AnyPool, SecretBox, StoreError};
use secrecy::SecretString;

/// How many secrets are kept; past it the cache starts again empty, which costs only
/// the reads it saved.
const MOST_KEPT: usize = 100_000;

/// Unsealed secrets by their id in the secret store.
#[derive(Debug, Default)]
pub struct SecretCache {
    unsealed: Mutex<HashMap<String, Unsealed>>,
}

#[derive(Debug)]
struct Unsealed {
    /// The fingerprint it was kept under, for secrets that can change.
    fingerprint: Option<String>,
    secret: SecretString,
}

impl SecretCache {
    /// The secret sealed under `id`, if any. With a `fingerprint`, a kept secret is
    /// used only if it was kept under that same fingerprint.
    pub async fn get(
        &self,
        sealed: &SecretBox,
        pool: &AnyPool,
        id: &str,
        fingerprint: Option<&str>,
    ) -> Result<Option<SecretString>, StoreError> {
        if let Some(kept) = self.unsealed().get(id).filter(|kept| kept.fingerprint.as_deref() == fingerprint) {
            return Ok(Some(kept.secret.clone()));
        }
        let Some(secret) = sealed.get(pool, id).await? else { return Ok(None) };
        let mut unsealed = self.unsealed();
        if unsealed.len() >= MOST_KEPT {
            unsealed.clear();
        }
        unsealed
            .insert(id.to_owned(), Unsealed { fingerprint: fingerprint.map(str::to_owned), secret: secret.clone() });
        Ok(Some(secret))
    }

    fn unsealed(&self) -> std::sync::MutexGuard<'_, HashMap<String, Unsealed>> {
        // Nothing panics while holding the lock; a poisoned one is still sound.
        self.unsealed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use grantlog_store::SecretBox;
    use grantlog_store::testing::TestDatabase;
    use secrecy::ExposeSecret;

    use super::*;

    grantlog_store::backend_tests!(a_kept_secret_serves_only_under_its_fingerprint);

    async fn a_kept_secret_serves_only_under_its_fingerprint(database: TestDatabase) {
        let store = database.store().await;
        let sealed = SecretBox::from_key(&[3; 32]);
        let seal = |secret: &'static str| {
            let (store, sealed) = (store.clone(), sealed.clone());
            async move {
                let mut connection = store.reader().acquire().await.unwrap();
                SecretBox::wipe(&mut connection, "client-secret:c").await.unwrap();
                sealed.put(&mut connection, "client-secret:c", secret).await.unwrap();
            }
        };
        let cache = SecretCache::default();
        let get = |fingerprint| cache.get(&sealed, store.reader(), "client-secret:c", fingerprint);
        let text = |secret: Option<SecretString>| secret.unwrap().expose_secret().to_owned();

        seal("first").await;
        assert_eq!(text(get(Some("f1")).await.unwrap()), "first");
        // Replaced behind the cache's back: the old fingerprint still gets what was kept
        // (proof it was not read again), a new fingerprint reads the new secret.
        seal("second").await;
        assert_eq!(text(get(Some("f1")).await.unwrap()), "first");
        assert_eq!(text(get(Some("f2")).await.unwrap()), "second");
        assert_eq!(text(get(Some("f2")).await.unwrap()), "second");
        assert!(cache.get(&sealed, store.reader(), "token-secret:none", None).await.unwrap().is_none());
    }
}
