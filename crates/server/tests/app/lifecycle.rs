//! The life of clients and grants under an operator, SQLite and PostgreSQL: a rotated
//! secret refuses the old one (at once, or after its grace period), a suspension refuses
//! every request of the client on a second process at once and a resumption restores
//! them, a profile change shows on the consent page, an operator's revocation shows on
//! Jane's page, and the CLI does the same. Every refusal (unknown key, bad input, a
//! change that does not apply, another role's token) is a clear 4xx that records nothing.

use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use serde_json::{Value, json};

use crate::support::browser::{Client, jane_gives_beppa_access};
use crate::support::{Server, call, eventually};

const ADMIN: &str = "admin-token-for-the-lifecycle-0123456789ab";
const AUDITOR: &str = "auditor-token-for-the-lifecycle-0123456789";
const BEPPA: &str = "/admin/clients/beppa-demo-key";

fn admin(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|body| body.to_string());
    let (status, _, answer) = call(method, &server.url(path), Some(ADMIN), body.as_deref());
    (status, answer)
}

async fn head(store: &EventStore) -> u64 {
    store.head().await.unwrap().position
}

fn problem(reply: &crate::support::Reply) -> Option<String> {
    reply.param("oauth_problem")
}

async fn a_rotated_secret_refuses_the_old_one_at_once_or_after_its_grace(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo", "--admin-token", ADMIN]);
    let other = server.beside_with(&["--demo"]);
    let old = Client::demo(&other);
    assert_eq!(old.initiate(&other, "n-1").status, 200);

    let (status, rotated) = admin(&server, "POST", &format!("{BEPPA}/rotate-secret"), None);
    assert_eq!((status, &rotated["previous_valid_until"]), (200, &Value::Null), "{rotated}");
    let second = rotated["client_secret"].as_str().unwrap().to_owned();
    let refused = old.initiate(&other, "n-2");
    assert_eq!((refused.status, problem(&refused).as_deref()), (401, Some("signature_invalid")), "on the other node");
    let new = Client { server: &other, key: "beppa-demo-key".into(), secret: second.clone() };
    assert_eq!(new.initiate(&other, "n-3").status, 200);

    // With a grace period both work until it ends; the next rotation ends it early.
    let (status, graced) =
        admin(&server, "POST", &format!("{BEPPA}/rotate-secret"), Some(json!({"grace_seconds": 600})));
    assert_eq!(status, 200, "{graced}");
    assert!(graced["previous_valid_until"].as_str().is_some(), "{graced}");
    let third = Client {
        server: &other,
        key: "beppa-demo-key".into(),
        secret: graced["client_secret"].as_str().unwrap().into(),
    };
    assert_eq!(new.initiate(&other, "n-4").status, 200, "the previous secret in its grace period");
    assert_eq!(third.initiate(&other, "n-5").status, 200);
    let (_, shown) = admin(&server, "GET", BEPPA, None);
    assert_eq!(shown["previous_secret_valid_until"], graced["previous_valid_until"]);
    assert!(!shown.to_string().contains(&second), "never a secret");
    // Another grace period while this one runs would end the secret still in use: 409.
    let (status, refused) =
        admin(&server, "POST", &format!("{BEPPA}/rotate-secret"), Some(json!({"grace_seconds": 600})));
    assert_eq!((status, &refused["error"]), (409, &json!("a grace period is running: rotate without one to end it")));
    assert_eq!(new.initiate(&other, "n-6").status, 200, "the refusal changed nothing");
    let (_, plain) = admin(&server, "POST", &format!("{BEPPA}/rotate-secret"), Some(json!({"grace_seconds": 0})));
    assert_eq!(new.initiate(&other, "n-7").status, 401, "a rotation without one ends the grace period");

    // A grace period runs out by itself.
    let fourth = Client {
        server: &other,
        key: "beppa-demo-key".into(),
        secret: plain["client_secret"].as_str().unwrap().into(),
    };
    admin(&server, "POST", &format!("{BEPPA}/rotate-secret"), Some(json!({"grace_seconds": 1})));
    let mut nonce = 0;
    eventually("the grace period to end", || {
        nonce += 1;
        (fourth.initiate(&other, &format!("g-{nonce}")).status == 401).then_some(())
    });

    // Forty rotations at once: each is made, or refused as busy; none fails.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let rotations: Vec<_> = (0..40)
            .map(|_| scope.spawn(|| admin(&server, "POST", &format!("{BEPPA}/rotate-secret"), None).0))
            .collect();
        rotations.into_iter().map(|rotation| rotation.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|status| [200, 429].contains(status)), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");

    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let before = head(&store).await;
    for body in [json!({"grace_seconds": 604_801}), json!({"grace_seconds": -1}), json!({"grace": 5}), json!([])] {
        assert_eq!(admin(&server, "POST", &format!("{BEPPA}/rotate-secret"), Some(body.clone())).0, 400, "{body}");
    }
    assert_eq!(admin(&server, "POST", "/admin/clients/nobody/rotate-secret", None).0, 404);
    let (status, _, _) = call("POST", &server.url(&format!("{BEPPA}/rotate-secret")), Some(AUDITOR), None);
    assert_eq!(status, 401);
    assert_eq!(head(&store).await, before, "no refusal recorded anything");
}

async fn a_suspension_refuses_every_request_on_every_node_and_a_resumption_restores_them(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo", "--admin-token", ADMIN]);
    let other = server.beside_with(&["--demo"]);
    // An access token, an approved request token not yet exchanged, a pending one.
    let (mut jane, beppa, _, access) = jane_gives_beppa_access(&server, "s-1");
    let approved = beppa.request_token("s-4");
    let approved_verifier = jane.approve(&server, &approved.0, &[("photos", "islay-harbour")]);
    let pending = beppa.request_token("s-5");
    let there = Client::demo(&other);
    assert_eq!(there.photos(&other, &access, "s-6").status, 200);

    let (status, suspended) =
        admin(&server, "POST", &format!("{BEPPA}/suspend"), Some(json!({"reason": "abuse report"})));
    assert_eq!(
        (status, &suspended["status"], &suspended["suspension_reason"]),
        (200, &json!("suspended"), &json!("abuse report"))
    );
    let rejected = Some("consumer_key_rejected");
    let initiated = there.initiate(&other, "s-7");
    assert_eq!((initiated.status, problem(&initiated).as_deref()), (401, rejected));
    let fetched = there.photos(&other, &access, "s-8");
    assert_eq!((fetched.status, problem(&fetched).as_deref()), (401, rejected), "at once, on the other node");
    let exchanged = there.try_exchange(&approved, &approved_verifier, "s-9");
    assert_eq!((exchanged.status, problem(&exchanged).as_deref()), (401, rejected));
    let consent = jane.get(&other.url(&format!("/oauth/authorize?oauth_token={}", pending.0)));
    assert!(consent.status >= 400 && !consent.body.contains("Allow"), "{}: {}", consent.status, consent.body);
    let page = jane.get(&server.url("/account/grants"));
    assert!(page.body.contains("Beppa Prints is suspended by the provider"), "{}", page.body);
    assert_eq!(admin(&server, "POST", &format!("{BEPPA}/suspend"), Some(json!({"reason": "again"}))).0, 409);

    let (status, resumed) = admin(&server, "POST", &format!("{BEPPA}/resume"), Some(json!({"reason": "resolved"})));
    assert_eq!((status, &resumed["status"]), (200, &json!("active")), "{resumed}");
    assert_eq!(there.photos(&other, &access, "s-10").status, 200, "its grants work again");
    assert_eq!(there.try_exchange(&approved, &approved_verifier, "s-11").status, 200);
    assert_eq!(jane.get(&other.url(&format!("/oauth/authorize?oauth_token={}", pending.0))).status, 200);
    assert_eq!(admin(&server, "POST", &format!("{BEPPA}/resume"), None).0, 409, "not suspended");
    // Jane's history of the grant tells both.
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let grant = grantlog_projection::tables::grant_by_token(store.reader(), &access.0).await.unwrap().unwrap();
    let history = jane.get(&server.url(&format!("/account/grants/{}", grant.grant_id)));
    for told in ["The provider suspended Beppa Prints: “abuse report”", "The provider let Beppa Prints back"] {
        assert!(history.body.contains(told), "{told}: {}", history.body);
    }
    assert_eq!(admin(&server, "POST", &format!("{BEPPA}/suspend"), Some(json!({}))).0, 400, "a reason is required");
}

async fn operators_list_change_and_revoke_over_http_and_the_command_line(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo", "--admin-token", ADMIN]);
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let (mut jane, beppa, _, grant) = crate::support::browser::jane_approves_beppa(&server, &database.url, "o-1").await;

    let (status, listed) = admin(&server, "GET", "/admin/clients?limit=10", None);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["clients"][0]["client_key"], "beppa-demo-key");
    assert_eq!(listed["next_after"], "beppa-demo-key");
    let (_, after) = admin(&server, "GET", "/admin/clients?after=beppa-demo-key", None);
    assert_eq!(after["clients"], json!([]));
    let (_, shown) = admin(&server, "GET", BEPPA, None);
    assert_eq!(
        (&shown["name"], &shown["status"], &shown["grants"]["authorized"]),
        (&json!("Beppa Prints"), &json!("active"), &json!(1)),
        "{shown}"
    );

    // Renamed, the consent page says the new name.
    let (status, renamed) =
        admin(&server, "PATCH", BEPPA, Some(json!({"name": "Beppa Prints & Frames", "homepage": null})));
    assert_eq!((status, &renamed["name"], &renamed["homepage"]), (200, &json!("Beppa Prints & Frames"), &Value::Null));
    let before = head(&store).await;
    assert_eq!(admin(&server, "PATCH", BEPPA, Some(json!({"name": "Beppa Prints & Frames"}))).0, 200);
    assert_eq!(head(&store).await, before, "nothing changed, nothing recorded");
    let asking = beppa.request_token("o-2");
    let consent = jane.get(&server.url(&format!("/oauth/authorize?oauth_token={}", asking.0)));
    assert!(consent.body.contains("Beppa Prints &amp; Frames"), "{}", consent.body);

    // Two changes at once both hold: each is merged with the profile as it is then.
    let (homepage, callbacks) = std::thread::scope(|scope| {
        let homepage =
            scope.spawn(|| admin(&server, "PATCH", BEPPA, Some(json!({"homepage": "https://beppa.example/"}))));
        let callbacks =
            scope.spawn(|| admin(&server, "PATCH", BEPPA, Some(json!({"callback_urls": ["http://127.0.0.1:*"]}))));
        (homepage.join().unwrap(), callbacks.join().unwrap())
    });
    assert_eq!((homepage.0, callbacks.0), (200, 200));
    let (_, both) = admin(&server, "GET", BEPPA, None);
    assert_eq!(
        (&both["homepage"], &both["callback_urls"]),
        (&json!("https://beppa.example/"), &json!(["http://127.0.0.1:*"]))
    );
    assert_eq!(both["name"], "Beppa Prints & Frames", "and the name changed before them stays");

    // Refusals change nothing.
    let refusals: [(&str, &str, Option<Value>, u16, &str); 8] = [
        ("GET", "/admin/clients/nobody", None, 404, "no client has that key"),
        ("PATCH", "/admin/clients/nobody", Some(json!({"name": "x"})), 404, "no client has that key"),
        ("PATCH", BEPPA, Some(json!({"callback_urls": ["ftp://beppa.example/cb"]})), 400, "callback"),
        ("PATCH", BEPPA, Some(json!({})), 400, "give at least one"),
        ("PATCH", BEPPA, Some(json!({"name": "x", "secret": "y"})), 400, "unknown field"),
        ("GET", "/admin/clients?limit=lots", None, 400, "limit"),
        (
            "POST",
            "/admin/grants/00000000-0000-0000-0000-000000000000/revoke",
            Some(json!({"reason": "r"})),
            404,
            "no grant",
        ),
        ("POST", &format!("/admin/grants/{grant}/revoke"), Some(json!({})), 400, "reason"),
    ];
    let before = head(&store).await;
    for (method, path, body, expected, says) in refusals {
        let (status, answer) = admin(&server, method, path, body);
        assert_eq!(status, expected, "{method} {path}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|error| error.contains(says)), "{method} {path}: {answer}");
    }
    for query in ["limit=0", "limit=1001", "limit=%zz", "after=%zz"] {
        assert_eq!(admin(&server, "GET", &format!("/admin/clients?{query}"), None).0, 400, "{query}");
    }
    let (status, nothing) = admin(&server, "GET", "/admin/clients?after=%00", None);
    assert_eq!((status, &nothing["clients"]), (200, &json!([])), "no key sorts after a NUL that no key has");
    for token in [None, Some(AUDITOR)] {
        assert_eq!(call("GET", &server.url("/admin/clients"), token, None).0, 401);
        assert_eq!(
            call("POST", &server.url(&format!("/admin/grants/{grant}/revoke")), token, Some(r#"{"reason":"r"}"#)).0,
            401
        );
    }
    assert_eq!(head(&store).await, before, "no refusal recorded anything");

    // An operator revokes Jane's grant: her history says so, with the reason; twice is 409.
    let (status, _) =
        admin(&server, "POST", &format!("/admin/grants/{grant}/revoke"), Some(json!({"reason": "leaked key"})));
    assert_eq!(status, 200);
    let history = jane.get(&server.url(&format!("/account/grants/{grant}")));
    assert!(history.body.contains("An administrator revoked it: “leaked key”"), "{}", history.body);
    let (status, again) =
        admin(&server, "POST", &format!("/admin/grants/{grant}/revoke"), Some(json!({"reason": "again"})));
    assert_eq!((status, &again["error"]), (409, &json!("the grant has already ended")));

    // The command line runs the same use cases.
    let run = |args: &[&str]| {
        let output = server.grantlog(args);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["client", "suspend", "--key", "beppa-demo-key", "--reason", "from the shell"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["suspension_reason"], "from the shell");
    let (code, _, err) = run(&["client", "suspend", "--key", "beppa-demo-key", "--reason", "twice"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already suspended"), "{err}");
    assert_eq!(run(&["client", "resume", "--key", "beppa-demo-key"]).0, Some(0));
    let (code, out, _) = run(&["client", "rotate-secret", "--key", "beppa-demo-key"]);
    assert_eq!(code, Some(0));
    let secret = serde_json::from_str::<Value>(&out).unwrap()["client_secret"].as_str().unwrap().to_owned();
    let rotated = Client { server: &server, key: "beppa-demo-key".into(), secret };
    assert_eq!(rotated.initiate(&server, "o-3").status, 200);
    let (code, out, _) =
        run(&["client", "update", "--key", "beppa-demo-key", "--callback", "https://beppa.example/back"]);
    assert_eq!(
        (code, serde_json::from_str::<Value>(&out).unwrap()["callback_urls"].clone()),
        (Some(0), json!(["https://beppa.example/back"]))
    );
    let (code, out, _) = run(&["client", "list"]);
    assert_eq!(
        (code, serde_json::from_str::<Value>(&out).unwrap()[0]["client_key"].clone()),
        (Some(0), json!("beppa-demo-key"))
    );
    let (code, out, _) = run(&["client", "show", "--key", "beppa-demo-key"]);
    assert_eq!((code, serde_json::from_str::<Value>(&out).unwrap()["grants"]["revoked"].clone()), (Some(0), json!(1)));
    let (code, _, err) = run(&["grant", "revoke", "--id", &grant, "--reason", "again"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already ended"), "{err}");
    let (code, _, err) = run(&["client", "update", "--key", "beppa-demo-key"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("Nothing to change"), "{err}");
    let (code, _, err) = run(&["client", "show", "--key", "nobody"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no client has that key"), "{err}");
}

backend_tests!(
    operators_list_change_and_revoke_over_http_and_the_command_line,
    a_rotated_secret_refuses_the_old_one_at_once_or_after_its_grace,
    a_suspension_refuses_every_request_on_every_node_and_a_resumption_restores_them
);
