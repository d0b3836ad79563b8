//! Signed checkpoints and proofs, SQLite and PostgreSQL: a server given a checkpoint key
//! signs the log's tree; every event of a 1,000-event log is proved in it, and every
//! pair of sizes of its first 100 proved consistent, over HTTP; an independent verifier
//! written from the public specs (Python, `tests/clients/python/tlog_verify.py`) checks
//! the note, every proof and the roots from the CSV export. `audit verify-export` checks
//! the export offline and names what a tampered one breaks. Two processes signing at
//! once leave checkpoints all consistent with each other.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use grantlog_domain::OwnerId;
use grantlog_projection::testing::register_owner;
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use grantlog_tests::run_python_client;
use grantlog_tlog::merkle::verify_consistency;
use serde_json::{Value, json};

use crate::support::{Server, checkpoint_key, eventually, get_with_bearer};

const AUDITOR: &str = "auditor-token-for-the-checkpoints-0123456789";

fn audit_get(server: &Server, path: &str) -> (u16, String) {
    get_with_bearer(server, AUDITOR, path)
}

/// Owners registered straight into the log: one event each.
async fn grow(store: &EventStore, events: usize) {
    for _ in 0..events {
        register_owner(store, OwnerId::new(uuid::Uuid::now_v7()), Utc::now()).await;
    }
}

/// Waits for a checkpoint of the whole log; returns the note.
fn signed_checkpoint_of(server: &Server, size: u64) -> String {
    eventually(&format!("a checkpoint of {size}"), || {
        let (status, note) = audit_get(server, "/audit/checkpoint");
        (status == 200 && note.lines().nth(1) == Some(&size.to_string())).then_some(note)
    })
}

async fn every_proof_verifies_with_a_python_verifier_written_from_the_specs(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let (key_file, verifier) = checkpoint_key(folder.path(), "grantlog.test/log");
    let server = Server::start_with(
        &database.url,
        &["--auditor-token", AUDITOR, "--checkpoint-key-file", &key_file, "--checkpoint-every", "1"],
    );
    assert_eq!(audit_get(&server, "/audit/checkpoint").0, 404, "nothing signed before the log has events");
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    grow(&store, 1_000).await;
    let size = store.tree_size().await.unwrap();
    assert_eq!(size, 1_000);
    let note = signed_checkpoint_of(&server, size);

    let mut inclusion = Vec::new();
    for position in 1..=size {
        let (status, body) = audit_get(&server, &format!("/audit/proof/inclusion?position={position}"));
        assert_eq!(status, 200, "{body}");
        inclusion.push(serde_json::from_str::<Value>(&body).unwrap());
    }
    let mut consistency = Vec::new();
    for to in 1..=100 {
        for from in 1..=to {
            let (status, body) = audit_get(&server, &format!("/audit/proof/consistency?from={from}&to={to}"));
            assert_eq!(status, 200, "{body}");
            consistency.push(serde_json::from_str::<Value>(&body).unwrap());
        }
    }
    let export = folder.path().join("log.csv");
    let exported = server.grantlog(&["audit", "export", "--format", "csv"]);
    assert!(exported.status.success());
    std::fs::write(&export, &exported.stdout).unwrap();

    let job = json!({
        "verifier_key": verifier, "checkpoint": note, "export_csv": export,
        "inclusion": inclusion, "consistency": consistency,
    });
    let verdict: Value =
        serde_json::from_slice(&run_python_client("tlog_verify.py", &[], job.to_string().as_bytes())).unwrap();
    assert_eq!(verdict["checkpoint_size"], 1_000);
    assert_eq!(verdict["inclusion_verified"], 1_000);
    assert_eq!(verdict["consistency_verified"], 5_050);

    // The CLI answers as the API does.
    let checkpoint_file = folder.path().join("checkpoint.note");
    let printed = server.grantlog(&["audit", "checkpoint"]);
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), note);
    std::fs::write(&checkpoint_file, &note).unwrap();
    let proved = server.grantlog(&["audit", "prove", "--position", "17", "--size", "1000"]);
    assert_eq!(serde_json::from_slice::<Value>(&proved.stdout).unwrap(), inclusion[16]);
    let proved = server.grantlog(&["audit", "prove", "--from", "7", "--to", "100"]);
    let expected = consistency.iter().find(|proof| proof["from"] == 7 && proof["to"] == 100).unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&proved.stdout).unwrap(), *expected);

    // The checkpoint in force at a moment: none before the first, this one now.
    assert_eq!(audit_get(&server, "/audit/checkpoint?as_of=2000-01-01T00:00:00Z").0, 404);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, in_force) = audit_get(&server, &format!("/audit/checkpoint?as_of={now}"));
    assert_eq!((status, in_force.lines().nth(1)), (200, Some("1000")));
    let printed = server.grantlog(&["audit", "checkpoint", "--as-of", "2000-01-01T00:00:00Z"]);
    assert_eq!(printed.status.code(), Some(1), "none in force then");
    assert_eq!(audit_get(&server, "/audit/checkpoint?as_of=yesterday").0, 400);

    // Questions the tree cannot answer are the auditor's mistake, not a failure.
    for path in [
        "/audit/proof/inclusion?position=0",
        "/audit/proof/inclusion?position=1001&size=1000",
        "/audit/proof/inclusion?position=5&size=2000",
        "/audit/proof/inclusion?position=x",
        "/audit/proof/consistency?from=0&to=5",
        "/audit/proof/consistency?from=9&to=5",
        "/audit/proof/consistency?from=5",
    ] {
        assert_eq!(audit_get(&server, path).0, 400, "{path}");
    }

    verify_export_names_what_tampering_breaks(&server, folder.path(), &export, &checkpoint_file, &verifier);
}

/// `audit verify-export` on the export as made, then on three tampered copies.
fn verify_export_names_what_tampering_breaks(
    server: &Server,
    folder: &Path,
    export: &Path,
    checkpoint: &Path,
    verifier: &str,
) {
    let verify = |file: &Path| {
        let output = server.verify_export(file, checkpoint, verifier);
        (
            output.status.code(),
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
        )
    };
    let (code, said) = verify(export);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("ok: 1000 events"), "{said}");

    let text = std::fs::read_to_string(export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let tampered = |name: &str, lines: Vec<String>| {
        let path = folder.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        verify(&path)
    };
    let owned = |lines: &[&str]| lines.iter().map(|line| (*line).to_owned()).collect::<Vec<String>>();

    // One byte of event 500's envelope: its timestamp's last digit.
    let mut edited = owned(&lines);
    let line = &mut edited[500];
    let digit = line.find("Z,").unwrap() - 1;
    let changed = if &line[digit..=digit] == "0" { "1" } else { "0" };
    line.replace_range(digit..=digit, changed);
    let (code, said) = tampered("edited.csv", edited);
    assert_eq!(code, Some(1));
    assert!(said.contains("position 500: the hash chain breaks"), "{said}");

    let (code, said) = tampered("short.csv", owned(&lines[..lines.len() - 1]));
    assert_eq!(code, Some(1));
    assert!(said.contains("the export ends at position 999, but the checkpoint covers 1000 events"), "{said}");

    let mut swapped = owned(&lines);
    swapped.swap(300, 301);
    let (code, said) = tampered("swapped.csv", swapped);
    assert_eq!(code, Some(1));
    assert!(said.contains("position 300: the export has position 301 here"), "{said}");

    let (code, said) = verify(checkpoint);
    assert_eq!(code, Some(1), "a file that is no CSV export: {said}");
}

async fn two_processes_signing_at_once_never_contradict_each_other(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let (key_file, verifier) = checkpoint_key(folder.path(), "grantlog.test/log");
    let verifier = grantlog_tlog::note::NoteVerifier::parse(&verifier).unwrap();
    let args = ["--checkpoint-key-file", key_file.as_str(), "--checkpoint-every", "1"];
    let first = Server::process(&database.url, &args);
    let _second = first.beside_with(&args);
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let started = Instant::now();
    // Four seconds of growth, and on a slow machine on until three sizes were signed.
    while started.elapsed() < Duration::from_secs(4)
        || (store.checkpoints().await.unwrap().len() < 3 && started.elapsed() < Duration::from_secs(20))
    {
        grow(&store, 5).await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let size = store.tree_size().await.unwrap();
    while store.latest_checkpoint().await.unwrap().is_none_or(|latest| latest.tree_size < size) {
        assert!(started.elapsed() < Duration::from_secs(30), "the last growth was never signed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let checkpoints = store.checkpoints().await.unwrap();
    assert!(checkpoints.len() >= 3, "{} checkpoints", checkpoints.len());
    for pair in checkpoints.windows(2) {
        let (earlier, later) = (&pair[0], &pair[1]);
        let proof = store.consistency_proof(earlier.tree_size, later.tree_size).await.unwrap();
        verify_consistency(earlier.tree_size, later.tree_size, &earlier.root, &later.root, &proof)
            .unwrap_or_else(|e| panic!("{} to {}: {e}", earlier.tree_size, later.tree_size));
    }
    for checkpoint in &checkpoints {
        assert_eq!(store.tree_root(checkpoint.tree_size).await.unwrap(), checkpoint.root);
        let signed = grantlog_tlog::checkpoint::Checkpoint::parse(verifier.open(&checkpoint.note).unwrap()).unwrap();
        assert_eq!(
            (signed.size, signed.root),
            (checkpoint.tree_size, checkpoint.root),
            "the note says what the row says"
        );
    }
}

#[test]
fn a_key_is_generated_once_readable_by_its_owner_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let folder = tempfile::tempdir().unwrap();
    let out = folder.path().join("log.key");
    let generate = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_grantlog"))
            .args(["checkpoint", "key", "generate", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let made = generate();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let verifier = String::from_utf8(made.stdout).unwrap();
    let parsed = grantlog_tlog::note::NoteVerifier::parse(verifier.trim()).unwrap();
    assert!(parsed.name().starts_with("grantlog/"), "a default origin: {verifier}");
    assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    let key = std::fs::read_to_string(&out).unwrap();
    assert!(key.starts_with("PRIVATE+KEY+grantlog/"), "Go's signer key format");
    let again = generate();
    assert_eq!(again.status.code(), Some(1), "an existing key is never overwritten");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), key);
}

async fn a_checkpoint_row_rewritten_in_the_database_is_never_extended(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let (key_file, _) = checkpoint_key(folder.path(), "grantlog.test/log");
    let server = Server::start_with(
        &database.url,
        &["--auditor-token", AUDITOR, "--checkpoint-key-file", &key_file, "--checkpoint-every", "1"],
    );
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    grow(&store, 5).await;
    let signed = signed_checkpoint_of(&server, 5);
    // Whoever can write the database swaps the root in the row (not in the signed note).
    let forged = match database.kind {
        // Only the latest: the signer may also have signed a size on the way to 5.
        grantlog_store::testing::Kind::Sqlite => "UPDATE checkpoints SET root = randomblob(32) WHERE tree_size = 5",
        grantlog_store::testing::Kind::Postgres => {
            "UPDATE checkpoints SET root = decode(repeat('00', 32), 'hex') WHERE tree_size = 5"
        }
    };
    database.tamper(&store, &[forged]).await;
    grow(&store, 5).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let latest = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!((latest.tree_size, latest.note.as_str()), (5, signed.as_str()), "nothing signed on a forged row");
    let (status, verified) = audit_get(&server, "/audit/verify");
    assert_eq!(status, 200);
    let verdict: Value = serde_json::from_str(&verified).unwrap();
    assert_eq!(verdict["ok"], false, "{verdict}");
    assert!(verdict["violation"].as_str().unwrap().contains("checkpoint of size 5"), "{verdict}");
}

backend_tests!(
    a_checkpoint_row_rewritten_in_the_database_is_never_extended,
    every_proof_verifies_with_a_python_verifier_written_from_the_specs,
    two_processes_signing_at_once_never_contradict_each_other
);
