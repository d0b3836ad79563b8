#![warn(missing_docs)]
//! Transparency-log formats, exactly as the public specifications write them, so that an
//! auditor can check grantlog's log with tools nobody here wrote:
//!
//! - [`merkle`]: the RFC 6962 (§2.1) / RFC 9162 (§2.1) Merkle tree over the log's
//!   entries — leaf and node hashes, the complete subtrees a store keeps, inclusion and
//!   consistency proofs, and their verification;
//! - [`note`]: C2SP `signed-note` with Ed25519 signatures, and its key formats;
//! - [`checkpoint`]: C2SP `tlog-checkpoint`, a tree's origin, size and root.
//!
//! Pure: no I/O and no clock. The only randomness is [`note::NoteSigner::generate`]'s
//! seed.
//!
//! May depend on: nothing else of grantlog's.

pub mod checkpoint;
pub mod merkle;
pub mod note;
