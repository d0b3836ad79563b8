//! What the owner is shown on the consent page, and remembered decisions: which one, if
//! any, is in force for an (owner, client) pair.
//!
//! An owner who ticks "remember" on the consent page asks grantlog to apply the same
//! choice to the client's later requests without asking. The decision lives in that
//! grant's [`AuthorizationApproved`] (`remembered: true`); she turns it off with a
//! [`crate::RememberedConsentWithdrawn`] on her own stream, which covers every earlier
//! remembered approval for the pair. The two streams meet only in the log's global
//! order, so the rule is stated in positions.

use crate::event::AuthorizationApproved;
use crate::values::{ConsentMethod, ConsentText};

/// The version of the consent page's wording: change it with the wording. Every approval
/// records it with the hash of the exact text shown ([`consent_shown`]).
pub const CONSENT_TEXT_VERSION: &str = "v1";

/// What the owner is shown and agrees to when `client_name` asks.
pub fn consent_wording(client_name: &str) -> String {
    format!("{client_name} asks for read-only access to the photos you choose, for the time you choose.")
}

/// The record, for the approval event, of having shown [`consent_wording`].
pub fn consent_shown(client_name: &str) -> ConsentText {
    ConsentText::shown(CONSENT_TEXT_VERSION, &consent_wording(client_name))
        .expect("CONSENT_TEXT_VERSION is a valid version")
}

/// The remembered decision in force for one (owner, client) pair: the latest approval
/// made on the consent page with `remembered: true`, unless a withdrawal for the pair
/// was recorded after it. `approvals` and `withdrawals` carry their log positions;
/// approvals of other pairs must not be passed.
pub fn remembered_decision<'a>(
    approvals: impl IntoIterator<Item = (u64, &'a AuthorizationApproved)>,
    withdrawals: impl IntoIterator<Item = u64>,
) -> Option<(u64, &'a AuthorizationApproved)> {
    let latest = approvals
        .into_iter()
        .filter(|(_, approval)| approval.remembered && approval.method == ConsentMethod::ConsentPage)
        .max_by_key(|(position, _)| *position)?;
    let last_withdrawal = withdrawals.into_iter().max();
    match last_withdrawal {
        Some(withdrawn) if withdrawn > latest.0 => None,
        _ => Some(latest),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::testing::{GRANT, JANE};
    use crate::{AccessDuration, ConsentText, GrantId, Scope};

    fn approval(remembered: bool, method: ConsentMethod) -> AuthorizationApproved {
        AuthorizationApproved {
            grant_id: GRANT,
            owner_id: JANE,
            scope: Scope::parse("photos:read").unwrap(),
            resources: vec![],
            duration: AccessDuration::OneHour,
            approved_at: DateTime::<Utc>::UNIX_EPOCH,
            access_expires_at: None,
            remembered,
            method,
            consent_text: ConsentText::shown("v1", "text").unwrap(),
        }
    }

    #[test]
    fn the_latest_remembered_approval_is_in_force_until_withdrawn() {
        let (first, second) = (approval(true, ConsentMethod::ConsentPage), approval(true, ConsentMethod::ConsentPage));
        let approvals = [(3, &first), (9, &second)];
        assert_eq!(remembered_decision(approvals, []).map(|(at, _)| at), Some(9));
        assert_eq!(remembered_decision(approvals, [5]).map(|(at, _)| at), Some(9));
        assert_eq!(remembered_decision(approvals, [5, 10]), None);
    }

    #[test]
    fn only_consent_page_approvals_asked_to_be_remembered_count() {
        let plain = approval(false, ConsentMethod::ConsentPage);
        let applied =
            approval(false, ConsentMethod::RememberedDecision { remembered_in: GrantId::new(uuid::Uuid::nil()) });
        assert_eq!(remembered_decision([(1, &plain), (2, &applied)], []), None);
        let remembered = approval(true, ConsentMethod::ConsentPage);
        assert_eq!(remembered_decision([(1, &remembered), (2, &applied)], []).map(|(at, _)| at), Some(1));
    }
}
