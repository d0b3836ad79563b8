//! The given/when/then helper and fixtures for the aggregates' unit tests.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::callback::CallbackPattern;
use crate::error::DomainError;
use crate::event::{ClientRegistered, Event};
use crate::ids::{ClientId, GrantId, OwnerId};
use crate::values::{ClientName, ConsumerKey, Fingerprint};

pub const CLIENT: ClientId = ClientId::new(Uuid::from_u128(0xC1));
pub const OTHER_CLIENT: ClientId = ClientId::new(Uuid::from_u128(0xC2));
pub const GRANT: GrantId = GrantId::new(Uuid::from_u128(0x61));
pub const JANE: OwnerId = OwnerId::new(Uuid::from_u128(0x0A));
pub const BOB: OwnerId = OwnerId::new(Uuid::from_u128(0x0B));

/// `minutes` after the story's start, 2026-03-01 12:00 UTC.
pub fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z").unwrap().to_utc() + TimeDelta::minutes(minutes)
}

/// Beppa, as the demo registers it.
pub fn registered() -> Event {
    ClientRegistered {
        client_id: CLIENT,
        consumer_key: ConsumerKey::parse("beppa-demo-key").unwrap(),
        name: ClientName::parse("Beppa Prints").unwrap(),
        homepage: None,
        callbacks: vec![CallbackPattern::parse("http://127.0.0.1:*").unwrap()],
        secret_fingerprint: Fingerprint::of("beppa-demo-secret"),
        rsa_public_key: None,
        notify_url: None,
    }
    .into()
}

/// Given these events happened…
pub fn given<A: Aggregate<Event = Event>>(events: &[Event]) -> Given<A> {
    Given(A::fold(events))
}

pub struct Given<A>(A);

impl<A: Aggregate<Event = Event, Error = DomainError>> Given<A> {
    /// …when this command arrives…
    pub fn when(self, command: impl Into<A::Command>) -> Then {
        Then(self.0.decide(&command.into()))
    }
}

pub struct Then(Result<Vec<Event>, DomainError>);

impl Then {
    /// …then exactly these events happen.
    #[track_caller]
    pub fn then(self, expected: Vec<Event>) {
        assert_eq!(self.0, Ok(expected));
    }

    /// …then the command is refused for this reason.
    #[track_caller]
    pub fn then_refused(self, error: DomainError) {
        assert_eq!(self.0, Err(error));
    }
}
