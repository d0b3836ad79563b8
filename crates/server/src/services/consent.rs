//! The owner's decision on a client's request: the pending request shown on the consent
//! page, her answer recorded (or the decision she asked to be remembered applied), and
//! where she goes next.

use chrono::{DateTime, Utc};
use grantlog_domain::{
    AccessDuration, Actor, Approve, Callback, ConsentMethod, Deny, DomainError, Fingerprint, GrantEnd, GrantStatus,
    OwnerId, Permission, RecordOwnerAuthenticated, ResourceId, Scope, all_hers, consent_shown,
};
use grantlog_projection::tables::{ClientRow, GrantRow, grant_by_token};
use grantlog_projection::{Context, GrantRecord, ProjectionError, execute};
use grantlog_store::photos::Photo;

use super::account::Remembered;
use super::{ServiceError, Services, random_token};

/// A pending request, ready for the consent page.
#[derive(Debug)]
pub struct Pending {
    /// The grant.
    pub grant: GrantRow,
    /// The client asking.
    pub client: ClientRow,
}

/// The owner's answer on the consent page.
#[derive(Debug)]
pub struct Decision {
    /// The request token.
    pub token: String,
    /// Approve, or deny.
    pub approve: bool,
    /// The photos chosen.
    pub photos: Vec<String>,
    /// `1hour`, `1day`, `30days` or `never`.
    pub expires: String,
    /// Remember the decision.
    pub remember: bool,
}

/// Where the owner goes after deciding.
#[derive(Debug)]
pub enum Outcome {
    /// Back to the client's callback, with the query parameters appended.
    Redirect(String),
    /// `oob`: the verifier to show the owner, to type into the client.
    ShowVerifier(String),
}

/// Why a decision was refused (shown to the owner, never a secret).
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// The request is unknown, expired or already decided.
    #[error("this request is unknown, has expired, or was already answered")]
    Gone,
    /// A form value is invalid (which is named).
    #[error("{0}")]
    Invalid(&'static str),
    /// Our failure.
    #[error(transparent)]
    Failed(#[from] ServiceError),
}

impl From<ProjectionError> for DecisionError {
    fn from(error: ProjectionError) -> Self {
        Self::Failed(error.into())
    }
}

impl Services {
    /// A request token still waiting for its owner's decision, from a client that is not
    /// suspended: a suspended client's requests cannot be answered, so the consent page
    /// refuses them as it refuses a closed one.
    pub async fn pending(&self, token: &str, now: DateTime<Utc>) -> Result<Option<Pending>, ServiceError> {
        let Some(grant) = grant_by_token(self.store.reader(), token).await?.filter(|g| g.request_token == token) else {
            return Ok(None);
        };
        if grant.status_at(now) != GrantStatus::Pending {
            return Ok(None);
        }
        let client = grantlog_projection::tables::client_by_id(self.store.reader(), &grant.client_id.to_string())
            .await?
            .ok_or_else(|| ServiceError::Corrupt(format!("grant {} names an unknown client", grant.grant_id)))?;
        Ok(client.active.then_some(Pending { grant, client }))
    }

    /// The owner's photos, for the consent page.
    pub async fn photos(&self, owner_id: uuid::Uuid) -> Result<std::sync::Arc<[Photo]>, ServiceError> {
        Ok(self.photo_lists.of(self.store.side_tables(), owner_id).await?)
    }

    /// The owner's photos as resources an approval may name.
    async fn her_resources(&self, owner_id: uuid::Uuid) -> Result<Vec<ResourceId>, ServiceError> {
        // A stored photo id that is no resource id can never be chosen: leave it out.
        Ok(self.photos(owner_id).await?.iter().filter_map(|photo| ResourceId::parse(&photo.photo_id).ok()).collect())
    }

    /// Records the owner's decision on the consent page and says where to send them.
    pub async fn decide(
        &self,
        owner_id: uuid::Uuid,
        decision: Decision,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<Outcome, DecisionError> {
        let pending = self.pending(&decision.token, now).await?.ok_or(DecisionError::Gone)?;
        let answer = if decision.approve {
            let resources = decision
                .photos
                .iter()
                .map(|photo| ResourceId::parse(photo))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| DecisionError::Invalid("choose among your own photos"))?;
            let duration = AccessDuration::parse(&decision.expires)
                .map_err(|_| DecisionError::Invalid("choose how long access lasts"))?;
            Answer::Approve(Choice {
                scope: Scope::of([Permission::PhotosRead]),
                resources,
                owners_resources: self.her_resources(owner_id).await?,
                duration,
                remembered: decision.remember,
                method: ConsentMethod::ConsentPage,
            })
        } else {
            Answer::Deny
        };
        self.answer(OwnerId::new(owner_id), &pending, answer, now, trace_id).await
    }

    /// Applies the decision the owner asked to be remembered for this client, without
    /// asking: the same photos and duration, for the scope the client asks now, recorded
    /// as a [`ConsentMethod::RememberedDecision`] pointing at the approval it repeats.
    /// `None` when it no longer fits — a remembered photo is gone, or the client asks
    /// for more than was remembered —: the owner is asked instead.
    pub async fn apply_remembered(
        &self,
        owner_id: uuid::Uuid,
        pending: &Pending,
        remembered: &Remembered,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<Option<Outcome>, DecisionError> {
        let approval = &remembered.approval;
        let hers = self.her_resources(owner_id).await?;
        let requested = pending.grant.requested_scope.clone();
        if !all_hers(&approval.resources, &hers) || !requested.is_subset_of(&approval.scope) {
            return Ok(None);
        }
        let choice = Choice {
            scope: requested,
            resources: approval.resources.clone(),
            owners_resources: hers,
            duration: approval.duration,
            remembered: false,
            method: ConsentMethod::RememberedDecision { remembered_in: remembered.grant_id },
        };
        self.answer(OwnerId::new(owner_id), pending, Answer::Approve(choice), now, trace_id).await.map(Some)
    }

    /// Records that the owner answered `pending`, then her answer; says where to send her.
    async fn answer(
        &self,
        owner: OwnerId,
        pending: &Pending,
        answer: Answer,
        now: DateTime<Utc>,
        trace_id: &str,
    ) -> Result<Outcome, DecisionError> {
        let grant_id = pending.grant.grant_id;
        let context = Context { now, actor: Actor::Owner(owner.uuid()), trace_id: Some(trace_id.to_owned()) };
        let stream = grant_id.stream_id();
        let authenticated = RecordOwnerAuthenticated { owner_id: owner, now }.into();
        execute::<GrantRecord>(&self.store, &stream, &authenticated, &context).await.map_err(refused)?;

        let callback = Callback::parse(&pending.grant.callback).map_err(|_| DecisionError::Gone)?;
        let token = pending.grant.request_token.clone();
        let mut query = vec![("oauth_token", token)];
        let verifier = match answer {
            Answer::Approve(choice) => {
                let verifier = random_token(16);
                let approval = Approve {
                    owner_id: owner,
                    scope: choice.scope,
                    resources: choice.resources,
                    owners_resources: choice.owners_resources,
                    duration: choice.duration,
                    remembered: choice.remembered,
                    method: choice.method,
                    consent_text: consent_shown(&pending.client.name),
                    verifier_fingerprint: Fingerprint::of(&verifier),
                    now,
                };
                execute::<GrantRecord>(&self.store, &stream, &approval.into(), &context).await.map_err(refused)?;
                query.push(("oauth_verifier", verifier.clone()));
                Some(verifier)
            }
            Answer::Deny => {
                let denial = Deny { owner_id: owner, method: ConsentMethod::ConsentPage, now };
                execute::<GrantRecord>(&self.store, &stream, &denial.into(), &context).await.map_err(refused)?;
                query.push(("oauth_problem", "permission_denied".to_owned()));
                None
            }
        };
        Ok(match (callback, verifier) {
            (Callback::Oob, Some(verifier)) => Outcome::ShowVerifier(verifier),
            (Callback::Oob, None) => Outcome::ShowVerifier(String::new()),
            (Callback::Url(url), _) => Outcome::Redirect(with_query(url.as_str(), &query)),
        })
    }
}

/// The owner's answer to a request.
enum Answer {
    Approve(Choice),
    Deny,
}

/// What an approval grants, and how it was decided.
struct Choice {
    scope: Scope,
    resources: Vec<ResourceId>,
    owners_resources: Vec<ResourceId>,
    duration: AccessDuration,
    remembered: bool,
    method: ConsentMethod,
}

/// The domain's refusals on the consent page: the choice is invalid, or the request is
/// no longer hers to answer; the rest are commands the server built wrong, failures.
fn refused(error: ProjectionError) -> DecisionError {
    let ProjectionError::Domain(refusal) = error else { return error.into() };
    use DomainError as D;
    match refusal {
        D::NoResourcesChosen => DecisionError::Invalid("choose at least one photo"),
        D::NotTheOwnersResource => DecisionError::Invalid("choose among your own photos"),
        D::AlreadyDecided
        | D::RequestTokenExpired
        | D::DifferentOwner
        | D::OwnerNotAuthenticated
        | D::UnknownGrant
        | D::ClientSuspended
        | D::OwnerErased
        | D::GrantEnded(GrantEnd::Denied | GrantEnd::Expired | GrantEnd::Revoked) => DecisionError::Gone,
        D::AlreadyExists
        | D::UnknownClient
        | D::UnknownOwner
        | D::ClientAlreadySuspended
        | D::ClientNotSuspended
        | D::GracePeriodRunning
        | D::CallbackNotRegistered
        | D::InvalidTtl
        | D::EmptyScope
        | D::ScopeWidened
        | D::RememberNeedsConsentPage
        | D::NotAuthorized
        | D::AlreadyExchanged
        | D::VerifierMismatch
        | D::WrongClient
        | D::NotPermittedToRevoke
        | D::NothingExpired => DecisionError::Failed(ProjectionError::Domain(refusal).into()),
    }
}

/// `url` with `pairs` appended to its query (before any fragment).
fn with_query(url: &str, pairs: &[(&str, String)]) -> String {
    use grantlog_oauth1::encoding::percent_encode;
    let (base, fragment) = url.split_once('#').map_or((url, None), |(b, f)| (b, Some(f)));
    let mut out = base.to_owned();
    for (index, (name, value)) in pairs.iter().enumerate() {
        out.push(if index == 0 && !base.contains('?') { '?' } else { '&' });
        out.push_str(&format!("{}={}", percent_encode(name), percent_encode(value)));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owners_choice_is_invalid_a_closed_request_gone_a_wrong_command_a_failure() {
        use DomainError as D;
        let answer = |refusal| match refused(ProjectionError::Domain(refusal)) {
            DecisionError::Invalid(why) => why.to_owned(),
            DecisionError::Gone => "gone".to_owned(),
            DecisionError::Failed(_) => "failed".to_owned(),
        };
        assert_eq!(answer(D::NoResourcesChosen), "choose at least one photo");
        assert_eq!(answer(D::NotTheOwnersResource), "choose among your own photos");
        for closed in [D::AlreadyDecided, D::RequestTokenExpired, D::DifferentOwner, D::GrantEnded(GrantEnd::Revoked)] {
            assert_eq!(answer(closed), "gone");
        }
        for wrong in [D::ScopeWidened, D::EmptyScope, D::RememberNeedsConsentPage, D::VerifierMismatch] {
            assert_eq!(answer(wrong), "failed");
        }
    }

    #[test]
    fn callbacks_keep_their_query_and_fragment() {
        let pairs = [("oauth_token", "t".to_owned()), ("oauth_verifier", "v w".to_owned())];
        assert_eq!(with_query("http://a.test/cb", &pairs), "http://a.test/cb?oauth_token=t&oauth_verifier=v%20w");
        assert_eq!(with_query("http://a.test/cb?x=1#top", &pairs[..1]), "http://a.test/cb?x=1&oauth_token=t#top");
    }
}
