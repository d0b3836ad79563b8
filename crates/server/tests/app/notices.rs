//! Revocation notices, SQLite and PostgreSQL, to a receiver of the test's own on a
//! loopback port: Jane revokes and one signed notice arrives, its signature checked here
//! with HMAC-SHA256 apart from the server's code; a receiver that answers 500 twice gets
//! it again after the backoff, until it takes it; notices queued while the receiver is
//! down survive a SIGKILL of the server and arrive from the process started after it;
//! two processes deliver every notice, none lost.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Value, json};

use crate::support::browser::jane_gives_beppa_access;
use crate::support::{Server, call, eventually};

const ADMIN: &str = "admin-token-for-the-notices-0123456789abcd";
const BEPPA: &str = "/admin/clients/beppa-demo-key";

/// A notice as it arrived: its headers (names lowercased), body, and the status it was
/// answered with.
#[derive(Debug, Clone)]
struct Arrived {
    headers: Vec<(String, String)>,
    body: String,
    status: u16,
}

impl Arrived {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A client's notification endpoint: records every request, and answers each with the
/// next status of `script`, or 200 once it is used up (503 while `down`).
#[derive(Clone)]
struct Receiver {
    url: String,
    arrived: Arc<Mutex<Vec<Arrived>>>,
    script: Arc<Mutex<Vec<u16>>>,
    down: Arc<Mutex<bool>>,
}

impl Receiver {
    fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/notices", listener.local_addr().unwrap());
        let receiver =
            Self { url, arrived: Arc::default(), script: Arc::new(Mutex::new(script.to_vec())), down: Arc::default() };
        let serving = receiver.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serving.answer(stream);
            }
        });
        receiver
    }

    fn answer(&self, stream: std::net::TcpStream) {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.trim_end().split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok());
        let mut body = vec![0; length.unwrap_or(0)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = if *self.down.lock().unwrap() {
            503
        } else {
            let mut script = self.script.lock().unwrap();
            if script.is_empty() { 200 } else { script.remove(0) }
        };
        self.arrived.lock().unwrap().push(Arrived { headers, body: String::from_utf8(body).unwrap(), status });
        let mut stream = reader.into_inner();
        let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = stream.flush();
    }

    fn arrived(&self) -> Vec<Arrived> {
        self.arrived.lock().unwrap().clone()
    }

    fn set_down(&self, down: bool) {
        *self.down.lock().unwrap() = down;
    }
}

fn admin(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|body| body.to_string());
    let (status, _, answer) = call(method, &server.url(path), Some(ADMIN), body.as_deref());
    (status, answer)
}

/// Beppa's notices go to `receiver`; the key they are signed with.
fn notices_to(server: &Server, receiver: &Receiver) -> String {
    let (status, answer) = admin(server, "PATCH", BEPPA, Some(json!({ "notify_url": receiver.url })));
    assert_eq!(status, 200, "{answer}");
    answer["notify_secret"].as_str().expect("the notices' key, shown once").to_owned()
}

fn signature_holds(arrived: &Arrived, key: &str) -> bool {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{}.{}", arrived.header("grantlog-timestamp"), arrived.body).as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect();
    arrived.header("grantlog-signature") == format!("v1={expected}")
}

async fn grant_of(database: &TestDatabase, token: &str) -> String {
    let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
    grantlog_projection::tables::grant_by_token(store.reader(), token).await.unwrap().unwrap().grant_id.to_string()
}

async fn a_revocation_reaches_the_client_signed_and_again_until_it_is_taken(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo", "--admin-token", ADMIN]);
    let receiver = Receiver::start(&[500, 500]);
    let key = notices_to(&server, &receiver);
    let (_, again) = admin(&server, "PATCH", BEPPA, Some(json!({ "notify_url": receiver.url })));
    assert_eq!(again.get("notify_secret"), None, "the key is shown once");
    let (mut jane, _beppa, _, access) = jane_gives_beppa_access(&server, "n-1");
    let grant = grant_of(&database, &access.0).await;

    let page = format!("/account/grants/{grant}");
    let csrf = jane.csrf(&server, &page);
    let revoked = jane.submit(&server.url(&format!("{page}/revoke")), &[("csrf_token", &csrf)]);
    assert_eq!(revoked.status, 303);
    // Refused twice, it waits (listed as pending), then arrives the third time.
    let pending = eventually("a refused notice listed as pending", || {
        let (_, listed) = admin(&server, "GET", &format!("{BEPPA}/deliveries"), None);
        let notices = listed["notices"].as_array().unwrap().clone();
        notices.first().filter(|notice| notice["attempts"].as_u64() >= Some(1)).cloned()
    });
    assert_eq!((&pending["state"], &pending["last_error"]), (&json!("pending"), &json!("answered 500")), "{pending}");
    let arrived = eventually("the third attempt", || {
        let arrived = receiver.arrived();
        (arrived.len() >= 3).then_some(arrived)
    });
    assert_eq!(arrived.len(), 3, "taken the third time, then not sent again");
    let notice = arrived[2].json();
    assert_eq!(
        (&notice["event"], &notice["grant"], &notice["token"]),
        (&json!("grant.revoked"), &json!(grant), &json!(access.0))
    );
    assert!(notice["position"].as_u64().is_some() && notice["at"].as_str().is_some(), "{notice}");
    assert!(arrived.iter().all(|each| each.body == arrived[0].body), "the same notice each time");
    assert!(arrived.iter().all(|each| signature_holds(each, &key)), "signed with the client's key");
    assert!(!signature_holds(&arrived[2], "another-key"), "the check can fail");
    // Recorded as delivered once the receiver's answer is back, a moment after it arrived.
    eventually("nothing left to deliver", || {
        let (_, listed) = admin(&server, "GET", &format!("{BEPPA}/deliveries"), None);
        (listed["notices"] == json!([])).then_some(())
    });

    // An operator's revocation is announced too.
    let (_, _, _, second) = jane_gives_beppa_access(&server, "n-2");
    let second_grant = grant_of(&database, &second.0).await;
    let (status, _) =
        admin(&server, "POST", &format!("/admin/grants/{second_grant}/revoke"), Some(json!({"reason": "r"})));
    assert_eq!(status, 200);
    let last = eventually("the operator's revocation announced", || receiver.arrived().get(3).cloned());
    assert_eq!(last.json()["grant"], json!(second_grant));
    assert!(signature_holds(&last, &key));

    // Removed, the URL takes its key with it: set again, a new key is shown, and signs.
    let (status, removed) = admin(&server, "PATCH", BEPPA, Some(json!({ "notify_url": null })));
    assert_eq!((status, &removed["notify_url"], removed.get("notify_secret")), (200, &Value::Null, None));
    let new_key = notices_to(&server, &receiver);
    assert_ne!(new_key, key, "the old key is not shown again");
    let (_, _, _, third) = jane_gives_beppa_access(&server, "n-3");
    let third_grant = grant_of(&database, &third.0).await;
    admin(&server, "POST", &format!("/admin/grants/{third_grant}/revoke"), Some(json!({"reason": "r"})));
    let newest = eventually("the next notice", || receiver.arrived().get(4).cloned());
    assert!(signature_holds(&newest, &new_key) && !signature_holds(&newest, &key));
}

async fn notices_survive_a_killed_server_and_two_servers_lose_none(database: TestDatabase) {
    let receiver = Receiver::start(&[]);
    receiver.set_down(true);
    let first = Server::process(&database.url, &["--demo", "--admin-token", ADMIN]);
    notices_to(&first, &receiver);
    let mut expected = BTreeSet::new();
    for n in 0..3 {
        let (_, _, _, access) = jane_gives_beppa_access(&first, &format!("k-{n}"));
        let grant = grant_of(&database, &access.0).await;
        assert_eq!(
            admin(&first, "POST", &format!("/admin/grants/{grant}/revoke"), Some(json!({"reason": "r"}))).0,
            200
        );
        expected.insert(grant);
    }
    eventually("three notices queued and tried", || {
        let (_, listed) = admin(&first, "GET", &format!("{BEPPA}/deliveries"), None);
        (listed["notices"].as_array().unwrap().len() == 3 && !receiver.arrived().is_empty()).then_some(())
    });
    // Killed (SIGKILL) with all three undelivered; its key file kept for the next one.
    let key_copy = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::copy(first.key_file(), &key_copy).unwrap();
    drop(first);

    receiver.set_down(false);
    let second = Server::process_with_key(&database.url, &["--demo", "--admin-token", ADMIN], key_copy);
    let third = second.beside();
    for n in 3..5 {
        let (_, _, _, access) = jane_gives_beppa_access(&third, &format!("k-{n}"));
        let grant = grant_of(&database, &access.0).await;
        assert_eq!(
            admin(&second, "POST", &format!("/admin/grants/{grant}/revoke"), Some(json!({"reason": "r"}))).0,
            200
        );
        expected.insert(grant);
    }
    let delivered = eventually("every notice delivered", || {
        let (_, listed) = admin(&second, "GET", &format!("{BEPPA}/deliveries"), None);
        let taken: BTreeSet<String> = receiver
            .arrived()
            .iter()
            .filter(|arrived| arrived.status == 200)
            .map(|arrived| arrived.json()["grant"].as_str().unwrap().to_owned())
            .collect();
        (listed["notices"] == json!([]) && taken == expected).then_some(taken)
    });
    assert_eq!(delivered.len(), 5, "none lost");
    // One client hears in log order: each notice taken is at or after the one before.
    let taken: Vec<u64> = receiver
        .arrived()
        .iter()
        .filter(|arrived| arrived.status == 200)
        .map(|arrived| arrived.json()["position"].as_u64().unwrap())
        .collect();
    assert!(taken.windows(2).all(|pair| pair[0] <= pair[1]), "in log order: {taken:?}");
}

backend_tests!(
    a_revocation_reaches_the_client_signed_and_again_until_it_is_taken,
    notices_survive_a_killed_server_and_two_servers_lose_none
);
