#![warn(missing_docs)]
//! grantlog's rules, pure: the event catalogue, the commands, and the aggregates (Client,
//! Owner and Grant) that decide which events a command produces — expiry, scope
//! narrowing, verifier checks, who may revoke what. No I/O, no clock and no randomness:
//! time, ids, tokens and fingerprints of fresh secrets come in with each command.
//!
//! Every aggregate is an [`Aggregate`]: `decide(&state, &command)` returns the events
//! (or a [`DomainError`]) and `evolve(state, &event)` folds one event in. The caller
//! loads a stream, folds it, decides, and appends the events with their envelope
//! (occurred-at — the command's `now` —, actor, trace id) through the store, storing
//! [`Event::event_type`], [`Event::schema_version`] and [`Event::payload`] under
//! [`Event::stream_id`]; [`Event::decode`] reads them back.
//!
//! Values from outside are parsed into newtypes first ([`ConsumerKey`], [`Callback`],
//! [`Scope`], …), so commands only ever hold valid values.
//!
//! May depend on: nothing else of grantlog's. See `docs/events.md` for the catalogue.

mod actor;
mod aggregate;
mod callback;
mod client;
mod consent;
mod credentials;
mod error;
mod event;
mod grant;
mod ids;
mod owner;
mod scope;
#[cfg(test)]
mod testing;
mod values;

pub use actor::Actor;
pub use aggregate::Aggregate;
pub use callback::{Callback, CallbackPattern, CallbackUrl, Homepage, NotifyUrl};
pub use client::{Client, ClientCommand, ClientSnapshot, ClientState};
pub use consent::{CONSENT_TEXT_VERSION, consent_shown, consent_wording, remembered_decision};
pub use credentials::{
    LOCKOUT_WINDOW, LoginCounter, MAX_FAILED_LOGINS, MAX_FAILED_LOGINS_PER_ADDRESS, MAX_USERNAME_LEN, MIN_PASSWORD_LEN,
    SESSION_LIFETIME, Username, is_acceptable_password, lockout_window_start, login_counters,
};
pub use error::{AccessError, DomainError, GrantEnd};
pub use event::{
    AuthorizationApproved, AuthorizationDenied, CatalogueEntry, ClientRegistered, ClientReinstated,
    ClientSecretRotated, ClientSuspended, ClientUpdated, Credentials, CredentialsExpired, DecodeError, Event,
    GrantRevoked, OwnerAuthenticated, OwnerErased, OwnerRegistered, RememberedConsentWithdrawn, Revoker,
    SECRETS_KEY_STREAM, SecretsKeyRotated, TemporaryCredentialsIssued, TokenCredentialsIssued, VerifierIssued,
};
pub use grant::{
    AccessGrant, Approve, Deny, ExchangeVerifier, Expire, Grant, GrantCommand, GrantState, GrantStatus,
    IssueTemporaryCredentials, RecordOwnerAuthenticated, Revoke, all_hers,
};
pub use ids::{ClientId, GrantId, OwnerId};
pub use owner::{Owner, OwnerCommand, OwnerState};
pub use scope::{Permission, Scope};
pub use values::{
    AccessDuration, ClientName, ConsentMethod, ConsentText, ConsumerKey, Fingerprint, KeyId, PresentedSecret, Reason,
    ResourceId, RsaPublicKeyPem, TokenKey, ValueError,
};
