//! A grant's history in plain words, from its events: pure, so the wording is tested
//! without a database. The owner reads it on `/account/grants/{id}`; each line keeps
//! the event's log position (its id in `grantlog audit`) for whoever needs it.

use chrono::{DateTime, Utc};
use grantlog_domain::{
    AccessDuration, ConsentMethod, Credentials, Event, GrantRevoked, OwnerId, Permission, Revoker, Scope,
};

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened, in words.
    pub text: String,
    /// The event's log position, or `None` for what is not an event (use counts, an
    /// expiry that is due but not yet recorded).
    pub position: Option<u64>,
}

/// What the history is told from, besides the grant's own events.
#[derive(Debug, Clone, Copy)]
pub struct Telling<'a> {
    /// The owner reading it ("you").
    pub reader: OwnerId,
    /// The client's display name.
    pub client: &'a str,
    /// How many times the access token was used, first and last.
    pub usage: Option<(u64, DateTime<Utc>, DateTime<Utc>)>,
    /// When access ended by the clock, if it has and no event says so yet.
    pub expired_by_clock: Option<DateTime<Utc>>,
    /// The client's own events (its stream), of which those during the grant's life
    /// are told: a suspension, a resumption, a new name.
    pub client_events: &'a [(u64, DateTime<Utc>, Event)],
}

/// The history: the grant's events (with their position and time) and the owner's
/// withdrawals of the decision it remembered, in time order.
pub fn history(events: &[(u64, DateTime<Utc>, Event)], telling: Telling<'_>) -> Vec<Entry> {
    let mut entries: Vec<Entry> = events
        .iter()
        .filter_map(|(position, at, event)| {
            describe(event, telling).map(|text| Entry { at: *at, text, position: Some(*position) })
        })
        .collect();
    if let Some((count, first, last)) = telling.usage {
        let times = if count == 1 { "once".to_owned() } else { format!("{count} times") };
        let text = format!("{} fetched {times}, last at {}", telling.client, clock(last));
        entries.push(Entry { at: first, text, position: None });
    }
    if let Some(at) = telling.expired_by_clock {
        entries.push(Entry { at, text: "Access ran out".to_owned(), position: None });
    }
    let began = events.iter().map(|(position, _, _)| *position).min().unwrap_or(u64::MAX);
    let ended = events.iter().rev().find_map(|(position, _, event)| ends(event).then_some(*position));
    entries.extend(client_changes(telling.client_events, began, ended.unwrap_or(u64::MAX)));
    // Stable: events with the same instant keep their log order.
    entries.sort_by_key(|entry| entry.at);
    entries
}

fn describe(event: &Event, telling: Telling<'_>) -> Option<String> {
    let client = telling.client;
    Some(match event {
        Event::TemporaryCredentialsIssued(issued) => {
            format!("{client} asked for {} to your photos", access(&issued.requested_scope))
        }
        Event::OwnerAuthenticated(_) => "You logged in to answer".to_owned(),
        Event::AuthorizationApproved(approved) => {
            let what = format!(
                "{} to {} for {}",
                access(&approved.scope),
                photo_count(approved.resources.len()),
                duration(approved.duration)
            );
            match approved.method {
                ConsentMethod::ConsentPage if approved.remembered => {
                    format!("You approved {what}, and asked for this decision to be remembered")
                }
                ConsentMethod::ConsentPage => format!("You approved {what}"),
                ConsentMethod::RememberedDecision { .. } => {
                    format!("Your remembered decision approved {what} without asking")
                }
            }
        }
        Event::AuthorizationDenied(_) => "You denied it".to_owned(),
        Event::VerifierIssued(_) => format!("{client} was sent a one-time verifier through your browser"),
        Event::TokenCredentialsIssued(_) => format!("{client} exchanged it for an access token"),
        Event::CredentialsExpired(expired) => match expired.credentials {
            Credentials::RequestToken => "The request expired before it was used".to_owned(),
            Credentials::AccessToken => "Access ran out".to_owned(),
        },
        Event::GrantRevoked(revoked) => revocation(revoked, telling),
        Event::RememberedConsentWithdrawn(_) => "You turned off the remembered decision".to_owned(),
        _ => return None,
    })
}

/// Whether `event` ends the grant.
fn ends(event: &Event) -> bool {
    matches!(event, Event::GrantRevoked(_) | Event::AuthorizationDenied(_) | Event::CredentialsExpired(_))
}

/// What the provider did to the client between positions `began` and `ended`, in words:
/// its name as it was then, so a rename reads "A is now called B".
fn client_changes(events: &[(u64, DateTime<Utc>, Event)], began: u64, ended: u64) -> Vec<Entry> {
    let mut name = String::new();
    let mut entries = Vec::new();
    for (position, at, event) in events {
        let text = match event {
            Event::ClientRegistered(registered) => {
                name = registered.name.to_string();
                None
            }
            Event::ClientUpdated(updated) if updated.name.as_str() != name => {
                let text = format!("{name} is now called {}", updated.name);
                name = updated.name.to_string();
                Some(text)
            }
            Event::ClientSuspended(suspended) => {
                Some(format!("The provider suspended {name}: “{}”. Its access was paused", suspended.reason))
            }
            Event::ClientReinstated(_) => Some(format!("The provider let {name} back: its access worked again")),
            _ => None,
        };
        if let Some(text) = text.filter(|_| (began..=ended).contains(position)) {
            entries.push(Entry { at: *at, text, position: Some(*position) });
        }
    }
    entries
}

fn revocation(revoked: &GrantRevoked, telling: Telling<'_>) -> String {
    let who = match revoked.by {
        Revoker::Owner(owner) if owner == telling.reader => "You revoked it".to_owned(),
        Revoker::Owner(_) => "Its owner revoked it".to_owned(),
        Revoker::Admin => "An administrator revoked it".to_owned(),
        Revoker::Client(_) => format!("{} gave up its access", telling.client),
    };
    match &revoked.reason {
        Some(reason) => format!("{who}: “{reason}”"),
        None => who,
    }
}

/// The kind of access a scope gives, in words.
pub fn access(scope: &Scope) -> &'static str {
    let permissions: Vec<Permission> = scope.permissions().collect();
    match permissions.as_slice() {
        [Permission::PhotosRead] => "read-only access",
        [Permission::PhotosWrite] => "write access",
        _ => "read and write access",
    }
}

/// How long access lasts, in words.
pub fn duration(duration: AccessDuration) -> &'static str {
    match duration {
        AccessDuration::OneHour => "one hour",
        AccessDuration::OneDay => "one day",
        AccessDuration::ThirtyDays => "30 days",
        AccessDuration::UntilRevoked => "as long as you allow",
    }
}

/// "1 photo", "2 photos".
pub fn photo_count(count: usize) -> String {
    if count == 1 { "1 photo".to_owned() } else { format!("{count} photos") }
}

/// A time as the pages show it: `26 Nov 2026, 18:03 UTC`.
pub fn clock(at: DateTime<Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// A read-model timestamp; an unreadable one reads as the earliest instant.
pub fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).map_or(DateTime::<Utc>::MIN_UTC, |at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use grantlog_domain::{
        AuthorizationApproved, ClientId, ConsentText, GrantId, OwnerAuthenticated, Reason, ResourceId,
        TemporaryCredentialsIssued, TokenCredentialsIssued, TokenKey,
    };

    use super::*;

    const JANE: OwnerId = OwnerId::new(uuid::Uuid::from_u128(0x0A));
    const GRANT: GrantId = GrantId::new(uuid::Uuid::from_u128(0x61));
    const BEPPA: ClientId = ClientId::new(uuid::Uuid::from_u128(0xC1));

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        "2026-11-26T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::TimeDelta::minutes(i64::from(hour * 60 + minute))
    }

    fn read() -> Scope {
        Scope::parse("photos:read").unwrap()
    }

    fn approved(remembered: bool, method: ConsentMethod) -> Event {
        AuthorizationApproved {
            grant_id: GRANT,
            owner_id: JANE,
            scope: read(),
            resources: vec![ResourceId::parse("a").unwrap(), ResourceId::parse("b").unwrap()],
            duration: AccessDuration::OneHour,
            approved_at: at(18, 3),
            access_expires_at: Some(at(19, 3)),
            remembered,
            method,
            consent_text: ConsentText::shown("v1", "text").unwrap(),
        }
        .into()
    }

    fn telling(usage: Option<(u64, DateTime<Utc>, DateTime<Utc>)>) -> Telling<'static> {
        Telling { reader: JANE, client: "Beppa Prints", usage, expired_by_clock: None, client_events: &[] }
    }

    fn texts(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|entry| entry.text.as_str()).collect()
    }

    #[test]
    fn the_seed_story_reads_as_the_issue_tells_it() {
        let events = vec![
            (
                1,
                at(18, 2),
                TemporaryCredentialsIssued {
                    grant_id: GRANT,
                    client_id: BEPPA,
                    request_token: TokenKey::parse("request-token").unwrap(),
                    callback: grantlog_domain::Callback::Oob,
                    requested_scope: read(),
                    expires_at: at(18, 12),
                }
                .into(),
            ),
            (2, at(18, 3), OwnerAuthenticated { grant_id: GRANT, owner_id: JANE }.into()),
            (3, at(18, 3), approved(false, ConsentMethod::ConsentPage)),
            (
                5,
                at(18, 4),
                TokenCredentialsIssued {
                    grant_id: GRANT,
                    access_token: TokenKey::parse("access-token").unwrap(),
                    expires_at: Some(at(19, 3)),
                }
                .into(),
            ),
            (9, at(18, 40), GrantRevoked { grant_id: GRANT, by: Revoker::Owner(JANE), reason: None }.into()),
        ];
        let entries = history(&events, telling(Some((3, at(18, 5), at(18, 20)))));
        assert_eq!(
            texts(&entries),
            [
                "Beppa Prints asked for read-only access to your photos",
                "You logged in to answer",
                "You approved read-only access to 2 photos for one hour",
                "Beppa Prints exchanged it for an access token",
                "Beppa Prints fetched 3 times, last at 26 Nov 2026, 18:20 UTC",
                "You revoked it",
            ]
        );
        let positions: Vec<Option<u64>> = entries.iter().map(|entry| entry.position).collect();
        assert_eq!(positions, [Some(1), Some(2), Some(3), Some(5), None, Some(9)]);
    }

    #[test]
    fn remembered_decisions_and_other_revokers_are_named() {
        let remembered = history(&[(3, at(1, 0), approved(true, ConsentMethod::ConsentPage))], telling(None));
        assert_eq!(
            texts(&remembered),
            ["You approved read-only access to 2 photos for one hour, and asked for this decision to be remembered"]
        );
        let applied = ConsentMethod::RememberedDecision { remembered_in: GRANT };
        let applied = history(&[(3, at(1, 0), approved(false, applied))], telling(None));
        assert_eq!(
            texts(&applied),
            ["Your remembered decision approved read-only access to 2 photos for one hour without asking"]
        );
        let reason = Some(Reason::parse("leaked key").unwrap());
        let events = [
            (4, at(2, 0), GrantRevoked { grant_id: GRANT, by: Revoker::Admin, reason }.into()),
            (5, at(3, 0), GrantRevoked { grant_id: GRANT, by: Revoker::Client(BEPPA), reason: None }.into()),
        ];
        assert_eq!(
            texts(&history(&events, telling(Some((1, at(1, 30), at(1, 30)))))),
            [
                "Beppa Prints fetched once, last at 26 Nov 2026, 01:30 UTC",
                "An administrator revoked it: “leaked key”",
                "Beppa Prints gave up its access",
            ]
        );
    }

    #[test]
    fn what_the_provider_did_to_the_client_while_the_grant_lived_is_told() {
        use grantlog_domain::{CallbackPattern, ClientName, ClientRegistered, ClientReinstated, ClientSuspended};
        use grantlog_domain::{ClientUpdated, ConsumerKey, Fingerprint, Reason};
        let beppa = grantlog_domain::ClientId::new(uuid::Uuid::from_u128(2));
        let named = |name: &str| ClientName::parse(name).unwrap();
        let client_events: Vec<(u64, DateTime<Utc>, Event)> = vec![
            (
                1,
                at(0, 0),
                ClientRegistered {
                    client_id: beppa,
                    consumer_key: ConsumerKey::parse("beppa-demo-key").unwrap(),
                    name: named("Beppa Prints"),
                    homepage: None,
                    callbacks: vec![CallbackPattern::parse("http://127.0.0.1:*").unwrap()],
                    secret_fingerprint: Fingerprint::of("s"),
                    rsa_public_key: None,
                    notify_url: None,
                }
                .into(),
            ),
            (5, at(2, 0), ClientSuspended { client_id: beppa, reason: Reason::parse("abuse report").unwrap() }.into()),
            (6, at(3, 0), ClientReinstated { client_id: beppa, reason: None }.into()),
            (
                7,
                at(4, 0),
                ClientUpdated {
                    client_id: beppa,
                    name: named("Beppa Frames"),
                    homepage: None,
                    callbacks: vec![],
                    notify_url: None,
                }
                .into(),
            ),
            (
                12,
                at(9, 0),
                ClientSuspended { client_id: beppa, reason: Reason::parse("after the end").unwrap() }.into(),
            ),
        ];
        // The grant lived from position 3 to its revocation at 10.
        let revoked = || Event::from(GrantRevoked { grant_id: GRANT, by: Revoker::Admin, reason: None });
        let grant_events = vec![(3, at(1, 0), approved(false, ConsentMethod::ConsentPage)), (10, at(8, 0), revoked())];
        let entries = history(&grant_events, Telling { client_events: &client_events, ..telling(None) });
        let told: Vec<&str> = texts(&entries);
        assert!(
            told.contains(&"The provider suspended Beppa Prints: “abuse report”. Its access was paused"),
            "{told:?}"
        );
        assert!(told.contains(&"The provider let Beppa Prints back: its access worked again"), "{told:?}");
        assert!(told.contains(&"Beppa Prints is now called Beppa Frames"), "{told:?}");
        assert!(!told.iter().any(|text| text.contains("after the end")), "only during the grant's life: {told:?}");
        assert!(!told.iter().any(|text| text.contains("registered")), "{told:?}");
    }

    #[test]
    fn an_expiry_due_but_unrecorded_is_told_without_an_event_id() {
        let entries = history(&[], Telling { expired_by_clock: Some(at(19, 3)), ..telling(None) });
        assert_eq!(entries, [Entry { at: at(19, 3), text: "Access ran out".to_owned(), position: None }]);
    }
}
