//! The HTTP edge and the `grantlog` binary: OAuth endpoints, protected resources,
//! resource-owner pages, auditor and admin APIs, OpenTelemetry. Handlers stay thin:
//! parse, call one function of the layers below, map the result.
//!
//! May depend on every other grantlog crate; nothing depends on it.

pub mod audit;
pub mod background;
pub mod checkpoints;
pub mod cli;
pub mod demo;
pub mod expiry;
pub mod export;
pub mod http;
pub mod metrics;
pub mod nonce_ledger;
pub mod notices;
pub mod operators;
pub mod pages;
pub mod photo_lists;
pub mod receipt;
pub mod rsa_keys;
pub mod secret_cache;
pub mod services;
pub mod telemetry;
pub mod timeline;
pub mod token_states;
pub mod usage;
pub mod verify_export;
