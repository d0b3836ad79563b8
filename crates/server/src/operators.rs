//! The operators' bearer tokens: the admin API's (`GRANTLOG_ADMIN_TOKEN`) and the
//! auditors' (`GRANTLOG_AUDITOR_TOKEN`). Only their SHA-256 is kept, and a presented
//! token is compared by its SHA-256, so the comparison's timing says nothing about the
//! token. A role without a token configured has its API switched off: every request
//! to it is refused.
//!
//! An auditor who logs in to the `/audit` page with the token gets a session cookie
//! that holds no state on the server: its expiry and an HMAC-SHA256 of it under a key
//! derived from the token (not its SHA-256, which is what a bearer token is checked
//! against, so knowing one does not give the other). Every node with the same token accepts it; changing the token ends
//! every such session; nothing else can end one before its hour is up, which is why
//! that is all it lasts (docs/audit.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest, Sha256};

/// The shortest operator token accepted: 32 characters (e.g. 24 random bytes in
/// base64), so that guessing is hopeless.
pub const MIN_TOKEN_LEN: usize = 32;

/// Who may call the operators' APIs.
#[derive(Clone, Default)]
pub struct OperatorTokens {
    admin: Option<[u8; 32]>,
    auditor: Option<[u8; 32]>,
    /// The auditor page's session key, derived from the auditor token.
    auditor_session_key: Option<[u8; 32]>,
}

impl std::fmt::Debug for OperatorTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Which roles are on, never the digests or the session key.
        f.debug_struct("OperatorTokens")
            .field("admin", &self.admin.is_some())
            .field("auditor", &self.auditor.is_some())
            .finish_non_exhaustive()
    }
}

/// An operator's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `POST /admin/…`.
    Admin,
    /// `GET /audit/…`.
    Auditor,
}

/// A configured token is too short.
#[derive(Debug, thiserror::Error)]
#[error("the {0} token must be at least {MIN_TOKEN_LEN} characters")]
pub struct WeakToken(&'static str);

impl OperatorTokens {
    /// The tokens given (either may be absent: that API is then off).
    pub fn new(admin: Option<&str>, auditor: Option<&str>) -> Result<Self, WeakToken> {
        let digest = |token: Option<&str>, role| match token {
            Some(token) if token.chars().count() < MIN_TOKEN_LEN => Err(WeakToken(role)),
            token => Ok(token.map(sha256)),
        };
        Ok(Self {
            admin: digest(admin, "admin")?,
            auditor: digest(auditor, "auditor")?,
            auditor_session_key: auditor.map(|token| mac(token.as_bytes(), SESSION_KEY_PURPOSE, &[])),
        })
    }

    /// Whether `role` has a token, that is, whether its API is on.
    pub fn configured(&self, role: Role) -> bool {
        match role {
            Role::Admin => self.admin.is_some(),
            Role::Auditor => self.auditor.is_some(),
        }
    }

    /// Whether `authorization` (an `Authorization` header's value) carries `role`'s
    /// token as `Bearer <token>`.
    pub fn allows(&self, role: Role, authorization: Option<&str>) -> bool {
        let expected = match role {
            Role::Admin => self.admin,
            Role::Auditor => self.auditor,
        };
        let presented = authorization.and_then(|value| value.strip_prefix("Bearer ")).map(sha256);
        matches!((expected, presented), (Some(expected), Some(presented)) if expected == presented)
    }
}

/// How long an auditor's page session lasts.
pub const AUDITOR_SESSION_LIFETIME: Duration = Duration::hours(1);

/// What the session cookie's MAC covers, apart from the expiry: a MAC made for one use
/// of the key is never valid for another.
const SESSION_KEY_PURPOSE: &[u8] = b"grantlog auditor page session key v1\n";
const SESSION_PURPOSE: &[u8] = b"grantlog auditor page session v1\n";
const CSRF_PURPOSE: &[u8] = b"grantlog auditor page csrf v1\n";

impl OperatorTokens {
    /// A session cookie's value for an auditor who presented `token`, valid until
    /// `now` + [`AUDITOR_SESSION_LIFETIME`]; `None` if it is not the auditor token.
    pub fn auditor_session(&self, token: &str, now: DateTime<Utc>) -> Option<String> {
        self.auditor.filter(|expected| *expected == sha256(token))?;
        let key = self.auditor_session_key?;
        let expires = (now + AUDITOR_SESSION_LIFETIME).timestamp();
        Some(format!(
            "{expires}.{}",
            URL_SAFE_NO_PAD.encode(mac(&key, SESSION_PURPOSE, expires.to_string().as_bytes()))
        ))
    }

    /// Whether `cookie` is a session [`Self::auditor_session`] made with the current
    /// auditor token, not yet expired at `now` and not meant to last longer than a
    /// session does. The MAC is checked in constant time.
    pub fn auditor_session_valid(&self, cookie: &str, now: DateTime<Utc>) -> bool {
        let Some(key) = self.auditor_session_key else { return false };
        let Some((expires, tag)) = cookie.split_once('.') else { return false };
        let (Ok(expiry), Ok(tag)) = (expires.parse::<i64>(), URL_SAFE_NO_PAD.decode(tag)) else { return false };
        let mut check = keyed(&key, SESSION_PURPOSE);
        check.update(expires.as_bytes());
        let latest = (now + AUDITOR_SESSION_LIFETIME).timestamp();
        check.verify_slice(&tag).is_ok() && now.timestamp() < expiry && expiry <= latest
    }

    /// The CSRF token the page's forms carry for the session `cookie`.
    pub fn auditor_csrf(&self, cookie: &str) -> Option<String> {
        self.auditor_session_key.map(|key| URL_SAFE_NO_PAD.encode(mac(&key, CSRF_PURPOSE, cookie.as_bytes())))
    }
}

fn keyed(key: &[u8], purpose: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(purpose);
    mac
}

fn mac(key: &[u8], purpose: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key, purpose);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "an-admin-token-of-forty-characters-long!";
    const AUDITOR: &str = "an-auditor-token-of-forty-characters-xx";

    #[test]
    fn each_role_accepts_only_its_own_bearer_token() {
        let tokens = OperatorTokens::new(Some(ADMIN), Some(AUDITOR)).unwrap();
        assert!(tokens.allows(Role::Admin, Some(&format!("Bearer {ADMIN}"))));
        assert!(tokens.allows(Role::Auditor, Some(&format!("Bearer {AUDITOR}"))));
        assert!(!tokens.allows(Role::Admin, Some(&format!("Bearer {AUDITOR}"))));
        assert!(!tokens.allows(Role::Auditor, Some(&format!("Bearer {ADMIN}"))));
        for wrong in [None, Some(ADMIN), Some("Bearer "), Some("Basic abc"), Some(&format!("bearer {ADMIN}")[..])] {
            assert!(!tokens.allows(Role::Admin, wrong), "{wrong:?}");
        }
    }

    #[test]
    fn an_auditor_session_holds_for_an_hour_for_this_token_only() {
        let tokens = OperatorTokens::new(Some(ADMIN), Some(AUDITOR)).unwrap();
        let now = Utc::now();
        assert_eq!(tokens.auditor_session(ADMIN, now), None, "the admin token is not the auditor's");
        assert_eq!(tokens.auditor_session("", now), None);
        let session = tokens.auditor_session(AUDITOR, now).unwrap();
        assert!(tokens.auditor_session_valid(&session, now));
        assert!(tokens.auditor_session_valid(&session, now + AUDITOR_SESSION_LIFETIME - Duration::seconds(1)));
        assert!(!tokens.auditor_session_valid(&session, now + AUDITOR_SESSION_LIFETIME), "expired");
        let made_ahead = tokens.auditor_session(AUDITOR, now + Duration::days(1)).unwrap();
        assert!(!tokens.auditor_session_valid(&made_ahead, now), "meant to last longer than a session");
        // Another auditor token, or none, accepts nothing made with this one.
        let other = OperatorTokens::new(Some(ADMIN), Some("another-auditor-token-of-forty-characters")).unwrap();
        assert!(!other.auditor_session_valid(&session, now));
        assert!(!OperatorTokens::new(Some(ADMIN), None).unwrap().auditor_session_valid(&session, now));
        assert_eq!(OperatorTokens::new(None, None).unwrap().auditor_session(AUDITOR, now), None);
    }

    #[test]
    fn a_forged_or_altered_auditor_session_is_refused() {
        let tokens = OperatorTokens::new(None, Some(AUDITOR)).unwrap();
        let now = Utc::now();
        let session = tokens.auditor_session(AUDITOR, now).unwrap();
        let (expires, tag) = session.split_once('.').unwrap();
        let later = expires.parse::<i64>().unwrap() + 3600;
        for forged in [
            format!("{later}.{tag}"),
            format!("+{expires}.{tag}"),
            format!("0{expires}.{tag}"),
            format!("{expires}.{}", &tag[1..]),
            format!("{expires}.{tag}A"),
            format!("{expires}."),
            expires.to_owned(),
            String::new(),
            format!("{expires}.{tag}\0"),
        ] {
            assert!(!tokens.auditor_session_valid(&forged, now), "{forged:?}");
        }
        // The CSRF token is bound to the session: another session's differs.
        let csrf = tokens.auditor_csrf(&session).unwrap();
        let other = tokens.auditor_session(AUDITOR, now + Duration::seconds(1)).unwrap();
        assert_ne!(csrf, tokens.auditor_csrf(&other).unwrap());
        assert_ne!(csrf, tag, "the CSRF token is not the session's MAC");
        // The bearer digest is not the session key: a MAC made with it is refused.
        let with_digest = URL_SAFE_NO_PAD.encode(mac(&sha256(AUDITOR), SESSION_PURPOSE, expires.as_bytes()));
        assert!(!tokens.auditor_session_valid(&format!("{expires}.{with_digest}"), now));
        // Neither the bearer digest nor the session key shows in a debug print.
        let printed = format!("{tokens:?}");
        assert_eq!(printed, "OperatorTokens { admin: false, auditor: true, .. }");
    }

    #[test]
    fn an_unconfigured_role_refuses_everyone_and_short_tokens_are_refused() {
        let tokens = OperatorTokens::new(None, None).unwrap();
        assert!(!tokens.allows(Role::Admin, Some("Bearer ")));
        assert!(!tokens.allows(Role::Auditor, Some(&format!("Bearer {AUDITOR}"))));
        assert_eq!(
            OperatorTokens::new(Some("short"), None).unwrap_err().to_string(),
            "the admin token must be at least 32 characters"
        );
        assert!(OperatorTokens::new(None, Some("x".repeat(31).as_str())).is_err());
    }
}
