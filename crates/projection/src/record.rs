//! One record per stream: the domain aggregate's state plus the envelope facts the read
//! models need (when each step happened, the last position applied). Folding a
//! stream's recorded events into its record is the one fold every use shares.

use chrono::{DateTime, Utc};
use grantlog_domain::{Aggregate, ClientState, DomainError, Event, Grant, GrantState, GrantStatus, OwnerState};
use grantlog_store::RecordedEvent;

use crate::error::ProjectionError;

/// What a stream's record needs from each of its events.
pub trait Record: Default + Clone + Send + Sync + 'static {
    /// The aggregate whose state the record carries.
    type State: Aggregate<Event = Event, Error = DomainError> + Clone + Send + Sync;

    /// The aggregate's state.
    fn state(&self) -> &Self::State;

    /// Folds in one event of this record's stream.
    fn apply(&mut self, recorded: &RecordedEvent, event: &Event);

    /// Folds a whole stream, decoding each event.
    fn fold(recorded: &[RecordedEvent]) -> Result<Self, ProjectionError> {
        let mut record = Self::default();
        for event in recorded {
            record.apply(event, &decode(event)?);
        }
        Ok(record)
    }
}

/// Decodes a stored event into the domain's [`Event`].
pub fn decode(recorded: &RecordedEvent) -> Result<Event, ProjectionError> {
    Event::decode(&recorded.event_type, recorded.schema_version, &recorded.payload)
        .map_err(|cause| ProjectionError::Decode { position: recorded.position, cause })
}

/// The record of a stream whose read model needs only the state and when it was
/// registered: clients and owners.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisteredRecord<S> {
    /// The aggregate state.
    pub state: S,
    /// When it registered.
    pub registered_at: Option<DateTime<Utc>>,
    /// The last position applied.
    pub position: u64,
}

/// A client stream's record.
pub type ClientRecord = RegisteredRecord<ClientState>;

/// An owner stream's record.
pub type OwnerRecord = RegisteredRecord<OwnerState>;

impl<S> Record for RegisteredRecord<S>
where
    S: Aggregate<Event = Event, Error = DomainError> + Clone + Default + Send + Sync + 'static,
{
    type State = S;

    fn state(&self) -> &S {
        &self.state
    }

    fn apply(&mut self, recorded: &RecordedEvent, event: &Event) {
        // Each stream holds one kind of registration: a client's or an owner's.
        if matches!(event, Event::ClientRegistered(_) | Event::OwnerRegistered(_)) {
            self.registered_at = Some(recorded.occurred_at);
        }
        self.state = std::mem::take(&mut self.state).evolve(event);
        self.position = recorded.position;
    }
}

/// A grant stream's record: the grant, and when each step of its life happened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantRecord {
    /// The aggregate state.
    pub state: GrantState,
    /// When temporary credentials were issued (the grant's birth).
    pub issued_at: Option<DateTime<Utc>>,
    /// When the owner approved or denied.
    pub decided_at: Option<DateTime<Utc>>,
    /// When token credentials were issued.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it was revoked, or its expiry was recorded.
    pub ended_at: Option<DateTime<Utc>>,
    /// The position of its first event: the order grants are listed in.
    pub first_position: u64,
    /// The position of the owner's approval, once approved: the event its consent
    /// receipt proves.
    pub approved_position: Option<u64>,
    /// The last position applied.
    pub position: u64,
}

impl Record for GrantRecord {
    type State = GrantState;

    fn state(&self) -> &GrantState {
        &self.state
    }

    fn apply(&mut self, recorded: &RecordedEvent, event: &Event) {
        let at = Some(recorded.occurred_at);
        match event {
            Event::TemporaryCredentialsIssued(_) => {
                self.issued_at = at;
                self.first_position = recorded.position;
            }
            Event::AuthorizationApproved(_) => {
                self.decided_at = at;
                self.approved_position = Some(recorded.position);
            }
            Event::AuthorizationDenied(_) => self.decided_at = at,
            Event::TokenCredentialsIssued(_) => self.activated_at = at,
            Event::GrantRevoked(_) => self.ended_at = at,
            Event::CredentialsExpired(expired) => self.ended_at = Some(expired.expired_at),
            _ => {}
        }
        self.state = std::mem::take(&mut self.state).evolve(event);
        self.position = recorded.position;
    }
}

impl GrantRecord {
    /// The grant, once issued.
    pub fn grant(&self) -> Option<&Grant> {
        self.state.grant()
    }

    /// The status as recorded, ignoring the clock: what the read models store.
    pub fn recorded_status(&self) -> Option<GrantStatus> {
        self.grant().map(Grant::recorded_status)
    }

    /// The status at `now` and since when it has held.
    pub fn status_at(&self, now: DateTime<Utc>) -> Option<(GrantStatus, DateTime<Utc>)> {
        let status = self.grant()?.status_at(now);
        Some((status, self.since(status)?))
    }

    /// When the grant entered `status` (its current one).
    pub fn since(&self, status: GrantStatus) -> Option<DateTime<Utc>> {
        let grant = self.grant()?;
        let since = match status {
            GrantStatus::Pending => self.issued_at,
            GrantStatus::Authorized | GrantStatus::Denied => self.decided_at,
            GrantStatus::Active => self.activated_at,
            GrantStatus::Revoked => self.ended_at,
            // Recorded, or by the clock: from the expiry instant either way.
            GrantStatus::Expired => self.ended_at.or_else(|| grant.next_expiry().map(|(_, at)| at)),
        };
        since.or(self.issued_at)
    }
}
