#![warn(missing_docs)]
//! Current token, grant and client state folded from events: one fold
//! ([`Record::apply`], per stream; [`Projection`], over the log) shared by
//!
//! - the live read models, written in the same transaction as the events that change
//!   them ([`execute`]), so a revocation is in force the moment it commits, in every
//!   process that reads the database;
//! - `grantlog projection rebuild` ([`rebuild`]) and the catch-up from a checkpoint
//!   ([`catch_up`]);
//! - `grantlog audit replay` ([`replay`]): the grants as they stood at any moment.
//!
//! Expiry is decided at read time from the recorded expiry, so correctness needs no
//! background job.
//!
//! May depend on: `grantlog-domain` (the events it folds) and `grantlog-store` (to read
//! them and to write read models in the append's transaction).

mod command;
mod error;
mod fold;
mod rebuild;
mod record;
pub mod replay;
pub mod tables;
#[cfg(feature = "testing")]
pub mod testing;

pub use command::{AlsoWrite, Context, Projected, execute, execute_with};
pub use error::ProjectionError;
pub use fold::{Horizon, Projection};
pub use rebuild::{Refreshed, catch_up, checkpoint, fold, rebuild};
pub use record::{ClientRecord, GrantRecord, OwnerRecord, Record, RegisteredRecord, decode};
