//! Percent-encoding as RFC 5849 section 3.6 defines it, and strict decoding.
//!
//! Encoding keeps only the RFC 3986 unreserved set (`ALPHA DIGIT - . _ ~`) and writes
//! every other UTF-8 byte as `%XX` with uppercase hex. Decoding refuses malformed
//! escapes and byte sequences that are not UTF-8, so a value is never silently
//! altered between what the client signed and what the server checks.

use std::fmt;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `byte` is in the RFC 3986 unreserved set, which 3.6 leaves unencoded.
pub const fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes `value` per RFC 5849 section 3.6.
///
/// ```
/// use grantlog_oauth1::encoding::percent_encode;
/// assert_eq!(percent_encode("Ladies + Gentlemen"), "Ladies%20%2B%20Gentlemen");
/// assert_eq!(percent_encode("é~"), "%C3%A9~");
/// ```
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + value.len() / 2);
    encode_into(&mut out, value);
    out
}

/// Appends the percent-encoding of `value` to `out` (no intermediate allocation).
pub fn encode_into(out: &mut String, value: &str) {
    for &byte in value.as_bytes() {
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(byte >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(byte & 0x0F)]));
        }
    }
}

/// Why a percent-encoded string could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A `%` not followed by two hex digits, at this byte offset.
    MalformedEscape {
        /// Byte offset of the `%`.
        offset: usize,
    },
    /// The escapes decode to bytes that are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedEscape { offset } => {
                write!(f, "malformed percent-escape at byte {offset}")
            }
            Self::NotUtf8 => f.write_str("percent-escapes do not decode to UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes `%XX` escapes (hex in either case); `+` stays `+`.
///
/// ```
/// use grantlog_oauth1::encoding::percent_decode;
/// assert_eq!(percent_decode("%C3%A9t%C3%A9").unwrap(), "été");
/// assert!(percent_decode("%ZZ").is_err());
/// assert!(percent_decode("%C3").is_err());
/// ```
pub fn percent_decode(value: &str) -> Result<String, DecodeError> {
    decode(value, false)
}

/// Decodes one name or value of an `application/x-www-form-urlencoded` string:
/// like [`percent_decode`], but `+` means a space (W3C HTML 4.01 section 17.13.4).
pub fn form_decode(value: &str) -> Result<String, DecodeError> {
    decode(value, true)
}

/// Splits an `application/x-www-form-urlencoded` string (a query or a form body) into
/// decoded name/value pairs, in order, duplicates kept. A pair without `=` has an empty
/// value; empty segments (`a=1&&b=2`, a trailing `&`) carry nothing and are skipped.
///
/// ```
/// use grantlog_oauth1::encoding::parse_form;
/// let pairs = parse_form("c2&a3=2+q&a3=a").unwrap();
/// assert_eq!(pairs, [("c2".into(), "".into()), ("a3".into(), "2 q".into()), ("a3".into(), "a".into())]);
/// ```
pub fn parse_form(input: &str) -> Result<Vec<(String, String)>, DecodeError> {
    input
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((form_decode(name)?, form_decode(value)?))
        })
        .collect()
}

fn decode(value: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = value.as_bytes();
    if !bytes.iter().any(|&b| b == b'%' || (plus_is_space && b == b'+')) {
        return Ok(value.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut offset = 0;
    while offset < bytes.len() {
        match bytes[offset] {
            b'%' => {
                let high = bytes.get(offset + 1).copied().and_then(hex_value);
                let low = bytes.get(offset + 2).copied().and_then(hex_value);
                match (high, low) {
                    (Some(high), Some(low)) => out.push(high << 4 | low),
                    _ => return Err(DecodeError::MalformedEscape { offset }),
                }
                offset += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                offset += 1;
            }
            byte => {
                out.push(byte);
                offset += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

const fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_everything_outside_the_unreserved_set() {
        assert_eq!(percent_encode("abcXYZ019-._~"), "abcXYZ019-._~");
        assert_eq!(
            percent_encode(" !*'();:@&=+$,/?#[]%"),
            "%20%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D%25"
        );
        assert_eq!(percent_encode("☃🥃"), "%E2%98%83%F0%9F%A5%83");
    }

    #[test]
    fn refuses_malformed_escapes_and_non_utf8() {
        assert_eq!(percent_decode("a%2"), Err(DecodeError::MalformedEscape { offset: 1 }));
        assert_eq!(percent_decode("%G0"), Err(DecodeError::MalformedEscape { offset: 0 }));
        assert_eq!(percent_decode("%FF"), Err(DecodeError::NotUtf8));
        assert_eq!(percent_decode("%e2%98%83"), Ok("☃".to_owned()));
    }

    #[test]
    fn plus_is_a_space_only_in_forms() {
        assert_eq!(percent_decode("a+b").unwrap(), "a+b");
        assert_eq!(form_decode("a+b%2B").unwrap(), "a b+");
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(value in any::<String>()) {
            let encoded = percent_encode(&value);
            prop_assert!(encoded.bytes().all(|b| is_unreserved(b) || b == b'%'));
            prop_assert_eq!(percent_decode(&encoded).unwrap(), value.clone());
            prop_assert_eq!(form_decode(&encoded).unwrap(), value);
        }

        #[test]
        fn decoding_never_panics(input in any::<String>()) {
            let _ = percent_decode(&input);
            let _ = parse_form(&input);
        }
    }
}
