//! grantlog's server tests in one binary: one link instead of one per file. Most run
//! the server in this process (`support::Server::start`, as zero2prod's `spawn_app`) on
//! a fresh database each; the process boundary is kept where it is the point: the CLI,
//! two nodes, signals, per-process metrics, the tracer's environment.

mod support;

mod account;
mod audit_page;
mod browser;
mod checkpoints;
mod cli;
mod client_tokens;
mod cluster;
mod consent;
mod erasure;
mod faults;
mod fuzz;
mod initiate;
mod lifecycle;
mod login;
mod metrics;
mod notices;
mod openapi;
mod operators;
mod photos;
mod receipts;
mod secrets_key;
mod story;
mod telemetry;
mod token;
mod token_states;
