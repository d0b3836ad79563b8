//! Commands and a small story for tests (feature `testing`): the projection's own tests
//! and the `grantlog` command's.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use grantlog_domain::{
    AccessDuration, Actor, Approve, Callback, CallbackPattern, ClientCommand, ClientId, ClientName, ConsentMethod,
    ConsentText, ConsumerKey, ExchangeVerifier, Fingerprint, GrantCommand, GrantId, IssueTemporaryCredentials,
    OwnerCommand, OwnerId, PresentedSecret, RecordOwnerAuthenticated, ResourceId, Revoke, Revoker, Scope, TokenKey,
};
use grantlog_store::EventStore;

use crate::{ClientRecord, Context, GrantRecord, OwnerRecord, ProjectionError, execute};

/// 2026-11-25 at `hour:minute` UTC: the day of the story.
pub fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, minute, 0).unwrap()
}

/// A command's envelope at `now`, by `actor`, with a fixed trace id.
pub fn context(now: DateTime<Utc>, actor: Actor) -> Context {
    Context { now, actor, trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()) }
}

/// Registers a client named "Beppa Prints" with consumer key `key` and callbacks on
/// `http://127.0.0.1:*`.
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
        notify_url: None,
    };
    let (record, _) =
        execute::<ClientRecord>(store, &client_id.stream_id(), &command, &context(now, Actor::Admin)).await?;
    Ok(record)
}

/// Registers an owner.
pub async fn register_owner(store: &EventStore, owner_id: OwnerId, now: DateTime<Utc>) -> OwnerRecord {
    let command = OwnerCommand::Register { owner_id };
    execute::<OwnerRecord>(store, &owner_id.stream_id(), &command, &context(now, Actor::System)).await.unwrap().0
}

/// Runs a grant command.
pub async fn grant(
    store: &EventStore,
    grant_id: GrantId,
    command: GrantCommand,
    now: DateTime<Utc>,
    actor: Actor,
) -> Result<GrantRecord, ProjectionError> {
    Ok(execute::<GrantRecord>(store, &grant_id.stream_id(), &command, &context(now, actor)).await?.0)
}

/// Temporary credentials for `client`, good for an hour, read access to photos asked.
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

/// The owner logged in for the request.
pub fn authenticate(owner_id: OwnerId, now: DateTime<Utc>) -> GrantCommand {
    RecordOwnerAuthenticated { owner_id, now }.into()
}

/// The owner approves read access to two photos; the verifier is `verifier`.
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
        resources: vec![ResourceId::parse("islay-1").unwrap(), ResourceId::parse("islay-2").unwrap()],
        owners_resources: vec![ResourceId::parse("islay-1").unwrap(), ResourceId::parse("islay-2").unwrap()],
        duration,
        remembered,
        method: ConsentMethod::ConsentPage,
        consent_text: ConsentText::shown("v1", "Beppa Prints asks to read your photos.").unwrap(),
        verifier_fingerprint: Fingerprint::of(verifier),
        now,
    }
    .into()
}

/// Jane approves Beppa Prints for one hour at 18:03; Beppa exchanges at 18:04; Jane
/// revokes at 18:40. A second grant, never revoked, runs out at 19:10.
pub async fn story(store: &EventStore) -> (GrantId, GrantId, OwnerId) {
    let jane = OwnerId::new(uuid::Uuid::from_u128(0x1a4e));
    let beppa = ClientId::new(uuid::Uuid::from_u128(0xbe99a));
    register_owner(store, jane, at(17, 0)).await;
    let client = register_client(store, beppa, "beppa-demo-key", at(17, 0)).await.unwrap();
    let first = GrantId::new(uuid::Uuid::from_u128(1));
    let second = GrantId::new(uuid::Uuid::from_u128(2));
    for (id, start, token) in [(first, 2, "request-1"), (second, 9, "request-2")] {
        let jane_acts = Actor::Owner(jane.uuid());
        grant(store, id, issue(id, &client, token, at(18, start)), at(18, start), Actor::Client(beppa.uuid()))
            .await
            .unwrap();
        grant(store, id, authenticate(jane, at(18, start + 1)), at(18, start + 1), jane_acts).await.unwrap();
        let approval = approve(jane, &format!("v-{token}"), AccessDuration::OneHour, false, at(18, start + 1));
        grant(store, id, approval, at(18, start + 1), jane_acts).await.unwrap();
        let exchange = ExchangeVerifier {
            client_id: beppa,
            verifier: PresentedSecret::new(format!("v-{token}")),
            access_token: TokenKey::parse(&format!("access-{token}")).unwrap(),
            client_active: true,
            now: at(18, start + 2),
        };
        grant(store, id, exchange.into(), at(18, start + 2), Actor::Client(beppa.uuid())).await.unwrap();
    }
    let revoke = Revoke { by: Revoker::Owner(jane), reason: None, now: at(18, 40) };
    grant(store, first, revoke.into(), at(18, 40), Actor::Owner(jane.uuid())).await.unwrap();
    (first, second, jane)
}
