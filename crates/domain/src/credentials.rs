//! An owner's credentials and the rules against guessing them: what a username and a
//! new password must be, how long a login lasts, and how many failed logins are allowed
//! before the next is refused unchecked (OWASP's authentication cheat sheet). The server
//! stores the counts; the rules are here.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};

use crate::values::ValueError;

/// The longest username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;
/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_LEN: usize = 8;
/// How long a login lasts.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(8);
/// Failed logins allowed per account from one client address within
/// [`LOCKOUT_WINDOW`]. An account is never locked for everyone: a guesser elsewhere
/// locks only themselves out.
pub const MAX_FAILED_LOGINS: u32 = 5;
/// Failed logins allowed from one client address, whatever the accounts, within
/// [`LOCKOUT_WINDOW`]: higher, since one address may be many people (a NAT, an office).
pub const MAX_FAILED_LOGINS_PER_ADDRESS: u32 = 50;
/// The window failed logins are counted in.
pub const LOCKOUT_WINDOW: TimeDelta = TimeDelta::minutes(15);

/// A name an owner logs in with: 1 to [`MAX_USERNAME_LEN`] bytes, no control characters
/// (NUL included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a username as typed (the caller decides whether to trim it first).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if text.is_empty() || text.len() > MAX_USERNAME_LEN || text.chars().any(char::is_control) {
            return Err(ValueError::new("username", "must be 1 to 64 printable characters"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `password` may become an owner's password: at least [`MIN_PASSWORD_LEN`]
/// characters. (Any password is checked at login: rules change, accounts stay.)
pub fn is_acceptable_password(password: &str) -> bool {
    password.chars().count() >= MIN_PASSWORD_LEN
}

/// One count of failed logins a login attempt adds to, and its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCounter {
    /// What is counted: `account ADDRESS USERNAME` or `address ADDRESS`. A space never
    /// occurs in an address, so one counter cannot be forged by a username that looks
    /// like another address.
    pub key: String,
    /// Failed logins allowed in the window.
    pub limit: u32,
}

/// The counters an attempt from `address` on `username` is counted in: the account's
/// from this address, then the address's own.
pub fn login_counters(address: IpAddr, username: &Username) -> [LoginCounter; 2] {
    let address = counted_as(address);
    [
        LoginCounter { key: format!("account {address} {}", username.as_str()), limit: MAX_FAILED_LOGINS },
        LoginCounter { key: format!("address {address}"), limit: MAX_FAILED_LOGINS_PER_ADDRESS },
    ]
}

/// Where the failures that still count begin, seen at `now`.
pub fn lockout_window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - LOCKOUT_WINDOW
}

/// What a client address is counted as: an IPv4 address itself, an IPv6 address its
/// /64, the least a single subscriber is given, so that stepping through one's own
/// addresses does not start the count afresh.
fn counted_as(address: IpAddr) -> String {
    match address.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{}/64", std::net::Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_username_is_1_to_64_bytes_without_control_characters() {
        assert!(Username::parse("jane").is_ok());
        assert!(Username::parse(&"j".repeat(64)).is_ok());
        for bad in ["", "ja\0ne", "ja\nne", &"j".repeat(65)] {
            assert_eq!(Username::parse(bad).unwrap_err().what(), "username", "{bad:?}");
        }
    }

    #[test]
    fn a_new_password_has_at_least_8_characters_counted_as_characters() {
        assert!(!is_acceptable_password("1234567"));
        assert!(is_acceptable_password("12345678"));
        assert!(is_acceptable_password("éééééééé"));
        assert!(!is_acceptable_password("éééé"), "bytes are not characters");
    }

    #[test]
    fn the_account_counter_comes_first_and_allows_fewer_failures() {
        let jane = Username::parse("jane").unwrap();
        let [account, address] = login_counters("203.0.113.9".parse().unwrap(), &jane);
        assert_eq!(account.key, "account 203.0.113.9 jane");
        assert_eq!(address.key, "address 203.0.113.9");
        assert!(account.limit < address.limit);
    }
}
