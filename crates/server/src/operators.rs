//! The operators' bearer tokens: the admin API's (`GRANTLOG_ADMIN_TOKEN`) and the
//! auditors' (`GRANTLOG_AUDITOR_TOKEN`). Only their SHA-256 is kept, and a presented
//! token is compared by its SHA-256, so the comparison's timing says nothing about the
//! token. A role without a token configured has its API switched off: every request
//! to it is refused.

use sha2::{Digest, Sha256};

/// The shortest operator token accepted: 32 characters (e.g. 24 random bytes in
/// base64), so that guessing is hopeless.
pub const MIN_TOKEN_LEN: usize = 32;

/// Who may call the operators' APIs.
#[derive(Debug, Clone, Default)]
pub struct OperatorTokens {
    admin: Option<[u8; 32]>,
    auditor: Option<[u8; 32]>,
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
        Ok(Self { admin: digest(admin, "admin")?, auditor: digest(auditor, "auditor")? })
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
