//! grantlog's rules, pure: the event catalogue, the commands, and the aggregates (Client
//! and Grant) that decide which events a command produces — expiry, scope narrowing,
//! verifier checks, who may revoke what. No I/O and no clock: time and randomness come
//! in with each command.
//!
//! May depend on: `grantlog-oauth1` (for its protocol types) and nothing else of ours.
//! The event catalogue and aggregates arrive with issue #3 (`docs/events.md`).
