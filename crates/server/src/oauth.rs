//! The OAuth endpoints' use cases, apart from HTTP: check a signed request against the
//! registered client (signature, timestamp, nonce), then run the protocol step.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use grantlog_domain::{
    Actor, Callback, CallbackPattern, ClientId, ClientSnapshot, Credentials, DomainError, ExchangeVerifier, GrantEnd,
    GrantId, IssueTemporaryCredentials, PresentedSecret, Scope, TokenKey,
};
use grantlog_oauth1::{IncomingRequest, ProtocolError, Secrets, SignatureMethod, SignedRequest, VerificationKeys};
use grantlog_projection::tables::{ClientRow, GrantRow, client_by_key, grant_and_client_by_token};
use grantlog_projection::{Context, GrantRecord, ProjectionError, execute_with};
use grantlog_store::nonces::{self, SeenNonce};
use grantlog_store::throttle;
use secrecy::{ExposeSecret, SecretString};

use crate::service::{ServiceError, Services, client_secret_id, random_token};

/// Why a protocol request failed: refused (an OAuth problem the client is told about)
/// or broken (our fault: logged, answered with a bare 500).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Refused, with the Problem Reporting vocabulary.
    #[error(transparent)]
    Refused(#[from] ProtocolError),
    /// The client asked for more temporary credentials than it may in a minute.
    #[error("too many temporary credentials asked for; try again in {retry_after} seconds")]
    TooMany {
        /// Seconds until the client may ask again.
        retry_after: i64,
    },
    /// Something failed on our side.
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

impl From<ProjectionError> for RequestError {
    fn from(error: ProjectionError) -> Self {
        Self::Failed(error.into())
    }
}

/// A request whose signature, timestamp and nonce checked out, and its client.
#[derive(Debug)]
pub struct Verified {
    /// The client that signed it.
    pub client: ClientRow,
    /// The request.
    pub request: SignedRequest,
}

/// What `/oauth/initiate` and `/oauth/token` hand out: a token and its secret.
#[derive(Debug)]
pub struct TemporaryCredentials {
    /// `oauth_token`.
    pub token: String,
    /// `oauth_token_secret`.
    pub secret: SecretString,
}

/// What a token's secret is sealed under, before the token.
pub const TOKEN_SECRET_PREFIX: &str = "token-secret:";

/// Where a token's secret is sealed.
pub fn token_secret_id(token: &str) -> String {
    format!("{TOKEN_SECRET_PREFIX}{token}")
}

/// The settings the checks need.
#[derive(Debug, Clone, Copy)]
pub struct Checks {
    /// Accepted distance of `oauth_timestamp` from now, either way, in seconds.
    pub timestamp_window: u64,
    /// How long temporary credentials stay good for the owner's decision and the
    /// exchange.
    pub request_token_ttl: TimeDelta,
    /// Temporary credentials a client may ask for in a minute, counted in the database
    /// across every process.
    pub initiates_per_minute: u32,
    /// Whether PLAINTEXT signatures are accepted: only where clients reach the server
    /// over TLS (RFC 5849 section 3.4.4), since the signature is the secrets themselves
    /// and may come without a nonce. Set from the public URL's scheme.
    pub plaintext_allowed: bool,
}

impl Default for Checks {
    /// ±5 minutes for timestamps, 10 minutes for temporary credentials, 60 of them a
    /// minute per client, no PLAINTEXT.
    fn default() -> Self {
        Self {
            timestamp_window: 300,
            request_token_ttl: TimeDelta::minutes(10),
            initiates_per_minute: 60,
            plaintext_allowed: false,
        }
    }
}

impl Services {
    /// Checks a request signed with client credentials and, when `token_secret` is
    /// given, a token's: client known and active, timestamp within the window,
    /// signature valid, nonce unused (then recorded). The order keeps unauthenticated
    /// requests from writing nonces.
    pub async fn verify(
        &self,
        request: SignedRequest,
        token_secret: Option<&str>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<Verified, RequestError> {
        let client = client_by_key(self.store.reader(), request.consumer_key())
            .await?
            .ok_or(ProtocolError::ConsumerKeyUnknown)?;
        self.verify_as(client, request, token_secret, now, checks).await
    }

    /// [`Services::verify`] for a request from `client`, already read.
    async fn verify_as(
        &self,
        client: ClientRow,
        request: SignedRequest,
        token_secret: Option<&str>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<Verified, RequestError> {
        self.check_signed(&client, &request, token_secret, now, checks).await?;
        self.record_nonce(&request).await?;
        Ok(Verified { client, request })
    }

    /// Everything [`Services::verify_as`] checks but the nonce: the method allowed, the
    /// client active, the timestamp in the window, the signature.
    async fn check_signed(
        &self,
        client: &ClientRow,
        request: &SignedRequest,
        token_secret: Option<&str>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<(), RequestError> {
        if request.signature_method() == SignatureMethod::Plaintext && !checks.plaintext_allowed {
            return Err(ProtocolError::SignatureMethodRejected.into());
        }
        if !client.active {
            return Err(ProtocolError::ConsumerKeyRejected.into());
        }
        let client_id = ClientId::new(uuid_of(&client.client_id)?);
        let client_secret = self
            .unsealed
            .get(&self.secrets, self.store.reader(), &client_secret_id(client_id), Some(&client.secret_fingerprint))
            .await
            .map_err(ProjectionError::from)?
            .ok_or_else(|| ServiceError::Corrupt(format!("client {client_id} has no sealed secret")))?;
        // Only an RSA-SHA1 request needs the key (and a client registered without one is
        // refused by the signature check).
        let rsa_public_key = match (&client.rsa_public_key, request.signature_method()) {
            (Some(pem), SignatureMethod::RsaSha1) => Some(
                self.rsa_keys
                    .get(pem)
                    .ok_or_else(|| ServiceError::Corrupt(format!("client {client_id} has an unreadable RSA key")))?,
            ),
            _ => None,
        };
        let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
        if let Some(timestamp) = request.timestamp() {
            timestamp.check_window(seconds, checks.timestamp_window)?;
        }
        let secrets =
            Secrets { client_secret: client_secret.expose_secret(), token_secret: token_secret.unwrap_or("") };
        request.verify(VerificationKeys { secrets, rsa_public_key: rsa_public_key.as_deref() })?;
        Ok(())
    }

    /// Records the request's nonce, if it carries one (`nonce_used` if it was seen);
    /// answers the log's head as of after the write.
    async fn record_nonce(&self, request: &SignedRequest) -> Result<Option<u64>, RequestError> {
        let (Some(timestamp), Some(nonce)) = (request.timestamp(), request.nonce()) else { return Ok(None) };
        let seen = SeenNonce {
            client_key: request.consumer_key().to_owned(),
            token: request.token().unwrap_or("").to_owned(),
            timestamp: i64::try_from(timestamp.seconds()).unwrap_or(i64::MAX),
            nonce: nonce.as_str().to_owned(),
        };
        let answer = self.nonces.remember(seen).await.map_err(ServiceError::from)?;
        if !answer.fresh {
            return Err(ProtocolError::NonceUsed.into());
        }
        Ok(Some(answer.head))
    }

    /// `POST /oauth/initiate` (RFC 5849 section 2.1): temporary credentials for a client
    /// that signed with its own credentials and named a callback (or `oob`) it
    /// registered.
    pub async fn initiate(
        &self,
        incoming: &IncomingRequest<'_>,
        now: DateTime<Utc>,
        checks: Checks,
        trace_id: &str,
    ) -> Result<TemporaryCredentials, RequestError> {
        let request = SignedRequest::from_request(incoming)?;
        let Verified { client, request } = self.verify(request, None, now, checks).await?;
        if request.token().is_some() {
            return Err(
                ProtocolError::rejected("oauth_token", "temporary credentials are asked for without a token").into()
            );
        }
        // Counted once the request is known to be the client's: nobody else can spend
        // its allowance.
        let minute = TimeDelta::minutes(1);
        let key = format!("initiate {}", client.client_id);
        let asked =
            throttle::reserve(self.store.reader(), &key, now, now - minute).await.map_err(ServiceError::from)?;
        if asked.attempts > checks.initiates_per_minute {
            let retry_after = asked.window_ends_in(minute, now).num_seconds().max(1);
            return Err(RequestError::TooMany { retry_after });
        }
        let callback =
            request.callback().ok_or_else(|| ProtocolError::ParameterAbsent { missing: vec!["oauth_callback"] })?;
        let callback = Callback::parse(callback)
            .map_err(|_| ProtocolError::rejected("oauth_callback", "not an absolute http(s) URL or oob"))?;
        let snapshot = ClientSnapshot {
            client_id: ClientId::new(uuid_of(&client.client_id)?),
            active: client.active,
            callbacks: serde_json::from_str::<Vec<CallbackPattern>>(&client.callbacks)
                .map_err(|_| ServiceError::Corrupt(format!("client {} has unreadable callbacks", client.client_id)))?,
        };
        let (token, secret) = (random_token(16), SecretString::from(random_token(32)));
        let grant_id = GrantId::new(uuid::Uuid::now_v7());
        let command = IssueTemporaryCredentials {
            grant_id,
            client: snapshot.clone(),
            request_token: TokenKey::parse(&token).map_err(ServiceError::from)?,
            callback,
            // RFC 5849 has no scope parameter: what a client may ask for is read access
            // to photos, and the owner narrows it on the consent page.
            requested_scope: Scope::parse("photos:read").map_err(ServiceError::from)?,
            now,
            ttl: checks.request_token_ttl,
        }
        .into();
        let also = self.seal(token_secret_id(&token), &secret);
        let actor = Actor::Client(snapshot.client_id.uuid());
        let context = Context { now, actor, trace_id: Some(trace_id.to_owned()) };
        match execute_with::<GrantRecord>(&self.store, &grant_id.stream_id(), &command, &context, also).await {
            Ok(_) => Ok(TemporaryCredentials { token, secret }),
            Err(ProjectionError::Domain(DomainError::CallbackNotRegistered)) => {
                Err(ProtocolError::rejected("oauth_callback", "not registered for this client").into())
            }
            Err(ProjectionError::Domain(DomainError::ClientSuspended)) => {
                Err(ProtocolError::ConsumerKeyRejected.into())
            }
            Err(error) => Err(error.into()),
        }
    }
}

impl Services {
    /// `POST /oauth/token` (RFC 5849 section 2.3): token credentials for an authorized
    /// request token, signed with it and carrying its verifier; at most once.
    pub async fn exchange(
        &self,
        incoming: &IncomingRequest<'_>,
        now: DateTime<Utc>,
        checks: Checks,
        trace_id: &str,
    ) -> Result<TemporaryCredentials, RequestError> {
        let request = SignedRequest::from_request(incoming)?;
        let token = request.token().ok_or_else(|| ProtocolError::ParameterAbsent { missing: vec!["oauth_token"] })?;
        let (grant, client, token_secret) = self.token(&request, token, Credentials::RequestToken).await?;
        let Verified { client, request } =
            self.verify_as(client, request, Some(token_secret.expose_secret()), now, checks).await?;
        let verifier =
            request.verifier().ok_or_else(|| ProtocolError::ParameterAbsent { missing: vec!["oauth_verifier"] })?;
        let grant_id = GrantId::new(uuid_of(&grant.grant_id)?);
        let client_id = ClientId::new(uuid_of(&client.client_id)?);
        let (access_token, secret) = (random_token(16), SecretString::from(random_token(32)));
        let command = ExchangeVerifier {
            client_id,
            verifier: PresentedSecret::new(verifier),
            access_token: TokenKey::parse(&access_token).map_err(ServiceError::from)?,
            client_active: client.active,
            now,
        }
        .into();
        let also = self.seal(token_secret_id(&access_token), &secret);
        let context = Context { now, actor: Actor::Client(client_id.uuid()), trace_id: Some(trace_id.to_owned()) };
        match execute_with::<GrantRecord>(&self.store, &grant_id.stream_id(), &command, &context, also).await {
            Ok(_) => Ok(TemporaryCredentials { token: access_token, secret }),
            Err(ProjectionError::Domain(refusal)) => Err(exchange_refusal(&refusal).into()),
            Err(error) => Err(error.into()),
        }
    }
}

impl Services {
    /// The grant a token of this kind belongs to, its client and the token's secret,
    /// read in one statement. `token_rejected` when the token is unknown or another
    /// client's, `consumer_key_unknown` when the request's client is.
    async fn token(
        &self,
        request: &SignedRequest,
        token: &str,
        kind: Credentials,
    ) -> Result<(GrantRow, ClientRow, SecretString), RequestError> {
        let (grant, client) = self.token_rows(token).await?.ok_or(ProtocolError::TokenRejected)?;
        let secret = self.token_secret(request, &grant, &client, token, kind).await?;
        Ok((grant, client, secret))
    }

    /// The grant whose token `token` is, and its client.
    async fn token_rows(&self, token: &str) -> Result<Option<(GrantRow, ClientRow)>, RequestError> {
        Ok(grant_and_client_by_token(self.store.reader(), token).await?)
    }

    /// The secret of `token`, when it is the grant's token of this kind and the request
    /// comes from the grant's client.
    async fn token_secret(
        &self,
        request: &SignedRequest,
        grant: &GrantRow,
        client: &ClientRow,
        token: &str,
        kind: Credentials,
    ) -> Result<SecretString, RequestError> {
        let of_this_kind = match kind {
            Credentials::RequestToken => grant.request_token == token,
            Credentials::AccessToken => grant.access_token.as_deref() == Some(token),
        };
        if !of_this_kind {
            return Err(ProtocolError::TokenRejected.into());
        }
        if client.consumer_key != request.consumer_key() {
            return match client_by_key(self.store.reader(), request.consumer_key()).await? {
                None => Err(ProtocolError::ConsumerKeyUnknown.into()),
                Some(_) => Err(ProtocolError::TokenRejected.into()),
            };
        }
        Ok(self
            .unsealed
            .get(&self.secrets, self.store.reader(), &token_secret_id(token), None)
            .await
            .map_err(ProjectionError::from)?
            .ok_or(ProtocolError::TokenRejected)?)
    }
}

/// What a client is told when the domain refuses an exchange.
fn exchange_refusal(refusal: &DomainError) -> ProtocolError {
    match refusal {
        DomainError::VerifierMismatch => ProtocolError::VerifierInvalid,
        DomainError::AlreadyExchanged => ProtocolError::TokenUsed,
        DomainError::NotAuthorized => ProtocolError::PermissionUnknown,
        DomainError::RequestTokenExpired | DomainError::GrantEnded(GrantEnd::Expired) => ProtocolError::TokenExpired,
        DomainError::GrantEnded(GrantEnd::Denied) => ProtocolError::PermissionDenied,
        DomainError::GrantEnded(GrantEnd::Revoked) => ProtocolError::TokenRevoked,
        DomainError::ClientSuspended => ProtocolError::ConsumerKeyRejected,
        _ => ProtocolError::TokenRejected,
    }
}

/// Ids in the read models are UUID text; anything else is damage.
pub(crate) fn uuid_of(text: &str) -> Result<uuid::Uuid, ServiceError> {
    text.parse().map_err(|_| ServiceError::Corrupt(format!("{text} is not a UUID")))
}

/// Forgets nonces whose timestamps have left the window: a replay of one would be
/// refused for its timestamp anyway. Returns how many were forgotten.
pub async fn prune_nonces(
    store: &grantlog_store::EventStore,
    now: DateTime<Utc>,
    checks: Checks,
) -> Result<u64, grantlog_store::StoreError> {
    let earliest = now.timestamp().saturating_sub(i64::try_from(checks.timestamp_window).unwrap_or(i64::MAX));
    nonces::forget_before(store.reader(), earliest).await
}

/// What a working access token lets its client reach.
#[derive(Debug)]
pub struct Access {
    /// The grant it belongs to.
    pub grant_id: String,
    /// Whose resources.
    pub owner_id: uuid::Uuid,
    /// The client using it.
    pub client_key: String,
    /// The permissions granted, e.g. `photos:read`.
    pub scope: String,
    /// Which photos.
    pub resources: Vec<String>,
    /// When access ends (RFC 3339), if it does.
    pub expires_at: Option<String>,
}

impl Access {
    /// Whether the grant includes `permission`.
    pub fn allows(&self, permission: &str) -> bool {
        self.scope.split(' ').any(|granted| granted == permission)
    }
}

impl Services {
    /// A request for photos (RFC 5849 section 3): signed with an access token that is
    /// active now — not revoked, not expired (decided from the recorded expiry), its
    /// client not suspended — and covering read access to photos.
    pub async fn photo_access(
        &self,
        incoming: &IncomingRequest<'_>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<Access, RequestError> {
        let access = self.access(incoming, now, checks).await?;
        if !access.allows("photos:read") {
            return Err(ProtocolError::PermissionDenied.into());
        }
        Ok(access)
    }

    /// Any protected-resource request: the checks of [`Services::photo_access`] but the
    /// scope's, which the resource server applies (`POST /oauth/verify`).
    pub async fn access(
        &self,
        incoming: &IncomingRequest<'_>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<Access, RequestError> {
        let request = SignedRequest::from_request(incoming)?;
        let token = request.token().ok_or_else(|| ProtocolError::ParameterAbsent { missing: vec!["oauth_token"] })?;
        // The grant and client as this process keeps them, or read and kept. A refusal
        // from kept rows is decided again on rows read now: a client reinstated, or a
        // secret rotated, since they were kept must not be refused on old rows.
        let (state, kept) = match self.token_states.get(token) {
            (Some(state), _) => (state, true),
            (None, known) => {
                let state = Arc::new(self.token_rows(token).await?.ok_or(ProtocolError::TokenRejected)?);
                self.token_states.keep(token, state.clone(), known);
                (state, false)
            }
        };
        // Refused before the nonce is written: a forged, revoked or suspended request
        // writes nothing.
        let mut access = match self.access_by(&request, token, &state, now, checks).await {
            Err(RequestError::Refused(_)) if kept => self.access_by_rows_read_now(&request, token, now, checks).await?,
            decided => decided?,
        };
        let head = self.record_nonce(&request).await?;
        // The rows must be as new as the nonce's batch: a revocation, a suspension or a
        // secret rotation committed before it began refuses this request. Decided again,
        // signature included, on rows read now if an event since touched them (or, for a
        // request with no nonce, always).
        let as_new = match head {
            Some(head) => {
                self.token_states.catch_up(&self.store, head).await.map_err(ProjectionError::from)?;
                self.token_states.still_holds(token, &state)
            }
            None => false,
        };
        if !as_new {
            access = self.access_by_rows_read_now(&request, token, now, checks).await?;
        }
        // Counted once the request is known good, for the owner's grants page.
        self.usage.count(&access.grant_id, now);
        Ok(access)
    }
}

impl Services {
    /// The checks of a resource request on `state`, the token's grant and client: the
    /// token is the grant's access token and the request its client's, the signature
    /// holds, the client is active and the grant active now.
    async fn access_by(
        &self,
        request: &SignedRequest,
        token: &str,
        state: &(GrantRow, ClientRow),
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<Access, RequestError> {
        let (grant, client) = state;
        let token_secret = self.token_secret(request, grant, client, token, Credentials::AccessToken).await?;
        self.check_signed(client, request, Some(token_secret.expose_secret()), now, checks).await?;
        access_of(grant, client, now)
    }

    /// [`Services::access_by`] on the rows as the database has them now.
    async fn access_by_rows_read_now(
        &self,
        request: &SignedRequest,
        token: &str,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<Access, RequestError> {
        let state = self.token_rows(token).await?.ok_or(ProtocolError::TokenRejected)?;
        self.access_by(request, token, &state, now, checks).await
    }
}

/// What an access token whose grant and client are these lets its client reach now:
/// refused when the grant is not active (a suspended client was refused by
/// [`Services::check_signed`]).
fn access_of(grant: &GrantRow, client: &ClientRow, now: DateTime<Utc>) -> Result<Access, RequestError> {
    match grant.status_at(now) {
        "active" => {}
        "revoked" => return Err(ProtocolError::TokenRevoked.into()),
        "expired" => return Err(ProtocolError::TokenExpired.into()),
        _ => return Err(ProtocolError::TokenRejected.into()),
    }
    let owner_id = grant
        .owner_id
        .as_deref()
        .ok_or_else(|| ServiceError::Corrupt(format!("active grant {} has no owner", grant.grant_id)))
        .and_then(uuid_of)?;
    let resources: Vec<String> = serde_json::from_str(&grant.resources)
        .map_err(|_| ServiceError::Corrupt(format!("grant {} has unreadable resources", grant.grant_id)))?;
    Ok(Access {
        grant_id: grant.grant_id.clone(),
        owner_id,
        client_key: client.consumer_key.clone(),
        scope: grant.scope.clone().unwrap_or_default(),
        resources,
        expires_at: grant.expires_at.clone(),
    })
}
