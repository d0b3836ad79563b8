//! From an incoming HTTP request to a [`SignedRequest`]: parameter collection
//! (section 3.4.1.3), protocol-parameter checks, and the base string, ready for
//! signature verification.

use std::fmt;

use crate::base_string::{normalize_parameters, signature_base_string};
use crate::encoding::parse_form;
use crate::error::ProtocolError;
use crate::header::{AuthorizationHeader, HeaderError};
use crate::signature::{self, SignatureMethod, VerificationKeys};
use crate::uri::{base_string_uri, query};

/// The most parameters a request may carry (header, query and form body together):
/// ordinary requests carry a dozen, and each one costs work before any authentication.
pub const MAX_PARAMETERS: usize = 100;

/// Protocol parameters every request carries.
pub const ALWAYS_REQUIRED: [&str; 3] = ["oauth_consumer_key", "oauth_signature_method", "oauth_signature"];

/// Longest nonce accepted, in bytes. Nonces are stored until their timestamp falls out
/// of the window; libraries send 11 to 64 characters.
pub const MAX_NONCE_LEN: usize = 255;

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// What the server saw of an HTTP request.
#[derive(Clone, Copy)]
pub struct IncomingRequest<'a> {
    /// The HTTP method as sent.
    pub method: &'a str,
    /// The absolute URL the client signed, query included: the request target joined to
    /// the server's public base URL (or to the scheme and `Host` it was reached by).
    pub url: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The entity-body; read for parameters only when it is a form.
    pub body: &'a [u8],
}

/// Shows neither the Authorization header, the query nor the body: they carry the
/// signature and the verifier (and, with PLAINTEXT, the secrets themselves).
impl fmt::Debug for IncomingRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let without_query = self.url.split(['?', '#']).next().unwrap_or_default();
        f.debug_struct("IncomingRequest")
            .field("method", &self.method)
            .field("url", &without_query)
            .field("authorization", &self.authorization.map(|_| ".."))
            .field("content_type", &self.content_type)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// A request timestamp: seconds since the Unix epoch, a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// Parses `oauth_timestamp`: ASCII digits only, no sign, greater than zero.
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        let rejected = || ProtocolError::rejected("oauth_timestamp", "not a positive integer");
        if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(rejected());
        }
        match value.parse() {
            Ok(0) | Err(_) => Err(rejected()),
            Ok(seconds) => Ok(Self(seconds)),
        }
    }

    /// Seconds since the Unix epoch.
    pub const fn seconds(self) -> u64 {
        self.0
    }

    /// Accepts the timestamp when it lies within `window` seconds of `now` (either
    /// side); otherwise `timestamp_refused` with the acceptable range.
    pub fn check_window(self, now: u64, window: u64) -> Result<(), ProtocolError> {
        let (earliest, latest) = (now.saturating_sub(window), now.saturating_add(window));
        if (earliest..=latest).contains(&self.0) {
            Ok(())
        } else {
            Err(ProtocolError::TimestampRefused { earliest, latest })
        }
    }
}

/// A request nonce: 1 to [`MAX_NONCE_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nonce(String);

impl Nonce {
    /// Parses `oauth_nonce`.
    pub fn parse(value: &str) -> Result<Self, ProtocolError> {
        match value.len() {
            0 => Err(ProtocolError::rejected("oauth_nonce", "empty")),
            len if len > MAX_NONCE_LEN => Err(ProtocolError::rejected("oauth_nonce", "longer than 255 bytes")),
            // Nonces are stored, and PostgreSQL refuses NUL in text: one such nonce in a
            // shared batch would fail everyone's requests with it.
            _ if value.chars().any(char::is_control) => {
                Err(ProtocolError::rejected("oauth_nonce", "contains control characters"))
            }
            _ => Ok(Self(value.to_owned())),
        }
    }

    /// The nonce as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request with well-formed protocol parameters and its signature base string.
/// Nothing here is trusted yet: call [`SignedRequest::verify`] with the client's keys.
#[derive(Clone)]
pub struct SignedRequest {
    consumer_key: String,
    token: Option<String>,
    signature_method: SignatureMethod,
    signature: String,
    timestamp: Option<Timestamp>,
    nonce: Option<Nonce>,
    callback: Option<String>,
    verifier: Option<String>,
    realm: Option<String>,
    base_string: String,
}

impl SignedRequest {
    /// Collects and checks the protocol parameters of `request`.
    ///
    /// Refused (`parameter_rejected`): a malformed Authorization header, query or form
    /// body; any `oauth_` parameter sent twice or in more than one place; a malformed
    /// timestamp or nonce; a URL that gives no base string URI. Refused otherwise:
    /// missing required parameters (`parameter_absent`), an unknown signature method
    /// (`signature_method_rejected`), an `oauth_version` other than `1.0`
    /// (`version_rejected`).
    pub fn from_request(request: &IncomingRequest<'_>) -> Result<Self, ProtocolError> {
        let header = match request.authorization.map(AuthorizationHeader::parse) {
            None | Some(Err(HeaderError::NotOAuth)) => None,
            Some(parsed) => Some(parsed?),
        };
        let query_params = match query(request.url) {
            Some(query) => {
                parse_form(query).map_err(|_| ProtocolError::rejected("query", "not valid percent-encoded UTF-8"))?
            }
            None => Vec::new(),
        };
        let body_params = if request.content_type.is_some_and(is_form) {
            let body = std::str::from_utf8(request.body)
                .map_err(|_| ProtocolError::rejected("body", "form body is not UTF-8"))?;
            parse_form(body).map_err(|_| ProtocolError::rejected("body", "not valid percent-encoded UTF-8"))?
        } else {
            Vec::new()
        };

        let header_params = header.iter().flat_map(AuthorizationHeader::protocol_params);
        let all_params: Vec<(&str, &str)> = header_params
            .chain(query_params.iter().chain(&body_params).map(|(n, v)| (n.as_str(), v.as_str())))
            .collect();
        if all_params.len() > MAX_PARAMETERS {
            return Err(ProtocolError::rejected("request", "more than 100 parameters"));
        }
        let protocol = ProtocolParams::collect(&all_params)?;

        let base_uri =
            base_string_uri(request.url).map_err(|_| ProtocolError::rejected("url", "not an absolute http(s) URL"))?;
        let normalized =
            normalize_parameters(all_params.iter().copied().filter(|(name, _)| *name != "oauth_signature"));
        Ok(Self {
            consumer_key: protocol.consumer_key.to_owned(),
            token: protocol.token.map(str::to_owned),
            signature_method: protocol.signature_method,
            signature: protocol.signature.to_owned(),
            timestamp: protocol.timestamp,
            nonce: protocol.nonce,
            callback: protocol.callback.map(str::to_owned),
            verifier: protocol.verifier.map(str::to_owned),
            realm: header.as_ref().and_then(|h| h.realm().map(str::to_owned)),
            base_string: signature_base_string(request.method, &base_uri, &normalized),
        })
    }

    /// Verifies the signature with the client's (and token's) keys.
    pub fn verify(&self, keys: VerificationKeys<'_>) -> Result<(), ProtocolError> {
        signature::verify(self.signature_method, &self.base_string, &self.signature, keys)
    }

    /// `oauth_consumer_key`.
    pub fn consumer_key(&self) -> &str {
        &self.consumer_key
    }

    /// `oauth_token`, when sent (an empty value counts as absent, as section 3.1
    /// allows for requests made without a token).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `oauth_signature_method`.
    pub fn signature_method(&self) -> SignatureMethod {
        self.signature_method
    }

    /// `oauth_timestamp`; always present unless the method is PLAINTEXT.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// `oauth_nonce`; always present unless the method is PLAINTEXT.
    pub fn nonce(&self) -> Option<&Nonce> {
        self.nonce.as_ref()
    }

    /// `oauth_callback`, when sent.
    pub fn callback(&self) -> Option<&str> {
        self.callback.as_deref()
    }

    /// `oauth_verifier`, when sent. A secret: never log it.
    pub fn verifier(&self) -> Option<&str> {
        self.verifier.as_deref()
    }

    /// The header's `realm`, when sent.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The signature base string this request was checked against.
    pub fn base_string(&self) -> &str {
        &self.base_string
    }
}

/// Leaves out the signature and the verifier: `Debug` output ends up in logs.
impl fmt::Debug for SignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("consumer_key", &self.consumer_key)
            .field("token", &self.token)
            .field("signature_method", &self.signature_method)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .field("callback", &self.callback)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

struct ProtocolParams<'a> {
    consumer_key: &'a str,
    token: Option<&'a str>,
    signature_method: SignatureMethod,
    signature: &'a str,
    timestamp: Option<Timestamp>,
    nonce: Option<Nonce>,
    callback: Option<&'a str>,
    verifier: Option<&'a str>,
}

impl<'a> ProtocolParams<'a> {
    fn collect(params: &[(&'a str, &'a str)]) -> Result<Self, ProtocolError> {
        let protocol: Vec<(&str, &str)> =
            params.iter().copied().filter(|(name, _)| name.starts_with("oauth_")).collect();
        let mut seen = std::collections::HashSet::with_capacity(protocol.len());
        if let Some((name, _)) = protocol.iter().find(|(name, _)| !seen.insert(*name)) {
            return Err(ProtocolError::rejected(name, "sent more than once"));
        }
        let get = |wanted: &str| protocol.iter().find(|(name, _)| *name == wanted).map(|(_, value)| *value);

        let signature_method = get("oauth_signature_method").map(str::parse::<SignatureMethod>).transpose();
        let needs_nonce = !matches!(signature_method, Ok(Some(method)) if !method.requires_timestamp_and_nonce());
        let mut missing: Vec<&'static str> =
            ALWAYS_REQUIRED.iter().copied().filter(|name| get(name).is_none()).collect();
        if needs_nonce {
            missing.extend(["oauth_timestamp", "oauth_nonce"].into_iter().filter(|name| get(name).is_none()));
        }
        // Where they are optional (PLAINTEXT) they come together or not at all: a nonce
        // is recorded under its timestamp, so one without the other could be replayed.
        match (get("oauth_timestamp"), get("oauth_nonce")) {
            (Some(_), None) => missing.push("oauth_nonce"),
            (None, Some(_)) => missing.push("oauth_timestamp"),
            _ => {}
        }
        missing.dedup();
        if !missing.is_empty() {
            return Err(ProtocolError::ParameterAbsent { missing });
        }
        let signature_method = signature_method?.expect("checked present above");
        // Looked up in the database: a NUL or another control character names nothing
        // and some databases refuse it outright.
        for name in ["oauth_consumer_key", "oauth_token", "oauth_verifier"] {
            if get(name).is_some_and(|value| value.chars().any(char::is_control)) {
                return Err(ProtocolError::rejected(name, "contains control characters"));
            }
        }
        if get("oauth_version").is_some_and(|version| version != "1.0") {
            return Err(ProtocolError::VersionRejected);
        }
        Ok(Self {
            consumer_key: get("oauth_consumer_key").expect("checked present above"),
            token: get("oauth_token").filter(|token| !token.is_empty()),
            signature_method,
            signature: get("oauth_signature").expect("checked present above"),
            timestamp: get("oauth_timestamp").map(Timestamp::parse).transpose()?,
            nonce: get("oauth_nonce").map(Nonce::parse).transpose()?,
            callback: get("oauth_callback"),
            verifier: get("oauth_verifier"),
        })
    }
}

/// Whether a Content-Type is a form: the media type compared without parameters and
/// case-insensitively (`application/x-www-form-urlencoded; charset=utf-8` counts).
fn is_form(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(FORM_CONTENT_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming<'a>(url: &'a str, authorization: Option<&'a str>, body: &'a str) -> IncomingRequest<'a> {
        IncomingRequest {
            method: "POST",
            url,
            authorization,
            content_type: Some("application/x-www-form-urlencoded; charset=UTF-8"),
            body: body.as_bytes(),
        }
    }

    const HEADER: &str = r#"OAuth oauth_consumer_key="k", oauth_signature_method="HMAC-SHA1", oauth_signature="s", oauth_timestamp="10", oauth_nonce="n""#;

    #[test]
    fn protocol_parameter_in_two_places_is_rejected() {
        let error =
            SignedRequest::from_request(&incoming("http://a.test/?oauth_nonce=m", Some(HEADER), "")).unwrap_err();
        assert_eq!(error, ProtocolError::rejected("oauth_nonce", "sent more than once"));
        let error =
            SignedRequest::from_request(&incoming("http://a.test/", Some(HEADER), "oauth_timestamp=11")).unwrap_err();
        assert_eq!(error.problem(), "parameter_rejected");
    }

    #[test]
    fn keys_tokens_and_verifiers_with_control_characters_are_rejected() {
        for (name, value) in [("oauth_consumer_key", "k%00"), ("oauth_token", "t%0Ax"), ("oauth_verifier", "%7F")] {
            let header = format!(
                r#"OAuth oauth_consumer_key="k", oauth_signature_method="PLAINTEXT", oauth_signature="a%26b", {name}="{value}""#
            )
            .replacen(r#"oauth_consumer_key="k", "#, "", usize::from(name == "oauth_consumer_key"));
            let error = SignedRequest::from_request(&incoming("http://h/r", Some(&header), "")).unwrap_err();
            assert_eq!(error, ProtocolError::rejected(name, "contains control characters"), "{header}");
        }
    }

    #[test]
    fn a_nonce_with_control_characters_is_rejected() {
        for nonce in ["a%00b", "a%0Ab", "%7F"] {
            let header = HEADER.replace(r#"oauth_nonce="n""#, &format!(r#"oauth_nonce="{nonce}""#));
            let error = SignedRequest::from_request(&incoming("http://a.test/", Some(&header), "")).unwrap_err();
            assert_eq!(error, ProtocolError::rejected("oauth_nonce", "contains control characters"), "{nonce}");
        }
        let header = HEADER.replace(r#"oauth_nonce="n""#, r#"oauth_nonce="caf%C3%A9%20n""#);
        assert!(SignedRequest::from_request(&incoming("http://a.test/", Some(&header), "")).is_ok());
    }

    #[test]
    fn more_than_the_most_parameters_are_refused_in_any_place() {
        let header = r#"OAuth oauth_consumer_key="k", oauth_signature_method="PLAINTEXT", oauth_signature="a%26b""#;
        let form = |count: usize| (0..count).map(|n| format!("p{n}=v")).collect::<Vec<_>>().join("&");
        let (at_most, over) = (form(MAX_PARAMETERS - 3), form(MAX_PARAMETERS - 2));
        assert!(SignedRequest::from_request(&incoming("http://h/r", Some(header), &at_most)).is_ok());
        let refused = ProtocolError::rejected("request", "more than 100 parameters");
        assert_eq!(SignedRequest::from_request(&incoming("http://h/r", Some(header), &over)).unwrap_err(), refused);
        let url = format!("http://h/r?{over}");
        assert_eq!(SignedRequest::from_request(&incoming(&url, Some(header), "")).unwrap_err(), refused);
        // Thousands of duplicated names are refused at the first repeat, whatever follows.
        let flood = (0..4_800).map(|_| "oauth_x=1").collect::<Vec<_>>().join("&");
        assert_eq!(
            SignedRequest::from_request(&incoming("http://h/r", Some(header), &flood)).unwrap_err(),
            refused,
            "the cap comes first"
        );
    }

    #[test]
    fn repeated_ordinary_parameters_are_kept() {
        let request = SignedRequest::from_request(&incoming("http://a.test/?x=1&x=1", Some(HEADER), "x=1")).unwrap();
        assert!(request.base_string().contains("x%3D1%26x%3D1%26x%3D1"));
    }

    #[test]
    fn missing_parameters_are_listed() {
        let error = SignedRequest::from_request(&incoming(
            "http://a.test/",
            Some(r#"OAuth oauth_consumer_key="k", oauth_signature_method="HMAC-SHA1""#),
            "",
        ))
        .unwrap_err();
        assert_eq!(
            error,
            ProtocolError::ParameterAbsent { missing: vec!["oauth_signature", "oauth_timestamp", "oauth_nonce"] }
        );
    }

    #[test]
    fn plaintext_may_omit_timestamp_and_nonce() {
        let header = r#"OAuth oauth_consumer_key="k", oauth_signature_method="PLAINTEXT", oauth_signature="a%26b""#;
        let request = SignedRequest::from_request(&incoming("http://a.test/", Some(header), "")).unwrap();
        assert_eq!(request.timestamp(), None);
        assert_eq!(request.nonce(), None);
    }

    #[test]
    fn plaintext_takes_a_timestamp_and_a_nonce_together_or_neither() {
        let header = r#"OAuth oauth_consumer_key="k", oauth_signature_method="PLAINTEXT", oauth_signature="a%26b""#;
        for (extra, missing) in
            [(r#", oauth_nonce="n""#, "oauth_timestamp"), (r#", oauth_timestamp="10""#, "oauth_nonce")]
        {
            let error = SignedRequest::from_request(&incoming("http://h/r", Some(&format!("{header}{extra}")), ""))
                .unwrap_err();
            assert_eq!(error, ProtocolError::ParameterAbsent { missing: vec![missing] });
        }
        let both = format!(r#"{header}, oauth_nonce="n", oauth_timestamp="10""#);
        assert!(SignedRequest::from_request(&incoming("http://h/r", Some(&both), "")).is_ok());
    }

    #[test]
    fn version_other_than_1_0_is_rejected() {
        let with_version = |version: &str| format!("{HEADER}, oauth_version=\"{version}\"");
        let error =
            SignedRequest::from_request(&incoming("http://a.test/", Some(&with_version("2.0")), "")).unwrap_err();
        assert_eq!(error, ProtocolError::VersionRejected);
        let accepted =
            SignedRequest::from_request(&incoming("http://a.test/", Some(&with_version("1.0")), "")).unwrap();
        assert!(accepted.base_string().contains("oauth_version%3D1.0"), "a sent version is signed");
    }

    #[test]
    fn unknown_signature_method_is_rejected() {
        let header = HEADER.replace("HMAC-SHA1", "HMAC-MD5");
        let error = SignedRequest::from_request(&incoming("http://a.test/", Some(&header), "")).unwrap_err();
        assert_eq!(error, ProtocolError::SignatureMethodRejected);
    }

    #[test]
    fn malformed_timestamps_and_nonces_are_rejected() {
        for bad in ["-1", "%2B5", "0", "1.5", "", "99999999999999999999"] {
            let header = HEADER.replace(r#"oauth_timestamp="10""#, &format!(r#"oauth_timestamp="{bad}""#));
            let error = SignedRequest::from_request(&incoming("http://a.test/", Some(&header), "")).unwrap_err();
            assert_eq!(error, ProtocolError::rejected("oauth_timestamp", "not a positive integer"), "{bad}");
        }
        let header = HEADER.replace(r#"oauth_nonce="n""#, r#"oauth_nonce="""#);
        assert_eq!(
            SignedRequest::from_request(&incoming("http://a.test/", Some(&header), "")).unwrap_err(),
            ProtocolError::rejected("oauth_nonce", "empty")
        );
    }

    #[test]
    fn body_is_read_only_for_forms() {
        let mut request = incoming("http://a.test/", Some(HEADER), "oauth_nonce=second");
        request.content_type = Some("application/json");
        assert!(SignedRequest::from_request(&request).is_ok());
        request.content_type = Some("Application/X-WWW-Form-URLEncoded");
        assert!(SignedRequest::from_request(&request).is_err());
    }

    #[test]
    fn non_utf8_form_body_is_rejected() {
        let mut request = incoming("http://a.test/", Some(HEADER), "");
        request.body = b"a=\xff";
        assert_eq!(SignedRequest::from_request(&request).unwrap_err().problem(), "parameter_rejected");
    }

    #[test]
    fn timestamp_window_is_inclusive_and_reports_the_range() {
        let ts = Timestamp::parse("1000").unwrap();
        assert!(ts.check_window(1300, 300).is_ok());
        assert!(ts.check_window(700, 300).is_ok());
        assert_eq!(ts.check_window(1301, 300), Err(ProtocolError::TimestampRefused { earliest: 1001, latest: 1601 }));
    }

    #[test]
    fn debug_output_of_the_raw_request_hides_header_query_and_body() {
        let request = incoming("http://a.test/p?oauth_verifier=v3rifier", Some(HEADER), "oauth_signature=s1gnature");
        let debug = format!("{request:?}");
        assert!(debug.contains("http://a.test/p"), "{debug}");
        assert!(
            !debug.contains("v3rifier") && !debug.contains("s1gnature") && !debug.contains("oauth_nonce"),
            "{debug}"
        );
    }

    #[test]
    fn debug_output_hides_signature_and_verifier() {
        let header = format!("{HEADER}, oauth_verifier=\"v3rifier\"")
            .replace("oauth_signature=\"s\"", "oauth_signature=\"s1gnature\"");
        let request = SignedRequest::from_request(&incoming("http://a.test/", Some(&header), "")).unwrap();
        let debug = format!("{request:?}");
        assert!(!debug.contains("s1gnature") && !debug.contains("v3rifier"), "{debug}");
    }
}
