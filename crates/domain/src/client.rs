//! The Client aggregate (`client-<uuid>`): registration, its profile's changes, secret
//! rotation (with a grace period for the previous secret), suspension.

use chrono::{DateTime, Utc};

use crate::aggregate::Aggregate;
use crate::callback::{Callback, CallbackPattern, Homepage, NotifyUrl};
use crate::error::DomainError;
use crate::event::{ClientRegistered, ClientReinstated, ClientSecretRotated, ClientSuspended, ClientUpdated, Event};
use crate::ids::ClientId;
use crate::values::{ClientName, ConsumerKey, Fingerprint, Reason, RsaPublicKeyPem};

/// What can be asked of a client.
#[derive(Debug, Clone)]
pub enum ClientCommand {
    /// Register a new client. Refused if this client id is already registered. (That
    /// the consumer key is unique across clients is the store's to enforce: it spans
    /// streams.)
    Register {
        /// The new client's id.
        client_id: ClientId,
        /// Its consumer key.
        consumer_key: ConsumerKey,
        /// Its display name.
        name: ClientName,
        /// Its homepage.
        homepage: Option<Homepage>,
        /// The callbacks it may use; none means `oob` only.
        callbacks: Vec<CallbackPattern>,
        /// The fingerprint of the secret the caller generated (and stores apart).
        secret_fingerprint: Fingerprint,
        /// Its RSA public key, if it signs with RSA-SHA1.
        rsa_public_key: Option<RsaPublicKeyPem>,
        /// Where it receives revocation notices, if anywhere.
        notify_url: Option<NotifyUrl>,
    },
    /// Replace the client's secret. Allowed while suspended: a leaked secret is a common
    /// reason to suspend, and rotating it is part of the remedy.
    RotateSecret {
        /// The fingerprint of the new secret.
        secret_fingerprint: Fingerprint,
        /// Until when the current secret keeps working beside the new one; `None`: it
        /// stops at once. A rotation without one ends an earlier grace period; one with
        /// one is refused while an earlier one runs.
        previous_valid_until: Option<DateTime<Utc>>,
        /// When.
        now: DateTime<Utc>,
    },
    /// Change the profile owners see, the callbacks it may use, where it is notified:
    /// each field given replaces the current one, merged with the profile as it is when
    /// decided (so two changes at once both hold). Nothing is recorded if nothing
    /// changes.
    Update {
        /// A new name.
        name: Option<ClientName>,
        /// A new homepage, or `Some(None)` for none.
        homepage: Option<Option<Homepage>>,
        /// New callbacks (none means `oob` only).
        callbacks: Option<Vec<CallbackPattern>>,
        /// A new notification URL, or `Some(None)` for none.
        notify_url: Option<Option<NotifyUrl>>,
    },
    /// Suspend an active client.
    Suspend {
        /// Why.
        reason: Reason,
    },
    /// Reinstate a suspended client.
    Reinstate {
        /// Why, if said.
        reason: Option<Reason>,
    },
}

/// A registered client as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    registration: ClientRegistered,
    profile: Profile,
    secret_fingerprint: Fingerprint,
    previous_secret: Option<(Fingerprint, DateTime<Utc>)>,
    suspension: Option<Reason>,
}

/// What can change of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Profile {
    name: ClientName,
    homepage: Option<Homepage>,
    callbacks: Vec<CallbackPattern>,
    notify_url: Option<NotifyUrl>,
}

impl Client {
    /// Its id.
    pub fn client_id(&self) -> ClientId {
        self.registration.client_id
    }

    /// Its consumer key.
    pub fn consumer_key(&self) -> &ConsumerKey {
        &self.registration.consumer_key
    }

    /// Its display name.
    pub fn name(&self) -> &ClientName {
        &self.profile.name
    }

    /// Its homepage.
    pub fn homepage(&self) -> Option<&Homepage> {
        self.profile.homepage.as_ref()
    }

    /// Its registered callback patterns.
    pub fn callbacks(&self) -> &[CallbackPattern] {
        &self.profile.callbacks
    }

    /// The fingerprint of its current secret.
    pub fn secret_fingerprint(&self) -> &Fingerprint {
        &self.secret_fingerprint
    }

    /// Where it receives revocation notices.
    pub fn notify_url(&self) -> Option<&NotifyUrl> {
        self.profile.notify_url.as_ref()
    }

    /// The previous secret's fingerprint and until when it still works, after a
    /// rotation with a grace period (also once that has passed, until the next rotation).
    pub fn previous_secret(&self) -> Option<(&Fingerprint, DateTime<Utc>)> {
        self.previous_secret.as_ref().map(|(fingerprint, until)| (fingerprint, *until))
    }

    /// Its RSA public key.
    pub fn rsa_public_key(&self) -> Option<&RsaPublicKeyPem> {
        self.registration.rsa_public_key.as_ref()
    }

    /// Whether it is active (not suspended).
    pub fn is_active(&self) -> bool {
        self.suspension.is_none()
    }

    /// Why it is suspended, if it is.
    pub fn suspension_reason(&self) -> Option<&Reason> {
        self.suspension.as_ref()
    }

    /// Whether it may use `callback`: `oob`, or a URL one of its patterns allows.
    pub fn allows_callback(&self, callback: &Callback) -> bool {
        matches!(callback, Callback::Oob) || self.callbacks().iter().any(|pattern| pattern.allows(callback))
    }

    /// What a grant needs to know about it when issuing temporary credentials.
    pub fn snapshot(&self) -> ClientSnapshot {
        ClientSnapshot { client_id: self.client_id(), active: self.is_active(), callbacks: self.callbacks().to_vec() }
    }
}

/// What a grant needs to know about its client, read from the client's state (or the
/// projection) by the caller: a grant never reads another stream itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSnapshot {
    /// The client.
    pub client_id: ClientId,
    /// Whether it is active (not suspended).
    pub active: bool,
    /// Its registered callback patterns.
    pub callbacks: Vec<CallbackPattern>,
}

/// The state of one client stream: nothing yet, or a registered client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientState(Option<Client>);

impl ClientState {
    /// The client, if registered.
    pub fn client(&self) -> Option<&Client> {
        self.0.as_ref()
    }

    /// The client's snapshot, if registered.
    pub fn snapshot(&self) -> Option<ClientSnapshot> {
        self.0.as_ref().map(Client::snapshot)
    }
}

impl Aggregate for ClientState {
    type Command = ClientCommand;
    type Event = Event;
    type Error = DomainError;

    // Long because it is one match over the commands, each its rule and its event.
    fn decide(&self, command: &ClientCommand) -> Result<Vec<Event>, DomainError> {
        if let ClientCommand::Register {
            client_id,
            consumer_key,
            name,
            homepage,
            callbacks,
            secret_fingerprint,
            rsa_public_key,
            notify_url,
        } = command
        {
            if self.0.is_some() {
                return Err(DomainError::AlreadyExists);
            }
            return Ok(vec![
                ClientRegistered {
                    client_id: *client_id,
                    consumer_key: consumer_key.clone(),
                    name: name.clone(),
                    homepage: homepage.clone(),
                    callbacks: callbacks.clone(),
                    secret_fingerprint: *secret_fingerprint,
                    rsa_public_key: rsa_public_key.clone(),
                    notify_url: notify_url.clone(),
                }
                .into(),
            ]);
        }
        let client = self.0.as_ref().ok_or(DomainError::UnknownClient)?;
        let client_id = client.client_id();
        let event: Event = match command {
            ClientCommand::Register { .. } => unreachable!("handled above"),
            ClientCommand::RotateSecret { secret_fingerprint, previous_valid_until, now } => {
                if previous_valid_until.is_some() && client.previous_secret().is_some_and(|(_, until)| *now < until) {
                    return Err(DomainError::GracePeriodRunning);
                }
                ClientSecretRotated {
                    client_id,
                    secret_fingerprint: *secret_fingerprint,
                    previous_valid_until: *previous_valid_until,
                }
                .into()
            }
            ClientCommand::Update { name, homepage, callbacks, notify_url } => {
                let current = &client.profile;
                let profile = Profile {
                    name: name.clone().unwrap_or_else(|| current.name.clone()),
                    homepage: homepage.clone().unwrap_or_else(|| current.homepage.clone()),
                    callbacks: callbacks.clone().unwrap_or_else(|| current.callbacks.clone()),
                    notify_url: notify_url.clone().unwrap_or_else(|| current.notify_url.clone()),
                };
                if profile == client.profile {
                    return Ok(Vec::new());
                }
                ClientUpdated {
                    client_id,
                    name: profile.name,
                    homepage: profile.homepage,
                    callbacks: profile.callbacks,
                    notify_url: profile.notify_url,
                }
                .into()
            }
            ClientCommand::Suspend { reason } => {
                if !client.is_active() {
                    return Err(DomainError::ClientAlreadySuspended);
                }
                ClientSuspended { client_id, reason: reason.clone() }.into()
            }
            ClientCommand::Reinstate { reason } => {
                if client.is_active() {
                    return Err(DomainError::ClientNotSuspended);
                }
                ClientReinstated { client_id, reason: reason.clone() }.into()
            }
        };
        Ok(vec![event])
    }

    /// Applies a client event. Events of other kinds, and client events before the
    /// registration, leave the state as it is: evolve never fails.
    fn evolve(self, event: &Event) -> Self {
        let Self(client) = self;
        Self(match (client, event) {
            (None, Event::ClientRegistered(registered)) => Some(Client {
                registration: registered.clone(),
                profile: Profile {
                    name: registered.name.clone(),
                    homepage: registered.homepage.clone(),
                    callbacks: registered.callbacks.clone(),
                    notify_url: registered.notify_url.clone(),
                },
                secret_fingerprint: registered.secret_fingerprint,
                previous_secret: None,
                suspension: None,
            }),
            (Some(client), Event::ClientSecretRotated(rotated)) => Some(Client {
                previous_secret: rotated.previous_valid_until.map(|until| (client.secret_fingerprint, until)),
                secret_fingerprint: rotated.secret_fingerprint,
                ..client
            }),
            (Some(client), Event::ClientUpdated(updated)) => Some(Client {
                profile: Profile {
                    name: updated.name.clone(),
                    homepage: updated.homepage.clone(),
                    callbacks: updated.callbacks.clone(),
                    notify_url: updated.notify_url.clone(),
                },
                ..client
            }),
            (Some(client), Event::ClientSuspended(suspended)) => {
                Some(Client { suspension: Some(suspended.reason.clone()), ..client })
            }
            (Some(client), Event::ClientReinstated(_)) => Some(Client { suspension: None, ..client }),
            (client, _) => client,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CLIENT, given, registered};

    fn suspended() -> Event {
        ClientSuspended { client_id: CLIENT, reason: Reason::parse("leaked key").unwrap() }.into()
    }

    fn register_command() -> ClientCommand {
        let Event::ClientRegistered(registered) = registered() else { unreachable!() };
        ClientCommand::Register {
            client_id: registered.client_id,
            consumer_key: registered.consumer_key,
            name: registered.name,
            homepage: registered.homepage,
            callbacks: registered.callbacks,
            secret_fingerprint: registered.secret_fingerprint,
            rsa_public_key: registered.rsa_public_key,
            notify_url: registered.notify_url,
        }
    }

    #[test]
    fn a_new_client_is_registered() {
        given::<ClientState>(&[]).when(register_command()).then(vec![registered()]);
    }

    #[test]
    fn a_client_is_registered_once() {
        given::<ClientState>(&[registered()]).when(register_command()).then_refused(DomainError::AlreadyExists);
    }

    #[test]
    fn commands_need_a_registered_client() {
        for command in [
            rotate("new", None),
            ClientCommand::Update {
                name: Some(ClientName::parse("n").unwrap()),
                homepage: None,
                callbacks: None,
                notify_url: None,
            },
            ClientCommand::Suspend { reason: Reason::parse("why").unwrap() },
            ClientCommand::Reinstate { reason: None },
        ] {
            given::<ClientState>(&[]).when(command).then_refused(DomainError::UnknownClient);
        }
    }

    fn rotate(secret: &str, previous_valid_until: Option<DateTime<Utc>>) -> ClientCommand {
        let now = "2026-03-01T12:00:00Z".parse().unwrap();
        ClientCommand::RotateSecret { secret_fingerprint: Fingerprint::of(secret), previous_valid_until, now }
    }

    fn rotated(secret: &str, previous_valid_until: Option<DateTime<Utc>>) -> Event {
        ClientSecretRotated { client_id: CLIENT, secret_fingerprint: Fingerprint::of(secret), previous_valid_until }
            .into()
    }

    #[test]
    fn the_secret_rotates_and_the_old_one_stops_matching() {
        given::<ClientState>(&[registered()]).when(rotate("new-secret", None)).then(vec![rotated("new-secret", None)]);
        let state = ClientState::fold(&[registered(), rotated("new-secret", None)]);
        let client = state.client().unwrap();
        assert!(client.secret_fingerprint().matches("new-secret"));
        assert!(!client.secret_fingerprint().matches("beppa-demo-secret"));
        assert_eq!(client.previous_secret(), None, "no grace period: the old one is gone");
    }

    #[test]
    fn with_a_grace_period_the_previous_secret_is_kept_until_the_next_rotation() {
        let until = "2026-03-01T13:00:00Z".parse::<DateTime<Utc>>().unwrap();
        given::<ClientState>(&[registered()])
            .when(rotate("new-secret", Some(until)))
            .then(vec![rotated("new-secret", Some(until))]);
        let state = ClientState::fold(&[registered(), rotated("new-secret", Some(until))]);
        let (previous, kept_until) = state.client().unwrap().previous_secret().unwrap();
        assert!(previous.matches("beppa-demo-secret"));
        assert_eq!(kept_until, until);
        let again = ClientState::fold(&[registered(), rotated("new-secret", Some(until)), rotated("third", None)]);
        assert_eq!(again.client().unwrap().previous_secret(), None, "a rotation ends an earlier grace period");
        // Another grace period while this one runs would end the secret still in use.
        given::<ClientState>(&[registered(), rotated("new-secret", Some(until))])
            .when(rotate("third", Some(until)))
            .then_refused(DomainError::GracePeriodRunning);
        let ran_out = "2026-03-01T11:00:00Z".parse::<DateTime<Utc>>().unwrap();
        given::<ClientState>(&[registered(), rotated("new-secret", Some(ran_out))])
            .when(rotate("third", Some(until)))
            .then(vec![rotated("third", Some(until))]);
    }

    #[test]
    fn a_suspended_client_may_still_rotate_its_secret() {
        given::<ClientState>(&[registered(), suspended()])
            .when(rotate("new-secret", None))
            .then(vec![rotated("new-secret", None)]);
    }

    #[test]
    fn the_profile_changes_whole_and_an_unchanged_one_records_nothing() {
        let state = ClientState::fold(&[registered()]);
        let client = state.client().unwrap();
        let same = ClientCommand::Update {
            name: Some(client.name().clone()),
            homepage: None,
            callbacks: Some(client.callbacks().to_vec()),
            notify_url: Some(None),
        };
        given::<ClientState>(&[registered()]).when(same).then(vec![]);
        let renamed = ClientCommand::Update {
            name: Some(ClientName::parse("Beppa Prints & Frames").unwrap()),
            homepage: Some(None),
            callbacks: Some(vec![]),
            notify_url: Some(Some(NotifyUrl::parse("https://beppa.example/notices").unwrap())),
        };
        let updated: Event = ClientUpdated {
            client_id: CLIENT,
            name: ClientName::parse("Beppa Prints & Frames").unwrap(),
            homepage: None,
            callbacks: vec![],
            notify_url: Some(NotifyUrl::parse("https://beppa.example/notices").unwrap()),
        }
        .into();
        given::<ClientState>(&[registered()]).when(renamed).then(vec![updated.clone()]);
        let state = ClientState::fold(&[registered(), updated]);
        let client = state.client().unwrap();
        assert_eq!(client.name().as_str(), "Beppa Prints & Frames");
        assert_eq!(client.homepage(), None);
        assert_eq!(client.notify_url().map(NotifyUrl::as_str), Some("https://beppa.example/notices"));
        // A field not given keeps its value: two changes decided one after the other both hold.
        let homepage = Homepage::parse("https://beppa.example/").unwrap();
        let only_homepage = ClientCommand::Update {
            name: None,
            homepage: Some(Some(homepage.clone())),
            callbacks: None,
            notify_url: None,
        };
        let events = state.decide(&only_homepage).unwrap();
        let state = events.iter().fold(state, ClientState::evolve);
        let client = state.client().unwrap();
        assert_eq!((client.name().as_str(), client.homepage()), ("Beppa Prints & Frames", Some(&homepage)));
        assert!(!client.allows_callback(&Callback::parse("http://127.0.0.1:5000/cb").unwrap()), "callbacks replaced");
        assert!(client.allows_callback(&Callback::Oob));
    }

    #[test]
    fn an_active_client_is_suspended_with_a_reason() {
        given::<ClientState>(&[registered()])
            .when(ClientCommand::Suspend { reason: Reason::parse("leaked key").unwrap() })
            .then(vec![suspended()]);
        let state = ClientState::fold(&[registered(), suspended()]);
        let client = state.client().unwrap();
        assert!(!client.is_active());
        assert_eq!(client.suspension_reason().unwrap().as_str(), "leaked key");
        assert!(!state.snapshot().unwrap().active);
    }

    #[test]
    fn a_suspended_client_is_not_suspended_again() {
        given::<ClientState>(&[registered(), suspended()])
            .when(ClientCommand::Suspend { reason: Reason::parse("again").unwrap() })
            .then_refused(DomainError::ClientAlreadySuspended);
    }

    #[test]
    fn a_suspended_client_is_reinstated() {
        given::<ClientState>(&[registered(), suspended()])
            .when(ClientCommand::Reinstate { reason: None })
            .then(vec![ClientReinstated { client_id: CLIENT, reason: None }.into()]);
        let state = ClientState::fold(&[
            registered(),
            suspended(),
            ClientReinstated { client_id: CLIENT, reason: None }.into(),
        ]);
        assert!(state.client().unwrap().is_active());
    }

    #[test]
    fn an_active_client_is_not_reinstated() {
        given::<ClientState>(&[registered()])
            .when(ClientCommand::Reinstate { reason: None })
            .then_refused(DomainError::ClientNotSuspended);
    }

    #[test]
    fn the_client_allows_oob_and_its_registered_callbacks_only() {
        let state = ClientState::fold(&[registered()]);
        let client = state.client().unwrap();
        assert!(client.allows_callback(&Callback::Oob));
        assert!(client.allows_callback(&Callback::parse("http://127.0.0.1:5000/cb").unwrap()));
        assert!(!client.allows_callback(&Callback::parse("http://evil.example/cb").unwrap()));
    }
}
