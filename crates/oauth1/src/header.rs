//! The `Authorization: OAuth …` header (RFC 5849 section 3.5.1), parsed strictly.
//!
//! Accepted: the scheme `OAuth` in any case, at least one space or tab, then
//! `name="value"` pairs separated by commas with optional spaces or tabs around the
//! commas. Names and values must be percent-encoded per section 3.6 (only unreserved
//! characters and `%XX` escapes between the quotes), except `realm`, which is an RFC
//! 2617 quoted-string taken verbatim (no quote, backslash or control character).
//! Everything else — an unquoted value, a missing comma, a trailing comma, an empty
//! name, a raw space, a bad escape, a repeated parameter, an oversize header — is an
//! error, and parsing never panics.

use std::fmt;

use crate::encoding::{self, DecodeError};
use crate::error::{ProtocolError, printable_name};

/// Longest header accepted, in bytes. Real OAuth headers are a few hundred bytes;
/// the cap bounds the work an attacker can ask for.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// The parameter that names the protection realm; never part of the signature.
pub const REALM: &str = "realm";

/// A parsed (or to-be-sent) OAuth Authorization header: its parameters in order,
/// `realm` included, names and values decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    params: Vec<(String, String)>,
}

/// Why an Authorization header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The scheme is not `OAuth` (or no space follows it).
    NotOAuth,
    /// Longer than [`MAX_HEADER_LEN`].
    TooLong,
    /// The syntax is broken at this byte offset.
    Malformed {
        /// Byte offset where parsing stopped.
        offset: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// A name or value is not valid percent-encoded UTF-8.
    BadEncoding {
        /// The parameter's name (raw, if the name itself is bad).
        parameter: String,
        /// What is wrong with the encoding.
        cause: DecodeError,
    },
    /// A parameter appears twice.
    Duplicate {
        /// The repeated name.
        parameter: String,
    },
    /// A realm to be sent contains a quote, backslash or control character.
    UnsendableRealm,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOAuth => f.write_str("Authorization header does not use the OAuth scheme"),
            Self::TooLong => write!(f, "Authorization header longer than {MAX_HEADER_LEN} bytes"),
            Self::Malformed { offset, reason } => {
                write!(f, "malformed Authorization header at byte {offset}: {reason}")
            }
            Self::BadEncoding { parameter, cause } => write!(f, "{parameter}: {cause}"),
            Self::Duplicate { parameter } => write!(f, "{parameter} appears more than once"),
            Self::UnsendableRealm => f.write_str("realm contains a quote, backslash or control character"),
        }
    }
}

impl std::error::Error for HeaderError {}

impl From<HeaderError> for ProtocolError {
    fn from(error: HeaderError) -> Self {
        match error {
            HeaderError::NotOAuth => {
                ProtocolError::ParameterAbsent { missing: crate::request::ALWAYS_REQUIRED.to_vec() }
            }
            HeaderError::TooLong | HeaderError::UnsendableRealm => {
                ProtocolError::rejected("Authorization", "header too long or malformed")
            }
            HeaderError::Malformed { reason, .. } => ProtocolError::rejected("Authorization", reason),
            HeaderError::BadEncoding { parameter, .. } => {
                ProtocolError::ParameterRejected { parameter, reason: "not valid percent-encoded UTF-8" }
            }
            // Already made printable when the header error was built.
            HeaderError::Duplicate { parameter } => {
                ProtocolError::ParameterRejected { parameter, reason: "sent more than once" }
            }
        }
    }
}

impl AuthorizationHeader {
    /// Builds a header to send. `realm`, when given, goes first.
    pub fn new(realm: Option<&str>, params: impl IntoIterator<Item = (String, String)>) -> Result<Self, HeaderError> {
        let mut all: Vec<(String, String)> =
            realm.map(|realm| (REALM.to_owned(), realm.to_owned())).into_iter().collect();
        all.extend(params);
        // `realm` is written verbatim, so it must be a valid quoted-string wherever it is.
        if all.iter().any(|(name, value)| name == REALM && !value.bytes().all(is_realm_byte)) {
            return Err(HeaderError::UnsendableRealm);
        }
        Ok(Self { params: all })
    }

    /// Parses a header value such as `OAuth realm="Photos", oauth_consumer_key="…"`.
    ///
    /// ```
    /// use grantlog_oauth1::header::AuthorizationHeader;
    /// let header = AuthorizationHeader::parse(r#"OAuth realm="Photos", oauth_nonce="n%20n""#).unwrap();
    /// assert_eq!(header.realm(), Some("Photos"));
    /// assert_eq!(header.get("oauth_nonce"), Some("n n"));
    /// assert!(AuthorizationHeader::parse(r#"OAuth oauth_nonce=n"#).is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(HeaderError::TooLong);
        }
        let bytes = value.as_bytes();
        let scheme_end = bytes.iter().position(|&b| is_space(b)).unwrap_or(bytes.len());
        if !value[..scheme_end].eq_ignore_ascii_case("OAuth") || scheme_end == bytes.len() {
            // "OAuth" with nothing after it carries no parameters either.
            return if value.eq_ignore_ascii_case("OAuth") {
                Ok(Self { params: Vec::new() })
            } else {
                Err(HeaderError::NotOAuth)
            };
        }
        let mut cursor = Cursor { bytes, offset: scheme_end };
        cursor.skip_spaces();
        let mut params: Vec<(String, String)> = Vec::new();
        if cursor.at_end() {
            return Ok(Self { params });
        }
        // Names seen so far, so that a header of many parameters is checked in linear time.
        let mut seen = std::collections::HashSet::new();
        loop {
            let (name, value) = cursor.parameter(value)?;
            if !seen.insert(name.clone()) {
                return Err(HeaderError::Duplicate { parameter: printable_name(&name) });
            }
            params.push((name, value));
            cursor.skip_spaces();
            if cursor.at_end() {
                return Ok(Self { params });
            }
            cursor.expect(b',', "expected a comma between parameters")?;
            cursor.skip_spaces();
            if cursor.at_end() {
                return Err(cursor.malformed("trailing comma"));
            }
        }
    }

    /// All parameters in order, `realm` included.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The realm, if one was given.
    pub fn realm(&self) -> Option<&str> {
        self.get(REALM)
    }

    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The `oauth_`-prefixed parameters: the only ones section 3.4.1.3.1 takes from
    /// the header. Others (besides `realm`) are ignored.
    pub fn protocol_params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().filter(|(name, _)| name.starts_with("oauth_")).map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Formats the header value; `realm` is written verbatim, all else percent-encoded.
impl fmt::Display for AuthorizationHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuth ")?;
        for (index, (name, value)) in self.params.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            if name == REALM {
                write!(f, "realm=\"{value}\"")?;
            } else {
                let mut pair = encoding::percent_encode(name);
                pair.push_str("=\"");
                encoding::encode_into(&mut pair, value);
                pair.push('"');
                f.write_str(&pair)?;
            }
        }
        Ok(())
    }
}

/// Redacts values: a header carries the signature, and `Debug` output ends up in logs.
impl fmt::Debug for AuthorizationHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.params.iter().map(|(name, _)| name)).finish()
    }
}

const fn is_space(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

const fn is_realm_byte(byte: u8) -> bool {
    (byte == b' ' || byte.is_ascii_graphic() || byte >= 0x80) && byte != b'"' && byte != b'\\'
}

struct Cursor<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.offset >= self.bytes.len()
    }

    fn skip_spaces(&mut self) {
        while self.bytes.get(self.offset).is_some_and(|&b| is_space(b)) {
            self.offset += 1;
        }
    }

    fn malformed(&self, reason: &'static str) -> HeaderError {
        HeaderError::Malformed { offset: self.offset, reason }
    }

    fn expect(&mut self, byte: u8, reason: &'static str) -> Result<(), HeaderError> {
        if self.bytes.get(self.offset) == Some(&byte) {
            self.offset += 1;
            Ok(())
        } else {
            Err(self.malformed(reason))
        }
    }

    /// Takes bytes while `accept` holds; returns the range taken.
    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> std::ops::Range<usize> {
        let start = self.offset;
        while self.bytes.get(self.offset).is_some_and(|&b| accept(b)) {
            self.offset += 1;
        }
        start..self.offset
    }

    /// One `name="value"`; `source` is the header as text, for slicing.
    fn parameter(&mut self, source: &str) -> Result<(String, String), HeaderError> {
        let name_range = self.take_while(|b| encoding::is_unreserved(b) || b == b'%');
        if name_range.is_empty() {
            return Err(self.malformed("empty or invalid parameter name"));
        }
        let raw_name = &source[name_range];
        let name = encoding::percent_decode(raw_name)
            .map_err(|cause| HeaderError::BadEncoding { parameter: printable_name(raw_name), cause })?;
        self.expect(b'=', "expected '=' after the parameter name")?;
        self.expect(b'"', "parameter value is not quoted")?;
        let value_range = if name == REALM {
            self.take_while(is_realm_byte)
        } else {
            self.take_while(|b| encoding::is_unreserved(b) || b == b'%')
        };
        let raw_value = &source[value_range];
        self.expect(b'"', "value not percent-encoded or quote not closed")?;
        let value = if name == REALM {
            raw_value.to_owned()
        } else {
            encoding::percent_decode(raw_value)
                .map_err(|cause| HeaderError::BadEncoding { parameter: printable_name(&name), cause })?
        };
        Ok((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scheme_alone_has_no_parameters() {
        assert_eq!(AuthorizationHeader::parse("OAuth").unwrap().params(), &[]);
        assert_eq!(AuthorizationHeader::parse("oauth  ").unwrap().params(), &[]);
    }

    #[test]
    fn oversize_headers_are_refused_before_parsing() {
        let long = format!("OAuth oauth_nonce=\"{}\"", "a".repeat(MAX_HEADER_LEN));
        assert_eq!(AuthorizationHeader::parse(&long), Err(HeaderError::TooLong));
    }

    #[test]
    fn whitespace_around_equals_is_refused() {
        assert!(AuthorizationHeader::parse("OAuth oauth_nonce =\"n\"").is_err());
        assert!(AuthorizationHeader::parse("OAuth oauth_nonce= \"n\"").is_err());
    }

    #[test]
    fn debug_output_hides_values() {
        let header = AuthorizationHeader::parse(r#"OAuth oauth_signature="s3cret""#).unwrap();
        assert!(!format!("{header:?}").contains("s3cret"));
    }

    #[test]
    fn realm_with_a_quote_cannot_be_sent() {
        assert_eq!(AuthorizationHeader::new(Some("a\"b"), []), Err(HeaderError::UnsendableRealm));
        let smuggled = [("realm".to_owned(), "x\"\r\nSet-Cookie: y".to_owned())];
        assert_eq!(AuthorizationHeader::new(None, smuggled), Err(HeaderError::UnsendableRealm));
    }

    fn header_strategy() -> impl Strategy<Value = AuthorizationHeader> {
        let realm = proptest::option::of("[ -!#-\\[\\]-~é]{0,12}");
        let name = "oauth_[a-z_]{1,10}|[^\\x00]{1,8}";
        let params = proptest::collection::vec((name, any::<String>()), 0..8);
        (realm, params).prop_filter_map("names must be unique", |(realm, params)| {
            let mut names: Vec<_> = params.iter().map(|(n, _)| n.clone()).collect();
            names.push(REALM.to_owned());
            names.sort();
            names.dedup();
            (names.len() == params.len() + 1).then(|| AuthorizationHeader::new(realm.as_deref(), params).unwrap())
        })
    }

    proptest! {
        #[test]
        fn parse_inverts_format(header in header_strategy()) {
            let parsed = AuthorizationHeader::parse(&header.to_string()).unwrap();
            prop_assert_eq!(parsed, header);
        }

        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = AuthorizationHeader::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_near_misses(input in "(?i:oauth)[ \t]{0,2}([a-z_%0-9]{0,6}=?\"?[a-z%0-9 ]{0,4}\"?[ ,\t]{0,2}){0,4}") {
            let _ = AuthorizationHeader::parse(&input);
        }
    }
}
