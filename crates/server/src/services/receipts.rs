//! Consent receipts (`crate::receipt`), for the owner who gave the consent and for
//! auditors: the approval, what ended it since, and its proof against the latest
//! signed checkpoint that covers it.

use chrono::{DateTime, Utc};
use grantlog_domain::{Event, OwnerId};
use grantlog_projection::decode;
use grantlog_projection::tables::grant_by_id;
use serde_json::Value;

use super::Services;
use super::account::AccountError;
use crate::receipt::{ReceiptFacts, receipt};

/// Who asks for a receipt.
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    /// The owner: only her own grants' receipts.
    Owner(OwnerId),
    /// An auditor: any grant's.
    Auditor,
}

impl Services {
    /// The receipt of grant `grant_id`'s approval; `NotFound` for a grant never approved
    /// or, for an owner, not hers.
    pub async fn receipt(&self, grant_id: &str, reader: Reader) -> Result<Value, AccountError> {
        let row = match reader {
            Reader::Owner(owner) => self.owned_grant(owner, grant_id).await?,
            Reader::Auditor => grant_by_id(self.store.reader(), grant_id).await?.ok_or(AccountError::NotFound)?,
        };
        let client = self.client(row.client_id).await?;
        let recorded = self.store.read_stream(&row.grant_id.stream_id()).await?;
        let mut events: Vec<(u64, DateTime<Utc>, Event)> = Vec::with_capacity(recorded.len());
        for event in &recorded {
            events.push((event.position, event.occurred_at, decode(event)?));
        }
        let Some((position, approval)) = events.iter().find_map(|(position, _, event)| match event {
            Event::AuthorizationApproved(approval) => Some((*position, approval)),
            _ => None,
        }) else {
            return Err(AccountError::NotFound);
        };
        let approved = self
            .store
            .stored_event(position)
            .await?
            .ok_or_else(|| super::ServiceError::Corrupt(format!("position {position} is not stored")))?;
        let first = recorded.first().map_or(position, |event| event.position);
        let requested = self
            .store
            .stored_event(first)
            .await?
            .ok_or_else(|| super::ServiceError::Corrupt(format!("position {first} is not stored")))?;
        let proof = match self.store.latest_checkpoint().await? {
            Some(checkpoint) if checkpoint.tree_size >= position => {
                let approved = self.store.inclusion_proof(position - 1, checkpoint.tree_size).await?;
                let request = self.store.inclusion_proof(first - 1, checkpoint.tree_size).await?;
                Some((checkpoint, approved, request))
            }
            _ => None,
        };
        let later = events
            .iter()
            .filter(|(later, _, _)| *later > position)
            .map(|(later, at, event)| (*later, *at, event))
            .collect();
        let facts = ReceiptFacts {
            controller: &self.provider_name,
            grant_id: row.grant_id,
            client: &client,
            approval,
            approved: &approved,
            requested: &requested,
            later,
            proof,
            withdraw_at: format!("/account/grants/{}", row.grant_id),
        };
        serde_json::to_value(receipt(&facts))
            .map_err(|error| super::ServiceError::Corrupt(format!("the receipt does not serialize: {error}")).into())
    }
}
