//! The expiry sweep. Expiry is in force by the clock — every check compares the
//! recorded expiry with now — so nothing waits for this. It writes
//! `grant.credentials_expired` (by the system, `expired_at` the recorded expiry, not the
//! sweep's time) so that the log itself says how each grant ended. Several processes
//! may sweep at once: the second to reach a grant finds it recorded and passes on.

use chrono::{DateTime, TimeDelta, Utc};
use grantlog_domain::{Actor, Expire, GrantId};
use grantlog_projection::tables::{grants_due_to_expire, wipe_ended_token_secrets};
use grantlog_projection::{Context, GrantRecord, ProjectionError, execute};
use grantlog_store::{EventStore, StoreError};

use crate::services::oauth::TOKEN_SECRET_PREFIX;

/// The most grants one sweep records; a backlog takes several sweeps.
const SWEEP_MOST: u32 = 1_000;

/// Records the expiry of every grant whose credentials ran out by `now` (up to
/// `SWEEP_MOST`); returns how many this call recorded. A grant that cannot be
/// recorded is logged and passed over, so it holds up no other.
pub async fn record_expiries(store: &EventStore, now: DateTime<Utc>) -> Result<usize, ProjectionError> {
    let mut recorded = 0;
    for grant_id in grants_due_to_expire(store.reader(), now, SWEEP_MOST).await? {
        match record_expiry(store, &grant_id, now).await {
            Ok(()) => recorded += 1,
            // Recorded by another process meanwhile, or ended another way.
            Err(ProjectionError::Domain(_)) => {}
            Err(error) => tracing::warn!(%error, grant_id, "recording an expiry failed; the next sweep tries again"),
        }
    }
    Ok(recorded)
}

/// How long a credential's secret outlives its end: for a day a client presenting a
/// revoked, expired or used credential is still told so (`token_revoked`, …), which
/// needs its signature checked; after it, `token_rejected`.
pub const ENDED_SECRETS_KEPT: TimeDelta = TimeDelta::days(1);

/// Wipes the sealed secrets of credentials that ended more than [`ENDED_SECRETS_KEPT`]
/// before `now` (see [`wipe_ended_token_secrets`]): crypto-shredding, the log
/// untouched. Returns how many.
pub async fn wipe_ended_secrets(store: &EventStore, now: DateTime<Utc>) -> Result<u64, ProjectionError> {
    wipe_ended_token_secrets(store.reader(), TOKEN_SECRET_PREFIX, now - ENDED_SECRETS_KEPT).await
}

async fn record_expiry(store: &EventStore, grant_id: &str, now: DateTime<Utc>) -> Result<(), ProjectionError> {
    let grant_id =
        GrantId::new(grant_id.parse().map_err(|_| StoreError::Corrupt(format!("{grant_id} is not a grant id")))?);
    let context = Context { now, actor: Actor::System, trace_id: None };
    execute::<GrantRecord>(store, &grant_id.stream_id(), &Expire { now }.into(), &context).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use grantlog_domain::{ClientId, Credentials, Event, GrantStatus};
    use grantlog_projection::decode;
    use grantlog_projection::tables::grant_by_id;
    use grantlog_projection::testing::{at, grant, issue, register_client, story};
    use grantlog_store::testing::TestDatabase;

    use super::*;

    grantlog_store::backend_tests!(
        the_sweep_records_each_expiry_once_at_its_recorded_time,
        the_secrets_of_ended_credentials_are_wiped_and_the_log_still_verifies,
    );

    async fn the_sweep_records_each_expiry_once_at_its_recorded_time(database: TestDatabase) {
        let store = database.store().await;
        // Revoked at 18:40; active until 19:10.
        let (revoked, active, _) = story(&store).await;
        // Temporary credentials issued at 18:20, never used: good until 19:20.
        let client = register_client(&store, ClientId::new(uuid::Uuid::from_u128(7)), "other-key", at(18, 0)).await;
        let unused = GrantId::new(uuid::Uuid::from_u128(3));
        let client = client.unwrap();
        grant(&store, unused, issue(unused, &client, "request-3", at(18, 20)), at(18, 20), Actor::Admin).await.unwrap();

        assert_eq!(record_expiries(&store, at(19, 9)).await.unwrap(), 0, "nothing has run out");
        // Two sweeps at once, as from two processes: one records it.
        let (one, other) = tokio::join!(record_expiries(&store, at(19, 15)), record_expiries(&store, at(19, 15)));
        assert_eq!(one.unwrap() + other.unwrap(), 1);
        assert_eq!(record_expiries(&store, at(19, 15)).await.unwrap(), 0, "recorded once");
        assert_eq!(record_expiries(&store, at(19, 30)).await.unwrap(), 1);

        let ended = |grant_id: GrantId| {
            let store = store.clone();
            async move {
                let events = store.read_stream(&grant_id.stream_id()).await.unwrap();
                let last = events.last().unwrap().clone();
                let status = grant_by_id(store.reader(), &grant_id.uuid().to_string()).await.unwrap().unwrap().status;
                (decode(&last).unwrap(), last.actor, status)
            }
        };
        let (event, actor, status) = ended(active).await;
        let Event::CredentialsExpired(expired) = event else { panic!("{event:?}") };
        assert_eq!(
            (expired.credentials, expired.expired_at, actor, status),
            (Credentials::AccessToken, at(19, 10), Actor::System, GrantStatus::Expired)
        );
        let (event, _, status) = ended(unused).await;
        let Event::CredentialsExpired(expired) = event else { panic!("{event:?}") };
        assert_eq!(
            (expired.credentials, expired.expired_at, status),
            (Credentials::RequestToken, at(19, 20), GrantStatus::Expired)
        );
        assert!(matches!(ended(revoked).await.0, Event::GrantRevoked(_)), "a revoked grant is left as it ended");
    }

    async fn the_secrets_of_ended_credentials_are_wiped_and_the_log_still_verifies(database: TestDatabase) {
        let store = database.store().await;
        // Revoked at 18:40 (request token exchanged, then the access token revoked);
        // active until 19:10.
        let (revoked, active, _) = story(&store).await;
        let client = register_client(&store, ClientId::new(uuid::Uuid::from_u128(7)), "other-key", at(18, 0)).await;
        let pending = GrantId::new(uuid::Uuid::from_u128(3));
        grant(&store, pending, issue(pending, &client.unwrap(), "request-3", at(18, 20)), at(18, 20), Actor::Admin)
            .await
            .unwrap();
        let sealer = grantlog_store::SecretBox::from_key(&[5; 32]);
        let mut tokens = Vec::new();
        for grant_id in [revoked, active, pending] {
            let row = grant_by_id(store.reader(), &grant_id.uuid().to_string()).await.unwrap().unwrap();
            tokens.extend(std::iter::once(row.request_token).chain(row.access_token));
        }
        let mut connection = store.reader().acquire().await.unwrap();
        for token in &tokens {
            sealer.put(&mut connection, &crate::services::oauth::token_secret_id(token), "secret").await.unwrap();
        }
        drop(connection);
        let kept = || {
            let (store, sealer) = (store.clone(), sealer.clone());
            async move {
                let mut kept = Vec::new();
                for token in ["request-1", "access-request-1", "request-2", "access-request-2", "request-3"] {
                    if sealer
                        .get(store.reader(), &crate::services::oauth::token_secret_id(token))
                        .await
                        .unwrap()
                        .is_some()
                    {
                        kept.push(token);
                    }
                }
                kept
            }
        };
        assert_eq!(tokens.len(), 5, "{tokens:?}");
        let day = ENDED_SECRETS_KEPT;
        assert_eq!(wipe_ended_secrets(&store, at(19, 0)).await.unwrap(), 0, "kept for a day after the end");
        assert_eq!(wipe_ended_secrets(&store, at(19, 0) + day).await.unwrap(), 3);
        // The exchanged request tokens and the revoked access token are gone; the live
        // access token and the pending request token stay.
        assert_eq!(kept().await, ["access-request-2", "request-3"]);
        assert_eq!(wipe_ended_secrets(&store, at(19, 0) + day).await.unwrap(), 0, "once");
        record_expiries(&store, at(19, 30)).await.unwrap();
        assert_eq!(wipe_ended_secrets(&store, at(19, 30) + day).await.unwrap(), 2, "both ran out and were recorded");
        assert!(kept().await.is_empty());
        assert!(store.verify_chain(None).await.unwrap().is_ok(), "the events stay whole");
    }
}
