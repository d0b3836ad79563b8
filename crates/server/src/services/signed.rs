//! The one way a signed request is checked, for every endpoint that takes one:
//!
//! parse → client and token state → signature → status and scope → nonce.
//!
//! `/oauth/initiate` is signed by the client alone ([`Services::signed_by_client`]);
//! `/oauth/token`, the resources and `/oauth/verify` with a token
//! ([`Services::signed_with_token`]). The nonce is written last: a forged request, or a
//! signed one for a revoked, expired or suspended grant, writes nothing. The token's
//! state (its grant and the grant's client) comes from memory ([`TokenStates`]) and is
//! made as new as the nonce's batch before the answer: a revocation or a suspension
//! committed before the batch began refuses the request, on every process.
//!
//! [`TokenStates`]: crate::token_states::TokenStates

use std::sync::Arc;

use chrono::{DateTime, Utc};
use grantlog_domain::{AccessError, AccessGrant, Credentials, Permission};
use grantlog_oauth1::{IncomingRequest, ProtocolError, Secrets, SignatureMethod, SignedRequest, VerificationKeys};
use grantlog_projection::ProjectionError;
use grantlog_projection::tables::{ClientRow, client_by_key, grant_and_client_by_token};
use grantlog_store::nonces::SeenNonce;
use secrecy::{ExposeSecret, SecretString};

use crate::services::clients::previous_client_secret_id;
use crate::services::oauth::{Checks, RequestError, token_secret_id};
use crate::services::{ServiceError, Services, client_secret_id};
use crate::token_states::TokenState;

/// What a token-signed request is for, which decides the token's kind and the status
/// (and scope) its grant must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Exchanging approved temporary credentials (`/oauth/token`): signed with the
    /// request token, whose grant must be authorized.
    Exchange,
    /// Reaching resources: signed with the access token, whose grant must be active now
    /// and, when `needs` names a permission, grant it.
    Access {
        /// The permission the resource needs; `None` where the resource server decides
        /// (`/oauth/verify`).
        needs: Option<Permission>,
    },
    /// Asking about the access token or giving it back (`/oauth/token_info`,
    /// `/oauth/revoke`): signed with the access token, whatever its grant's status now.
    Inspect,
}

impl TokenUse {
    fn credentials(self) -> Credentials {
        match self {
            Self::Exchange => Credentials::RequestToken,
            Self::Access { .. } | Self::Inspect => Credentials::AccessToken,
        }
    }
}

/// What a working access token lets its client reach: the domain's answer, and the
/// key the client signed with.
#[derive(Debug)]
pub struct Access {
    /// The grant's owner, client, scope, resources and end.
    pub grant: AccessGrant,
    /// The client using it.
    pub client_key: String,
}

impl Access {
    /// What the token whose state passed [`TokenUse::Access`] lets its client reach.
    fn of(state: &TokenState) -> Result<Self, ServiceError> {
        let (grant, client) = &**state;
        let corrupt = |what: &str| ServiceError::Corrupt(format!("active grant {} has no {what}", grant.grant_id));
        let access = AccessGrant {
            grant_id: grant.grant_id,
            owner_id: grant.owner_id.ok_or_else(|| corrupt("owner"))?,
            client_id: grant.client_id,
            scope: grant.scope.clone().ok_or_else(|| corrupt("scope"))?,
            resources: grant.resources.clone(),
            expires_at: grant.expires_at,
        };
        Ok(Self { grant: access, client_key: client.consumer_key.clone() })
    }
}

impl Services {
    /// The photo `id` (content type and bytes) if `access` covers it and it exists; a
    /// photo the grant does not cover is answered exactly like one that does not exist.
    pub async fn covered_photo(&self, access: &Access, id: &str) -> Result<Option<(String, Vec<u8>)>, ServiceError> {
        if !access.grant.covers(id) {
            return Ok(None);
        }
        Ok(grantlog_store::photos::photo_bytes(self.store.side_tables(), access.grant.owner_id.uuid(), id).await?)
    }
}

impl Services {
    /// A request signed with client credentials alone, checked and its nonce recorded;
    /// answers it and its client.
    pub async fn signed_by_client(
        &self,
        incoming: &IncomingRequest<'_>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<(SignedRequest, ClientRow), RequestError> {
        let request = SignedRequest::from_request(incoming)?;
        if request.token().is_some() {
            return Err(ProtocolError::rejected("oauth_token", "this request is signed without a token").into());
        }
        let client = client_by_key(self.store.reader(), request.consumer_key())
            .await?
            .ok_or(ProtocolError::ConsumerKeyUnknown)?;
        self.check_signature(&client, &request, None, now, checks).await?;
        self.record_nonce(&request).await?;
        Ok((request, client))
    }

    /// A request signed with a token for `purpose`, checked and its nonce recorded;
    /// answers it and the token's state as new as the nonce's batch.
    pub async fn signed_with_token(
        &self,
        incoming: &IncomingRequest<'_>,
        purpose: TokenUse,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<(SignedRequest, TokenState), RequestError> {
        let request = SignedRequest::from_request(incoming)?;
        let token = request.token().ok_or_else(|| ProtocolError::ParameterAbsent { missing: vec!["oauth_token"] })?;
        // The state as this process keeps it, or read and kept. A refusal from kept
        // state is decided again on state read now: a client reinstated, or a secret
        // rotated, since it was kept must not be refused on old rows.
        let (mut state, kept) = match self.token_states.get(token) {
            (Some(state), _) => (state, true),
            (None, known) => {
                let state = self.token_state_now(token).await?;
                self.token_states.keep(token, state.clone(), known);
                (state, false)
            }
        };
        match self.check_token_request(&request, token, purpose, &state, now, checks).await {
            Err(RequestError::Refused(_)) if kept => {
                state = self.token_state_now(token).await?;
                self.check_token_request(&request, token, purpose, &state, now, checks).await?;
            }
            decided => decided?,
        }
        let head = self.record_nonce(&request).await?;
        // The state must be as new as the nonce's batch: a revocation, a suspension or a
        // secret rotation committed before it began refuses this request. Decided again,
        // signature included, on state read now if an event since touched it (or, for a
        // request with no nonce, always).
        let as_new = match head {
            Some(head) => {
                self.token_states.catch_up(&self.store, head).await.map_err(ProjectionError::from)?;
                self.token_states.still_holds(token, &state)
            }
            None => false,
        };
        if !as_new {
            state = self.token_state_now(token).await?;
            self.check_token_request(&request, token, purpose, &state, now, checks).await?;
        }
        Ok((request, state))
    }

    /// Any protected-resource request: signed with an access token active now whose
    /// grant includes `needs`, if given.
    pub async fn access(
        &self,
        incoming: &IncomingRequest<'_>,
        needs: Option<Permission>,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<Access, RequestError> {
        let (_, state) = self.signed_with_token(incoming, TokenUse::Access { needs }, now, checks).await?;
        let access = Access::of(&state)?;
        // Counted once the request is known good, for the owner's grants page.
        self.usage.count(&access.grant.grant_id.to_string(), now);
        Ok(access)
    }

    /// The checks of a token-signed request on `state`, all but the nonce: the token is
    /// the grant's of the right kind and the request its client's, the signature holds,
    /// and the grant's status now (and scope) allows `purpose`.
    async fn check_token_request(
        &self,
        request: &SignedRequest,
        token: &str,
        purpose: TokenUse,
        state: &TokenState,
        now: DateTime<Utc>,
        checks: Checks,
    ) -> Result<(), RequestError> {
        let (grant, client) = &**state;
        let token_secret = self.token_secret(request, state, token, purpose.credentials()).await?;
        self.check_signature(client, request, Some(token_secret.expose_secret()), now, checks).await?;
        let status = grant.status_at(now);
        match purpose {
            TokenUse::Exchange => status.exchange(client.active).map_err(ProjectionError::Domain)?,
            TokenUse::Access { needs } => {
                status.access(client.active).map_err(access_refusal)?;
                if needs.is_some_and(|needs| !grant.scope.as_ref().is_some_and(|scope| scope.contains(needs))) {
                    return Err(ProtocolError::PermissionDenied.into());
                }
            }
            TokenUse::Inspect => {}
        }
        Ok(())
    }

    /// The token's grant and client as the database has them now.
    async fn token_state_now(&self, token: &str) -> Result<TokenState, RequestError> {
        let state = grant_and_client_by_token(self.store.reader(), token).await?.ok_or(ProtocolError::TokenRejected)?;
        Ok(Arc::new(state))
    }

    /// The secret of `token`, when it is the grant's token of this kind and the request
    /// comes from the grant's client. `token_rejected` for another client's token,
    /// `consumer_key_unknown` when the request's client is unknown.
    async fn token_secret(
        &self,
        request: &SignedRequest,
        state: &TokenState,
        token: &str,
        kind: Credentials,
    ) -> Result<SecretString, RequestError> {
        let (grant, client) = &**state;
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

    /// The method allowed, the client active, the timestamp in the window, the
    /// signature valid under the client's secret or key (and the token's secret).
    async fn check_signature(
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
        let client_id = client.client_id;
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
        let verify = |client_secret: &str| {
            let secrets = Secrets { client_secret, token_secret: token_secret.unwrap_or("") };
            request.verify(VerificationKeys { secrets, rsa_public_key: rsa_public_key.as_deref() })
        };
        match verify(client_secret.expose_secret()) {
            // During a rotation's grace period the previous secret signs too.
            Err(ProtocolError::SignatureInvalid) if request.signature_method() != SignatureMethod::RsaSha1 => {
                let previous =
                    self.previous_client_secret(client, now).await?.ok_or(ProtocolError::SignatureInvalid)?;
                Ok(verify(previous.expose_secret())?)
            }
            verified => Ok(verified?),
        }
    }

    /// The client's previous secret, while a rotation's grace period lasts.
    async fn previous_client_secret(
        &self,
        client: &ClientRow,
        now: DateTime<Utc>,
    ) -> Result<Option<SecretString>, RequestError> {
        let Some((fingerprint, _)) = client.previous_secret.as_ref().filter(|(_, until)| now < *until) else {
            return Ok(None);
        };
        let id = previous_client_secret_id(client.client_id);
        let secret = self.unsealed.get(&self.secrets, self.store.reader(), &id, Some(fingerprint)).await;
        Ok(secret.map_err(ProjectionError::from)?)
    }

    /// Records the request's nonce, if it carries one (`nonce_used` if it was seen);
    /// answers the log's head as of the write.
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
}

/// What a client is told when its access token gives no access.
fn access_refusal(refusal: AccessError) -> ProtocolError {
    match refusal {
        AccessError::Revoked => ProtocolError::TokenRevoked,
        AccessError::Expired => ProtocolError::TokenExpired,
        AccessError::ClientSuspended => ProtocolError::ConsumerKeyRejected,
        AccessError::NotActive => ProtocolError::TokenRejected,
    }
}
