//! A consent receipt: what the owner agreed to, in the fields of the Kantara Initiative
//! Consent Receipt v1.1 (`KI-CR-v1.1.0`) that apply — which ISO/IEC TS 27560 carries
//! over — plus what makes it checkable: the approval event as stored, its leaf in the
//! log's Merkle tree and an inclusion proof against a signed checkpoint, and the same
//! for the grant's first event, which names the client. Pure: the
//! facts come in, the JSON goes out (`docs/audit.md` describes each field). The terms
//! (scope, resources, duration, expiry, time, notice) are written exactly as the
//! approval event's payload has them, so a verifier compares them byte for byte.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use grantlog_domain::{AuthorizationApproved, ConsentMethod, Event, GrantId, Revoker};
use grantlog_projection::tables::ClientRow;
use grantlog_store::{InclusionProof, StoredCheckpoint, StoredEvent};
use serde_json::{Value, json};

use crate::timeline;

/// Everything a receipt says.
#[derive(Debug)]
pub struct ReceiptFacts<'a> {
    /// The provider, as configured (`--provider-name`).
    pub controller: &'a str,
    /// The grant approved.
    pub grant_id: GrantId,
    /// The client it was approved for.
    pub client: &'a ClientRow,
    /// The approval.
    pub approval: &'a AuthorizationApproved,
    /// The approval event as stored.
    pub approved: &'a StoredEvent,
    /// What happened to the grant after: revocation, expiry (position, when, event).
    pub later: Vec<(u64, DateTime<Utc>, &'a Event)>,
    /// The grant's first event as stored: it names the client, which the approval does
    /// not.
    pub requested: &'a StoredEvent,
    /// The approval's inclusion proof against the checkpoint it is proved in, once one
    /// covers it, and the first event's in the same tree.
    pub proof: Option<(StoredCheckpoint, InclusionProof, InclusionProof)>,
    /// Where the owner withdraws consent.
    pub withdraw_at: String,
}

/// The receipt as JSON. Long because it is one JSON document, which reads best whole.
pub fn receipt(facts: &ReceiptFacts<'_>) -> Value {
    let approval = facts.approval;
    let (collection_method, remembered_in) = match approval.method {
        ConsentMethod::ConsentPage => ("consent page", None),
        ConsentMethod::RememberedDecision { remembered_in } => ("remembered decision", Some(remembered_in)),
    };
    let purpose = format!("{} to the photos the owner chose", timeline::access(&approval.scope));
    let termination = match approval.access_expires_at {
        Some(expires) => format!("at {}, or when withdrawn", expires.to_rfc3339()),
        None => "when withdrawn".to_owned(),
    };
    json!({
        "version": "KI-CR-v1.1.0",
        "consentReceiptID": format!("{}/{}", facts.grant_id, facts.approved.position),
        "consentTimestamp": approval.approved_at.timestamp(),
        "consent_time": approval.approved_at,
        "collectionMethod": collection_method,
        "remembered_in": remembered_in,
        "piiPrincipalId": approval.owner_id,
        "piiControllers": [{ "piiController": facts.controller }],
        "services": [{
            "service": "photos",
            "purposes": [{
                "purpose": purpose,
                "consentType": "EXPRESSED",
                "piiCategory": ["photos"],
                "primaryPurpose": true,
                "termination": termination,
                "thirdPartyDisclosure": true,
                "thirdPartyName": facts.client.name,
            }],
        }],
        "sensitive": false,
        "spiCat": [],
        "grant_id": facts.grant_id,
        "recipient": {
            "client_id": facts.client.client_id,
            "consumer_key": facts.client.consumer_key,
            "name": facts.client.name,
        },
        "scope": approval.scope,
        "resources": approval.resources.iter().map(|resource| resource.as_str()).collect::<Vec<_>>(),
        "duration": approval.duration.as_str(),
        "expires_at": approval.access_expires_at,
        "notice": {
            "version": approval.consent_text.version(),
            "sha256": approval.consent_text.hash(),
        },
        "withdrawal": {
            "how": format!("revoke the grant at {}", facts.withdraw_at),
            "events": facts.later.iter().filter_map(|(position, at, event)| later_event(*position, *at, event)).collect::<Vec<_>>(),
        },
        "event": facts.approved,
        "request": {
            "event": facts.requested,
            "proof": facts.proof.as_ref().map(|(_, _, requested)| proof_json(requested)),
        },
        "proof": facts.proof.as_ref().map(|(checkpoint, approved, _)| {
            let mut proof = proof_json(approved);
            proof["checkpoint"] = json!(checkpoint.note);
            proof
        }),
    })
}

fn proof_json(proof: &InclusionProof) -> Value {
    json!({
        "leaf_index": proof.leaf_index,
        "tree_size": proof.tree_size,
        "leaf_hash": STANDARD.encode(proof.leaf_hash),
        "hashes": proof.hashes.iter().map(|hash| STANDARD.encode(hash)).collect::<Vec<_>>(),
    })
}

/// A later event that ended the consent, as the receipt lists it.
fn later_event(position: u64, at: DateTime<Utc>, event: &Event) -> Option<Value> {
    let (what, by) = match event {
        Event::GrantRevoked(revoked) => (
            "revoked",
            match revoked.by {
                Revoker::Owner(_) => "the owner",
                Revoker::Admin => "an administrator",
                Revoker::Client(_) => "the client",
            },
        ),
        Event::CredentialsExpired(_) => ("expired", "the clock"),
        _ => return None,
    };
    Some(json!({ "position": position, "at": at.to_rfc3339(), "what": what, "by": by }))
}
