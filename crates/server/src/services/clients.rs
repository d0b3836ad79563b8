//! What operators do to registered clients and their grants, for the admin API and the
//! command line alike: list and show clients, change their profile, rotate their secret
//! (the previous one kept for a grace period if asked), suspend and resume them, and
//! revoke a grant. Every change is a domain command recorded as an event by the admin.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use grantlog_domain::{
    Actor, CallbackPattern, ClientCommand, ClientName, DomainError, Fingerprint, GrantStatus, Homepage, NotifyUrl,
    Reason, Revoke, Revoker, ValueError,
};
use grantlog_projection::tables::{
    ClientRow, client_by_key, clients_after, grant_by_id, grant_counts_of_client, timestamp,
};
use grantlog_projection::{ClientRecord, Context, GrantRecord, ProjectionError, execute, execute_with};
use grantlog_store::SecretBox;
use grantlog_store::notices::{self, Notice};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

use super::operators::{client_secret_id, notify_secret_id};
use super::{ServiceError, Services, random_token};

/// The longest grace period a rotated secret may have: long enough to roll out a new
/// secret, short enough that a leaked one does not linger.
pub const MAX_GRACE: Duration = Duration::days(7);

/// The most clients one page lists.
pub const MAX_CLIENTS_PER_PAGE: u32 = 1_000;

/// Why an operator's change was not made.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// No client has the key.
    #[error("no client has that key")]
    UnknownClient,
    /// No grant has the id.
    #[error("no grant has that id")]
    UnknownGrant,
    /// A value given is not valid; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// The change does not apply to the client or grant as it is now.
    #[error("{0}")]
    Conflict(&'static str),
    /// Too many changes to the same client or grant at once: try again.
    #[error("too many changes to it at once; try again")]
    Busy,
    /// Our failure.
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

impl From<ValueError> for LifecycleError {
    fn from(error: ValueError) -> Self {
        Self::Invalid(error.to_string())
    }
}

impl From<ProjectionError> for LifecycleError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::Domain(DomainError::ClientAlreadySuspended) => {
                Self::Conflict("the client is already suspended")
            }
            ProjectionError::Domain(DomainError::ClientNotSuspended) => Self::Conflict("the client is not suspended"),
            ProjectionError::Domain(DomainError::GrantEnded(_)) => Self::Conflict("the grant has already ended"),
            ProjectionError::Domain(DomainError::GracePeriodRunning) => {
                Self::Conflict("a grace period is running: rotate without one to end it")
            }
            // Many changes to one client at once: it is not the request's fault.
            ProjectionError::Busy(_) => Self::Busy,
            error => Self::Failed(error.into()),
        }
    }
}

impl From<grantlog_store::StoreError> for LifecycleError {
    fn from(error: grantlog_store::StoreError) -> Self {
        Self::Failed(error.into())
    }
}

/// A change to a client's profile: the fields given replace the current ones.
#[derive(Debug, Clone, Default)]
pub struct ClientPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new homepage, or `Some(None)` to remove it.
    pub homepage: Option<Option<String>>,
    /// New callbacks (replacing all of them).
    pub callbacks: Option<Vec<String>>,
    /// A new notification URL, or `Some(None)` to stop notices.
    pub notify_url: Option<Option<String>>,
}

impl ClientPatch {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.homepage.is_none() && self.callbacks.is_none() && self.notify_url.is_none()
    }
}

/// A client after a change of profile, and the key its notices are signed with if this
/// change gave it its first notification URL (shown this once).
#[derive(Debug)]
pub struct Updated {
    /// The client as it now is.
    pub client: ClientRow,
    /// The notices' signing key, new.
    pub notify_secret: Option<SecretString>,
}

/// A client as operators see it: its row and its grants counted by status now.
#[derive(Debug)]
pub struct ClientDetails {
    /// Its row (the secret is not in it, only its fingerprint).
    pub client: ClientRow,
    /// How many of its grants are in each status now.
    pub grants: Vec<(GrantStatus, i64)>,
}

/// Where a client's previous secret is sealed during a grace period.
pub fn previous_client_secret_id(client_id: grantlog_domain::ClientId) -> String {
    format!("client-secret-previous:{client_id}")
}

/// Callbacks as given, `oob` left out (it is always allowed), each parsed.
pub fn parse_callbacks(callbacks: &[String]) -> Result<Vec<CallbackPattern>, ValueError> {
    callbacks.iter().filter(|callback| *callback != "oob").map(|callback| CallbackPattern::parse(callback)).collect()
}

/// A client as the admin API and `grantlog client …` show it: never its secret, only
/// whether a previous one still works and until when. `oob` is always allowed and not
/// listed among the callbacks.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// Its consumer key.
    pub client_key: String,
    /// Its id in the event log.
    #[schema(format = Uuid)]
    pub client_id: String,
    /// The name owners see on the consent page.
    pub name: String,
    /// Its homepage.
    #[schema(required = true)]
    pub homepage: Option<String>,
    /// The callback URLs it may use besides `oob` (a trailing `*` allows any path below).
    pub callback_urls: Vec<String>,
    /// Whether it signs with RSA-SHA1 (a public key is registered).
    pub signs_with_rsa: bool,
    /// `active`, or `suspended` by an operator.
    #[schema(pattern = "^(active|suspended)$")]
    pub status: &'static str,
    /// Why it is suspended.
    #[schema(required = true)]
    pub suspension_reason: Option<String>,
    /// Until when its previous secret still works, during a rotation's grace period.
    #[schema(required = true, format = DateTime)]
    pub previous_secret_valid_until: Option<String>,
    /// Where its revocation notices go.
    #[schema(required = true)]
    pub notify_url: Option<String>,
    /// When it was registered.
    #[schema(format = DateTime)]
    pub registered_at: String,
}

impl From<&ClientRow> for ClientView {
    fn from(client: &ClientRow) -> Self {
        Self {
            client_key: client.consumer_key.clone(),
            client_id: client.client_id.to_string(),
            name: client.name.clone(),
            homepage: client.homepage.clone(),
            callback_urls: client.callbacks.iter().map(ToString::to_string).collect(),
            signs_with_rsa: client.rsa_public_key.is_some(),
            status: if client.active { "active" } else { "suspended" },
            suspension_reason: client.suspension_reason.clone(),
            previous_secret_valid_until: client.previous_secret.as_ref().map(|(_, until)| timestamp(*until)),
            notify_url: client.notify_url.clone(),
            registered_at: timestamp(client.registered_at),
        }
    }
}

/// A client after a change of profile: with `notify_secret` when this change gave it
/// its first notification URL (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct UpdatedClientView {
    /// The client as it now is.
    #[serde(flatten)]
    pub client: ClientView,
    /// The key its notices are signed with, new.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub notify_secret: Option<String>,
}

impl From<&Updated> for UpdatedClientView {
    fn from(updated: &Updated) -> Self {
        let notify_secret = updated.notify_secret.as_ref().map(|secret| secret.expose_secret().to_owned());
        Self { client: ClientView::from(&updated.client), notify_secret }
    }
}

/// A rotated secret, shown only in this answer, and until when the previous one works.
#[derive(Debug)]
pub struct Rotated {
    /// The new secret.
    pub secret: SecretString,
    /// The end of the grace period, if one was given.
    pub previous_valid_until: Option<DateTime<Utc>>,
}

/// A new client secret, shown this once, and until when the previous one works.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecretView {
    /// The new secret.
    pub client_secret: String,
    /// The end of the grace period (`null`: the previous secret stopped working at once).
    #[schema(required = true, format = DateTime)]
    pub previous_valid_until: Option<String>,
}

impl From<&Rotated> for RotatedSecretView {
    fn from(rotated: &Rotated) -> Self {
        Self {
            client_secret: rotated.secret.expose_secret().to_owned(),
            previous_valid_until: rotated.previous_valid_until.map(timestamp),
        }
    }
}

/// A revocation notice not delivered yet, or given up on.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeView {
    /// The event's position in the log: the notice's order among the client's.
    pub position: u64,
    /// `grant.revoked` or `grant.credentials_expired`.
    pub event: String,
    /// The grant.
    pub grant: String,
    /// `pending`, or `failed` when given up on.
    #[schema(pattern = "^(pending|delivered|failed)$")]
    pub state: &'static str,
    /// Attempts so far.
    pub attempts: u64,
    /// When it is attempted next (pending), or was last (otherwise).
    #[schema(format = DateTime)]
    pub next_attempt_at: String,
    /// What went wrong at the last attempt.
    #[schema(required = true)]
    pub last_error: Option<String>,
    /// When it was queued.
    #[schema(format = DateTime)]
    pub queued_at: String,
}

impl From<&Notice> for NoticeView {
    fn from(notice: &Notice) -> Self {
        Self {
            position: notice.position,
            event: notice.event_type.clone(),
            grant: notice.grant_id.clone(),
            state: notice.state.as_str(),
            attempts: notice.attempts,
            next_attempt_at: timestamp(notice.next_attempt_at),
            last_error: notice.last_error.clone(),
            queued_at: timestamp(notice.queued_at),
        }
    }
}

/// A client and how many of its grants are in each status now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientDetailsView {
    /// The client.
    #[serde(flatten)]
    pub client: ClientView,
    /// How many of its grants are in each status now, by status.
    pub grants: BTreeMap<&'static str, i64>,
}

impl From<&ClientDetails> for ClientDetailsView {
    fn from(details: &ClientDetails) -> Self {
        Self {
            client: ClientView::from(&details.client),
            grants: details.grants.iter().map(|(status, n)| (status.as_str(), *n)).collect(),
        }
    }
}

impl Services {
    /// Up to `limit` (at most [`MAX_CLIENTS_PER_PAGE`]) clients after consumer key
    /// `after`, in key order.
    pub async fn clients(&self, after: &str, limit: u32) -> Result<Vec<ClientRow>, LifecycleError> {
        Ok(clients_after(self.store.reader(), after, limit.clamp(1, MAX_CLIENTS_PER_PAGE)).await?)
    }

    /// The client with consumer key `key`, with its grants counted by status at `now`.
    pub async fn client_details(&self, key: &str, now: DateTime<Utc>) -> Result<ClientDetails, LifecycleError> {
        let client = self.client_by_key(key).await?;
        let grants = grant_counts_of_client(self.store.reader(), client.client_id, now).await?;
        Ok(ClientDetails { client, grants })
    }

    /// Changes the profile of the client `key`: the fields given, merged with the profile
    /// as it is when the change is decided. A client given a notification URL gets the
    /// key its notices are signed with, unless it has one, sealed in the same
    /// transaction and answered only by this change; removing the URL destroys the key.
    pub async fn update_client(&self, key: &str, patch: ClientPatch) -> Result<Updated, LifecycleError> {
        let client = self.client_by_key(key).await?;
        let notify_url = patch.notify_url.map(|url| url.as_deref().map(NotifyUrl::parse).transpose()).transpose()?;
        let keyed = notify_url.as_ref().map(Option::is_some);
        let command = ClientCommand::Update {
            name: patch.name.as_deref().map(ClientName::parse).transpose()?,
            homepage: patch
                .homepage
                .map(|homepage| homepage.as_deref().map(Homepage::parse).transpose())
                .transpose()?,
            callbacks: patch.callbacks.as_deref().map(parse_callbacks).transpose()?,
            notify_url,
        };
        let candidate = SecretString::from(random_token(32));
        let made = Arc::new(AtomicBool::new(false));
        let id = notify_secret_id(client.client_id);
        let (sealer, key_to_seal, made_here) = (self.secrets.clone(), candidate.clone(), made.clone());
        let also: grantlog_projection::AlsoWrite = Arc::new(move |connection| {
            let (sealer, candidate, id, made) = (sealer.clone(), key_to_seal.clone(), id.clone(), made_here.clone());
            Box::pin(async move {
                // Per attempt: only the one that commits tells what it did.
                made.store(false, Ordering::SeqCst);
                match keyed {
                    Some(true) => {
                        let sealed = sealer.put_if_absent(connection, &id, candidate.expose_secret()).await?;
                        made.store(sealed, Ordering::SeqCst);
                    }
                    Some(false) => drop(SecretBox::wipe(connection, &id).await?),
                    None => {}
                }
                Ok(())
            })
        });
        let context = Context { now: Utc::now(), actor: Actor::Admin, trace_id: None };
        execute_with::<ClientRecord>(&self.store, &client.client_id.stream_id(), &command, &context, also).await?;
        let notify_secret = made.load(Ordering::SeqCst).then_some(candidate);
        Ok(Updated { client: self.client_by_key(key).await?, notify_secret })
    }

    /// A new secret for the client `key`, shown only in this answer, and until when the
    /// current one still works: not at all (which ends an earlier grace period), or for
    /// `grace` (at most [`MAX_GRACE`]; refused while an earlier grace period runs).
    pub async fn rotate_client_secret(
        &self,
        key: &str,
        grace: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<Rotated, LifecycleError> {
        let grace = grace.filter(|grace| !grace.is_zero());
        if grace.is_some_and(|grace| grace < Duration::zero() || grace > MAX_GRACE) {
            return Err(LifecycleError::Invalid(format!(
                "grace_seconds: from 0 to {} (seven days)",
                MAX_GRACE.num_seconds()
            )));
        }
        let client = self.client_by_key(key).await?;
        let secret = SecretString::from(random_token(32));
        let previous_valid_until = grace.map(|grace| now + grace);
        let command = ClientCommand::RotateSecret {
            secret_fingerprint: Fingerprint::of(secret.expose_secret()),
            previous_valid_until,
            now,
        };
        let (current, previous) = (client_secret_id(client.client_id), previous_client_secret_id(client.client_id));
        let (sealer, new, keep) = (self.secrets.clone(), secret.clone(), grace.is_some());
        // In the command's transaction: the current secret moves aside (or goes), the new
        // one takes its place. Read inside it, so a concurrent rotation cannot swap them.
        let also: grantlog_projection::AlsoWrite = Arc::new(move |connection| {
            let (sealer, new, current, previous) = (sealer.clone(), new.clone(), current.clone(), previous.clone());
            Box::pin(async move {
                SecretBox::wipe(connection, &previous).await?;
                if keep {
                    sealer.copy(connection, &current, &previous).await?;
                }
                SecretBox::wipe(connection, &current).await?;
                sealer.put(connection, &current, new.expose_secret()).await
            })
        });
        let context = Context { now, actor: Actor::Admin, trace_id: None };
        execute_with::<ClientRecord>(&self.store, &client.client_id.stream_id(), &command, &context, also).await?;
        Ok(Rotated { secret, previous_valid_until })
    }

    /// Suspends the client `key`: every request it makes is refused from the moment
    /// this commits, on every process; its grants stay as they are. Answers the client
    /// as it now is.
    pub async fn suspend_client(&self, key: &str, reason: &str) -> Result<ClientRow, LifecycleError> {
        let client = self.client_by_key(key).await?;
        let command = ClientCommand::Suspend { reason: Reason::parse(reason)? };
        self.run(&client, &command, Utc::now()).await?;
        self.client_by_key(key).await
    }

    /// Resumes the suspended client `key`: its grants work again. Answers the client as
    /// it now is.
    pub async fn resume_client(&self, key: &str, reason: Option<&str>) -> Result<ClientRow, LifecycleError> {
        let client = self.client_by_key(key).await?;
        let command = ClientCommand::Reinstate { reason: reason.map(Reason::parse).transpose()? };
        self.run(&client, &command, Utc::now()).await?;
        self.client_by_key(key).await
    }

    /// Revokes the grant `grant_id` as the administrator, saying why.
    pub async fn revoke_grant_as_admin(
        &self,
        grant_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LifecycleError> {
        let reason = Reason::parse(reason)?;
        let row = grant_by_id(self.store.reader(), grant_id).await?.ok_or(LifecycleError::UnknownGrant)?;
        let command = Revoke { by: Revoker::Admin, reason: Some(reason), now };
        let context = Context { now, actor: Actor::Admin, trace_id: None };
        execute::<GrantRecord>(&self.store, &row.grant_id.stream_id(), &command.into(), &context).await?;
        Ok(())
    }

    /// The client `key`'s revocation notices not delivered: pending and given up on, in
    /// log order (at most 1,000).
    pub async fn undelivered_notices(&self, key: &str) -> Result<Vec<Notice>, LifecycleError> {
        let client = self.client_by_key(key).await?;
        Ok(notices::undelivered(self.store.side_tables(), &client.client_id.to_string(), 1_000).await?)
    }

    async fn client_by_key(&self, key: &str) -> Result<ClientRow, LifecycleError> {
        client_by_key(self.store.reader(), key).await?.ok_or(LifecycleError::UnknownClient)
    }

    async fn run(&self, client: &ClientRow, command: &ClientCommand, now: DateTime<Utc>) -> Result<(), LifecycleError> {
        let context = Context { now, actor: Actor::Admin, trace_id: None };
        execute::<ClientRecord>(&self.store, &client.client_id.stream_id(), command, &context).await?;
        Ok(())
    }
}
