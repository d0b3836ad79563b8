//! Logging in: the password checked against its argon2id hash, the lockout counted
//! before the check (the rules are the domain's, `grantlog_domain::credentials`), and
//! the sessions that follow.

use std::net::IpAddr;

use argon2::Argon2;
use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use chrono::{DateTime, TimeDelta, Utc};
use grantlog_domain::{LOCKOUT_WINDOW, SESSION_LIFETIME, Username, lockout_window_start, login_counters};
use grantlog_store::{SideTables, profiles, sessions, throttle};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{ServiceError, Services, random_token};

/// Takes back login attempts reserved, in the windows they were reserved in. (An error
/// between a reservation and its release leaves the attempt counted: the throttle fails
/// closed.)
async fn release(tables: &SideTables, reserved: &[(&str, DateTime<Utc>)]) -> Result<(), ServiceError> {
    for (key, since) in reserved {
        throttle::release(tables, key, *since).await?;
    }
    Ok(())
}

/// Deletes expired sessions and failed-login counters whose window has passed (they
/// count nothing any more); returns how many of each.
pub async fn prune_logins(
    store: &grantlog_store::EventStore,
    now: DateTime<Utc>,
) -> Result<(u64, u64), grantlog_store::StoreError> {
    let sessions = sessions::prune(store.side_tables(), now).await?;
    let failures = throttle::prune(store.side_tables(), lockout_window_start(now)).await?;
    Ok((sessions, failures))
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user or wrong password (never which).
    #[error("wrong username or password")]
    Refused,
    /// The username cannot name an owner: empty, too long, or with control characters.
    #[error("username must be 1 to 64 printable characters")]
    InvalidUsername,
    /// Too many failures lately, for this account from this address or from this
    /// address altogether; try again after this long.
    #[error("too many failed logins; try again later")]
    Throttled {
        /// When the window that holds the failures ends.
        retry_after: TimeDelta,
    },
    /// Every password check this process allows at once is running; try again shortly.
    #[error("too many logins at once; try again shortly")]
    Busy,
    /// Our failure.
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

/// A new session: the cookie's value (a secret) and the session.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie value.
    pub cookie: SecretString,
    /// The session.
    pub session: sessions::Session,
}

/// The SHA-256 under which a session cookie's session is stored.
pub fn session_key(cookie: &str) -> String {
    hex_digest(cookie)
}

fn hex_digest(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Services {
    /// Checks a username and password; starts a session. Unknown usernames cost the
    /// same argon2 work as known ones.
    ///
    /// The attempt is counted before the password is checked, for this account from
    /// `address` and for `address` altogether ([`throttle::reserve`]); past either
    /// limit it is refused unchecked. An attempt that was not a failure (the password
    /// was right, or it was never checked) is taken back.
    pub async fn login(
        &self,
        username: &str,
        password: SecretString,
        address: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<NewSession, LoginError> {
        let username = Username::parse(username).map_err(|_| LoginError::InvalidUsername)?;
        let tables = self.store.side_tables();
        let counters = login_counters(address, &username);
        let window_start = lockout_window_start(now);
        let mut reserved = Vec::with_capacity(counters.len());
        let mut over = None;
        for counter in &counters {
            let (key, limit) = (&counter.key, counter.limit);
            let attempt = throttle::reserve(tables, key, now, window_start).await.map_err(ServiceError::from)?;
            if attempt.attempts > limit {
                let ends = attempt.window_ends_in(LOCKOUT_WINDOW, now);
                over = Some(over.map_or(ends, |longest: TimeDelta| longest.max(ends)));
            }
            reserved.push((key.as_str(), attempt.since));
        }
        if let Some(retry_after) = over {
            release(tables, &reserved).await?;
            return Err(LoginError::Throttled { retry_after });
        }
        let Ok(_permit) = self.password_checks.clone().try_acquire_owned() else {
            release(tables, &reserved).await?;
            return Err(LoginError::Busy);
        };
        let profile = profiles::find_owner_by_username(self.store.reader(), username.as_str())
            .await
            .map_err(ServiceError::from)?;
        let stored = profile.as_ref().map_or(DUMMY_HASH.to_owned(), |p| p.password_hash.clone());
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|hash| Argon2::default().verify_password(password.expose_secret().as_bytes(), &hash).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(|_| ServiceError::Hashing)?;
        let Some(profile) = profile.filter(|_| matches) else {
            return Err(LoginError::Refused);
        };
        // The account's count from here resets; the address's keeps its other failures,
        // or logging in to one's own account between guesses would reset it.
        throttle::clear(tables, reserved[0].0).await.map_err(ServiceError::from)?;
        release(tables, &reserved[1..]).await?;
        let cookie = random_token(32);
        let session = sessions::Session { owner_id: profile.owner_id, csrf_token: random_token(24) };
        sessions::start(tables, &session_key(&cookie), &session, now + SESSION_LIFETIME)
            .await
            .map_err(ServiceError::from)?;
        Ok(NewSession { cookie: SecretString::from(cookie), session })
    }

    /// The session a cookie names, if live.
    pub async fn session(&self, cookie: &str, now: DateTime<Utc>) -> Result<Option<sessions::Session>, ServiceError> {
        Ok(sessions::find(self.store.side_tables(), &session_key(cookie), now).await?)
    }

    /// Ends a session.
    pub async fn logout(&self, cookie: &str) -> Result<(), ServiceError> {
        Ok(sessions::end(self.store.side_tables(), &session_key(cookie)).await?)
    }
}

/// An argon2id hash of a random password, checked against when the username is unknown
/// so that unknown and known usernames take the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
