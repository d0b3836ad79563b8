use grantlog_domain::{DecodeError, DomainError};
use grantlog_store::StoreError;

/// Why a projection or a command failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// A stored event does not decode: written by a newer grantlog, or damaged.
    #[error("event at position {position} does not decode: {cause}")]
    Decode {
        /// Where.
        position: u64,
        /// Why.
        cause: DecodeError,
    },
    /// The domain refused the command.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Another client already has this consumer key.
    #[error("consumer key already registered")]
    ConsumerKeyTaken,
    /// The stream kept changing under the command (more conflicts than retries).
    #[error("stream {0} is too busy; try again")]
    Busy(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ProjectionError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(StoreError::Database(error))
    }
}
