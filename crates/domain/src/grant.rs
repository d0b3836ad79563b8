//! The Grant aggregate (`grant-<uuid>`): one run of the three-legged flow.
//!
//! A grant is born with temporary credentials, is decided once by the owner who
//! authenticated for it, has its verifier exchanged at most once for token credentials,
//! and ends denied, expired or revoked:
//!
//! ```text
//!  TemporaryCredentialsIssued ─► Pending ──approve──► Authorized ──exchange──► Active
//!                                   │                     │                      │
//!                                   ├──deny──► Denied     │                      │
//!                                   └────────────┬────────┴──────────────────────┘
//!                                         revoke │ expire (by the clock)
//!                                                ▼
//!                                        Revoked / Expired
//! ```
//!
//! Expiry is a fact of the clock, not of the log: the recorded expiries are compared
//! with `now` whenever the state is read ([`Grant::status_at`], then [`GrantStatus::access`]),
//! so nothing waits for a background job. [`Expire`] lets a sweep record the end.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregate;
use crate::callback::Callback;
use crate::client::ClientSnapshot;
use crate::error::{AccessError, DomainError, GrantEnd};
use crate::event::{
    AuthorizationApproved, AuthorizationDenied, Credentials, CredentialsExpired, Event, GrantRevoked,
    OwnerAuthenticated, Revoker, TemporaryCredentialsIssued, TokenCredentialsIssued, VerifierIssued,
};
use crate::ids::{ClientId, GrantId, OwnerId};
use crate::scope::Scope;
use crate::values::{
    AccessDuration, ConsentMethod, ConsentText, Fingerprint, PresentedSecret, Reason, ResourceId, TokenKey,
};

/// Start a grant: issue temporary credentials to a client (`POST /oauth/initiate`).
#[derive(Debug, Clone)]
pub struct IssueTemporaryCredentials {
    /// The new grant's id.
    pub grant_id: GrantId,
    /// The client asking, as its own stream (or the projection) has it now.
    pub client: ClientSnapshot,
    /// The request token the caller generated.
    pub request_token: TokenKey,
    /// The callback the client asked for.
    pub callback: Callback,
    /// What the client asks for (the server's default when the client names nothing).
    pub requested_scope: Scope,
    /// Now.
    pub now: DateTime<Utc>,
    /// How long the request token stays usable for approval and exchange.
    pub ttl: TimeDelta,
}

/// Record that an owner authenticated (logged in, or was recognised by her session) to
/// decide on this request. Binds the request to her.
#[derive(Debug, Clone)]
pub struct RecordOwnerAuthenticated {
    /// The owner.
    pub owner_id: OwnerId,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The owner approves the request (consent page, or a remembered decision applied).
#[derive(Debug, Clone)]
pub struct Approve {
    /// The owner approving; must be the one who authenticated for this request.
    pub owner_id: OwnerId,
    /// The permissions granted: non-empty, within the requested scope.
    pub scope: Scope,
    /// The resources chosen: at least one, each among `owners_resources`.
    pub resources: Vec<ResourceId>,
    /// The approving owner's resources as the caller read them at the decision.
    pub owners_resources: Vec<ResourceId>,
    /// How long access lasts, counted from `now`.
    pub duration: AccessDuration,
    /// Whether to remember this decision for the client (consent page only).
    pub remembered: bool,
    /// How the decision was made.
    pub method: ConsentMethod,
    /// What the owner was shown.
    pub consent_text: ConsentText,
    /// The fingerprint of the verifier the caller generated for this approval.
    pub verifier_fingerprint: Fingerprint,
    /// Now: the moment of consent.
    pub now: DateTime<Utc>,
}

/// The owner denies the request.
#[derive(Debug, Clone)]
pub struct Deny {
    /// The owner denying; must be the one who authenticated for this request.
    pub owner_id: OwnerId,
    /// How the decision was made.
    pub method: ConsentMethod,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The client exchanges the verifier for token credentials (`POST /oauth/token`).
#[derive(Debug, Clone)]
pub struct ExchangeVerifier {
    /// The client presenting the request token (from its verified signature).
    pub client_id: ClientId,
    /// The `oauth_verifier` presented.
    pub verifier: PresentedSecret,
    /// The access token the caller generated.
    pub access_token: TokenKey,
    /// Whether the client is active now.
    pub client_active: bool,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Revoke the grant.
#[derive(Debug, Clone)]
pub struct Revoke {
    /// Who is revoking (the caller establishes who they are).
    pub by: Revoker,
    /// Why, if they say.
    pub reason: Option<Reason>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Record that the grant's credentials expired (for a sweep).
#[derive(Debug, Clone)]
pub struct Expire {
    /// Now.
    pub now: DateTime<Utc>,
}

/// What can be asked of a grant.
#[derive(Debug, Clone)]
pub enum GrantCommand {
    /// See [`IssueTemporaryCredentials`].
    IssueTemporaryCredentials(IssueTemporaryCredentials),
    /// See [`RecordOwnerAuthenticated`].
    RecordOwnerAuthenticated(RecordOwnerAuthenticated),
    /// See [`Approve`].
    Approve(Approve),
    /// See [`Deny`].
    Deny(Deny),
    /// See [`ExchangeVerifier`].
    ExchangeVerifier(ExchangeVerifier),
    /// See [`Revoke`].
    Revoke(Revoke),
    /// See [`Expire`].
    Expire(Expire),
}

macro_rules! into_grant_command {
    ($($name:ident),*) => {
        $(
            impl From<$name> for GrantCommand {
                fn from(command: $name) -> GrantCommand {
                    GrantCommand::$name(command)
                }
            }
        )*
    };
}
into_grant_command!(
    IssueTemporaryCredentials,
    RecordOwnerAuthenticated,
    Approve,
    Deny,
    ExchangeVerifier,
    Revoke,
    Expire
);

/// Where a grant stands at a given moment, for readers (owner pages, auditors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Temporary credentials issued; the owner has not decided.
    Pending,
    /// Approved; the verifier has not been exchanged.
    Authorized,
    /// Token credentials issued and working.
    Active,
    /// Ran out: the request token before exchange, or the access after.
    Expired,
    /// The owner refused.
    Denied,
    /// Revoked.
    Revoked,
}

impl GrantStatus {
    /// Every status, in the order a grant can reach them.
    pub const ALL: [Self; 6] =
        [Self::Pending, Self::Authorized, Self::Active, Self::Expired, Self::Denied, Self::Revoked];

    /// The status named `name` (see [`GrantStatus::as_str`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// Whether the grant can still change by itself or be used: pending, authorized or
    /// active. An ended grant (expired, denied, revoked) stays as it is.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Pending | Self::Authorized | Self::Active)
    }

    /// The status at `now` of a grant whose events left it at `self` and whose current
    /// credentials run out at `expires_at`: an open grant is expired from the instant
    /// `now >= expires_at`, whether or not the expiry was recorded yet. The one rule for
    /// the aggregate, the read model, the pages and replay.
    pub fn at(self, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Self {
        if self.is_open() && expires_at.is_some_and(|at| now >= at) { Self::Expired } else { self }
    }

    /// Whether an access token of a grant with this status (at the request's instant)
    /// gives access, given whether its client is active. Refused in this order:
    /// revoked, expired, not (yet or ever) an access token, client suspended — so a
    /// revoked token says "revoked" even when its client is also suspended. (The server
    /// refuses a suspended client's every request before it looks at the grant, with
    /// `consumer_key_rejected`.)
    pub fn access(self, client_active: bool) -> Result<(), AccessError> {
        match self {
            Self::Revoked => Err(AccessError::Revoked),
            Self::Expired => Err(AccessError::Expired),
            Self::Pending | Self::Authorized | Self::Denied => Err(AccessError::NotActive),
            Self::Active if !client_active => Err(AccessError::ClientSuspended),
            Self::Active => Ok(()),
        }
    }

    /// Whether temporary credentials of a grant with this status (at the request's
    /// instant) may be exchanged, given whether its client is active: what the status
    /// alone decides, so a signed exchange can be refused before its nonce is written.
    /// The exchange command applies it first, then checks the verifier.
    pub fn exchange(self, client_active: bool) -> Result<(), DomainError> {
        match self {
            Self::Revoked => Err(DomainError::GrantEnded(GrantEnd::Revoked)),
            Self::Denied => Err(DomainError::GrantEnded(GrantEnd::Denied)),
            Self::Expired => Err(DomainError::GrantEnded(GrantEnd::Expired)),
            _ if !client_active => Err(DomainError::ClientSuspended),
            Self::Pending => Err(DomainError::NotAuthorized),
            Self::Active => Err(DomainError::AlreadyExchanged),
            Self::Authorized => Ok(()),
        }
    }

    /// The status's name: `pending`, `authorized`, `active`, `expired`, `denied`,
    /// `revoked`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Authorized => "authorized",
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Denied => "denied",
            Self::Revoked => "revoked",
        }
    }
}

/// What a working access token lets its client do: the answer to an access check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    /// The grant.
    pub grant_id: GrantId,
    /// Whose resources.
    pub owner_id: OwnerId,
    /// Which client may use them (the caller checks it is the one that signed).
    pub client_id: ClientId,
    /// Which permissions.
    pub scope: Scope,
    /// Which resources.
    pub resources: Vec<ResourceId>,
    /// Until when (`None`: until revoked).
    pub expires_at: Option<DateTime<Utc>>,
}

impl AccessGrant {
    /// Whether the grant covers the resource `id`: one of those the owner chose.
    pub fn covers(&self, id: &str) -> bool {
        self.resources.iter().any(|resource| resource.as_str() == id)
    }
}

/// A grant as its events describe it. Each part is the event that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    issued: TemporaryCredentialsIssued,
    authenticated_owner: Option<OwnerId>,
    approval: Option<AuthorizationApproved>,
    denial: Option<AuthorizationDenied>,
    verifier: Option<Fingerprint>,
    access: Option<TokenCredentialsIssued>,
    expiry: Option<CredentialsExpired>,
    revocation: Option<GrantRevoked>,
}

impl Grant {
    /// The grant's id.
    pub fn grant_id(&self) -> GrantId {
        self.issued.grant_id
    }

    /// Its client.
    pub fn client_id(&self) -> ClientId {
        self.issued.client_id
    }

    /// How it began: request token, callback, requested scope, request expiry.
    pub fn temporary_credentials(&self) -> &TemporaryCredentialsIssued {
        &self.issued
    }

    /// The owner who authenticated for it, if one has.
    pub fn authenticated_owner(&self) -> Option<OwnerId> {
        self.authenticated_owner
    }

    /// Whose grant it is: the owner who decided, or before a decision the owner who
    /// authenticated for it. Only she (besides admins and the client) may revoke it.
    pub fn owner_id(&self) -> Option<OwnerId> {
        self.approval
            .as_ref()
            .map(|approval| approval.owner_id)
            .or(self.denial.as_ref().map(|denial| denial.owner_id))
            .or(self.authenticated_owner)
    }

    /// The approval (the consent record), if approved.
    pub fn approval(&self) -> Option<&AuthorizationApproved> {
        self.approval.as_ref()
    }

    /// The denial, if denied.
    pub fn denial(&self) -> Option<&AuthorizationDenied> {
        self.denial.as_ref()
    }

    /// The token credentials issued, if the verifier was exchanged.
    pub fn token_credentials(&self) -> Option<&TokenCredentialsIssued> {
        self.access.as_ref()
    }

    /// The recorded expiry, if a sweep recorded one.
    pub fn expiry(&self) -> Option<&CredentialsExpired> {
        self.expiry.as_ref()
    }

    /// The revocation, if revoked.
    pub fn revocation(&self) -> Option<&GrantRevoked> {
        self.revocation.as_ref()
    }

    /// Whether the owner asked for this approval to be remembered.
    pub fn is_remembered(&self) -> bool {
        self.approval.as_ref().is_some_and(|approval| approval.remembered)
    }

    /// How the grant ended according to its events, if it has (denied, expiry recorded,
    /// revoked). Expiry that is due by the clock but unrecorded is not included; see
    /// [`Grant::status_at`].
    pub fn ended(&self) -> Option<GrantEnd> {
        if self.revocation.is_some() {
            Some(GrantEnd::Revoked)
        } else if self.denial.is_some() {
            Some(GrantEnd::Denied)
        } else if self.expiry.is_some() {
            Some(GrantEnd::Expired)
        } else {
            None
        }
    }

    /// Which credentials expire next and when, for a grant that has not ended: the
    /// access token's expiry once exchanged (`None` if it never expires); before that,
    /// the request token's expiry — or the approved access's end, if that comes first,
    /// since an exchange after it would be refused anyway. A sweep can schedule on this.
    pub fn next_expiry(&self) -> Option<(Credentials, DateTime<Utc>)> {
        if self.ended().is_some() {
            return None;
        }
        if let Some(access) = &self.access {
            return access.expires_at.map(|expires_at| (Credentials::AccessToken, expires_at));
        }
        let request_expiry = self.issued.expires_at;
        let deadline = match self.approval.as_ref().and_then(|approval| approval.access_expires_at) {
            Some(access_expiry) => request_expiry.min(access_expiry),
            None => request_expiry,
        };
        Some((Credentials::RequestToken, deadline))
    }

    /// Where the grant stands by its events alone, with no clock: what the read model
    /// records. [`GrantStatus::at`] adds the clock.
    pub fn recorded_status(&self) -> GrantStatus {
        match self.ended() {
            Some(GrantEnd::Revoked) => GrantStatus::Revoked,
            Some(GrantEnd::Denied) => GrantStatus::Denied,
            Some(GrantEnd::Expired) => GrantStatus::Expired,
            None if self.access.is_some() => GrantStatus::Active,
            None if self.approval.is_some() => GrantStatus::Authorized,
            None => GrantStatus::Pending,
        }
    }

    /// Where the grant stands at `now`. Expiry counts from the recorded expiry times:
    /// a grant is expired from the instant `now >= expires_at`, recorded or not.
    pub fn status_at(&self, now: DateTime<Utc>) -> GrantStatus {
        self.recorded_status().at(self.next_expiry().map(|(_, at)| at), now)
    }

    /// Refuses commands on a grant that has ended.
    fn ensure_open(&self) -> Result<(), DomainError> {
        match self.ended() {
            Some(end) => Err(DomainError::GrantEnded(end)),
            None => Ok(()),
        }
    }

    /// For approve, deny and authenticate: the request is open, undecided, unexpired.
    fn ensure_undecided(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        if self.approval.is_some() || self.denial.is_some() {
            return Err(DomainError::AlreadyDecided);
        }
        self.ensure_open()?;
        if now >= self.issued.expires_at {
            return Err(DomainError::RequestTokenExpired);
        }
        Ok(())
    }

    /// For approve and deny: `owner_id` is the owner who authenticated for the request.
    fn ensure_deciding_owner(&self, owner_id: OwnerId) -> Result<(), DomainError> {
        match self.authenticated_owner {
            None => Err(DomainError::OwnerNotAuthenticated),
            Some(authenticated) if authenticated != owner_id => Err(DomainError::DifferentOwner),
            Some(_) => Ok(()),
        }
    }

    fn may_revoke(&self, by: &Revoker) -> bool {
        match by {
            Revoker::Admin => true,
            Revoker::Client(client_id) => *client_id == self.client_id(),
            Revoker::Owner(owner_id) => self.owner_id() == Some(*owner_id),
        }
    }
}

/// The state of one grant stream: nothing yet, or a grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantState(Option<Grant>);

impl GrantState {
    /// The grant, if it has begun.
    pub fn grant(&self) -> Option<&Grant> {
        self.0.as_ref()
    }

    /// Where the grant stands at `now`; `None` if it never began. See
    /// [`Grant::status_at`].
    pub fn status_at(&self, now: DateTime<Utc>) -> Option<GrantStatus> {
        self.0.as_ref().map(|grant| grant.status_at(now))
    }
}

impl Aggregate for GrantState {
    type Command = GrantCommand;
    type Event = Event;
    type Error = DomainError;

    fn decide(&self, command: &GrantCommand) -> Result<Vec<Event>, DomainError> {
        if let GrantCommand::IssueTemporaryCredentials(command) = command {
            return issue(self, command);
        }
        let grant = self.0.as_ref().ok_or(DomainError::UnknownGrant)?;
        match command {
            GrantCommand::IssueTemporaryCredentials(_) => unreachable!("handled above"),
            GrantCommand::RecordOwnerAuthenticated(command) => authenticate(grant, command),
            GrantCommand::Approve(command) => approve(grant, command),
            GrantCommand::Deny(command) => deny(grant, command),
            GrantCommand::ExchangeVerifier(command) => exchange(grant, command),
            GrantCommand::Revoke(command) => revoke(grant, command),
            GrantCommand::Expire(command) => expire(grant, command),
        }
    }

    /// Applies a grant event. Other kinds of event, and grant events before the grant
    /// began, leave the state as it is: evolve never fails.
    fn evolve(self, event: &Event) -> Self {
        let Self(grant) = self;
        let Some(mut grant) = grant else {
            return Self(match event {
                Event::TemporaryCredentialsIssued(issued) => Some(Grant {
                    issued: issued.clone(),
                    authenticated_owner: None,
                    approval: None,
                    denial: None,
                    verifier: None,
                    access: None,
                    expiry: None,
                    revocation: None,
                }),
                _ => None,
            });
        };
        match event {
            Event::OwnerAuthenticated(e) => grant.authenticated_owner = Some(e.owner_id),
            Event::AuthorizationApproved(e) => grant.approval = Some(e.clone()),
            Event::AuthorizationDenied(e) => grant.denial = Some(e.clone()),
            Event::VerifierIssued(e) => grant.verifier = Some(e.verifier_fingerprint),
            Event::TokenCredentialsIssued(e) => grant.access = Some(e.clone()),
            Event::CredentialsExpired(e) => grant.expiry = Some(e.clone()),
            Event::GrantRevoked(e) => grant.revocation = Some(e.clone()),
            _ => {}
        }
        Self(Some(grant))
    }
}

fn issue(state: &GrantState, command: &IssueTemporaryCredentials) -> Result<Vec<Event>, DomainError> {
    if state.0.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    let client = &command.client;
    if !client.active {
        return Err(DomainError::ClientSuspended);
    }
    let callback_allowed = matches!(command.callback, Callback::Oob)
        || client.callbacks.iter().any(|pattern| pattern.allows(&command.callback));
    if !callback_allowed {
        return Err(DomainError::CallbackNotRegistered);
    }
    if command.requested_scope.is_empty() {
        return Err(DomainError::EmptyScope);
    }
    if command.ttl <= TimeDelta::zero() {
        return Err(DomainError::InvalidTtl);
    }
    let expires_at = command.now.checked_add_signed(command.ttl).ok_or(DomainError::InvalidTtl)?;
    Ok(vec![
        TemporaryCredentialsIssued {
            grant_id: command.grant_id,
            client_id: client.client_id,
            request_token: command.request_token.clone(),
            callback: command.callback.clone(),
            requested_scope: command.requested_scope.clone(),
            expires_at,
        }
        .into(),
    ])
}

fn authenticate(grant: &Grant, command: &RecordOwnerAuthenticated) -> Result<Vec<Event>, DomainError> {
    grant.ensure_undecided(command.now)?;
    match grant.authenticated_owner {
        // The authorize page reloaded: already recorded, nothing new happened.
        Some(owner_id) if owner_id == command.owner_id => Ok(vec![]),
        // The first owner to authenticate holds the request. Letting a second take it
        // over would let whoever holds a link decide for the wrong account.
        Some(_) => Err(DomainError::DifferentOwner),
        None => Ok(vec![OwnerAuthenticated { grant_id: grant.grant_id(), owner_id: command.owner_id }.into()]),
    }
}

fn approve(grant: &Grant, command: &Approve) -> Result<Vec<Event>, DomainError> {
    grant.ensure_undecided(command.now)?;
    grant.ensure_deciding_owner(command.owner_id)?;
    if command.scope.is_empty() {
        return Err(DomainError::EmptyScope);
    }
    if !command.scope.is_subset_of(&grant.issued.requested_scope) {
        return Err(DomainError::ScopeWidened);
    }
    let mut resources = command.resources.clone();
    resources.sort_unstable();
    resources.dedup();
    if resources.is_empty() {
        return Err(DomainError::NoResourcesChosen);
    }
    if !all_hers(&resources, &command.owners_resources) {
        return Err(DomainError::NotTheOwnersResource);
    }
    if command.remembered && command.method != ConsentMethod::ConsentPage {
        return Err(DomainError::RememberNeedsConsentPage);
    }
    Ok(vec![
        AuthorizationApproved {
            grant_id: grant.grant_id(),
            owner_id: command.owner_id,
            scope: command.scope.clone(),
            resources,
            duration: command.duration,
            approved_at: command.now,
            access_expires_at: command.duration.expires_at(command.now),
            remembered: command.remembered,
            method: command.method,
            consent_text: command.consent_text.clone(),
        }
        .into(),
        VerifierIssued { grant_id: grant.grant_id(), verifier_fingerprint: command.verifier_fingerprint }.into(),
    ])
}

/// Whether every one of `chosen` is among `hers`: an owner grants access to her own
/// resources only, whether she chooses them on the consent page or a remembered decision
/// chooses them again.
pub fn all_hers(chosen: &[ResourceId], hers: &[ResourceId]) -> bool {
    chosen.iter().all(|resource| hers.contains(resource))
}

fn deny(grant: &Grant, command: &Deny) -> Result<Vec<Event>, DomainError> {
    grant.ensure_undecided(command.now)?;
    grant.ensure_deciding_owner(command.owner_id)?;
    Ok(vec![
        AuthorizationDenied { grant_id: grant.grant_id(), owner_id: command.owner_id, method: command.method }.into(),
    ])
}

fn exchange(grant: &Grant, command: &ExchangeVerifier) -> Result<Vec<Event>, DomainError> {
    if command.client_id != grant.client_id() {
        return Err(DomainError::WrongClient);
    }
    grant.status_at(command.now).exchange(command.client_active)?;
    let (Some(approval), Some(verifier)) = (&grant.approval, &grant.verifier) else {
        return Err(DomainError::NotAuthorized);
    };
    if !command.verifier.matches(verifier) {
        return Err(DomainError::VerifierMismatch);
    }
    Ok(vec![
        TokenCredentialsIssued {
            grant_id: grant.grant_id(),
            access_token: command.access_token.clone(),
            // Counted from approval, not from now: the owner chose "one hour" at the
            // moment she approved, and a slow client must not stretch it.
            expires_at: approval.access_expires_at,
        }
        .into(),
    ])
}

fn revoke(grant: &Grant, command: &Revoke) -> Result<Vec<Event>, DomainError> {
    // Permission first, so someone who may not revoke learns nothing about the grant.
    if !grant.may_revoke(&command.by) {
        return Err(DomainError::NotPermittedToRevoke);
    }
    grant.ensure_open()?;
    if grant.status_at(command.now) == GrantStatus::Expired {
        return Err(DomainError::GrantEnded(GrantEnd::Expired));
    }
    Ok(vec![GrantRevoked { grant_id: grant.grant_id(), by: command.by, reason: command.reason.clone() }.into()])
}

fn expire(grant: &Grant, command: &Expire) -> Result<Vec<Event>, DomainError> {
    grant.ensure_open()?;
    match grant.next_expiry() {
        Some((credentials, expired_at)) if command.now >= expired_at => {
            Ok(vec![CredentialsExpired { grant_id: grant.grant_id(), credentials, expired_at }.into()])
        }
        _ => Err(DomainError::NothingExpired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::CallbackPattern;
    use crate::scope::Permission;
    use crate::testing::{BOB, CLIENT, GRANT, JANE, OTHER_CLIENT, at, given};

    const VERIFIER: &str = "verifier-secret";

    fn snapshot() -> ClientSnapshot {
        ClientSnapshot {
            client_id: CLIENT,
            active: true,
            callbacks: vec![CallbackPattern::parse("http://127.0.0.1:*").unwrap()],
        }
    }

    fn read() -> Scope {
        Scope::of([Permission::PhotosRead])
    }

    fn read_write() -> Scope {
        Scope::of(Permission::ALL)
    }

    fn photos(ids: &[&str]) -> Vec<ResourceId> {
        ids.iter().map(|id| ResourceId::parse(id).unwrap()).collect()
    }

    fn consent_text() -> ConsentText {
        ConsentText::shown("consent-v1", "Beppa Prints would like to see your photos.").unwrap()
    }

    fn callback() -> Callback {
        Callback::parse("http://127.0.0.1:5000/cb").unwrap()
    }

    /// Beppa asks at 12:00 for read and write, for ten minutes.
    fn issue() -> IssueTemporaryCredentials {
        IssueTemporaryCredentials {
            grant_id: GRANT,
            client: snapshot(),
            request_token: TokenKey::parse("req-token").unwrap(),
            callback: callback(),
            requested_scope: read_write(),
            now: at(0),
            ttl: TimeDelta::minutes(10),
        }
    }

    fn issued() -> Event {
        TemporaryCredentialsIssued {
            grant_id: GRANT,
            client_id: CLIENT,
            request_token: TokenKey::parse("req-token").unwrap(),
            callback: callback(),
            requested_scope: read_write(),
            expires_at: at(10),
        }
        .into()
    }

    fn authenticated(owner_id: OwnerId) -> Event {
        OwnerAuthenticated { grant_id: GRANT, owner_id }.into()
    }

    fn pending() -> Vec<Event> {
        vec![issued(), authenticated(JANE)]
    }

    /// Jane approves at 12:02: read only, two photos, one hour.
    fn approve() -> Approve {
        Approve {
            owner_id: JANE,
            scope: read(),
            resources: photos(&["photo-1", "photo-2"]),
            owners_resources: photos(&["photo-1", "photo-2", "photo-3"]),
            duration: AccessDuration::OneHour,
            remembered: false,
            method: ConsentMethod::ConsentPage,
            consent_text: consent_text(),
            verifier_fingerprint: Fingerprint::of(VERIFIER),
            now: at(2),
        }
    }

    fn approved() -> Event {
        AuthorizationApproved {
            grant_id: GRANT,
            owner_id: JANE,
            scope: read(),
            resources: photos(&["photo-1", "photo-2"]),
            duration: AccessDuration::OneHour,
            approved_at: at(2),
            access_expires_at: Some(at(62)),
            remembered: false,
            method: ConsentMethod::ConsentPage,
            consent_text: consent_text(),
        }
        .into()
    }

    fn verifier_issued() -> Event {
        VerifierIssued { grant_id: GRANT, verifier_fingerprint: Fingerprint::of(VERIFIER) }.into()
    }

    fn authorized() -> Vec<Event> {
        [pending(), vec![approved(), verifier_issued()]].concat()
    }

    fn deny() -> Deny {
        Deny { owner_id: JANE, method: ConsentMethod::ConsentPage, now: at(2) }
    }

    fn denied() -> Event {
        AuthorizationDenied { grant_id: GRANT, owner_id: JANE, method: ConsentMethod::ConsentPage }.into()
    }

    /// Beppa exchanges at 12:03.
    fn exchange() -> ExchangeVerifier {
        ExchangeVerifier {
            client_id: CLIENT,
            verifier: PresentedSecret::new(VERIFIER),
            access_token: TokenKey::parse("acc-token").unwrap(),
            client_active: true,
            now: at(3),
        }
    }

    fn exchanged() -> Event {
        TokenCredentialsIssued {
            grant_id: GRANT,
            access_token: TokenKey::parse("acc-token").unwrap(),
            expires_at: Some(at(62)),
        }
        .into()
    }

    fn active() -> Vec<Event> {
        [authorized(), vec![exchanged()]].concat()
    }

    fn revoke(by: Revoker) -> Revoke {
        Revoke { by, reason: None, now: at(5) }
    }

    fn revoked(by: Revoker) -> Event {
        GrantRevoked { grant_id: GRANT, by, reason: None }.into()
    }

    fn expired(credentials: Credentials, expired_at: DateTime<Utc>) -> Event {
        CredentialsExpired { grant_id: GRANT, credentials, expired_at }.into()
    }

    fn state(events: &[Event]) -> GrantState {
        GrantState::fold(events)
    }

    // --- issuing temporary credentials ---------------------------------------------

    #[test]
    fn temporary_credentials_are_issued_for_a_registered_callback_until_now_plus_ttl() {
        given::<GrantState>(&[]).when(issue()).then(vec![issued()]);
    }

    #[test]
    fn oob_needs_no_registered_callback() {
        let command = IssueTemporaryCredentials {
            client: ClientSnapshot { callbacks: vec![], ..snapshot() },
            callback: Callback::Oob,
            ..issue()
        };
        let Ok(events) = GrantState::default().decide(&command.into()) else {
            panic!("refused");
        };
        assert!(matches!(
            &events[..],
            [Event::TemporaryCredentialsIssued(e)] if e.callback == Callback::Oob
        ));
    }

    #[test]
    fn a_callback_no_pattern_allows_is_refused() {
        given::<GrantState>(&[])
            .when(IssueTemporaryCredentials {
                callback: Callback::parse("http://evil.example:5000/cb").unwrap(),
                ..issue()
            })
            .then_refused(DomainError::CallbackNotRegistered);
    }

    #[test]
    fn a_suspended_client_gets_no_temporary_credentials() {
        given::<GrantState>(&[])
            .when(IssueTemporaryCredentials { client: ClientSnapshot { active: false, ..snapshot() }, ..issue() })
            .then_refused(DomainError::ClientSuspended);
    }

    #[test]
    fn a_request_for_nothing_is_refused() {
        given::<GrantState>(&[])
            .when(IssueTemporaryCredentials { requested_scope: Scope::default(), ..issue() })
            .then_refused(DomainError::EmptyScope);
    }

    #[test]
    fn the_request_token_must_live_a_while() {
        for ttl in [TimeDelta::zero(), TimeDelta::seconds(-1), TimeDelta::MAX] {
            given::<GrantState>(&[])
                .when(IssueTemporaryCredentials { ttl, ..issue() })
                .then_refused(DomainError::InvalidTtl);
        }
    }

    #[test]
    fn a_grant_is_issued_once() {
        given::<GrantState>(&[issued()]).when(issue()).then_refused(DomainError::AlreadyExists);
    }

    #[test]
    fn every_other_command_needs_a_grant() {
        let commands: Vec<GrantCommand> = vec![
            RecordOwnerAuthenticated { owner_id: JANE, now: at(1) }.into(),
            approve().into(),
            deny().into(),
            exchange().into(),
            revoke(Revoker::Admin).into(),
            Expire { now: at(100) }.into(),
        ];
        for command in commands {
            given::<GrantState>(&[]).when(command).then_refused(DomainError::UnknownGrant);
        }
    }

    // --- the owner authenticates ---------------------------------------------------

    #[test]
    fn an_owner_authenticates_for_a_pending_request() {
        given::<GrantState>(&[issued()])
            .when(RecordOwnerAuthenticated { owner_id: JANE, now: at(1) })
            .then(vec![authenticated(JANE)]);
    }

    #[test]
    fn the_same_owner_again_records_nothing_new() {
        given::<GrantState>(&pending()).when(RecordOwnerAuthenticated { owner_id: JANE, now: at(1) }).then(vec![]);
    }

    #[test]
    fn another_owner_cannot_take_over_a_request() {
        given::<GrantState>(&pending())
            .when(RecordOwnerAuthenticated { owner_id: BOB, now: at(1) })
            .then_refused(DomainError::DifferentOwner);
    }

    #[test]
    fn no_owner_authenticates_for_an_expired_or_decided_request() {
        given::<GrantState>(&[issued()])
            .when(RecordOwnerAuthenticated { owner_id: JANE, now: at(10) })
            .then_refused(DomainError::RequestTokenExpired);
        given::<GrantState>(&authorized())
            .when(RecordOwnerAuthenticated { owner_id: JANE, now: at(3) })
            .then_refused(DomainError::AlreadyDecided);
    }

    // --- approval --------------------------------------------------------------------

    #[test]
    fn an_approval_records_the_consent_and_issues_a_verifier() {
        given::<GrantState>(&pending()).when(approve()).then(vec![approved(), verifier_issued()]);
    }

    #[test]
    fn access_is_counted_from_approval_for_the_chosen_duration() {
        for (duration, expiry) in [
            (AccessDuration::OneHour, Some(at(2 + 60))),
            (AccessDuration::OneDay, Some(at(2 + 24 * 60))),
            (AccessDuration::ThirtyDays, Some(at(2 + 30 * 24 * 60))),
            (AccessDuration::UntilRevoked, None),
        ] {
            let events = GrantState::fold(&pending()).decide(&Approve { duration, ..approve() }.into()).unwrap();
            let Event::AuthorizationApproved(approval) = &events[0] else {
                panic!("not an approval");
            };
            assert_eq!(approval.access_expires_at, expiry);
            assert_eq!(approval.approved_at, at(2));
        }
    }

    #[test]
    fn the_chosen_resources_are_recorded_sorted_without_repeats() {
        let events = GrantState::fold(&pending())
            .decide(&Approve { resources: photos(&["photo-2", "photo-1", "photo-2"]), ..approve() }.into())
            .unwrap();
        assert_eq!(events[0], approved());
    }

    #[test]
    fn the_owner_may_grant_everything_that_was_asked() {
        assert!(GrantState::fold(&pending()).decide(&Approve { scope: read_write(), ..approve() }.into()).is_ok());
    }

    #[test]
    fn the_scope_can_only_narrow() {
        let read_only_request = [
            TemporaryCredentialsIssued {
                grant_id: GRANT,
                client_id: CLIENT,
                request_token: TokenKey::parse("req-token").unwrap(),
                callback: callback(),
                requested_scope: read(),
                expires_at: at(10),
            }
            .into(),
            authenticated(JANE),
        ];
        given::<GrantState>(&read_only_request)
            .when(Approve { scope: read_write(), ..approve() })
            .then_refused(DomainError::ScopeWidened);
    }

    #[test]
    fn an_empty_scope_is_refused() {
        given::<GrantState>(&pending())
            .when(Approve { scope: Scope::default(), ..approve() })
            .then_refused(DomainError::EmptyScope);
    }

    #[test]
    fn at_least_one_resource_must_be_chosen() {
        given::<GrantState>(&pending())
            .when(Approve { resources: vec![], ..approve() })
            .then_refused(DomainError::NoResourcesChosen);
    }

    #[test]
    fn only_the_owners_own_resources_can_be_chosen() {
        given::<GrantState>(&pending())
            .when(Approve { resources: photos(&["photo-1", "someone-elses"]), ..approve() })
            .then_refused(DomainError::NotTheOwnersResource);
        given::<GrantState>(&pending())
            .when(Approve { owners_resources: vec![], ..approve() })
            .then_refused(DomainError::NotTheOwnersResource);
    }

    #[test]
    fn only_the_authenticated_owner_approves() {
        given::<GrantState>(&[issued()]).when(approve()).then_refused(DomainError::OwnerNotAuthenticated);
        given::<GrantState>(&pending())
            .when(Approve { owner_id: BOB, ..approve() })
            .then_refused(DomainError::DifferentOwner);
    }

    #[test]
    fn an_expired_request_cannot_be_approved() {
        given::<GrantState>(&pending())
            .when(Approve { now: at(10), ..approve() })
            .then_refused(DomainError::RequestTokenExpired);
        assert!(
            GrantState::fold(&pending())
                .decide(&Approve { now: at(10) - TimeDelta::microseconds(1), ..approve() }.into())
                .is_ok()
        );
    }

    #[test]
    fn a_request_is_decided_once() {
        given::<GrantState>(&authorized()).when(approve()).then_refused(DomainError::AlreadyDecided);
        given::<GrantState>(&[pending(), vec![denied()]].concat())
            .when(approve())
            .then_refused(DomainError::AlreadyDecided);
        given::<GrantState>(&authorized()).when(deny()).then_refused(DomainError::AlreadyDecided);
    }

    #[test]
    fn a_revoked_request_cannot_be_approved() {
        given::<GrantState>(&[pending(), vec![revoked(Revoker::Admin)]].concat())
            .when(approve())
            .then_refused(DomainError::GrantEnded(GrantEnd::Revoked));
    }

    #[test]
    fn only_a_consent_page_decision_can_be_remembered() {
        let remembered_elsewhere =
            ConsentMethod::RememberedDecision { remembered_in: GrantId::new(uuid::Uuid::from_u128(0x60)) };
        given::<GrantState>(&pending())
            .when(Approve { remembered: true, method: remembered_elsewhere, ..approve() })
            .then_refused(DomainError::RememberNeedsConsentPage);
        let events =
            GrantState::fold(&pending()).decide(&Approve { method: remembered_elsewhere, ..approve() }.into()).unwrap();
        assert!(matches!(
            &events[0],
            Event::AuthorizationApproved(e) if e.method == remembered_elsewhere && !e.remembered
        ));
        let remembered =
            GrantState::fold(&pending()).execute(&Approve { remembered: true, ..approve() }.into()).unwrap().0;
        assert!(remembered.grant().unwrap().is_remembered());
    }

    // --- denial ----------------------------------------------------------------------

    #[test]
    fn the_owner_denies() {
        given::<GrantState>(&pending()).when(deny()).then(vec![denied()]);
    }

    #[test]
    fn only_the_authenticated_owner_denies_an_unexpired_request() {
        given::<GrantState>(&[issued()]).when(deny()).then_refused(DomainError::OwnerNotAuthenticated);
        given::<GrantState>(&pending())
            .when(Deny { owner_id: BOB, ..deny() })
            .then_refused(DomainError::DifferentOwner);
        given::<GrantState>(&pending())
            .when(Deny { now: at(11), ..deny() })
            .then_refused(DomainError::RequestTokenExpired);
        given::<GrantState>(&[pending(), vec![denied()]].concat())
            .when(deny())
            .then_refused(DomainError::AlreadyDecided);
    }

    // --- exchanging the verifier -----------------------------------------------------

    #[test]
    fn the_verifier_is_exchanged_for_access_that_ends_where_the_owner_chose() {
        given::<GrantState>(&authorized()).when(exchange()).then(vec![exchanged()]);
        // Exchanging later does not stretch the hour Jane approved at 12:02.
        given::<GrantState>(&authorized()).when(ExchangeVerifier { now: at(9), ..exchange() }).then(vec![exchanged()]);
    }

    #[test]
    fn a_wrong_verifier_is_refused() {
        given::<GrantState>(&authorized())
            .when(ExchangeVerifier { verifier: PresentedSecret::new("verifier-secreT"), ..exchange() })
            .then_refused(DomainError::VerifierMismatch);
    }

    #[test]
    fn the_verifier_is_exchanged_at_most_once() {
        given::<GrantState>(&active())
            .when(ExchangeVerifier { access_token: TokenKey::parse("acc-token-2").unwrap(), ..exchange() })
            .then_refused(DomainError::AlreadyExchanged);
    }

    #[test]
    fn an_unapproved_request_is_not_exchanged() {
        given::<GrantState>(&pending()).when(exchange()).then_refused(DomainError::NotAuthorized);
        given::<GrantState>(&[pending(), vec![denied()]].concat())
            .when(exchange())
            .then_refused(DomainError::GrantEnded(GrantEnd::Denied));
    }

    #[test]
    fn an_expired_request_token_is_not_exchanged() {
        given::<GrantState>(&authorized())
            .when(ExchangeVerifier { now: at(10), ..exchange() })
            .then_refused(DomainError::GrantEnded(GrantEnd::Expired));
    }

    #[test]
    fn access_that_ran_out_before_the_exchange_is_not_issued() {
        // A request token living two hours, approved for one hour, exchanged after it.
        let long_lived = [
            TemporaryCredentialsIssued {
                grant_id: GRANT,
                client_id: CLIENT,
                request_token: TokenKey::parse("req-token").unwrap(),
                callback: callback(),
                requested_scope: read_write(),
                expires_at: at(120),
            }
            .into(),
            authenticated(JANE),
            approved(),
            verifier_issued(),
        ];
        given::<GrantState>(&long_lived)
            .when(ExchangeVerifier { now: at(62), ..exchange() })
            .then_refused(DomainError::GrantEnded(GrantEnd::Expired));
        assert_eq!(state(&long_lived).status_at(at(62)), Some(GrantStatus::Expired));
    }

    #[test]
    fn a_suspended_client_cannot_exchange() {
        given::<GrantState>(&authorized())
            .when(ExchangeVerifier { client_active: false, ..exchange() })
            .then_refused(DomainError::ClientSuspended);
    }

    #[test]
    fn only_the_grants_client_can_exchange() {
        given::<GrantState>(&authorized())
            .when(ExchangeVerifier { client_id: OTHER_CLIENT, ..exchange() })
            .then_refused(DomainError::WrongClient);
    }

    #[test]
    fn a_revoked_grant_cannot_be_exchanged() {
        given::<GrantState>(&[authorized(), vec![revoked(Revoker::Owner(JANE))]].concat())
            .when(exchange())
            .then_refused(DomainError::GrantEnded(GrantEnd::Revoked));
    }

    // --- revocation ------------------------------------------------------------------

    #[test]
    fn the_owner_an_admin_or_the_client_may_revoke() {
        for by in [Revoker::Owner(JANE), Revoker::Admin, Revoker::Client(CLIENT)] {
            given::<GrantState>(&active()).when(revoke(by)).then(vec![revoked(by)]);
        }
    }

    #[test]
    fn the_reason_is_recorded() {
        let reason = Reason::parse("prints are done").unwrap();
        given::<GrantState>(&active())
            .when(Revoke { reason: Some(reason.clone()), ..revoke(Revoker::Owner(JANE)) })
            .then(vec![GrantRevoked { grant_id: GRANT, by: Revoker::Owner(JANE), reason: Some(reason) }.into()]);
    }

    #[test]
    fn nobody_else_may_revoke() {
        for by in [Revoker::Owner(BOB), Revoker::Client(OTHER_CLIENT)] {
            given::<GrantState>(&active()).when(revoke(by)).then_refused(DomainError::NotPermittedToRevoke);
        }
        // Nor may anyone learn that a grant has ended by trying.
        given::<GrantState>(&[active(), vec![revoked(Revoker::Admin)]].concat())
            .when(revoke(Revoker::Owner(BOB)))
            .then_refused(DomainError::NotPermittedToRevoke);
    }

    #[test]
    fn a_pending_request_is_the_authenticated_owners_to_revoke() {
        given::<GrantState>(&[issued()])
            .when(revoke(Revoker::Owner(JANE)))
            .then_refused(DomainError::NotPermittedToRevoke);
        given::<GrantState>(&pending()).when(revoke(Revoker::Owner(JANE))).then(vec![revoked(Revoker::Owner(JANE))]);
        given::<GrantState>(&[issued()]).when(revoke(Revoker::Admin)).then(vec![revoked(Revoker::Admin)]);
    }

    #[test]
    fn an_authorized_grant_can_be_revoked_before_the_exchange() {
        given::<GrantState>(&authorized())
            .when(revoke(Revoker::Client(CLIENT)))
            .then(vec![revoked(Revoker::Client(CLIENT))]);
    }

    #[test]
    fn an_ended_grant_cannot_be_revoked() {
        given::<GrantState>(&[active(), vec![revoked(Revoker::Admin)]].concat())
            .when(revoke(Revoker::Owner(JANE)))
            .then_refused(DomainError::GrantEnded(GrantEnd::Revoked));
        given::<GrantState>(&[pending(), vec![denied()]].concat())
            .when(revoke(Revoker::Owner(JANE)))
            .then_refused(DomainError::GrantEnded(GrantEnd::Denied));
        given::<GrantState>(&[active(), vec![expired(Credentials::AccessToken, at(62))]].concat())
            .when(revoke(Revoker::Admin))
            .then_refused(DomainError::GrantEnded(GrantEnd::Expired));
        // Expired by the clock, not yet recorded: nothing left to revoke either.
        given::<GrantState>(&active())
            .when(Revoke { now: at(62), ..revoke(Revoker::Owner(JANE)) })
            .then_refused(DomainError::GrantEnded(GrantEnd::Expired));
    }

    // --- expiry ----------------------------------------------------------------------

    #[test]
    fn an_unexchanged_request_token_expires() {
        given::<GrantState>(&pending())
            .when(Expire { now: at(10) })
            .then(vec![expired(Credentials::RequestToken, at(10))]);
        given::<GrantState>(&authorized())
            .when(Expire { now: at(30) })
            .then(vec![expired(Credentials::RequestToken, at(10))]);
    }

    #[test]
    fn an_access_token_expires_when_the_owner_said() {
        given::<GrantState>(&active())
            .when(Expire { now: at(62) })
            .then(vec![expired(Credentials::AccessToken, at(62))]);
    }

    #[test]
    fn nothing_expires_early_or_when_it_never_does() {
        given::<GrantState>(&pending())
            .when(Expire { now: at(10) - TimeDelta::microseconds(1) })
            .then_refused(DomainError::NothingExpired);
        given::<GrantState>(&active()).when(Expire { now: at(61) }).then_refused(DomainError::NothingExpired);
        let forever = [
            authorized(),
            vec![
                TokenCredentialsIssued {
                    grant_id: GRANT,
                    access_token: TokenKey::parse("acc-token").unwrap(),
                    expires_at: None,
                }
                .into(),
            ],
        ]
        .concat();
        given::<GrantState>(&forever)
            .when(Expire { now: DateTime::<Utc>::MAX_UTC })
            .then_refused(DomainError::NothingExpired);
    }

    #[test]
    fn an_ended_grant_does_not_expire_again() {
        given::<GrantState>(&[active(), vec![expired(Credentials::AccessToken, at(62))]].concat())
            .when(Expire { now: at(100) })
            .then_refused(DomainError::GrantEnded(GrantEnd::Expired));
        given::<GrantState>(&[pending(), vec![denied()]].concat())
            .when(Expire { now: at(100) })
            .then_refused(DomainError::GrantEnded(GrantEnd::Denied));
        given::<GrantState>(&[active(), vec![revoked(Revoker::Admin)]].concat())
            .when(Expire { now: at(100) })
            .then_refused(DomainError::GrantEnded(GrantEnd::Revoked));
    }

    // --- reading: status and access --------------------------------------------------

    #[test]
    fn a_status_names_itself_and_reads_back() {
        for status in GrantStatus::ALL {
            assert_eq!(GrantStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(GrantStatus::parse("Active"), None);
        assert_eq!(GrantStatus::parse(""), None);
    }

    #[test]
    fn only_an_open_status_runs_out_by_the_clock() {
        let expires_at = Some(at(10));
        for status in GrantStatus::ALL {
            assert_eq!(status.at(expires_at, at(9)), status, "{status:?} before its expiry");
            assert_eq!(status.at(None, at(1_000)), status, "{status:?} with no expiry");
            let ran_out = if status.is_open() { GrantStatus::Expired } else { status };
            assert_eq!(status.at(expires_at, at(10)), ran_out, "{status:?} at its expiry");
        }
    }

    #[test]
    fn only_an_active_grant_of_an_active_client_gives_access() {
        use GrantStatus::*;
        for (status, client_active, expected) in [
            (Active, true, Ok(())),
            (Active, false, Err(AccessError::ClientSuspended)),
            (Revoked, false, Err(AccessError::Revoked)),
            (Expired, false, Err(AccessError::Expired)),
            (Pending, true, Err(AccessError::NotActive)),
            (Authorized, true, Err(AccessError::NotActive)),
            (Denied, true, Err(AccessError::NotActive)),
        ] {
            assert_eq!(status.access(client_active), expected, "{status:?}, client active: {client_active}");
        }
    }

    #[test]
    fn only_an_authorized_grant_of_an_active_client_is_exchanged() {
        use GrantStatus::*;
        for (status, client_active, expected) in [
            (Authorized, true, Ok(())),
            (Authorized, false, Err(DomainError::ClientSuspended)),
            (Pending, true, Err(DomainError::NotAuthorized)),
            (Active, true, Err(DomainError::AlreadyExchanged)),
            (Revoked, false, Err(DomainError::GrantEnded(GrantEnd::Revoked))),
            (Denied, true, Err(DomainError::GrantEnded(GrantEnd::Denied))),
            (Expired, true, Err(DomainError::GrantEnded(GrantEnd::Expired))),
        ] {
            assert_eq!(status.exchange(client_active), expected, "{status:?}, client active: {client_active}");
        }
    }

    #[test]
    fn status_follows_the_events_and_the_clock() {
        use GrantStatus::*;
        assert_eq!(GrantState::default().status_at(at(0)), None);
        for (events, now, status) in [
            (vec![issued()], at(0), Pending),
            (pending(), at(9), Pending),
            (pending(), at(10), Expired),
            (authorized(), at(3), Authorized),
            (authorized(), at(10), Expired),
            (active(), at(3), Active),
            (active(), at(61), Active),
            (active(), at(62), Expired),
            ([pending(), vec![denied()]].concat(), at(3), Denied),
            ([active(), vec![revoked(Revoker::Admin)]].concat(), at(4), Revoked),
            ([active(), vec![expired(Credentials::AccessToken, at(62))]].concat(), at(0), Expired),
        ] {
            assert_eq!(state(&events).status_at(now), Some(status), "at {now}");
        }
    }

    /// What the grant's status at `now` says to an access request: the rule the server
    /// applies to its read model, here on the aggregate.
    fn check_access(state: &GrantState, now: DateTime<Utc>, client_active: bool) -> Result<(), AccessError> {
        state.status_at(now).map_or(Err(AccessError::NotActive), |status| status.access(client_active))
    }

    #[test]
    fn an_access_grant_covers_only_the_chosen_resources() {
        let access = AccessGrant {
            grant_id: GRANT,
            owner_id: JANE,
            client_id: CLIENT,
            scope: read(),
            resources: photos(&["photo-1", "photo-2"]),
            expires_at: Some(at(62)),
        };
        assert!(access.covers("photo-2"));
        assert!(!access.covers("photo-3") && !access.covers("photo"));
    }

    #[test]
    fn access_ends_at_the_expiry_the_owner_chose() {
        assert!(check_access(&state(&active()), at(62) - TimeDelta::microseconds(1), true).is_ok());
        assert_eq!(check_access(&state(&active()), at(62), true), Err(AccessError::Expired));
        assert_eq!(
            check_access(&state(&[active(), vec![expired(Credentials::AccessToken, at(62))]].concat()), at(30), true),
            Err(AccessError::Expired)
        );
    }

    #[test]
    fn a_revoked_token_gives_no_access() {
        let revoked_grant = state(&[active(), vec![revoked(Revoker::Owner(JANE))]].concat());
        assert_eq!(check_access(&revoked_grant, at(4), true), Err(AccessError::Revoked));
        assert_eq!(check_access(&revoked_grant, at(4), false), Err(AccessError::Revoked));
    }

    #[test]
    fn a_suspended_clients_grants_stop_working_and_resume_on_reinstatement() {
        assert_eq!(check_access(&state(&active()), at(30), false), Err(AccessError::ClientSuspended));
        assert!(check_access(&state(&active()), at(31), true).is_ok());
    }

    #[test]
    fn only_exchanged_tokens_give_access() {
        for events in [vec![], pending(), authorized(), [pending(), vec![denied()]].concat()] {
            assert_eq!(check_access(&state(&events), at(3), true), Err(AccessError::NotActive));
        }
    }

    #[test]
    fn until_revoked_means_until_revoked() {
        let forever = state(
            &[
                authorized(),
                vec![
                    TokenCredentialsIssued {
                        grant_id: GRANT,
                        access_token: TokenKey::parse("acc-token").unwrap(),
                        expires_at: None,
                    }
                    .into(),
                ],
            ]
            .concat(),
        );
        assert!(check_access(&forever, DateTime::<Utc>::MAX_UTC, true).is_ok());
        assert_eq!(forever.grant().unwrap().next_expiry(), None);
    }

    #[test]
    fn the_seed_story_end_to_end() {
        let steps: Vec<GrantCommand> = vec![
            issue().into(),
            RecordOwnerAuthenticated { owner_id: JANE, now: at(1) }.into(),
            approve().into(),
            exchange().into(),
        ];
        let mut grant = GrantState::default();
        let mut log = vec![];
        for step in &steps {
            let (next, events) = grant.execute(step).unwrap();
            grant = next;
            log.extend(events);
        }
        assert_eq!(log, active());
        assert_eq!(GrantState::fold(&log), grant);
        assert_eq!(grant.status_at(at(30)), Some(GrantStatus::Active));
        assert_eq!(grant.status_at(at(63)), Some(GrantStatus::Expired));
    }
}
