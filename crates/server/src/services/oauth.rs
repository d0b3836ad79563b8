//! The OAuth endpoints' use cases, apart from HTTP: the protocol steps that follow a
//! signed request's checks ([`crate::services::signed`]).

use chrono::{DateTime, TimeDelta, Utc};
use grantlog_domain::{
    Actor, Callback, ClientSnapshot, DomainError, ExchangeVerifier, GrantEnd, GrantId, GrantStatus,
    IssueTemporaryCredentials, Permission, PresentedSecret, Revoke, Revoker, Scope, TokenKey,
};
use grantlog_oauth1::{IncomingRequest, ProtocolError};
use grantlog_projection::tables::GrantRow;
use grantlog_projection::{Context, GrantRecord, ProjectionError, execute, execute_with};
use grantlog_store::nonces;
use grantlog_store::throttle;
use secrecy::SecretString;

use crate::services::signed::TokenUse;
use crate::services::{ServiceError, Services, random_token};

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
    /// A domain refusal a client's request can cause is a protocol problem; anything
    /// else is a failure.
    fn from(error: ProjectionError) -> Self {
        let ProjectionError::Domain(refusal) = &error else { return Self::Failed(error.into()) };
        match protocol_problem(refusal) {
            Some(problem) => Self::Refused(problem),
            None => Self::Failed(error.into()),
        }
    }
}

/// What `/oauth/initiate` and `/oauth/token` hand out: a token and its secret.
#[derive(Debug)]
pub struct TemporaryCredentials {
    /// `oauth_token`.
    pub token: String,
    /// `oauth_token_secret`.
    pub secret: SecretString,
}

/// What `/oauth/token` hands out: the access token, its secret, and when the access
/// ends (`None`: never).
#[derive(Debug)]
pub struct TokenCredentials {
    /// `oauth_token`.
    pub token: String,
    /// `oauth_token_secret`.
    pub secret: SecretString,
    /// When the grant's access ends.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What `/oauth/token_info` tells a client about its access token's grant.
#[derive(Debug)]
pub struct TokenInfo {
    /// The grant as the read model has it.
    pub grant: GrantRow,
    /// Its status now.
    pub status: GrantStatus,
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
        let (request, client) = self.signed_by_client(incoming, now, checks).await?;
        // Counted once the request is known to be the client's: nobody else can spend
        // its allowance.
        let minute = TimeDelta::minutes(1);
        let key = format!("initiate {}", client.client_id);
        let asked =
            throttle::reserve(self.store.side_tables(), &key, now, now - minute).await.map_err(ServiceError::from)?;
        if asked.attempts > checks.initiates_per_minute {
            let retry_after = asked.window_ends_in(minute, now).num_seconds().max(1);
            return Err(RequestError::TooMany { retry_after });
        }
        let callback =
            request.callback().ok_or_else(|| ProtocolError::ParameterAbsent { missing: vec!["oauth_callback"] })?;
        let callback = Callback::parse(callback)
            .map_err(|_| ProtocolError::rejected("oauth_callback", "not an absolute http(s) URL or oob"))?;
        let snapshot =
            ClientSnapshot { client_id: client.client_id, active: client.active, callbacks: client.callbacks };
        let (token, secret) = (random_token(16), SecretString::from(random_token(32)));
        let grant_id = GrantId::new(uuid::Uuid::now_v7());
        let command = IssueTemporaryCredentials {
            grant_id,
            client: snapshot.clone(),
            request_token: TokenKey::parse(&token).map_err(ServiceError::from)?,
            callback,
            // RFC 5849 has no scope parameter: what a client may ask for is read access
            // to photos, and the owner narrows it on the consent page.
            requested_scope: Scope::of([Permission::PhotosRead]),
            now,
            ttl: checks.request_token_ttl,
        }
        .into();
        let also = self.seal(token_secret_id(&token), &secret);
        let actor = Actor::Client(snapshot.client_id.uuid());
        let context = Context { now, actor, trace_id: Some(trace_id.to_owned()) };
        execute_with::<GrantRecord>(&self.store, &grant_id.stream_id(), &command, &context, also)
            .await
            .map_err(RequestError::from)?;
        Ok(TemporaryCredentials { token, secret })
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
    ) -> Result<TokenCredentials, RequestError> {
        let (request, state) = self.signed_with_token(incoming, TokenUse::Exchange, now, checks).await?;
        let (grant, client) = &*state;
        let verifier =
            request.verifier().ok_or_else(|| ProtocolError::ParameterAbsent { missing: vec!["oauth_verifier"] })?;
        let (grant_id, client_id) = (grant.grant_id, client.client_id);
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
        let (record, _) = execute_with::<GrantRecord>(&self.store, &grant_id.stream_id(), &command, &context, also)
            .await
            .map_err(RequestError::from)?;
        let expires_at =
            record.grant().and_then(|grant| grant.approval()).and_then(|approval| approval.access_expires_at);
        Ok(TokenCredentials { token: access_token, secret, expires_at })
    }

    /// `/oauth/token_info`: the grant of the access token the request is signed with,
    /// live or not (a client may ask why its token stopped working).
    pub async fn token_info(
        &self,
        incoming: &IncomingRequest<'_>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<TokenInfo, RequestError> {
        let (_, state) = self.signed_with_token(incoming, TokenUse::Inspect, now, checks).await?;
        let (grant, _) = &*state;
        Ok(TokenInfo { grant: grant.clone(), status: grant.status_at(now) })
    }

    /// `/oauth/revoke`: the client gives back the access token the request is signed
    /// with; its grant ends now, revoked by the client. A token whose grant had ended
    /// already is refused as it would be for a resource (`token_revoked`,
    /// `token_expired`).
    pub async fn give_back(
        &self,
        incoming: &IncomingRequest<'_>,
        now: DateTime<Utc>,
        checks: Checks,
        trace_id: &str,
    ) -> Result<(), RequestError> {
        let (_, state) = self.signed_with_token(incoming, TokenUse::Inspect, now, checks).await?;
        let (grant, client) = &*state;
        let client_id = client.client_id;
        let command = Revoke { by: Revoker::Client(client_id), reason: None, now }.into();
        let context = Context { now, actor: Actor::Client(client_id.uuid()), trace_id: Some(trace_id.to_owned()) };
        execute::<GrantRecord>(&self.store, &grant.grant_id.stream_id(), &command, &context)
            .await
            .map_err(RequestError::from)?;
        Ok(())
    }
}

/// What a client is told when the domain refuses a command its signed request asked
/// for: the one mapping, every refusal named. A refusal no client request can cause
/// (an owner's or an operator's, or a state the checks before the command rule out) is
/// ours to explain, not the client's: `None`, answered as a failure. A new refusal a
/// client can cause must get its problem here, or clients see a 500.
pub(crate) fn protocol_problem(refusal: &DomainError) -> Option<ProtocolError> {
    use DomainError as D;
    Some(match refusal {
        D::UnknownClient => ProtocolError::ConsumerKeyUnknown,
        D::ClientSuspended => ProtocolError::ConsumerKeyRejected,
        D::CallbackNotRegistered => ProtocolError::rejected("oauth_callback", "not registered for this client"),
        D::UnknownGrant | D::WrongClient | D::NotPermittedToRevoke => ProtocolError::TokenRejected,
        D::NotAuthorized => ProtocolError::PermissionUnknown,
        D::AlreadyExchanged => ProtocolError::TokenUsed,
        D::VerifierMismatch => ProtocolError::VerifierInvalid,
        D::RequestTokenExpired | D::GrantEnded(GrantEnd::Expired) => ProtocolError::TokenExpired,
        D::GrantEnded(GrantEnd::Denied) | D::OwnerErased => ProtocolError::PermissionDenied,
        D::GrantEnded(GrantEnd::Revoked) => ProtocolError::TokenRevoked,
        D::AlreadyExists
        | D::UnknownOwner
        | D::ClientAlreadySuspended
        | D::ClientNotSuspended
        | D::GracePeriodRunning
        | D::InvalidTtl
        | D::EmptyScope
        | D::ScopeWidened
        | D::NoResourcesChosen
        | D::NotTheOwnersResource
        | D::OwnerNotAuthenticated
        | D::DifferentOwner
        | D::AlreadyDecided
        | D::RememberNeedsConsentPage
        | D::NothingExpired => return None,
    })
}

/// Forgets nonces whose timestamps have left the window: a replay of one would be
/// refused for its timestamp anyway. Returns how many were forgotten.
pub async fn prune_nonces(
    store: &grantlog_store::EventStore,
    now: DateTime<Utc>,
    checks: Checks,
) -> Result<u64, grantlog_store::StoreError> {
    let earliest = now.timestamp().saturating_sub(i64::try_from(checks.timestamp_window).unwrap_or(i64::MAX));
    nonces::forget_before(store.side_tables(), earliest).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal a client can cause, with the status and `oauth_problem` it is told;
    /// the others are failures. (`protocol_problem`'s match names every variant, so a
    /// new one does not compile until it is placed; this pins the answers.)
    #[test]
    fn every_domain_refusal_has_one_answer() {
        use DomainError as D;
        let cases: [(D, Option<(u16, &str)>); 29] = [
            (D::UnknownClient, Some((401, "consumer_key_unknown"))),
            (D::ClientSuspended, Some((401, "consumer_key_rejected"))),
            (D::CallbackNotRegistered, Some((400, "parameter_rejected"))),
            (D::UnknownGrant, Some((401, "token_rejected"))),
            (D::WrongClient, Some((401, "token_rejected"))),
            (D::NotPermittedToRevoke, Some((401, "token_rejected"))),
            (D::NotAuthorized, Some((401, "permission_unknown"))),
            (D::AlreadyExchanged, Some((401, "token_used"))),
            (D::VerifierMismatch, Some((401, "verifier_invalid"))),
            (D::RequestTokenExpired, Some((401, "token_expired"))),
            // An exchange after the approved access ran out: expired, not rejected.
            (D::GrantEnded(GrantEnd::Expired), Some((401, "token_expired"))),
            (D::GrantEnded(GrantEnd::Denied), Some((401, "permission_denied"))),
            (D::OwnerErased, Some((401, "permission_denied"))),
            (D::GrantEnded(GrantEnd::Revoked), Some((401, "token_revoked"))),
            (D::AlreadyExists, None),
            (D::UnknownOwner, None),
            (D::ClientAlreadySuspended, None),
            (D::ClientNotSuspended, None),
            (D::GracePeriodRunning, None),
            (D::InvalidTtl, None),
            (D::EmptyScope, None),
            (D::ScopeWidened, None),
            (D::NoResourcesChosen, None),
            (D::NotTheOwnersResource, None),
            (D::OwnerNotAuthenticated, None),
            (D::DifferentOwner, None),
            (D::AlreadyDecided, None),
            (D::RememberNeedsConsentPage, None),
            (D::NothingExpired, None),
        ];
        for (refusal, expected) in &cases {
            let answer = protocol_problem(refusal).map(|problem| (problem.status(), problem.problem()));
            assert_eq!(answer, *expected, "{refusal:?}");
            let as_request_error = RequestError::from(ProjectionError::Domain(*refusal));
            assert_eq!(matches!(as_request_error, RequestError::Failed(_)), expected.is_none(), "{refusal:?}");
        }
    }
}
