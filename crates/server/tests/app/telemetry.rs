//! OpenTelemetry on the real binary, SQLite and PostgreSQL: with
//! `GRANTLOG_OTLP_ENDPOINT` set, each request is one server span exported over
//! OTLP/HTTP, carrying its route, status and OAuth outcome and never a secret; its
//! trace id is the one the request's events record, and a caller's `traceparent`
//! makes it a child of the caller's span. The last spans reach the collector when the
//! server is stopped with SIGTERM.
//!
//! No OpenTelemetry Collector can be installed here, so the collector is a loopback
//! HTTP listener that keeps each export's body; the bodies are decoded with the OTLP
//! protobuf definitions (`opentelemetry-proto`), as a collector would.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

use crate::support::{Server, get, post_with};
use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};
use grantlog_projection::tables::grant_by_token;
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;

/// One export as the collector received it: request line and body.
type Export = (String, Vec<u8>);

/// Listens on a loopback port; answers every request 200 and hands over its body.
fn collector() -> (String, mpsc::Receiver<Export>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let sender = sender.clone();
            std::thread::spawn(move || receive(stream, &sender));
        }
    });
    (url, receiver)
}

/// Reads HTTP/1.1 requests off one connection (kept alive) until it closes.
fn receive(mut stream: TcpStream, exports: &mpsc::Sender<Export>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let Some((name, value)) = line.trim_end().split_once(':') else { break };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        exports.send((request_line.trim_end().to_owned(), body)).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    }
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn text(span: &Span, key: &str) -> Option<String> {
    match attribute(span, key)? {
        Value::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn each_request_is_one_exported_span_with_its_outcome(database: TestDatabase) {
    let (endpoint, exports) = collector();
    let mut server = Server::process_with_env(&database.url, &[], &[("GRANTLOG_OTLP_ENDPOINT", &endpoint)]);
    let (key, secret) = server.add_client("http://127.0.0.1:*");
    let url = server.url("/oauth/initiate");
    let sign = |secret: &str, nonce: &str| {
        let now = chrono::Utc::now().timestamp().try_into().unwrap();
        let unsigned = Unsigned {
            method: "POST",
            url: &url,
            body: &[],
            extra: &[("oauth_callback", "oob")],
            nonce,
            timestamp: now,
        };
        Signer::new(key.as_str(), secret, SignatureMethod::HmacSha1).authorization_header(&unsigned, None).unwrap()
    };

    let issued = post_with(&url, &[("Authorization", &sign(&secret, "n-1"))], "");
    assert_eq!(issued.status, 200, "{issued:?}");
    let (token, token_secret) = (issued.param("oauth_token").unwrap(), issued.param("oauth_token_secret").unwrap());
    let parent = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let traceparent = format!("00-{}-{}-01", parent.0, parent.1);
    let forged =
        post_with(&url, &[("Authorization", &sign("not-the-secret", "n-2")), ("traceparent", &traceparent)], "");
    assert_eq!(forged.status, 401);
    let query_secret = "oauth_signature=do-not-trace-me";
    let unsigned = get(&server.url(&format!("/api/photos?{query_secret}")), "OAuth oauth_consumer_key=\"x\"");
    assert_eq!(unsigned.status, 400, "{unsigned:?}");

    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    let grant = grant_by_token(store.reader(), &token).await.unwrap().unwrap();
    let event = store.read_stream(&format!("grant-{}", grant.grant_id)).await.unwrap().remove(0);
    store.close().await;
    assert!(server.terminate().success(), "SIGTERM is a clean stop");

    let received: Vec<Export> = exports.try_iter().collect();
    assert!(!received.is_empty(), "spans were exported before the process exited");
    let mut spans = Vec::new();
    for (request_line, body) in &received {
        assert_eq!(request_line, "POST /v1/traces HTTP/1.1");
        let export = ExportTraceServiceRequest::decode(body.as_slice()).expect("an OTLP trace export");
        for resource in export.resource_spans {
            let service = resource.resource.iter().flat_map(|r| &r.attributes).find(|kv| kv.key == "service.name");
            assert_eq!(
                service.and_then(|kv| kv.value.as_ref()?.value.clone()),
                Some(Value::StringValue("grantlog".into()))
            );
            spans.extend(resource.scope_spans.into_iter().flat_map(|scope| scope.spans));
        }
        for needle in [secret.as_bytes(), token_secret.as_bytes(), query_secret.as_bytes(), b"oauth_signature"] {
            assert!(!body.windows(needle.len()).any(|window| window == needle), "a secret was exported");
        }
    }
    let one = |route: &str, outcome: &str| {
        let found: Vec<&Span> = spans
            .iter()
            .filter(|span| text(span, "http.route").as_deref() == Some(route))
            .filter(|span| text(span, "oauth.outcome").as_deref() == Some(outcome))
            .collect();
        assert_eq!(found.len(), 1, "one {route} span with outcome {outcome} among {spans:#?}");
        found[0]
    };

    let issuing = one("/oauth/initiate", "temporary_credentials_issued");
    assert_eq!(issuing.name, "POST /oauth/initiate");
    assert_eq!(issuing.kind, SpanKind::Server as i32);
    assert_eq!(attribute(issuing, "http.response.status_code"), Some(&Value::IntValue(200)));
    assert_eq!(event.trace_id, Some(hex(&issuing.trace_id)), "the event records its request's trace");
    assert!(issuing.parent_span_id.is_empty(), "without a traceparent the request starts a trace");

    let refused = one("/oauth/initiate", "refused");
    assert_eq!(text(refused, "oauth.problem").as_deref(), Some("signature_invalid"));
    assert_eq!(attribute(refused, "http.response.status_code"), Some(&Value::IntValue(401)));
    assert_eq!((hex(&refused.trace_id), hex(&refused.parent_span_id)), (parent.0.into(), parent.1.into()));

    let unsigned = one("/api/photos", "refused");
    assert_eq!(text(unsigned, "url.path").as_deref(), Some("/api/photos"), "the path, not the query");
    assert_eq!(text(unsigned, "oauth.problem").as_deref(), Some("parameter_absent"));
}

backend_tests!(each_request_is_one_exported_span_with_its_outcome);
