//! The grants as they stood at a moment: the auditor's replay. A pure function of a
//! fold and an instant, rendered the same way every time, so the same log always gives
//! byte-identical output.

use chrono::{DateTime, Utc};
use grantlog_domain::{ClientId, GrantStatus, OwnerId};
use serde::Serialize;

use crate::fold::Projection;
use crate::tables::timestamp;

/// Which grants to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this owner's.
    pub owner: Option<OwnerId>,
    /// Only the client with this consumer key.
    pub client_key: Option<String>,
}

/// One grant as it stood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayedGrant {
    /// The grant's id.
    pub grant_id: String,
    /// The owner's pseudonymous id (no username: the log holds none, and an erased
    /// owner's replay must not change); `null` before anyone authenticated.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub owner_id: Option<String>,
    /// Whether the owner's personal data had been erased by then.
    pub owner_erased: bool,
    /// The client's consumer key.
    pub client_key: String,
    /// The client's name.
    pub client_name: String,
    /// The granted scope once approved, the requested scope before.
    pub scope: String,
    /// The resources granted.
    pub resources: Vec<String>,
    /// pending, authorized, active, expired, denied or revoked.
    pub status: GrantStatus,
    /// Since when that status held.
    pub since: String,
    /// The position of the owner's approval (`null` if not approved by then): the
    /// event its consent receipt proves.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub approved_position: Option<u64>,
}

/// The grants of `projection` as they stood at `at`, in the order they were issued.
pub fn replay(projection: &Projection, at: DateTime<Utc>, filter: &Filter) -> Vec<ReplayedGrant> {
    let mut records: Vec<_> = projection.grants().values().collect();
    records.sort_by_key(|record| record.first_position);
    records
        .into_iter()
        .filter_map(|record| {
            let grant = record.grant()?;
            let client = projection.clients().get(&grant.client_id()).and_then(|c| c.state.client());
            let client_key = client.map_or_else(|| unknown_client(grant.client_id()), |c| c.consumer_key().to_string());
            if filter.owner.is_some_and(|owner| grant.owner_id() != Some(owner))
                || filter.client_key.as_ref().is_some_and(|key| *key != client_key)
            {
                return None;
            }
            let (status, since) = record.status_at(at)?;
            let approval = grant.approval();
            Some(ReplayedGrant {
                grant_id: grant.grant_id().to_string(),
                owner_id: grant.owner_id().map(|id| id.to_string()),
                owner_erased: grant
                    .owner_id()
                    .and_then(|id| projection.owners().get(&id))
                    .and_then(|record| record.state.owner())
                    .is_some_and(|owner| owner.is_erased()),
                client_name: client.map_or_else(String::new, |c| c.name().to_string()),
                client_key,
                scope: approval.map_or(&grant.temporary_credentials().requested_scope, |a| &a.scope).to_string(),
                resources: approval.map_or_else(Vec::new, |a| a.resources.iter().map(ToString::to_string).collect()),
                status,
                since: timestamp(since),
                approved_position: record.approved_position,
            })
        })
        .collect()
}

fn unknown_client(client_id: ClientId) -> String {
    format!("(unregistered client {client_id})")
}

/// Tab-separated, one grant a line under a header: for people and `cut`/`awk`.
pub fn render_text(grants: &[ReplayedGrant]) -> String {
    let mut out = String::from("grant_id\towner_id\tclient_key\tclient_name\tscope\tresources\tstatus\tsince\n");
    for grant in grants {
        let owner = match (&grant.owner_id, grant.owner_erased) {
            (Some(id), true) => format!("{id} (erased owner)"),
            (Some(id), false) => id.clone(),
            (None, _) => "-".to_owned(),
        };
        let fields = [
            grant.grant_id.as_str(),
            &owner,
            &grant.client_key,
            &grant.client_name,
            &grant.scope,
            &grant.resources.join(","),
            grant.status.as_str(),
            &grant.since,
        ];
        // Names are free text: a tab or newline in one must not shift the columns.
        let cleaned: Vec<String> = fields.iter().map(|field| field.replace(['\t', '\n', '\r'], " ")).collect();
        out.push_str(&cleaned.join("\t"));
        out.push('\n');
    }
    out
}

/// A JSON array, fields in a fixed order.
pub fn render_json(grants: &[ReplayedGrant]) -> String {
    let mut out = serde_json::to_string_pretty(grants).expect("replayed grants serialize");
    out.push('\n');
    out
}
