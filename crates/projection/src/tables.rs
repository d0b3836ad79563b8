//! The SQL read models: one row per client, owner and grant, derived from its record by
//! a pure function, upserted in the append's transaction, read back by the server.
//! Timestamps are stored as the same fixed-width RFC 3339 text the log uses.
//!
//! Rows are typed (ids, statuses, scopes, resources, instants): parsed once here where
//! they are read, so no caller matches on a stored string. A column that does not
//! parse is damage, reported as a decode error of that column.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use grantlog_domain::{AccessDuration, CallbackPattern, ClientId, GrantId, GrantStatus, OwnerId, ResourceId, Scope};
use grantlog_store::{AnyConnection, AnyPool, storable};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::ProjectionError;
use crate::record::{ClientRecord, GrantRecord, OwnerRecord};

/// The checkpoint name of the tables below.
pub(crate) const CHECKPOINT: &str = "tables";

/// A `clients` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    /// Client id.
    pub client_id: ClientId,
    /// Its consumer key.
    pub consumer_key: String,
    /// Its display name.
    pub name: String,
    /// Its homepage.
    pub homepage: Option<String>,
    /// Its callback patterns (a JSON array in the table).
    pub callbacks: Vec<CallbackPattern>,
    /// Its RSA public key (PEM), for RSA-SHA1.
    pub rsa_public_key: Option<String>,
    /// The fingerprint of its current secret.
    pub secret_fingerprint: String,
    /// Whether it may make requests (not suspended).
    pub active: bool,
    /// Why it is suspended, if it is.
    pub suspension_reason: Option<String>,
    /// After a rotation with a grace period: the previous secret's fingerprint and
    /// until when it still works.
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// Where it receives revocation notices.
    pub notify_url: Option<String>,
    /// When it registered.
    pub registered_at: DateTime<Utc>,
    /// The last event applied.
    pub position: i64,
}

/// An `owners` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRow {
    /// Owner id (UUID).
    pub owner_id: String,
    /// Whether the owner was erased.
    pub erased: bool,
    /// When the owner registered.
    pub registered_at: String,
    /// The last event applied.
    pub position: i64,
}

/// A `grants` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// Grant id.
    pub grant_id: GrantId,
    /// The client that asked.
    pub client_id: ClientId,
    /// The owner who authenticated for it, once one has.
    pub owner_id: Option<OwnerId>,
    /// The request token (`oauth_token` of the temporary credentials).
    pub request_token: String,
    /// The access token, once exchanged.
    pub access_token: Option<String>,
    /// The callback given at initiate.
    pub callback: String,
    /// The scope asked for.
    pub requested_scope: Scope,
    /// The scope granted.
    pub scope: Option<Scope>,
    /// The resources granted (a JSON array in the table).
    pub resources: Vec<ResourceId>,
    /// The access duration the owner chose.
    pub duration: Option<AccessDuration>,
    /// Whether the decision is to be remembered.
    pub remembered: bool,
    /// The status as recorded; expiry by the clock is decided at read time from
    /// `expires_at` ([`GrantRow::status_at`]).
    pub status: GrantStatus,
    /// Since when the recorded status holds.
    pub status_since: DateTime<Utc>,
    /// When the current credentials run out, if they do.
    pub expires_at: Option<DateTime<Utc>>,
    /// When temporary credentials were issued.
    pub issued_at: DateTime<Utc>,
    /// When the owner approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// The last event applied.
    pub position: i64,
}

/// The time format of the read models (and of the log).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An instant as the tables keep it: to the microsecond, so a row made from a record
/// equals the row read back.
fn stored(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

fn position(value: u64) -> i64 {
    i64::try_from(value).expect("positions stay below 2^63")
}

impl ClientRow {
    /// The row for a registered client.
    pub fn of(record: &ClientRecord) -> Option<Self> {
        let client = record.state.client()?;
        Some(Self {
            client_id: client.client_id(),
            consumer_key: client.consumer_key().to_string(),
            name: client.name().to_string(),
            homepage: client.homepage().map(ToString::to_string),
            callbacks: client.callbacks().to_vec(),
            rsa_public_key: client.rsa_public_key().map(ToString::to_string),
            secret_fingerprint: client.secret_fingerprint().to_string(),
            active: client.is_active(),
            suspension_reason: client.suspension_reason().map(ToString::to_string),
            previous_secret: client
                .previous_secret()
                .map(|(fingerprint, until)| (fingerprint.to_string(), stored(until))),
            notify_url: client.notify_url().map(ToString::to_string),
            registered_at: stored(record.registered_at?),
            position: position(record.position),
        })
    }
}

impl OwnerRow {
    /// The row for a registered owner.
    pub fn of(record: &OwnerRecord) -> Option<Self> {
        let owner = record.state.owner()?;
        Some(Self {
            owner_id: owner.owner_id().to_string(),
            erased: owner.is_erased(),
            registered_at: timestamp(record.registered_at?),
            position: position(record.position),
        })
    }
}

impl GrantRow {
    /// The row for an issued grant.
    pub fn of(record: &GrantRecord) -> Option<Self> {
        let grant = record.grant()?;
        let status = record.recorded_status()?;
        let issued = grant.temporary_credentials();
        let approval = grant.approval();
        Some(Self {
            grant_id: grant.grant_id(),
            client_id: grant.client_id(),
            owner_id: grant.owner_id(),
            request_token: issued.request_token.to_string(),
            access_token: grant.token_credentials().map(|t| t.access_token.to_string()),
            callback: issued.callback.to_string(),
            requested_scope: issued.requested_scope.clone(),
            scope: approval.map(|a| a.scope.clone()),
            resources: approval.map_or_else(Vec::new, |a| a.resources.clone()),
            duration: approval.map(|a| a.duration),
            remembered: grant.is_remembered(),
            status,
            status_since: stored(record.since(status)?),
            expires_at: grant.next_expiry().map(|(_, at)| stored(at)),
            issued_at: stored(record.issued_at?),
            approved_at: approval.map(|a| stored(a.approved_at)),
            position: position(record.position),
        })
    }

    /// The status at `now`: the recorded one, or expired once the recorded expiry of an
    /// open grant has passed ([`GrantStatus::at`]).
    pub fn status_at(&self, now: DateTime<Utc>) -> GrantStatus {
        self.status.at(self.expires_at, now)
    }
}

/// A query on the `Any` driver, as the row types bind into it.
pub type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// A read-model row: its table, its columns (the key first), and how it binds.
pub trait SqlRow: Send + Sync {
    /// The table.
    const TABLE: &'static str;
    /// The columns, primary key first, in [`SqlRow::bind`] order.
    const COLUMNS: &'static [&'static str];
    /// Binds the row's values, in column order.
    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q>;
    /// Roughly what the values take on the wire.
    fn bytes(&self) -> usize;
}

/// `INSERT INTO table (columns) VALUES (…), (…)` for `rows` rows, replacing an existing
/// row with the same key when `upsert`.
fn insert_sql<R: SqlRow>(rows: usize, upsert: bool) -> String {
    let values = grantlog_store::values_placeholders(rows, R::COLUMNS.len());
    let mut sql = format!("INSERT INTO {} ({}) VALUES {values}", R::TABLE, R::COLUMNS.join(", "));
    if upsert {
        let updates: Vec<String> =
            R::COLUMNS[1..].iter().map(|column| format!("{column} = excluded.{column}")).collect();
        sql.push_str(&format!(" ON CONFLICT ({}) DO UPDATE SET {}", R::COLUMNS[0], updates.join(", ")));
    }
    sql
}

/// Writes a row, replacing the one with the same key.
pub async fn upsert<R: SqlRow>(connection: &mut AnyConnection, row: &R) -> Result<(), sqlx::Error> {
    let sql = insert_sql::<R>(1, true);
    row.bind(sqlx::query(sqlx::AssertSqlSafe(sql))).execute(connection).await?;
    Ok(())
}

/// Inserts many rows into an emptied table, several per statement.
pub async fn insert_all<R: SqlRow>(connection: &mut AnyConnection, rows: &[R]) -> Result<(), sqlx::Error> {
    for chunk in grantlog_store::statement_chunks(rows, R::bytes) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_sql::<R>(chunk.len(), false)));
        for row in chunk {
            query = row.bind(query);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

fn text_bytes<'a>(values: impl IntoIterator<Item = Option<&'a String>>) -> usize {
    values.into_iter().map(|value| value.map_or(0, String::len) + 8).sum()
}

/// What an id (UUID text) takes on the wire, with its length.
const ID_BYTES: usize = 36 + 8;

/// What a stored instant (RFC 3339 to the microsecond) takes on the wire.
const TIMESTAMP_BYTES: usize = 27 + 8;

impl SqlRow for ClientRow {
    const TABLE: &'static str = "clients";
    const COLUMNS: &'static [&'static str] = &[
        "client_id",
        "consumer_key",
        "name",
        "homepage",
        "callbacks",
        "rsa_public_key",
        "secret_fingerprint",
        "active",
        "registered_at",
        "position",
        "suspension_reason",
        "previous_secret_fingerprint",
        "previous_secret_until",
        "notify_url",
    ];

    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.client_id.to_string())
            .bind(&self.consumer_key)
            .bind(&self.name)
            .bind(&self.homepage)
            .bind(serde_json::to_string(&self.callbacks).expect("patterns serialize"))
            .bind(&self.rsa_public_key)
            .bind(&self.secret_fingerprint)
            .bind(i64::from(self.active))
            .bind(timestamp(self.registered_at))
            .bind(self.position)
            .bind(&self.suspension_reason)
            .bind(self.previous_secret.as_ref().map(|(fingerprint, _)| fingerprint))
            .bind(self.previous_secret.as_ref().map(|(_, until)| timestamp(*until)))
            .bind(&self.notify_url)
    }

    fn bytes(&self) -> usize {
        let callbacks: usize = self.callbacks.iter().map(|pattern| pattern.to_string().len() + 3).sum();
        text_bytes([
            Some(&self.consumer_key),
            Some(&self.name),
            self.homepage.as_ref(),
            self.rsa_public_key.as_ref(),
            Some(&self.secret_fingerprint),
            self.suspension_reason.as_ref(),
            self.previous_secret.as_ref().map(|(fingerprint, _)| fingerprint),
            self.notify_url.as_ref(),
        ]) + callbacks
            + ID_BYTES
            + 2 * TIMESTAMP_BYTES
            + 16
    }
}

impl SqlRow for OwnerRow {
    const TABLE: &'static str = "owners";
    const COLUMNS: &'static [&'static str] = &["owner_id", "erased", "registered_at", "position"];

    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query.bind(&self.owner_id).bind(i64::from(self.erased)).bind(&self.registered_at).bind(self.position)
    }

    fn bytes(&self) -> usize {
        text_bytes([Some(&self.owner_id), Some(&self.registered_at)]) + 16
    }
}

impl SqlRow for GrantRow {
    const TABLE: &'static str = "grants";
    const COLUMNS: &'static [&'static str] = &[
        "grant_id",
        "client_id",
        "owner_id",
        "request_token",
        "access_token",
        "callback",
        "requested_scope",
        "scope",
        "resources",
        "duration",
        "remembered",
        "status",
        "status_since",
        "expires_at",
        "issued_at",
        "approved_at",
        "position",
    ];

    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.grant_id.to_string())
            .bind(self.client_id.to_string())
            .bind(self.owner_id.map(|id| id.to_string()))
            .bind(&self.request_token)
            .bind(&self.access_token)
            .bind(&self.callback)
            .bind(self.requested_scope.to_string())
            .bind(self.scope.as_ref().map(ToString::to_string))
            .bind(serde_json::to_string(&self.resources).expect("ids serialize"))
            .bind(self.duration.map(|duration| duration.as_str()))
            .bind(i64::from(self.remembered))
            .bind(self.status.as_str())
            .bind(timestamp(self.status_since))
            .bind(self.expires_at.map(timestamp))
            .bind(timestamp(self.issued_at))
            .bind(self.approved_at.map(timestamp))
            .bind(self.position)
    }

    fn bytes(&self) -> usize {
        let resources: usize = self.resources.iter().map(|id| id.as_str().len() + 3).sum();
        text_bytes([Some(&self.request_token), self.access_token.as_ref(), Some(&self.callback)])
            + resources
            + 3 * ID_BYTES
            + 5 * TIMESTAMP_BYTES
            + 3 * 64
            + 16
    }
}

/// Every row of the read models, sorted: what `projection rebuild` must reproduce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables {
    /// `clients`, by client id.
    pub clients: Vec<ClientRow>,
    /// `owners`, by owner id.
    pub owners: Vec<OwnerRow>,
    /// `grants`, by grant id.
    pub grants: Vec<GrantRow>,
}

impl Tables {
    /// Reads every row.
    pub async fn read(pool: &AnyPool) -> Result<Self, ProjectionError> {
        let clients = sqlx::query("SELECT * FROM clients ORDER BY client_id").fetch_all(pool).await?;
        let owners = sqlx::query("SELECT * FROM owners ORDER BY owner_id").fetch_all(pool).await?;
        let grants = sqlx::query("SELECT * FROM grants ORDER BY grant_id").fetch_all(pool).await?;
        Ok(Self {
            clients: clients.iter().map(client_row).collect::<Result<_, _>>()?,
            owners: owners.iter().map(owner_row).collect::<Result<_, _>>()?,
            grants: grants.iter().map(grant_row).collect::<Result<_, _>>()?,
        })
    }
}

/// The client whose consumer key is `key`.
pub async fn client_by_key(pool: &AnyPool, key: &str) -> Result<Option<ClientRow>, ProjectionError> {
    if !storable(key) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT * FROM clients WHERE consumer_key = $1").bind(key).fetch_optional(pool).await?;
    Ok(row.as_ref().map(client_row).transpose()?)
}

/// Up to `limit` clients whose consumer key sorts after `after`, in that order: the
/// operators' paged list.
pub async fn clients_after(pool: &AnyPool, after: &str, limit: u32) -> Result<Vec<ClientRow>, ProjectionError> {
    if !storable(after) {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT * FROM clients WHERE consumer_key > $1 ORDER BY consumer_key LIMIT $2")
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(client_row).collect::<Result<_, _>>()?)
}

/// How many of a client's grants are in each status at `now` (an open grant whose
/// expiry has passed counts as expired), in one grouped query.
pub async fn grant_counts_of_client(
    pool: &AnyPool,
    client_id: ClientId,
    now: DateTime<Utc>,
) -> Result<Vec<(GrantStatus, i64)>, ProjectionError> {
    let rows = sqlx::query(
        "SELECT status, CASE WHEN expires_at IS NOT NULL AND expires_at <= $2 THEN 1 ELSE 0 END AS ran_out, \
         COUNT(*) AS n FROM grants WHERE client_id = $1 GROUP BY status, ran_out",
    )
    .bind(client_id.to_string())
    .bind(timestamp(now))
    .fetch_all(pool)
    .await?;
    let mut counts: Vec<(GrantStatus, i64)> = Vec::new();
    for row in &rows {
        let recorded: String = row.try_get("status")?;
        let recorded = stored_status(&recorded)?;
        let status =
            if row.try_get::<i64, _>("ran_out")? == 1 && recorded.is_open() { GrantStatus::Expired } else { recorded };
        let n: i64 = row.try_get("n")?;
        match counts.iter_mut().find(|(counted, _)| *counted == status) {
            Some((_, total)) => *total += n,
            None => counts.push((status, n)),
        }
    }
    counts.sort_by_key(|(status, _)| status.as_str());
    Ok(counts)
}

/// The client with this id.
pub async fn client_by_id(pool: &AnyPool, client_id: &str) -> Result<Option<ClientRow>, ProjectionError> {
    if !storable(client_id) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT * FROM clients WHERE client_id = $1").bind(client_id).fetch_optional(pool).await?;
    Ok(row.as_ref().map(client_row).transpose()?)
}

/// The grant whose request or access token is `token`.
pub async fn grant_by_token(pool: &AnyPool, token: &str) -> Result<Option<GrantRow>, ProjectionError> {
    if !storable(token) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT * FROM grants WHERE request_token = $1 OR access_token = $1")
        .bind(token)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(grant_row).transpose()?)
}

/// The grant whose request or access token is `token`, and its client: what checking a
/// request signed with the token reads, in one statement.
pub async fn grant_and_client_by_token(
    pool: &AnyPool,
    token: &str,
) -> Result<Option<(GrantRow, ClientRow)>, ProjectionError> {
    if !storable(token) {
        return Ok(None);
    }
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let client_columns: Vec<String> =
            ClientRow::COLUMNS.iter().map(|column| format!("c.{column} AS {CLIENT_PREFIX}{column}")).collect();
        format!(
            "SELECT g.*, {} FROM grants g JOIN clients c ON c.client_id = g.client_id \
             WHERE g.request_token = $1 OR g.access_token = $1",
            client_columns.join(", ")
        )
    });
    let row = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str())).bind(token).fetch_optional(pool).await?;
    let pair = |row: &AnyRow| Ok::<_, sqlx::Error>((grant_row(row)?, client_row_named(row, CLIENT_PREFIX)?));
    Ok(row.as_ref().map(pair).transpose()?)
}

/// How [`grant_and_client_by_token`] names the client's columns beside the grant's.
const CLIENT_PREFIX: &str = "client__";

/// Grants open by their recorded status whose credentials ran out by `now`, the
/// earliest expiry first, at most `limit`: what the expiry sweep records.
pub async fn grants_due_to_expire(
    pool: &AnyPool,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<String>, ProjectionError> {
    let due = sqlx::query_scalar(
        "SELECT grant_id FROM grants WHERE status IN ('pending', 'authorized', 'active') \
         AND expires_at <= $1 ORDER BY expires_at, grant_id LIMIT $2",
    )
    .bind(timestamp(now))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    Ok(due)
}

/// Wipes the sealed token secrets no grant needs any more: the request token's once it
/// was exchanged, denied, revoked or expired, and the access token's once the grant was
/// revoked or expired — each only once that happened before `ended_before`, so that for
/// a while a client presenting an ended credential is still told how it ended (its
/// signature can be checked only while the secret is there). The events stay; only the
/// credentials are shredded. Token secrets are sealed under `prefix` followed by the
/// token. Returns how many went.
pub async fn wipe_ended_token_secrets(
    pool: &AnyPool,
    prefix: &str,
    ended_before: DateTime<Utc>,
) -> Result<u64, ProjectionError> {
    let wiped = sqlx::query(
        "DELETE FROM secrets WHERE id IN ( \
         SELECT $1 || request_token FROM grants \
         WHERE status IN ('active', 'denied', 'revoked', 'expired') AND status_since < $2 \
         UNION ALL \
         SELECT $1 || access_token FROM grants \
         WHERE status IN ('revoked', 'expired') AND status_since < $2 AND access_token IS NOT NULL)",
    )
    .bind(prefix)
    .bind(timestamp(ended_before))
    .execute(pool)
    .await?;
    Ok(wiped.rows_affected())
}

/// Every grant `owner_id` authenticated for, oldest first.
pub async fn grants_of_owner(pool: &AnyPool, owner_id: &str) -> Result<Vec<GrantRow>, ProjectionError> {
    let rows = sqlx::query("SELECT * FROM grants WHERE owner_id = $1 ORDER BY issued_at, grant_id")
        .bind(owner_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().map(grant_row).collect::<Result<_, _>>()?)
}

/// The grant with this id.
pub async fn grant_by_id(pool: &AnyPool, grant_id: &str) -> Result<Option<GrantRow>, ProjectionError> {
    if !storable(grant_id) {
        return Ok(None);
    }
    let row = sqlx::query("SELECT * FROM grants WHERE grant_id = $1").bind(grant_id).fetch_optional(pool).await?;
    Ok(row.as_ref().map(grant_row).transpose()?)
}

/// How many rows the read models hold: clients, and grants by recorded status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Registered clients.
    pub clients: i64,
    /// Grants per recorded status, for the statuses that have any.
    pub grants_by_status: Vec<(GrantStatus, i64)>,
}

/// The read models' row counts.
pub async fn counts(pool: &AnyPool) -> Result<Counts, ProjectionError> {
    let clients = sqlx::query("SELECT COUNT(*) AS n FROM clients").fetch_one(pool).await?.try_get("n")?;
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM grants GROUP BY status").fetch_all(pool).await?;
    let status = |row: &AnyRow| stored_status(&row.try_get::<String, _>("status")?);
    let grants_by_status =
        rows.iter().map(|row| Ok((status(row)?, row.try_get("n")?))).collect::<Result<_, sqlx::Error>>()?;
    Ok(Counts { clients, grants_by_status })
}

fn client_row(row: &AnyRow) -> Result<ClientRow, sqlx::Error> {
    client_row_named(row, "")
}

/// A client read from columns named `prefix` and the column's name.
fn client_row_named(row: &AnyRow, prefix: &str) -> Result<ClientRow, sqlx::Error> {
    let column = |name: &str| format!("{prefix}{name}");
    let text = |name: &str| row.try_get::<String, _>(column(name).as_str());
    Ok(ClientRow {
        client_id: parsed("client_id", text("client_id")?.parse())?,
        consumer_key: text("consumer_key")?,
        name: text("name")?,
        homepage: row.try_get(column("homepage").as_str())?,
        callbacks: parsed("callbacks", serde_json::from_str(&text("callbacks")?))?,
        rsa_public_key: row.try_get(column("rsa_public_key").as_str())?,
        secret_fingerprint: text("secret_fingerprint")?,
        active: row.try_get::<i64, _>(column("active").as_str())? != 0,
        suspension_reason: row.try_get(column("suspension_reason").as_str())?,
        previous_secret: match (
            row.try_get::<Option<String>, _>(column("previous_secret_fingerprint").as_str())?,
            row.try_get::<Option<String>, _>(column("previous_secret_until").as_str())?,
        ) {
            (Some(fingerprint), Some(until)) => Some((fingerprint, instant("previous_secret_until", &until)?)),
            _ => None,
        },
        notify_url: row.try_get(column("notify_url").as_str())?,
        registered_at: instant("registered_at", &text("registered_at")?)?,
        position: row.try_get(column("position").as_str())?,
    })
}

fn owner_row(row: &AnyRow) -> Result<OwnerRow, sqlx::Error> {
    Ok(OwnerRow {
        owner_id: row.try_get("owner_id")?,
        erased: row.try_get::<i64, _>("erased")? != 0,
        registered_at: row.try_get("registered_at")?,
        position: row.try_get("position")?,
    })
}

fn grant_row(row: &AnyRow) -> Result<GrantRow, sqlx::Error> {
    let text = |name: &str| row.try_get::<String, _>(name);
    let optional = |name: &str| row.try_get::<Option<String>, _>(name);
    let optional_instant = |name: &str| optional(name)?.map(|at| instant(name, &at)).transpose();
    Ok(GrantRow {
        grant_id: parsed("grant_id", text("grant_id")?.parse())?,
        client_id: parsed("client_id", text("client_id")?.parse())?,
        owner_id: optional("owner_id")?.map(|id| parsed("owner_id", id.parse())).transpose()?,
        request_token: text("request_token")?,
        access_token: optional("access_token")?,
        callback: text("callback")?,
        requested_scope: parsed("requested_scope", Scope::parse(&text("requested_scope")?))?,
        scope: optional("scope")?.map(|scope| parsed("scope", Scope::parse(&scope))).transpose()?,
        resources: parsed("resources", serde_json::from_str(&text("resources")?))?,
        duration: optional("duration")?
            .map(|duration| parsed("duration", AccessDuration::parse(&duration)))
            .transpose()?,
        remembered: row.try_get::<i64, _>("remembered")? != 0,
        status: stored_status(&text("status")?)?,
        status_since: instant("status_since", &text("status_since")?)?,
        expires_at: optional_instant("expires_at")?,
        issued_at: instant("issued_at", &text("issued_at")?)?,
        approved_at: optional_instant("approved_at")?,
        position: row.try_get("position")?,
    })
}

/// A column's value, or the column named as damaged.
fn parsed<T, E: std::fmt::Display>(column: &str, value: Result<T, E>) -> Result<T, sqlx::Error> {
    value.map_err(|error| damaged(column, error))
}

/// A stored grant status.
fn stored_status(name: &str) -> Result<GrantStatus, sqlx::Error> {
    GrantStatus::parse(name).ok_or_else(|| damaged("status", "not a grant status"))
}

/// A stored instant.
fn instant(column: &str, text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    parsed(column, DateTime::parse_from_rfc3339(text)).map(|at| at.with_timezone(&Utc))
}

fn damaged(column: &str, cause: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::ColumnDecode { index: column.to_owned(), source: cause.to_string().into() }
}
