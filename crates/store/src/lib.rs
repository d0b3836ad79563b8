#![warn(missing_docs)]
//! The event store on sqlx, SQLite (the embedded default) and PostgreSQL, one API and
//! one SQL dialect for both (sqlx's `Any` driver, runtime-checked queries):
//!
//! - append-only streams with optimistic concurrency ([`ExpectedVersion`]), a command's
//!   events written in one multi-row INSERT, atomically;
//! - a gap-free global order that readers follow by position ([`EventStore::read_from`]):
//!   appends are serialised on the chain head, so positions are assigned in commit order;
//! - a hash chain over every event ([`EventStore::verify_chain`]) and the database's own
//!   refusal of UPDATE and DELETE on the log (triggers);
//! - wake-ups on commit ([`EventStore::subscribe`]): LISTEN/NOTIFY across processes on
//!   PostgreSQL, in-process on SQLite;
//! - an inline hook ([`EventStore::append_with`]) for projections written in the
//!   append's own transaction;
//! - secrets apart from events, encrypted ([`SecretBox`]), and owners' personal data
//!   apart from events ([`profiles`]).
//!
//! May depend on: `grantlog-domain` (for [`grantlog_domain::Actor`]).

mod chain;
mod checkpoints;
mod error;
mod event;
pub mod nonces;
pub mod notices;
pub mod photos;
pub mod profiles;
mod secrets;
pub mod sessions;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod throttle;
mod tree;
pub mod usage;

pub use chain::{BadHash, BadHead, ChainHash, ChainReport, Envelope, Head, Violation};
pub use checkpoints::StoredCheckpoint;
pub use error::{StoreError, is_unavailable, is_unique_violation};
pub use event::{ExpectedVersion, NewEvent, RecordedEvent};
pub use secrets::SecretBox;
pub use sqlx::AnyConnection;
pub use sqlx::AnyPool;
pub use store::{
    BYTES_PER_INSERT, Backend, ConnectOptions, EventStore, InclusionProof, InlineHook, SideTables, StoredEvent,
    StreamAppend, redact_password, statement_chunks, values_placeholders,
};

/// Whether `text` can be stored as text on every backend: PostgreSQL refuses a NUL byte
/// outright. A lookup by such a key finds nothing, rather than failing as the database
/// would make it.
pub fn storable(text: &str) -> bool {
    !text.contains('\0')
}
