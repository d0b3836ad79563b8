//! The `grantlog` command line: one typed definition (clap), every flag also readable
//! from a `GRANTLOG_*` variable.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use grantlog_store::{ConnectOptions, EventStore, Head};

/// grantlog: an event-sourced OAuth 1.0a authorization server.
#[derive(Debug, Parser)]
#[command(name = "grantlog", version, about)]
pub struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// sqlite://FILE or postgres://…
    #[arg(long, env = "GRANTLOG_DATABASE_URL", default_value = "sqlite://grantlog.db", global = true)]
    database_url: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations.
    Migrate,
    /// Check the event log's integrity.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the whole hash chain; exit non-zero naming the first bad position.
    Verify {
        /// A head recorded earlier (`grantlog audit head`), as POSITION:HASH: proves
        /// the log still contains it, which catches a truncated tail.
        #[arg(long)]
        expect_head: Option<Head>,
    },
    /// Print the chain's head (POSITION:HASH), to record somewhere the database's
    /// administrators cannot write.
    Head,
}

/// How a command that ran ended: an integrity failure is a result, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1, the reason already printed.
    Failure,
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<Outcome> {
        // Only `migrate` may create a SQLite file: auditing a path that does not exist
        // must fail, not audit a new empty log.
        let options = ConnectOptions {
            create_if_missing: matches!(self.command, Command::Migrate),
            ..ConnectOptions::new(&self.database.database_url)
        };
        let store = EventStore::connect(options).await.context("Failed to open the database")?;
        let outcome = match self.command {
            Command::Migrate => {
                store.migrate().await.context("Failed to migrate the database")?;
                println!("database migrated");
                Outcome::Success
            }
            Command::Audit(AuditCommand::Verify { expect_head }) => {
                match store.verify_chain(expect_head).await.context("Failed to read the event log")? {
                    Ok(report) => {
                        println!("ok: {} events verified, head {}", report.events, report.head);
                        Outcome::Success
                    }
                    Err(violation) => {
                        eprintln!("grantlog: event log verification failed: {violation}");
                        Outcome::Failure
                    }
                }
            }
            Command::Audit(AuditCommand::Head) => {
                println!("{}", store.head().await.context("Failed to read the chain head")?);
                Outcome::Success
            }
        };
        store.close().await;
        Ok(outcome)
    }
}
