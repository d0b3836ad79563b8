//! `GET /metrics` on the real binary, SQLite and PostgreSQL: OpenMetrics text with
//! requests by route and status, their durations, the outcomes the traces name, and
//! the log's and read models' counts as every process sees them; no id or secret.

use std::io::{Read as _, Write as _};

use crate::support::browser::jane_gives_beppa_access;
use crate::support::{Server, post};

fn scrape(server: &Server) -> (String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut response = agent.get(server.url("/metrics")).call().unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers().get("content-type").unwrap().to_str().unwrap().to_owned();
    (content_type, response.body_mut().read_to_string().unwrap())
}

/// The value of the sample `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics_count_requests_outcomes_and_the_log(database: grantlog_store::testing::TestDatabase) {
    // Counters are per process: this test needs one to itself.
    let server = Server::process(&database.url, &["--demo"]);
    let second = server.beside();
    let (_jane, beppa, request, access) = jane_gives_beppa_access(&server, "r-1");
    assert_eq!(beppa.photos(&server, &access, "p-1").status, 200);
    // A forged request: refused.
    assert_eq!(post(&server.url("/oauth/initiate"), Some("OAuth oauth_consumer_key=\"nobody\""), "").status, 400);
    // Made-up methods (sent raw: HTTP clients refuse them) cannot grow the label set.
    for method in ["BREW", "WHEN"] {
        let address = server.base_url.trim_start_matches("http://");
        let mut connection = std::net::TcpStream::connect(address).unwrap();
        write!(connection, "{method} /healthz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        connection.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    }

    let (content_type, text) = scrape(&server);
    assert_eq!(content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(text.ends_with("# EOF\n"), "{text}");
    let count = |labels: &str| sample(&text, &format!("grantlog_http_requests_total{{{labels}}}"));
    assert_eq!(count(r#"method="POST",route="/oauth/token",status="200""#), Some(1.0), "{text}");
    assert_eq!(count(r#"method="GET",route="/api/photos",status="200""#), Some(1.0), "{text}");
    assert_eq!(count(r#"method="POST",route="/oauth/initiate",status="400""#), Some(1.0), "{text}");
    assert!(!text.contains("BREW") && !text.contains("WHEN"), "{text}");
    assert!(text.contains(r#"method="other""#), "{text}");
    let outcome = |what: &str| sample(&text, &format!("grantlog_oauth_outcomes_total{{outcome=\"{what}\"}}"));
    for (what, times) in
        [("token_credentials_issued", 1.0), ("access_granted", 1.0), ("approved", 1.0), ("refused", 1.0)]
    {
        assert_eq!(outcome(what), Some(times), "{what}: {text}");
    }
    let observed = r#"grantlog_http_request_duration_seconds_count{method="GET",route="/api/photos"}"#;
    assert_eq!(sample(&text, observed), Some(1.0), "{text}");

    // The database's figures are the same from any process.
    let (_, other) = scrape(&second);
    for text in [&text, &other] {
        assert_eq!(sample(text, "grantlog_clients"), Some(1.0), "{text}");
        assert_eq!(sample(text, r#"grantlog_grants{status="active"}"#), Some(1.0), "{text}");
        assert_eq!(sample(text, r#"grantlog_grants{status="revoked"}"#), Some(0.0), "{text}");
        assert!(sample(text, "grantlog_events_head_position").is_some_and(|head| head >= 6.0), "{text}");
    }
    assert_eq!(
        sample(&other, r#"grantlog_http_requests_total{method="POST",route="/oauth/token",status="200"}"#),
        None
    );

    // Only aggregates: no token, key, grant id or path with an id.
    for secret_or_id in [access.0.as_str(), access.1.as_str(), request.0.as_str(), "beppa-demo-key", "islay-harbour"] {
        assert!(!text.contains(secret_or_id), "{secret_or_id} in {text}");
    }
}

grantlog_store::backend_tests!(metrics_count_requests_outcomes_and_the_log);
