//! The event catalogue: everything that can happen, in the past tense.
//!
//! Each event is a struct; [`Event`] is the one enum of them all. An event holds only
//! what happened — identifiers, values, fingerprints. The envelope (global position,
//! stream version, occurred-at, actor, trace id, chain hash) is the caller's and the
//! store's to add. `docs/events.md` describes every event for auditors.
//!
//! On the wire an event is three things the store keeps apart: its type name
//! ([`Event::event_type`], e.g. `grant.approved`), its schema version
//! ([`Event::schema_version`]) and its payload ([`Event::payload`], a JSON object that
//! also carries its own `"type"`, so an exported line describes itself).
//! [`Event::decode`] turns the three back into an `Event`; when a payload's shape
//! changes, its type gets a new schema version and `decode` learns to upcast the old
//! one, so stored events are never rewritten.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::callback::{Callback, CallbackPattern, Homepage, NotifyUrl};
use crate::ids::{ClientId, GrantId, OwnerId};
use crate::scope::Scope;
use crate::values::{
    AccessDuration, ClientName, ConsentMethod, ConsentText, ConsumerKey, Fingerprint, KeyId, Reason, ResourceId,
    RsaPublicKeyPem, TokenKey,
};

// ---------------------------------------------------------------------------------------
// Client stream: `client-<uuid>`

/// A client (Beppa) was registered: it has a consumer key, a secret (recorded here only
/// as its fingerprint) and the callbacks it may use. Caused by an admin (admin API, CLI,
/// or the demo seed as the system).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistered {
    /// The client.
    pub client_id: ClientId,
    /// Its public key id, sent as `oauth_consumer_key`.
    pub consumer_key: ConsumerKey,
    /// The name owners are shown on the consent page.
    pub name: ClientName,
    /// Its homepage, linked from the consent page.
    pub homepage: Option<Homepage>,
    /// The callbacks it may ask to be sent back to (`oob` is always allowed).
    pub callbacks: Vec<CallbackPattern>,
    /// The fingerprint of its client secret. The secret itself lives in the secret store.
    pub secret_fingerprint: Fingerprint,
    /// Its RSA public key, for RSA-SHA1 signatures. Public, so it may be here.
    pub rsa_public_key: Option<RsaPublicKeyPem>,
    /// Where it receives revocation notices (schema version 2; absent from version 1).
    #[serde(default)]
    pub notify_url: Option<NotifyUrl>,
}

/// The client's secret was replaced; the old one stops working when this commits, or,
/// given a grace period, at `previous_valid_until` (schema version 2; version 1 had no
/// grace period). Caused by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSecretRotated {
    /// The client.
    pub client_id: ClientId,
    /// The fingerprint of the new secret.
    pub secret_fingerprint: Fingerprint,
    /// Until when the previous secret still works beside the new one (`null`: not at
    /// all). Absent from version 1 payloads.
    #[serde(default)]
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// The client's profile was changed: what owners see (name, homepage) and where it may
/// send them back to (callbacks). Carries the whole profile as it now is. Caused by an
/// admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientUpdated {
    /// The client.
    pub client_id: ClientId,
    /// Its name now.
    pub name: ClientName,
    /// Its homepage now.
    pub homepage: Option<Homepage>,
    /// Its callbacks now (`oob` is always allowed).
    pub callbacks: Vec<CallbackPattern>,
    /// Where it receives revocation notices now.
    pub notify_url: Option<NotifyUrl>,
}

/// The client was suspended: no new temporary credentials, no verifier exchanges, and
/// none of its grants work, until it is reinstated. Caused by an admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSuspended {
    /// The client.
    pub client_id: ClientId,
    /// Why, in the admin's words.
    pub reason: Reason,
}

/// A suspended client was reinstated; its unexpired, unrevoked grants work again.
/// Caused by an admin, who may say why (schema version 2; version 1 had no reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientReinstated {
    /// The client.
    pub client_id: ClientId,
    /// Why, in the admin's words. Absent from version 1 payloads.
    #[serde(default)]
    pub reason: Option<Reason>,
}

// ---------------------------------------------------------------------------------------
// Owner stream: `owner-<uuid>`

/// A resource owner (Jane) was registered. Only her pseudonymous id: her username and
/// password hash live outside the events. Caused by an admin (CLI, demo seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRegistered {
    /// The owner.
    pub owner_id: OwnerId,
}

/// The owner's personal data was erased (GDPR Art. 17) from outside the log; from now
/// on the id names nobody. The log keeps the pseudonymous history. Caused by an admin,
/// on the owner's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerErased {
    /// The owner.
    pub owner_id: OwnerId,
}

/// The owner withdrew the decision she had asked grantlog to remember for this client:
/// from now on the client's requests show her the consent page again. Covers every
/// earlier remembered approval for the pair (owner, client). Caused by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RememberedConsentWithdrawn {
    /// The owner.
    pub owner_id: OwnerId,
    /// The client whose remembered decision is withdrawn.
    pub client_id: ClientId,
}

// ---------------------------------------------------------------------------------------
// Grant stream: `grant-<uuid>`

/// A grant began: the client got temporary credentials (a request token) for a
/// callback and a requested scope, usable until `expires_at`. The token secret lives in
/// the secret store. Caused by the client (`POST /oauth/initiate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemporaryCredentialsIssued {
    /// The grant.
    pub grant_id: GrantId,
    /// The client asking.
    pub client_id: ClientId,
    /// The request token's public value.
    pub request_token: TokenKey,
    /// Where the owner's browser goes after the decision.
    pub callback: Callback,
    /// What the client asked for; the owner can only narrow it.
    pub requested_scope: Scope,
    /// When the request token stops being usable (approval and exchange must both
    /// happen before this instant).
    pub expires_at: DateTime<Utc>,
}

/// An owner logged in (or was recognised by her session) to decide on this request.
/// Binds the request to her: only she may approve or deny it. Caused by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerAuthenticated {
    /// The grant.
    pub grant_id: GrantId,
    /// The owner now deciding.
    pub owner_id: OwnerId,
}

/// The owner approved: a consent record. Who (`owner_id`), to what exactly (`scope`,
/// `resources`, `duration` and the resulting `access_expires_at`, for the client of
/// this grant), when (`approved_at`), how (`method`), what she was shown
/// (`consent_text`), and whether she asked for the decision to be remembered. Always
/// followed, in the same append, by [`VerifierIssued`]. Caused by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationApproved {
    /// The grant.
    pub grant_id: GrantId,
    /// Who consented.
    pub owner_id: OwnerId,
    /// The permissions granted: the requested scope or a part of it.
    pub scope: Scope,
    /// The resources (photos) chosen, sorted, without repeats.
    pub resources: Vec<ResourceId>,
    /// The duration chosen.
    pub duration: AccessDuration,
    /// The moment of approval, from which `duration` is counted.
    pub approved_at: DateTime<Utc>,
    /// When access ends: `approved_at + duration`, or `None` for "until revoked".
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Whether the owner asked grantlog to remember this decision for the client.
    pub remembered: bool,
    /// On the consent page, or by applying a remembered decision.
    pub method: ConsentMethod,
    /// The version and hash of the consent text behind the decision.
    pub consent_text: ConsentText,
}

/// The owner refused. The grant ends here. Caused by the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationDenied {
    /// The grant.
    pub grant_id: GrantId,
    /// Who refused.
    pub owner_id: OwnerId,
    /// How (today always the consent page).
    pub method: ConsentMethod,
}

/// A verifier was issued for the approved request and handed to the client through the
/// owner's browser (or shown to her, for `oob`). Only its fingerprint is recorded.
/// Caused by the owner (it comes with her approval).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifierIssued {
    /// The grant.
    pub grant_id: GrantId,
    /// The fingerprint of the verifier.
    pub verifier_fingerprint: Fingerprint,
}

/// The client exchanged the request token and verifier for token credentials (an access
/// token). Happens at most once per grant. Caused by the client (`POST /oauth/token`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCredentialsIssued {
    /// The grant.
    pub grant_id: GrantId,
    /// The access token's public value. Its secret lives in the secret store.
    pub access_token: TokenKey,
    /// When access ends: the approval's `access_expires_at` (counted from approval, not
    /// from this exchange), or `None` for "until revoked".
    pub expires_at: Option<DateTime<Utc>>,
}

/// Which credentials of a grant expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// The temporary credentials, never exchanged (pending or approved-but-unused).
    RequestToken,
    /// The token credentials.
    AccessToken,
}

/// A grant's credentials were found expired and the grant ended. Expiry is in force
/// from `expired_at` whether or not this was recorded yet (readers compare the recorded
/// expiry with the time); this event closes the grant for the log. Caused by the system
/// (a sweep, or the first request that noticed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsExpired {
    /// The grant.
    pub grant_id: GrantId,
    /// Which credentials.
    pub credentials: Credentials,
    /// The instant they stopped working (the recorded expiry, not when this was noticed).
    pub expired_at: DateTime<Utc>,
}

/// Who revoked a grant. Authorization is checked by the grant: an owner only her own
/// grants, a client only grants to itself, an admin any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Revoker {
    /// The resource owner the grant belongs to.
    Owner(OwnerId),
    /// An administrator.
    Admin,
    /// The client the grant was given to (giving up access it no longer needs).
    Client(ClientId),
}

/// The grant was revoked: any token of it stops working the moment this commits, and
/// the grant ends. Caused by the owner, an admin or the client — `by` says which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRevoked {
    /// The grant.
    pub grant_id: GrantId,
    /// Who revoked it.
    pub by: Revoker,
    /// Why, if they said.
    pub reason: Option<Reason>,
}

// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// The secret store's stream: `secrets-key`

/// The stream of [`SecretsKeyRotated`]: the deployment's one secret store.
pub const SECRETS_KEY_STREAM: &str = "secrets-key";

/// The key that seals client and token secrets at rest was replaced: every sealed
/// secret was re-sealed under the new key in the transaction that recorded this, after
/// which the old key opens nothing. Key ids only, never a key. Caused by an admin
/// (`grantlog secrets rotate-key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsKeyRotated {
    /// The key the secrets were sealed with.
    pub from_key_id: KeyId,
    /// The key they are sealed with now.
    pub to_key_id: KeyId,
    /// How many secrets were re-sealed.
    pub resealed: u64,
}

/// Every event grantlog records. Serialized with its type name in `"type"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// See [`ClientRegistered`].
    #[serde(rename = "client.registered")]
    ClientRegistered(ClientRegistered),
    /// See [`ClientSecretRotated`].
    #[serde(rename = "client.secret_rotated")]
    ClientSecretRotated(ClientSecretRotated),
    /// See [`ClientSuspended`].
    #[serde(rename = "client.suspended")]
    ClientSuspended(ClientSuspended),
    /// See [`ClientReinstated`].
    #[serde(rename = "client.reinstated")]
    ClientReinstated(ClientReinstated),
    /// See [`ClientUpdated`].
    #[serde(rename = "client.updated")]
    ClientUpdated(ClientUpdated),
    /// See [`OwnerRegistered`].
    #[serde(rename = "owner.registered")]
    OwnerRegistered(OwnerRegistered),
    /// See [`OwnerErased`].
    #[serde(rename = "owner.erased")]
    OwnerErased(OwnerErased),
    /// See [`RememberedConsentWithdrawn`].
    #[serde(rename = "owner.remembered_consent_withdrawn")]
    RememberedConsentWithdrawn(RememberedConsentWithdrawn),
    /// See [`TemporaryCredentialsIssued`].
    #[serde(rename = "grant.temporary_credentials_issued")]
    TemporaryCredentialsIssued(TemporaryCredentialsIssued),
    /// See [`OwnerAuthenticated`].
    #[serde(rename = "grant.owner_authenticated")]
    OwnerAuthenticated(OwnerAuthenticated),
    /// See [`AuthorizationApproved`].
    #[serde(rename = "grant.approved")]
    AuthorizationApproved(AuthorizationApproved),
    /// See [`AuthorizationDenied`].
    #[serde(rename = "grant.denied")]
    AuthorizationDenied(AuthorizationDenied),
    /// See [`VerifierIssued`].
    #[serde(rename = "grant.verifier_issued")]
    VerifierIssued(VerifierIssued),
    /// See [`TokenCredentialsIssued`].
    #[serde(rename = "grant.token_credentials_issued")]
    TokenCredentialsIssued(TokenCredentialsIssued),
    /// See [`CredentialsExpired`].
    #[serde(rename = "grant.credentials_expired")]
    CredentialsExpired(CredentialsExpired),
    /// See [`GrantRevoked`].
    #[serde(rename = "grant.revoked")]
    GrantRevoked(GrantRevoked),
    /// See [`SecretsKeyRotated`].
    #[serde(rename = "secrets.key_rotated")]
    SecretsKeyRotated(SecretsKeyRotated),
}

/// An event type and the schema version this build writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The type name, e.g. `grant.approved`.
    pub event_type: &'static str,
    /// The schema version written today.
    pub schema_version: u32,
}

/// Older versions that read as the current one: a field was added that defaults to
/// `None` (`client.registered` v1 had no notification URL, `client.secret_rotated` v1 no
/// grace period, `client.reinstated` v1 no reason).
const READ_AS_CURRENT: [(&str, u32); 3] =
    [("client.registered", 1), ("client.secret_rotated", 1), ("client.reinstated", 1)];

const fn entry(event_type: &'static str, schema_version: u32) -> CatalogueEntry {
    CatalogueEntry { event_type, schema_version }
}

/// Why stored `(event_type, schema_version, payload)` did not decode.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a type in the catalogue (written by a newer grantlog, or not ours).
    #[error("unknown event type {event_type:?}")]
    UnknownType {
        /// The type name found.
        event_type: String,
    },
    /// A known type, but a schema version this build cannot read (newer, or an old one
    /// without an upcaster).
    #[error("event type {event_type} has no schema version {schema_version} in this build")]
    UnsupportedVersion {
        /// The type name.
        event_type: &'static str,
        /// The version found.
        schema_version: u32,
    },
    /// The payload's own `"type"` disagrees with the stored type.
    #[error("payload says type {payload_type:?}, stored as {event_type}")]
    TypeMismatch {
        /// The stored type name.
        event_type: &'static str,
        /// What the payload said.
        payload_type: String,
    },
    /// The payload does not have the shape of the type and version.
    #[error("payload of {event_type} v{schema_version} does not match its schema")]
    Payload {
        /// The type name.
        event_type: &'static str,
        /// The version.
        schema_version: u32,
        /// What serde found wrong (payloads hold no secrets, so this is safe to log).
        #[source]
        source: serde_json::Error,
    },
}

impl Event {
    /// Every event type, with the schema version this build writes.
    pub const CATALOGUE: [CatalogueEntry; 17] = [
        entry("client.registered", 2),
        entry("client.secret_rotated", 2),
        entry("client.suspended", 1),
        entry("client.reinstated", 2),
        entry("client.updated", 1),
        entry("owner.registered", 1),
        entry("owner.erased", 1),
        entry("owner.remembered_consent_withdrawn", 1),
        entry("grant.temporary_credentials_issued", 1),
        entry("grant.owner_authenticated", 1),
        entry("grant.approved", 1),
        entry("grant.denied", 1),
        entry("grant.verifier_issued", 1),
        entry("grant.token_credentials_issued", 1),
        entry("grant.credentials_expired", 1),
        entry("grant.revoked", 1),
        entry("secrets.key_rotated", 1),
    ];

    /// The type name, e.g. `grant.approved`; the same as the payload's `"type"`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::ClientRegistered(_) => "client.registered",
            Self::ClientSecretRotated(_) => "client.secret_rotated",
            Self::ClientSuspended(_) => "client.suspended",
            Self::ClientReinstated(_) => "client.reinstated",
            Self::ClientUpdated(_) => "client.updated",
            Self::OwnerRegistered(_) => "owner.registered",
            Self::OwnerErased(_) => "owner.erased",
            Self::RememberedConsentWithdrawn(_) => "owner.remembered_consent_withdrawn",
            Self::TemporaryCredentialsIssued(_) => "grant.temporary_credentials_issued",
            Self::OwnerAuthenticated(_) => "grant.owner_authenticated",
            Self::AuthorizationApproved(_) => "grant.approved",
            Self::AuthorizationDenied(_) => "grant.denied",
            Self::VerifierIssued(_) => "grant.verifier_issued",
            Self::TokenCredentialsIssued(_) => "grant.token_credentials_issued",
            Self::CredentialsExpired(_) => "grant.credentials_expired",
            Self::GrantRevoked(_) => "grant.revoked",
            Self::SecretsKeyRotated(_) => "secrets.key_rotated",
        }
    }

    /// The schema version of this event's payload as this build writes it.
    pub fn schema_version(&self) -> u32 {
        Self::current_version(self.event_type()).expect("every event type is in the catalogue (tested)")
    }

    /// The schema version this build writes for `event_type`, if it is one of ours.
    pub fn current_version(event_type: &str) -> Option<u32> {
        Self::CATALOGUE.iter().find(|entry| entry.event_type == event_type).map(|entry| entry.schema_version)
    }

    /// The stream the event belongs to: `client-<uuid>`, `owner-<uuid>` or
    /// `grant-<uuid>`; [`SecretsKeyRotated`] on [`SECRETS_KEY_STREAM`].
    /// [`RememberedConsentWithdrawn`] is on the owner's stream.
    pub fn stream_id(&self) -> String {
        match self {
            Self::ClientRegistered(e) => e.client_id.stream_id(),
            Self::ClientSecretRotated(e) => e.client_id.stream_id(),
            Self::ClientSuspended(e) => e.client_id.stream_id(),
            Self::ClientReinstated(e) => e.client_id.stream_id(),
            Self::ClientUpdated(e) => e.client_id.stream_id(),
            Self::OwnerRegistered(e) => e.owner_id.stream_id(),
            Self::OwnerErased(e) => e.owner_id.stream_id(),
            Self::RememberedConsentWithdrawn(e) => e.owner_id.stream_id(),
            Self::TemporaryCredentialsIssued(e) => e.grant_id.stream_id(),
            Self::OwnerAuthenticated(e) => e.grant_id.stream_id(),
            Self::AuthorizationApproved(e) => e.grant_id.stream_id(),
            Self::AuthorizationDenied(e) => e.grant_id.stream_id(),
            Self::VerifierIssued(e) => e.grant_id.stream_id(),
            Self::TokenCredentialsIssued(e) => e.grant_id.stream_id(),
            Self::CredentialsExpired(e) => e.grant_id.stream_id(),
            Self::GrantRevoked(e) => e.grant_id.stream_id(),
            Self::SecretsKeyRotated(_) => SECRETS_KEY_STREAM.to_owned(),
        }
    }

    /// The payload to store: a JSON object of the event's fields plus its `"type"`.
    pub fn payload(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("events serialize to JSON: plain data, string keys")
    }

    /// Reads a stored event back from its type name, schema version and payload.
    /// Refuses unknown types, versions this build cannot read, a payload whose `"type"`
    /// disagrees, and a payload with missing, unknown or invalid fields (every value is
    /// re-parsed, so a stored event cannot hold what a command could not).
    pub fn decode(event_type: &str, schema_version: u32, payload: &serde_json::Value) -> Result<Event, DecodeError> {
        let entry = Self::CATALOGUE
            .iter()
            .find(|entry| entry.event_type == event_type)
            .ok_or_else(|| DecodeError::UnknownType { event_type: event_type.to_owned() })?;
        // Upcasters go here when a type gets a new version: match the old
        // (event_type, schema_version), deserialize the old shape, return the new event.
        let upcast = READ_AS_CURRENT.contains(&(entry.event_type, schema_version));
        if schema_version != entry.schema_version && !upcast {
            return Err(DecodeError::UnsupportedVersion { event_type: entry.event_type, schema_version });
        }
        if let Some(payload_type) = payload.get("type")
            && payload_type.as_str() != Some(entry.event_type)
        {
            return Err(DecodeError::TypeMismatch {
                event_type: entry.event_type,
                payload_type: payload_type.to_string(),
            });
        }
        let event = Event::deserialize(payload).map_err(|source| DecodeError::Payload {
            event_type: entry.event_type,
            schema_version,
            source,
        })?;
        debug_assert_eq!(event.event_type(), entry.event_type);
        Ok(event)
    }
}

macro_rules! from_event_struct {
    ($($name:ident),* $(,)?) => {
        $(
            impl From<$name> for Event {
                fn from(event: $name) -> Event {
                    Event::$name(event)
                }
            }
        )*
    };
}
from_event_struct!(
    ClientRegistered,
    ClientSecretRotated,
    ClientSuspended,
    ClientReinstated,
    ClientUpdated,
    OwnerRegistered,
    OwnerErased,
    RememberedConsentWithdrawn,
    TemporaryCredentialsIssued,
    OwnerAuthenticated,
    AuthorizationApproved,
    AuthorizationDenied,
    VerifierIssued,
    TokenCredentialsIssued,
    CredentialsExpired,
    GrantRevoked,
    SecretsKeyRotated,
);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::DateTime;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn client_id() -> ClientId {
        ClientId::new(Uuid::from_u128(1))
    }

    fn owner_id() -> OwnerId {
        OwnerId::new(Uuid::from_u128(2))
    }

    fn grant_id() -> GrantId {
        GrantId::new(Uuid::from_u128(3))
    }

    fn approved() -> AuthorizationApproved {
        AuthorizationApproved {
            grant_id: grant_id(),
            owner_id: owner_id(),
            scope: Scope::parse("photos:read").unwrap(),
            resources: vec![ResourceId::parse("photo-1").unwrap(), ResourceId::parse("photo-2").unwrap()],
            duration: AccessDuration::OneHour,
            approved_at: time("2026-03-01T12:02:00Z"),
            access_expires_at: Some(time("2026-03-01T13:02:00Z")),
            remembered: false,
            method: ConsentMethod::ConsentPage,
            consent_text: ConsentText::shown("consent-v1", "Beppa Prints asks to read…").unwrap(),
        }
    }

    /// One event of every type, with optional fields both filled and empty. Long: one
    /// literal per event type, read best as one list.
    fn samples() -> Vec<Event> {
        vec![
            ClientRegistered {
                client_id: client_id(),
                consumer_key: ConsumerKey::parse("beppa-demo-key").unwrap(),
                name: ClientName::parse("Beppa Prints").unwrap(),
                homepage: Some(Homepage::parse("https://beppa.example/").unwrap()),
                callbacks: vec![CallbackPattern::parse("http://127.0.0.1:*").unwrap()],
                secret_fingerprint: Fingerprint::of("beppa-demo-secret"),
                rsa_public_key: Some(
                    RsaPublicKeyPem::parse("-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----").unwrap(),
                ),
                notify_url: Some(NotifyUrl::parse("https://beppa.example/notices").unwrap()),
            }
            .into(),
            ClientRegistered {
                client_id: client_id(),
                consumer_key: ConsumerKey::parse("k").unwrap(),
                name: ClientName::parse("Minimal").unwrap(),
                homepage: None,
                callbacks: vec![],
                secret_fingerprint: Fingerprint::of("s"),
                rsa_public_key: None,
                notify_url: None,
            }
            .into(),
            ClientSecretRotated {
                client_id: client_id(),
                secret_fingerprint: Fingerprint::of("new-secret"),
                previous_valid_until: None,
            }
            .into(),
            ClientSecretRotated {
                client_id: client_id(),
                secret_fingerprint: Fingerprint::of("newer-secret"),
                previous_valid_until: Some(time("2026-03-01T13:00:00Z")),
            }
            .into(),
            ClientUpdated {
                client_id: client_id(),
                name: ClientName::parse("Beppa Prints & Frames").unwrap(),
                homepage: None,
                callbacks: vec![CallbackPattern::parse("https://beppa.example/back").unwrap()],
                notify_url: None,
            }
            .into(),
            ClientSuspended { client_id: client_id(), reason: Reason::parse("leaked secret").unwrap() }.into(),
            ClientReinstated { client_id: client_id(), reason: None }.into(),
            ClientReinstated { client_id: client_id(), reason: Some(Reason::parse("key replaced").unwrap()) }.into(),
            OwnerRegistered { owner_id: owner_id() }.into(),
            OwnerErased { owner_id: owner_id() }.into(),
            RememberedConsentWithdrawn { owner_id: owner_id(), client_id: client_id() }.into(),
            TemporaryCredentialsIssued {
                grant_id: grant_id(),
                client_id: client_id(),
                request_token: TokenKey::parse("hh5s93j4hdidpola").unwrap(),
                callback: Callback::parse("http://127.0.0.1:5000/cb?order=7").unwrap(),
                requested_scope: Scope::parse("photos:read photos:write").unwrap(),
                expires_at: time("2026-03-01T12:10:00.123456Z"),
            }
            .into(),
            TemporaryCredentialsIssued {
                grant_id: grant_id(),
                client_id: client_id(),
                request_token: TokenKey::parse("t").unwrap(),
                callback: Callback::Oob,
                requested_scope: Scope::parse("photos:read").unwrap(),
                expires_at: time("2026-03-01T12:10:00Z"),
            }
            .into(),
            OwnerAuthenticated { grant_id: grant_id(), owner_id: owner_id() }.into(),
            approved().into(),
            AuthorizationApproved {
                duration: AccessDuration::UntilRevoked,
                access_expires_at: None,
                remembered: false,
                method: ConsentMethod::RememberedDecision { remembered_in: GrantId::new(Uuid::from_u128(9)) },
                ..approved()
            }
            .into(),
            AuthorizationDenied { grant_id: grant_id(), owner_id: owner_id(), method: ConsentMethod::ConsentPage }
                .into(),
            VerifierIssued { grant_id: grant_id(), verifier_fingerprint: Fingerprint::of("verifier") }.into(),
            TokenCredentialsIssued {
                grant_id: grant_id(),
                access_token: TokenKey::parse("nnch734d00sl2jdk").unwrap(),
                expires_at: Some(time("2026-03-01T13:02:00Z")),
            }
            .into(),
            TokenCredentialsIssued {
                grant_id: grant_id(),
                access_token: TokenKey::parse("a").unwrap(),
                expires_at: None,
            }
            .into(),
            CredentialsExpired {
                grant_id: grant_id(),
                credentials: Credentials::RequestToken,
                expired_at: time("2026-03-01T12:10:00Z"),
            }
            .into(),
            CredentialsExpired {
                grant_id: grant_id(),
                credentials: Credentials::AccessToken,
                expired_at: time("2026-03-01T13:02:00Z"),
            }
            .into(),
            GrantRevoked {
                grant_id: grant_id(),
                by: Revoker::Owner(owner_id()),
                reason: Some(Reason::parse("done printing").unwrap()),
            }
            .into(),
            GrantRevoked { grant_id: grant_id(), by: Revoker::Admin, reason: None }.into(),
            GrantRevoked { grant_id: grant_id(), by: Revoker::Client(client_id()), reason: None }.into(),
            SecretsKeyRotated {
                from_key_id: KeyId::parse("3f9a0c1d2e4b5a69").unwrap(),
                to_key_id: KeyId::parse("0123456789abcdef").unwrap(),
                resealed: 42,
            }
            .into(),
        ]
    }

    #[test]
    fn key_ids_are_sixteen_lowercase_hex_digits() {
        assert!(KeyId::parse("0123456789abcdef").is_ok());
        for bad in ["0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeg", ""] {
            assert!(KeyId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_event_round_trips_through_type_version_and_payload() {
        for event in samples() {
            let payload = event.payload();
            // What the store keeps: three columns, the payload as JSON text.
            let stored = (event.event_type(), event.schema_version(), serde_json::to_string(&payload).unwrap());
            let payload: serde_json::Value = serde_json::from_str(&stored.2).unwrap();
            let decoded = Event::decode(stored.0, stored.1, &payload)
                .unwrap_or_else(|error| panic!("{}: {error}", event.event_type()));
            assert_eq!(decoded, event);
        }
    }

    #[test]
    fn the_samples_cover_the_whole_catalogue() {
        let sampled: BTreeSet<&str> = samples().iter().map(Event::event_type).collect();
        let catalogue: BTreeSet<&str> = Event::CATALOGUE.iter().map(|entry| entry.event_type).collect();
        assert_eq!(sampled, catalogue);
        assert_eq!(catalogue.len(), Event::CATALOGUE.len(), "type names are unique");
    }

    #[test]
    fn the_payload_names_its_own_type() {
        for event in samples() {
            assert_eq!(event.payload()["type"], json!(event.event_type()));
        }
    }

    #[test]
    fn events_name_their_stream() {
        let streams: Vec<String> = samples().iter().map(Event::stream_id).collect();
        assert!(streams.contains(&client_id().stream_id()));
        for event in samples() {
            let expected = match event.event_type().split('.').next().unwrap() {
                "client" => client_id().stream_id(),
                "owner" => owner_id().stream_id(),
                "grant" => grant_id().stream_id(),
                "secrets" => SECRETS_KEY_STREAM.to_owned(),
                other => panic!("unexpected prefix {other}"),
            };
            assert_eq!(event.stream_id(), expected, "{}", event.event_type());
        }
    }

    #[test]
    fn an_approval_serializes_as_documented() {
        let event = Event::from(approved());
        assert_eq!(
            event.payload(),
            json!({
                "type": "grant.approved",
                "grant_id": "00000000-0000-0000-0000-000000000003",
                "owner_id": "00000000-0000-0000-0000-000000000002",
                "scope": ["photos:read"],
                "resources": ["photo-1", "photo-2"],
                "duration": "1hour",
                "approved_at": "2026-03-01T12:02:00Z",
                "access_expires_at": "2026-03-01T13:02:00Z",
                "remembered": false,
                "method": {"kind": "consent_page"},
                "consent_text": {
                    "version": "consent-v1",
                    "hash": Fingerprint::of("Beppa Prints asks to read…").to_hex(),
                },
            })
        );
    }

    #[test]
    fn a_revocation_says_who() {
        let event = Event::from(GrantRevoked { grant_id: grant_id(), by: Revoker::Owner(owner_id()), reason: None });
        assert_eq!(event.payload()["by"], json!({"kind": "owner", "id": "00000000-0000-0000-0000-000000000002"}));
        let admin = Event::from(GrantRevoked { grant_id: grant_id(), by: Revoker::Admin, reason: None });
        assert_eq!(admin.payload()["by"], json!({"kind": "admin"}));
    }

    #[test]
    fn unknown_types_and_versions_are_typed_errors() {
        let payload = Event::from(approved()).payload();
        assert!(matches!(
            Event::decode("grant.approved.v2", 1, &payload),
            Err(DecodeError::UnknownType { event_type }) if event_type == "grant.approved.v2"
        ));
        assert!(matches!(
            Event::decode("grant.approved", 2, &payload),
            Err(DecodeError::UnsupportedVersion { event_type: "grant.approved", schema_version: 2 })
        ));
    }

    #[test]
    fn client_events_of_version_1_read_as_version_2_without_the_new_field() {
        let v1 = json!({
            "type": "client.secret_rotated",
            "client_id": client_id().to_string(),
            "secret_fingerprint": Fingerprint::of("new-secret").to_string(),
        });
        let Event::ClientSecretRotated(read) = Event::decode("client.secret_rotated", 1, &v1).unwrap() else {
            panic!("not a rotation")
        };
        assert_eq!(read.previous_valid_until, None);
        assert!(read.secret_fingerprint.matches("new-secret"));
        assert!(matches!(
            Event::decode("client.secret_rotated", 3, &v1),
            Err(DecodeError::UnsupportedVersion { schema_version: 3, .. })
        ));
        // Version 2 always writes the grace period, null when there is none.
        let written = Event::from(read).payload();
        assert_eq!(written["previous_valid_until"], serde_json::Value::Null);
        // A reinstatement of version 1 had no reason.
        let v1 = json!({ "type": "client.reinstated", "client_id": client_id().to_string() });
        let reinstated = Event::decode("client.reinstated", 1, &v1).unwrap();
        assert_eq!(reinstated, ClientReinstated { client_id: client_id(), reason: None }.into());
    }

    #[test]
    fn a_payload_must_match_its_stored_type() {
        let payload = Event::from(approved()).payload();
        assert!(matches!(
            Event::decode("grant.denied", 1, &payload),
            Err(DecodeError::TypeMismatch { event_type: "grant.denied", .. })
        ));
    }

    #[test]
    fn a_payload_must_match_its_schema_exactly() {
        let valid = Event::from(approved()).payload();
        let with = |change: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
            let mut payload = valid.clone();
            change(payload.as_object_mut().unwrap());
            Event::decode("grant.approved", 1, &payload)
        };
        let payload_error = |result: Result<Event, DecodeError>| {
            matches!(result, Err(DecodeError::Payload { event_type: "grant.approved", .. }))
        };
        assert!(payload_error(with(&|p| {
            p.remove("scope");
        })));
        assert!(payload_error(with(&|p| {
            p.insert("verifier".into(), json!("a secret that crept in"));
        })));
        assert!(payload_error(with(&|p| {
            p.insert("duration".into(), json!("1week"));
        })));
        assert!(payload_error(with(&|p| {
            p.insert("resources".into(), json!(["../etc/passwd"]));
        })));
        assert!(payload_error(with(&|p| {
            p.remove("type");
        })));
    }
}
