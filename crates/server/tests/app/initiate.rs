//! `POST /oauth/initiate` served over HTTP, SQLite and PostgreSQL: temporary
//! credentials for a well-signed request, and each refusal with its status and
//! `oauth_problem`, none of which writes anything.

use crate::support::{Server, post, post_with};
use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};
use grantlog_projection::tables::{Tables, grant_by_token};
use grantlog_server::services::oauth::{Checks, prune_nonces};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};

const CALLBACK: &str = "http://127.0.0.1:9/ready";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// An Authorization header for `POST {url}` with `extra` protocol parameters.
fn signed(url: &str, key: &str, secret: &str, extra: &[(&str, &str)], nonce: &str, timestamp: u64) -> String {
    let unsigned = Unsigned { method: "POST", url, body: &[], extra, nonce, timestamp };
    Signer::new(key, secret, SignatureMethod::HmacSha1).authorization_header(&unsigned, Some("grantlog")).unwrap()
}

async fn a_signed_request_gets_temporary_credentials(database: TestDatabase) {
    let server = Server::start(&database.url);
    let (key, secret) = server.add_client("http://127.0.0.1:*");
    let url = server.url("/oauth/initiate");
    let authorization = signed(&url, &key, &secret, &[("oauth_callback", CALLBACK)], "n-1", now());
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let reply = post_with(&url, &[("Authorization", &authorization), ("traceparent", traceparent)], "");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    let names: Vec<String> = reply.form().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["oauth_token", "oauth_token_secret", "oauth_callback_confirmed"]);
    assert_eq!(reply.param("oauth_callback_confirmed").as_deref(), Some("true"));
    let token = reply.param("oauth_token").unwrap();
    let token_secret = reply.param("oauth_token_secret").unwrap();

    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let grant = grant_by_token(store.reader(), &token).await.unwrap().expect("a pending grant");
    assert_eq!(
        (grant.status.as_str(), grant.callback.as_str(), grant.requested_scope.to_string().as_str()),
        ("pending", CALLBACK, "photos:read")
    );
    let log =
        serde_json::to_string(&store.read_from(0, 10).await.unwrap().iter().map(|e| &e.payload).collect::<Vec<_>>())
            .unwrap();
    assert!(!log.contains(&token_secret) && !log.contains(&secret), "no secret in the log");
    assert!(store.verify_chain(None).await.unwrap().is_ok());
    let issued = store.read_from(1, 1).await.unwrap().remove(0);
    assert_eq!(issued.event_type, "grant.temporary_credentials_issued");
    assert_eq!(issued.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"), "the caller's trace");

    // A form body carries the parameters just as well (RFC 5849 section 3.5.2).
    let form_params: Vec<(String, String)> = Signer::new(key.as_str(), secret.as_str(), SignatureMethod::HmacSha1)
        .protocol_params(&Unsigned {
            method: "POST",
            url: &url,
            body: &[],
            extra: &[("oauth_callback", "oob")],
            nonce: "n-2",
            timestamp: now(),
        })
        .unwrap();
    let body = form_params
        .iter()
        .map(|(n, v)| {
            format!("{}={}", grantlog_oauth1::encoding::percent_encode(n), grantlog_oauth1::encoding::percent_encode(v))
        })
        .collect::<Vec<_>>()
        .join("&");
    let reply = post(&url, None, &body);
    assert_eq!(reply.status, 200, "{reply:?}");
}

async fn every_refusal_names_its_problem_and_writes_nothing(database: TestDatabase) {
    let server = Server::start(&database.url);
    let (key, secret) = server.add_client("http://127.0.0.1:*");
    let url = server.url("/oauth/initiate");
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let head = store.head().await.unwrap();
    let callback = [("oauth_callback", CALLBACK)];
    let good = |nonce: &str| signed(&url, &key, &secret, &callback, nonce, now());

    let cases: Vec<(&str, Option<String>, String, u16, &str)> = vec![
        (
            "unknown client",
            Some(signed(&url, "nobody", &secret, &callback, "a", now())),
            String::new(),
            401,
            "consumer_key_unknown",
        ),
        (
            "bad signature",
            Some(signed(&url, &key, "wrong", &callback, "b", now())),
            String::new(),
            401,
            "signature_invalid",
        ),
        (
            "stale timestamp",
            Some(signed(&url, &key, &secret, &callback, "c", now() - 3_600)),
            String::new(),
            401,
            "timestamp_refused",
        ),
        (
            "unsupported method",
            Some(good("d").replace("HMAC-SHA1", "HMAC-MD5")),
            String::new(),
            400,
            "signature_method_rejected",
        ),
        (
            "malformed header",
            Some(good("e").replace("oauth_nonce=\"e\"", "oauth_nonce=e")),
            String::new(),
            400,
            "parameter_rejected",
        ),
        (
            "missing parameters",
            Some("OAuth oauth_consumer_key=\"k\"".to_owned()),
            String::new(),
            400,
            "parameter_absent",
        ),
        ("no callback", Some(signed(&url, &key, &secret, &[], "f", now())), String::new(), 400, "parameter_absent"),
        (
            "unregistered callback",
            Some(signed(&url, &key, &secret, &[("oauth_callback", "http://evil.example/cb")], "g", now())),
            String::new(),
            400,
            "parameter_rejected",
        ),
        (
            "version 2.0",
            Some(signed(&url, &key, &secret, &[("oauth_callback", CALLBACK), ("oauth_version", "2.0")], "h", now())),
            String::new(),
            400,
            "version_rejected",
        ),
        ("sent twice", Some(good("i")), "oauth_nonce=i".to_owned(), 400, "parameter_rejected"),
    ];
    for (what, authorization, body, status, problem) in cases {
        let reply = post(&url, authorization.as_deref(), &body);
        assert_eq!(
            (reply.status, reply.param("oauth_problem").as_deref()),
            (status, Some(problem)),
            "{what}: {reply:?}"
        );
        if status == 401 {
            let challenge = reply.www_authenticate.as_deref().unwrap_or_default();
            assert_eq!(challenge, format!("OAuth realm=\"grantlog\", oauth_problem=\"{problem}\""), "{what}");
        }
    }
    let stale = post(&url, Some(&signed(&url, &key, &secret, &callback, "j", now() - 3_600)), "");
    let window = stale.param("oauth_acceptable_timestamps").expect("the acceptable range");
    let (earliest, latest) = window.split_once('-').unwrap();
    assert!(earliest.parse::<u64>().unwrap() <= now() && now() <= latest.parse::<u64>().unwrap(), "{window}");

    let oversize = post(&url, Some(&good("k")), &"x=1&".repeat(20_000));
    assert_eq!(oversize.status, 413, "bodies are capped");
    assert_eq!(store.head().await.unwrap(), head, "no refusal wrote an event");

    // The same request twice: the second is a replay.
    let once = good("replayed");
    assert_eq!(post(&url, Some(&once), "").status, 200);
    let replay = post(&url, Some(&once), "");
    assert_eq!((replay.status, replay.param("oauth_problem").as_deref()), (401, Some("nonce_used")), "{replay:?}");
    assert_eq!(Tables::read(store.reader()).await.unwrap().grants.len(), 1, "one grant, from the first");
}

async fn nonces_are_forgotten_once_their_timestamps_leave_the_window(database: TestDatabase) {
    let server = Server::start(&database.url);
    let (key, secret) = server.add_client("http://127.0.0.1:*");
    let url = server.url("/oauth/initiate");
    for nonce in ["p-1", "p-2"] {
        let reply = post(&url, Some(&signed(&url, &key, &secret, &[("oauth_callback", CALLBACK)], nonce, now())), "");
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let checks = Checks::default();
    assert_eq!(prune_nonces(&store, chrono::Utc::now(), checks).await.unwrap(), 0, "fresh nonces stay");
    let later = chrono::Utc::now() + chrono::TimeDelta::seconds(301);
    assert_eq!(prune_nonces(&store, later, checks).await.unwrap(), 2, "stale ones go");
}

/// PLAINTEXT's signature is the secrets themselves (RFC 5849 section 3.4.4): over plain
/// HTTP anyone on the path could read and replay them, so it is taken only where the
/// public URL is https, and a nonce sent with it is checked like any other.
async fn plaintext_is_taken_only_over_tls_and_its_nonce_is_checked(database: TestDatabase) {
    let plaintext = |key: &str, secret: &str, timestamp_and_nonce: Option<(u64, &str)>| {
        let mut header = format!(
            r#"OAuth oauth_consumer_key="{key}", oauth_signature_method="PLAINTEXT", oauth_signature="{secret}%26", oauth_callback="oob""#
        );
        if let Some((timestamp, nonce)) = timestamp_and_nonce {
            header.push_str(&format!(r#", oauth_timestamp="{timestamp}", oauth_nonce="{nonce}""#));
        }
        header
    };
    let over_http = Server::start(&database.url);
    let (key, secret) = over_http.add_client("http://127.0.0.1:*");
    let url = over_http.url("/oauth/initiate");
    for header in [plaintext(&key, &secret, None), plaintext(&key, &secret, Some((now(), "pt-1")))] {
        let reply = post(&url, Some(&header), "");
        assert_eq!((reply.status, reply.param("oauth_problem").as_deref()), (400, Some("signature_method_rejected")));
    }
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    assert_eq!(store.head().await.unwrap().position, 1, "only the client's registration");
    let over_tls = over_http.beside_with(&["--public-url", "https://faji.example"]);
    let url = over_tls.url("/oauth/initiate");
    let with_nonce = plaintext(&key, &secret, Some((now(), "pt-2")));
    assert_eq!(post(&url, Some(&with_nonce), "").status, 200);
    let replayed = post(&url, Some(&with_nonce), "");
    assert_eq!((replayed.status, replayed.param("oauth_problem").as_deref()), (401, Some("nonce_used")));
    let stale = post(&url, Some(&plaintext(&key, &secret, Some((now() - 3600, "pt-3")))), "");
    assert_eq!((stale.status, stale.param("oauth_problem").as_deref()), (401, Some("timestamp_refused")));
    let wrong = post(&url, Some(&plaintext(&key, "not-the-secret", None)), "");
    assert_eq!((wrong.status, wrong.param("oauth_problem").as_deref()), (401, Some("signature_invalid")));
    assert_eq!(post(&url, Some(&plaintext(&key, &secret, None)), "").status, 200, "RFC 5849 lets it omit both");
}

async fn a_client_asks_for_temporary_credentials_at_most_so_often(database: TestDatabase) {
    let first = Server::start_with(&database.url, &["--initiate-limit", "5"]);
    let second = first.beside_with(&["--initiate-limit", "5"]);
    let (key, secret) = first.add_client("http://127.0.0.1:*");
    let (other_key, other_secret) = first.add_client("http://127.0.0.1:*");
    let ask = |server: &Server, key: &str, secret: &str, nonce: &str| {
        let url = server.url("/oauth/initiate");
        post(&url, Some(&signed(&url, key, secret, &[("oauth_callback", CALLBACK)], nonce, now())), "")
    };
    // Forged requests in its name spend none of its allowance.
    for n in 0..10 {
        assert_eq!(ask(&first, &key, "not-its-secret", &format!("f-{n}")).status, 401);
    }
    // Sent at once, spread over two processes: five get credentials, the rest wait.
    let replies: Vec<crate::support::Reply> = std::thread::scope(|scope| {
        let asks: Vec<_> = (0..12)
            .map(|n| {
                let (server, key, secret) = (if n % 2 == 0 { &first } else { &second }, &key, &secret);
                scope.spawn(move || ask(server, key, secret, &format!("burst-{n}")))
            })
            .collect();
        asks.into_iter().map(|asked| asked.join().unwrap()).collect()
    });
    let issued = replies.iter().filter(|reply| reply.status == 200).count();
    assert_eq!(issued, 5, "{:?}", replies.iter().map(|reply| reply.status).collect::<Vec<_>>());
    for refused in replies.iter().filter(|reply| reply.status != 200) {
        assert_eq!(refused.status, 429, "{refused:?}");
        let wait: i64 = refused.retry_after.as_deref().expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&wait), "Retry-After: {wait}");
        assert!(refused.body.starts_with("too many temporary credentials asked for"), "{}", refused.body);
    }
    assert_eq!(ask(&second, &other_key, &other_secret, "other-1").status, 200, "another client is not held up");
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let tables = Tables::read(store.reader()).await.unwrap();
    assert_eq!(tables.grants.len(), 6, "nothing recorded for a refused request");
}

backend_tests!(
    a_client_asks_for_temporary_credentials_at_most_so_often,
    a_signed_request_gets_temporary_credentials,
    plaintext_is_taken_only_over_tls_and_its_nonce_is_checked,
    every_refusal_names_its_problem_and_writes_nothing,
    nonces_are_forgotten_once_their_timestamps_leave_the_window,
);
