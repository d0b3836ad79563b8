//! The signing side: what a client (our tests, `grantlog demo`, the load driver) does to
//! send a signed request.

use std::fmt;

use crate::base_string::{normalize_parameters, signature_base_string};
use crate::encoding::parse_form;
use crate::header::{AuthorizationHeader, HeaderError};
use crate::signature::{self, RsaPrivateKey, Secrets, SignError, SignatureMethod, SigningKeys};
use crate::uri::{UriError, base_string_uri, query};

/// A client's credentials, and the token credentials it signs with (if any).
#[derive(Clone)]
pub struct Signer {
    consumer_key: String,
    client_secret: String,
    token: Option<(String, String)>,
    method: SignatureMethod,
    rsa_private_key: Option<RsaPrivateKey>,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The URL gives no base string URI.
    Uri(UriError),
    /// The signature could not be made.
    Sign(SignError),
    /// The realm cannot be sent in a header.
    Header(HeaderError),
    /// The URL's query is not valid percent-encoded UTF-8.
    Query,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Uri(error) => error.fmt(f),
            Self::Sign(error) => error.fmt(f),
            Self::Header(error) => error.fmt(f),
            Self::Query => f.write_str("URL query is not valid percent-encoded UTF-8"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One request to sign. `body` holds the decoded form parameters when the body is
/// `application/x-www-form-urlencoded` (they are signed), and is empty otherwise.
#[derive(Clone, Copy)]
pub struct Unsigned<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The absolute URL, query included.
    pub url: &'a str,
    /// Decoded form-body parameters (empty for other bodies).
    pub body: &'a [(String, String)],
    /// Extra protocol parameters: `oauth_callback`, `oauth_verifier`, `oauth_version`.
    pub extra: &'a [(&'a str, &'a str)],
    /// `oauth_nonce`: unique per client, token and timestamp.
    pub nonce: &'a str,
    /// `oauth_timestamp`: seconds since the Unix epoch.
    pub timestamp: u64,
}

/// Names the extra parameters without their values: the verifier is one of them.
impl fmt::Debug for Unsigned<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unsigned")
            .field("method", &self.method)
            .field("url", &self.url.split(['?', '#']).next().unwrap_or_default())
            .field("body_params", &self.body.len())
            .field("extra", &self.extra.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A client signing with `method` using its key and shared secret.
    pub fn new(consumer_key: impl Into<String>, client_secret: impl Into<String>, method: SignatureMethod) -> Self {
        Self {
            consumer_key: consumer_key.into(),
            client_secret: client_secret.into(),
            token: None,
            method,
            rsa_private_key: None,
        }
    }

    /// Signs with token credentials as well.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>, token_secret: impl Into<String>) -> Self {
        self.token = Some((token.into(), token_secret.into()));
        self
    }

    /// The private key for RSA-SHA1.
    #[must_use]
    pub fn with_rsa_key(mut self, key: RsaPrivateKey) -> Self {
        self.rsa_private_key = Some(key);
        self
    }

    /// The protocol parameters of `request`, `oauth_signature` last, decoded: send them
    /// in an Authorization header ([`Signer::authorization_header`]), a query or a form.
    pub fn protocol_params(&self, request: &Unsigned<'_>) -> Result<Vec<(String, String)>, ClientError> {
        let mut protocol: Vec<(String, String)> = vec![
            ("oauth_consumer_key".into(), self.consumer_key.clone()),
            ("oauth_signature_method".into(), self.method.as_str().into()),
            // Sent with PLAINTEXT too: optional there, but some servers (oauthlib's) insist.
            ("oauth_timestamp".into(), request.timestamp.to_string()),
            ("oauth_nonce".into(), request.nonce.into()),
        ];
        if let Some((token, _)) = &self.token {
            protocol.push(("oauth_token".into(), token.clone()));
        }
        protocol.extend(request.extra.iter().map(|&(name, value)| (name.to_owned(), value.to_owned())));

        let base_uri = base_string_uri(request.url).map_err(ClientError::Uri)?;
        let query_params = match query(request.url) {
            Some(query) => parse_form(query).map_err(|_| ClientError::Query)?,
            None => Vec::new(),
        };
        let normalized = normalize_parameters(
            protocol.iter().chain(&query_params).chain(request.body).map(|(n, v)| (n.as_str(), v.as_str())),
        );
        let base_string = signature_base_string(request.method, &base_uri, &normalized);
        let keys = SigningKeys {
            secrets: Secrets {
                client_secret: &self.client_secret,
                token_secret: self.token.as_ref().map_or("", |(_, secret)| secret),
            },
            rsa_private_key: self.rsa_private_key.as_ref(),
        };
        let signature = signature::sign(self.method, &base_string, keys).map_err(ClientError::Sign)?;
        protocol.push(("oauth_signature".into(), signature));
        Ok(protocol)
    }

    /// The `Authorization` header value for `request`.
    pub fn authorization_header(&self, request: &Unsigned<'_>, realm: Option<&str>) -> Result<String, ClientError> {
        let params = self.protocol_params(request)?;
        Ok(AuthorizationHeader::new(realm, params).map_err(ClientError::Header)?.to_string())
    }
}

/// Leaves out the secrets.
impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("consumer_key", &self.consumer_key)
            .field("token", &self.token.as_ref().map(|(token, _)| token))
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}
