//! The read models against the log, on SQLite and PostgreSQL: live equals rebuilt,
//! catch-up closes a gap, replay shows the past, revocation is in force at once.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use grantlog_domain::{
    AccessDuration, Actor, ClientCommand, ClientId, ConsentMethod, Deny, ExchangeVerifier, Expire, GrantId,
    GrantStatus, OwnerCommand, OwnerId, PresentedSecret, Reason, Revoke, Revoker, TokenKey,
};
use grantlog_projection::replay::{Filter, render_json, render_text, replay};
use grantlog_projection::tables::{Tables, grant_by_token, timestamp};
use grantlog_projection::testing::*;
use grantlog_projection::{
    ClientRecord, Horizon, OwnerRecord, ProjectionError, Record, catch_up, execute, fold, rebuild,
};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{EventStore, ExpectedVersion, NewEvent, backend_tests};

/// A small deterministic generator (xorshift64*), so a failing scenario replays exactly.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())])
    }
}

struct World {
    clients: Vec<ClientId>,
    owners: Vec<OwnerId>,
    grants: Vec<GrantId>,
    /// Who authenticated for each grant, so approvals usually come from the right owner.
    authenticated: HashMap<GrantId, OwnerId>,
    /// Which client asked for each grant, so exchanges usually come from it.
    issued_to: HashMap<GrantId, ClientId>,
    now: DateTime<Utc>,
}

impl World {
    /// Mostly one of the newest grants: old ones have run out, and flows are short.
    fn recent_grant(&self, dice: &mut Dice) -> Option<GrantId> {
        dice.pick(&self.grants[self.grants.len().saturating_sub(2)..])
    }

    /// The grant's own owner most of the time, anyone otherwise.
    fn owner_for(&self, grant: GrantId, dice: &mut Dice) -> Option<OwnerId> {
        match self.authenticated.get(&grant) {
            Some(owner) if dice.below(5) != 0 => Some(*owner),
            _ => dice.pick(&self.owners),
        }
    }

    /// The grant's own client most of the time, any client otherwise.
    fn client_for(&self, grant: GrantId, dice: &mut Dice) -> Option<ClientId> {
        match self.issued_to.get(&grant) {
            Some(client) if dice.below(5) != 0 => Some(*client),
            _ => dice.pick(&self.clients),
        }
    }
}

/// Runs one random command. Refusals by the domain are part of the scenario.
async fn step(store: &EventStore, world: &mut World, dice: &mut Dice, n: usize) {
    // Mostly seconds apart; now and then hours, so that access runs out too.
    let pause = if dice.below(80) == 0 { 3_600 * dice.below(30) } else { dice.below(60) };
    world.now += TimeDelta::seconds(pause as i64);
    let now = world.now;
    // Weighted: registrations and suspensions now and then, the OAuth flow most of the time.
    const ACTIONS: [usize; 20] = [0, 1, 2, 3, 3, 3, 5, 5, 5, 7, 7, 7, 9, 10, 10, 10, 10, 12, 13, 13];
    let result: Result<(), ProjectionError> = match ACTIONS[dice.below(ACTIONS.len())] {
        0 => {
            let id = ClientId::new(uuid::Uuid::now_v7());
            world.clients.push(id);
            register_client(store, id, &format!("client-{n}"), now).await.map(drop)
        }
        1 => {
            let id = OwnerId::new(uuid::Uuid::now_v7());
            world.owners.push(id);
            register_owner(store, id, now).await;
            Ok(())
        }
        2 => match dice.pick(&world.clients) {
            Some(client) => {
                let command = match dice.below(4) {
                    0 => ClientCommand::Suspend { reason: Reason::parse("abuse report").unwrap() },
                    1 => ClientCommand::Reinstate { reason: Some(Reason::parse("resolved").unwrap()) },
                    // The previous secret kept for an hour: its fingerprint and time are in the row.
                    2 => ClientCommand::RotateSecret {
                        secret_fingerprint: grantlog_domain::Fingerprint::of(&format!("secret-{}", dice.below(1000))),
                        previous_valid_until: None,
                        now,
                    },
                    _ => ClientCommand::Update {
                        name: Some(
                            grantlog_domain::ClientName::parse(&format!("Renamed {}", dice.below(1000))).unwrap(),
                        ),
                        homepage: Some(None),
                        callbacks: None,
                        notify_url: Some(Some(
                            grantlog_domain::NotifyUrl::parse("https://beppa.example/notices").unwrap(),
                        )),
                    },
                };
                let context = context(now, Actor::Admin);
                execute::<ClientRecord>(store, &client.stream_id(), &command, &context).await.map(drop)
            }
            None => Ok(()),
        },
        3 | 4 => match dice.pick(&world.clients) {
            Some(client) => {
                let record = ClientRecord::fold(&store.read_stream(&client.stream_id()).await.unwrap()).unwrap();
                let id = GrantId::new(uuid::Uuid::now_v7());
                let command = issue(id, &record, &format!("request-{n}"), now);
                let issued = grant(store, id, command, now, Actor::Client(client.uuid())).await;
                if issued.is_ok() {
                    world.grants.push(id);
                    world.issued_to.insert(id, client);
                }
                issued.map(drop)
            }
            None => Ok(()),
        },
        5 | 6 => match (world.recent_grant(dice), dice.pick(&world.owners)) {
            (Some(id), Some(owner)) => {
                world.authenticated.entry(id).or_insert(owner);
                grant(store, id, authenticate(owner, now), now, Actor::Owner(owner.uuid())).await.map(drop)
            }
            _ => Ok(()),
        },
        7 | 8 => match world.recent_grant(dice).and_then(|id| Some((id, world.owner_for(id, dice)?))) {
            Some((id, owner)) => {
                let durations = [
                    AccessDuration::OneHour,
                    AccessDuration::OneDay,
                    AccessDuration::ThirtyDays,
                    AccessDuration::UntilRevoked,
                ];
                let command =
                    approve(owner, &format!("verifier-{id}"), durations[dice.below(4)], dice.below(3) == 0, now);
                grant(store, id, command, now, Actor::Owner(owner.uuid())).await.map(drop)
            }
            None => Ok(()),
        },
        9 => match world.recent_grant(dice).and_then(|id| Some((id, world.owner_for(id, dice)?))) {
            Some((id, owner)) => {
                let command = Deny { owner_id: owner, method: ConsentMethod::ConsentPage, now }.into();
                grant(store, id, command, now, Actor::Owner(owner.uuid())).await.map(drop)
            }
            None => Ok(()),
        },
        10 | 11 => match world.recent_grant(dice).and_then(|id| Some((id, world.client_for(id, dice)?))) {
            Some((id, client)) => {
                let verifier = if dice.below(5) == 0 { "wrong".to_owned() } else { format!("verifier-{id}") };
                let command = ExchangeVerifier {
                    client_id: client,
                    verifier: PresentedSecret::new(verifier),
                    access_token: TokenKey::parse(&format!("access-{n}")).unwrap(),
                    client_active: dice.below(6) != 0,
                    now,
                }
                .into();
                grant(store, id, command, now, Actor::Client(client.uuid())).await.map(drop)
            }
            None => Ok(()),
        },
        12 => match (dice.pick(&world.grants), dice.pick(&world.owners), dice.pick(&world.clients)) {
            (Some(id), Some(owner), Some(client)) => {
                let by = [Revoker::Owner(owner), Revoker::Admin, Revoker::Client(client)][dice.below(3)];
                let command = Revoke { by, reason: None, now }.into();
                grant(store, id, command, now, Actor::Admin).await.map(drop)
            }
            _ => Ok(()),
        },
        _ => match dice.pick(&world.grants) {
            Some(id) => grant(store, id, Expire { now }.into(), now, Actor::System).await.map(drop),
            None => Ok(()),
        },
    };
    match result {
        Ok(()) | Err(ProjectionError::Domain(_)) => {}
        Err(error) => panic!("step {n}: {error}"),
    }
}

async fn a_long_random_scenario_rebuilds_to_the_live_state(database: TestDatabase) {
    let store = database.store().await;
    let mut world = World {
        clients: Vec::new(),
        owners: Vec::new(),
        grants: Vec::new(),
        authenticated: HashMap::new(),
        issued_to: HashMap::new(),
        now: at(9, 0),
    };
    let mut dice = Dice(0x5EED_2026);
    for n in 0..600 {
        step(&store, &mut world, &mut dice, n).await;
    }
    let live = Tables::read(store.reader()).await.unwrap();
    let folded = fold(&store, Horizon::Everything).await.unwrap();
    assert_eq!(live, folded.tables(), "the SQL read models equal the pure fold");

    let statuses: std::collections::BTreeSet<&str> = live.grants.iter().map(|g| g.status.as_str()).collect();
    for status in GrantStatus::ALL {
        assert!(statuses.contains(status.as_str()), "the scenario reaches {status:?}: {statuses:?}");
    }
    assert!(live.clients.iter().any(|c| !c.active), "some client ends suspended");

    let refreshed = rebuild(&store).await.unwrap();
    assert_eq!(refreshed.events, store.head().await.unwrap().position);
    assert_eq!(Tables::read(store.reader()).await.unwrap(), live, "rebuilt equals live");
    assert_eq!(catch_up(&store).await.unwrap().events, 0, "nothing to catch up after a rebuild");
}

async fn catch_up_applies_what_was_appended_without_the_read_models(database: TestDatabase) {
    let store = database.store().await;
    let client =
        register_client(&store, ClientId::new(uuid::Uuid::now_v7()), "beppa-demo-key", at(9, 0)).await.unwrap();
    // A grant written with the bare store, as a bulk import or an older binary would.
    let id = GrantId::new(uuid::Uuid::now_v7());
    let events = grantlog_domain::Aggregate::decide(
        &grantlog_domain::GrantState::default(),
        &issue(id, &client, "request-1", at(9, 1)),
    )
    .unwrap();
    let envelope = context(at(9, 1), Actor::System);
    let new_events: Vec<NewEvent> = events.iter().map(|e| envelope.envelope(e)).collect();
    store.append(&id.stream_id(), ExpectedVersion::Exactly(0), &new_events).await.unwrap();
    // A later command through the read models must not skip the checkpoint past it.
    register_owner(&store, OwnerId::new(uuid::Uuid::now_v7()), at(9, 2)).await;
    let behind = Tables::read(store.reader()).await.unwrap();
    assert!(behind.grants.is_empty(), "the read models lag");

    let refreshed = catch_up(&store).await.unwrap();
    assert_eq!((refreshed.events, refreshed.rows, refreshed.position), (2, 2, 3));
    let caught_up = Tables::read(store.reader()).await.unwrap();
    assert_eq!(caught_up, fold(&store, Horizon::Everything).await.unwrap().tables());
    assert_eq!(caught_up.grants.len(), 1);
}

async fn a_log_with_a_row_past_its_head_is_neither_rebuilt_nor_replayed(database: TestDatabase) {
    let store = database.store().await;
    register_owner(&store, OwnerId::new(uuid::Uuid::now_v7()), at(9, 0)).await;
    let before = Tables::read(store.reader()).await.unwrap();
    // Another owner's registration, copied in past the head behind the store's back.
    let copied = format!(
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash) \
         SELECT 2, '{}', 1, event_type, schema_version, payload, occurred_at, actor, trace_id, hash FROM events WHERE position = 1",
        OwnerId::new(uuid::Uuid::now_v7()).stream_id()
    );
    database.tamper(&store, &[&copied]).await;
    fn refused<T>(result: Result<T, ProjectionError>) -> String {
        match result {
            Err(ProjectionError::Store(grantlog_store::StoreError::Tampered(violation))) => violation.to_string(),
            Err(other) => panic!("refused for another reason: {other}"),
            Ok(_) => panic!("a log with a row past its head was read"),
        }
    }
    let past_the_head = "position 2: an event past the recorded head (1)";
    assert_eq!(refused(rebuild(&store).await), past_the_head);
    assert_eq!(refused(catch_up(&store).await), past_the_head);
    assert_eq!(refused(fold(&store, Horizon::Time(at(23, 0))).await), past_the_head);
    assert_eq!(Tables::read(store.reader()).await.unwrap(), before, "the read models are untouched");
}

async fn replay_shows_each_moment_of_the_story(database: TestDatabase) {
    let store = database.store().await;
    let (first, second, jane) = story(&store).await;
    let everything = fold(&store, Horizon::Everything).await.unwrap();
    let status = |at: DateTime<Utc>, horizon: Horizon, grant: GrantId| {
        let store = store.clone();
        async move {
            let projection = fold(&store, horizon).await.unwrap();
            replay(&projection, at, &Filter::default())
                .into_iter()
                .find(|g| g.grant_id == grant.to_string())
                .map(|g| (g.status, g.since))
        }
    };
    let t = |h, m| at(h, m);
    assert_eq!(status(t(18, 1), Horizon::Time(t(18, 1)), first).await, None, "not yet issued");
    assert_eq!(
        status(t(18, 2), Horizon::Time(t(18, 2)), first).await,
        Some((GrantStatus::Pending, "2026-11-25T18:02:00.000000Z".into()))
    );
    assert_eq!(
        status(t(18, 3), Horizon::Time(t(18, 3)), first).await,
        Some((GrantStatus::Authorized, "2026-11-25T18:03:00.000000Z".into()))
    );
    assert_eq!(
        status(t(18, 30), Horizon::Time(t(18, 30)), first).await,
        Some((GrantStatus::Active, "2026-11-25T18:04:00.000000Z".into()))
    );
    assert_eq!(
        status(t(18, 45), Horizon::Time(t(18, 45)), first).await,
        Some((GrantStatus::Revoked, "2026-11-25T18:40:00.000000Z".into()))
    );
    assert_eq!(
        status(t(19, 5), Horizon::Time(t(19, 5)), second).await,
        Some((GrantStatus::Active, "2026-11-25T18:11:00.000000Z".into()))
    );
    assert_eq!(
        status(t(20, 0), Horizon::Time(t(20, 0)), second).await,
        Some((GrantStatus::Expired, "2026-11-25T19:10:00.000000Z".into())),
        "expired by the clock, no event needed"
    );

    // By position: the log cut after the approval's two events (5 and 6), then after
    // Beppa's first exchange (7).
    for (position, expected) in [(6, GrantStatus::Authorized), (7, GrantStatus::Active)] {
        let cut = store.read_from(position - 1, 1).await.unwrap().remove(0);
        let found = status(cut.occurred_at, Horizon::Position(position), first).await;
        assert_eq!(found.map(|s| s.0), Some(expected), "at position {position}");
    }

    let filter = Filter { owner: Some(jane), client_key: Some("beppa-demo-key".into()) };
    let text = render_text(&replay(&everything, t(18, 45), &filter));
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines().nth(1).unwrap().ends_with(
            "beppa-demo-key\tBeppa Prints\tphotos:read\tislay-1,islay-2\trevoked\t2026-11-25T18:40:00.000000Z"
        ),
        "{text}"
    );
    let nobody = Filter { owner: Some(OwnerId::new(uuid::Uuid::from_u128(9))), client_key: None };
    assert!(replay(&everything, t(18, 45), &nobody).is_empty());

    // The same log gives the same bytes, every time, from a fresh fold.
    let again = fold(&store, Horizon::Everything).await.unwrap();
    assert_eq!(
        render_json(&replay(&everything, t(19, 0), &Filter::default())),
        render_json(&replay(&again, t(19, 0), &Filter::default()))
    );
}

async fn a_revocation_is_in_force_for_every_reader_at_commit(database: TestDatabase) {
    let store = database.store().await;
    // Another process reading the same database (on SQLite, the same file).
    let other = database.store().await;
    let (first, second, _) = story(&store).await;
    let revoked = grant_by_token(other.reader(), "access-request-1").await.unwrap().unwrap();
    assert_eq!((revoked.grant_id, revoked.status), (first, GrantStatus::Revoked));
    let active = grant_by_token(other.reader(), "access-request-2").await.unwrap().unwrap();
    assert_eq!((active.grant_id, active.status), (second, GrantStatus::Active));
    assert_eq!(active.expires_at.map(timestamp).as_deref(), Some("2026-11-25T19:10:00.000000Z"));
    assert!(grant_by_token(other.reader(), "no-such-token").await.unwrap().is_none());
}

async fn a_consumer_key_is_registered_once(database: TestDatabase) {
    let store = database.store().await;
    register_client(&store, ClientId::new(uuid::Uuid::now_v7()), "beppa-demo-key", at(9, 0)).await.unwrap();
    let head = store.head().await.unwrap();
    let twin = register_client(&store, ClientId::new(uuid::Uuid::now_v7()), "beppa-demo-key", at(9, 1)).await;
    assert!(matches!(twin, Err(ProjectionError::ConsumerKeyTaken)), "{twin:?}");
    assert_eq!(store.head().await.unwrap(), head, "no event written");
}

async fn owners_are_projected_without_personal_data(database: TestDatabase) {
    let store = database.store().await;
    let jane = OwnerId::new(uuid::Uuid::now_v7());
    register_owner(&store, jane, at(9, 0)).await;
    execute::<OwnerRecord>(&store, &jane.stream_id(), &OwnerCommand::Erase, &context(at(9, 5), Actor::Admin))
        .await
        .unwrap();
    let tables = Tables::read(store.reader()).await.unwrap();
    assert_eq!(tables.owners.len(), 1);
    assert!(tables.owners[0].erased);
}

backend_tests!(
    a_long_random_scenario_rebuilds_to_the_live_state,
    catch_up_applies_what_was_appended_without_the_read_models,
    a_log_with_a_row_past_its_head_is_neither_rebuilt_nor_replayed,
    replay_shows_each_moment_of_the_story,
    a_revocation_is_in_force_for_every_reader_at_commit,
    a_consumer_key_is_registered_once,
    owners_are_projected_without_personal_data,
);
