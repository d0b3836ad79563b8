//! The OpenAPI document against the answers it describes, SQLite and PostgreSQL: every
//! operation of `GET /openapi.json` is called, for its success and its refusals, and
//! each real answer (status, content type, headers, body) is checked against the
//! document by openapi-core (`tests/clients/python/openapi_check.py`), which also
//! validates the document as OpenAPI 3.1, and fails on a field the document does not
//! name and on an operation no answer came from. The checker is shown to fail on each.

use std::path::Path;

use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};
use grantlog_store::backend_tests;
use grantlog_store::testing::TestDatabase;
use grantlog_tests::python_client_output;
use serde_json::{Value, json};

use crate::support::browser::{Client, jane_gives_beppa_access, now};
use crate::support::{Reply, Server, checkpoint_key, eventually, send, send_json};

const ADMIN: &str = "admin-token-for-the-openapi-0123456789abc";
const AUDITOR: &str = "auditor-token-for-the-openapi-0123456789a";
const BEPPA: &str = "/admin/clients/beppa-demo-key";

/// The answers received, as `openapi_check.py` reads them.
struct Answers<'a> {
    server: &'a Server,
    seen: Vec<Value>,
}

impl<'a> Answers<'a> {
    fn record(&mut self, method: &str, path: &str, reply: &Reply) {
        let mut headers = serde_json::Map::new();
        if let Some(challenge) = &reply.www_authenticate {
            headers.insert("WWW-Authenticate".into(), challenge.as_str().into());
        }
        self.seen.push(json!({
            "method": method,
            "url": self.server.url(path),
            "status": reply.status,
            "content_type": reply.content_type,
            "headers": headers,
            "body": reply.body,
        }));
    }

    /// `method path` with an optional bearer token and JSON body, answered as it is.
    fn fetch(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let reply = send_json(method, &self.server.url(path), token, &body);
        self.record(method, path, &reply);
        reply
    }

    /// [`Answers::fetch`]: the status and the body (JSON, or `null`).
    fn call(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let reply = self.fetch(method, path, token, body);
        (reply.status, serde_json::from_str(&reply.body).unwrap_or(Value::Null))
    }

    fn admin(&mut self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, Some(ADMIN), body)
    }

    fn auditor(&mut self, path: &str) -> (u16, Value) {
        self.call("GET", path, Some(AUDITOR), None)
    }
}

/// Runs the checker on `document` and `answers`: whether it passed, and what it said.
fn check(document: &Path, answers: &[Value]) -> (bool, String) {
    let document = document.to_str().expect("a UTF-8 temporary path");
    let output = python_client_output("openapi_check.py", &[document], &serde_json::to_vec(answers).unwrap());
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

/// Long because it calls each operation in turn, which reads best as one story.
async fn every_answer_is_as_the_openapi_document_says(database: TestDatabase) {
    let folder = tempfile::tempdir().unwrap();
    let (key_file, _) = checkpoint_key(folder.path(), "openapi.test/log");
    let server = Server::start_with(
        &database.url,
        &[
            "--demo",
            "--admin-token",
            ADMIN,
            "--auditor-token",
            AUDITOR,
            "--checkpoint-key-file",
            &key_file,
            "--checkpoint-every",
            "1",
        ],
    );
    let document = send("GET", &server.url("/openapi.json"), &[], "");
    assert_eq!((document.status, document.content_type.as_deref()), (200, Some("application/json")));
    let described: Value = serde_json::from_str(&document.body).unwrap();
    assert_eq!(described["openapi"], "3.1.0");
    let mut answers = Answers { server: &server, seen: Vec::new() };

    // A client asks about its own grant; a resource server asks about a request.
    let (_jane, beppa, _request, access) = jane_gives_beppa_access(&server, "o");
    let info = beppa.with_token(&server, "GET", "/oauth/token_info", &access, "o-info");
    assert_eq!(info.status, 200, "{info:?}");
    answers.record("GET", "/oauth/token_info", &info);
    let impostor = Client { secret: "not-beppas-secret".into(), ..Client::demo(&server) };
    let forged = impostor.with_token(&server, "GET", "/oauth/token_info", &access, "o-forged");
    assert_eq!(forged.status, 401, "{forged:?}");
    answers.record("GET", "/oauth/token_info", &forged);
    let elsewhere = "https://prints.example/albums";
    let signer = Signer::new("beppa-demo-key", "beppa-demo-secret", SignatureMethod::HmacSha1)
        .with_token(access.0.as_str(), access.1.as_str());
    let unsigned =
        Unsigned { method: "GET", url: elsewhere, body: &[], extra: &[], nonce: "o-verify", timestamp: now() };
    let authorization = signer.authorization_header(&unsigned, None).unwrap();
    let question = json!({ "method": "GET", "url": elsewhere, "headers": { "Authorization": authorization } });
    assert_eq!(answers.call("POST", "/oauth/verify", None, Some(question.clone())).1["valid"], true);
    assert_eq!(answers.call("POST", "/oauth/verify", None, Some(question)).1["oauth_problem"], "nonce_used");
    assert_eq!(answers.call("POST", "/oauth/verify", None, Some(json!({ "url": elsewhere }))).0, 400);

    // Operators: a new client through its life, Beppa's grant revoked, an owner erased.
    let shop = json!({ "name": "Print Shop", "callback_urls": ["https://shop.example/back"] });
    let (status, registered) = answers.admin("POST", "/admin/clients", Some(shop.clone()));
    assert_eq!(status, 201, "{registered}");
    let client = format!("/admin/clients/{}", registered["client_key"].as_str().unwrap());
    let malformed = json!({ "name": "Print Shop", "callback_urls": ["not a url"] });
    assert_eq!(answers.admin("POST", "/admin/clients", Some(malformed)).0, 400);
    assert_eq!(answers.call("POST", "/admin/clients", None, Some(shop)).0, 401);
    let oversize = json!({ "name": "x".repeat(70_000), "callback_urls": ["https://shop.example/back"] });
    assert_eq!(answers.admin("POST", "/admin/clients", Some(oversize)).0, 413);
    assert_eq!(answers.admin("GET", "/admin/clients?limit=1", None).0, 200);
    assert_eq!(answers.admin("GET", "/admin/clients?limit=0", None).0, 400);
    assert_eq!(answers.admin("GET", &client, None).0, 200);
    assert_eq!(answers.admin("GET", "/admin/clients/nobody", None).0, 404);
    assert_eq!(answers.admin("PATCH", &client, Some(json!({ "homepage": "https://shop.example/" }))).0, 200);
    assert_eq!(answers.admin("PATCH", &client, Some(json!({}))).0, 400);
    let unreachable = json!({ "notify_url": "http://127.0.0.1:9/notices" });
    let (status, updated) = answers.admin("PATCH", BEPPA, Some(unreachable));
    assert_eq!(status, 200);
    assert!(updated["notify_secret"].is_string(), "{updated}");
    let rotate = format!("{client}/rotate-secret");
    assert_eq!(answers.admin("POST", &rotate, Some(json!({ "grace_seconds": 60 }))).0, 200);
    assert_eq!(answers.admin("POST", &rotate, Some(json!({ "grace_seconds": 60 }))).0, 409);
    let (suspend, resume) = (format!("{client}/suspend"), format!("{client}/resume"));
    assert_eq!(answers.admin("POST", &suspend, Some(json!({ "reason": "spam" }))).0, 200);
    assert_eq!(answers.admin("POST", &suspend, Some(json!({ "reason": "spam" }))).0, 409);
    assert_eq!(answers.admin("POST", &resume, None).0, 200);
    assert_eq!(answers.admin("POST", &resume, None).0, 409);
    let (status, grants) = answers.auditor("/audit/replay?position=1000000&client=beppa-demo-key");
    assert_eq!(status, 400, "past the end: {grants}");
    let (_, verified) = answers.auditor("/audit/verify");
    let head = verified["head"].as_str().unwrap().split(':').next().unwrap().to_owned();
    let (status, grants) = answers.auditor(&format!("/audit/replay?position={head}&client=beppa-demo-key"));
    assert_eq!(status, 200);
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(answers.auditor(&format!("/audit/replay?as_of={at}&owner=jane")).0, 200);
    let grant = grants.as_array().unwrap().iter().find(|grant| grant["status"] == "active").expect("an active grant");
    let grant = grant["grant_id"].as_str().unwrap().to_owned();
    let revoke = format!("/admin/grants/{grant}/revoke");
    assert_eq!(answers.admin("POST", &revoke, Some(json!({ "reason": "a test" }))).0, 200);
    assert_eq!(answers.admin("POST", &revoke, Some(json!({ "reason": "a test" }))).0, 409);
    assert_eq!(answers.admin("POST", "/admin/grants/nothing/revoke", Some(json!({ "reason": "a" }))).0, 404);
    let (status, beppa) = answers.admin("GET", BEPPA, None);
    assert_eq!((status, &beppa["grants"]["revoked"]), (200, &json!(1)), "{beppa}");
    eventually("a failed attempt to tell Beppa", || {
        let (status, listed) = answers.admin("GET", &format!("{BEPPA}/deliveries"), None);
        (status == 200 && listed["notices"][0]["last_error"].is_string()).then_some(())
    });
    assert_eq!(answers.admin("GET", "/admin/clients/nobody/deliveries", None).0, 404);
    server.add_owner("faji", "faji-long-password");
    assert_eq!(answers.admin("POST", "/admin/owners/erase", Some(json!({ "username": "faji" }))).0, 200);
    assert_eq!(answers.admin("POST", "/admin/owners/erase", Some(json!({ "username": "faji" }))).0, 404);

    // Auditors.
    assert_eq!(answers.auditor("/audit/events?limit=3").0, 200);
    assert_eq!(answers.auditor("/audit/events?after=x").0, 400);
    assert_eq!(answers.call("GET", "/audit/events", None, None).0, 401);
    assert_eq!(answers.auditor("/audit/verify?expect_head=nonsense").0, 400);
    assert_eq!(answers.auditor("/audit/replay").0, 400);
    assert_eq!(answers.auditor("/audit/checkpoint?as_of=2000-01-01T00:00:00Z").0, 404);
    let (_, verified) = answers.auditor("/audit/verify");
    assert_eq!(verified["ok"], true, "{verified}");
    let head = verified["head"].as_str().unwrap().split(':').next().unwrap().to_owned();
    // A checkpoint's note: origin, tree size, root hash, a blank line, signatures.
    eventually("a checkpoint of the whole log", || {
        let checkpoint = answers.fetch("GET", "/audit/checkpoint", Some(AUDITOR), None);
        (checkpoint.status == 200 && checkpoint.body.lines().nth(1) == Some(head.as_str())).then_some(())
    });
    assert_eq!(answers.auditor(&format!("/audit/proof/inclusion?position={head}")).0, 200);
    assert_eq!(answers.auditor("/audit/checkpoint?as_of=x").0, 400);
    assert_eq!(answers.auditor("/audit/proof/inclusion?position=0").0, 400);
    assert_eq!(answers.auditor("/audit/proof/consistency?from=1&to=2").0, 200);
    assert_eq!(answers.auditor("/audit/proof/consistency?from=5&to=1").0, 400);
    let (status, receipt) = answers.auditor(&format!("/audit/receipts/{grant}"));
    assert_eq!(status, 200);
    assert!(receipt["proof"]["checkpoint"].is_string() && receipt["withdrawal"]["events"][0].is_object(), "{receipt}");
    assert_eq!(answers.auditor("/audit/receipts/nothing").0, 404);
    assert_eq!(answers.auditor("/audit/export").0, 200);
    assert_eq!(answers.auditor("/audit/export?format=csv").0, 200);
    assert_eq!(answers.auditor("/audit/export?format=xml").0, 400);

    let document_file = folder.path().join("openapi.json");
    std::fs::write(&document_file, &document.body).unwrap();
    let (passed, said) = check(&document_file, &answers.seen);
    assert!(passed, "{said}");
    assert!(said.contains("answers to 20 operations are as the document says"), "{said}");

    // The checker fails on an answer with a field the document does not name, on a
    // status it does not list, and on an operation no answer came from.
    let mut extra_field = answers.seen.clone();
    let token_info = extra_field.iter_mut().find(|answer| answer["url"].as_str().unwrap().ends_with("/token_info"));
    let token_info = token_info.unwrap();
    let mut body: Value = serde_json::from_str(token_info["body"].as_str().unwrap()).unwrap();
    body["owner_password"] = json!("swordfish");
    token_info["body"] = body.to_string().into();
    let (passed, said) = check(&document_file, &extra_field);
    assert!(!passed && said.contains("$.owner_password is not in the document"), "{said}");
    for (path, status, field) in [("/oauth/verify", 200, "oauth_problem"), (BEPPA, 200, "client_secret")] {
        let mut more = answers.seen.clone();
        let answer = more.iter_mut().find(|answer| {
            answer["url"].as_str().unwrap().ends_with(path) && answer["status"] == status && answer["method"] != "PATCH"
        });
        let answer = answer.unwrap();
        let mut body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        body[field] = json!("anything");
        answer["body"] = body.to_string().into();
        let (passed, said) = check(&document_file, &more);
        assert!(!passed && said.contains(&format!("$.{field} is not in the document")), "{path}: {said}");
    }
    let mut odd_status = answers.seen.clone();
    odd_status[0]["status"] = json!(418);
    let (passed, said) = check(&document_file, &odd_status);
    assert!(!passed && said.contains("-> 418"), "{said}");
    let without_erasure: Vec<Value> =
        answers.seen.iter().filter(|answer| !answer["url"].as_str().unwrap().ends_with("/erase")).cloned().collect();
    let (passed, said) = check(&document_file, &without_erasure);
    assert!(!passed && said.contains("POST /admin/owners/erase: no answer with a 2xx was checked"), "{said}");
}

backend_tests!(every_answer_is_as_the_openapi_document_says);
