//! The `grantlog` command line: one typed definition (clap), every flag also readable
//! from a `GRANTLOG_*` variable.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use grantlog_domain::Actor;
use secrecy::{ExposeSecret, SecretString};

use crate::background::Signing;
use crate::checkpoints::Checkpointer;
use crate::demo;
use crate::http::Application;
use crate::http::client_address::{ForwardedHeader, TrustedProxies};
use crate::operators::OperatorTokens;
use crate::services::clients::{
    ClientDetailsView, ClientPatch, ClientView, NoticeView, RotatedSecretView, UpdatedClientView,
};
use crate::services::oauth::Checks;
use crate::services::operators::RegisteredClientView;
use crate::services::{NewClient, Services};
use grantlog_projection::replay::{render_json, render_text};
use grantlog_projection::{catch_up, rebuild};

use crate::audit::{Audit, ConsistencyProofView, InclusionProofView, Moment};
use grantlog_store::{ConnectOptions, EventStore, Head, SecretBox, redact_password};

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
    /// The key that seals client and token secrets at rest: 64 hex digits in a file,
    /// created (mode 0600) only for a database that holds no sealed secret yet; a
    /// missing or different key for one that does is refused. Back it up with the
    /// database (docs/operations.md).
    #[arg(long, env = "GRANTLOG_SECRETS_KEY_FILE", default_value = "grantlog.key", global = true)]
    secrets_key_file: std::path::PathBuf,
}

/// Hides the URL's password.
impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field("database_url", &redact_password(&self.database_url))
            .field("secrets_key_file", &self.secrets_key_file)
            .finish()
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Tell the seed story against a server in this process, on a temporary database.
    Demo,
    /// Apply pending database migrations, then bring the read models up to date.
    Migrate,
    /// Check and replay the event log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Maintain the read models folded from the log.
    #[command(subcommand)]
    Projection(ProjectionCommand),
    /// Manage clients (the applications that ask owners for access).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage grants.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Manage resource owners.
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// Manage the key that seals client and token secrets at rest.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Manage the key that signs the log's checkpoints.
    #[command(subcommand)]
    Checkpoint(CheckpointCommand),
}

#[derive(Debug, Subcommand)]
enum CheckpointCommand {
    /// The checkpoint signing key.
    #[command(subcommand)]
    Key(CheckpointKeyCommand),
}

#[derive(Debug, Subcommand)]
enum CheckpointKeyCommand {
    /// Make an Ed25519 key, write it (mode 0600) to a new file, and print the verifier
    /// key auditors check checkpoints with (`name+keyid+base64`).
    Generate {
        /// Where to write the signing key; must not exist.
        #[arg(long)]
        out: std::path::PathBuf,
        /// The log's origin, which names the key and heads every checkpoint: a
        /// schema-less URL unique to this log, e.g. photos.example.com/grantlog.
        /// Default: grantlog/ and 12 random hex digits.
        #[arg(long)]
        origin: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Re-seal every secret under a new key (created when the file does not exist), in
    /// one transaction recorded as an event; then start grantlog with the new key file.
    /// Stop every server first.
    RotateKey {
        /// The new key: 64 hex digits in a file, created (mode 0600) when missing.
        #[arg(long)]
        new_key_file: std::path::PathBuf,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "GRANTLOG_BIND", default_value = "127.0.0.1:8080")]
    bind: std::net::SocketAddr,
    /// The URL clients reach this server by, when a proxy stands in front
    /// (scheme, host, port, any path prefix); clients sign URLs with it.
    #[arg(long, env = "GRANTLOG_PUBLIC_URL")]
    public_url: Option<String>,
    /// A proxy (an address or a CIDR network) whose `Forwarded` / `X-Forwarded-For`
    /// names the client's address, for the login throttle; repeat for several. From
    /// any other peer those headers are ignored.
    #[arg(long = "trusted-proxy", env = "GRANTLOG_TRUSTED_PROXIES", value_delimiter = ',', value_parser = TrustedProxies::parse_network)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// The header the trusted proxies write the client's address in; the other is
    /// ignored, since proxies pass it through as the client wrote it.
    #[arg(long, env = "GRANTLOG_FORWARDED_HEADER", value_enum, default_value = "x-forwarded-for")]
    forwarded_header: ForwardedHeader,
    /// Accepted distance of `oauth_timestamp` from the server's clock, in seconds.
    #[arg(long, env = "GRANTLOG_TIMESTAMP_WINDOW", default_value_t = 300)]
    timestamp_window: u64,
    /// How long temporary credentials stay good for the owner's decision and the
    /// exchange, in seconds.
    #[arg(long, env = "GRANTLOG_REQUEST_TOKEN_TTL", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    request_token_ttl: u32,
    /// Temporary credentials (`POST /oauth/initiate`) one client may ask for in a
    /// minute, on all processes together; beyond it 429 with `Retry-After`.
    #[arg(long, env = "GRANTLOG_INITIATE_LIMIT", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    initiate_limit: u32,
    /// Access tokens whose grant and client rows each process keeps in memory (following
    /// the log, so a revocation is in force at once); past it the cache starts again.
    #[arg(long, env = "GRANTLOG_TOKEN_CACHE_SIZE", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    token_cache_size: u64,
    /// Export a span per request over OTLP/HTTP to this collector (base URL, e.g.
    /// http://127.0.0.1:4318).
    #[arg(long, env = "GRANTLOG_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Seed the story: owner jane (password islay-scotch) with two private photos, and
    /// the client Beppa Prints (key beppa-demo-key, secret beppa-demo-secret); with no
    /// admin or auditor token given, make and print one of each.
    #[arg(long)]
    demo: bool,
    /// The admin API's bearer token (`POST /admin/clients`), at least 32 characters;
    /// without one that API refuses every request.
    #[arg(long, env = "GRANTLOG_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// The auditor API's bearer token (`GET /audit/…`), at least 32 characters; without
    /// one that API refuses every request.
    #[arg(long, env = "GRANTLOG_AUDITOR_TOKEN", hide_env_values = true)]
    auditor_token: Option<String>,
    /// The provider's name: the controller on consent receipts.
    #[arg(long, env = "GRANTLOG_PROVIDER_NAME", default_value = crate::services::DEFAULT_PROVIDER_NAME)]
    provider_name: String,
    /// Sign checkpoints of the log with this key (`grantlog checkpoint key generate`;
    /// not the secrets key). Without it no checkpoint is signed.
    #[arg(long, env = "GRANTLOG_CHECKPOINT_KEY_FILE")]
    checkpoint_key_file: Option<std::path::PathBuf>,
    /// The least time between two checkpoints, in seconds; one is signed only when the
    /// log grew.
    #[arg(long, env = "GRANTLOG_CHECKPOINT_EVERY", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: u64,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client; prints its key and secret, the secret only this once.
    Add {
        /// Its name, shown to owners on the consent page.
        #[arg(long)]
        name: String,
        /// A callback it may use (`oob` is always allowed); repeat for several. A port
        /// may be `*`, e.g. http://127.0.0.1:*.
        #[arg(long = "callback", required = true)]
        callbacks: Vec<String>,
        /// Its homepage, shown on the consent page.
        #[arg(long)]
        homepage: Option<String>,
        /// A PEM file with its RSA public key, for RSA-SHA1.
        #[arg(long)]
        rsa_public_key_file: Option<std::path::PathBuf>,
        /// Where it receives revocation notices (their signing key is printed once).
        #[arg(long)]
        notify_url: Option<String>,
        /// Print JSON: {"client_id", "client_key", "client_secret"}.
        #[arg(long)]
        json: bool,
    },
    /// List clients in key order, as JSON (`GET /admin/clients`).
    List {
        /// Start after this consumer key.
        #[arg(long, default_value = "")]
        after: String,
        /// At most this many (up to 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Show a client and its grants by status, as JSON (`GET /admin/clients/{key}`).
    Show {
        /// Its consumer key.
        #[arg(long)]
        key: String,
    },
    /// Change a client's name, homepage or callbacks (`PATCH /admin/clients/{key}`).
    Update {
        /// Its consumer key.
        #[arg(long)]
        key: String,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// A new homepage.
        #[arg(long, conflicts_with = "no_homepage")]
        homepage: Option<String>,
        /// Remove the homepage.
        #[arg(long)]
        no_homepage: bool,
        /// The callbacks, replacing all of them; repeat for several.
        #[arg(long = "callback")]
        callbacks: Vec<String>,
        /// Where it receives revocation notices (the first one set prints their key).
        #[arg(long, conflicts_with = "no_notify_url")]
        notify_url: Option<String>,
        /// Stop sending it notices.
        #[arg(long)]
        no_notify_url: bool,
    },
    /// Give a client a new secret, printed this once; the old one stops working at once,
    /// or after --grace-seconds (at most seven days).
    RotateSecret {
        /// Its consumer key.
        #[arg(long)]
        key: String,
        /// How long the old secret keeps working beside the new one.
        #[arg(long)]
        grace_seconds: Option<u32>,
    },
    /// Suspend a client: every request it makes is refused; its grants stay as they are.
    Suspend {
        /// Its consumer key.
        #[arg(long)]
        key: String,
        /// Why (shown to owners and in the log).
        #[arg(long)]
        reason: String,
    },
    /// List a client's revocation notices not delivered, as JSON
    /// (`GET /admin/clients/{key}/deliveries`).
    Deliveries {
        /// Its consumer key.
        #[arg(long)]
        key: String,
    },
    /// Resume a suspended client: its grants work again.
    Resume {
        /// Its consumer key.
        #[arg(long)]
        key: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum GrantCommand {
    /// Revoke a grant as the administrator (`POST /admin/grants/{id}/revoke`).
    Revoke {
        /// The grant's id.
        #[arg(long)]
        id: String,
        /// Why (the owner's history shows it).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum OwnerCommand {
    /// Register a resource owner; the password is read from standard input.
    Add {
        /// The login name.
        #[arg(long)]
        username: String,
    },
    /// Erase an owner's personal data (GDPR Art. 17): revoke her live grants, delete her
    /// username, password hash and sessions, record `owner.erased`. The log keeps only
    /// her pseudonymous id, so it still verifies.
    Erase {
        /// Her login name.
        #[arg(long)]
        username: String,
    },
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
    /// The latest signed checkpoint (a C2SP signed note, as served at /audit/checkpoint),
    /// or the one in force at a moment.
    Checkpoint {
        /// The moment, RFC 3339: the largest checkpoint signed at or before it.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
    },
    /// An inclusion proof (--position, with --size or the latest checkpoint's) or a
    /// consistency proof (--from, --to), as JSON.
    Prove(ProveArgs),
    /// Check a CSV export against a signed checkpoint with the log's verifier key: the
    /// signature, the Merkle root and the hash chain. Needs no database.
    VerifyExport {
        /// The export (`grantlog audit export --format csv`).
        #[arg(long)]
        export: std::path::PathBuf,
        /// The signed checkpoint (`grantlog audit checkpoint`, or `GET /audit/checkpoint`).
        #[arg(long)]
        checkpoint: std::path::PathBuf,
        /// The verifier key (`name+keyid+base64`, as `checkpoint key generate` printed it).
        #[arg(long)]
        key: String,
    },
    /// Every event in log order with its whole envelope and chain hash, on standard
    /// output: JSON Lines or CSV.
    Export {
        /// `jsonl` (one JSON object per event) or `csv` (actor and payload as JSON text).
        #[arg(long, value_enum, default_value = "jsonl")]
        format: crate::export::Format,
    },
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

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("proof").required(true).args(["position", "from"])))]
struct ProveArgs {
    /// Prove that the event at this position is in the log.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    position: Option<u64>,
    /// The tree size to prove it in.
    #[arg(long, requires = "position")]
    size: Option<u64>,
    /// Prove that the log of --to events extends the log of this many.
    #[arg(long, requires = "to")]
    from: Option<u64>,
    /// See --from.
    #[arg(long, requires = "from")]
    to: Option<u64>,
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
        // These need no database: the demo brings its own, the others read files.
        match self.command {
            Command::Demo => {
                crate::demo::run().await?;
                return Ok(Outcome::Success);
            }
            Command::Checkpoint(CheckpointCommand::Key(CheckpointKeyCommand::Generate { out, origin })) => {
                let origin = origin.unwrap_or_else(crate::checkpoints::default_origin);
                let verifier = crate::checkpoints::generate_key(&origin, &out)?;
                eprintln!("checkpoint signing key written to {}; give auditors the verifier key:", out.display());
                println!("{verifier}");
                return Ok(Outcome::Success);
            }
            Command::Audit(AuditCommand::VerifyExport { export, checkpoint, key }) => {
                return verify_export_files(&export, &checkpoint, &key);
            }
            _ => {}
        }
        // Only `migrate` may create a SQLite file: auditing a path that does not exist
        // must fail, not audit a new empty log.
        let writes = matches!(
            self.command,
            Command::Serve(_) | Command::Migrate | Command::Client(_) | Command::Owner(_) | Command::Secrets(_)
        );
        let options = ConnectOptions { create_if_missing: writes, ..ConnectOptions::new(&self.database.database_url) };
        let store = EventStore::connect(options).await.context("Failed to open the database")?;
        let outcome = run(&store, &self.database, self.command).await;
        store.close().await;
        outcome
    }

    /// A `serve` command built but not yet serving, without the tracer `serve` installs
    /// for the whole process: tests run it in-process, several at once.
    pub async fn application(self) -> anyhow::Result<Application> {
        let Command::Serve(args) = self.command else { anyhow::bail!("not a serve command") };
        let options = ConnectOptions { create_if_missing: true, ..ConnectOptions::new(&self.database.database_url) };
        let store = EventStore::connect(options).await.context("Failed to open the database")?;
        application(services(store, &self.database).await?, args).await
    }
}

/// Runs a command that needs the database. Long because it is one arm per command, each
/// a call and what it prints: the whole command line reads in one place.
async fn run(store: &EventStore, database: &DatabaseArgs, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Demo | Command::Checkpoint(_) | Command::Audit(AuditCommand::VerifyExport { .. }) => {
            unreachable!("handled before the database is opened")
        }
        Command::Serve(args) => return serve(services(store.clone(), database).await?, args).await,
        Command::Client(command) => return client(&services(store.clone(), database).await?, command).await,
        Command::Grant(GrantCommand::Revoke { id, reason }) => {
            let services = services(store.clone(), database).await?;
            services.revoke_grant_as_admin(&id, &reason, Utc::now()).await.context("Failed to revoke the grant")?;
            println!("grant {id} revoked");
        }
        Command::Owner(OwnerCommand::Add { username }) => {
            return add_owner(&services(store.clone(), database).await?, &username).await;
        }
        Command::Owner(OwnerCommand::Erase { username }) => {
            let services = services(store.clone(), database).await?;
            let erased = services.erase_owner(&username, Utc::now()).await.context("Failed to erase the owner")?;
            println!(
                "owner {} erased: {} live grants revoked; the log names them only as {}",
                username.trim(),
                erased.grants_revoked,
                erased.owner_id
            );
        }
        Command::Secrets(SecretsCommand::RotateKey { new_key_file }) => {
            let services = services(store.clone(), database).await?;
            let new = SecretBox::load_or_create(&new_key_file).context("Failed to load the new key")?;
            let resealed =
                services.rotate_secrets_key(&new, Actor::Admin).await.context("Failed to rotate the secrets key")?;
            println!(
                "re-sealed {resealed} secrets under key {} (was {}); start grantlog with --secrets-key-file {}; \
                 keep the old key only for backups taken before this",
                new.key_id(),
                services.secrets_key_id(),
                new_key_file.display()
            );
        }
        Command::Migrate => {
            store.migrate().await.context("Failed to migrate the database")?;
            let caught_up = catch_up(store).await.context("Failed to bring the read models up to date")?;
            println!("database migrated; read models at position {}", caught_up.position);
        }
        Command::Audit(AuditCommand::Verify { expect_head }) => {
            match Audit::new(store.clone()).verify(expect_head).await.context("Failed to read the event log")? {
                Ok(report) => println!("ok: {} events verified, head {}", report.events, report.head),
                Err(violation) => {
                    eprintln!("grantlog: event log verification failed: {violation}");
                    return Ok(Outcome::Failure);
                }
            }
        }
        Command::Audit(AuditCommand::Checkpoint { as_of }) => {
            match Audit::new(store.clone()).checkpoint(as_of).await? {
                Some(checkpoint) => print!("{}", checkpoint.note),
                None => {
                    eprintln!("grantlog: no checkpoint is signed yet (serve --checkpoint-key-file signs them)");
                    return Ok(Outcome::Failure);
                }
            }
        }
        Command::Audit(AuditCommand::Prove(args)) => println!("{}", prove(store, args).await?),
        Command::Audit(AuditCommand::Head) => {
            println!("{}", Audit::new(store.clone()).head().await.context("Failed to read the chain head")?);
        }
        Command::Audit(AuditCommand::Replay(args)) => print!("{}", replay_grants(store, args).await?),
        Command::Audit(AuditCommand::Export { format }) => {
            Audit::new(store.clone()).export(format, std::io::stdout().lock()).await?;
        }
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

async fn serve(services: Services, args: ServeArgs) -> anyhow::Result<Outcome> {
    let telemetry = crate::telemetry::init(args.otlp_endpoint.as_deref())?;
    let served = serve_traced(services, args).await;
    // Off the runtime's worker: shutting down waits for the exporter's last POST.
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await.context("Failed to flush the last spans")?;
    served
}

async fn serve_traced(services: Services, args: ServeArgs) -> anyhow::Result<Outcome> {
    let application = application(services, args).await?;
    // Tests and scripts read this line to learn the port.
    println!("grantlog listening on http://{}", application.address());
    application.run().await?;
    Ok(Outcome::Success)
}

/// `serve` up to the moment it serves: read models caught up, the demo seeded, the port
/// bound.
async fn application(services: Services, args: ServeArgs) -> anyhow::Result<Application> {
    let most = usize::try_from(args.token_cache_size).unwrap_or(usize::MAX);
    let services = services.with_token_cache(most).with_provider_name(&args.provider_name);
    services.catch_up().await.context("Failed to bring the read models up to date")?;
    if args.demo {
        services.seed_demo().await.context("Failed to seed the demo")?;
        eprintln!(
            "demo: owner {} / {}; client {} / {} (callbacks on http://127.0.0.1:*)",
            demo::OWNER,
            demo::PASSWORD,
            demo::CLIENT_KEY,
            demo::CLIENT_SECRET
        );
    }
    let listener =
        std::net::TcpListener::bind(args.bind).with_context(|| format!("Failed to listen on {}", args.bind))?;
    let checks = Checks {
        timestamp_window: args.timestamp_window,
        request_token_ttl: chrono::TimeDelta::seconds(args.request_token_ttl.into()),
        initiates_per_minute: args.initiate_limit,
        ..Checks::default()
    };
    let operators = operator_tokens(args.demo, args.admin_token, args.auditor_token)?;
    let proxies = TrustedProxies::new(args.trusted_proxies, args.forwarded_header);
    let application = Application::build(listener, services, args.public_url, checks, operators, proxies)
        .context("Failed to start the server")?;
    Ok(match args.checkpoint_key_file {
        Some(path) => application.signing_checkpoints(Signing {
            checkpointer: Checkpointer::load(&path)?,
            every: std::time::Duration::from_secs(args.checkpoint_every),
        }),
        None => application,
    })
}

/// The operators' tokens as given; in demo mode, fresh ones (printed) for those not given.
fn operator_tokens(demo: bool, admin: Option<String>, auditor: Option<String>) -> anyhow::Result<OperatorTokens> {
    let made = |given: Option<String>, role: &str| match given {
        None if demo => {
            let token = crate::services::random_token(32);
            eprintln!("demo: {role} token {token}");
            Some(token)
        }
        given => given,
    };
    let (admin, auditor) = (made(admin, "admin"), made(auditor, "auditor"));
    Ok(OperatorTokens::new(admin.as_deref(), auditor.as_deref())?)
}

/// The use cases, on a migrated database with its secret key.
async fn services(store: EventStore, database: &DatabaseArgs) -> anyhow::Result<Services> {
    store.migrate().await.context("Failed to migrate the database")?;
    let secrets = SecretBox::open_for(&database.secrets_key_file, store.reader())
        .await
        .context("Failed to load the secrets key")?;
    Ok(Services::new(store, secrets))
}

/// `grantlog client …`: the same use cases as the admin API, printing what it answers.
async fn client(services: &Services, command: ClientCommand) -> anyhow::Result<Outcome> {
    let printed = match command {
        ClientCommand::Add { name, callbacks, homepage, rsa_public_key_file, notify_url, json } => {
            return add_client(
                services,
                NewClient { name, callbacks, homepage, rsa_public_key: None, notify_url },
                rsa_public_key_file,
                json,
            )
            .await;
        }
        ClientCommand::List { after, limit } => {
            let clients = services.clients(&after, limit).await.context("Failed to list the clients")?;
            serde_json::to_value(clients.iter().map(ClientView::from).collect::<Vec<_>>())?
        }
        ClientCommand::Show { key } => {
            let details = services.client_details(&key, Utc::now()).await.context("Failed to show the client")?;
            serde_json::to_value(ClientDetailsView::from(&details))?
        }
        ClientCommand::Update { key, name, homepage, no_homepage, callbacks, notify_url, no_notify_url } => {
            let patch = ClientPatch {
                name,
                homepage: if no_homepage { Some(None) } else { homepage.map(Some) },
                callbacks: (!callbacks.is_empty()).then_some(callbacks),
                notify_url: if no_notify_url { Some(None) } else { notify_url.map(Some) },
            };
            if patch.is_empty() {
                anyhow::bail!(
                    "Nothing to change: give --name, --homepage, --no-homepage, --callback, --notify-url or --no-notify-url"
                );
            }
            let updated = services.update_client(&key, patch).await.context("Failed to update the client")?;
            serde_json::to_value(UpdatedClientView::from(&updated))?
        }
        ClientCommand::RotateSecret { key, grace_seconds } => {
            let grace = grace_seconds.map(|seconds| chrono::Duration::seconds(i64::from(seconds)));
            let rotated =
                services.rotate_client_secret(&key, grace, Utc::now()).await.context("Failed to rotate the secret")?;
            serde_json::to_value(RotatedSecretView::from(&rotated))?
        }
        ClientCommand::Suspend { key, reason } => {
            let suspended = services.suspend_client(&key, &reason).await.context("Failed to suspend the client")?;
            serde_json::to_value(ClientView::from(&suspended))?
        }
        ClientCommand::Deliveries { key } => {
            let notices = services.undelivered_notices(&key).await.context("Failed to list the deliveries")?;
            serde_json::to_value(notices.iter().map(NoticeView::from).collect::<Vec<_>>())?
        }
        ClientCommand::Resume { key, reason } => {
            let resumed =
                services.resume_client(&key, reason.as_deref()).await.context("Failed to resume the client")?;
            serde_json::to_value(ClientView::from(&resumed))?
        }
    };
    println!("{}", serde_json::to_string_pretty(&printed)?);
    Ok(Outcome::Success)
}

async fn add_client(
    services: &Services,
    new: NewClient,
    rsa_public_key_file: Option<std::path::PathBuf>,
    json: bool,
) -> anyhow::Result<Outcome> {
    let rsa_public_key = match rsa_public_key_file {
        Some(path) => {
            Some(std::fs::read_to_string(&path).with_context(|| format!("Failed to read {}", path.display()))?)
        }
        None => None,
    };
    let new = NewClient { rsa_public_key, ..new };
    let issued = services.register_client(new, Actor::Admin).await.context("Failed to register the client")?;
    let secret = issued.client_secret.expose_secret();
    let notify_secret = issued.notify_secret.as_ref().map(ExposeSecret::expose_secret);
    if json {
        println!("{}", serde_json::to_string(&RegisteredClientView::from(&issued))?);
    } else {
        println!("client_key: {}\nclient_secret: {secret}", issued.client_key);
        if let Some(notify_secret) = notify_secret {
            println!("notify_secret: {notify_secret}");
        }
        println!("(the secrets are not shown again)");
    }
    Ok(Outcome::Success)
}

async fn add_owner(services: &Services, username: &str) -> anyhow::Result<Outcome> {
    let mut password = String::new();
    std::io::stdin().read_line(&mut password).context("Failed to read the password from standard input")?;
    let password = SecretString::from(password.trim_end_matches(['\n', '\r']).to_owned());
    let owner_id =
        services.register_owner(username, password, Actor::Admin).await.context("Failed to register the owner")?;
    println!("owner {} registered (owner id {owner_id})", username.trim());
    Ok(Outcome::Success)
}

async fn replay_grants(store: &EventStore, args: ReplayArgs) -> anyhow::Result<String> {
    let moment = match (args.as_of, args.position) {
        (Some(as_of), _) => Moment::Time(as_of),
        (None, Some(position)) => Moment::Position(position),
        (None, None) => unreachable!("clap requires --as-of or --position"),
    };
    let grants = Audit::new(store.clone()).replay(moment, args.owner.as_deref(), args.client).await?;
    Ok(if args.json { render_json(&grants) } else { render_text(&grants) })
}

async fn prove(store: &EventStore, args: ProveArgs) -> anyhow::Result<serde_json::Value> {
    let audit = Audit::new(store.clone());
    Ok(match (args.position, args.from, args.to) {
        (Some(position), _, _) => {
            serde_json::to_value(InclusionProofView::from(&audit.inclusion(position, args.size).await?))?
        }
        (None, Some(from), Some(to)) => {
            serde_json::to_value(ConsistencyProofView::new(from, to, &audit.consistency(from, to).await?))?
        }
        _ => unreachable!("clap requires --position, or --from with --to"),
    })
}

fn verify_export_files(export: &std::path::Path, checkpoint: &std::path::Path, key: &str) -> anyhow::Result<Outcome> {
    let key = grantlog_tlog::note::NoteVerifier::parse(key).context("Failed to read the verifier key")?;
    let note = std::fs::read_to_string(checkpoint)
        .with_context(|| format!("Failed to read the checkpoint {}", checkpoint.display()))?;
    let file =
        std::fs::File::open(export).with_context(|| format!("Failed to open the export {}", export.display()))?;
    match crate::verify_export::verify_export(std::io::BufReader::new(file), &note, &key) {
        Ok(verified) => {
            println!(
                "ok: {} events; the first {} make the root {} signed by {}",
                verified.events,
                verified.checkpoint.size,
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, verified.checkpoint.root),
                key.name()
            );
            Ok(Outcome::Success)
        }
        Err(fault) => {
            eprintln!("grantlog: the export does not verify: {fault}");
            Ok(Outcome::Failure)
        }
    }
}
