//! Commands and values for the projection tests.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use grantlog_domain::{
    AccessDuration, Actor, Approve, Callback, CallbackPattern, ClientCommand, ClientId, ClientName, ConsentMethod,
    ConsentText, ConsumerKey, Fingerprint, GrantCommand, GrantId, IssueTemporaryCredentials, OwnerCommand, OwnerId,
    RecordOwnerAuthenticated, ResourceId, Scope, TokenKey,
};
use grantlog_projection::{ClientRecord, Context, GrantRecord, OwnerRecord, ProjectionError, execute};
use grantlog_store::EventStore;

pub fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, minute, 0).unwrap()
}

pub fn context(now: DateTime<Utc>, actor: Actor) -> Context {
    Context {
        now,
        actor,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    }
}

pub async fn register_client(
    store: &EventStore,
    client_id: ClientId,
    key: &str,
    now: DateTime<Utc>,
) -> Result<ClientRecord, ProjectionError> {
    let command = ClientCommand::Register {
        client_id,
        consumer_key: ConsumerKey::parse(key).unwrap(),
        name: ClientName::parse("Beppa Prints").unwrap(),
        homepage: None,
        callbacks: vec![CallbackPattern::parse("http://127.0.0.1:*").unwrap()],
        secret_fingerprint: Fingerprint::of(&format!("secret-{key}")),
        rsa_public_key: None,
    };
    let (record, _) =
        execute::<ClientRecord>(store, &client_id.stream_id(), &command, &context(now, Actor::Admin)).await?;
    Ok(record)
}

pub async fn register_owner(store: &EventStore, owner_id: OwnerId, now: DateTime<Utc>) -> OwnerRecord {
    let command = OwnerCommand::Register { owner_id };
    execute::<OwnerRecord>(store, &owner_id.stream_id(), &command, &context(now, Actor::System))
        .await
        .unwrap()
        .0
}

pub async fn grant(
    store: &EventStore,
    grant_id: GrantId,
    command: GrantCommand,
    now: DateTime<Utc>,
    actor: Actor,
) -> Result<GrantRecord, ProjectionError> {
    Ok(
        execute::<GrantRecord>(store, &grant_id.stream_id(), &command, &context(now, actor))
            .await?
            .0,
    )
}

pub fn issue(grant_id: GrantId, client: &ClientRecord, token: &str, now: DateTime<Utc>) -> GrantCommand {
    IssueTemporaryCredentials {
        grant_id,
        client: client.state.snapshot().unwrap(),
        request_token: TokenKey::parse(token).unwrap(),
        callback: Callback::parse("http://127.0.0.1:9/ready").unwrap(),
        requested_scope: Scope::parse("photos:read").unwrap(),
        now,
        ttl: TimeDelta::hours(1),
    }
    .into()
}

pub fn authenticate(owner_id: OwnerId, now: DateTime<Utc>) -> GrantCommand {
    RecordOwnerAuthenticated { owner_id, now }.into()
}

pub fn approve(
    owner_id: OwnerId,
    verifier: &str,
    duration: AccessDuration,
    remembered: bool,
    now: DateTime<Utc>,
) -> GrantCommand {
    Approve {
        owner_id,
        scope: Scope::parse("photos:read").unwrap(),
        resources: vec![
            ResourceId::parse("islay-1").unwrap(),
            ResourceId::parse("islay-2").unwrap(),
        ],
        duration,
        remembered,
        method: ConsentMethod::ConsentPage,
        consent_text: ConsentText::shown("v1", "Beppa Prints asks to read your photos.").unwrap(),
        verifier_fingerprint: Fingerprint::of(verifier),
        now,
    }
    .into()
}
