#![warn(missing_docs)]
//! grantlog's rules, pure: the event catalogue, the commands, and the aggregates (Client
//! and Grant) that decide which events a command produces — expiry, scope narrowing,
//! verifier checks, who may revoke what. No I/O and no clock: time and randomness come
//! in with each command.
//!
//! May depend on: nothing else of grantlog's. See `docs/events.md` for the catalogue.

mod actor;

pub use actor::Actor;
