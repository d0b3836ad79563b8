//! The event store on sqlx, SQLite (the embedded default) and PostgreSQL: append-only
//! streams with optimistic concurrency, a gap-free global order, a hash chain over every
//! event, and a separate encrypted store for secrets.
//!
//! May depend on: `grantlog-domain`. Built with issue #3.
