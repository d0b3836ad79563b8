use std::collections::HashMap;
use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_core::future::BoxFuture;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Executor, Row};
use tokio::sync::{OnceCell, watch};

use crate::chain::{ChainHash, ChainReport, Envelope, Head, Violation};
use crate::error::{StoreError, is_stream_version_violation};
use crate::event::{ExpectedVersion, NewEvent, RecordedEvent, format_timestamp};
use crate::tree;
use grantlog_tlog::merkle::{self, Hash};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
/// Taken, for the length of one transaction, by every process migrating a PostgreSQL
/// database (the ASCII of "grantlog"); see [`EventStore::migrate`].
const POSTGRES_MIGRATION_LOCK: i64 = 0x6772_616e_746c_6f67;

/// PostgreSQL channel on which each append announces its last position.
const CHANNEL: &str = "grantlog_events";
/// Bytes of bound values per INSERT statement (which also keeps its parameter count far
/// below both databases' limits: a row binds 10 values of at least 80 bytes in all). sqlx 0.9.0 no longer sets TCP_NODELAY
/// (transact-rs/sqlx#4335, fixed upstream by #4336, not yet released), and a statement
/// whose values pass about 16 KiB then waits ~40 ms on Nagle's algorithm and delayed
/// ACKs over TCP. Smaller statements cost a round trip each, far less. Drop this once a
/// release sets the option again.
pub const BYTES_PER_INSERT: usize = 12 * 1024;
/// Rows per page when walking the whole log.
const PAGE: u32 = 10_000;
const COLUMNS: &str =
    "position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash";

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, WAL mode, one writer connection: the embedded default.
    Sqlite,
    /// Shared by every `grantlog serve` process pointed at it.
    Postgres,
}

/// The operational tables beside the log: nonces seen, owners' sessions, failed-login
/// counters, use counts and the demo's photos. What they hold is not history: it is
/// written directly, records no event and takes no chain lock; their modules
/// ([`crate::nonces`], [`crate::sessions`], [`crate::throttle`], [`crate::usage`],
/// [`crate::photos`]) hold every statement, and take this rather than a pool so that
/// nothing else writes through the readers' pool.
#[derive(Debug, Clone)]
pub struct SideTables {
    pub(crate) pool: AnyPool,
}

/// How long a request waits for a PostgreSQL connection: enough to ride out a burst
/// that keeps every connection busy, short enough that while the database cannot be
/// reached (the pool retries connecting until then) a request is answered 503 in two
/// seconds rather than left hanging.
const POSTGRES_ACQUIRE_WITHIN: Duration = Duration::from_secs(2);

/// Where the store's database is, and how many connections to open.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `sqlite://file.db` or `postgres://…`.
    pub url: String,
    /// Connections for reads (PostgreSQL: all connections).
    pub max_connections: u32,
    /// Create a missing SQLite file (`serve`, `migrate`); auditing commands must not.
    pub create_if_missing: bool,
}

/// Hides the URL's password: options end up in logs.
impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("create_if_missing", &self.create_if_missing)
            .finish()
    }
}

/// `url` with any password in its authority replaced by `***`.
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

impl ConnectOptions {
    /// Defaults for `url`: eight connections, a missing SQLite file created.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 8, create_if_missing: true }
    }
}

/// One stream's share of [`EventStore::append_many`].
#[derive(Debug, Clone, Copy)]
pub struct StreamAppend<'a> {
    /// The stream.
    pub stream_id: &'a str,
    /// Its expected version.
    pub expected: ExpectedVersion,
    /// The events to append to it.
    pub events: &'a [NewEvent],
}

/// The inline hook's signature: the caller's writes, run inside the append's transaction
/// after the events are inserted, given the events as recorded.
pub type InlineHook<'h> = Box<
    dyn for<'c> FnOnce(&'c mut AnyConnection, &'c [RecordedEvent]) -> BoxFuture<'c, Result<(), StoreError>> + Send + 'h,
>;

/// The event store: an append-only log of events in streams, with a gap-free global
/// order and a hash chain. Cheap to clone; clones share connections.
#[derive(Clone, Debug)]
pub struct EventStore {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    url: String,
    /// SQLite: the single writer connection. PostgreSQL: the same pool as `reader`.
    writer: AnyPool,
    reader: AnyPool,
    side_tables: SideTables,
    /// The newest position this process knows to be committed.
    committed: watch::Sender<u64>,
    listener: OnceCell<()>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore").field("backend", &self.backend).field("url", &redact_password(&self.url)).finish()
    }
}

impl EventStore {
    /// Opens the database (creating a SQLite file if needed). Does not migrate.
    pub async fn connect(options: ConnectOptions) -> Result<Self, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let (backend, url) = normalize_url(&options.url, options.create_if_missing)?;
        let (writer, reader) = match backend {
            Backend::Sqlite => {
                // One writer: SQLite allows one at a time anyway, and a single connection
                // never meets SQLITE_BUSY from another writer of ours.
                let writer = sqlite_pool(1).connect(&url).await?;
                let reader = sqlite_pool(options.max_connections).connect(&url).await?;
                (writer, reader)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(POSTGRES_ACQUIRE_WITHIN)
                    .connect(&url)
                    .await?;
                (pool.clone(), pool)
            }
        };
        let store = Self {
            inner: Arc::new(Inner {
                backend,
                url,
                writer,
                side_tables: SideTables { pool: reader.clone() },
                reader,
                committed: watch::Sender::new(0),
                listener: OnceCell::new(),
            }),
        };
        Ok(store)
    }

    /// Applies the migrations in `migrations/<backend>/` that have not run yet.
    ///
    /// On PostgreSQL all of them run in one transaction that holds a transaction-scoped
    /// advisory lock, so processes migrating at once take turns, and a failed migration
    /// leaves nothing behind. sqlx's own lock is a session lock taken and released by
    /// separate statements: through a transaction pooler (PgBouncer) those may reach
    /// different server connections, and the lock stays held on one of them, so every
    /// later start waits forever. A transaction-scoped lock ends with its transaction,
    /// wherever that ran.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self.inner.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.inner.writer).await?,
            Backend::Postgres => {
                let mut migrator = sqlx::migrate!("../../migrations/postgres");
                migrator.set_locking(false);
                let mut tx = self.inner.writer.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(POSTGRES_MIGRATION_LOCK).execute(&mut *tx).await?;
                // Each migration's own transaction becomes a savepoint inside this one.
                migrator.run(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        self.catch_up_tree().await
    }

    /// Brings the Merkle tree up to the log's head. A log written before the tree
    /// existed gets its leaves here, once; from then on every append keeps it. Stops at
    /// a gap in the log, which `verify_chain` names.
    async fn catch_up_tree(&self) -> Result<(), StoreError> {
        let mut tx = self.lock_appends().await?;
        let mut size = tree::size(&mut tx).await?;
        let head = sqlx::query("SELECT position FROM chain_head WHERE id = 1").fetch_one(&mut *tx).await?;
        let head = to_u64(head.try_get::<i64, _>("position")?);
        while size < head {
            let rows = self.read_rows(size, u32::try_from(head - size).unwrap_or(PAGE).min(PAGE)).await?;
            let contiguous = rows.iter().zip(size + 1..).take_while(|(row, position)| row.position == *position);
            let leaves: Vec<Hash> = contiguous.map(|(row, _)| row.envelope().leaf_hash()).collect();
            if leaves.is_empty() {
                break;
            }
            tree::extend(&mut tx, size, &leaves).await?;
            size += leaves.len() as u64;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The pool for reads (projections' queries). Writes go through [`EventStore::append_with`].
    pub fn reader(&self) -> &AnyPool {
        &self.inner.reader
    }

    /// The operational tables beside the log, written directly (no event, no chain lock).
    pub fn side_tables(&self) -> &SideTables {
        &self.inner.side_tables
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }

    /// Appends `events` to `stream_id` atomically: all or nothing, with optimistic
    /// concurrency on the stream version.
    pub async fn append(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.append_with(stream_id, expected, events, Box::new(|_, _| Box::pin(async { Ok(()) }))).await
    }

    /// Like [`EventStore::append`], and runs `inline` in the same transaction after the
    /// events are written: if it fails, nothing is written. Projections that must
    /// never lag the log (token state) use it.
    #[tracing::instrument(skip_all, fields(stream_id = %stream_id, events = events.len()))]
    pub async fn append_with(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
        inline: InlineHook<'_>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.append_streams(&[StreamAppend { stream_id, expected, events }], inline).await
    }

    /// Appends to several streams in one transaction, all or nothing, each with its own
    /// expected version: for bulk imports and seeding, where one commit per stream
    /// would dominate. A command appends to one stream ([`EventStore::append_with`]).
    pub async fn append_many(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<RecordedEvent>, StoreError> {
        self.append_streams(appends, Box::new(|_, _| Box::pin(async { Ok(()) }))).await
    }

    /// The one append: head lock, version checks, hashes, rows, the inline hook and the
    /// commit in one transaction. Long because splitting it would pass the open
    /// transaction and the running hash between pieces that mean nothing alone.
    async fn append_streams(
        &self,
        appends: &[StreamAppend<'_>],
        inline: InlineHook<'_>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let total: usize = appends.iter().map(|append| append.events.len()).sum();
        if total == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.inner.writer.begin().await?;
        // Taking the head row's lock first serialises appends, so positions are handed
        // out in commit order and the chain has one predecessor per event.
        let count = i64::try_from(total).expect("fewer than 2^63 events");
        let head = sqlx::query("UPDATE chain_head SET position = position + $1 WHERE id = 1 RETURNING position, hash")
            .bind(count)
            .fetch_one(&mut *tx)
            .await?;
        let last_position = to_u64(head.try_get::<i64, _>("position")?);
        let mut previous: ChainHash = parse_hash(&head.try_get::<String, _>("hash")?, last_position)?;

        let mut next_position = last_position + 1 - total as u64;
        let mut versions: HashMap<&str, u64> = HashMap::new();
        let mut recorded = Vec::with_capacity(total);
        let mut rows = Vec::with_capacity(total);
        let mut leaves = Vec::with_capacity(total);
        for append in appends {
            let current_version = match versions.get(append.stream_id) {
                Some(version) => *version,
                None => {
                    sqlx::query("SELECT COALESCE(MAX(stream_version), 0) AS version FROM events WHERE stream_id = $1")
                        .bind(append.stream_id)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get::<i64, _>("version")
                        .map(to_u64)?
                }
            };
            if let ExpectedVersion::Exactly(expected) = append.expected
                && expected != current_version
            {
                return Err(StoreError::Conflict {
                    stream_id: append.stream_id.to_owned(),
                    expected,
                    actual: current_version,
                });
            }
            for (offset, event) in append.events.iter().enumerate() {
                let row = StoredEvent {
                    position: next_position,
                    stream_id: append.stream_id.to_owned(),
                    stream_version: current_version + 1 + offset as u64,
                    event_type: event.event_type.clone(),
                    schema_version: event.schema_version,
                    payload: serde_json::to_string(&event.payload).expect("JSON values serialize"),
                    occurred_at: format_timestamp(&event.occurred_at),
                    actor: serde_json::to_string(&event.actor).expect("actors serialize"),
                    trace_id: event.trace_id.clone(),
                    hash: String::new(),
                };
                let hash = row.envelope().hash(&previous);
                leaves.push(row.envelope().leaf_hash());
                previous = hash;
                next_position += 1;
                recorded.push(RecordedEvent {
                    position: row.position,
                    stream_id: row.stream_id.clone(),
                    stream_version: row.stream_version,
                    event_type: row.event_type.clone(),
                    schema_version: row.schema_version,
                    payload: event.payload.clone(),
                    occurred_at: parse_timestamp(&row.occurred_at, row.position)?,
                    actor: event.actor,
                    trace_id: row.trace_id.clone(),
                    hash,
                });
                rows.push(StoredEvent { hash: hash.to_string(), ..row });
            }
            versions.insert(append.stream_id, current_version + append.events.len() as u64);
        }
        for chunk in statement_chunks(&rows, StoredEvent::bound_bytes) {
            insert_rows(&mut tx, chunk).await.map_err(|error| {
                if is_stream_version_violation(&error) {
                    // Only a concurrent writer outside the head lock could collide; report
                    // it as the conflict it is.
                    let stream_id = chunk[0].stream_id.clone();
                    let actual = chunk[0].stream_version;
                    StoreError::Conflict { stream_id, expected: actual - 1, actual }
                } else {
                    error.into()
                }
            })?;
        }
        sqlx::query("UPDATE chain_head SET hash = $1 WHERE id = 1")
            .bind(previous.to_string())
            .execute(&mut *tx)
            .await?;
        tree::extend(&mut tx, last_position - total as u64, &leaves).await?;
        inline(&mut tx, &recorded).await?;
        if self.inner.backend == Backend::Postgres {
            // Delivered to listeners when (and only if) the transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(last_position.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.announce(last_position);
        Ok(recorded)
    }

    /// A transaction on the writer that holds the append lock: no event commits until
    /// it ends. For work that must see the log stand still — rebuilding read models
    /// while writing them in the same transaction. Do not append while holding it: on
    /// SQLite it is the only writer connection, and the append would wait for it.
    pub async fn lock_appends(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = self.inner.writer.begin().await?;
        sqlx::query("UPDATE chain_head SET position = position WHERE id = 1").execute(&mut *tx).await?;
        Ok(tx)
    }

    /// Every event of one stream, in version order.
    pub async fn read_stream(&self, stream_id: &str) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND position >= 1 ORDER BY stream_version");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(stream_id).fetch_all(&self.inner.reader).await?;
        rows.iter().map(|row| StoredEvent::from_row(row)?.into_recorded()).collect()
    }

    /// Up to `limit` events after `position`, in order. Follow the log by passing the
    /// last position seen: no event is ever skipped, because positions are assigned in
    /// commit order.
    pub async fn read_from(&self, position: u64, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        if self.inner.backend == Backend::Postgres {
            return self.read_rows(position, limit).await?.into_iter().map(StoredEvent::into_recorded).collect();
        }
        // On SQLite the database folds the page into one JSON document: one row crosses
        // the driver instead of thousands (sqlx hands SQLite rows over one at a time
        // between threads, and the `Any` driver copies every column), and payloads
        // arrive already parsed: twice the events per second for replay and rebuild.
        // (On PostgreSQL, json_agg costs the server more than the rows cost us.)
        let sql = "SELECT json_group_array(json_array(position, stream_id, stream_version, event_type, \
                   schema_version, json(payload), occurred_at, json(actor), trace_id, hash) ORDER BY position) AS page \
                   FROM (SELECT * FROM events WHERE position > $1 ORDER BY position LIMIT $2)";
        let page: String = sqlx::query(sql)
            .bind(to_i64(position))
            .bind(i64::from(limit))
            .fetch_one(&self.inner.reader)
            .await?
            .try_get("page")?;
        let rows: Vec<WireEvent> = serde_json::from_str(&page)
            .map_err(|e| StoreError::Corrupt(format!("events after position {position}: {e}")))?;
        rows.into_iter().map(WireEvent::into_recorded).collect()
    }

    /// Up to `limit` events after `position` and at or before `end`, in order: a page of
    /// the log read up to a head (see [`EventStore::sealed_head`]).
    pub async fn read_up_to(&self, position: u64, end: u64, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        let limit = u32::try_from(end.saturating_sub(position)).map_or(limit, |left| left.min(limit));
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read_from(position, limit).await
    }

    /// The event at `position` as stored.
    pub async fn stored_event(&self, position: u64) -> Result<Option<StoredEvent>, StoreError> {
        let mut rows = self.read_rows(position.saturating_sub(1), 1).await?;
        Ok(rows.pop().filter(|row| row.position == position))
    }

    /// Whether the table `name` exists (a log audited without migrating may predate it).
    async fn has_table(&self, name: &str) -> Result<bool, StoreError> {
        let sql = match self.inner.backend {
            Backend::Sqlite => "SELECT COUNT(*) AS found FROM sqlite_master WHERE type = 'table' AND name = $1",
            Backend::Postgres => {
                "SELECT COUNT(*) AS found FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1"
            }
        };
        let found: i64 = sqlx::query(sql).bind(name).fetch_one(&self.inner.reader).await?.try_get("found")?;
        Ok(found > 0)
    }

    /// How many leaves the Merkle tree holds: the events appended (the head's position).
    pub async fn tree_size(&self) -> Result<u64, StoreError> {
        tree::size(&mut *self.inner.reader.acquire().await?).await
    }

    /// The Merkle root of the first `size` events (RFC 6962).
    pub async fn tree_root(&self, size: u64) -> Result<Hash, StoreError> {
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        let mut connection = self.inner.reader.acquire().await?;
        self.within_tree(&mut connection, size).await?;
        tree::range_hash(&mut connection, 0..size).await
    }

    /// The proof that the event at leaf `index` (position − 1) is in the tree of the
    /// first `size` events, with that event's leaf hash.
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<InclusionProof, StoreError> {
        let ranges = merkle::inclusion_ranges(index, size)?;
        let mut connection = self.inner.reader.acquire().await?;
        self.within_tree(&mut connection, size).await?;
        let leaf = tree::range_hash(&mut connection, index..index + 1).await?;
        let hashes = tree::range_hashes(&mut connection, &ranges).await?;
        Ok(InclusionProof { leaf_index: index, tree_size: size, leaf_hash: leaf, hashes })
    }

    /// The proof that the tree of the first `to` events extends that of the first
    /// `from` (RFC 6962 §2.1.2).
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, StoreError> {
        let ranges = merkle::consistency_ranges(from, to)?;
        let mut connection = self.inner.reader.acquire().await?;
        self.within_tree(&mut connection, to).await?;
        tree::range_hashes(&mut connection, &ranges).await
    }

    /// Refuses a size the tree has not reached.
    async fn within_tree(&self, connection: &mut AnyConnection, size: u64) -> Result<(), StoreError> {
        let tree = tree::size(connection).await?;
        if size > tree {
            return Err(StoreError::PastTheTree { asked: size, size: tree });
        }
        Ok(())
    }

    /// The current head: last position and hash.
    pub async fn head(&self) -> Result<Head, StoreError> {
        let row =
            sqlx::query("SELECT position, hash FROM chain_head WHERE id = 1").fetch_one(&self.inner.reader).await?;
        let position = to_u64(row.try_get::<i64, _>("position")?);
        Ok(Head { position, hash: parse_hash(&row.try_get::<String, _>("hash")?, position)? })
    }

    /// The recorded head, after checking that no row lies past it: what a reader of the
    /// whole log (export, rebuild, replay) reads up to. A row past the head was put
    /// there behind the store's back ([`Violation::BeyondHead`], as
    /// [`StoreError::Tampered`]).
    pub async fn sealed_head(&self) -> Result<Head, StoreError> {
        match self.head_and_beyond().await? {
            (head, None) => Ok(head),
            (head, Some(position)) => Err(Violation::BeyondHead { position, head: head.position }.into()),
        }
    }

    /// The recorded head and the first position past it, if any, in one statement and
    /// so one snapshot: an append moves the head in the transaction that adds its rows,
    /// so in a sound log nothing lies past it.
    async fn head_and_beyond(&self) -> Result<(Head, Option<u64>), StoreError> {
        let row = sqlx::query(
            "SELECT h.position, h.hash, (SELECT MIN(e.position) FROM events e WHERE e.position > h.position) AS beyond \
             FROM chain_head h WHERE h.id = 1",
        )
        .fetch_one(&self.inner.reader)
        .await?;
        let position = to_u64(row.try_get::<i64, _>("position")?);
        let head = Head { position, hash: parse_hash(&row.try_get::<String, _>("hash")?, position)? };
        Ok((head, row.try_get::<Option<i64>, _>("beyond")?.map(to_u64)))
    }

    /// Walks the whole log from position 1, recomputing every hash, and checks the end
    /// against the head the database records and, if given, against `anchor` — a head
    /// recorded earlier outside the database. Returns the first violation found. Long
    /// because it is one walk with its checks in the order an auditor reads them.
    pub async fn verify_chain(&self, anchor: Option<Head>) -> Result<Result<ChainReport, Violation>, StoreError> {
        // A log migrated before the tree existed, audited without migrating, has none.
        let has_tree = self.has_table("checkpoints").await?;
        // Read before the head: every checkpoint was then signed for a size the head has
        // reached, so one past the head is a truncation, never a race.
        let stored_checkpoints = if has_tree { self.checkpoints().await? } else { Vec::new() };
        let (recorded_head, beyond) = self.head_and_beyond().await?;
        if let Some(checkpoint) = stored_checkpoints.iter().find(|c| c.tree_size > recorded_head.position) {
            return Ok(Err(Violation::CheckpointBeyondHead {
                size: checkpoint.tree_size,
                head: recorded_head.position,
            }));
        }
        if has_tree {
            // One statement, one snapshot: appends move both together.
            let sizes = sqlx::query(
                "SELECT (SELECT position FROM chain_head WHERE id = 1) AS log, \
                 (SELECT COALESCE(MAX(idx) + 1, 0) FROM merkle_nodes WHERE level = 0) AS tree",
            )
            .fetch_one(&self.inner.reader)
            .await?;
            let (log, tree) = (to_u64(sizes.try_get("log")?), to_u64(sizes.try_get("tree")?));
            if log != tree {
                return Ok(Err(Violation::TreeSize { tree, log }));
            }
        }
        let mut previous = ChainHash::GENESIS;
        let mut expected_position = 1;
        let mut stream_versions: HashMap<String, u64> = HashMap::new();
        let mut anchor_seen = anchor.is_none_or(|anchor| anchor.position == 0 && anchor.hash == ChainHash::GENESIS);
        // The Merkle tree rebuilt from the events, checked against every stored
        // checkpoint on the way and against the stored tree at the end.
        let mut tree = merkle::Appender::new(0, []).expect("the empty tree needs no node");
        let mut checkpoints = stored_checkpoints.into_iter().peekable();
        // Only up to the head read first: events appended while the walk runs are not
        // this check's business (and must not read as tampering).
        while expected_position <= recorded_head.position {
            let remaining = u32::try_from(recorded_head.position - expected_position + 1).unwrap_or(PAGE);
            let rows = self.read_rows(expected_position - 1, remaining.min(PAGE)).await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                if row.position != expected_position {
                    return Ok(Err(Violation::Missing { position: expected_position, found: row.position }));
                }
                let hash = row.envelope().hash(&previous);
                if hash.to_string() != row.hash {
                    return Ok(Err(Violation::HashMismatch { position: row.position }));
                }
                let last_version = stream_versions.entry(row.stream_id.clone()).or_insert(0);
                if row.stream_version != *last_version + 1 {
                    return Ok(Err(Violation::StreamVersion {
                        position: row.position,
                        stream_id: row.stream_id,
                        previous: *last_version,
                        found: row.stream_version,
                    }));
                }
                *last_version = row.stream_version;
                if let Some(anchor) = anchor.filter(|anchor| anchor.position == row.position) {
                    if anchor.hash != hash {
                        return Ok(Err(Violation::HeadMismatch {
                            expected: anchor,
                            found: Head { position: row.position, hash },
                        }));
                    }
                    anchor_seen = true;
                }
                previous = hash;
                expected_position += 1;
                tree.push(row.envelope().leaf_hash());
                tree.forget_added();
                while let Some(checkpoint) = checkpoints.next_if(|checkpoint| checkpoint.tree_size <= tree.size()) {
                    if checkpoint.tree_size == tree.size() && checkpoint.root != tree.root() {
                        return Ok(Err(Violation::CheckpointMismatch { size: checkpoint.tree_size }));
                    }
                }
            }
        }
        let found = Head { position: expected_position - 1, hash: previous };
        if let Some(anchor) = anchor.filter(|_| !anchor_seen) {
            return Ok(Err(Violation::HeadMismatch { expected: anchor, found }));
        }
        if found != recorded_head {
            return Ok(Err(Violation::HeadMismatch { expected: recorded_head, found }));
        }
        if let Some(position) = beyond {
            return Ok(Err(Violation::BeyondHead { position, head: recorded_head.position }));
        }
        // Rows at position 0 or below are outside the walk; none may exist.
        let lowest: Option<i64> = sqlx::query("SELECT MIN(position) AS lowest FROM events")
            .fetch_one(&self.inner.reader)
            .await?
            .try_get("lowest")?;
        if let Some(position) = lowest.filter(|&position| position < 1) {
            return Ok(Err(Violation::OutsideChain { position }));
        }
        if has_tree {
            let stored_root = match self.tree_root(found.position).await {
                Ok(root) => Some(root),
                Err(StoreError::PastTheTree { .. } | StoreError::Corrupt(_)) => None,
                Err(error) => return Err(error),
            };
            if stored_root != Some(tree.root()) {
                return Ok(Err(Violation::TreeMismatch { size: found.position }));
            }
        }
        Ok(Ok(ChainReport { events: found.position, head: found }))
    }

    /// A receiver of the newest committed position, woken on every append: in this
    /// process on SQLite, in every process sharing the database on PostgreSQL
    /// (LISTEN/NOTIFY).
    pub async fn subscribe(&self) -> Result<watch::Receiver<u64>, StoreError> {
        if self.inner.backend == Backend::Postgres {
            self.inner.listener.get_or_try_init(|| self.start_listener()).await?;
        }
        self.announce(self.head().await?.position);
        Ok(self.inner.committed.subscribe())
    }

    async fn start_listener(&self) -> Result<(), StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect(&self.inner.url).await?;
        listener.listen(CHANNEL).await?;
        let store = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                // try_recv, not recv: recv hides a lost connection (it reconnects and
                // carries on), and notifications sent meanwhile are gone — so after a
                // reconnect, read the head instead.
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        let Some(inner) = store.upgrade() else { break };
                        if let Ok(position) = notification.payload().parse() {
                            announce(&inner.committed, position);
                        }
                    }
                    Ok(None) => {
                        let Some(inner) = store.upgrade() else { break };
                        let store = EventStore { inner };
                        match store.head().await {
                            Ok(head) => store.announce(head.position),
                            Err(error) => {
                                tracing::warn!(%error, "reading the head after a lost notification connection")
                            }
                        }
                    }
                    Err(error) => {
                        if store.strong_count() == 0 {
                            break;
                        }
                        tracing::warn!(%error, "event notification listener lost its connection");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }

    fn announce(&self, position: u64) {
        announce(&self.inner.committed, position);
    }

    async fn read_rows(&self, after: u64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2");
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(to_i64(after))
            .bind(i64::from(limit))
            .fetch_all(&self.inner.reader)
            .await?;
        rows.iter().map(StoredEvent::from_row).collect()
    }
}

/// An event's inclusion proof (RFC 6962 §2.1.1): the audit path from its leaf to the
/// root of a tree of `tree_size` events, the leaf's sibling first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The event's leaf index: its position − 1.
    pub leaf_index: u64,
    /// The tree's size.
    pub tree_size: u64,
    /// The event's leaf hash.
    pub leaf_hash: Hash,
    /// The audit path.
    pub hashes: Vec<Hash>,
}

fn announce(committed: &watch::Sender<u64>, position: u64) {
    committed.send_if_modified(|known| {
        let newer = position > *known;
        if newer {
            *known = position;
        }
        newer
    });
}

fn sqlite_pool(max_connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(Duration::from_secs(10)).after_connect(
        |connection, _| {
            Box::pin(async move {
                // sqlx leaves SQLite's defaults; a log wants WAL (readers never block the
                // writer) and FULL sync: a commit acknowledged (a revocation shown to Jane)
                // survives a power cut. NORMAL would lose the last commits before a
                // checkpoint; it doubles single-commit throughput (docs/benchmarks.md).
                for pragma in [
                    "PRAGMA journal_mode = WAL",
                    "PRAGMA synchronous = FULL",
                    "PRAGMA busy_timeout = 10000",
                    "PRAGMA foreign_keys = ON",
                ] {
                    connection.execute(pragma).await?;
                }
                Ok(())
            })
        },
    )
}

/// Accepts `sqlite://path`, `sqlite:path` and `postgres://…`/`postgresql://…`.
fn normalize_url(url: &str, create_if_missing: bool) -> Result<(Backend, String), StoreError> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let mode = if create_if_missing { "rwc" } else { "rw" };
        let url = if path.contains('?') { format!("sqlite://{path}") } else { format!("sqlite://{path}?mode={mode}") };
        Ok((Backend::Sqlite, url))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Backend::Postgres, url.to_owned()))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// Splits rows into INSERT statements of at most [`BYTES_PER_INSERT`] bytes of values
/// each (a larger row goes alone), `bytes` telling what a row's values take.
pub fn statement_chunks<T>(rows: &[T], bytes_of: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, row) in rows.iter().enumerate() {
        let size = bytes_of(row);
        if index > start && (bytes + size > BYTES_PER_INSERT) {
            chunks.push(&rows[start..index]);
            (start, bytes) = (index, 0);
        }
        bytes += size;
    }
    chunks.push(&rows[start..]);
    chunks
}

/// The placeholders of a multi-row `VALUES` list: `($1, $2), ($3, $4)` for two rows
/// of two columns.
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    let row = |row: usize| {
        let placeholders: Vec<String> = (1..=columns).map(|column| format!("${}", row * columns + column)).collect();
        format!("({})", placeholders.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

async fn insert_rows(connection: &mut AnyConnection, rows: &[StoredEvent]) -> Result<(), sqlx::Error> {
    let sql = format!("INSERT INTO events ({COLUMNS}) VALUES {}", values_placeholders(rows.len(), 10));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for row in rows {
        query = query
            .bind(to_i64(row.position))
            .bind(&row.stream_id)
            .bind(to_i64(row.stream_version))
            .bind(&row.event_type)
            .bind(i64::from(row.schema_version))
            .bind(&row.payload)
            .bind(&row.occurred_at)
            .bind(&row.actor)
            .bind(&row.trace_id)
            .bind(&row.hash);
    }
    query.execute(connection).await?;
    Ok(())
}

/// One event of a [`EventStore::read_from`] page, as the database's JSON array gives it.
#[derive(serde::Deserialize)]
struct WireEvent(
    i64,
    String,
    i64,
    String,
    i64,
    serde_json::Value,
    String,
    grantlog_domain::Actor,
    Option<String>,
    String,
);

impl WireEvent {
    fn into_recorded(self) -> Result<RecordedEvent, StoreError> {
        let Self(
            position,
            stream_id,
            stream_version,
            event_type,
            schema_version,
            payload,
            occurred_at,
            actor,
            trace_id,
            hash,
        ) = self;
        let position = to_u64(position);
        Ok(RecordedEvent {
            position,
            stream_id,
            stream_version: to_u64(stream_version),
            event_type,
            schema_version: u32::try_from(schema_version)
                .map_err(|_| StoreError::Corrupt(format!("position {position}: schema version out of range")))?,
            payload,
            occurred_at: parse_timestamp(&occurred_at, position)?,
            actor,
            trace_id,
            hash: parse_hash(&hash, position)?,
        })
    }
}

/// An event as its row stores it: the text the chain hash and the Merkle leaf cover,
/// byte for byte (a receipt carries it so that its proof can be checked offline).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredEvent {
    /// Its position.
    pub position: u64,
    /// Its stream.
    pub stream_id: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its type.
    pub event_type: String,
    /// Its payload's schema version.
    pub schema_version: u32,
    /// The payload, as stored JSON text.
    pub payload: String,
    /// When, as stored.
    pub occurred_at: String,
    /// Who, as stored JSON text.
    pub actor: String,
    /// The trace id, if any.
    pub trace_id: Option<String>,
    /// Its chain hash, hex.
    pub hash: String,
}

impl StoredEvent {
    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let position = to_u64(row.try_get::<i64, _>("position")?);
        Ok(Self {
            position,
            stream_id: row.try_get("stream_id")?,
            stream_version: to_u64(row.try_get::<i64, _>("stream_version")?),
            event_type: row.try_get("event_type")?,
            schema_version: u32::try_from(row.try_get::<i64, _>("schema_version")?)
                .map_err(|_| StoreError::Corrupt(format!("position {position}: schema version out of range")))?,
            payload: row.try_get("payload")?,
            occurred_at: row.try_get("occurred_at")?,
            actor: row.try_get("actor")?,
            trace_id: row.try_get("trace_id")?,
            hash: row.try_get("hash")?,
        })
    }

    /// Roughly what the row's values take on the wire.
    fn bound_bytes(&self) -> usize {
        let text = [&self.stream_id, &self.event_type, &self.payload, &self.occurred_at, &self.actor, &self.hash];
        text.iter().map(|t| t.len()).sum::<usize>() + self.trace_id.as_ref().map_or(0, String::len) + 10 * 8
    }

    /// The envelope the chain hash and the Merkle leaf cover.
    pub fn envelope(&self) -> Envelope<'_> {
        Envelope {
            position: self.position,
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            occurred_at: &self.occurred_at,
            actor: &self.actor,
            trace_id: self.trace_id.as_deref(),
            payload: &self.payload,
        }
    }

    fn into_recorded(self) -> Result<RecordedEvent, StoreError> {
        let position = self.position;
        let corrupt = |reason: String| StoreError::Corrupt(format!("position {position}: {reason}"));
        Ok(RecordedEvent {
            position: self.position,
            payload: serde_json::from_str(&self.payload).map_err(|e| corrupt(format!("payload: {e}")))?,
            occurred_at: parse_timestamp(&self.occurred_at, self.position)?,
            actor: serde_json::from_str(&self.actor).map_err(|e| corrupt(format!("actor: {e}")))?,
            hash: parse_hash(&self.hash, self.position)?,
            stream_id: self.stream_id,
            stream_version: self.stream_version,
            event_type: self.event_type,
            schema_version: self.schema_version,
            trace_id: self.trace_id,
        })
    }
}

fn parse_timestamp(text: &str, position: u64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("position {position}: occurred_at: {e}")))
}

fn parse_hash(text: &str, position: u64) -> Result<ChainHash, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("position {position}: hash is not 64 hex digits")))
}

/// Positions and versions are non-negative by construction; a negative one read back
/// means someone wrote the row by hand, and saturating to 0 makes the chain check fail.
fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).expect("positions stay below 2^63")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `migrate` runs every PostgreSQL migration inside one transaction; one marked
    /// `-- no-transaction` (say, `CREATE INDEX CONCURRENTLY`) would fail there.
    #[test]
    fn every_postgres_migration_can_run_inside_one_transaction() {
        let migrator = sqlx::migrate!("../../migrations/postgres");
        let outside: Vec<_> = migrator.iter().filter(|migration| migration.no_tx).map(|m| m.version).collect();
        assert!(outside.is_empty(), "migrations that need their own transaction: {outside:?}");
    }

    fn row(payload_len: usize) -> StoredEvent {
        StoredEvent {
            position: 1,
            stream_id: "grant-a".into(),
            stream_version: 1,
            event_type: "t".into(),
            schema_version: 1,
            payload: "x".repeat(payload_len),
            occurred_at: String::new(),
            actor: String::new(),
            trace_id: None,
            hash: String::new(),
        }
    }

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_placeholders(1, 1), "($1)");
    }

    #[test]
    fn statements_stay_under_the_byte_cap() {
        let rows: Vec<StoredEvent> = (0..100).map(|_| row(1000)).collect();
        let chunks = statement_chunks(&rows, StoredEvent::bound_bytes);
        assert!(chunks.iter().all(|c| c.iter().map(StoredEvent::bound_bytes).sum::<usize>() <= BYTES_PER_INSERT));
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 100);

        assert!(chunks.len() > 1);

        let huge = [row(BYTES_PER_INSERT * 2)];
        assert_eq!(statement_chunks(&huge, StoredEvent::bound_bytes).len(), 1, "an oversized row still goes, alone");
    }

    #[test]
    fn debug_output_hides_database_passwords() {
        let options = ConnectOptions::new("postgres://grantlog:s3cret@db.internal:5432/grantlog?sslmode=require");
        let debug = format!("{options:?}");
        assert!(!debug.contains("s3cret") && debug.contains("grantlog:***@db.internal:5432/grantlog"), "{debug}");
        assert_eq!(redact_password("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
        assert_eq!(redact_password("sqlite://grantlog.db"), "sqlite://grantlog.db");
    }

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(normalize_url("sqlite://a.db", true).unwrap(), (Backend::Sqlite, "sqlite://a.db?mode=rwc".into()));
        assert_eq!(normalize_url("sqlite:a.db", false).unwrap(), (Backend::Sqlite, "sqlite://a.db?mode=rw".into()));
        assert_eq!(normalize_url("postgresql://h/d", true).unwrap().0, Backend::Postgres);
        assert!(matches!(normalize_url("mysql://h/d", true), Err(StoreError::UnsupportedUrl)));
    }
}
