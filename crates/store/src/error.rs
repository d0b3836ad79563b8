use std::error::Error as StdError;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the stream moved since the caller read it. Nothing was
    /// written; re-read the stream and decide again.
    #[error("stream {stream_id} is at version {actual}, expected {expected}")]
    Conflict {
        /// The stream appended to.
        stream_id: String,
        /// The version the caller expected.
        expected: u64,
        /// The version the stream is at.
        actual: u64,
    },
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL: expected sqlite:… or postgres://…")]
    UnsupportedUrl,
    /// A stored row could not be read back (a column edited by hand, say).
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
    /// The log fails a check that readers of the whole log make before trusting it.
    #[error("the event log fails verification: {0}")]
    Tampered(#[from] crate::chain::Violation),
    /// The secret store's key file or a ciphertext is unusable.
    #[error("secret store: {0}")]
    Secrets(String),
    /// A proof asked for what no tree proves (a leaf outside the tree, a consistency
    /// proof to a smaller tree).
    #[error(transparent)]
    Proof(#[from] grantlog_tlog::merkle::ProofError),
    /// A proof or root for a tree larger than the log's.
    #[error("the log's tree has {size} leaves; {asked} were asked")]
    PastTheTree {
        /// The size asked.
        asked: u64,
        /// The tree's size.
        size: u64,
    },
    /// A username is already taken.
    #[error("username already taken")]
    UsernameTaken,
    /// The caller's inline writes (the projection hook) failed; the append was rolled back.
    #[error("inline projection failed: {0}")]
    Inline(#[source] Box<dyn StdError + Send + Sync>),
    /// Migrations could not be applied.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// Wraps an error from the caller's inline hook.
    pub fn inline(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::Inline(Box::new(error))
    }
}

/// Whether `error`, or an error that caused it, says the database could not be reached
/// now: no connection within the pool's wait, a connection refused, lost or shut down
/// by the server (SQLSTATE class 08, 57P01–57P03), or closed before PostgreSQL answered
/// its first message. Such a request may succeed when tried again shortly: the server
/// answers it 503 with `Retry-After`, not 500.
pub fn is_unavailable(error: &(dyn StdError + 'static)) -> bool {
    std::iter::successors(Some(error), |error| (*error).source())
        .filter_map(|error| error.downcast_ref::<sqlx::Error>())
        .any(|error| match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
            // A TCP balancer with no backend accepts a connection and closes it: sqlx
            // reads the end of the stream as a zero byte answering its SSLRequest, the
            // first thing it sends, and calls that a protocol error. Nothing else is
            // exchanged before it, so it cannot be a fault in a query. Any other answer
            // (a service that is not PostgreSQL) stays a fault.
            sqlx::Error::Protocol(message) => message.contains("response from SSLRequest: 0x00"),
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")),
            _ => false,
        })
}

/// Whether `error` is a unique-constraint violation.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// Whether `error` is the `(stream_id, stream_version)` constraint: a real concurrency
/// conflict. Any other collision (a position, after a restored backup, say) is not one
/// a retry could fix.
pub(crate) fn is_stream_version_violation(error: &sqlx::Error) -> bool {
    is_unique_violation(error)
        && error.as_database_error().is_some_and(|db| {
            db.constraint() == Some("events_stream_version")
                || db.message().contains("events.stream_id, events.stream_version")
        })
}

#[cfg(test)]
mod tests {
    use super::is_unavailable;

    #[test]
    fn a_connection_closed_before_the_ssl_answer_is_unavailable_and_another_answer_is_not() {
        let closed = sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into());
        assert!(is_unavailable(&closed));
        let not_postgres = sqlx::Error::Protocol("unexpected response from SSLRequest: 0x48".into());
        assert!(!is_unavailable(&not_postgres));
        assert!(!is_unavailable(&sqlx::Error::Protocol("unknown message type: 'X'".into())));
    }
}
