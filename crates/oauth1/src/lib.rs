#![warn(missing_docs)]
//! The OAuth 1.0a wire protocol (RFC 5849 section 3), pure: no I/O, no clock, no
//! framework. It serves both sides — the server verifying a request and a client
//! signing one — and depends on nothing else in grantlog.
//!
//! Verifying a request:
//!
//! ```
//! use grantlog_oauth1::{IncomingRequest, SignedRequest, Secrets, VerificationKeys};
//!
//! let request = IncomingRequest {
//!     method: "GET",
//!     url: "http://photos.example.net/photos?file=vacation.jpg&size=original",
//!     authorization: Some(concat!(
//!         r#"OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", "#,
//!         r#"oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", "#,
//!         r#"oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D""#,
//!     )),
//!     content_type: None,
//!     body: b"",
//! };
//! let signed = SignedRequest::from_request(&request)?;
//! assert_eq!(signed.consumer_key(), "dpf43f3p2l4k3l03");
//! let secrets = Secrets { client_secret: "kd94hf93k423kf44", token_secret: "pfkkdhi9sl3r4s00" };
//! signed.verify(VerificationKeys { secrets, rsa_public_key: None })?;
//! # Ok::<(), grantlog_oauth1::ProtocolError>(())
//! ```
//!
//! Timestamps are checked with [`Timestamp::check_window`] against a `now` the caller
//! passes in; nonces and tokens are the server's business.

pub mod base_string;
pub mod client;
pub mod encoding;
pub mod error;
pub mod header;
pub mod request;
pub mod signature;
pub mod uri;

pub use client::{ClientError, Signer, Unsigned};
pub use error::ProtocolError;
pub use header::AuthorizationHeader;
pub use request::{IncomingRequest, Nonce, SignedRequest, Timestamp};
pub use signature::{
    RsaPrivateKey, RsaPublicKey, Secrets, SignatureMethod, SigningKeys, VerificationKeys, rsa_private_key_from_pem,
    rsa_public_key_from_pem,
};
