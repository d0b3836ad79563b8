//! `grantlog audit verify-export`: an export checked against a signed checkpoint with
//! nothing but the log's verifier key — no database, no grantlog server. The note's
//! signature, the Merkle root over the exported events (RFC 6962, leaves the canonical
//! envelopes), and the hash chain. It reads the CSV export, which carries each event's
//! stored text byte for byte (`docs/audit.md`).

use std::io::Read;

use grantlog_store::{ChainHash, Envelope};
use grantlog_tlog::checkpoint::Checkpoint;
use grantlog_tlog::merkle::Appender;
use grantlog_tlog::note::NoteVerifier;

/// What a verified export holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedExport {
    /// The checkpoint's origin and size.
    pub checkpoint: Checkpoint,
    /// Events in the export (the checkpoint's and any after it).
    pub events: u64,
}

/// Why an export does not verify; a fault in an event names its position.
#[derive(Debug, thiserror::Error)]
pub enum ExportFault {
    /// The note is not signed by the key, or is no checkpoint.
    #[error("the checkpoint: {0}")]
    Checkpoint(String),
    /// The export cannot be read as grantlog's CSV export.
    #[error("the export: {0}")]
    Unreadable(String),
    /// An event out of place (dropped, inserted, moved).
    #[error("position {expected}: the export has position {found} here (an event missing, added or moved)")]
    OutOfPlace {
        /// The position due.
        expected: u64,
        /// The one found.
        found: String,
    },
    /// An event whose stored text does not hash to its recorded hash from its
    /// predecessor: edited, or its predecessor was.
    #[error("position {0}: the hash chain breaks (the event or the one before it was changed)")]
    ChainBroken(u64),
    /// The export ends before the checkpoint's size.
    #[error("the export ends at position {ends}, but the checkpoint covers {size} events")]
    TooShort {
        /// The last position exported.
        ends: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The exported events do not make the signed root: the log was rewritten after
    /// the checkpoint was signed, hash chain and all.
    #[error("the Merkle root over positions 1 to {0} differs from the signed checkpoint's")]
    RootDiffers(u64),
}

/// Checks the CSV export `export` against the signed checkpoint `note` with `key`.
pub fn verify_export(export: impl Read, note: &str, key: &NoteVerifier) -> Result<VerifiedExport, ExportFault> {
    let text = key.open(note).map_err(|error| ExportFault::Checkpoint(error.to_string()))?;
    let checkpoint = Checkpoint::parse(text).map_err(|error| ExportFault::Checkpoint(error.to_string()))?;
    let mut reader = csv::Reader::from_reader(export);
    let headers = reader.headers().map_err(|error| ExportFault::Unreadable(error.to_string()))?.clone();
    if headers.iter().ne(crate::export::COLUMNS) {
        return Err(ExportFault::Unreadable(format!(
            "expected the CSV export's columns ({}); use grantlog audit export --format csv",
            crate::export::COLUMNS.join(",")
        )));
    }
    let mut tree = Appender::new(0, []).expect("the empty tree needs no node");
    let mut previous = ChainHash::GENESIS;
    for (expected, record) in (1u64..).zip(reader.records()) {
        let record = record.map_err(|error| ExportFault::Unreadable(format!("near position {expected}: {error}")))?;
        let field = |index: usize| record.get(index).unwrap_or_default();
        if field(0) != expected.to_string() {
            return Err(ExportFault::OutOfPlace { expected, found: field(0).to_owned() });
        }
        let number = |index: usize| field(index).parse::<u64>().map_err(|_| ExportFault::ChainBroken(expected));
        let envelope = Envelope {
            position: expected,
            stream_id: field(1),
            stream_version: number(2)?,
            event_type: field(3),
            schema_version: u32::try_from(number(4)?).map_err(|_| ExportFault::ChainBroken(expected))?,
            occurred_at: field(5),
            actor: field(6),
            trace_id: Some(field(7)).filter(|trace| !trace.is_empty()),
            payload: field(9),
        };
        let hash = envelope.hash(&previous);
        if hash.to_string() != field(8) {
            return Err(ExportFault::ChainBroken(expected));
        }
        previous = hash;
        tree.push(envelope.leaf_hash());
        tree.forget_added();
        if tree.size() == checkpoint.size && tree.root() != checkpoint.root {
            return Err(ExportFault::RootDiffers(checkpoint.size));
        }
    }
    if tree.size() < checkpoint.size {
        return Err(ExportFault::TooShort { ends: tree.size(), size: checkpoint.size });
    }
    Ok(VerifiedExport { checkpoint, events: tree.size() })
}
