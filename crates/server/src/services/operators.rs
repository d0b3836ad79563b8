//! What operators ask through the command line and the admin API: registering clients
//! and owners, rotating the secrets key, seeding the demo. Each is a domain command run
//! through the projection, with what stays out of the log (secrets, personal data)
//! written in the same transaction.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::PasswordHasher as _;
use chrono::{DateTime, Utc};
use grantlog_domain::{
    Actor, ClientCommand, ClientId, ClientName, ConsumerKey, DomainError, Event, Fingerprint, Homepage, KeyId,
    NotifyUrl, OwnerCommand, OwnerId, Reason, Revoke, Revoker, RsaPublicKeyPem, SECRETS_KEY_STREAM, SecretsKeyRotated,
    Username, is_acceptable_password,
};
use grantlog_oauth1::rsa_public_key_from_pem;
use grantlog_projection::tables::grants_of_owner;
use grantlog_projection::{ClientRecord, Context, GrantRecord, OwnerRecord, ProjectionError, execute, execute_with};
use grantlog_store::profiles::{self, OwnerProfile};
use grantlog_store::{ExpectedVersion, InlineHook, SecretBox, StoreError};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

use super::clients::parse_callbacks;
use super::{ServiceError, Services, random_token};

/// A client to register.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Its display name (shown to owners on the consent page).
    pub name: String,
    /// The callbacks it may use (a port may be `*`).
    pub callbacks: Vec<String>,
    /// Its homepage.
    pub homepage: Option<String>,
    /// Its RSA public key (PEM), for RSA-SHA1.
    pub rsa_public_key: Option<String>,
    /// Where it receives revocation notices.
    pub notify_url: Option<String>,
}

/// An erased owner: her pseudonymous id, which the log keeps, and how many of her
/// grants were still live and are now revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    /// Her pseudonymous id.
    pub owner_id: OwnerId,
    /// Grants revoked by the erasure.
    pub grants_revoked: usize,
}

/// A registered client's credentials: the secret exists here and sealed in the store,
/// nowhere else.
#[derive(Debug)]
pub struct IssuedClient {
    /// Its id.
    pub client_id: ClientId,
    /// Its consumer key.
    pub client_key: String,
    /// Its shared secret.
    pub client_secret: SecretString,
    /// The key its revocation notices are signed with, when it gave a notify_url.
    pub notify_secret: Option<SecretString>,
}

/// A registered client's credentials as the admin API and `grantlog client add --json`
/// answer them, this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisteredClientView {
    /// Its id in the event log.
    #[schema(format = Uuid)]
    pub client_id: String,
    /// Its consumer key.
    pub client_key: String,
    /// Its shared secret.
    pub client_secret: String,
    /// The key its revocation notices are signed with, when it gave a `notify_url`.
    #[schema(required = true)]
    pub notify_secret: Option<String>,
}

impl From<&IssuedClient> for RegisteredClientView {
    fn from(issued: &IssuedClient) -> Self {
        Self {
            client_id: issued.client_id.to_string(),
            client_key: issued.client_key.clone(),
            client_secret: issued.client_secret.expose_secret().to_owned(),
            notify_secret: issued.notify_secret.as_ref().map(|secret| secret.expose_secret().to_owned()),
        }
    }
}

/// An erasure as the admin API answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedView {
    /// Her pseudonymous id, which the log keeps.
    #[schema(format = Uuid)]
    pub owner_id: String,
    /// How many of her grants were live and are now revoked.
    pub grants_revoked: usize,
}

impl From<&Erased> for ErasedView {
    fn from(erased: &Erased) -> Self {
        Self { owner_id: erased.owner_id.to_string(), grants_revoked: erased.grants_revoked }
    }
}

/// Where a client's secret is sealed.
pub fn client_secret_id(client_id: ClientId) -> String {
    format!("client-secret:{client_id}")
}

/// Where the key a client's revocation notices are signed with is sealed.
pub fn notify_secret_id(client_id: ClientId) -> String {
    format!("notify-secret:{client_id}")
}

impl Services {
    /// Registers a client with fresh credentials (a 128-bit key, a 256-bit secret).
    pub async fn register_client(&self, new: NewClient, actor: Actor) -> Result<IssuedClient, ServiceError> {
        let credentials = (random_token(16), SecretString::from(random_token(32)));
        self.register_client_with(new, credentials, actor).await
    }

    /// Registers a client with the given key and secret (the demo's fixed ones).
    pub async fn register_client_with(
        &self,
        new: NewClient,
        (key, secret): (String, SecretString),
        actor: Actor,
    ) -> Result<IssuedClient, ServiceError> {
        let client_id = ClientId::new(uuid::Uuid::now_v7());
        // `oob` is always allowed; registering it changes nothing.
        let callbacks = parse_callbacks(&new.callbacks)?;
        let command = ClientCommand::Register {
            client_id,
            consumer_key: ConsumerKey::parse(&key)?,
            name: ClientName::parse(&new.name)?,
            homepage: new.homepage.as_deref().map(Homepage::parse).transpose()?,
            callbacks,
            secret_fingerprint: Fingerprint::of(secret.expose_secret()),
            rsa_public_key: new.rsa_public_key.as_deref().map(RsaPublicKeyPem::parse).transpose()?,
            notify_url: new.notify_url.as_deref().map(NotifyUrl::parse).transpose()?,
        };
        // The domain checks the armour; the key inside must be one we can verify with.
        if new.rsa_public_key.as_deref().is_some_and(|pem| rsa_public_key_from_pem(pem).is_err()) {
            return Err(ServiceError::UnusableRsaKey);
        }
        let notify_secret = new.notify_url.is_some().then(|| SecretString::from(random_token(32)));
        let (sealer, client_secret, notify) = (self.secrets.clone(), secret.clone(), notify_secret.clone());
        let also: grantlog_projection::AlsoWrite = Arc::new(move |connection| {
            let (sealer, client_secret, notify) = (sealer.clone(), client_secret.clone(), notify.clone());
            Box::pin(async move {
                sealer.put(connection, &client_secret_id(client_id), client_secret.expose_secret()).await?;
                match notify {
                    Some(notify) => sealer.put(connection, &notify_secret_id(client_id), notify.expose_secret()).await,
                    None => Ok(()),
                }
            })
        });
        let context = Context { now: Utc::now(), actor, trace_id: None };
        execute_with::<ClientRecord>(&self.store, &client_id.stream_id(), &command, &context, also).await?;
        Ok(IssuedClient { client_id, client_key: key, client_secret: secret, notify_secret })
    }

    /// Re-seals every secret under `new` in one transaction with the event that records
    /// it ([`SecretsKeyRotated`], key ids only); returns how many. Run it with every
    /// server stopped: one still running with the old key can seal nothing after it
    /// ([`SecretBox::put`] refuses), so its writes fail until it is restarted with the
    /// new key.
    pub async fn rotate_secrets_key(&self, new: &SecretBox, actor: Actor) -> Result<u64, ServiceError> {
        if new.key_id() == self.secrets.key_id() {
            return Err(ServiceError::SameKey);
        }
        let resealed = SecretBox::count(self.store.reader()).await?;
        if resealed == 0 {
            return Err(ServiceError::NothingSealed);
        }
        let event = Event::from(SecretsKeyRotated {
            from_key_id: KeyId::parse(self.secrets.key_id())?,
            to_key_id: KeyId::parse(new.key_id())?,
            resealed,
        });
        let recorded = Context { now: Utc::now(), actor, trace_id: None }.envelope(&event);
        let (old, new) = (self.secrets.clone(), new.clone());
        let reseal: InlineHook<'_> = Box::new(move |connection, _| {
            Box::pin(async move {
                let found = old.reseal_all(&new, connection).await?;
                if found != resealed {
                    return Err(StoreError::Secrets(format!(
                        "{found} secrets to re-seal, {resealed} a moment before: stop every server, then rotate again"
                    )));
                }
                Ok(())
            })
        });
        self.store.append_with(SECRETS_KEY_STREAM, ExpectedVersion::Any, &[recorded], reseal).await?;
        Ok(resealed)
    }

    /// Registers a resource owner: the event names a fresh pseudonymous id; the username
    /// and the argon2id hash of the password go to `owner_profiles`, in the same
    /// transaction.
    pub async fn register_owner(
        &self,
        username: &str,
        password: SecretString,
        actor: Actor,
    ) -> Result<OwnerId, ServiceError> {
        let username = Username::parse(username.trim()).map_err(|_| ServiceError::InvalidUsername)?;
        let username = username.as_str();
        if !is_acceptable_password(password.expose_secret()) {
            return Err(ServiceError::WeakPassword);
        }
        if profiles::find_owner_by_username(self.store.reader(), username).await?.is_some() {
            return Err(ServiceError::UsernameTaken);
        }
        // Argon2 takes tens of milliseconds of CPU: off the async workers.
        let password_hash = tokio::task::spawn_blocking(move || {
            Argon2::default().hash_password(password.expose_secret().as_bytes()).map(|hash| hash.to_string())
        })
        .await
        .map_err(|_| ServiceError::Hashing)?
        .map_err(|_| ServiceError::Hashing)?;
        let owner_id = OwnerId::new(uuid::Uuid::now_v7());
        let profile = OwnerProfile { owner_id: owner_id.uuid(), username: username.to_owned(), password_hash };
        let also: grantlog_projection::AlsoWrite = Arc::new(move |connection| {
            let profile = profile.clone();
            Box::pin(async move { profiles::insert_owner_profile(connection, &profile).await })
        });
        let context = Context { now: Utc::now(), actor, trace_id: None };
        let command = OwnerCommand::Register { owner_id };
        match execute_with::<OwnerRecord>(&self.store, &owner_id.stream_id(), &command, &context, also).await {
            Ok(_) => Ok(owner_id),
            // Taken between the check above and the insert.
            Err(ProjectionError::Store(StoreError::UsernameTaken)) => Err(ServiceError::UsernameTaken),
            Err(error) => Err(error.into()),
        }
    }

    /// Erases an owner (GDPR Art. 17): her live grants are revoked, one event each by
    /// the admin; then `owner.erased` is recorded in the same transaction that deletes
    /// her username, password hash and sessions. Events name only her pseudonymous id,
    /// so the chain, the Merkle tree, every checkpoint and every receipt still verify.
    pub async fn erase_owner(&self, username: &str, now: DateTime<Utc>) -> Result<Erased, ServiceError> {
        let profile = profiles::find_owner_by_username(self.store.reader(), username)
            .await?
            .ok_or(ServiceError::UnknownUsername)?;
        let owner_id = OwnerId::new(profile.owner_id);
        let context = Context { now, actor: Actor::Admin, trace_id: None };
        let mut revoked = self.revoke_all_of(owner_id, &context).await?;
        let also: grantlog_projection::AlsoWrite = Arc::new(move |connection| {
            Box::pin(async move { profiles::erase_owner_profile(connection, owner_id.uuid()).await.map(drop) })
        });
        let stream = owner_id.stream_id();
        match execute_with::<OwnerRecord>(&self.store, &stream, &OwnerCommand::Erase, &context, also).await {
            Ok(_) => {}
            // Erased by a concurrent call between the lookup and here.
            Err(ProjectionError::Domain(DomainError::OwnerErased)) => return Err(ServiceError::UnknownUsername),
            Err(error) => return Err(error.into()),
        }
        // An approval that passed its session check before the erasure may have committed
        // since the first pass: revoke it too.
        revoked += self.revoke_all_of(owner_id, &context).await?;
        Ok(Erased { owner_id, grants_revoked: revoked })
    }

    /// Revokes every open grant of `owner`, as the administrator; returns how many. A
    /// grant that ended meanwhile (she or the client revoked it) is passed over.
    async fn revoke_all_of(&self, owner: OwnerId, context: &Context) -> Result<usize, ServiceError> {
        let reason = Reason::parse("the owner's personal data was erased")?;
        let mut revoked = 0;
        for row in grants_of_owner(self.store.reader(), &owner.to_string()).await? {
            if !row.status_at(context.now).is_open() {
                continue;
            }
            let command = Revoke { by: Revoker::Admin, reason: Some(reason.clone()), now: context.now };
            match execute::<GrantRecord>(&self.store, &row.grant_id.stream_id(), &command.into(), context).await {
                Ok(_) => revoked += 1,
                Err(ProjectionError::Domain(DomainError::GrantEnded(_))) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(revoked)
    }

    /// Seeds the story (Jane with two private photos; Beppa Prints with the demo
    /// credentials and callbacks on `http://127.0.0.1:*`) unless already there.
    pub async fn seed_demo(&self) -> Result<(), ServiceError> {
        if profiles::find_owner_by_username(self.store.reader(), crate::demo::OWNER).await?.is_none() {
            let jane = self
                .register_owner(crate::demo::OWNER, SecretString::from(crate::demo::PASSWORD), Actor::System)
                .await?;
            for (photo_id, title, bytes) in crate::demo::PHOTOS {
                let photo = grantlog_store::photos::Photo {
                    photo_id: photo_id.to_owned(),
                    owner_id: jane.uuid(),
                    title: title.to_owned(),
                    content_type: "image/png".to_owned(),
                };
                grantlog_store::photos::insert_photo(self.store.side_tables(), &photo, bytes).await?;
            }
        }
        let beppa = NewClient {
            name: "Beppa Prints".to_owned(),
            callbacks: vec!["http://127.0.0.1:*".to_owned()],
            homepage: Some("http://127.0.0.1/beppa".to_owned()),
            rsa_public_key: None,
            notify_url: None,
        };
        let credentials = (crate::demo::CLIENT_KEY.to_owned(), SecretString::from(crate::demo::CLIENT_SECRET));
        match self.register_client_with(beppa, credentials, Actor::System).await {
            Ok(_) | Err(ServiceError::Projection(ProjectionError::ConsumerKeyTaken)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}
