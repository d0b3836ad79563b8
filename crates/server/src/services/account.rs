//! The owner's account: every grant she gave, grouped by client, with its use and the
//! remembered decision in force; a grant's history; revoking a grant, disconnecting a
//! client, forgetting a remembered decision. Every change is a domain command whose
//! event names her as the actor.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use grantlog_domain::{
    Actor, AuthorizationApproved, ClientId, DomainError, Event, GrantCommand, GrantId, GrantStatus, OwnerCommand,
    OwnerId, RememberedConsentWithdrawn, Revoke, Revoker, remembered_decision,
};
use grantlog_projection::tables::{ClientRow, GrantRow, client_by_id, grant_by_id, grants_of_owner};
use grantlog_projection::{Context, GrantRecord, OwnerRecord, ProjectionError, decode, execute};
use grantlog_store::usage::{self, Usage};

use crate::services::{ServiceError, Services};
use crate::timeline::{self, Entry, Telling, parse_time};

/// One client's grants on the owner's page.
#[derive(Debug)]
pub struct ClientGrants {
    /// The client.
    pub client: ClientRow,
    /// The decision she asked to be remembered for it, if still in force.
    pub remembered: Option<Remembered>,
    /// Its grants: live ones first, then newest first.
    pub grants: Vec<GrantSummary>,
}

/// A grant as the owner's page lists it.
#[derive(Debug)]
pub struct GrantSummary {
    /// The grant's row.
    pub row: GrantRow,
    /// Its status now (expiry by the clock included).
    pub status: GrantStatus,
    /// The titles of the photos it covers.
    pub photos: Vec<String>,
    /// How it was used, if it was.
    pub usage: Option<Usage>,
}

impl GrantSummary {
    /// Whether it can still be used or completed, so revoking it means something.
    pub fn is_live(&self) -> bool {
        self.status.is_open()
    }
}

/// A remembered decision in force.
#[derive(Debug, Clone)]
pub struct Remembered {
    /// The grant whose approval recorded it.
    pub grant_id: GrantId,
    /// Its approval: what is re-applied.
    pub approval: AuthorizationApproved,
}

/// A grant's page: the grant and its history.
#[derive(Debug)]
pub struct GrantHistory {
    /// The client.
    pub client: ClientRow,
    /// The grant as listed.
    pub summary: GrantSummary,
    /// What happened, in time order.
    pub entries: Vec<Entry>,
}

/// Why an account change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No such grant or client among hers (another owner's is answered the same way).
    #[error("not found")]
    NotFound,
    /// The grant had already ended (revoked, denied or expired): nothing to revoke.
    #[error("the grant had already ended")]
    Ended,
    /// Our failure.
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

impl From<ProjectionError> for AccountError {
    fn from(error: ProjectionError) -> Self {
        Self::Failed(error.into())
    }
}

impl From<grantlog_store::StoreError> for AccountError {
    fn from(error: grantlog_store::StoreError) -> Self {
        Self::Failed(error.into())
    }
}

/// What revoking a grant did.
#[derive(Debug)]
pub struct Revoked {
    /// The grant's client.
    pub client_id: ClientId,
    /// Whether the client's remembered decision was turned off too.
    pub forgot: bool,
}

impl Services {
    /// Every grant `owner` gave (or was asked for and answered), grouped by client.
    pub async fn owner_grants(&self, owner: OwnerId, now: DateTime<Utc>) -> Result<Vec<ClientGrants>, ServiceError> {
        self.write_use_counts().await;
        let rows = grants_of_owner(self.store.reader(), &owner.to_string()).await?;
        let ids: Vec<String> = rows.iter().map(|row| row.grant_id.to_string()).collect();
        let mut used = usage::usage_of(self.store.side_tables(), &ids).await?;
        let titles = self.photo_titles(owner).await?;
        let withdrawals = self.withdrawals(owner).await?;
        let mut by_client: HashMap<ClientId, Vec<GrantRow>> = HashMap::new();
        for row in rows {
            by_client.entry(row.client_id).or_default().push(row);
        }
        let mut clients = Vec::with_capacity(by_client.len());
        for (client_id, rows) in by_client {
            let client = self.client(client_id).await?;
            let remembered = self.remembered_among(&rows, &withdrawals_for(&withdrawals, client_id)).await?;
            let mut grants: Vec<GrantSummary> = rows
                .into_iter()
                .map(|row| {
                    let usage = used.remove(&row.grant_id.to_string());
                    summary(row, now, &titles, usage)
                })
                .collect();
            grants.sort_by(|a, b| b.is_live().cmp(&a.is_live()).then(b.row.issued_at.cmp(&a.row.issued_at)));
            clients.push(ClientGrants { client, remembered, grants });
        }
        // Clients with live grants first, then the most recently asked.
        clients.sort_by(|a, b| {
            let live = |c: &ClientGrants| c.grants.iter().any(GrantSummary::is_live);
            let latest = |c: &ClientGrants| c.grants.iter().map(|g| g.row.issued_at).max();
            live(b).cmp(&live(a)).then(latest(b).cmp(&latest(a)))
        });
        Ok(clients)
    }

    /// One of `owner`'s grants with its history; `NotFound` for a grant that is not hers.
    pub async fn grant_history(
        &self,
        owner: OwnerId,
        grant_id: &str,
        now: DateTime<Utc>,
    ) -> Result<GrantHistory, AccountError> {
        let row = self.owned_grant(owner, grant_id).await?;
        let client = self.client(row.client_id).await?;
        let recorded = self.store.read_stream(&row.grant_id.stream_id()).await?;
        let mut events = Vec::with_capacity(recorded.len() + 1);
        for event in &recorded {
            events.push((event.position, event.occurred_at, decode(event)?));
        }
        // The withdrawal that ended the decision this grant remembered, if one did.
        let approved_at = events.iter().find_map(|(position, _, event)| match event {
            Event::AuthorizationApproved(approval) if approval.remembered => Some(*position),
            _ => None,
        });
        if let Some(approved_at) = approved_at {
            let withdrawals = self.withdrawals(owner).await?;
            if let Some(withdrawal) = withdrawals
                .into_iter()
                .find(|withdrawal| withdrawal.position > approved_at && withdrawal.is_for(row.client_id))
            {
                events.push((withdrawal.position, withdrawal.at, withdrawal.event.into()));
            }
        }
        self.write_use_counts().await;
        let usage = usage::usage_of_grant(self.store.side_tables(), &row.grant_id.to_string()).await?;
        let titles = self.photo_titles(owner).await?;
        let summary = summary(row, now, &titles, usage);
        let mut client_events = Vec::new();
        for event in &self.store.read_stream(&client.client_id.stream_id()).await? {
            client_events.push((event.position, event.occurred_at, decode(event)?));
        }
        let telling = Telling {
            reader: owner,
            client: &client.name,
            usage: summary
                .usage
                .as_ref()
                .map(|used| (used.count, parse_time(&used.first_used_at), parse_time(&used.last_used_at))),
            expired_by_clock: expired_by_clock(&summary, &events),
            client_events: &client_events,
        };
        let entries = timeline::history(&events, telling);
        Ok(GrantHistory { client, summary, entries })
    }

    /// Revokes one of `owner`'s grants, and turns off the decision remembered for its
    /// client, if one is in force: she would not expect the client to be let straight
    /// back in.
    pub async fn revoke_grant(
        &self,
        owner: OwnerId,
        grant_id: &str,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<Revoked, AccountError> {
        let row = self.owned_grant(owner, grant_id).await?;
        if !row.status_at(now).is_open() {
            return Err(AccountError::Ended);
        }
        if self.revoke_live(owner, std::slice::from_ref(&row), now, trace_id).await? == 0 {
            return Err(AccountError::Ended);
        }
        let forgot = self.forget_remembered(owner, row.client_id, now, trace_id).await?;
        Ok(Revoked { client_id: row.client_id, forgot })
    }

    /// Revokes every live grant `owner` gave the client and turns off its remembered
    /// decision ("disconnect").
    pub async fn disconnect(
        &self,
        owner: OwnerId,
        client_id: &str,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<(), AccountError> {
        let client_id = client_id.parse().map_err(|_| AccountError::NotFound)?;
        let rows = self.grants_to(owner, client_id).await?;
        if rows.is_empty() {
            return Err(AccountError::NotFound);
        }
        self.revoke_live(owner, &rows, now, trace_id).await?;
        self.forget_remembered(owner, client_id, now, trace_id).await?;
        Ok(())
    }

    /// Turns off the decision `owner` asked to be remembered for the client;
    /// `NotFound` when none is in force.
    pub async fn forget(
        &self,
        owner: OwnerId,
        client_id: &str,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<(), AccountError> {
        let client_id = client_id.parse().map_err(|_| AccountError::NotFound)?;
        match self.forget_remembered(owner, client_id, now, trace_id).await? {
            true => Ok(()),
            false => Err(AccountError::NotFound),
        }
    }

    /// The decision `owner` asked to be remembered for `client_id`, if in force.
    pub async fn remembered(&self, owner: OwnerId, client_id: ClientId) -> Result<Option<Remembered>, ServiceError> {
        let rows: Vec<GrantRow> =
            self.grants_to(owner, client_id).await?.into_iter().filter(|row| row.remembered).collect();
        if rows.is_empty() {
            return Ok(None);
        }
        let withdrawals = self.withdrawals(owner).await?;
        self.remembered_among(&rows, &withdrawals_for(&withdrawals, client_id)).await
    }

    async fn forget_remembered(
        &self,
        owner: OwnerId,
        client_id: ClientId,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<bool, AccountError> {
        if self.remembered(owner, client_id).await?.is_none() {
            return Ok(false);
        }
        let command = OwnerCommand::WithdrawRememberedConsent { client_id };
        execute::<OwnerRecord>(&self.store, &owner.stream_id(), &command, &context(owner, now, trace_id)).await?;
        Ok(true)
    }

    /// Revokes those of `rows` that are live; returns how many this call revoked. One
    /// that ended meanwhile (a second click, another tab) is passed over: the domain
    /// refuses to end it twice.
    async fn revoke_live(
        &self,
        owner: OwnerId,
        rows: &[GrantRow],
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<usize, AccountError> {
        let mut revoked = 0;
        for row in rows.iter().filter(|row| row.status_at(now).is_open()) {
            let command = GrantCommand::Revoke(Revoke { by: Revoker::Owner(owner), reason: None, now });
            let stream = row.grant_id.stream_id();
            match execute::<GrantRecord>(&self.store, &stream, &command, &context(owner, now, trace_id)).await {
                Ok(_) => revoked += 1,
                Err(ProjectionError::Domain(DomainError::GrantEnded(_))) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(revoked)
    }

    /// Writes this process's use counts before a page shows them. A failure (a busy
    /// database) costs the page only freshness: the counts are kept for the next try.
    async fn write_use_counts(&self) {
        if let Err(error) = self.usage.flush(self.store.side_tables()).await {
            tracing::warn!(%error, "writing use counts failed; the page shows those already written");
        }
    }

    /// Every grant `owner` answered for `client_id`.
    async fn grants_to(&self, owner: OwnerId, client_id: ClientId) -> Result<Vec<GrantRow>, ServiceError> {
        let rows = grants_of_owner(self.store.reader(), &owner.to_string()).await?;
        Ok(rows.into_iter().filter(|row| row.client_id == client_id).collect())
    }

    /// The remembered decision in force among `rows` (one client's grants), given the
    /// positions of the owner's withdrawals for that client.
    async fn remembered_among(
        &self,
        rows: &[GrantRow],
        withdrawals: &[u64],
    ) -> Result<Option<Remembered>, ServiceError> {
        let mut approvals = Vec::new();
        for row in rows.iter().filter(|row| row.remembered) {
            let grant_id = row.grant_id;
            for recorded in self.store.read_stream(&grant_id.stream_id()).await? {
                if let Event::AuthorizationApproved(approval) = decode(&recorded)? {
                    approvals.push((recorded.position, grant_id, approval));
                }
            }
        }
        let in_force = remembered_decision(
            approvals.iter().map(|(position, _, approval)| (*position, approval)),
            withdrawals.iter().copied(),
        )
        .map(|(position, _)| position);
        Ok(approvals
            .into_iter()
            .find(|(position, _, _)| Some(*position) == in_force)
            .map(|(_, grant_id, approval)| Remembered { grant_id, approval }))
    }

    /// The owner's withdrawals of remembered decisions, in log order.
    async fn withdrawals(&self, owner: OwnerId) -> Result<Vec<Withdrawal>, ServiceError> {
        let mut found = Vec::new();
        for recorded in self.store.read_stream(&owner.stream_id()).await? {
            if let Event::RememberedConsentWithdrawn(event) = decode(&recorded)? {
                found.push(Withdrawal { position: recorded.position, at: recorded.occurred_at, event });
            }
        }
        Ok(found)
    }

    /// One of `owner`'s grants; another owner's, or none, is `NotFound`.
    pub(super) async fn owned_grant(&self, owner: OwnerId, grant_id: &str) -> Result<GrantRow, AccountError> {
        grant_by_id(self.store.reader(), grant_id)
            .await?
            .filter(|row| row.owner_id == Some(owner))
            .ok_or(AccountError::NotFound)
    }

    pub(super) async fn client(&self, client_id: ClientId) -> Result<ClientRow, ServiceError> {
        client_by_id(self.store.reader(), &client_id.to_string())
            .await?
            .ok_or_else(|| ServiceError::Corrupt(format!("a grant names an unknown client {client_id}")))
    }

    async fn photo_titles(&self, owner: OwnerId) -> Result<HashMap<String, String>, ServiceError> {
        Ok(self.photos(owner.uuid()).await?.iter().map(|photo| (photo.photo_id.clone(), photo.title.clone())).collect())
    }
}

/// An owner's withdrawal of a remembered decision, where the log has it.
#[derive(Debug)]
struct Withdrawal {
    position: u64,
    at: DateTime<Utc>,
    event: RememberedConsentWithdrawn,
}

impl Withdrawal {
    fn is_for(&self, client_id: ClientId) -> bool {
        self.event.client_id == client_id
    }
}

fn withdrawals_for(withdrawals: &[Withdrawal], client_id: ClientId) -> Vec<u64> {
    withdrawals.iter().filter(|withdrawal| withdrawal.is_for(client_id)).map(|withdrawal| withdrawal.position).collect()
}

fn summary(row: GrantRow, now: DateTime<Utc>, titles: &HashMap<String, String>, usage: Option<Usage>) -> GrantSummary {
    // A photo deleted since is still named, by its id.
    let photos =
        row.resources.iter().map(|id| titles.get(id.as_str()).cloned().unwrap_or_else(|| id.to_string())).collect();
    GrantSummary { status: row.status_at(now), row, photos, usage }
}

/// When access ran out by the clock, for a grant whose expiry no event records yet.
fn expired_by_clock(summary: &GrantSummary, events: &[(u64, DateTime<Utc>, Event)]) -> Option<DateTime<Utc>> {
    let recorded = events.iter().any(|(_, _, event)| matches!(event, Event::CredentialsExpired(_)));
    match (summary.status, recorded) {
        (GrantStatus::Expired, false) => summary.row.expires_at,
        _ => None,
    }
}

fn context(owner: OwnerId, now: DateTime<Utc>, trace_id: &str) -> Context {
    Context { now, actor: Actor::Owner(owner.uuid()), trace_id: Some(trace_id.to_owned()) }
}
