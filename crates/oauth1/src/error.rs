//! The protocol's errors, named as the OAuth Problem Reporting extension names them.
//!
//! The HTTP layer maps a [`ProtocolError`] to a response once: [`ProtocolError::status`]
//! gives the status RFC 5849 section 3.2 asks for and [`ProtocolError::report`] the
//! form-encoded body parameters. No variant carries a secret, a signature or a parameter
//! value: only parameter names and reasons fixed at compile time, so an error can be
//! logged and sent back as it is.

use std::fmt;

/// A request refused at the protocol level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// Required protocol parameters are missing (`parameter_absent`).
    ParameterAbsent {
        /// The missing parameters' names.
        missing: Vec<&'static str>,
    },
    /// A parameter is malformed, duplicated or not allowed where it was sent
    /// (`parameter_rejected`). `parameter` is a name, never a value.
    ParameterRejected {
        /// The parameter's name (or `Authorization`, `query`, `body`, `url`).
        parameter: String,
        /// Why, in a few words.
        reason: &'static str,
    },
    /// `oauth_version` was sent with a value other than `1.0` (`version_rejected`).
    VersionRejected,
    /// The signature method is unknown or not allowed for this client
    /// (`signature_method_rejected`).
    SignatureMethodRejected,
    /// The signature does not verify (`signature_invalid`).
    SignatureInvalid,
    /// The timestamp lies outside the accepted window (`timestamp_refused`).
    TimestampRefused {
        /// The earliest timestamp accepted now.
        earliest: u64,
        /// The latest timestamp accepted now.
        latest: u64,
    },
    /// This nonce was already used with this client, token and timestamp (`nonce_used`).
    NonceUsed,
    /// No client has this key (`consumer_key_unknown`).
    ConsumerKeyUnknown,
    /// The client exists but may not make requests, e.g. it is suspended
    /// (`consumer_key_rejected`).
    ConsumerKeyRejected,
    /// The token is unknown or not valid for this request (`token_rejected`).
    TokenRejected,
    /// The request token was already exchanged (`token_used`).
    TokenUsed,
    /// The token has expired (`token_expired`).
    TokenExpired,
    /// The token was revoked (`token_revoked`).
    TokenRevoked,
    /// The verifier does not match the request token (`verifier_invalid`).
    VerifierInvalid,
    /// The resource owner denied the request, or the grant does not cover the
    /// resource (`permission_denied`).
    PermissionDenied,
    /// The resource owner has not decided yet (`permission_unknown`).
    PermissionUnknown,
}

impl ProtocolError {
    /// Shorthand for [`ProtocolError::ParameterRejected`].
    /// The name is made printable: names come from the request, and the error goes
    /// into logs and response headers.
    pub fn rejected(parameter: &str, reason: &'static str) -> Self {
        Self::ParameterRejected { parameter: printable_name(parameter), reason }
    }

    /// The `oauth_problem` value.
    pub fn problem(&self) -> &'static str {
        match self {
            Self::ParameterAbsent { .. } => "parameter_absent",
            Self::ParameterRejected { .. } => "parameter_rejected",
            Self::VersionRejected => "version_rejected",
            Self::SignatureMethodRejected => "signature_method_rejected",
            Self::SignatureInvalid => "signature_invalid",
            Self::TimestampRefused { .. } => "timestamp_refused",
            Self::NonceUsed => "nonce_used",
            Self::ConsumerKeyUnknown => "consumer_key_unknown",
            Self::ConsumerKeyRejected => "consumer_key_rejected",
            Self::TokenRejected => "token_rejected",
            Self::TokenUsed => "token_used",
            Self::TokenExpired => "token_expired",
            Self::TokenRevoked => "token_revoked",
            Self::VerifierInvalid => "verifier_invalid",
            Self::PermissionDenied => "permission_denied",
            Self::PermissionUnknown => "permission_unknown",
        }
    }

    /// The HTTP status per RFC 5849 section 3.2: 400 for a request that is malformed
    /// or unsupported, 401 for one that is well-formed but not authorized.
    pub fn status(&self) -> u16 {
        match self {
            Self::ParameterAbsent { .. }
            | Self::ParameterRejected { .. }
            | Self::VersionRejected
            | Self::SignatureMethodRejected => 400,
            Self::SignatureInvalid
            | Self::TimestampRefused { .. }
            | Self::NonceUsed
            | Self::ConsumerKeyUnknown
            | Self::ConsumerKeyRejected
            | Self::TokenRejected
            | Self::TokenUsed
            | Self::TokenExpired
            | Self::TokenRevoked
            | Self::VerifierInvalid
            | Self::PermissionDenied
            | Self::PermissionUnknown => 401,
        }
    }

    /// The Problem Reporting parameters for the response body, `oauth_problem` first,
    /// then the extension's companions (`oauth_parameters_absent`,
    /// `oauth_parameters_rejected`, `oauth_acceptable_versions`,
    /// `oauth_acceptable_timestamps`) and a human-readable `oauth_problem_advice`.
    pub fn report(&self) -> Vec<(&'static str, String)> {
        let mut report = vec![("oauth_problem", self.problem().to_owned())];
        match self {
            Self::ParameterAbsent { missing } => {
                report.push(("oauth_parameters_absent", missing.join("&")));
            }
            Self::ParameterRejected { parameter, .. } => {
                report.push(("oauth_parameters_rejected", parameter.clone()));
            }
            Self::VersionRejected => report.push(("oauth_acceptable_versions", "1.0-1.0".into())),
            Self::TimestampRefused { earliest, latest } => {
                report.push(("oauth_acceptable_timestamps", format!("{earliest}-{latest}")));
            }
            _ => {}
        }
        report.push(("oauth_problem_advice", self.to_string()));
        report
    }
}

/// Longest parameter name an error repeats.
const MAX_NAME_IN_ERROR: usize = 64;

/// A request-supplied parameter name as errors may repeat it: percent-encoded (so no
/// control character, quote or line break survives) and cut to [`MAX_NAME_IN_ERROR`]
/// bytes.
pub(crate) fn printable_name(name: &str) -> String {
    let mut encoded = crate::encoding::percent_encode(name);
    if encoded.len() > MAX_NAME_IN_ERROR {
        encoded.truncate(MAX_NAME_IN_ERROR);
        encoded.push_str("...");
    }
    encoded
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ParameterAbsent { missing } => {
                write!(f, "missing protocol parameters: {}", missing.join(", "))
            }
            Self::ParameterRejected { parameter, reason } => write!(f, "{parameter}: {reason}"),
            Self::VersionRejected => f.write_str("oauth_version must be 1.0"),
            Self::SignatureMethodRejected => f.write_str("signature method not supported for this client"),
            Self::SignatureInvalid => f.write_str("invalid signature"),
            Self::TimestampRefused { earliest, latest } => {
                write!(f, "timestamp outside the accepted window {earliest}-{latest}")
            }
            Self::NonceUsed => f.write_str("nonce already used"),
            Self::ConsumerKeyUnknown => f.write_str("unknown client"),
            Self::ConsumerKeyRejected => f.write_str("client is not allowed to make requests"),
            Self::TokenRejected => f.write_str("token not valid for this request"),
            Self::TokenUsed => f.write_str("token already used"),
            Self::TokenExpired => f.write_str("token expired"),
            Self::TokenRevoked => f.write_str("token revoked"),
            Self::VerifierInvalid => f.write_str("verifier does not match"),
            Self::PermissionDenied => f.write_str("permission denied"),
            Self::PermissionUnknown => f.write_str("the resource owner has not decided yet"),
        }
    }
}

impl std::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_requests_are_400_and_unauthorized_ones_401() {
        assert_eq!(ProtocolError::rejected("oauth_nonce", "empty").status(), 400);
        assert_eq!(ProtocolError::SignatureMethodRejected.status(), 400);
        assert_eq!(ProtocolError::SignatureInvalid.status(), 401);
        assert_eq!(ProtocolError::NonceUsed.status(), 401);
        assert_eq!(ProtocolError::TokenRevoked.status(), 401);
    }

    #[test]
    fn names_from_the_request_are_made_printable_and_short() {
        let injected = ProtocolError::rejected("oauth_\r\nSet-Cookie: x", "sent more than once");
        assert_eq!(injected.report()[1], ("oauth_parameters_rejected", "oauth_%0D%0ASet-Cookie%3A%20x".to_owned()));
        let long = ProtocolError::rejected(&"a".repeat(10_000), "empty");
        assert!(long.to_string().len() < 100, "{long}");
    }

    #[test]
    fn report_names_the_problem_and_its_companion_parameter() {
        let refused = ProtocolError::TimestampRefused { earliest: 100, latest: 700 };
        assert_eq!(refused.report()[0], ("oauth_problem", "timestamp_refused".to_owned()));
        assert_eq!(refused.report()[1], ("oauth_acceptable_timestamps", "100-700".to_owned()));
        let absent = ProtocolError::ParameterAbsent { missing: vec!["oauth_nonce", "oauth_timestamp"] };
        assert_eq!(absent.report()[1], ("oauth_parameters_absent", "oauth_nonce&oauth_timestamp".to_owned()));
    }
}
