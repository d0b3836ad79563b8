//! Clients' RSA public keys, parsed once per process: parsing a PEM key costs more than
//! verifying the signature it checks. Keyed by the PEM text itself, so a client whose
//! key changes is parsed anew; whether the client may sign at all is still read from
//! its row for every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use grantlog_oauth1::{RsaPublicKey, rsa_public_key_from_pem};

/// How many keys are kept; past it the cache starts again empty.
const MOST_KEPT: usize = 10_000;

/// Parsed RSA public keys by their PEM text.
#[derive(Debug, Default)]
pub struct RsaKeys {
    parsed: Mutex<HashMap<String, Arc<RsaPublicKey>>>,
}

impl RsaKeys {
    /// The key `pem` holds, or `None` if it holds no usable RSA public key (registration
    /// refuses such keys, so only a row edited behind our back gets here).
    pub fn get(&self, pem: &str) -> Option<Arc<RsaPublicKey>> {
        if let Some(key) = self.parsed().get(pem) {
            return Some(key.clone());
        }
        let key = Arc::new(rsa_public_key_from_pem(pem).ok()?);
        let mut parsed = self.parsed();
        if parsed.len() >= MOST_KEPT {
            parsed.clear();
        }
        parsed.insert(pem.to_owned(), key.clone());
        Some(key)
    }

    fn parsed(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<RsaPublicKey>>> {
        // Nothing panics while holding the lock; a poisoned one is still sound.
        self.parsed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
