//! The protected resources with `--demo`, SQLite and PostgreSQL: Beppa's access token
//! shows exactly the photos Jane chose, and stops working the moment she revokes it.
//! (Approval is recorded straight through the domain: the consent page has its own
//! tests, in `consent.rs`.)

use crate::support::{Reply, Server, get, post};
use chrono::Utc;
use grantlog_domain::{
    AccessDuration, Actor, Approve, ConsentMethod, ConsentText, Fingerprint, GrantId, OwnerId, ResourceId, Revoke,
    Revoker, Scope,
};
use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};
use grantlog_projection::tables::grant_by_token;
use grantlog_projection::testing::{authenticate, grant};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests, profiles};

const KEY: &str = "beppa-demo-key";
const SECRET: &str = "beppa-demo-secret";

fn now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap()
}

fn header(signer: &Signer, method: &str, url: &str, extra: &[(&str, &str)], nonce: &str) -> String {
    let unsigned = Unsigned { method, url, body: &[], extra, nonce, timestamp: now() };
    signer.authorization_header(&unsigned, None).unwrap()
}

/// The story up to token credentials, Jane approving only the harbour photo; returns
/// (grant id, access token, its secret).
async fn access_to_the_harbour(server: &Server, store: &EventStore) -> (GrantId, String, String) {
    let client = Signer::new(KEY, SECRET, SignatureMethod::HmacSha1);
    let initiate = server.url("/oauth/initiate");
    let reply = post(&initiate, Some(&header(&client, "POST", &initiate, &[("oauth_callback", "oob")], "n-1")), "");
    assert_eq!(reply.status, 200, "{reply:?}");
    let (token, token_secret) = (reply.param("oauth_token").unwrap(), reply.param("oauth_token_secret").unwrap());

    let jane = OwnerId::new(profiles::find_owner_by_username(store.reader(), "jane").await.unwrap().unwrap().owner_id);
    let id = grant_by_token(store.reader(), &token).await.unwrap().unwrap().grant_id;
    let acting = Actor::Owner(jane.uuid());
    grant(store, id, authenticate(jane, Utc::now()), Utc::now(), acting).await.unwrap();
    let approval = Approve {
        owner_id: jane,
        scope: Scope::parse("photos:read").unwrap(),
        resources: vec![ResourceId::parse("islay-harbour").unwrap()],
        owners_resources: vec![ResourceId::parse("islay-harbour").unwrap()],
        duration: AccessDuration::OneHour,
        remembered: false,
        method: ConsentMethod::ConsentPage,
        consent_text: ConsentText::shown("v1", "Beppa Prints asks to read your photos.").unwrap(),
        verifier_fingerprint: Fingerprint::of("the-verifier"),
        now: Utc::now(),
    };
    grant(store, id, approval.into(), Utc::now(), acting).await.unwrap();

    let exchange = server.url("/oauth/token");
    let signer = client.with_token(token.as_str(), token_secret.as_str());
    let reply =
        post(&exchange, Some(&header(&signer, "POST", &exchange, &[("oauth_verifier", "the-verifier")], "n-2")), "");
    assert_eq!(reply.status, 200, "{reply:?}");
    (id, reply.param("oauth_token").unwrap(), reply.param("oauth_token_secret").unwrap())
}

fn problem(reply: &Reply) -> (u16, Option<String>) {
    (reply.status, reply.param("oauth_problem"))
}

async fn copies_of_one_request_sent_at_once_to_two_processes_are_answered_once(database: TestDatabase) {
    let first = Server::start_with(&database.url, &["--demo"]);
    let second = first.beside_at_the_same_address();
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let (_, access, access_secret) = access_to_the_harbour(&first, &store).await;
    let beppa = Signer::new(KEY, SECRET, SignatureMethod::HmacSha1).with_token(access.as_str(), access_secret.as_str());
    let list_url = first.url("/api/photos");
    let signed = header(&beppa, "GET", &list_url, &[], "sent-many-times");
    // Twelve copies on each process at once: whichever batch of nonces each lands in,
    // one is answered.
    let mut problems: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let copies: Vec<_> = (0..24)
            .map(|copy| {
                let url = if copy % 2 == 0 { list_url.clone() } else { second.url("/api/photos") };
                let signed = &signed;
                scope.spawn(move || problem(&get(&url, signed)))
            })
            .collect();
        copies.into_iter().map(|copy| copy.join().unwrap()).collect()
    });
    problems.sort();
    let replays = vec![(401, Some("nonce_used".to_owned())); 23];
    assert_eq!(problems, [vec![(200, None)], replays].concat());
}

async fn the_token_shows_exactly_the_chosen_photos_until_revoked(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let (grant_id, access, access_secret) = access_to_the_harbour(&server, &store).await;
    let beppa = Signer::new(KEY, SECRET, SignatureMethod::HmacSha1).with_token(access.as_str(), access_secret.as_str());

    let list_url = server.url("/api/photos");
    let listing = header(&beppa, "GET", &list_url, &[], "p-1");
    let listed = get(&list_url, &listing);
    assert_eq!(listed.status, 200, "{listed:?}");
    let photos: serde_json::Value = serde_json::from_str(&listed.body).unwrap();
    let ids: Vec<&str> = photos.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["islay-harbour"], "only what Jane chose");

    let harbour = server.url("/api/photos/islay-harbour");
    let image = get(&harbour, &header(&beppa, "GET", &harbour, &[], "p-2"));
    assert_eq!((image.status, image.content_type.as_deref()), (200, Some("image/png")));
    assert_eq!(image.bytes, include_bytes!("../../demo/islay-harbour.png"));
    let distillery = server.url("/api/photos/islay-distillery");
    assert_eq!(get(&distillery, &header(&beppa, "GET", &distillery, &[], "p-3")).status, 404, "not shared");

    let replay = get(&list_url, &listing);
    assert_eq!(problem(&replay), (401, Some("nonce_used".into())));
    let forged = Signer::new(KEY, SECRET, SignatureMethod::HmacSha1).with_token(access.as_str(), "guessed");
    assert_eq!(
        problem(&get(&list_url, &header(&forged, "GET", &list_url, &[], "p-4"))),
        (401, Some("signature_invalid".into()))
    );
    // The token and its secret in the hands of a client it was not issued to, or of an
    // unregistered one, open nothing.
    let (other_key, other_secret) = server.add_client("http://127.0.0.1:*");
    for (key, secret, refusal) in
        [(other_key.as_str(), other_secret.as_str(), "token_rejected"), ("nobody", "guess", "consumer_key_unknown")]
    {
        let holder =
            Signer::new(key, secret, SignatureMethod::HmacSha1).with_token(access.as_str(), access_secret.as_str());
        let nonce = format!("held-by-{key}");
        assert_eq!(
            problem(&get(&list_url, &header(&holder, "GET", &list_url, &[], &nonce))),
            (401, Some(refusal.into()))
        );
    }

    // Jane revokes: the very next request fails, in this process and the server's.
    let jane = OwnerId::new(profiles::find_owner_by_username(store.reader(), "jane").await.unwrap().unwrap().owner_id);
    let revoke = Revoke { by: Revoker::Owner(jane), reason: None, now: Utc::now() };
    grant(&store, grant_id, revoke.into(), Utc::now(), Actor::Owner(jane.uuid())).await.unwrap();
    let after = get(&list_url, &header(&beppa, "GET", &list_url, &[], "p-5"));
    assert_eq!(problem(&after), (401, Some("token_revoked".into())), "{after:?}");
}

async fn a_request_token_is_no_access_token(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    let client = Signer::new(KEY, SECRET, SignatureMethod::HmacSha1);
    let initiate = server.url("/oauth/initiate");
    let reply = post(&initiate, Some(&header(&client, "POST", &initiate, &[("oauth_callback", "oob")], "r-1")), "");
    let signer = client
        .with_token(reply.param("oauth_token").unwrap().as_str(), reply.param("oauth_token_secret").unwrap().as_str());
    let list_url = server.url("/api/photos");
    assert_eq!(
        problem(&get(&list_url, &header(&signer, "GET", &list_url, &[], "r-2"))),
        (401, Some("token_rejected".into()))
    );
    let unsigned = get(&list_url, "Basic amFuZTppc2xheQ==");
    assert_eq!(problem(&unsigned), (400, Some("parameter_absent".into())));
}

/// Asks `/oauth/verify` about a request signed for another resource server.
fn verdict(server: &Server, question: &serde_json::Value) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response = agent
        .post(server.url("/oauth/verify"))
        .header("Content-Type", "application/json")
        .send(question.to_string())
        .unwrap();
    let body = response.body_mut().read_to_string().unwrap();
    (response.status().as_u16(), serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

async fn other_resource_servers_can_ask_for_a_verdict(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let (grant_id, access, access_secret) = access_to_the_harbour(&server, &store).await;
    let beppa = Signer::new(KEY, SECRET, SignatureMethod::HmacSha1).with_token(access.as_str(), access_secret.as_str());
    let elsewhere = "https://prints.example/albums?page=2";
    let question = serde_json::json!({
        "method": "GET",
        "url": elsewhere,
        "headers": { "authorization": header(&beppa, "GET", elsewhere, &[], "v-1") },
    });
    let (status, answer) = verdict(&server, &question);
    assert_eq!(status, 200);
    let jane = profiles::find_owner_by_username(store.reader(), "jane").await.unwrap().unwrap().owner_id;
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["owner_id"], jane.to_string());
    assert_eq!(answer["client_key"], KEY);
    assert_eq!(answer["scope"], serde_json::json!(["photos:read"]));
    assert_eq!(answer["resources"], serde_json::json!(["islay-harbour"]));
    assert!(answer["expires_at"].as_str().is_some_and(|at| at.starts_with("20")), "{answer}");

    let (_, replayed) = verdict(&server, &question);
    assert_eq!((replayed["valid"].clone(), replayed["oauth_problem"].clone()), (false.into(), "nonce_used".into()));
    let tampered = serde_json::json!({ "method": "POST", "url": elsewhere, "headers": question["headers"] });
    assert_eq!(verdict(&server, &tampered).1["oauth_problem"], "signature_invalid");
    assert_eq!(verdict(&server, &serde_json::json!({ "url": elsewhere })).0, 400, "a malformed question");
    // PLAINTEXT, as safe as the channel it crossed: taken for an https resource server,
    // refused for a plain http one, whatever grantlog's own URL.
    let plaintext =
        Signer::new(KEY, SECRET, SignatureMethod::Plaintext).with_token(access.as_str(), access_secret.as_str());
    for (url, nonce, verdict_wanted) in
        [(elsewhere, "p-1", serde_json::json!(true)), ("http://prints.example/albums", "p-2", serde_json::json!(false))]
    {
        let question = serde_json::json!({
            "method": "GET",
            "url": url,
            "headers": { "authorization": header(&plaintext, "GET", url, &[], nonce) },
        });
        let answer = verdict(&server, &question).1;
        assert_eq!(answer["valid"], verdict_wanted, "{url}: {answer}");
        if verdict_wanted == false {
            assert_eq!(answer["oauth_problem"], "signature_method_rejected");
        }
    }

    let jane = OwnerId::new(jane);
    let revoke = Revoke { by: Revoker::Owner(jane), reason: None, now: Utc::now() };
    grant(&store, grant_id, revoke.into(), Utc::now(), Actor::Owner(jane.uuid())).await.unwrap();
    let question = serde_json::json!({
        "method": "GET",
        "url": elsewhere,
        "headers": { "Authorization": header(&beppa, "GET", elsewhere, &[], "v-2") },
    });
    assert_eq!(verdict(&server, &question).1["oauth_problem"], "token_revoked");
}

backend_tests!(
    copies_of_one_request_sent_at_once_to_two_processes_are_answered_once,
    the_token_shows_exactly_the_chosen_photos_until_revoked,
    a_request_token_is_no_access_token,
    other_resource_servers_can_ask_for_a_verdict,
);
