//! The use cases: what each caller asks of grantlog, apart from HTTP and the command
//! line, grouped by who calls them.
//!
//! - OAuth clients: [`signed`] (the one way a signed request is checked) and [`oauth`]
//!   (temporary credentials, the exchange).
//! - Resource owners: [`login`] (passwords, the lockout, sessions), [`consent`] (the
//!   decision on a client's request), [`account`] (her grants, their history,
//!   revoking) and [`receipts`] (hers, and any for auditors).
//! - Operators: [`operators`] (registering clients and owners, the secrets key, the
//!   demo's data).
//! - Auditors: [`crate::audit`], which needs the log alone (no secrets key), so that
//!   `grantlog audit` runs where the key is not.
//!
//! [`Services`] holds what they share; its fields are private to these modules, so
//! handlers reach the store only through a use case.

pub mod account;
pub mod clients;
pub mod consent;
pub mod login;
pub mod oauth;
pub mod operators;
pub mod receipts;
pub mod signed;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use grantlog_domain::{MIN_PASSWORD_LEN, ValueError};
use grantlog_projection::ProjectionError;
use grantlog_store::{EventStore, SecretBox, StoreError};
use secrecy::{ExposeSecret, SecretString};

use crate::audit::Audit;
use crate::background::{Background, Signing};
use crate::nonce_ledger::{LedgerError, NonceLedger};
use crate::photo_lists::PhotoLists;
use crate::rsa_keys::RsaKeys;
use crate::secret_cache::SecretCache;
use crate::token_states::TokenStates;
use crate::usage::UsageCounter;

pub use operators::{Erased, IssuedClient, NewClient, client_secret_id};

/// The controller a consent receipt names when no provider name is configured.
pub const DEFAULT_PROVIDER_NAME: &str = "grantlog";

/// Why a use case was refused or failed. Messages carry no secret.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// An input is not valid; the error names which.
    #[error(transparent)]
    Invalid(#[from] ValueError),
    /// A username that is empty, too long or has control characters.
    #[error("username must be 1 to 64 printable characters")]
    InvalidUsername,
    /// An RSA public key whose armour is fine but whose content is no usable key.
    #[error("rsa_public_key: not a usable RSA public key (PEM, SubjectPublicKeyInfo or PKCS#1)")]
    UnusableRsaKey,
    /// A key rotation to the key already in use.
    #[error("the new key is the key in use")]
    SameKey,
    /// A key rotation with no secret sealed yet: nothing to re-seal.
    #[error("no secret is sealed yet: start grantlog with the new key file instead")]
    NothingSealed,
    /// A password too short to be worth hashing.
    #[error("password must be at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    /// The username is taken.
    #[error("username already taken")]
    UsernameTaken,
    /// No owner has this username (an erased owner has none).
    #[error("no owner has that username")]
    UnknownUsername,
    /// The domain or the projection refused.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// Hashing the password failed.
    #[error("hashing the password failed")]
    Hashing,
    /// Stored data that cannot be read back.
    #[error("unreadable stored data: {0}")]
    Corrupt(String),
    /// A request's nonce could not be recorded.
    #[error(transparent)]
    Nonces(#[from] LedgerError),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        Self::Projection(error.into())
    }
}

/// What the use cases share: the store, the secrets key, and what this process keeps in
/// memory.
#[derive(Debug, Clone)]
pub struct Services {
    store: EventStore,
    secrets: SecretBox,
    /// Use counts not yet written.
    usage: Arc<UsageCounter>,
    /// Secrets already unsealed by this process.
    unsealed: Arc<SecretCache>,
    /// Clients' RSA public keys already parsed by this process.
    rsa_keys: Arc<RsaKeys>,
    /// Owners' photo lists already read by this process.
    photo_lists: Arc<PhotoLists>,
    /// Access tokens' grant and client rows kept by this process, following the log.
    token_states: Arc<TokenStates>,
    /// Permits for password checks running at once: argon2 takes tens of milliseconds
    /// of a core and its memory, so beyond about one per core a login is turned away
    /// (503) rather than queued.
    password_checks: Arc<tokio::sync::Semaphore>,
    /// Where signed requests record their nonces.
    nonces: NonceLedger,
    /// The provider's name, the controller on consent receipts.
    provider_name: Arc<str>,
}

pub(crate) fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(buffer)
}

impl Services {
    /// The use cases on `store`, sealing secrets with `secrets`. Starts the task that
    /// records nonces on the current Tokio runtime.
    pub fn new(store: EventStore, secrets: SecretBox) -> Self {
        let nonces = NonceLedger::start(store.clone());
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self {
            store,
            secrets,
            usage: Arc::default(),
            unsealed: Arc::default(),
            rsa_keys: Arc::default(),
            photo_lists: Arc::default(),
            token_states: Arc::default(),
            password_checks: Arc::new(tokio::sync::Semaphore::new(cores.max(2))),
            nonces,
            provider_name: Arc::from(DEFAULT_PROVIDER_NAME),
        }
    }

    /// Names the provider on consent receipts.
    #[must_use]
    pub fn with_provider_name(mut self, name: &str) -> Self {
        self.provider_name = Arc::from(name);
        self
    }

    /// Keeps at most `most` access tokens' state in memory (the default is 100,000).
    #[must_use]
    pub fn with_token_cache(mut self, most: usize) -> Self {
        self.token_states = Arc::new(TokenStates::new(most));
        self
    }

    /// Brings the read models up to the log's head (before serving).
    pub async fn catch_up(&self) -> Result<(), ProjectionError> {
        grantlog_projection::catch_up(&self.store).await.map(drop)
    }

    /// The id of the key secrets are sealed with.
    pub fn secrets_key_id(&self) -> &str {
        self.secrets.key_id()
    }

    /// What auditors may ask of the same log.
    pub fn audit(&self) -> Audit {
        Audit::new(self.store.clone())
    }

    /// Whether the database answers (`/readyz`).
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store.head().await.map(drop)
    }

    /// `/metrics`' text: this process's counters and the log's counts.
    pub async fn metrics(&self) -> Result<String, ProjectionError> {
        crate::metrics::scrape(&self.store).await
    }

    /// Starts the background tasks on the current Tokio runtime; checkpoints only with
    /// `signing`.
    pub fn start_background(&self, checks: oauth::Checks, signing: Option<Signing>) -> Background {
        let notifier = crate::notices::Notifier::new(self.store.clone(), self.secrets.clone());
        Background::start(self.store.clone(), self.usage.clone(), checks, signing, notifier)
    }

    /// The write that seals `secret` under `id` in a command's transaction.
    fn seal(&self, id: String, secret: &SecretString) -> grantlog_projection::AlsoWrite {
        let (sealer, secret) = (self.secrets.clone(), secret.clone());
        Arc::new(move |connection| {
            let (sealer, id, secret) = (sealer.clone(), id.clone(), secret.clone());
            Box::pin(async move { sealer.put(connection, &id, secret.expose_secret()).await })
        })
    }
}
