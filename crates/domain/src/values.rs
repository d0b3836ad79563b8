//! Values that come from outside — the wire, a form, the admin API — parsed once at the
//! edge into types that cannot hold an invalid value (STYLE habit 3). Deserializing runs
//! the same parser, so a stored event cannot smuggle in what `parse` would refuse.
//!
//! A parse error names what was wrong and why, never the input: a mistyped field can
//! hold a secret (a client secret pasted as a key), and errors end up in logs.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::ids::GrantId;

/// A value from outside that did not parse. Says which kind of value and what rule it
/// broke; never repeats the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {why}")]
pub struct ValueError {
    what: &'static str,
    why: &'static str,
}

impl ValueError {
    pub(crate) const fn new(what: &'static str, why: &'static str) -> Self {
        Self { what, why }
    }

    /// Which kind of value, e.g. `consumer key`.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The rule it broke, e.g. `must be 1 to 128 bytes`.
    pub fn why(&self) -> &'static str {
        self.why
    }
}

/// Printable ASCII without space (`0x21..=0x7E`): what survives RFC 5849 percent-encoding
/// unchanged in spirit, cannot hide in a log line, and compares byte for byte.
fn is_visible_ascii(b: u8) -> bool {
    (0x21..=0x7E).contains(&b)
}

/// Implements `Display`, `AsRef<str>`, `TryFrom<String>`, `From<T> for String` and serde
/// (as a plain string, parsed on the way in) for a newtype over `String` with a `parse`.
macro_rules! string_value {
    ($name:ident) => {
        impl $name {
            /// The value as text, exactly as parsed.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;

            fn try_from(value: String) -> Result<Self, ValueError> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn visible_ascii_token(
    text: &str,
    what: &'static str,
    max: usize,
    length_rule: &'static str,
) -> Result<(), ValueError> {
    if text.is_empty() || text.len() > max {
        return Err(ValueError::new(what, length_rule));
    }
    if !text.bytes().all(is_visible_ascii) {
        return Err(ValueError::new(what, "must be printable ASCII without spaces"));
    }
    Ok(())
}

/// A client's public key identifier (`oauth_consumer_key`), e.g. `beppa-demo-key`.
/// 1 to 128 bytes of printable ASCII, no spaces. Public: it travels in every request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsumerKey(String);

impl ConsumerKey {
    /// Parses a consumer key: 1 to 128 bytes of printable ASCII, no spaces.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        visible_ascii_token(text, "consumer key", 128, "must be 1 to 128 bytes")?;
        Ok(Self(text.to_owned()))
    }
}
string_value!(ConsumerKey);

/// The public `oauth_token` value of a request token or an access token. Same rule as
/// [`ConsumerKey`]. It identifies a token, it does not prove possession (the token
/// secret does, and that never enters an event), so it may appear in events.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenKey(String);

impl TokenKey {
    /// Parses a token value: 1 to 128 bytes of printable ASCII, no spaces.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        visible_ascii_token(text, "token", 128, "must be 1 to 128 bytes")?;
        Ok(Self(text.to_owned()))
    }
}
string_value!(TokenKey);

/// One protected resource an owner can choose to share: a photo id. 1 to 64 bytes of
/// `[A-Za-z0-9_-]`, so it is safe in a URL path and an HTML attribute as it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId(String);

impl ResourceId {
    /// Parses a resource id: 1 to 64 bytes of `[A-Za-z0-9_-]`.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if text.is_empty() || text.len() > 64 {
            return Err(ValueError::new("resource id", "must be 1 to 64 bytes"));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(ValueError::new("resource id", "must contain only A-Z, a-z, 0-9, '_' and '-'"));
        }
        Ok(Self(text.to_owned()))
    }
}
string_value!(ResourceId);

/// Free text typed by a person, checked so it is safe to show and to log: trimmed, 1 to
/// `max` characters, no control characters (a newline in a log line forges the next one).
fn human_text(text: &str, what: &'static str, max: usize, length_rule: &'static str) -> Result<String, ValueError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(ValueError::new(what, length_rule));
    }
    if text.chars().any(char::is_control) {
        return Err(ValueError::new(what, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// A client's display name, shown to owners on the consent page ("Beppa Prints").
/// Trimmed; 1 to 100 characters; no control characters. Not personal data: it names a
/// business or an application.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientName(String);

impl ClientName {
    /// Parses a client name (trimming surrounding whitespace).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        human_text(text, "client name", 100, "must be 1 to 100 characters").map(Self)
    }
}
string_value!(ClientName);

/// Why someone suspended a client or revoked a grant, in their words. Trimmed; 1 to 500
/// characters; no control characters. It is kept forever in the log, so the forms that
/// collect it should say so (and invite no personal data).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reason(String);

impl Reason {
    /// Parses a reason (trimming surrounding whitespace).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        human_text(text, "reason", 500, "must be 1 to 500 characters").map(Self)
    }
}
string_value!(Reason);

/// A client's RSA public key in PEM (`-----BEGIN PUBLIC KEY-----` or
/// `-----BEGIN RSA PUBLIC KEY-----`), for RSA-SHA1 signatures. A public key is not a
/// secret, so it may sit in an event.
///
/// The parse checks the armour only; the server must also load the key with
/// `grantlog-oauth1` before registering it. What it refuses outright is anything that
/// looks like a private key: an admin pasting the wrong file would otherwise write a
/// secret into a log that can never be edited.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RsaPublicKeyPem(String);

impl RsaPublicKeyPem {
    /// Parses a PEM public key (trimming surrounding whitespace; at most 16 KiB).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        const WHAT: &str = "RSA public key";
        let text = text.trim();
        if text.contains("PRIVATE") {
            return Err(ValueError::new(WHAT, "looks like a private key; register the public key only"));
        }
        if text.is_empty() || text.len() > 16 * 1024 {
            return Err(ValueError::new(WHAT, "must be 1 byte to 16 KiB of PEM"));
        }
        if !text.bytes().all(|b| is_visible_ascii(b) || matches!(b, b' ' | b'\n' | b'\r')) {
            return Err(ValueError::new(WHAT, "must be ASCII PEM text"));
        }
        let armoured = [
            ("-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"),
            ("-----BEGIN RSA PUBLIC KEY-----", "-----END RSA PUBLIC KEY-----"),
        ]
        .iter()
        .any(|(begin, end)| text.starts_with(begin) && text.ends_with(end));
        if !armoured {
            return Err(ValueError::new(WHAT, "must be a PEM block: BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY"));
        }
        Ok(Self(text.to_owned()))
    }
}
string_value!(RsaPublicKeyPem);

/// The SHA-256 of a value, written as 64 lowercase hex digits.
///
/// Events carry fingerprints instead of secrets (client secrets, verifiers): enough to
/// check a presented secret against, and to show two events concern the same one,
/// without the log ever being able to leak it. Plain SHA-256 is right here only because
/// grantlog's secrets are long random strings it generated itself; a password (low
/// entropy, chosen by a person) must never be fingerprinted this way — it gets a slow,
/// salted hash outside the events.
///
/// The same type records the hash of a consent text, which is not secret at all.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of `value` (SHA-256 of its UTF-8 bytes).
    pub fn of(value: &str) -> Self {
        Self(Sha256::digest(value.as_bytes()).into())
    }

    /// Parses 64 hex digits (either case; stored and shown lowercase).
    pub fn parse(hex_digits: &str) -> Result<Self, ValueError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes)
            .map_err(|_| ValueError::new("fingerprint", "must be 64 hex digits"))?;
        Ok(Self(bytes))
    }

    /// Whether `secret` is the value this is the fingerprint of. The comparison of the
    /// two digests takes the same time wherever they differ, so response timing tells a
    /// guesser nothing about how close they came.
    pub fn matches(&self, secret: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let difference = self.0.iter().zip(presented.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        // black_box keeps the optimiser from turning the fold into an early exit.
        std::hint::black_box(difference) == 0
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Which key sealed the secrets at rest: the first 8 bytes of the key's SHA-256, as 16
/// lowercase hex digits. Names a key without revealing it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId(String);

impl KeyId {
    /// Parses 16 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(ValueError::new("key id", "must be 16 lowercase hex digits"));
        }
        Ok(Self(text.to_owned()))
    }
}

string_value!(KeyId);

/// A secret someone presented (today: an `oauth_verifier`), on its way to be checked
/// against a [`Fingerprint`]. It cannot be printed, serialized or compared by accident:
/// `Debug` shows `<redacted>` and the only thing the domain does with it is
/// [`Fingerprint::matches`].
#[derive(Clone)]
pub struct PresentedSecret(String);

impl PresentedSecret {
    /// Wraps what was presented. No rules: a malformed secret simply does not match.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// Whether this is the secret `fingerprint` was taken of (in constant time).
    pub fn matches(&self, fingerprint: &Fingerprint) -> bool {
        fingerprint.matches(&self.0)
    }
}

impl fmt::Debug for PresentedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresentedSecret(<redacted>)")
    }
}

/// How long the owner lets the client keep access, as chosen on the consent page.
/// Serialized as the form values themselves (`1hour`, `1day`, `30days`, `never`), so the
/// page, the events and the docs use one vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessDuration {
    /// One hour from approval: the seed story's "good for one hour", and the default.
    #[serde(rename = "1hour")]
    OneHour,
    /// One day (24 hours) from approval.
    #[serde(rename = "1day")]
    OneDay,
    /// Thirty days (720 hours) from approval.
    #[serde(rename = "30days")]
    ThirtyDays,
    /// Until the owner, an admin or the client revokes it.
    #[serde(rename = "never")]
    UntilRevoked,
}

impl AccessDuration {
    /// Every duration, in the order the consent page lists them.
    pub const ALL: [AccessDuration; 4] = [Self::OneHour, Self::OneDay, Self::ThirtyDays, Self::UntilRevoked];

    /// Parses the consent form's `expires` value: `1hour`, `1day`, `30days` or `never`.
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|duration| duration.as_str() == text)
            .ok_or(ValueError::new("access duration", "must be one of 1hour, 1day, 30days, never"))
    }

    /// The form value (and serialized form): `1hour`, `1day`, `30days` or `never`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::OneHour => "1hour",
            Self::OneDay => "1day",
            Self::ThirtyDays => "30days",
            Self::UntilRevoked => "never",
        }
    }

    /// How long, or `None` for [`AccessDuration::UntilRevoked`].
    pub fn length(&self) -> Option<TimeDelta> {
        match self {
            Self::OneHour => Some(TimeDelta::hours(1)),
            Self::OneDay => Some(TimeDelta::days(1)),
            Self::ThirtyDays => Some(TimeDelta::days(30)),
            Self::UntilRevoked => None,
        }
    }

    /// When access approved at `approved_at` ends; `None` means it never expires (it
    /// can still be revoked). Access is over at that instant: a request at exactly
    /// `expires_at` is refused.
    pub fn expires_at(&self, approved_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Saturate rather than panic at the end of chrono's range; a far-future expiry
        // is still an expiry, whereas `None` would silently mean "never".
        self.length().map(|length| approved_at.checked_add_signed(length).unwrap_or(DateTime::<Utc>::MAX_UTC))
    }
}

impl fmt::Display for AccessDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the owner's decision was made: the "how" of a consent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConsentMethod {
    /// The owner saw the consent page and pressed a button.
    ConsentPage,
    /// No page was shown: a decision the owner asked grantlog to remember was applied.
    /// `remembered_in` is the grant whose approval (with `remembered: true`) recorded
    /// that decision, so an auditor can follow an automatic approval back to the
    /// moment, the wording and the choices the owner actually consented to.
    RememberedDecision {
        /// The grant whose consent-page approval is being re-applied.
        remembered_in: GrantId,
    },
}

/// What the owner was shown when asked: the consent text's version and the SHA-256 of
/// the exact text rendered. Proves, later, what the owner agreed to, without storing
/// the page in the log (the server keeps every version of the text it has shown).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ConsentTextFields")]
pub struct ConsentText {
    version: String,
    hash: Fingerprint,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentTextFields {
    version: String,
    hash: Fingerprint,
}

impl TryFrom<ConsentTextFields> for ConsentText {
    type Error = ValueError;

    fn try_from(fields: ConsentTextFields) -> Result<Self, ValueError> {
        Self::from_parts(&fields.version, fields.hash)
    }
}

impl ConsentText {
    /// The record of showing `shown_text` (the exact text rendered to the owner), under
    /// the text's `version` (1 to 64 bytes of printable ASCII, no spaces, e.g.
    /// `consent-2026-01`).
    pub fn shown(version: &str, shown_text: &str) -> Result<Self, ValueError> {
        Self::from_parts(version, Fingerprint::of(shown_text))
    }

    /// A record from a version and an already-computed hash (e.g. one the server
    /// computed when it loaded its templates).
    pub fn from_parts(version: &str, hash: Fingerprint) -> Result<Self, ValueError> {
        visible_ascii_token(version, "consent text version", 64, "must be 1 to 64 bytes")?;
        Ok(Self { version: version.to_owned(), hash })
    }

    /// The consent text's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The SHA-256 of the text as shown.
    pub fn hash(&self) -> &Fingerprint {
        &self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_128_visible_ascii_bytes() {
        assert!(ConsumerKey::parse("beppa-demo-key").is_ok());
        assert!(ConsumerKey::parse(&"k".repeat(128)).is_ok());
        assert!(ConsumerKey::parse("").is_err());
        assert!(ConsumerKey::parse(&"k".repeat(129)).is_err());
        assert!(ConsumerKey::parse("two words").is_err());
        assert!(TokenKey::parse("tab\there").is_err());
        assert!(TokenKey::parse("café").is_err());
        assert!(TokenKey::parse("hh5s93j4hdidpola").is_ok());
    }

    #[test]
    fn parse_errors_never_repeat_the_input() {
        let error = ConsumerKey::parse("secret with spaces").unwrap_err();
        assert!(!error.to_string().contains("secret"));
        assert_eq!(error.what(), "consumer key");
    }

    #[test]
    fn resource_ids_are_url_safe() {
        assert!(ResourceId::parse("photo-1_A").is_ok());
        assert!(ResourceId::parse("../etc").is_err());
        assert!(ResourceId::parse("").is_err());
        assert!(ResourceId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn human_text_is_trimmed_and_single_line() {
        assert_eq!(Reason::parse("  leaked key ").unwrap().as_str(), "leaked key");
        assert!(Reason::parse("   ").is_err());
        assert!(Reason::parse("line\nforged log line").is_err());
        assert!(Reason::parse(&"é".repeat(500)).is_ok());
        assert!(ClientName::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn rsa_keys_must_be_public() {
        let public = "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----\n";
        assert_eq!(RsaPublicKeyPem::parse(public).unwrap().as_str(), public.trim());
        let private = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            RsaPublicKeyPem::parse(private).unwrap_err().why(),
            "looks like a private key; register the public key only"
        );
        assert!(RsaPublicKeyPem::parse("MIIBIjAN").is_err());
    }

    #[test]
    fn fingerprints_match_only_their_secret() {
        let fingerprint = Fingerprint::of("beppa-demo-secret");
        assert!(fingerprint.matches("beppa-demo-secret"));
        assert!(!fingerprint.matches("beppa-demo-secreT"));
        assert!(!fingerprint.matches(""));
        assert!(PresentedSecret::new("beppa-demo-secret").matches(&fingerprint));
    }

    #[test]
    fn fingerprints_are_lowercase_hex_sha256() {
        let fingerprint = Fingerprint::of("abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(fingerprint.to_hex(), hex);
        assert_eq!(serde_json::to_string(&fingerprint).unwrap(), format!("\"{hex}\""));
        assert_eq!(Fingerprint::parse(&hex.to_uppercase()).unwrap(), fingerprint);
        assert!(Fingerprint::parse("abc").is_err());
    }

    #[test]
    fn presented_secrets_do_not_print() {
        let secret = PresentedSecret::new("verifier-123");
        assert_eq!(format!("{secret:?}"), "PresentedSecret(<redacted>)");
    }

    #[test]
    fn durations_parse_the_form_values_and_count_from_approval() {
        let approved_at = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z").unwrap().to_utc();
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().to_utc();
        let expiry = |form: &str| AccessDuration::parse(form).unwrap().expires_at(approved_at);
        assert_eq!(expiry("1hour"), Some(at("2026-03-01T13:00:00Z")));
        assert_eq!(expiry("1day"), Some(at("2026-03-02T12:00:00Z")));
        assert_eq!(expiry("30days"), Some(at("2026-03-31T12:00:00Z")));
        assert_eq!(expiry("never"), None);
        assert!(AccessDuration::parse("1week").is_err());
        assert_eq!(AccessDuration::OneHour.expires_at(DateTime::<Utc>::MAX_UTC), Some(DateTime::<Utc>::MAX_UTC));
        assert_eq!(serde_json::to_string(&AccessDuration::ThirtyDays).unwrap(), r#""30days""#);
    }

    #[test]
    fn consent_text_records_version_and_hash_of_what_was_shown() {
        let text = ConsentText::shown("consent-v1", "Beppa Prints wants to read your photos.").unwrap();
        assert_eq!(text.version(), "consent-v1");
        assert_eq!(text.hash(), &Fingerprint::of("Beppa Prints wants to read your photos."));
        assert!(ConsentText::shown("", "text").is_err());
        let json = serde_json::to_value(&text).unwrap();
        assert_eq!(serde_json::from_value::<ConsentText>(json).unwrap(), text);
        assert!(
            serde_json::from_value::<ConsentText>(serde_json::json!({
                "version": "has space", "hash": Fingerprint::of("x")
            }))
            .is_err()
        );
    }

    #[test]
    fn consent_methods_serialize_with_a_kind() {
        assert_eq!(serde_json::to_string(&ConsentMethod::ConsentPage).unwrap(), r#"{"kind":"consent_page"}"#);
        let remembered = ConsentMethod::RememberedDecision { remembered_in: GrantId::new(uuid::Uuid::nil()) };
        assert_eq!(
            serde_json::to_string(&remembered).unwrap(),
            r#"{"kind":"remembered_decision","remembered_in":"00000000-0000-0000-0000-000000000000"}"#
        );
    }

    #[test]
    fn string_values_refuse_invalid_input_when_deserialized() {
        assert!(serde_json::from_str::<ConsumerKey>(r#""has space""#).is_err());
        assert_eq!(serde_json::from_str::<ResourceId>(r#""photo-1""#).unwrap(), ResourceId::parse("photo-1").unwrap());
    }
}
