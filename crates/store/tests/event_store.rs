//! The event store's contract, run against SQLite and PostgreSQL alike.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use grantlog_domain::Actor;
use grantlog_store::testing::{Kind, TestDatabase};
use grantlog_store::{
    ChainHash, EventStore, ExpectedVersion, Head, NewEvent, SecretBox, StoreError, StreamAppend, Violation,
    backend_tests, profiles,
};
use grantlog_tlog::merkle;
use secrecy::ExposeSecret;
use serde_json::json;

fn event(n: u64) -> NewEvent {
    NewEvent {
        event_type: "test.happened".into(),
        schema_version: 1,
        payload: json!({ "n": n, "nested": { "b": [1, 2], "a": "é☃" } }),
        occurred_at: Utc.timestamp_opt(1_795_600_000 + n as i64, 123_456_789).unwrap(),
        actor: Actor::Owner(uuid::Uuid::from_u128(u128::from(n))),
        trace_id: Some(format!("trace-{n}")),
    }
}

fn events(range: std::ops::Range<u64>) -> Vec<NewEvent> {
    range.map(event).collect()
}

async fn verify(store: &EventStore, anchor: Option<Head>) -> Result<u64, Violation> {
    store.verify_chain(anchor).await.unwrap().map(|report| report.events)
}

async fn appended_events_read_back_exactly(database: TestDatabase) {
    let store = database.store().await;
    let written = store.append("grant-a", ExpectedVersion::Exactly(0), &events(1..4)).await.unwrap();
    store.append("grant-b", ExpectedVersion::Exactly(0), &events(4..5)).await.unwrap();
    let read = store.read_stream("grant-a").await.unwrap();
    assert_eq!(read, written);
    assert_eq!(read.iter().map(|e| (e.position, e.stream_version)).collect::<Vec<_>>(), [(1, 1), (2, 2), (3, 3)]);
    assert_eq!(read[0].payload, event(1).payload);
    assert_eq!(read[0].actor, event(1).actor);
    assert_eq!(read[0].trace_id.as_deref(), Some("trace-1"));
    assert_eq!(read[0].occurred_at, Utc.timestamp_opt(1_795_600_001, 123_456_000).unwrap(), "kept to the microsecond");
    let all = store.read_from(0, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(store.read_from(2, 1).await.unwrap()[0].position, 3);
    assert_eq!(store.head().await.unwrap(), Head { position: 4, hash: all[3].hash });
    assert_eq!(verify(&store, None).await, Ok(4));
}

async fn a_conflicting_append_writes_nothing(database: TestDatabase) {
    let store = database.store().await;
    store.append("grant-a", ExpectedVersion::Exactly(0), &events(1..3)).await.unwrap();
    let head = store.head().await.unwrap();
    for expected in [0, 1, 3] {
        let error = store.append("grant-a", ExpectedVersion::Exactly(expected), &events(3..5)).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict { expected: e, actual: 2, .. } if e == expected),
            "{expected}: {error:?}"
        );
    }
    assert_eq!(store.head().await.unwrap(), head);
    assert_eq!(store.read_stream("grant-a").await.unwrap().len(), 2);
    store.append("grant-a", ExpectedVersion::Exactly(2), &events(3..4)).await.unwrap();
    store.append("grant-a", ExpectedVersion::Any, &events(4..5)).await.unwrap();
    assert_eq!(store.read_stream("grant-a").await.unwrap().len(), 4);
}

async fn inline_writes_share_the_append_transaction(database: TestDatabase) {
    let store = database.store().await;
    let secrets = SecretBox::from_key(&[7; 32]);
    let kept = secrets.clone();
    store
        .append_with(
            "grant-a",
            ExpectedVersion::Exactly(0),
            &events(1..3),
            Box::new(move |connection, recorded| {
                Box::pin(async move {
                    assert_eq!(recorded.len(), 2);
                    kept.put(connection, "token-secret:a", "s3cret").await
                })
            }),
        )
        .await
        .unwrap();
    let read = secrets.get(store.reader(), "token-secret:a").await.unwrap().unwrap();
    assert_eq!(read.expose_secret(), "s3cret");

    let failing = secrets.clone();
    let error = store
        .append_with(
            "grant-b",
            ExpectedVersion::Exactly(0),
            &events(3..5),
            Box::new(move |connection, _| {
                Box::pin(async move {
                    failing.put(connection, "token-secret:b", "other").await?;
                    Err(StoreError::inline(std::io::Error::other("projection refused")))
                })
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Inline(_)), "{error:?}");
    assert!(store.read_stream("grant-b").await.unwrap().is_empty(), "no events from the failed append");
    assert!(secrets.get(store.reader(), "token-secret:b").await.unwrap().is_none(), "no inline writes either");
    assert_eq!(store.head().await.unwrap().position, 2);
    assert_eq!(verify(&store, None).await, Ok(2));
}

async fn the_database_refuses_update_and_delete(database: TestDatabase) {
    let store = database.store().await;
    store.append("grant-a", ExpectedVersion::Exactly(0), &events(1..3)).await.unwrap();
    let forged_row =
        "(0, 'grant-a', 0, 't', 1, '{}', '2026-11-25T18:00:00.000000Z', '{\"kind\":\"admin\"}', NULL, 'x')";
    let columns = "(position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash)";
    let mut statements = vec![
        "UPDATE events SET payload = '{}' WHERE position = 1".to_owned(),
        "DELETE FROM events WHERE position = 2".to_owned(),
        // Beside the chain, where no walk looks; past the head; over an existing event.
        format!("INSERT INTO events {columns} VALUES {forged_row}"),
        format!("INSERT INTO events {columns} VALUES {}", forged_row.replacen("(0,", "(9,", 1)),
        format!("INSERT INTO events {columns} VALUES {}", forged_row.replacen("(0,", "(3,", 1)),
    ];
    match database.kind {
        Kind::Postgres => statements.push("TRUNCATE events".to_owned()),
        Kind::Sqlite => statements
            .push(format!("INSERT OR REPLACE INTO events {columns} VALUES {}", forged_row.replacen("(0,", "(1,", 1))),
    }
    for sql in &statements {
        let error = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).execute(store.reader()).await.unwrap_err();
        assert!(error.to_string().contains("append-only"), "{sql}: {error}");
    }
    assert_eq!(store.read_from(0, 10).await.unwrap(), store.read_stream("grant-a").await.unwrap());
    assert_eq!(verify(&store, None).await, Ok(2));
}

async fn verify_finds_an_event_slipped_in_beside_the_chain(database: TestDatabase) {
    let store = seed_five(&database).await;
    let forged = "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash) \
        VALUES (0, 'grant-a', 0, 'test.happened', 1, '{}', '2026-11-25T18:00:00.000000Z', '{\"kind\":\"admin\"}', NULL, 'x')";
    database.tamper(&store, &[forged]).await;
    assert_eq!(verify(&store, None).await, Err(Violation::OutsideChain { position: 0 }));
    assert!(store.read_stream("grant-a").await.unwrap().iter().all(|e| e.position >= 1), "never read as real");
}

async fn a_row_past_the_head_fails_verify_and_every_whole_log_reader(database: TestDatabase) {
    let store = seed_five(&database).await;
    let head = store.head().await.unwrap();
    // Hashed as the next event would be, so only its place past the head gives it away.
    let slipped_in = format!(
        "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash) \
         VALUES (6, 'grant-c', 1, 'test.happened', 1, '{{}}', '2026-11-25T18:00:00.000000Z', '{{\"kind\":\"admin\"}}', NULL, '{}')",
        head.hash
    );
    database.tamper(&store, &[&slipped_in]).await;
    let past_the_head = Violation::BeyondHead { position: 6, head: 5 };
    assert_eq!(verify(&store, None).await, Err(past_the_head.clone()));
    assert_eq!(verify(&store, Some(head)).await, Err(past_the_head.clone()));
    match store.sealed_head().await {
        Err(StoreError::Tampered(violation)) => assert_eq!(violation, past_the_head),
        other => panic!("a log with a row past its head was read as sound: {other:?}"),
    }
    assert_eq!(past_the_head.to_string(), "position 6: an event past the recorded head (5)");
}

async fn login_attempts_are_reserved_released_and_pruned_with_sessions(database: TestDatabase) {
    use grantlog_store::{sessions, throttle};
    let store = database.store().await;
    let pool = store.side_tables();
    let at = |minute: u32| Utc.with_ymd_and_hms(2026, 12, 2, 9, minute, 0).unwrap();
    let window = chrono::TimeDelta::minutes(15);
    let reserve = |minute: u32| throttle::reserve(pool, "account 127.0.0.1 jane", at(minute), at(minute) - window);
    assert_eq!(reserve(0).await.unwrap(), throttle::Reserved { attempts: 1, since: at(0) });
    assert_eq!(reserve(1).await.unwrap().attempts, 2);
    throttle::release(pool, "account 127.0.0.1 jane", at(0)).await.unwrap();
    assert_eq!(reserve(2).await.unwrap(), throttle::Reserved { attempts: 2, since: at(0) }, "released, then counted");
    assert_eq!(reserve(20).await.unwrap(), throttle::Reserved { attempts: 1, since: at(20) }, "a new window");
    throttle::release(pool, "account 127.0.0.1 jane", at(0)).await.unwrap();
    assert_eq!(reserve(21).await.unwrap().attempts, 2, "a release for the old window leaves the new one alone");
    // Reservations sent at once each see the others': 40 of them count 1 to 40.
    let at_once: Vec<_> = (0..40)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(
                async move { throttle::reserve(store.side_tables(), "address 127.0.0.1", at(21), at(6)).await },
            )
        })
        .collect();
    let mut counts = BTreeSet::new();
    for reservation in at_once {
        counts.insert(reservation.await.unwrap().unwrap().attempts);
    }
    assert_eq!(counts, (1..=40).collect::<BTreeSet<u32>>());
    assert_eq!(throttle::prune(pool, at(20)).await.unwrap(), 0, "both windows still count");
    assert_eq!(throttle::prune(pool, at(21) + chrono::TimeDelta::seconds(1)).await.unwrap(), 2);

    let session = sessions::Session { owner_id: uuid::Uuid::now_v7(), csrf_token: "c".into() };
    sessions::start(pool, "hash-1", &session, at(30)).await.unwrap();
    assert_eq!(sessions::prune(pool, at(29)).await.unwrap(), 0);
    assert_eq!(sessions::prune(pool, at(30)).await.unwrap(), 1);
    assert!(sessions::find(pool, "hash-1", at(0)).await.unwrap().is_none(), "pruned");
}

/// SQLite connections sync every commit (`synchronous=FULL`, 2): an acknowledged
/// revocation survives a power cut. (PostgreSQL's `synchronous_commit` is the server's.)
async fn sqlite_commits_are_durable_when_acknowledged(database: TestDatabase) {
    let store = database.store().await;
    if database.kind == Kind::Sqlite {
        let row = sqlx::query("PRAGMA synchronous").fetch_one(store.reader()).await.unwrap();
        assert_eq!(sqlx::Row::try_get::<i64, _>(&row, 0).unwrap(), 2, "FULL");
    }
}

async fn verify_ignores_events_appended_while_it_walks(database: TestDatabase) {
    let store = seed_five(&database).await;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..40 {
                store.append(&format!("grant-late-{n}"), ExpectedVersion::Exactly(0), &events(n..n + 1)).await.unwrap();
            }
        })
    };
    for _ in 0..40 {
        assert!(store.verify_chain(None).await.unwrap().is_ok(), "a live log verifies");
    }
    writer.await.unwrap();
    assert_eq!(verify(&store, None).await, Ok(45));
}

async fn seed_five(database: &TestDatabase) -> EventStore {
    let store = database.store().await;
    store.append("grant-a", ExpectedVersion::Exactly(0), &events(1..3)).await.unwrap();
    store.append("grant-b", ExpectedVersion::Exactly(0), &events(3..6)).await.unwrap();
    assert_eq!(verify(&store, None).await, Ok(5));
    store
}

async fn verify_names_an_edited_event(database: TestDatabase) {
    let store = seed_five(&database).await;
    database.tamper(&store, &[r#"UPDATE events SET payload = '{"n":99}' WHERE position = 3"#]).await;
    assert_eq!(verify(&store, None).await, Err(Violation::HashMismatch { position: 3 }));
}

async fn verify_names_a_deleted_event(database: TestDatabase) {
    let store = seed_five(&database).await;
    database.tamper(&store, &["DELETE FROM events WHERE position = 2"]).await;
    assert_eq!(verify(&store, None).await, Err(Violation::Missing { position: 2, found: 3 }));
}

async fn verify_names_an_inserted_event(database: TestDatabase) {
    let store = seed_five(&database).await;
    let forged = "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash) \
        VALUES (3, 'grant-c', 1, 'test.happened', 1, '{}', '2026-11-25T18:00:00.000000Z', '{\"kind\":\"admin\"}', NULL, \
        '0000000000000000000000000000000000000000000000000000000000000000')";
    database
        .tamper(
            &store,
            &[
                "UPDATE events SET position = position + 1000 WHERE position >= 3",
                "UPDATE events SET position = position - 999 WHERE position >= 1000",
                forged,
            ],
        )
        .await;
    assert_eq!(verify(&store, None).await, Err(Violation::HashMismatch { position: 3 }));
}

async fn verify_names_reordered_events(database: TestDatabase) {
    let store = seed_five(&database).await;
    database
        .tamper(
            &store,
            &[
                "UPDATE events SET position = 100 WHERE position = 2",
                "UPDATE events SET position = 2 WHERE position = 4",
                "UPDATE events SET position = 4 WHERE position = 100",
            ],
        )
        .await;
    assert_eq!(verify(&store, None).await, Err(Violation::HashMismatch { position: 2 }));
}

async fn a_truncated_tail_is_caught_against_a_recorded_head(database: TestDatabase) {
    let store = seed_five(&database).await;
    let recorded_elsewhere = store.head().await.unwrap();
    let fourth = store.read_from(3, 1).await.unwrap().remove(0);

    // Deleting the tail alone leaves the database's own head pointing past the end.
    database.tamper(&store, &["DELETE FROM events WHERE position = 5"]).await;
    assert_eq!(
        verify(&store, None).await,
        Err(Violation::HeadMismatch { expected: recorded_elsewhere, found: Head { position: 4, hash: fourth.hash } })
    );

    // Rewriting that head too leaves the Merkle tree one leaf longer than the log.
    let cover_up = format!("UPDATE chain_head SET position = 4, hash = '{}'", fourth.hash);
    database.tamper(&store, &[&cover_up]).await;
    assert_eq!(verify(&store, None).await, Err(Violation::TreeSize { tree: 5, log: 4 }));
    // Cutting the tree as well hides it from the database alone, not from the head
    // recorded outside it.
    database.tamper(&store, &["DELETE FROM merkle_nodes WHERE level = 0 AND idx = 4"]).await;
    assert_eq!(verify(&store, None).await, Ok(4), "undetectable without an outside record");
    assert_eq!(
        verify(&store, Some(recorded_elsewhere)).await,
        Err(Violation::HeadMismatch { expected: recorded_elsewhere, found: Head { position: 4, hash: fourth.hash } })
    );
    let earlier = Head { position: 4, hash: fourth.hash };
    assert_eq!(verify(&store, Some(earlier)).await, Ok(4), "an earlier anchor still on the chain passes");
}

async fn concurrent_writers_leave_no_gap_a_reader_could_miss(database: TestDatabase) {
    const WRITERS: u64 = 6;
    const APPENDS: u64 = 20;
    let store = database.store().await;
    let total = WRITERS * APPENDS * 2;
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while (seen.len() as u64) < total {
                let after = seen.last().copied().unwrap_or(0);
                let batch = store.read_from(after, 7).await.unwrap();
                for (offset, event) in batch.iter().enumerate() {
                    assert_eq!(event.position, after + 1 + offset as u64, "reader skipped a position");
                }
                seen.extend(batch.iter().map(|e| e.position));
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut conflicts = 0;
                for n in 0..APPENDS {
                    let stream = format!("grant-{writer}-{n}");
                    store.append(&stream, ExpectedVersion::Exactly(0), &events(n..n + 1)).await.unwrap();
                    // Everyone also appends to one shared stream, retrying on conflict.
                    loop {
                        let version = store.read_stream("grant-shared").await.unwrap().len() as u64;
                        match store.append("grant-shared", ExpectedVersion::Exactly(version), &events(n..n + 1)).await {
                            Ok(_) => break,
                            Err(StoreError::Conflict { .. }) => conflicts += 1,
                            Err(error) => panic!("{error}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(60), reader).await.unwrap().unwrap();
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
    let shared: Vec<u64> = store.read_stream("grant-shared").await.unwrap().iter().map(|e| e.stream_version).collect();
    assert_eq!(shared, (1..=WRITERS * APPENDS).collect::<Vec<_>>());
    assert_eq!(verify(&store, None).await, Ok(total));
}

async fn subscribers_wake_on_commit(database: TestDatabase) {
    let writer = database.store().await;
    // A second store on the same database: another process, as far as PostgreSQL knows.
    let other = if database.kind == Kind::Postgres { database.store().await } else { writer.clone() };
    let mut woken = other.subscribe().await.unwrap();
    assert_eq!(*woken.borrow_and_update(), 0);
    writer.append("grant-a", ExpectedVersion::Exactly(0), &events(1..4)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), woken.wait_for(|&position| position == 3))
        .await
        .expect("woken within 10 s")
        .unwrap();
}

async fn secrets_are_sealed_bound_to_their_id_and_wipeable(database: TestDatabase) {
    let store = database.store().await;
    let secrets = SecretBox::from_key(&[1; 32]);
    let mut connection = store.reader().acquire().await.unwrap();
    secrets.put(&mut connection, "client-secret:beppa", "beppa-demo-secret").await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("SELECT ciphertext FROM secrets WHERE id = 'client-secret:beppa'")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert!(!stored.windows(5).any(|w| w == b"beppa"), "ciphertext does not contain the plaintext");
    assert_eq!(
        secrets.get(store.reader(), "client-secret:beppa").await.unwrap().unwrap().expose_secret(),
        "beppa-demo-secret"
    );

    let wrong_key = SecretBox::from_key(&[2; 32]);
    assert!(matches!(wrong_key.get(store.reader(), "client-secret:beppa").await, Err(StoreError::Secrets(_))));

    sqlx::query("INSERT INTO secrets (id, key_id, nonce, ciphertext) SELECT 'moved', key_id, nonce, ciphertext FROM secrets WHERE id = 'client-secret:beppa'")
        .execute(store.reader())
        .await
        .unwrap();
    assert!(matches!(secrets.get(store.reader(), "moved").await, Err(StoreError::Secrets(_))), "bound to its id");

    // Copied, it is sealed again under its new id, and the copy replaces what was there.
    secrets.put(&mut connection, "client-secret-previous:beppa", "older").await.unwrap();
    assert!(secrets.copy(&mut connection, "client-secret:beppa", "client-secret-previous:beppa").await.unwrap());
    let copied = secrets.get(store.reader(), "client-secret-previous:beppa").await.unwrap().unwrap();
    assert_eq!(copied.expose_secret(), "beppa-demo-secret");
    assert!(!secrets.copy(&mut connection, "nothing-here", "client-secret-previous:beppa").await.unwrap());
    assert!(secrets.get(store.reader(), "client-secret-previous:beppa").await.unwrap().is_some(), "left as it was");
    // Put if absent: the first stays.
    assert!(secrets.put_if_absent(&mut connection, "notify-secret:beppa", "first").await.unwrap());
    assert!(!secrets.put_if_absent(&mut connection, "notify-secret:beppa", "second").await.unwrap());
    assert_eq!(secrets.get(store.reader(), "notify-secret:beppa").await.unwrap().unwrap().expose_secret(), "first");

    assert!(SecretBox::wipe(&mut connection, "client-secret:beppa").await.unwrap());
    assert!(secrets.get(store.reader(), "client-secret:beppa").await.unwrap().is_none());
    assert!(!SecretBox::wipe(&mut connection, "client-secret:beppa").await.unwrap());
}

async fn personal_data_lives_apart_and_can_be_erased(database: TestDatabase) {
    let store = database.store().await;
    let jane = profiles::OwnerProfile {
        owner_id: uuid::Uuid::new_v4(),
        username: "jane".into(),
        password_hash: "$argon2id$v=19$...".into(),
    };
    let mut connection = store.reader().acquire().await.unwrap();
    profiles::insert_owner_profile(&mut connection, &jane).await.unwrap();
    let twin = profiles::OwnerProfile { owner_id: uuid::Uuid::new_v4(), ..jane.clone() };
    assert!(matches!(profiles::insert_owner_profile(&mut connection, &twin).await, Err(StoreError::UsernameTaken)));
    assert_eq!(profiles::find_owner_by_username(store.reader(), "jane").await.unwrap(), Some(jane.clone()));
    store.append("owner-x", ExpectedVersion::Exactly(0), &events(1..2)).await.unwrap();
    assert!(profiles::erase_owner_profile(&mut connection, jane.owner_id).await.unwrap());
    assert_eq!(profiles::find_owner_by_username(store.reader(), "jane").await.unwrap(), None);
    assert_eq!(verify(&store, None).await, Ok(1), "erasing a person leaves the chain intact");
}

async fn migrating_twice_is_harmless(database: TestDatabase) {
    let store = database.store().await;
    store.append("grant-a", ExpectedVersion::Exactly(0), &events(1..2)).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(verify(&store, None).await, Ok(1));
}

async fn large_batches_append_in_one_transaction(database: TestDatabase) {
    let store = database.store().await;
    let written = store.append("grant-a", ExpectedVersion::Exactly(0), &events(0..1_234)).await.unwrap();
    assert_eq!(written.len(), 1_234);
    let positions: BTreeSet<u64> = store.read_from(0, 2_000).await.unwrap().iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=1_234).collect());
    assert_eq!(verify(&store, None).await, Ok(1_234));
}

async fn many_streams_append_in_one_transaction_or_not_at_all(database: TestDatabase) {
    let store = database.store().await;
    store.append("grant-a", ExpectedVersion::Exactly(0), &events(1..2)).await.unwrap();
    let (first, second) = (events(2..4), events(4..5));
    let batch = [
        StreamAppend { stream_id: "grant-b", expected: ExpectedVersion::Exactly(0), events: &first },
        StreamAppend { stream_id: "grant-a", expected: ExpectedVersion::Exactly(1), events: &second },
        StreamAppend { stream_id: "grant-b", expected: ExpectedVersion::Exactly(2), events: &second },
    ];
    let written = store.append_many(&batch).await.unwrap();
    let placed: Vec<(u64, &str, u64)> =
        written.iter().map(|e| (e.position, e.stream_id.as_str(), e.stream_version)).collect();
    assert_eq!(placed, [(2, "grant-b", 1), (3, "grant-b", 2), (4, "grant-a", 2), (5, "grant-b", 3)]);

    let stale = [
        StreamAppend { stream_id: "grant-c", expected: ExpectedVersion::Exactly(0), events: &first },
        StreamAppend { stream_id: "grant-a", expected: ExpectedVersion::Exactly(1), events: &second },
    ];
    assert!(matches!(store.append_many(&stale).await, Err(StoreError::Conflict { actual: 2, .. })));
    assert!(store.read_stream("grant-c").await.unwrap().is_empty(), "all or nothing");
    assert_eq!(verify(&store, None).await, Ok(5));
}

async fn a_batch_of_use_counts_is_added_once_however_often_it_is_retried(database: TestDatabase) {
    use grantlog_store::usage::{Uses, record_uses, usage_of_grant};
    let store = database.store().await;
    let at = |second: i64| Utc.timestamp_opt(1_795_600_000 + second, 0).unwrap();
    let uses = |count, first, last| [Uses { grant_id: "g".to_owned(), count, first: at(first), last: at(last) }];
    let batch = uuid::Uuid::new_v4();
    record_uses(store.side_tables(), batch, &uses(3, 10, 20), at(30)).await.unwrap();
    // The same batch again, as after a commit that landed but was not acknowledged.
    record_uses(store.side_tables(), batch, &uses(3, 10, 20), at(31)).await.unwrap();
    let once = usage_of_grant(store.side_tables(), "g").await.unwrap().unwrap();
    assert_eq!((once.count, once.first_used_at.as_str()), (3, "2026-11-25T09:46:50.000000Z"));

    record_uses(store.side_tables(), uuid::Uuid::new_v4(), &uses(2, 5, 40), at(50)).await.unwrap();
    let added = usage_of_grant(store.side_tables(), "g").await.unwrap().unwrap();
    assert_eq!(
        (added.count, added.first_used_at.as_str(), added.last_used_at.as_str()),
        (5, "2026-11-25T09:46:45.000000Z", "2026-11-25T09:47:20.000000Z")
    );

    // Batch ids are kept an hour, then pruned as later batches are written.
    let remembered = |store: &EventStore| {
        let pool = store.reader().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM grant_usage_batches").fetch_one(&pool).await.unwrap()
        }
    };
    assert_eq!(remembered(&store).await, 2);
    record_uses(store.side_tables(), uuid::Uuid::new_v4(), &uses(1, 3_700, 3_700), at(3_700)).await.unwrap();
    assert_eq!(remembered(&store).await, 1);
}

async fn nonces_are_accepted_once_within_a_batch_and_across_batches(database: TestDatabase) {
    use grantlog_store::nonces::{SeenNonce, forget_before, remember_all};
    let store = database.store().await;
    let seen = |token: &str, timestamp, nonce: &str| SeenNonce {
        client_key: "beppa".to_owned(),
        token: token.to_owned(),
        timestamp,
        nonce: nonce.to_owned(),
    };
    let first = [seen("", 100, "n1"), seen("t", 100, "n1"), seen("", 101, "n1"), seen("", 100, "n1")];
    // The same nonce under another token or timestamp is another nonce; the fourth
    // repeats the first within the batch.
    let fresh = |seen: &[SeenNonce]| {
        let store = store.clone();
        let seen = seen.to_vec();
        async move { remember_all(&store, &seen).await.unwrap().fresh }
    };
    assert_eq!(fresh(&first).await, [true, true, true, false]);
    let again = [seen("", 100, "n2"), seen("t", 100, "n1")];
    assert_eq!(fresh(&again).await, [true, false]);

    // More than one statement's worth, every one new, then every one a replay.
    let many: Vec<SeenNonce> = (0..2_000).map(|n| seen("t", 200, &format!("nonce-{n:040}"))).collect();
    assert!(fresh(&many).await.into_iter().all(|fresh| fresh));
    assert!(fresh(&many).await.into_iter().all(|fresh| !fresh));

    // Pruned past the window, a nonce is new again (its timestamp is refused first).
    assert_eq!(forget_before(store.side_tables(), 101).await.unwrap(), 3);
    assert_eq!(fresh(&first[..2]).await, [true, true]);

    // The head a batch answers counts every event committed before it, whether the
    // batch had a new nonce or none.
    let head = store.head().await.unwrap().position;
    assert_eq!(remember_all(&store, &[seen("", 300, "h1")]).await.unwrap().head, head);
    store.append("grant-h", ExpectedVersion::Exactly(0), &events(0..1)).await.unwrap();
    let replayed = remember_all(&store, &[seen("", 300, "h1")]).await.unwrap();
    assert_eq!(replayed, grantlog_store::nonces::Remembered { fresh: vec![false], head: head + 1 });
    assert_eq!(remember_all(&store, &[seen("", 300, "h2")]).await.unwrap().head, head + 1);
}

/// The leaf the store must give event `n` at `position` as stream `stream`'s version
/// `version`: the canonical envelope docs/audit.md defines, computed here from the
/// event itself, not read back.
fn expected_leaf(n: u64, position: u64, stream: &str, version: u64) -> merkle::Hash {
    let event = event(n);
    let canonical = serde_json::to_vec(&(
        position,
        stream,
        version,
        &event.event_type,
        event.schema_version,
        event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        serde_json::to_string(&event.actor).unwrap(),
        &event.trace_id,
        serde_json::to_string(&event.payload).unwrap(),
    ))
    .unwrap();
    merkle::leaf_hash(&canonical)
}

/// RFC 6962's MTH from its definition, over `leaves`.
fn mth(leaves: &[merkle::Hash]) -> merkle::Hash {
    match leaves.len() {
        0 => merkle::empty_root(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            merkle::node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

async fn the_tree_proves_every_event_and_every_extension(database: TestDatabase) {
    let store = database.store().await;
    let mut leaves = Vec::new();
    // Ten streams of 100, appended a batch at a time, so that one append closes many
    // subtrees and the next starts from the right edge alone.
    for stream in 0..10u64 {
        let name = format!("grant-{stream}");
        store.append(&name, ExpectedVersion::Exactly(0), &events(stream * 100 + 1..stream * 100 + 101)).await.unwrap();
        for version in 1..=100 {
            let n = stream * 100 + version;
            leaves.push(expected_leaf(n, n, &name, version));
        }
    }
    assert_eq!(store.tree_size().await.unwrap(), 1_000);
    let root = store.tree_root(1_000).await.unwrap();
    assert_eq!(root, mth(&leaves), "the root over the canonical envelopes");
    for index in 0..1_000u64 {
        let proof = store.inclusion_proof(index, 1_000).await.unwrap();
        assert_eq!(proof.leaf_hash, leaves[usize::try_from(index).unwrap()], "leaf {index}");
        merkle::verify_inclusion(index, 1_000, &proof.leaf_hash, &proof.hashes, &root)
            .unwrap_or_else(|e| panic!("leaf {index}: {e}"));
    }
    let roots: Vec<merkle::Hash> =
        [merkle::empty_root()].into_iter().chain((1..=100).map(|size| mth(&leaves[..size]))).collect();
    for to in 1..=100u64 {
        assert_eq!(store.tree_root(to).await.unwrap(), roots[usize::try_from(to).unwrap()], "root at {to}");
        for from in 1..=to {
            let proof = store.consistency_proof(from, to).await.unwrap();
            let (first, second) = (&roots[usize::try_from(from).unwrap()], &roots[usize::try_from(to).unwrap()]);
            merkle::verify_consistency(from, to, first, second, &proof)
                .unwrap_or_else(|e| panic!("{from} to {to}: {e}"));
        }
    }
}

async fn a_log_older_than_the_tree_gets_it_at_migrate(database: TestDatabase) {
    let store = seed_five(&database).await;
    store.append("grant-x", ExpectedVersion::Any, &events(6..38)).await.unwrap();
    let root = store.tree_root(37).await.unwrap();
    database.tamper(&store, &["DELETE FROM merkle_nodes"]).await;
    assert!(matches!(store.tree_root(37).await, Err(StoreError::PastTheTree { asked: 37, size: 0 })));
    assert!(store.append("grant-x", ExpectedVersion::Any, &events(38..39)).await.is_err(), "no tree, no append");
    store.migrate().await.unwrap();
    assert_eq!(store.tree_root(37).await.unwrap(), root);
    store.append("grant-x", ExpectedVersion::Any, &events(38..40)).await.unwrap();
    assert_eq!(store.tree_size().await.unwrap(), 39);
}

async fn proofs_the_tree_cannot_give_are_refused(database: TestDatabase) {
    let store = seed_five(&database).await;
    let refused = |result: Result<grantlog_store::InclusionProof, StoreError>| match result {
        Err(StoreError::PastTheTree { .. } | StoreError::Proof(_)) => {}
        other => panic!("{other:?}"),
    };
    refused(store.inclusion_proof(5, 5).await);
    refused(store.inclusion_proof(0, 6).await);
    assert!(matches!(store.consistency_proof(0, 3).await, Err(StoreError::Proof(_))));
    assert!(matches!(store.consistency_proof(4, 3).await, Err(StoreError::Proof(_))));
    assert!(matches!(store.consistency_proof(3, 9).await, Err(StoreError::PastTheTree { asked: 9, size: 5 })));
    assert_eq!(store.consistency_proof(5, 5).await.unwrap(), Vec::<merkle::Hash>::new());
    // The tree's rows, like the log's, refuse to change.
    let mut connection = store.reader().acquire().await.unwrap();
    for sql in ["UPDATE merkle_nodes SET hash = hash WHERE level = 0", "DELETE FROM merkle_nodes WHERE level = 0"] {
        assert!(sqlx::query(sql).execute(&mut *connection).await.is_err(), "{sql}");
    }
}

/// Edits event 3's payload and rewrites every hash from there, and the head, as a
/// database administrator who knows the chain's formula would: the chain verifies.
async fn rewrite_event_three_and_its_chain(database: &TestDatabase, store: &EventStore) {
    let mut previous = store.stored_event(2).await.unwrap().unwrap().hash.parse::<ChainHash>().unwrap();
    let mut statements = Vec::new();
    for position in 3..=5 {
        let mut event = store.stored_event(position).await.unwrap().unwrap();
        if position == 3 {
            event.payload = r#"{"n":99}"#.to_owned();
        }
        let hash = event.envelope().hash(&previous);
        statements.push(format!(
            "UPDATE events SET payload = '{}', hash = '{hash}' WHERE position = {position}",
            event.payload
        ));
        previous = hash;
    }
    statements.push(format!("UPDATE chain_head SET hash = '{previous}' WHERE id = 1"));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    database.tamper(store, &statements).await;
}

async fn verify_catches_a_rewrite_the_chain_hides_by_a_checkpoint(database: TestDatabase) {
    let store = seed_five(&database).await;
    let root = store.tree_root(4).await.unwrap();
    let checkpoint =
        grantlog_store::StoredCheckpoint { tree_size: 4, root, note: "signed".into(), signed_at: Utc::now() };
    assert!(store.record_checkpoint(&checkpoint).await.unwrap());
    assert!(!store.record_checkpoint(&checkpoint).await.unwrap(), "one checkpoint per size");
    rewrite_event_three_and_its_chain(&database, &store).await;
    assert_eq!(verify(&store, None).await, Err(Violation::CheckpointMismatch { size: 4 }));
}

async fn verify_catches_a_rewrite_the_chain_hides_by_the_tree(database: TestDatabase) {
    let store = seed_five(&database).await;
    rewrite_event_three_and_its_chain(&database, &store).await;
    assert_eq!(verify(&store, None).await, Err(Violation::TreeMismatch { size: 5 }));
}

async fn verify_catches_a_cut_tail_by_a_checkpoint_past_it(database: TestDatabase) {
    let store = seed_five(&database).await;
    let root = store.tree_root(5).await.unwrap();
    let checkpoint =
        grantlog_store::StoredCheckpoint { tree_size: 5, root, note: "signed".into(), signed_at: Utc::now() };
    store.record_checkpoint(&checkpoint).await.unwrap();
    let fourth = store.read_from(3, 1).await.unwrap().remove(0);
    let cover_up = format!("UPDATE chain_head SET position = 4, hash = '{}'", fourth.hash);
    let cut = ["DELETE FROM events WHERE position = 5", "DELETE FROM merkle_nodes WHERE level = 0 AND idx = 4"];
    database.tamper(&store, &[cut[0], &cover_up, cut[1]]).await;
    assert_eq!(verify(&store, None).await, Err(Violation::CheckpointBeyondHead { size: 5, head: 4 }));
}

async fn the_tree_and_checkpoints_refuse_change(database: TestDatabase) {
    let store = seed_five(&database).await;
    let root = store.tree_root(5).await.unwrap();
    let checkpoint =
        grantlog_store::StoredCheckpoint { tree_size: 5, root, note: "signed".into(), signed_at: Utc::now() };
    store.record_checkpoint(&checkpoint).await.unwrap();
    let mut connection = store.reader().acquire().await.unwrap();
    let mut statements = vec![
        "UPDATE checkpoints SET note = 'forged'",
        "DELETE FROM checkpoints",
        "UPDATE merkle_nodes SET hash = hash",
        "DELETE FROM merkle_nodes",
    ];
    if database.kind == Kind::Postgres {
        statements.extend(["TRUNCATE checkpoints", "TRUNCATE merkle_nodes"]);
    }
    for sql in statements {
        assert!(sqlx::query(sql).execute(&mut *connection).await.is_err(), "{sql}");
    }
    let kept = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!((kept.tree_size, kept.root, kept.note.as_str()), (5, root, "signed"));
    assert_eq!(verify(&store, None).await, Ok(5));
}

backend_tests!(
    verify_catches_a_cut_tail_by_a_checkpoint_past_it,
    the_tree_and_checkpoints_refuse_change,
    verify_catches_a_rewrite_the_chain_hides_by_a_checkpoint,
    verify_catches_a_rewrite_the_chain_hides_by_the_tree,
    the_tree_proves_every_event_and_every_extension,
    a_log_older_than_the_tree_gets_it_at_migrate,
    proofs_the_tree_cannot_give_are_refused,
    nonces_are_accepted_once_within_a_batch_and_across_batches,
    a_batch_of_use_counts_is_added_once_however_often_it_is_retried,
    many_streams_append_in_one_transaction_or_not_at_all,
    verify_finds_an_event_slipped_in_beside_the_chain,
    a_row_past_the_head_fails_verify_and_every_whole_log_reader,
    login_attempts_are_reserved_released_and_pruned_with_sessions,
    sqlite_commits_are_durable_when_acknowledged,
    verify_ignores_events_appended_while_it_walks,
    appended_events_read_back_exactly,
    a_conflicting_append_writes_nothing,
    inline_writes_share_the_append_transaction,
    the_database_refuses_update_and_delete,
    verify_names_an_edited_event,
    verify_names_a_deleted_event,
    verify_names_an_inserted_event,
    verify_names_reordered_events,
    a_truncated_tail_is_caught_against_a_recorded_head,
    concurrent_writers_leave_no_gap_a_reader_could_miss,
    subscribers_wake_on_commit,
    secrets_are_sealed_bound_to_their_id_and_wipeable,
    personal_data_lives_apart_and_can_be_erased,
    migrating_twice_is_harmless,
    large_batches_append_in_one_transaction,
);
