//! The Owner aggregate (`owner-<uuid>`): registration, erasure, and withdrawing a
//! remembered decision.

use crate::aggregate::Aggregate;
use crate::error::DomainError;
use crate::event::{Event, OwnerErased, OwnerRegistered, RememberedConsentWithdrawn};
use crate::ids::{ClientId, OwnerId};

/// What can be asked of an owner's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerCommand {
    /// Register a new owner (her username and password are stored apart, by the caller).
    Register {
        /// The new owner's pseudonymous id.
        owner_id: OwnerId,
    },
    /// Record that her personal data was erased. Erasure is final: the stream accepts
    /// nothing afterwards. Revoking her live grants is the caller's job, one grant
    /// command per grant, before this (see `docs/events.md`).
    Erase,
    /// Withdraw the decision she asked to be remembered for `client_id`: from now on the
    /// client's requests show her the consent page again.
    ///
    /// Remembered decisions are recorded on grant streams, which this aggregate does not
    /// read, so it cannot check that one is live; the caller offers this only where the
    /// projection shows one. Withdrawing twice is harmless and recorded as asked.
    WithdrawRememberedConsent {
        /// The client.
        client_id: ClientId,
    },
}

/// A registered owner as her events describe her.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    owner_id: OwnerId,
    erased: bool,
}

impl Owner {
    /// Her id.
    pub fn owner_id(&self) -> OwnerId {
        self.owner_id
    }

    /// Whether her personal data has been erased.
    pub fn is_erased(&self) -> bool {
        self.erased
    }
}

/// The state of one owner stream: nothing yet, or a registered owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnerState(Option<Owner>);

impl OwnerState {
    /// The owner, if registered.
    pub fn owner(&self) -> Option<&Owner> {
        self.0.as_ref()
    }
}

impl Aggregate for OwnerState {
    type Command = OwnerCommand;
    type Event = Event;
    type Error = DomainError;

    fn decide(&self, command: &OwnerCommand) -> Result<Vec<Event>, DomainError> {
        if let OwnerCommand::Register { owner_id } = command {
            if self.0.is_some() {
                return Err(DomainError::AlreadyExists);
            }
            return Ok(vec![OwnerRegistered { owner_id: *owner_id }.into()]);
        }
        let owner = self.0.as_ref().ok_or(DomainError::UnknownOwner)?;
        if owner.erased {
            return Err(DomainError::OwnerErased);
        }
        let owner_id = owner.owner_id;
        Ok(vec![match command {
            OwnerCommand::Register { .. } => unreachable!("handled above"),
            OwnerCommand::Erase => OwnerErased { owner_id }.into(),
            OwnerCommand::WithdrawRememberedConsent { client_id } => {
                RememberedConsentWithdrawn { owner_id, client_id: *client_id }.into()
            }
        }])
    }

    /// Applies an owner event; anything else leaves the state as it is.
    fn evolve(self, event: &Event) -> Self {
        let Self(owner) = self;
        Self(match (owner, event) {
            (None, Event::OwnerRegistered(registered)) => Some(Owner { owner_id: registered.owner_id, erased: false }),
            (Some(owner), Event::OwnerErased(_)) => Some(Owner { erased: true, ..owner }),
            (owner, _) => owner,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{CLIENT, JANE, given};

    fn registered() -> Event {
        OwnerRegistered { owner_id: JANE }.into()
    }

    fn erased() -> Event {
        OwnerErased { owner_id: JANE }.into()
    }

    #[test]
    fn an_owner_is_registered_once() {
        given::<OwnerState>(&[]).when(OwnerCommand::Register { owner_id: JANE }).then(vec![registered()]);
        given::<OwnerState>(&[registered()])
            .when(OwnerCommand::Register { owner_id: JANE })
            .then_refused(DomainError::AlreadyExists);
    }

    #[test]
    fn commands_need_a_registered_owner() {
        given::<OwnerState>(&[]).when(OwnerCommand::Erase).then_refused(DomainError::UnknownOwner);
        given::<OwnerState>(&[])
            .when(OwnerCommand::WithdrawRememberedConsent { client_id: CLIENT })
            .then_refused(DomainError::UnknownOwner);
    }

    #[test]
    fn an_owner_withdraws_a_remembered_decision() {
        given::<OwnerState>(&[registered()])
            .when(OwnerCommand::WithdrawRememberedConsent { client_id: CLIENT })
            .then(vec![RememberedConsentWithdrawn { owner_id: JANE, client_id: CLIENT }.into()]);
    }

    #[test]
    fn an_owner_is_erased_once_and_then_accepts_nothing() {
        given::<OwnerState>(&[registered()]).when(OwnerCommand::Erase).then(vec![erased()]);
        for command in [OwnerCommand::Erase, OwnerCommand::WithdrawRememberedConsent { client_id: CLIENT }] {
            given::<OwnerState>(&[registered(), erased()]).when(command).then_refused(DomainError::OwnerErased);
        }
        given::<OwnerState>(&[registered(), erased()])
            .when(OwnerCommand::Register { owner_id: JANE })
            .then_refused(DomainError::AlreadyExists);
        assert!(OwnerState::fold(&[registered(), erased()]).owner().unwrap().is_erased());
    }
}
