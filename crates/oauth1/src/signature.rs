//! Signature methods (RFC 5849 section 3.4): HMAC-SHA1, HMAC-SHA256, RSA-SHA1 and
//! PLAINTEXT, for signing and for verifying. Every comparison of a shared-secret
//! signature runs in constant time.

use std::{fmt, str::FromStr};

use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use hmac::{Hmac, KeyInit, Mac};
use rsa::pkcs1v15::{Signature as RsaSignature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer as _, Verifier as _};
pub use rsa::{PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use sha2::Digest as _;
use subtle::ConstantTimeEq;

use crate::encoding::encode_into;
use crate::error::ProtocolError;

/// A signature method this crate implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureMethod {
    /// `HMAC-SHA1` (section 3.4.2).
    HmacSha1,
    /// `HMAC-SHA256`: section 3.4.2 with SHA-256.
    HmacSha256,
    /// `RSA-SHA1` (section 3.4.3), PKCS#1 v1.5.
    RsaSha1,
    /// `PLAINTEXT` (section 3.4.4): the secrets themselves, for use over TLS only.
    Plaintext,
}

impl SignatureMethod {
    /// The name used in `oauth_signature_method`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HMAC-SHA1",
            Self::HmacSha256 => "HMAC-SHA256",
            Self::RsaSha1 => "RSA-SHA1",
            Self::Plaintext => "PLAINTEXT",
        }
    }

    /// Whether requests must carry `oauth_timestamp` and `oauth_nonce`: all methods
    /// but PLAINTEXT (section 3.1), whose security rests on the transport.
    pub const fn requires_timestamp_and_nonce(self) -> bool {
        !matches!(self, Self::Plaintext)
    }
}

impl FromStr for SignatureMethod {
    type Err = ProtocolError;

    /// Method names are case-sensitive, as the RFC writes them.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "HMAC-SHA1" => Ok(Self::HmacSha1),
            "HMAC-SHA256" => Ok(Self::HmacSha256),
            "RSA-SHA1" => Ok(Self::RsaSha1),
            "PLAINTEXT" => Ok(Self::Plaintext),
            _ => Err(ProtocolError::SignatureMethodRejected),
        }
    }
}

impl fmt::Display for SignatureMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shared secrets of a request: the client's, and the token's (empty when the
/// request carries no token).
#[derive(Clone, Copy)]
pub struct Secrets<'a> {
    /// The client's shared secret.
    pub client_secret: &'a str,
    /// The token's secret, or empty.
    pub token_secret: &'a str,
}

impl fmt::Debug for Secrets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secrets(..)")
    }
}

impl Secrets<'_> {
    /// `encode(client_secret) & encode(token_secret)`: the HMAC key (3.4.2) and the
    /// PLAINTEXT signature (3.4.4).
    fn joined(&self) -> String {
        let mut key = String::with_capacity(self.client_secret.len() + self.token_secret.len() + 1);
        encode_into(&mut key, self.client_secret);
        key.push('&');
        encode_into(&mut key, self.token_secret);
        key
    }
}

/// What verifies a signature: the shared secrets, and the client's registered RSA
/// public key if it has one (needed for RSA-SHA1 only).
#[derive(Debug, Clone, Copy)]
pub struct VerificationKeys<'a> {
    /// For HMAC and PLAINTEXT.
    pub secrets: Secrets<'a>,
    /// The client's registered key, for RSA-SHA1.
    pub rsa_public_key: Option<&'a RsaPublicKey>,
}

/// What makes a signature: the shared secrets, and an RSA private key for RSA-SHA1.
#[derive(Debug, Clone, Copy)]
pub struct SigningKeys<'a> {
    /// For HMAC and PLAINTEXT.
    pub secrets: Secrets<'a>,
    /// The client's private key, for RSA-SHA1.
    pub rsa_private_key: Option<&'a RsaPrivateKey>,
}

/// Why a signature could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    /// RSA-SHA1 was asked for without a private key.
    MissingRsaKey,
    /// The RSA operation failed (key too small for the digest, for instance).
    Rsa,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingRsaKey => "RSA-SHA1 needs an RSA private key",
            Self::Rsa => "RSA signing failed",
        })
    }
}

impl std::error::Error for SignError {}

/// Signs `base_string` and returns the `oauth_signature` value (not yet
/// percent-encoded). PLAINTEXT ignores the base string.
pub fn sign(method: SignatureMethod, base_string: &str, keys: SigningKeys<'_>) -> Result<String, SignError> {
    let message = base_string.as_bytes();
    Ok(match method {
        SignatureMethod::HmacSha1 => {
            BASE64.encode(hmac::<sha1::Sha1>(&keys.secrets.joined(), message).finalize().into_bytes())
        }
        SignatureMethod::HmacSha256 => {
            BASE64.encode(hmac::<sha2::Sha256>(&keys.secrets.joined(), message).finalize().into_bytes())
        }
        SignatureMethod::RsaSha1 => {
            let private_key = keys.rsa_private_key.ok_or(SignError::MissingRsaKey)?;
            let signer = SigningKey::<sha1::Sha1>::new(private_key.clone());
            let signature = signer.try_sign(message).map_err(|_| SignError::Rsa)?;
            BASE64.encode(signature.to_bytes())
        }
        SignatureMethod::Plaintext => keys.secrets.joined(),
    })
}

/// Verifies `signature` (the decoded `oauth_signature` value) over `base_string`.
///
/// RSA-SHA1 from a client without a registered public key is
/// [`ProtocolError::SignatureMethodRejected`]; every mismatch is
/// [`ProtocolError::SignatureInvalid`], with no hint of how close it came.
pub fn verify(
    method: SignatureMethod,
    base_string: &str,
    signature: &str,
    keys: VerificationKeys<'_>,
) -> Result<(), ProtocolError> {
    let message = base_string.as_bytes();
    let valid = match method {
        SignatureMethod::HmacSha1 => decode_signature(signature)
            .is_some_and(|raw| hmac::<sha1::Sha1>(&keys.secrets.joined(), message).verify_slice(&raw).is_ok()),
        SignatureMethod::HmacSha256 => decode_signature(signature)
            .is_some_and(|raw| hmac::<sha2::Sha256>(&keys.secrets.joined(), message).verify_slice(&raw).is_ok()),
        SignatureMethod::RsaSha1 => {
            let public_key = keys.rsa_public_key.ok_or(ProtocolError::SignatureMethodRejected)?;
            let verifier = VerifyingKey::<sha1::Sha1>::new(public_key.clone());
            decode_signature(signature)
                .and_then(|raw| RsaSignature::try_from(raw.as_slice()).ok())
                .is_some_and(|sig| verifier.verify(message, &sig).is_ok())
        }
        // Digests first: comparing the raw strings would end early on a length
        // mismatch and so tell how long the secrets are.
        SignatureMethod::Plaintext => {
            let expected = sha2::Sha256::digest(keys.secrets.joined().as_bytes());
            bool::from(expected.as_slice().ct_eq(sha2::Sha256::digest(signature.as_bytes()).as_slice()))
        }
    };
    if valid { Ok(()) } else { Err(ProtocolError::SignatureInvalid) }
}

fn hmac<D: hmac::EagerHash>(key: &str, message: &[u8]) -> Hmac<D>
where
    Hmac<D>: KeyInit + Mac,
{
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac
}

fn decode_signature(signature: &str) -> Option<Vec<u8>> {
    BASE64.decode(signature).ok()
}

/// Why an RSA key in PEM form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyError;

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an RSA key in PEM form (SPKI \"PUBLIC KEY\", PKCS#1 \"RSA PUBLIC KEY\" or \"RSA PRIVATE KEY\", PKCS#8 \"PRIVATE KEY\")")
    }
}

impl std::error::Error for KeyError {}

/// Reads a client's RSA public key: SPKI (`BEGIN PUBLIC KEY`) or PKCS#1
/// (`BEGIN RSA PUBLIC KEY`).
pub fn rsa_public_key_from_pem(pem: &str) -> Result<RsaPublicKey, KeyError> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    RsaPublicKey::from_public_key_pem(pem).or_else(|_| RsaPublicKey::from_pkcs1_pem(pem)).map_err(|_| KeyError)
}

/// Reads an RSA private key for signing: PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
/// (`BEGIN PRIVATE KEY`).
pub fn rsa_private_key_from_pem(pem: &str) -> Result<RsaPrivateKey, KeyError> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    RsaPrivateKey::from_pkcs1_pem(pem).or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem)).map_err(|_| KeyError)
}
