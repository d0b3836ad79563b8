//! What auditors ask of the log, for the command line (`grantlog audit …`) and the
//! auditor API (`/audit/…`) alike: [`Audit`] needs the log alone, not the secrets key.

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use grantlog_domain::OwnerId;
use grantlog_projection::replay::{Filter, ReplayedGrant, replay};
use grantlog_projection::{Horizon, fold};
use grantlog_store::{
    ChainReport, EventStore, Head, InclusionProof, RecordedEvent, StoreError, StoredCheckpoint, Violation, profiles,
};
use grantlog_tlog::merkle::Hash;
use serde::Serialize;
use utoipa::ToSchema;

/// A moment in the log's history.
#[derive(Debug, Clone, Copy)]
pub enum Moment {
    /// Everything recorded at or before this time.
    Time(DateTime<Utc>),
    /// Everything up to and including this position.
    Position(u64),
}

/// Why a replay was not made: the question, or our failure.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A position beyond the log's last.
    #[error("position {asked} is past the end of the log ({head})")]
    PastTheEnd {
        /// The position asked for.
        asked: u64,
        /// The last position there is.
        head: u64,
    },
    /// No owner by that name (an erased owner is found by owner id only).
    #[error("no owner named {0:?} (an erased owner is found by owner id only)")]
    UnknownOwner(String),
    /// Reading or folding the log failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl ReplayError {
    /// What the log fails verification by, when that is why the replay failed.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Self::Failed(error) => error.chain().find_map(|cause| cause.downcast_ref::<Violation>()),
            Self::PastTheEnd { .. } | Self::UnknownOwner(_) => None,
        }
    }
}

/// The auditors' use cases on one log.
#[derive(Debug, Clone)]
pub struct Audit {
    store: EventStore,
}

/// A page of the log, and where the log's head is.
#[derive(Debug)]
pub struct EventsPage {
    /// Up to the page's limit of events, in log order.
    pub events: Vec<RecordedEvent>,
    /// The recorded head's position.
    pub head: u64,
}

impl Audit {
    /// The use cases on `store`.
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    /// Up to `limit` events after position `after`, never past the recorded head; a log
    /// with rows past its head is refused ([`StoreError::Tampered`]).
    pub async fn events(&self, after: u64, limit: u32) -> Result<EventsPage, StoreError> {
        let head = self.store.sealed_head().await?;
        let events = self.store.read_up_to(after, head.position, limit).await?;
        Ok(EventsPage { events, head: head.position })
    }

    /// The whole chain walked; with `expect_head`, also that the log still holds it.
    pub async fn verify(&self, expect_head: Option<Head>) -> Result<Result<ChainReport, Violation>, StoreError> {
        self.store.verify_chain(expect_head).await
    }

    /// The chain's head.
    pub async fn head(&self) -> Result<Head, StoreError> {
        self.store.head().await
    }

    /// The grants as they stood at `moment`: all, or one owner's (a username, or an
    /// owner id for erased owners) and/or one client's (by consumer key).
    pub async fn replay(
        &self,
        moment: Moment,
        owner: Option<&str>,
        client_key: Option<String>,
    ) -> Result<Vec<ReplayedGrant>, ReplayError> {
        replay_grants(&self.store, moment, owner, client_key).await
    }

    /// The latest signed checkpoint or, `as_of` a moment, the one in force then (the
    /// largest signed at or before it); `None` if none was signed by then.
    pub async fn checkpoint(&self, as_of: Option<DateTime<Utc>>) -> Result<Option<StoredCheckpoint>, StoreError> {
        match as_of {
            Some(at) => self.store.checkpoint_at(at).await,
            None => self.store.latest_checkpoint().await,
        }
    }

    /// The proof that the event at `position` is in the tree of `size` events; without
    /// a size, the latest checkpoint's (or, with none signed, the whole log's), so the
    /// proof checks against what the auditor can verify.
    pub async fn inclusion(&self, position: u64, size: Option<u64>) -> Result<InclusionProof, StoreError> {
        let size = match size {
            Some(size) => size,
            None => match self.store.latest_checkpoint().await? {
                Some(checkpoint) if checkpoint.tree_size >= position => checkpoint.tree_size,
                _ => self.store.tree_size().await?,
            },
        };
        // Position 0 names no event: ask for a leaf past any tree, which is refused.
        self.store.inclusion_proof(position.checked_sub(1).unwrap_or(u64::MAX), size).await
    }

    /// The proof that the tree of `to` events extends the tree of `from`.
    pub async fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        self.store.consistency_proof(from, to).await
    }

    /// Every event to `out` in `format`; returns how many.
    pub async fn export(&self, format: crate::export::Format, out: impl std::io::Write) -> anyhow::Result<u64> {
        crate::export::export(&self.store, format, out).await
    }

    /// The export in `format` a page at a time, for streaming.
    pub async fn export_pages(&self, format: crate::export::Format) -> Result<crate::export::Export, StoreError> {
        crate::export::Export::start(self.store.clone(), format).await
    }
}

/// An inclusion proof as the CLI prints it and the APIs answer it (RFC 6962's audit
/// path, hashes in base64).
#[derive(Debug, Serialize, ToSchema)]
pub struct InclusionProofView {
    /// The event's leaf: its position − 1.
    pub leaf_index: u64,
    /// The size of the tree it is proved in.
    pub tree_size: u64,
    /// The leaf's hash: SHA-256 of 0x00 and the event's chain hash.
    #[schema(format = Byte)]
    pub leaf_hash: String,
    /// The audit path, leaf to root.
    #[schema(value_type = Vec<String>, format = Byte)]
    pub hashes: Vec<String>,
}

impl From<&InclusionProof> for InclusionProofView {
    fn from(proof: &InclusionProof) -> Self {
        Self {
            leaf_index: proof.leaf_index,
            tree_size: proof.tree_size,
            leaf_hash: STANDARD.encode(proof.leaf_hash),
            hashes: base64_all(&proof.hashes),
        }
    }
}

/// A consistency proof as the CLI prints it and the API answers it: the tree of `to`
/// events extends that of `from`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyProofView {
    /// The smaller tree's size.
    pub from: u64,
    /// The larger tree's size.
    pub to: u64,
    /// The proof's hashes (RFC 6962), in base64.
    #[schema(value_type = Vec<String>, format = Byte)]
    pub hashes: Vec<String>,
}

impl ConsistencyProofView {
    /// The proof that the tree of `to` extends that of `from`.
    pub fn new(from: u64, to: u64, hashes: &[Hash]) -> Self {
        Self { from, to, hashes: base64_all(hashes) }
    }
}

fn base64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|hash| STANDARD.encode(hash)).collect()
}

async fn replay_grants(
    store: &EventStore,
    moment: Moment,
    owner: Option<&str>,
    client_key: Option<String>,
) -> Result<Vec<ReplayedGrant>, ReplayError> {
    let (horizon, at) = match moment {
        Moment::Time(as_of) => (Horizon::Time(as_of), as_of),
        Moment::Position(position) => {
            let head = store.head().await.context("Failed to read the chain head")?;
            if position > head.position {
                return Err(ReplayError::PastTheEnd { asked: position, head: head.position });
            }
            // A position's moment is when its event was recorded.
            let at = match position {
                0 => DateTime::<Utc>::MIN_UTC,
                _ => store.read_from(position - 1, 1).await.context("Failed to read the event log")?[0].occurred_at,
            };
            (Horizon::Position(position), at)
        }
    };
    let owner = match owner {
        Some(owner) => Some(resolve_owner(store, owner).await?),
        None => None,
    };
    let projection = fold(store, horizon).await.context("Failed to replay the event log")?;
    Ok(replay(&projection, at, &Filter { owner, client_key }))
}

/// An owner id given as such, or looked up by username (erased owners have none).
async fn resolve_owner(store: &EventStore, owner: &str) -> Result<OwnerId, ReplayError> {
    if let Ok(id) = owner.parse::<uuid::Uuid>() {
        return Ok(OwnerId::new(id));
    }
    match profiles::find_owner_by_username(store.reader(), owner).await.context("Failed to look up the owner")? {
        Some(profile) => Ok(OwnerId::new(profile.owner_id)),
        None => Err(ReplayError::UnknownOwner(owner.to_owned())),
    }
}
