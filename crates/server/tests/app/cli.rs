//! The `grantlog` binary's `migrate` and `audit` commands, run as a process against
//! SQLite and PostgreSQL.

use std::process::{Command, Output};

use chrono::Utc;
use grantlog_domain::Actor;
use grantlog_projection::tables::Tables;
use grantlog_projection::testing::story;
use grantlog_store::SecretBox;
use grantlog_store::profiles::{self, OwnerProfile};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, ExpectedVersion, NewEvent, backend_tests};
use secrecy::ExposeSecret;
use sha2::Digest as _;

/// Where these tests keep the secrets key (one per test process).
fn key_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("grantlog-cli-test-{}.key", std::process::id()))
}

fn grantlog(database_url: &str, args: &[&str]) -> Output {
    grantlog_with_input(database_url, args, "")
}

fn grantlog_with_input(database_url: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_grantlog"))
        .args(args)
        .env("GRANTLOG_DATABASE_URL", database_url)
        .env("GRANTLOG_SECRETS_KEY_FILE", key_file())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running grantlog");
    child.stdin.take().expect("piped stdin").write_all(stdin.as_bytes()).expect("writing stdin");
    child.wait_with_output().expect("waiting for grantlog")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

async fn migrated_with_three_events(database: &TestDatabase) -> EventStore {
    let migrate = grantlog(&database.url, &["migrate"]);
    assert!(migrate.status.success(), "{}", stderr(&migrate));
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let events: Vec<NewEvent> = (0..3)
        .map(|n| NewEvent {
            event_type: "test.happened".into(),
            schema_version: 1,
            payload: serde_json::json!({ "n": n }),
            occurred_at: Utc::now(),
            actor: Actor::System,
            trace_id: None,
        })
        .collect();
    store.append("grant-a", ExpectedVersion::Exactly(0), &events).await.unwrap();
    store
}

async fn verify_passes_on_an_intact_log_and_names_an_edit(database: TestDatabase) {
    let store = migrated_with_three_events(&database).await;
    let head = grantlog(&database.url, &["audit", "head"]);
    assert!(head.status.success());
    assert!(stdout(&head).starts_with("3:"), "{}", stdout(&head));

    let intact = grantlog(&database.url, &["audit", "verify"]);
    assert!(intact.status.success(), "{}", stderr(&intact));
    assert_eq!(stdout(&intact), format!("ok: 3 events verified, head {}", stdout(&head)));

    database.tamper(&store, &[r#"UPDATE events SET payload = '{"n":7}' WHERE position = 2"#]).await;
    let edited = grantlog(&database.url, &["audit", "verify"]);
    assert_eq!(edited.status.code(), Some(1));
    assert_eq!(stderr(&edited).lines().count(), 1, "one line: {}", stderr(&edited));
    assert!(stderr(&edited).contains("position 2: hash does not match"), "{}", stderr(&edited));
}

async fn a_row_past_the_head_fails_verify_and_is_neither_exported_nor_rebuilt(database: TestDatabase) {
    let store = migrated_with_three_events(&database).await;
    let slipped_in = "INSERT INTO events (position, stream_id, stream_version, event_type, schema_version, payload, occurred_at, actor, trace_id, hash) \
        SELECT 4, 'grant-x', 1, event_type, schema_version, payload, occurred_at, actor, trace_id, hash FROM events WHERE position = 3";
    database.tamper(&store, &[slipped_in]).await;
    let named = "position 4: an event past the recorded head (3)";
    for command in [&["audit", "verify"][..], &["audit", "export"], &["projection", "rebuild"]] {
        let refused = grantlog(&database.url, command);
        assert_eq!(refused.status.code(), Some(1), "{command:?}: {}", stdout(&refused));
        assert!(stderr(&refused).contains(named), "{command:?}: {}", stderr(&refused));
        assert_eq!(stderr(&refused).lines().count(), 1, "one line: {}", stderr(&refused));
        assert!(stdout(&refused).is_empty(), "{command:?} wrote {}", stdout(&refused));
    }
}

async fn verify_catches_a_covered_up_truncation_against_a_recorded_head(database: TestDatabase) {
    let store = migrated_with_three_events(&database).await;
    let recorded = stdout(&grantlog(&database.url, &["audit", "head"]));
    let second = store.read_from(1, 1).await.unwrap().remove(0);
    let cover_up = format!("UPDATE chain_head SET position = 2, hash = '{}'", second.hash);
    database.tamper(&store, &["DELETE FROM events WHERE position = 3", &cover_up]).await;
    let caught = grantlog(&database.url, &["audit", "verify"]);
    assert_eq!(caught.status.code(), Some(1), "the Merkle tree still has the cut event");
    assert!(stderr(&caught).contains("the stored Merkle tree has 3 leaves, the log 2 events"), "{}", stderr(&caught));

    // Cut from the tree too, it is invisible to the database alone.
    database.tamper(&store, &["DELETE FROM merkle_nodes WHERE level = 0 AND idx = 2"]).await;
    assert!(grantlog(&database.url, &["audit", "verify"]).status.success(), "invisible without the record");
    let anchored = grantlog(&database.url, &["audit", "verify", "--expect-head", &recorded]);
    assert_eq!(anchored.status.code(), Some(1));
    assert!(stderr(&anchored).contains(&format!("recorded head is {recorded}")), "{}", stderr(&anchored));
}

async fn replay_shows_the_story_the_same_way_every_time(database: TestDatabase) {
    assert!(grantlog(&database.url, &["migrate"]).status.success());
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let (first, second, jane) = story(&store).await;
    let jane_profile =
        OwnerProfile { owner_id: jane.uuid(), username: "jane".into(), password_hash: "$argon2id$unused".into() };
    profiles::insert_owner_profile(&mut store.reader().acquire().await.unwrap(), &jane_profile).await.unwrap();

    let at_18_45 = ["audit", "replay", "--as-of", "2026-11-25T18:45:00Z"];
    let once = grantlog(&database.url, &at_18_45);
    assert!(once.status.success(), "{}", stderr(&once));
    assert_eq!(once.stdout, grantlog(&database.url, &at_18_45).stdout, "byte-identical");
    let text = String::from_utf8(once.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with(&format!("{first}\t{jane}\tbeppa-demo-key\tBeppa Prints\tphotos:read")), "{text}");
    assert!(lines[1].ends_with("\trevoked\t2026-11-25T18:40:00.000000Z"), "{text}");
    assert!(lines[2].starts_with(&second.to_string()) && lines[2].contains("\tactive\t"), "{text}");

    let for_jane =
        grantlog(&database.url, &[&at_18_45[..], &["--owner", "jane", "--client", "beppa-demo-key"]].concat());
    assert_eq!(for_jane.stdout, once.stdout, "{}", stderr(&for_jane));
    let by_id = grantlog(&database.url, &[&at_18_45[..], &["--owner", &jane.to_string()]].concat());
    assert_eq!(by_id.stdout, once.stdout);
    let stranger = grantlog(&database.url, &[&at_18_45[..], &["--owner", "mallory"]].concat());
    assert_eq!(stranger.status.code(), Some(1));
    assert!(stderr(&stranger).contains("no owner named \"mallory\""), "{}", stderr(&stranger));

    let json = grantlog(&database.url, &["audit", "replay", "--position", "7", "--json"]);
    let grants: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(grants.as_array().unwrap().len(), 1, "only the first grant exists at position 7");
    assert_eq!(grants[0]["status"], "active");
    assert_eq!(grants[0]["resources"], serde_json::json!(["islay-1", "islay-2"]));
    let beyond = grantlog(&database.url, &["audit", "replay", "--position", "999"]);
    assert_eq!(beyond.status.code(), Some(1));
    assert!(stderr(&beyond).contains("past the end of the log"), "{}", stderr(&beyond));

    let rebuilt = grantlog(&database.url, &["projection", "rebuild"]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    let head = store.head().await.unwrap().position;
    assert!(
        stdout(&rebuilt).starts_with(&format!("read models rebuilt from {head} events: 4 rows")),
        "{}",
        stdout(&rebuilt)
    );
    assert_eq!(grantlog(&database.url, &at_18_45).stdout, once.stdout, "a rebuild changes no replay");
}

async fn client_add_prints_credentials_once_and_seals_the_secret(database: TestDatabase) {
    let added = grantlog(
        &database.url,
        &[
            "client",
            "add",
            "--name",
            "<b>Beppa</b> Prints",
            "--callback",
            "http://127.0.0.1:*",
            "--callback",
            "oob",
            "--json",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let printed: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    let (key, secret) = (printed["client_key"].as_str().unwrap(), printed["client_secret"].as_str().unwrap());
    assert!(key.len() >= 22 && secret.len() >= 43, "{printed}");

    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let tables = Tables::read(store.reader()).await.unwrap();
    assert_eq!(tables.clients.len(), 1);
    assert_eq!(
        (tables.clients[0].consumer_key.as_str(), tables.clients[0].name.as_str()),
        (key, "<b>Beppa</b> Prints")
    );
    let client_id: uuid::Uuid = printed["client_id"].as_str().unwrap().parse().unwrap();
    let sealed = SecretBox::load_or_create(&key_file()).unwrap();
    let unsealed = sealed.get(store.reader(), &format!("client-secret:{client_id}")).await.unwrap().unwrap();
    assert_eq!(unsealed.expose_secret(), secret);
    let log = store.read_from(0, 10).await.unwrap();
    assert!(!serde_json::to_string(&log[0].payload).unwrap().contains(secret), "no secret in the event");

    let bad = grantlog(&database.url, &["client", "add", "--name", "X", "--callback", "ftp://x/"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("Failed to register the client: invalid callback"), "{}", stderr(&bad));
    assert_eq!(store.head().await.unwrap().position, 1, "nothing written");
}

async fn a_missing_or_different_secrets_key_is_refused_before_serving(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let with_key = |key: &std::path::Path, args: &[&str]| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_grantlog"))
            .args(args)
            .env("GRANTLOG_DATABASE_URL", &database.url)
            .env("GRANTLOG_SECRETS_KEY_FILE", key)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running grantlog");
        // A server that started anyway would run until killed: give it 30 s.
        for _ in 0..300 {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        child.kill().unwrap();
        panic!("grantlog {args:?} with key {} kept running", key.display());
    };
    let original = folder.path().join("original.key");
    let added = with_key(&original, &["client", "add", "--name", "Beppa", "--callback", "oob"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let sealed_with = SecretBox::load_or_create(&original).unwrap().key_id().to_owned();

    let missing = folder.path().join("moved-aside.key");
    let refused = with_key(&missing, &["serve", "--bind", "127.0.0.1:0"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert_eq!(
        stderr(&refused),
        format!(
            "grantlog: Failed to load the secrets key: secret store: no key file at {}, but this database's secrets \
             are sealed with key {sealed_with}; restore that key file from its backup (docs/operations.md)",
            missing.display()
        )
    );
    assert!(!missing.exists(), "no key is made for a database with sealed secrets");

    let other = folder.path().join("other.key");
    std::fs::write(&other, format!("{}\n", "ab".repeat(32))).unwrap();
    let other_id = SecretBox::load_or_create(&other).unwrap().key_id().to_owned();
    let refused = with_key(&other, &["serve", "--bind", "127.0.0.1:0"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert_eq!(
        stderr(&refused),
        format!(
            "grantlog: Failed to load the secrets key: secret store: the key in {} is {other_id}, but this \
             database's secrets are sealed with key {sealed_with}; restore that key file from its backup \
             (docs/operations.md)",
            other.display()
        )
    );
    let again = with_key(&original, &["client", "add", "--name", "Faji's friend", "--callback", "oob"]);
    assert!(again.status.success(), "the right key still opens it: {}", stderr(&again));
}

async fn owner_add_reads_the_password_and_keeps_it_out_of_the_log(database: TestDatabase) {
    let added = grantlog_with_input(&database.url, &["owner", "add", "--username", "jane"], "islay-scotch\n");
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).starts_with("owner jane registered (owner id "), "{}", stdout(&added));

    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let jane = profiles::find_owner_by_username(store.reader(), "jane").await.unwrap().unwrap();
    let hash = argon2::password_hash::phc::PasswordHash::new(&jane.password_hash).unwrap();
    use argon2::password_hash::PasswordVerifier as _;
    assert!(argon2::Argon2::default().verify_password(b"islay-scotch", &hash).is_ok());
    assert!(argon2::Argon2::default().verify_password(b"islay-scotch\n", &hash).is_err(), "newline stripped");
    let log = serde_json::to_string(&store.read_from(0, 10).await.unwrap()[0].payload).unwrap();
    assert!(!log.contains("jane") && !log.contains("argon2"), "{log}");

    let twin = grantlog_with_input(&database.url, &["owner", "add", "--username", "jane"], "another-password\n");
    assert_eq!(twin.status.code(), Some(1));
    assert_eq!(stderr(&twin), "grantlog: Failed to register the owner: username already taken");
    let weak = grantlog_with_input(&database.url, &["owner", "add", "--username", "bob"], "short\n");
    assert_eq!(stderr(&weak), "grantlog: Failed to register the owner: password must be at least 8 characters");
    assert_eq!(store.head().await.unwrap().position, 1, "refusals write nothing");
}

async fn export_writes_every_event_with_its_envelope_and_no_secret(database: TestDatabase) {
    assert!(grantlog(&database.url, &["migrate"]).status.success());
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    story(&store).await;
    let name = "Export, \"Quoted\" Prints";
    let added = grantlog(&database.url, &["client", "add", "--name", name, "--callback", "oob", "--json"]);
    assert!(added.status.success(), "{}", stderr(&added));
    let secret = serde_json::from_slice::<serde_json::Value>(&added.stdout).unwrap()["client_secret"].clone();
    let log = store.read_from(0, 10_000).await.unwrap();
    assert_eq!(log.len() as u64, store.head().await.unwrap().position);

    let jsonl = grantlog(&database.url, &["audit", "export"]);
    assert!(jsonl.status.success(), "{}", stderr(&jsonl));
    let text = String::from_utf8(jsonl.stdout).unwrap();
    assert!(!text.contains(secret.as_str().unwrap()), "no secret leaves with the log");
    let lines: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), log.len());
    for (line, event) in lines.iter().zip(&log) {
        assert_eq!(line["position"], event.position);
        assert_eq!(line["stream_id"], event.stream_id.as_str());
        assert_eq!(line["stream_version"], event.stream_version);
        assert_eq!(line["event_type"], event.event_type.as_str());
        assert_eq!(line["schema_version"], event.schema_version);
        let at: chrono::DateTime<Utc> = line["occurred_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at, event.occurred_at);
        assert_eq!(line["actor"], serde_json::to_value(event.actor).unwrap());
        assert_eq!(line["trace_id"].as_str(), event.trace_id.as_deref());
        assert_eq!(line["hash"], event.hash.to_string());
        assert_eq!(line["payload"], event.payload);
    }

    let csv = grantlog(&database.url, &["audit", "export", "--format", "csv"]);
    assert!(csv.status.success(), "{}", stderr(&csv));
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    assert_eq!(reader.headers().unwrap(), &grantlog_server::export::COLUMNS[..]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), log.len());
    for (record, event) in records.iter().zip(&log) {
        assert_eq!(record[0], event.position.to_string());
        assert_eq!(record[8], event.hash.to_string());
        assert_eq!(serde_json::from_str::<serde_json::Value>(&record[9]).unwrap(), event.payload);
    }
    // The CSV alone is enough to recompute the chain (docs/audit.md's formula): actor
    // and payload are the very text the hashes cover, an empty trace id is none.
    let mut previous = [0u8; 32];
    for record in &records {
        let trace_id = Some(&record[7]).filter(|id| !id.is_empty());
        let number = |column: usize| record[column].parse::<u64>().unwrap();
        let envelope =
            (number(0), &record[1], number(2), &record[3], number(4), &record[5], &record[6], trace_id, &record[9]);
        let mut hasher = sha2::Sha256::new();
        hasher.update(previous);
        hasher.update(serde_json::to_vec(&envelope).unwrap());
        previous = hasher.finalize().into();
        let hex: String = previous.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, record[8], "position {}", &record[0]);
    }
    assert_eq!(format!("{}", store.head().await.unwrap().hash), records.last().unwrap()[8]);
    let registered = records.iter().rfind(|record| &record[3] == "client.registered").unwrap();
    let payload: serde_json::Value = serde_json::from_str(&registered[9]).unwrap();
    assert_eq!(payload["name"], name, "commas and quotes survive CSV");

    let unknown = grantlog(&database.url, &["audit", "export", "--format", "xml"]);
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));
}

backend_tests!(
    client_add_prints_credentials_once_and_seals_the_secret,
    a_missing_or_different_secrets_key_is_refused_before_serving,
    export_writes_every_event_with_its_envelope_and_no_secret,
    owner_add_reads_the_password_and_keeps_it_out_of_the_log,
    verify_passes_on_an_intact_log_and_names_an_edit,
    a_row_past_the_head_fails_verify_and_is_neither_exported_nor_rebuilt,
    verify_catches_a_covered_up_truncation_against_a_recorded_head,
    replay_shows_the_story_the_same_way_every_time,
);

#[test]
fn the_demo_tells_the_story_and_shows_the_grants_history() {
    let folder = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_grantlog")).arg("demo").current_dir(folder.path()).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let told = stdout(&output);
    for line in [
        "Beppa asks Faji for temporary credentials",
        "she types her password into Faji, not Beppa",
        "She approves both photos for one hour",
        "Faji issues an access token, good for one hour",
        "Port Ellen harbour at dawn — 266 bytes of image/png",
        "grant.temporary_credentials_issued",
        "grant.approved",
        "grant.token_credentials_issued",
        "The whole log (7 events) verifies",
    ] {
        assert!(told.contains(line), "missing {line:?} in:\n{told}");
    }
    assert!(!told.contains("beppa-demo-secret") && !told.contains("islay-scotch"), "no secret narrated");
    assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0, "nothing left behind");
}

#[test]
fn auditing_a_missing_database_fails_without_creating_it() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("absent.db");
    let output = grantlog(&format!("sqlite://{}", path.display()), &["audit", "verify"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(stderr(&output).starts_with("grantlog: Failed to open the database"), "{}", stderr(&output));
    assert!(!path.exists());
}

#[test]
fn a_malformed_head_or_url_is_refused_in_one_line() {
    let bad_head = grantlog("sqlite://unused.db", &["audit", "verify", "--expect-head", "3"]);
    assert_eq!(bad_head.status.code(), Some(2), "clap's usage error");
    assert!(stderr(&bad_head).contains("POSITION:HASH"), "{}", stderr(&bad_head));
    let bad_url = grantlog("mysql://localhost/x", &["audit", "head"]);
    assert_eq!(bad_url.status.code(), Some(1));
    assert!(stderr(&bad_url).contains("unsupported database URL"), "{}", stderr(&bad_url));
}
