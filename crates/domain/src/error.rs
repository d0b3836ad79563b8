//! Why a command was refused, and why a token does not give access.
//!
//! Messages are for logs and for mapping at the edge; none carries a secret or an input
//! value (a verifier that did not match is just "does not match").

use std::fmt;

/// How a grant ended, for [`DomainError::GrantEnded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantEnd {
    /// The owner denied it.
    Denied,
    /// Its credentials expired (recorded by `grant.credentials_expired`, or due by the
    /// clock).
    Expired,
    /// Someone revoked it.
    Revoked,
}

impl fmt::Display for GrantEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        })
    }
}

/// A command refused by an aggregate. The one error type of the domain layer; each
/// server surface that runs commands (the OAuth endpoints, the consent page) maps every
/// variant in one exhaustive match, so a new variant does not compile until placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DomainError {
    /// The command creates something (a client, owner or grant) that already exists.
    #[error("already exists")]
    AlreadyExists,
    /// A client command on a client that was never registered.
    #[error("no such client")]
    UnknownClient,
    /// An owner command on an owner that was never registered.
    #[error("no such owner")]
    UnknownOwner,
    /// A grant command on a grant that was never started.
    #[error("no such grant")]
    UnknownGrant,
    /// The client is suspended: no temporary credentials, no exchanges.
    #[error("the client is suspended")]
    ClientSuspended,
    /// Suspending a client that is already suspended.
    #[error("the client is already suspended")]
    ClientAlreadySuspended,
    /// Reinstating a client that is not suspended.
    #[error("the client is not suspended")]
    ClientNotSuspended,
    /// A rotation with a grace period while an earlier one still runs: it would end the
    /// secret the client is still moving away from.
    #[error("a grace period is running: rotate without one to end it")]
    GracePeriodRunning,
    /// A command on an erased owner.
    #[error("the owner has been erased")]
    OwnerErased,
    /// The callback matches none of the client's registered patterns (and is not `oob`).
    #[error("the callback is not one the client registered")]
    CallbackNotRegistered,
    /// The request token's time to live is zero, negative or out of range.
    #[error("the request token's time to live must be positive")]
    InvalidTtl,
    /// An empty scope was asked for or granted.
    #[error("the scope is empty")]
    EmptyScope,
    /// The granted scope holds a permission that was not requested.
    #[error("the granted scope is wider than the requested one")]
    ScopeWidened,
    /// An approval chose no resources.
    #[error("no resources were chosen")]
    NoResourcesChosen,
    /// An approval chose a resource that is not the approving owner's.
    #[error("a chosen resource is not the owner's")]
    NotTheOwnersResource,
    /// The request token's expiry has passed (the owner's decision must precede it; an
    /// exchange after it is refused as [`GrantEnd::Expired`]).
    #[error("the request token has expired")]
    RequestTokenExpired,
    /// Approve or deny by an owner who has not authenticated for this request.
    #[error("the owner has not authenticated for this request")]
    OwnerNotAuthenticated,
    /// Another owner has already authenticated for this request; it is hers to decide.
    #[error("another owner is deciding on this request")]
    DifferentOwner,
    /// The request was already approved or denied; a decision is made once.
    #[error("the request has already been decided")]
    AlreadyDecided,
    /// `remembered: true` on an approval not made on the consent page.
    #[error("only a decision made on the consent page can be remembered")]
    RememberNeedsConsentPage,
    /// An exchange for a request the owner has not approved.
    #[error("the request token has not been authorized")]
    NotAuthorized,
    /// The verifier was already exchanged; it is good once.
    #[error("the verifier has already been exchanged")]
    AlreadyExchanged,
    /// The presented verifier is not the one issued.
    #[error("the verifier does not match")]
    VerifierMismatch,
    /// A client presented another client's request token.
    #[error("the grant belongs to another client")]
    WrongClient,
    /// A revocation by someone who is neither the grant's owner, its client nor an admin.
    #[error("not permitted to revoke this grant")]
    NotPermittedToRevoke,
    /// The grant has ended (denied, expired or revoked); it accepts nothing more.
    #[error("the grant has ended: {0}")]
    GrantEnded(GrantEnd),
    /// An expiry sweep on a grant none of whose credentials has expired.
    #[error("nothing has expired")]
    NothingExpired,
}

/// Why an access token gives no access. The server maps these to `oauth_problem`:
/// `NotActive` → `token_rejected`, `Expired` → `token_expired`, `Revoked` →
/// `token_revoked`, `ClientSuspended` → `consumer_key_rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AccessError {
    /// No token credentials were issued (unknown grant, pending, authorized but not yet
    /// exchanged, or denied).
    #[error("the token is not an active access token")]
    NotActive,
    /// The access expired.
    #[error("the token has expired")]
    Expired,
    /// The grant was revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// The grant is fine but its client is suspended.
    #[error("the client is suspended")]
    ClientSuspended,
}
