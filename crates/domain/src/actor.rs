use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Who caused an event. Every event envelope records one, so an auditor can always say
/// who did what. Owners and clients are named by their pseudonymous ids; the person
/// behind an owner id lives outside the events, so erasing them keeps the log intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A resource owner, by owner id.
    Owner(Uuid),
    /// A client, by client id.
    Client(Uuid),
    /// An administrator (admin API token or CLI).
    Admin,
    /// An auditor (auditor API token).
    Auditor,
    /// grantlog itself: expiry sweeps, migrations, the demo seed.
    System,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_kind_and_id() {
        let id = Uuid::nil();
        assert_eq!(
            serde_json::to_string(&Actor::Owner(id)).unwrap(),
            r#"{"kind":"owner","id":"00000000-0000-0000-0000-000000000000"}"#
        );
        assert_eq!(serde_json::to_string(&Actor::System).unwrap(), r#"{"kind":"system"}"#);
    }
}
