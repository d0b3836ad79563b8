//! A fuzz campaign of the HTTP edge, in process, on SQLite and PostgreSQL: thousands of
//! whole requests made by proptest — every route, any method, random and mutated
//! `Authorization` headers (OAuth and Bearer), queries, cookies, forwarding headers and
//! bodies, with stray percent-encodings, NUL bytes and oversize parts — sent as raw
//! HTTP/1.1 to a server on the demo's data. Whatever comes in: never a 5xx, never a
//! dropped connection (a panic), every refusal a 4xx that says why, and the log still
//! verifies afterwards. `GRANTLOG_FUZZ_CASES` sets the number of cases (default 1,500
//! per database).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};

use crate::support::Server;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const ADMIN: &str = "admin-token-for-the-fuzz-0123456789abcdef";
const AUDITOR: &str = "auditor-token-for-the-fuzz-0123456789abcd";

/// Every route with its method, made-up ids where they take one, and a path of none.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/oauth/initiate"),
    ("POST", "/oauth/token"),
    ("POST", "/oauth/verify"),
    ("POST", "/oauth/revoke"),
    ("GET", "/oauth/token_info"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/authorize"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/account/grants"),
    ("GET", "/account/grants/{id}"),
    ("POST", "/account/grants/{id}/revoke"),
    ("POST", "/account/clients/{id}/revoke"),
    ("POST", "/account/clients/{id}/forget"),
    ("POST", "/admin/clients"),
    ("GET", "/admin/clients"),
    ("GET", "/admin/clients/{id}"),
    ("PATCH", "/admin/clients/{id}"),
    ("POST", "/admin/clients/{id}/rotate-secret"),
    ("POST", "/admin/clients/{id}/suspend"),
    ("POST", "/admin/clients/{id}/resume"),
    ("GET", "/admin/clients/{id}/deliveries"),
    ("POST", "/admin/grants/{id}/revoke"),
    ("POST", "/admin/owners/erase"),
    ("GET", "/audit/events"),
    ("GET", "/audit/verify"),
    ("GET", "/audit/replay"),
    ("GET", "/audit/checkpoint"),
    ("GET", "/audit/proof/inclusion"),
    ("GET", "/audit/proof/consistency"),
    ("GET", "/audit/receipts/{id}"),
    ("GET", "/account/grants/{id}/receipt"),
    ("GET", "/static/grantlog.css"),
    ("GET", "/api/photos"),
    ("GET", "/api/photos/{id}"),
    ("GET", "/no/such/page"),
];

/// The login form's CSRF pair the fuzzer knows, so that posts to `/login` get past it.
const LOGIN_CSRF: &str = "fuzz-login-csrf";

/// Text with what breaks parsers: percent signs, escapes of NUL and of invalid UTF-8,
/// quotes, commas, equals signs, spaces, non-ASCII.
fn nasty(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9_.~-]{1,8}",
        Just("%".to_owned()),
        Just("%00".to_owned()),
        Just("%ff%fe".to_owned()),
        Just("%2".to_owned()),
        Just("%C3%A9".to_owned()),
        Just("\"".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just("&".to_owned()),
        Just(" ".to_owned()),
        Just("é".to_owned()),
        Just("oauth_".to_owned()),
        Just("beppa-demo-key".to_owned()),
        Just("\u{0}".to_owned()),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|pieces| pieces.concat())
}

/// A parameter name: the protocol's own, the forms', or made up.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "oauth_consumer_key",
            "oauth_token",
            "oauth_signature_method",
            "oauth_signature",
            "oauth_timestamp",
            "oauth_nonce",
            "oauth_version",
            "oauth_callback",
            "oauth_verifier",
            "realm",
            "csrf_token",
            "username",
            "password",
            "decision",
            "photos",
            "expires",
            "remember",
            "next",
            "as_of",
            "position",
            "after",
            "limit",
            "owner",
            "expect_head",
        ])
        .prop_map(str::to_owned),
        1 => nasty(3),
    ]
}

/// A parameter value: made up, or one that gets somewhere with the demo's data.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => nasty(6),
        1 => prop::sample::select(vec![
            "beppa-demo-key",
            "HMAC-SHA1",
            "PLAINTEXT",
            "RSA-SHA1",
            "beppa-demo-secret%26",
            "1.0",
            "oob",
            "jane",
            "approve",
            "never",
            "2026-11-25T18:30:00Z",
            "9223372036854775808",
            "-1",
            LOGIN_CSRF,
            "%00",
            "a%00b",
        ])
        .prop_map(str::to_owned),
        1 => any::<u64>().prop_map(|n| n.to_string()),
    ]
}

fn pairs(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec((name(), value()), 0..max)
        .prop_map(|pairs| pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&"))
}

/// A header with every protocol parameter a request needs, well formed but for one
/// mangled value, so that refusals come from deep in the checks (the client and token
/// look-ups, the signature, the nonce ledger) rather than from the parser.
fn complete_oauth_header() -> impl Strategy<Value = String> {
    let method = prop::sample::select(vec!["HMAC-SHA1", "HMAC-SHA256", "PLAINTEXT", "RSA-SHA1"]);
    let mangled = prop_oneof![nasty(4), Just("a%00".to_owned()), Just("%00".to_owned()), Just("%0A".to_owned())];
    (
        method,
        "[a-zA-Z0-9]{1,12}",
        prop::option::of("[a-zA-Z0-9_-]{1,22}"),
        prop::option::of(prop::sample::select(vec!["oob", "http://127.0.0.1:9/cb"])),
        prop::option::of("[a-zA-Z0-9_-]{1,22}"),
        0usize..8,
        mangled,
        -400i64..400,
    )
        .prop_map(|(method, nonce, token, callback, verifier, which, mangled, skew)| {
            let timestamp = (now() + if skew.abs() < 200 { 0 } else { skew }).to_string();
            let mut params: Vec<(&str, String)> = vec![
                ("oauth_consumer_key", "beppa-demo-key".to_owned()),
                ("oauth_signature_method", method.to_owned()),
                ("oauth_signature", "beppa-demo-secret%26".to_owned()),
                ("oauth_timestamp", timestamp),
                ("oauth_nonce", nonce),
            ];
            for (name, value) in
                [("oauth_token", token), ("oauth_callback", callback.map(str::to_owned)), ("oauth_verifier", verifier)]
            {
                params.extend(value.map(|value| (name, value)));
            }
            let which = which % params.len();
            params[which].1 = mangled;
            let params: Vec<String> = params.into_iter().map(|(name, value)| format!("{name}=\"{value}\"")).collect();
            format!("OAuth {}", params.join(", "))
        })
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs() as i64)
}

fn oauth_header() -> impl Strategy<Value = String> {
    let quoted = any::<bool>();
    (prop::collection::vec((name(), value(), quoted), 0..12), any::<bool>()).prop_map(|(params, scheme)| {
        let params: Vec<String> = params
            .into_iter()
            .map(|(name, value, quoted)| if quoted { format!("{name}=\"{value}\"") } else { format!("{name}={value}") })
            .collect();
        format!("{} {}", if scheme { "OAuth" } else { "oauth" }, params.join(", "))
    })
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Any request, or a login form that gets past its CSRF check with a made-up name and
/// password (the only way random requests reach the login's own checks).
fn request() -> impl Strategy<Value = Request> {
    prop_oneof![8 => any_request(), 1 => login_request()]
}

fn login_request() -> impl Strategy<Value = Request> {
    (prop_oneof![value(), nasty(20), "[a-z]{60,70}"], value()).prop_map(|(username, password)| Request {
        body: format!("csrf_token={LOGIN_CSRF}&username={username}&password={password}").into_bytes(),
        ..login_request_for("")
    })
}

/// A login form past its CSRF check, for `username` (already form-encoded).
fn login_request_for(username: &str) -> Request {
    Request {
        method: "POST".to_owned(),
        target: "/login".to_owned(),
        headers: vec![
            ("Cookie".to_owned(), format!("grantlog_login_csrf={LOGIN_CSRF}")),
            ("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
        ],
        body: format!("csrf_token={LOGIN_CSRF}&username={username}&password=guess").into_bytes(),
    }
}

fn any_request() -> impl Strategy<Value = Request> {
    let other_method = prop_oneof![
        Just("PUT".to_owned()),
        Just("DELETE".to_owned()),
        Just("PATCH".to_owned()),
        Just("HEAD".to_owned()),
        Just("OPTIONS".to_owned()),
        "[A-Z]{1,10}",
    ];
    let route = (prop::sample::select(ROUTES), prop::option::weighted(0.15, other_method), nasty(4)).prop_map(
        |((method, path), other_method, id)| {
            let id = as_in_a_target(&id).replace(['/', '?'], "x");
            let path = path.replace("{id}", if id.is_empty() { "x" } else { &id });
            (other_method.unwrap_or_else(|| method.to_owned()), path)
        },
    );
    let query = prop::option::of(prop_oneof![nasty(10), pairs(8)].prop_map(|query| as_in_a_target(&query)));
    let authorization = prop_oneof![
        2 => Just(None),
        3 => oauth_header().prop_map(Some),
        3 => complete_oauth_header().prop_map(Some),
        1 => Just(Some(format!("Bearer {ADMIN}"))),
        1 => Just(Some(format!("Bearer {AUDITOR}"))),
        1 => nasty(8).prop_map(|text| Some(format!("Bearer {text}"))),
    ];
    let content_type = prop::option::of(prop_oneof![
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("application/x-www-form-urlencoded; charset=utf-8".to_owned()),
        Just("application/json".to_owned()),
        Just("text/plain".to_owned()),
        "[a-z/;=-]{0,20}",
    ]);
    let cookie = prop::option::of(prop_oneof![
        nasty(6).prop_map(|v| format!("grantlog_session={v}")),
        nasty(6).prop_map(|v| format!("grantlog_login_csrf={v}")),
        Just(format!("grantlog_login_csrf={LOGIN_CSRF}")),
        "[a-z=; ]{0,30}",
    ]);
    let forwarded = prop::option::of(prop_oneof![
        Just("203.0.113.9".to_owned()),
        Just("unknown, [::1]:80".to_owned()),
        "[0-9.:, a-z]{0,30}",
    ]);
    let body = prop_oneof![
        3 => nasty(40).prop_map(String::into_bytes),
        3 => pairs(20).prop_map(String::into_bytes),
        1 => Just(br#"{"name":"X","callback_urls":["oob"]}"#.to_vec()),
        1 => Just(br#"{"method":"GET","url":"http://127.0.0.1/api/photos","headers":{}}"#.to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(vec![b'a'; 70 * 1024]),
    ];
    (route, query, authorization, content_type, cookie, forwarded, body).prop_map(
        |((method, path), query, authorization, content_type, cookie, forwarded, body)| {
            let target = match query {
                Some(query) => format!("{path}?{query}"),
                None => path,
            };
            let headers = [
                ("Authorization", authorization),
                ("Content-Type", content_type),
                ("Cookie", cookie),
                ("X-Forwarded-For", forwarded),
            ]
            .into_iter()
            .filter_map(|(name, value)| value.map(|value| (name.to_owned(), value)))
            .collect();
            Request { method, target, headers, body }
        },
    )
}

/// `text` as a client puts it in a request line: bytes outside visible ASCII (and the
/// quote) percent-encoded, since a raw one is refused by the HTTP parser before any of
/// our code runs.
fn as_in_a_target(text: &str) -> String {
    text.bytes()
        .map(
            |b| {
                if b.is_ascii_graphic() && b != b'"' && b != b'#' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            },
        )
        .collect()
}

/// NUL bytes where each kind of look-up takes its key: PostgreSQL refuses them in text.
fn known_nasty_requests() -> Vec<Request> {
    let get = |target: &str, headers: &[(&str, &str)]| Request {
        method: "GET".to_owned(),
        target: target.to_owned(),
        headers: headers.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect(),
        body: Vec::new(),
    };
    let auditor = format!("Bearer {AUDITOR}");
    let oauth = |key: &str, token: &str| {
        format!(
            "OAuth oauth_consumer_key=\"{key}\", oauth_token=\"{token}\", oauth_signature_method=\"HMAC-SHA1\", \
             oauth_signature=\"x\", oauth_timestamp=\"{}\", oauth_nonce=\"n\"",
            now()
        )
    };
    vec![
        get("/oauth/authorize?oauth_token=%00", &[]),
        get("/oauth/authorize?oauth_token=a%00b", &[("Cookie", "grantlog_session=%00")]),
        get("/audit/replay?owner=%00&position=0", &[("Authorization", &auditor)]),
        get("/api/photos", &[("Authorization", &oauth("a%00", "t"))]),
        get("/api/photos", &[("Authorization", &oauth("beppa-demo-key", "%00"))]),
        login_request_for("ja%00ne"),
        login_request_for(&"j".repeat(65)),
    ]
}

/// What the server answered: status and body.
fn send(address: SocketAddr, request: &Request) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head =
        format!("{} {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n", request.method, request.target)
            .into_bytes();
    for (name, value) in &request.headers {
        // Header values travel as bytes; a NUL or line break would end the header
        // early, which is the HTTP parser's business, not ours.
        let value: Vec<u8> = value.bytes().map(|b| if b < 0x20 { b'?' } else { b }).collect();
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(&value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(format!("Content-Length: {}\r\n\r\n", request.body.len()).as_bytes());
    stream.write_all(&head).map_err(|e| format!("write: {e}"))?;
    // A server that refuses early may close before reading an oversize body.
    let _ = stream.write_all(&request.body);
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no status line in {:?}", &text[..text.len().min(200)]))?;
    let body = match answer.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => answer[end + 4..].to_vec(),
        None => Vec::new(),
    };
    Ok((status, body))
}

fn cases() -> u32 {
    std::env::var("GRANTLOG_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(1_500)
}

async fn no_request_makes_the_server_fail(database: TestDatabase) {
    let server = Server::start_with(
        &database.url,
        &["--demo", "--admin-token", ADMIN, "--auditor-token", AUDITOR, "--trusted-proxy", "127.0.0.1"],
    );
    let address: SocketAddr = server.base_url.trim_start_matches("http://").parse().unwrap();

    let outcome = tokio::task::spawn_blocking(move || {
        // Found by hand or by earlier runs: each once, every run, before the random ones.
        for request in known_nasty_requests() {
            let (status, body) = send(address, &request).unwrap();
            assert!((400..500).contains(&status), "{status} for {request:?}: {}", String::from_utf8_lossy(&body));
            assert!(!body.is_empty(), "{status} without a reason for {request:?}");
        }
        let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
        runner.run(&request(), |request| {
            let (status, body) = send(address, &request).map_err(TestCaseError::fail)?;
            prop_assert!(status < 500, "{status} for {request:?}: {}", String::from_utf8_lossy(&body));
            if status >= 400 && request.method != "HEAD" {
                prop_assert!(!body.is_empty(), "{status} without a reason for {request:?}");
            }
            Ok(())
        })
    })
    .await
    .unwrap();
    drop(server);
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    assert!(store.verify_chain(None).await.unwrap().is_ok(), "the log still verifies");
}

backend_tests!(no_request_makes_the_server_fail);
