use chrono::{DateTime, SecondsFormat, Utc};
use grantlog_domain::Actor;

use crate::chain::ChainHash;

/// An event to append: what happened (type, schema version, payload) and the envelope
/// the caller knows (when, who, which request). Position, stream version and hash are
/// the store's to assign.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event's type name, e.g. `grant.approved`.
    pub event_type: String,
    /// The payload's schema version, for upcasting later versions.
    pub schema_version: u32,
    /// The payload. Never a secret: identifiers and fingerprints only.
    pub payload: serde_json::Value,
    /// When it happened (kept to the microsecond).
    pub occurred_at: DateTime<Utc>,
    /// Who caused it.
    pub actor: Actor,
    /// The trace id of the request that caused it, if any.
    pub trace_id: Option<String>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Global position: 1, 2, 3… with no gaps, in commit order.
    pub position: u64,
    /// The stream (aggregate) it belongs to, e.g. `grant-<uuid>`.
    pub stream_id: String,
    /// Its version within the stream: 1, 2, 3…
    pub stream_version: u64,
    /// See [`NewEvent::event_type`].
    pub event_type: String,
    /// See [`NewEvent::schema_version`].
    pub schema_version: u32,
    /// See [`NewEvent::payload`].
    pub payload: serde_json::Value,
    /// See [`NewEvent::occurred_at`].
    pub occurred_at: DateTime<Utc>,
    /// See [`NewEvent::actor`].
    pub actor: Actor,
    /// See [`NewEvent::trace_id`].
    pub trace_id: Option<String>,
    /// The chain hash over the previous event's hash and this event's envelope.
    pub hash: ChainHash,
}

/// The stream version an append expects, for optimistic concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version (for streams with a single writer by design).
    Any,
    /// The stream must be at exactly this version; `0` means it must not exist yet.
    Exactly(u64),
}

/// How timestamps are stored and hashed: RFC 3339, UTC, microseconds, `Z`. Fixed width,
/// so the text sorts as time does.
pub(crate) fn format_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}
