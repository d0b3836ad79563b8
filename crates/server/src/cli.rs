//! The `grantlog` command line: one typed definition (clap), every flag also readable
//! from a `GRANTLOG_*` variable.

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use grantlog_domain::OwnerId;
use grantlog_projection::replay::{Filter, render_json, render_text, replay};
use grantlog_projection::{Horizon, catch_up, fold, rebuild};
use grantlog_store::{ConnectOptions, EventStore, Head, profiles, redact_password};

/// grantlog: an event-sourced OAuth 1.0a authorization server.
#[derive(Debug, Parser)]
#[command(name = "grantlog", version, about)]
pub struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DatabaseArgs {
    /// sqlite://FILE or postgres://…
    #[arg(long, env = "GRANTLOG_DATABASE_URL", default_value = "sqlite://grantlog.db", global = true)]
    database_url: String,
}

/// Hides the URL's password.
impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs").field("database_url", &redact_password(&self.database_url)).finish()
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations, then bring the read models up to date.
    Migrate,
    /// Check and replay the event log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Maintain the read models folded from the log.
    #[command(subcommand)]
    Projection(ProjectionCommand),
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
    /// The grants as they stood at a moment: owner, client, scope, resources, status
    /// and since when.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("moment").required(true).args(["as_of", "position"])))]
struct ReplayArgs {
    /// The moment, RFC 3339 (e.g. 2026-11-25T18:30:00Z): events recorded at or before it.
    #[arg(long)]
    as_of: Option<DateTime<Utc>>,
    /// The moment as a log position: events up to and including it.
    #[arg(long)]
    position: Option<u64>,
    /// Only this owner's grants: a username, or an owner id (for erased owners).
    #[arg(long)]
    owner: Option<String>,
    /// Only this client's grants, by consumer key.
    #[arg(long)]
    client: Option<String>,
    /// A JSON array instead of tab-separated lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum ProjectionCommand {
    /// Re-fold every read model from position 0 and replace its rows.
    Rebuild,
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
        let outcome = run(&store, self.command).await;
        store.close().await;
        outcome
    }
}

async fn run(store: &EventStore, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Migrate => {
            store.migrate().await.context("Failed to migrate the database")?;
            let caught_up = catch_up(store).await.context("Failed to bring the read models up to date")?;
            println!("database migrated; read models at position {}", caught_up.position);
        }
        Command::Audit(AuditCommand::Verify { expect_head }) => {
            match store.verify_chain(expect_head).await.context("Failed to read the event log")? {
                Ok(report) => println!("ok: {} events verified, head {}", report.events, report.head),
                Err(violation) => {
                    eprintln!("grantlog: event log verification failed: {violation}");
                    return Ok(Outcome::Failure);
                }
            }
        }
        Command::Audit(AuditCommand::Head) => {
            println!("{}", store.head().await.context("Failed to read the chain head")?);
        }
        Command::Audit(AuditCommand::Replay(args)) => print!("{}", replay_grants(store, args).await?),
        Command::Projection(ProjectionCommand::Rebuild) => {
            let rebuilt = rebuild(store).await.context("Failed to rebuild the read models")?;
            println!(
                "read models rebuilt from {} events: {} rows, at position {}",
                rebuilt.events, rebuilt.rows, rebuilt.position
            );
        }
    }
    Ok(Outcome::Success)
}

async fn replay_grants(store: &EventStore, args: ReplayArgs) -> anyhow::Result<String> {
    let (horizon, at) = match (args.as_of, args.position) {
        (Some(as_of), _) => (Horizon::Time(as_of), as_of),
        (None, Some(position)) => {
            let head = store.head().await.context("Failed to read the chain head")?;
            if position > head.position {
                bail!("position {position} is past the end of the log ({})", head.position);
            }
            // A position's moment is when its event was recorded.
            let at = match position {
                0 => DateTime::<Utc>::MIN_UTC,
                _ => store.read_from(position - 1, 1).await.context("Failed to read the event log")?[0].occurred_at,
            };
            (Horizon::Position(position), at)
        }
        (None, None) => unreachable!("clap requires --as-of or --position"),
    };
    let owner = match args.owner {
        Some(owner) => Some(resolve_owner(store, &owner).await?),
        None => None,
    };
    let projection = fold(store, horizon).await.context("Failed to replay the event log")?;
    let grants = replay(&projection, at, &Filter { owner, client_key: args.client });
    Ok(if args.json { render_json(&grants) } else { render_text(&grants) })
}

/// An owner id given as such, or looked up by username (erased owners have none).
async fn resolve_owner(store: &EventStore, owner: &str) -> anyhow::Result<OwnerId> {
    if let Ok(id) = owner.parse::<uuid::Uuid>() {
        return Ok(OwnerId::new(id));
    }
    match profiles::find_owner_by_username(store.reader(), owner).await.context("Failed to look up the owner")? {
        Some(profile) => Ok(OwnerId::new(profile.owner_id)),
        None => bail!("no owner named {owner:?} (an erased owner is found by owner id only)"),
    }
}
