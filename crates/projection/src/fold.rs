//! The fold over the whole log: every stream's record, keyed by id. The live read models,
//! `grantlog projection rebuild` and `grantlog audit replay` are all this one fold; they
//! differ only in how far they read and where they put the result.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use grantlog_domain::{ClientId, GrantId, OwnerId};
use grantlog_store::RecordedEvent;

use crate::error::ProjectionError;
use crate::record::{ClientRecord, GrantRecord, OwnerRecord, Record, decode};
use crate::tables::{ClientRow, GrantRow, OwnerRow, Tables};

/// Which events a fold takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Horizon {
    /// Every event.
    Everything,
    /// Events at or before this position.
    Position(u64),
    /// Events that occurred at or before this instant (by their recorded time, whatever
    /// their position: several processes' clocks may disagree by a little).
    Time(DateTime<Utc>),
}

impl Horizon {
    /// Whether `event` lies within the horizon.
    pub fn includes(&self, event: &RecordedEvent) -> bool {
        match *self {
            Self::Everything => true,
            Self::Position(position) => event.position <= position,
            Self::Time(at) => event.occurred_at <= at,
        }
    }
}

/// Every stream's record, folded from the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    position: u64,
    events: u64,
    clients: BTreeMap<ClientId, ClientRecord>,
    owners: BTreeMap<OwnerId, OwnerRecord>,
    grants: BTreeMap<GrantId, GrantRecord>,
}

impl Projection {
    /// Folds in one recorded event.
    pub fn apply(&mut self, recorded: &RecordedEvent) -> Result<(), ProjectionError> {
        let event = decode(recorded)?;
        let stream = recorded.stream_id.as_str();
        if let Some(id) = GrantId::from_stream_id(stream) {
            self.grants.entry(id).or_default().apply(recorded, &event);
        } else if let Some(id) = ClientId::from_stream_id(stream) {
            self.clients.entry(id).or_default().apply(recorded, &event);
        } else if let Some(id) = OwnerId::from_stream_id(stream) {
            self.owners.entry(id).or_default().apply(recorded, &event);
        }
        self.position = recorded.position;
        self.events += 1;
        Ok(())
    }

    /// The last position folded in.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// How many events were folded in.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Every client's record.
    pub fn clients(&self) -> &BTreeMap<ClientId, ClientRecord> {
        &self.clients
    }

    /// Every owner's record.
    pub fn owners(&self) -> &BTreeMap<OwnerId, OwnerRecord> {
        &self.owners
    }

    /// Every grant's record.
    pub fn grants(&self) -> &BTreeMap<GrantId, GrantRecord> {
        &self.grants
    }

    /// The read-model rows this state gives, sorted as [`Tables::read`] returns them.
    pub fn tables(&self) -> Tables {
        let mut tables = Tables {
            clients: self.clients.values().filter_map(ClientRow::of).collect(),
            owners: self.owners.values().filter_map(OwnerRow::of).collect(),
            grants: self.grants.values().filter_map(GrantRow::of).collect(),
        };
        // Ids sort as text in SQL; BTreeMap order is by UUID bytes, which agrees, but
        // sorting here keeps the guarantee independent of that.
        tables.clients.sort_by_key(|row| row.client_id);
        tables.owners.sort_by(|a, b| a.owner_id.cmp(&b.owner_id));
        tables.grants.sort_by_key(|row| row.grant_id);
        tables
    }
}
