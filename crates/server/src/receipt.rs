//! A consent receipt: what the owner agreed to, in the fields of the Kantara Initiative
//! Consent Receipt v1.1 (`KI-CR-v1.1.0`) that apply — which ISO/IEC TS 27560 carries
//! over — plus what makes it checkable: the approval event as stored, its leaf in the
//! log's Merkle tree and an inclusion proof against a signed checkpoint, and the same
//! for the grant's first event, which names the client. Pure: the
//! facts come in, the receipt goes out (`docs/audit.md` describes each field). The terms
//! (scope, resources, duration, expiry, time, notice) are written exactly as the
//! approval event's payload has them, so a verifier compares them byte for byte.

use chrono::{DateTime, Utc};
use grantlog_domain::{
    AuthorizationApproved, ClientId, ConsentMethod, Event, Fingerprint, GrantId, OwnerId, Revoker, Scope,
};
use grantlog_projection::tables::ClientRow;
use grantlog_store::{InclusionProof, StoredCheckpoint, StoredEvent};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::InclusionProofView;
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

/// A consent receipt as the owner downloads it and the auditor API answers it
/// (`docs/audit.md` describes each field).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentReceipt<'a> {
    /// Always `KI-CR-v1.1.0`.
    pub version: &'static str,
    /// `<grant id>/<position of the approval>`.
    #[serde(rename = "consentReceiptID")]
    pub consent_receipt_id: String,
    /// The approval's time, seconds since the Unix epoch.
    #[serde(rename = "consentTimestamp")]
    pub consent_timestamp: i64,
    /// The approval's time exactly as the event records it.
    #[schema(value_type = String, format = DateTime)]
    pub consent_time: DateTime<Utc>,
    /// `consent page`, or `remembered decision`.
    #[serde(rename = "collectionMethod")]
    pub collection_method: &'static str,
    /// For a remembered decision: the grant whose approval was remembered.
    #[schema(required = true, value_type = Option<String>, format = Uuid)]
    pub remembered_in: Option<GrantId>,
    /// The owner's pseudonymous id.
    #[serde(rename = "piiPrincipalId")]
    #[schema(value_type = String, format = Uuid)]
    pub pii_principal_id: OwnerId,
    /// The provider.
    #[serde(rename = "piiControllers")]
    pub pii_controllers: Vec<PiiController<'a>>,
    /// What was consented to.
    pub services: Vec<ReceiptService<'a>>,
    /// Always `false`: photos are not special categories of data.
    pub sensitive: bool,
    /// Always empty.
    #[serde(rename = "spiCat")]
    pub spi_cat: Vec<String>,
    /// The grant.
    #[schema(value_type = String, format = Uuid)]
    pub grant_id: GrantId,
    /// The client.
    pub recipient: Recipient<'a>,
    /// The permissions granted, as the approval event has them.
    #[schema(value_type = Vec<String>)]
    pub scope: &'a Scope,
    /// The photos granted.
    pub resources: Vec<&'a str>,
    /// `1hour`, `1day`, `30days` or `never`.
    pub duration: &'static str,
    /// When access ends, as the approval event has it.
    #[schema(required = true, value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// The consent text shown.
    pub notice: ReceiptNotice<'a>,
    /// How to withdraw, and the withdrawal or expiry if it happened.
    pub withdrawal: Withdrawal,
    /// The approval event as stored: the bytes its hash covers.
    #[schema(value_type = Object)]
    pub event: &'a StoredEvent,
    /// The grant's first event, which names the client, and its inclusion proof.
    pub request: RequestedProof<'a>,
    /// The approval's inclusion proof against a signed checkpoint, once one covers it.
    #[schema(required = true)]
    pub proof: Option<CheckpointedProof>,
}

/// `piiControllers[]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PiiController<'a> {
    /// The provider's name (`--provider-name`).
    #[serde(rename = "piiController")]
    pub pii_controller: &'a str,
}

/// `services[]`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptService<'a> {
    /// Always `photos`.
    pub service: &'static str,
    /// Its purposes.
    pub purposes: Vec<ReceiptPurpose<'a>>,
}

/// `services[].purposes[]`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPurpose<'a> {
    /// What access, in words.
    pub purpose: String,
    /// Always `EXPRESSED`.
    pub consent_type: &'static str,
    /// Always `["photos"]`.
    pub pii_category: Vec<&'static str>,
    /// Always `true`.
    pub primary_purpose: bool,
    /// When consent ends, in words.
    pub termination: String,
    /// Always `true`: the client receives the photos.
    pub third_party_disclosure: bool,
    /// The client's name.
    pub third_party_name: &'a str,
}

/// `recipient`: the client.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipient<'a> {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub client_id: ClientId,
    /// Its consumer key.
    pub consumer_key: &'a str,
    /// Its name.
    pub name: &'a str,
}

/// `notice`: the consent text's version and hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptNotice<'a> {
    /// Its version.
    pub version: &'a str,
    /// SHA-256 of the text shown, hex.
    #[schema(value_type = String)]
    pub sha256: &'a Fingerprint,
}

/// `withdrawal`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawal {
    /// Where the owner withdraws consent.
    pub how: String,
    /// The revocation or expiry that ended the consent, if one did.
    pub events: Vec<Ending>,
}

/// A later event that ended the consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ending {
    /// Its position.
    pub position: u64,
    /// When.
    #[schema(format = DateTime)]
    pub at: String,
    /// `revoked` or `expired`.
    pub what: &'static str,
    /// `the owner`, `an administrator`, `the client` or `the clock`.
    pub by: &'static str,
}

/// `request`: the grant's first event and its proof in the same tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestedProof<'a> {
    /// The event as stored.
    #[schema(value_type = Object)]
    pub event: &'a StoredEvent,
    /// Its inclusion proof, once a checkpoint covers the approval.
    #[schema(required = true)]
    pub proof: Option<InclusionProofView>,
}

/// An inclusion proof with the checkpoint (a signed note) it is proved against.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointedProof {
    /// The proof.
    #[serde(flatten)]
    pub proof: InclusionProofView,
    /// The checkpoint, as signed.
    pub checkpoint: String,
}

/// The receipt of `facts`.
pub fn receipt<'a>(facts: &'a ReceiptFacts<'a>) -> ConsentReceipt<'a> {
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
    ConsentReceipt {
        version: "KI-CR-v1.1.0",
        consent_receipt_id: format!("{}/{}", facts.grant_id, facts.approved.position),
        consent_timestamp: approval.approved_at.timestamp(),
        consent_time: approval.approved_at,
        collection_method,
        remembered_in,
        pii_principal_id: approval.owner_id,
        pii_controllers: vec![PiiController { pii_controller: facts.controller }],
        services: vec![ReceiptService {
            service: "photos",
            purposes: vec![ReceiptPurpose {
                purpose,
                consent_type: "EXPRESSED",
                pii_category: vec!["photos"],
                primary_purpose: true,
                termination,
                third_party_disclosure: true,
                third_party_name: &facts.client.name,
            }],
        }],
        sensitive: false,
        spi_cat: Vec::new(),
        grant_id: facts.grant_id,
        recipient: Recipient {
            client_id: facts.client.client_id,
            consumer_key: &facts.client.consumer_key,
            name: &facts.client.name,
        },
        scope: &approval.scope,
        resources: approval.resources.iter().map(|resource| resource.as_str()).collect(),
        duration: approval.duration.as_str(),
        expires_at: approval.access_expires_at,
        notice: ReceiptNotice { version: approval.consent_text.version(), sha256: approval.consent_text.hash() },
        withdrawal: Withdrawal {
            how: format!("revoke the grant at {}", facts.withdraw_at),
            events: facts.later.iter().filter_map(|(position, at, event)| ending(*position, *at, event)).collect(),
        },
        event: facts.approved,
        request: RequestedProof {
            event: facts.requested,
            proof: facts.proof.as_ref().map(|(_, _, requested)| InclusionProofView::from(requested)),
        },
        proof: facts.proof.as_ref().map(|(checkpoint, approved, _)| CheckpointedProof {
            proof: InclusionProofView::from(approved),
            checkpoint: checkpoint.note.clone(),
        }),
    }
}

/// A later event that ended the consent, as the receipt lists it.
fn ending(position: u64, at: DateTime<Utc>, event: &Event) -> Option<Ending> {
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
    Some(Ending { position, at: at.to_rfc3339(), what, by })
}
