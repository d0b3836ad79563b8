//! The shape every aggregate has: decide, then evolve.

/// An aggregate, in the decide/evolve style (after esrs's `Aggregate`): the type is the
/// aggregate's state, built by folding its stream's events, and
///
/// - [`decide`](Aggregate::decide) looks at the state and a command and either refuses
///   the command or says which events happen — it changes nothing;
/// - [`evolve`](Aggregate::evolve) applies one event to the state — it never refuses,
///   because an event is a fact: it already happened.
///
/// Both are pure and synchronous: time and random values arrive inside the command.
pub trait Aggregate: Default + Sized {
    /// What can be asked of it.
    type Command;
    /// What it records.
    type Event;
    /// Why it refuses.
    type Error;

    /// The events that `command` causes in this state, or why it is refused.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// The state after `event`.
    fn evolve(self, event: &Self::Event) -> Self;

    /// The state after all of `events`, from the beginning (replaying a stream).
    fn fold<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        events.into_iter().fold(Self::default(), Self::evolve)
    }

    /// Decides and applies: the state after the command and the events to append, or
    /// the refusal. `self` is left as it was either way.
    fn execute(&self, command: &Self::Command) -> Result<(Self, Vec<Self::Event>), Self::Error>
    where
        Self: Clone,
    {
        let events = self.decide(command)?;
        let state = events.iter().fold(self.clone(), Self::evolve);
        Ok((state, events))
    }
}
