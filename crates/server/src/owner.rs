//! The resource owner's side of the flow: logging in, and deciding on a client's
//! request on the consent page.

use std::net::IpAddr;

use argon2::Argon2;
use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use chrono::{DateTime, TimeDelta, Utc};
use grantlog_domain::{
    AccessDuration, Actor, Approve, Callback, ConsentMethod, ConsentText, Deny, DomainError, Fingerprint, GrantStatus,
    OwnerId, RecordOwnerAuthenticated, ResourceId, Scope,
};
use grantlog_projection::tables::{ClientRow, GrantRow, grant_by_token};
use grantlog_projection::{Context, GrantRecord, ProjectionError, execute};
use grantlog_store::photos::Photo;
use grantlog_store::{profiles, sessions, throttle};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::account::Remembered;
use crate::service::{ServiceError, Services, is_valid_username, random_token};

/// How long a login lasts.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(8);
/// Failed logins allowed per account from one client address within
/// [`LOCKOUT_WINDOW`], counted in the database so that every process shares the count.
/// An account is never locked for everyone: a guesser elsewhere locks only themselves
/// out (OWASP's authentication cheat sheet).
pub const MAX_FAILED_LOGINS: u32 = 5;
/// Failed logins allowed from one client address, whatever the accounts, within
/// [`LOCKOUT_WINDOW`]: higher, since one address may be many people (a NAT, an office).
pub const MAX_FAILED_LOGINS_PER_ADDRESS: u32 = 50;
/// The window failed logins are counted in.
pub const LOCKOUT_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Takes back login attempts reserved, in the windows they were reserved in. (An error
/// between a reservation and its release leaves the attempt counted: the throttle fails
/// closed.)
async fn release(pool: &grantlog_store::AnyPool, reserved: &[(&str, DateTime<Utc>)]) -> Result<(), ServiceError> {
    for (key, since) in reserved {
        throttle::release(pool, key, *since).await?;
    }
    Ok(())
}

/// What a client address is counted as: an IPv4 address itself, an IPv6 address its
/// /64, the least a single subscriber is given, so that stepping through one's own
/// addresses does not start the count afresh.
fn counted_as(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64).map_or_else(|_| v6.to_string(), |net| net.trunc().to_string()),
    }
}

/// Deletes expired sessions and failed-login counters whose window has passed (they
/// count nothing any more); returns how many of each.
pub async fn prune_logins(
    store: &grantlog_store::EventStore,
    now: DateTime<Utc>,
) -> Result<(u64, u64), grantlog_store::StoreError> {
    let sessions = sessions::prune(store.reader(), now).await?;
    let failures = throttle::prune(store.reader(), now - LOCKOUT_WINDOW).await?;
    Ok((sessions, failures))
}

/// The version of the consent wording; its text is hashed into every approval.
pub const CONSENT_VERSION: &str = "v1";

/// What the owner is shown and agrees to (hashed into the approval event).
pub fn consent_text(client_name: &str) -> String {
    format!("{client_name} asks for read-only access to the photos you choose, for the time you choose.")
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

/// A pending request, ready for the consent page.
#[derive(Debug)]
pub struct Pending {
    /// The grant.
    pub grant: GrantRow,
    /// The client asking.
    pub client: ClientRow,
}

/// The owner's answer on the consent page.
#[derive(Debug)]
pub struct Decision {
    /// The request token.
    pub token: String,
    /// Approve, or deny.
    pub approve: bool,
    /// The photos chosen.
    pub photos: Vec<String>,
    /// `1hour`, `1day`, `30days` or `never`.
    pub expires: String,
    /// Remember the decision.
    pub remember: bool,
}

/// Where the owner goes after deciding.
#[derive(Debug)]
pub enum Outcome {
    /// Back to the client's callback, with the query parameters appended.
    Redirect(String),
    /// `oob`: the verifier to show the owner, to type into the client.
    ShowVerifier(String),
}

/// Why a decision was refused (shown to the owner, never a secret).
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// The request is unknown, expired or already decided.
    #[error("this request is unknown, has expired, or was already answered")]
    Gone,
    /// A form value is invalid (which is named).
    #[error("{0}")]
    Invalid(&'static str),
    /// Our failure.
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

impl From<ProjectionError> for DecisionError {
    fn from(error: ProjectionError) -> Self {
        Self::Failed(error.into())
    }
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
        if !is_valid_username(username) {
            return Err(LoginError::InvalidUsername);
        }
        let pool = self.store.reader();
        let address = counted_as(address);
        // A space never occurs in an address, so the account's key cannot be forged by
        // a username that looks like another address.
        let keys = [
            (format!("account {address} {username}"), MAX_FAILED_LOGINS),
            (format!("address {address}"), MAX_FAILED_LOGINS_PER_ADDRESS),
        ];
        let window_start = now - LOCKOUT_WINDOW;
        let mut reserved = Vec::with_capacity(keys.len());
        let mut over = None;
        for (key, limit) in &keys {
            let attempt = throttle::reserve(pool, key, now, window_start).await.map_err(ServiceError::from)?;
            if attempt.attempts > *limit {
                let ends = attempt.window_ends_in(LOCKOUT_WINDOW, now);
                over = Some(over.map_or(ends, |longest: TimeDelta| longest.max(ends)));
            }
            reserved.push((key.as_str(), attempt.since));
        }
        if let Some(retry_after) = over {
            release(pool, &reserved).await?;
            return Err(LoginError::Throttled { retry_after });
        }
        let Ok(_permit) = self.password_checks.clone().try_acquire_owned() else {
            release(pool, &reserved).await?;
            return Err(LoginError::Busy);
        };
        let profile = profiles::find_owner_by_username(pool, username).await.map_err(ServiceError::from)?;
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
        throttle::clear(pool, reserved[0].0).await.map_err(ServiceError::from)?;
        release(pool, &reserved[1..]).await?;
        let cookie = random_token(32);
        let session = sessions::Session { owner_id: profile.owner_id, csrf_token: random_token(24) };
        sessions::start(pool, &session_key(&cookie), &session, now + SESSION_LIFETIME)
            .await
            .map_err(ServiceError::from)?;
        Ok(NewSession { cookie: SecretString::from(cookie), session })
    }

    /// The session a cookie names, if live.
    pub async fn session(&self, cookie: &str, now: DateTime<Utc>) -> Result<Option<sessions::Session>, ServiceError> {
        Ok(sessions::find(self.store.reader(), &session_key(cookie), now).await?)
    }

    /// Ends a session.
    pub async fn logout(&self, cookie: &str) -> Result<(), ServiceError> {
        Ok(sessions::end(self.store.reader(), &session_key(cookie)).await?)
    }

    /// A request token still waiting for its owner's decision.
    pub async fn pending(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Pending>, ServiceError> {
        let Some(grant) = grant_by_token(self.store.reader(), token).await?.filter(|g| g.request_token == token) else {
            return Ok(None);
        };
        if grant.status_at(now) != GrantStatus::Pending {
            return Ok(None);
        }
        let client = grantlog_projection::tables::client_by_id(self.store.reader(), &grant.client_id.to_string())
            .await?
            .ok_or_else(|| ServiceError::Corrupt(format!("grant {} names an unknown client", grant.grant_id)))?;
        Ok(Some(Pending { grant, client }))
    }

    /// The owner's photos, for the consent page.
    pub async fn photos(&self, owner_id: uuid::Uuid) -> Result<std::sync::Arc<[Photo]>, ServiceError> {
        Ok(self.photo_lists.of(self.store.reader(), owner_id).await?)
    }

    /// Records the owner's decision on the consent page and says where to send them.
    pub async fn decide(
        &self,
        owner_id: uuid::Uuid,
        decision: Decision,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<Outcome, DecisionError> {
        let pending = self.pending(&decision.token, now).await?.ok_or(DecisionError::Gone)?;
        let answer = if decision.approve {
            let owned: Vec<String> = self.photos(owner_id).await?.iter().map(|p| p.photo_id.clone()).collect();
            if decision.photos.iter().any(|photo| !owned.contains(photo)) {
                return Err(DecisionError::Invalid("choose among your own photos"));
            }
            let resources = decision
                .photos
                .iter()
                .map(|photo| ResourceId::parse(photo))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| DecisionError::Invalid("choose among your own photos"))?;
            let duration = AccessDuration::parse(&decision.expires)
                .map_err(|_| DecisionError::Invalid("choose how long access lasts"))?;
            Answer::Approve(Choice {
                scope: Scope::parse("photos:read").map_err(ServiceError::from)?,
                resources,
                duration,
                remembered: decision.remember,
                method: ConsentMethod::ConsentPage,
            })
        } else {
            Answer::Deny
        };
        self.answer(OwnerId::new(owner_id), &pending, answer, now, trace_id).await
    }

    /// Applies the decision the owner asked to be remembered for this client, without
    /// asking: the same photos and duration, for the scope the client asks now, recorded
    /// as a [`ConsentMethod::RememberedDecision`] pointing at the approval it repeats.
    /// `None` when it no longer fits — a remembered photo is gone, or the client asks
    /// for more than was remembered —: the owner is asked instead.
    pub async fn apply_remembered(
        &self,
        owner_id: uuid::Uuid,
        pending: &Pending,
        remembered: &Remembered,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<Option<Outcome>, DecisionError> {
        let approval = &remembered.approval;
        let owned: Vec<String> = self.photos(owner_id).await?.iter().map(|p| p.photo_id.clone()).collect();
        let photos_remain = approval.resources.iter().all(|photo| owned.iter().any(|id| id == photo.as_str()));
        let requested = pending.grant.requested_scope.clone();
        if !photos_remain || !requested.is_subset_of(&approval.scope) {
            return Ok(None);
        }
        let choice = Choice {
            scope: requested,
            resources: approval.resources.clone(),
            duration: approval.duration,
            remembered: false,
            method: ConsentMethod::RememberedDecision { remembered_in: remembered.grant_id },
        };
        self.answer(OwnerId::new(owner_id), pending, Answer::Approve(choice), now, trace_id).await.map(Some)
    }

    /// Records that the owner answered `pending`, then her answer; says where to send her.
    async fn answer(
        &self,
        owner: OwnerId,
        pending: &Pending,
        answer: Answer,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<Outcome, DecisionError> {
        let grant_id = pending.grant.grant_id;
        let context = Context { now, actor: Actor::Owner(owner.uuid()), trace_id: Some(trace_id.to_owned()) };
        let stream = grant_id.stream_id();
        let authenticated = RecordOwnerAuthenticated { owner_id: owner, now }.into();
        execute::<GrantRecord>(&self.store, &stream, &authenticated, &context).await.map_err(refused)?;

        let callback = Callback::parse(&pending.grant.callback).map_err(|_| DecisionError::Gone)?;
        let token = pending.grant.request_token.clone();
        let mut query = vec![("oauth_token", token)];
        let verifier = match answer {
            Answer::Approve(choice) => {
                let verifier = random_token(16);
                let approval = Approve {
                    owner_id: owner,
                    scope: choice.scope,
                    resources: choice.resources,
                    duration: choice.duration,
                    remembered: choice.remembered,
                    method: choice.method,
                    consent_text: ConsentText::shown(CONSENT_VERSION, &consent_text(&pending.client.name))
                        .map_err(ServiceError::from)?,
                    verifier_fingerprint: Fingerprint::of(&verifier),
                    now,
                };
                execute::<GrantRecord>(&self.store, &stream, &approval.into(), &context).await.map_err(refused)?;
                query.push(("oauth_verifier", verifier.clone()));
                Some(verifier)
            }
            Answer::Deny => {
                let denial = Deny { owner_id: owner, method: ConsentMethod::ConsentPage, now };
                execute::<GrantRecord>(&self.store, &stream, &denial.into(), &context).await.map_err(refused)?;
                query.push(("oauth_problem", "permission_denied".to_owned()));
                None
            }
        };
        Ok(match (callback, verifier) {
            (Callback::Oob, Some(verifier)) => Outcome::ShowVerifier(verifier),
            (Callback::Oob, None) => Outcome::ShowVerifier(String::new()),
            (Callback::Url(url), _) => Outcome::Redirect(with_query(url.as_str(), &query)),
        })
    }
}

/// The owner's answer to a request.
enum Answer {
    Approve(Choice),
    Deny,
}

/// What an approval grants, and how it was decided.
struct Choice {
    scope: Scope,
    resources: Vec<ResourceId>,
    duration: AccessDuration,
    remembered: bool,
    method: ConsentMethod,
}

/// The domain's refusals on the consent page: the request is no longer answerable,
/// or the choice is invalid.
fn refused(error: ProjectionError) -> DecisionError {
    match error {
        ProjectionError::Domain(DomainError::NoResourcesChosen) => DecisionError::Invalid("choose at least one photo"),
        ProjectionError::Domain(_) => DecisionError::Gone,
        error => error.into(),
    }
}

/// `url` with `pairs` appended to its query (before any fragment).
fn with_query(url: &str, pairs: &[(&str, String)]) -> String {
    use grantlog_oauth1::encoding::percent_encode;
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let mut out = base.to_owned();
    for (index, (name, value)) in pairs.iter().enumerate() {
        out.push(if index == 0 && !base.contains('?') { '?' } else { '&' });
        out.push_str(&format!("{}={}", percent_encode(name), percent_encode(value)));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// An argon2id hash of a random password, checked against when the username is unknown
/// so that unknown and known usernames take the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_keep_their_query_and_fragment() {
        let pairs = [("oauth_token", "t".to_owned()), ("oauth_verifier", "v w".to_owned())];
        assert_eq!(with_query("http://a.test/cb", &pairs), "http://a.test/cb?oauth_token=t&oauth_verifier=v%20w");
        assert_eq!(with_query("http://a.test/cb?x=1#top", &pairs[..1]), "http://a.test/cb?x=1&oauth_token=t#top");
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_one_as_ipv4() {
        let at = |text: &str| counted_as(text.parse().unwrap());
        assert_eq!(at("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(at("2001:db8:1:2:bbbb::9"), at("2001:db8:1:2:aaaa::1"));
        assert_ne!(at("2001:db8:1:3::1"), at("2001:db8:1:2::1"));
        assert_eq!(at("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(at("203.0.113.9"), "203.0.113.9");
    }

    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_hash() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
