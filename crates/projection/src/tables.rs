//! The SQL read models: one row per client, owner and grant, derived from its record by
//! a pure function, upserted in the append's transaction, read back by the server.
//! Timestamps are stored as the same fixed-width RFC 3339 text the log uses.

use chrono::{DateTime, SecondsFormat, Utc};
use grantlog_store::{AnyConnection, AnyPool};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::ProjectionError;
use crate::record::{ClientRecord, GrantRecord, OwnerRecord};

/// The checkpoint name of the tables below.
pub(crate) const CHECKPOINT: &str = "tables";

/// A `clients` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClientRow {
    /// Client id (UUID).
    pub client_id: String,
    /// Its consumer key.
    pub consumer_key: String,
    /// Its display name.
    pub name: String,
    /// Its homepage.
    pub homepage: Option<String>,
    /// Its callback patterns, as a JSON array.
    pub callbacks: String,
    /// Its RSA public key (PEM), for RSA-SHA1.
    pub rsa_public_key: Option<String>,
    /// The fingerprint of its current secret.
    pub secret_fingerprint: String,
    /// Whether it may make requests (not suspended).
    pub active: bool,
    /// When it registered.
    pub registered_at: String,
    /// The last event applied.
    pub position: i64,
}

/// An `owners` row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GrantRow {
    /// Grant id (UUID).
    pub grant_id: String,
    /// The client that asked.
    pub client_id: String,
    /// The owner who authenticated for it, once one has.
    pub owner_id: Option<String>,
    /// The request token (`oauth_token` of the temporary credentials).
    pub request_token: String,
    /// The access token, once exchanged.
    pub access_token: Option<String>,
    /// The callback given at initiate.
    pub callback: String,
    /// The scope asked for.
    pub requested_scope: String,
    /// The scope granted.
    pub scope: Option<String>,
    /// The resources granted, as a JSON array.
    pub resources: String,
    /// The access duration the owner chose.
    pub duration: Option<String>,
    /// Whether the decision is to be remembered.
    pub remembered: bool,
    /// The status as recorded (`pending`, `authorized`, `active`, `denied`, `revoked`,
    /// `expired`); expiry by the clock is decided at read time from `expires_at`.
    pub status: String,
    /// Since when the recorded status holds.
    pub status_since: String,
    /// When the current credentials run out, if they do.
    pub expires_at: Option<String>,
    /// When temporary credentials were issued.
    pub issued_at: String,
    /// When the owner approved.
    pub approved_at: Option<String>,
    /// The last event applied.
    pub position: i64,
}

/// The time format of the read models (and of the log).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn position(value: u64) -> i64 {
    i64::try_from(value).expect("positions stay below 2^63")
}

impl ClientRow {
    /// The row for a registered client.
    pub fn of(record: &ClientRecord) -> Option<Self> {
        let client = record.state.client()?;
        Some(Self {
            client_id: client.client_id().to_string(),
            consumer_key: client.consumer_key().to_string(),
            name: client.name().to_string(),
            homepage: client.homepage().map(ToString::to_string),
            callbacks: serde_json::to_string(client.callbacks()).expect("patterns serialize"),
            rsa_public_key: client.rsa_public_key().map(ToString::to_string),
            secret_fingerprint: client.secret_fingerprint().to_string(),
            active: client.is_active(),
            registered_at: timestamp(record.registered_at?),
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
            grant_id: grant.grant_id().to_string(),
            client_id: grant.client_id().to_string(),
            owner_id: grant.owner_id().map(|id| id.to_string()),
            request_token: issued.request_token.to_string(),
            access_token: grant.token_credentials().map(|t| t.access_token.to_string()),
            callback: issued.callback.to_string(),
            requested_scope: issued.requested_scope.to_string(),
            scope: approval.map(|a| a.scope.to_string()),
            resources: serde_json::to_string(approval.map_or(&[][..], |a| &a.resources[..])).expect("ids serialize"),
            duration: approval.map(|a| a.duration.to_string()),
            remembered: grant.is_remembered(),
            status: status.as_str().to_owned(),
            status_since: timestamp(record.since(status)?),
            expires_at: grant.next_expiry().map(|(_, at)| timestamp(at)),
            issued_at: timestamp(record.issued_at?),
            approved_at: approval.map(|a| timestamp(a.approved_at)),
            position: position(record.position),
        })
    }
}

/// Writes (inserts or replaces) a client's row.
pub async fn upsert_client(connection: &mut AnyConnection, row: &ClientRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO clients (client_id, consumer_key, name, homepage, callbacks, rsa_public_key, secret_fingerprint, active, registered_at, position) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (client_id) DO UPDATE SET consumer_key = excluded.consumer_key, name = excluded.name, \
         homepage = excluded.homepage, callbacks = excluded.callbacks, rsa_public_key = excluded.rsa_public_key, \
         secret_fingerprint = excluded.secret_fingerprint, active = excluded.active, \
         registered_at = excluded.registered_at, position = excluded.position",
    )
    .bind(&row.client_id)
    .bind(&row.consumer_key)
    .bind(&row.name)
    .bind(&row.homepage)
    .bind(&row.callbacks)
    .bind(&row.rsa_public_key)
    .bind(&row.secret_fingerprint)
    .bind(i64::from(row.active))
    .bind(&row.registered_at)
    .bind(row.position)
    .execute(connection)
    .await?;
    Ok(())
}

/// Writes (inserts or replaces) an owner's row.
pub async fn upsert_owner(connection: &mut AnyConnection, row: &OwnerRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO owners (owner_id, erased, registered_at, position) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (owner_id) DO UPDATE SET erased = excluded.erased, registered_at = excluded.registered_at, \
         position = excluded.position",
    )
    .bind(&row.owner_id)
    .bind(i64::from(row.erased))
    .bind(&row.registered_at)
    .bind(row.position)
    .execute(connection)
    .await?;
    Ok(())
}

/// Writes (inserts or replaces) a grant's row.
pub async fn upsert_grant(connection: &mut AnyConnection, row: &GrantRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grants (grant_id, client_id, owner_id, request_token, access_token, callback, requested_scope, \
         scope, resources, duration, remembered, status, status_since, expires_at, issued_at, approved_at, position) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (grant_id) DO UPDATE SET client_id = excluded.client_id, owner_id = excluded.owner_id, \
         request_token = excluded.request_token, access_token = excluded.access_token, callback = excluded.callback, \
         requested_scope = excluded.requested_scope, scope = excluded.scope, resources = excluded.resources, \
         duration = excluded.duration, remembered = excluded.remembered, status = excluded.status, \
         status_since = excluded.status_since, expires_at = excluded.expires_at, issued_at = excluded.issued_at, \
         approved_at = excluded.approved_at, position = excluded.position",
    )
    .bind(&row.grant_id)
    .bind(&row.client_id)
    .bind(&row.owner_id)
    .bind(&row.request_token)
    .bind(&row.access_token)
    .bind(&row.callback)
    .bind(&row.requested_scope)
    .bind(&row.scope)
    .bind(&row.resources)
    .bind(&row.duration)
    .bind(i64::from(row.remembered))
    .bind(&row.status)
    .bind(&row.status_since)
    .bind(&row.expires_at)
    .bind(&row.issued_at)
    .bind(&row.approved_at)
    .bind(row.position)
    .execute(connection)
    .await?;
    Ok(())
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

/// The grant whose request or access token is `token`.
pub async fn grant_by_token(pool: &AnyPool, token: &str) -> Result<Option<GrantRow>, ProjectionError> {
    let row = sqlx::query("SELECT * FROM grants WHERE request_token = $1 OR access_token = $1")
        .bind(token)
        .fetch_optional(pool)
        .await?;
    Ok(row.as_ref().map(grant_row).transpose()?)
}

fn client_row(row: &AnyRow) -> Result<ClientRow, sqlx::Error> {
    Ok(ClientRow {
        client_id: row.try_get("client_id")?,
        consumer_key: row.try_get("consumer_key")?,
        name: row.try_get("name")?,
        homepage: row.try_get("homepage")?,
        callbacks: row.try_get("callbacks")?,
        rsa_public_key: row.try_get("rsa_public_key")?,
        secret_fingerprint: row.try_get("secret_fingerprint")?,
        active: row.try_get::<i64, _>("active")? != 0,
        registered_at: row.try_get("registered_at")?,
        position: row.try_get("position")?,
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
    Ok(GrantRow {
        grant_id: row.try_get("grant_id")?,
        client_id: row.try_get("client_id")?,
        owner_id: row.try_get("owner_id")?,
        request_token: row.try_get("request_token")?,
        access_token: row.try_get("access_token")?,
        callback: row.try_get("callback")?,
        requested_scope: row.try_get("requested_scope")?,
        scope: row.try_get("scope")?,
        resources: row.try_get("resources")?,
        duration: row.try_get("duration")?,
        remembered: row.try_get::<i64, _>("remembered")? != 0,
        status: row.try_get("status")?,
        status_since: row.try_get("status_since")?,
        expires_at: row.try_get("expires_at")?,
        issued_at: row.try_get("issued_at")?,
        approved_at: row.try_get("approved_at")?,
        position: row.try_get("position")?,
    })
}
