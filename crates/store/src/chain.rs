//! The hash chain over the log. Each event's hash is SHA-256 over the previous event's
//! hash and the canonical form of its own envelope, so editing, deleting, inserting or
//! reordering any stored event breaks every hash from there on. See `docs/audit.md` for
//! what this proves and what it does not.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 chain hash, shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The hash "before" the first event: all zeros.
    pub const GENESIS: Self = Self([0; 32]);
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// A chain hash that is not 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a chain hash (64 hex digits)")]
pub struct BadHash;

impl FromStr for ChainHash {
    type Err = BadHash;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| BadHash)?;
        Ok(Self(bytes))
    }
}

/// The head of the chain: the last position and its hash. Record it somewhere the
/// database's administrators cannot write, and check it later with
/// [`crate::EventStore::verify_chain`]: that is what catches a truncated tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The last position (0 for an empty log).
    pub position: u64,
    /// Its hash ([`ChainHash::GENESIS`] for an empty log).
    pub hash: ChainHash,
}

/// Shown and parsed as `POSITION:HASH`.
impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.position, self.hash)
    }
}

/// A head that is not `POSITION:HASH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected POSITION:HASH, e.g. 42:3f5a…")]
pub struct BadHead;

impl FromStr for Head {
    type Err = BadHead;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (position, hash) = text.split_once(':').ok_or(BadHead)?;
        Ok(Self { position: position.parse().map_err(|_| BadHead)?, hash: hash.parse().map_err(|_| BadHead)? })
    }
}

/// The stored text of one event's envelope: exactly what the hash covers, and the
/// event's leaf in the Merkle tree. Public so that a verifier of an export (which
/// carries the stored text, `audit export --format csv`) hashes the same bytes.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// Its position, from 1.
    pub position: u64,
    /// Its stream.
    pub stream_id: &'a str,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its type.
    pub event_type: &'a str,
    /// Its payload's schema version.
    pub schema_version: u32,
    /// When, as stored: RFC 3339, UTC, microseconds.
    pub occurred_at: &'a str,
    /// Who, as stored JSON text.
    pub actor: &'a str,
    /// The trace id, if any.
    pub trace_id: Option<&'a str>,
    /// The payload, as stored JSON text.
    pub payload: &'a str,
}

impl Envelope<'_> {
    /// The envelope as a JSON array: every field delimited and escaped, so no two
    /// envelopes share a canonical form. The chain hashes it after the previous hash;
    /// the Merkle tree takes it as the event's leaf.
    #[must_use]
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(&(
            self.position,
            self.stream_id,
            self.stream_version,
            self.event_type,
            self.schema_version,
            self.occurred_at,
            self.actor,
            self.trace_id,
            self.payload,
        ))
        .expect("a tuple of strings and integers always serializes")
    }

    /// SHA-256 over the previous hash and the canonical envelope.
    pub fn hash(&self, previous: &ChainHash) -> ChainHash {
        let mut hasher = Sha256::new();
        hasher.update(previous.0);
        hasher.update(self.canonical());
        ChainHash(hasher.finalize().into())
    }

    /// The event's leaf hash in the Merkle tree: `SHA-256(0x00 ‖ canonical)`.
    pub fn leaf_hash(&self) -> grantlog_tlog::merkle::Hash {
        grantlog_tlog::merkle::leaf_hash(&self.canonical())
    }
}

/// The first thing found wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The event at this position does not hash to its stored hash from its
    /// predecessor: it, or the one before it, was edited, replaced or moved.
    #[error("position {position}: hash does not match (event edited, inserted or reordered)")]
    HashMismatch {
        /// The first bad position.
        position: u64,
    },
    /// Positions jump: the event at `position` is missing (deleted).
    #[error("position {position}: missing (deleted), next stored event is at {found}")]
    Missing {
        /// The first missing position.
        position: u64,
        /// The next position present.
        found: u64,
    },
    /// A stream's versions jump or repeat at this position.
    #[error("position {position}: stream {stream_id} goes from version {previous} to {found}")]
    StreamVersion {
        /// Where.
        position: u64,
        /// Which stream.
        stream_id: String,
        /// Its previous version.
        previous: u64,
        /// The version found.
        found: u64,
    },
    /// A row sits outside the chain, at position 0 or below, where no walk looks.
    #[error("position {position}: an event outside the chain (positions start at 1)")]
    OutsideChain {
        /// Its position.
        position: i64,
    },
    /// Rows sit past the recorded head: appended behind the store's back, since every
    /// append moves the head in the same transaction as its rows.
    #[error("position {position}: an event past the recorded head ({head})")]
    BeyondHead {
        /// The first position past the head.
        position: u64,
        /// The recorded head's position.
        head: u64,
    },
    /// The log ends before the recorded head (the tail was deleted), or its last hash
    /// differs from the recorded head's.
    #[error("log ends at {found}, but the recorded head is {expected}")]
    HeadMismatch {
        /// The head recorded (in the database, or given by the auditor).
        expected: Head,
        /// What the log holds.
        found: Head,
    },
    /// The Merkle tree stored for the log is not the tree of its events: the events
    /// (and their chain) or the tree's rows were rewritten.
    #[error("the stored Merkle tree of {size} events is not the tree of the events (events or tree rewritten)")]
    TreeMismatch {
        /// The tree's size.
        size: u64,
    },
    /// A stored checkpoint covers more events than the log holds: the log's tail was
    /// cut (or restored from an older backup) after it was signed.
    #[error("a checkpoint covers {size} events, but the log ends at {head} (its tail was cut or restored)")]
    CheckpointBeyondHead {
        /// The checkpoint's size.
        size: u64,
        /// The log's head.
        head: u64,
    },
    /// The stored tree and the log have different sizes: the tree is behind (a log
    /// migrated without `grantlog migrate`: run it) or the log's tail was cut.
    #[error(
        "the stored Merkle tree has {tree} leaves, the log {log} events (tree behind: run grantlog migrate; or the log was cut)"
    )]
    TreeSize {
        /// The tree's leaves.
        tree: u64,
        /// The log's events.
        log: u64,
    },
    /// A stored checkpoint's root is not the root of the events up to its size: the log
    /// was rewritten after the checkpoint was signed (or the checkpoint row was edited).
    #[error("the checkpoint of size {size} does not match the events (the log was rewritten after it was signed)")]
    CheckpointMismatch {
        /// The checkpoint's size.
        size: u64,
    },
}

/// A log that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked.
    pub events: u64,
    /// The head reached.
    pub head: Head,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(payload: &str) -> Envelope<'_> {
        Envelope {
            position: 1,
            stream_id: "grant-1",
            stream_version: 1,
            event_type: "grant.approved",
            schema_version: 1,
            occurred_at: "2026-11-25T18:03:00.000000Z",
            actor: r#"{"kind":"system"}"#,
            trace_id: None,
            payload,
        }
    }

    #[test]
    fn every_field_and_the_previous_hash_change_the_hash() {
        let base = envelope("{}");
        let hash = base.hash(&ChainHash::GENESIS);
        assert_ne!(envelope("{ }").hash(&ChainHash::GENESIS), hash);
        assert_ne!(Envelope { position: 2, ..base }.hash(&ChainHash::GENESIS), hash);
        assert_ne!(Envelope { trace_id: Some(""), ..base }.hash(&ChainHash::GENESIS), hash);
        assert_ne!(base.hash(&hash), hash);
    }

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        let a = Envelope { stream_id: "ab", event_type: "c", ..envelope("{}") };
        let b = Envelope { stream_id: "a", event_type: "bc", ..envelope("{}") };
        assert_ne!(a.hash(&ChainHash::GENESIS), b.hash(&ChainHash::GENESIS));
    }

    #[test]
    fn heads_round_trip_through_text() {
        let head = Head { position: 42, hash: envelope("{}").hash(&ChainHash::GENESIS) };
        assert_eq!(head.to_string().parse::<Head>(), Ok(head));
        assert_eq!("42".parse::<Head>(), Err(BadHead));
        assert_eq!("x:00".parse::<Head>(), Err(BadHead));
    }
}
