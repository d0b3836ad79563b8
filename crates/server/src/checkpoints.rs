//! Signing the log's checkpoints (docs/audit.md): a C2SP `tlog-checkpoint` of the Merkle
//! tree — origin, size, root — as a C2SP signed note with the log's own Ed25519 key,
//! kept apart from the secrets key. A server given the key signs, at most every few
//! seconds and only when the log grew; every one is stored.
//!
//! Never two of one size with different roots: the tree's nodes never change, so every
//! process computes the same root for a size and Ed25519 signs it the same way; the
//! table keeps one per size. Before signing, the new tree is proved consistent with the
//! last checkpoint, so a tree rewritten under the server is refused, not signed.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use grantlog_store::{EventStore, StoreError, StoredCheckpoint};
use grantlog_tlog::checkpoint::Checkpoint;
use grantlog_tlog::merkle::{VerifyError, verify_consistency};
use grantlog_tlog::note::{NoteSigner, NoteVerifier};

/// Why no checkpoint was signed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The tree does not extend the last checkpoint: refusing to sign.
    #[error("the log's tree at size {size} is not consistent with the checkpoint of size {signed}: {why}")]
    Inconsistent {
        /// The tree's size now.
        size: u64,
        /// The last checkpoint's size.
        signed: u64,
        /// What the proof found.
        why: VerifyError,
    },
    /// The stored latest checkpoint is not one this key signed, or its row disagrees
    /// with its note: the database was written behind the server's back.
    #[error("the stored checkpoint of size {size} is not this key's: {why}; refusing to extend it")]
    Forged {
        /// Its size.
        size: u64,
        /// What is wrong.
        why: String,
    },
    /// The log is shorter than the last checkpoint: truncated, or restored from a backup.
    #[error(
        "the log's tree has {size} events, fewer than the {signed} the last checkpoint signed (truncated or restored?)"
    )]
    Shrank {
        /// The tree's size now.
        size: u64,
        /// The last checkpoint's size.
        signed: u64,
    },
    /// The key cannot sign this origin (a name the note format refuses).
    #[error("cannot sign: {0}")]
    Unsignable(String),
    /// Reading the tree or storing the checkpoint failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The log's signing key, and what it signs.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    signer: Arc<NoteSigner>,
}

impl Checkpointer {
    /// Reads the key file `grantlog checkpoint key generate` wrote.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Failed to read the checkpoint key file {}", path.display()))?;
        let signer =
            NoteSigner::parse(&text).with_context(|| format!("{} holds no checkpoint signing key", path.display()))?;
        Ok(Self { signer: Arc::new(signer) })
    }

    /// The log's origin: the key's name, which the checkpoint's first line repeats.
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// Signs and stores a checkpoint of the tree as it is now, if it grew since the last
    /// one; returns the one stored (by this call or by another process at that size).
    ///
    /// The last checkpoint is taken from its signed note, opened with this key, not
    /// from the row's columns: a row rewritten by whoever can write the database is not
    /// something this key will extend.
    pub async fn sign_if_grown(
        &self,
        store: &EventStore,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredCheckpoint>, SigningError> {
        let last = match store.latest_checkpoint().await? {
            Some(stored) => Some(self.signed_by_us(&stored)?),
            None => None,
        };
        let size = store.tree_size().await?;
        if let Some(last) = last.as_ref().filter(|last| last.size > size) {
            return Err(SigningError::Shrank { size, signed: last.size });
        }
        if size == 0 || last.as_ref().is_some_and(|last| last.size == size) {
            return Ok(None);
        }
        let root = store.tree_root(size).await?;
        if let Some(last) = &last {
            let proof = store.consistency_proof(last.size, size).await?;
            verify_consistency(last.size, size, &last.root, &root, &proof)
                .map_err(|why| SigningError::Inconsistent { size, signed: last.size, why })?;
        }
        let text = Checkpoint { origin: self.origin().to_owned(), size, root }.text();
        let note = self.signer.sign(&text).map_err(|error| SigningError::Unsignable(error.to_string()))?;
        let checkpoint = StoredCheckpoint { tree_size: size, root, note, signed_at: now };
        if store.record_checkpoint(&checkpoint).await? {
            return Ok(Some(checkpoint));
        }
        // Another process signed this size first: it must have signed the same tree.
        let stored = store.latest_checkpoint().await?.filter(|stored| stored.tree_size == size);
        match stored {
            Some(stored) if self.signed_by_us(&stored)?.root == root => Ok(Some(stored)),
            _ => Err(SigningError::Inconsistent { size, signed: size, why: VerifyError::Mismatch }),
        }
    }

    /// What a stored checkpoint's note says, if this key signed it and the row agrees.
    fn signed_by_us(&self, stored: &StoredCheckpoint) -> Result<Checkpoint, SigningError> {
        let forged = |why: String| SigningError::Forged { size: stored.tree_size, why };
        let text = self.signer.verifier().open(&stored.note).map_err(|error| forged(error.to_string()))?;
        let checkpoint = Checkpoint::parse(text).map_err(|error| forged(error.to_string()))?;
        if checkpoint.size != stored.tree_size || checkpoint.root != stored.root || checkpoint.origin != self.origin() {
            return Err(forged("the row's size or root is not what its note says".to_owned()));
        }
        Ok(checkpoint)
    }
}

/// An origin for a log that was given none: `grantlog/` and 12 random hex digits, so
/// that two logs never share one by accident.
pub fn default_origin() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    format!("grantlog/{}", bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// Makes a signing key named `origin`, writes it to `path` (which must not exist),
/// readable by its owner only, and returns the key auditors verify with.
pub fn generate_key(origin: &str, path: &Path) -> anyhow::Result<NoteVerifier> {
    let signer = NoteSigner::generate(origin).context("Failed to make the key")?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("Failed to create {}", path.display()))?;
    writeln!(file, "{}", signer.to_private_string()).context("Failed to write the key")?;
    file.sync_all().context("Failed to write the key")?;
    Ok(signer.verifier())
}
