//! `POST /oauth/token`, SQLite and PostgreSQL: an authorized request token and its
//! verifier give token credentials once; every other attempt is refused with its
//! `oauth_problem`. (Approval is recorded straight through the domain, so that each
//! case sets up exactly the grant it needs.)

use crate::support::{Reply, Server, get, post};
use chrono::Utc;
use grantlog_domain::{AccessDuration, Actor, OwnerId};
use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};
use grantlog_projection::tables::grant_by_token;
use grantlog_projection::testing::{approve, authenticate, grant, register_owner};
use grantlog_store::testing::TestDatabase;
use grantlog_store::{ConnectOptions, EventStore, backend_tests};

fn now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap()
}

struct Flow {
    server: Server,
    store: EventStore,
    key: String,
    secret: String,
    jane: OwnerId,
}

impl Flow {
    async fn start(database: &TestDatabase) -> Self {
        Self::start_with(database, &[]).await
    }

    async fn start_with(database: &TestDatabase, serve_args: &[&str]) -> Self {
        let server = Server::start_with(&database.url, serve_args);
        let (key, secret) = server.add_client("http://127.0.0.1:*");
        let store = EventStore::connect(ConnectOptions::new(&database.url)).await.unwrap();
        let jane = OwnerId::new(uuid::Uuid::now_v7());
        register_owner(&store, jane, Utc::now()).await;
        Self { server, store, key, secret, jane }
    }

    fn post_signed(&self, path: &str, signer: &Signer, extra: &[(&str, &str)], nonce: &str) -> Reply {
        let url = self.server.url(path);
        let unsigned = Unsigned { method: "POST", url: &url, body: &[], extra, nonce, timestamp: now() };
        post(&url, Some(&signer.authorization_header(&unsigned, None).unwrap()), "")
    }

    fn client(&self) -> Signer {
        Signer::new(self.key.as_str(), self.secret.as_str(), SignatureMethod::HmacSha1)
    }

    /// Temporary credentials, approved by Jane with `verifier` when `approved`.
    async fn request_token(&self, nonce: &str, verifier: &str, approved: bool) -> (String, String) {
        let reply = self.post_signed("/oauth/initiate", &self.client(), &[("oauth_callback", "oob")], nonce);
        assert_eq!(reply.status, 200, "{reply:?}");
        let (token, secret) = (reply.param("oauth_token").unwrap(), reply.param("oauth_token_secret").unwrap());
        if approved {
            let row = grant_by_token(self.store.reader(), &token).await.unwrap().unwrap();
            let id = row.grant_id;
            let jane = Actor::Owner(self.jane.uuid());
            grant(&self.store, id, authenticate(self.jane, Utc::now()), Utc::now(), jane).await.unwrap();
            let approval = approve(self.jane, verifier, AccessDuration::OneHour, false, Utc::now());
            grant(&self.store, id, approval, Utc::now(), jane).await.unwrap();
        }
        (token, secret)
    }

    fn exchange(&self, (token, secret): &(String, String), verifier: &str, nonce: &str) -> Reply {
        let signer = self.client().with_token(token.as_str(), secret.as_str());
        self.post_signed("/oauth/token", &signer, &[("oauth_verifier", verifier)], nonce)
    }
}

/// Status and `oauth_problem`; a 401 must also name the problem in its challenge.
fn problem(reply: &Reply) -> (u16, Option<String>) {
    let problem = reply.param("oauth_problem");
    if reply.status == 401 {
        let expected =
            format!("OAuth realm=\"grantlog\", oauth_problem=\"{}\"", problem.as_deref().unwrap_or_default());
        assert_eq!(reply.www_authenticate.as_deref(), Some(expected.as_str()), "{reply:?}");
    }
    (reply.status, problem)
}

async fn an_approved_request_token_is_exchanged_once(database: TestDatabase) {
    let flow = Flow::start(&database).await;
    let request = flow.request_token("n-1", "v3rifier", true).await;
    let reply = flow.exchange(&request, "v3rifier", "n-2");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
    assert_eq!(reply.cache_control.as_deref(), Some("no-store"), "token secrets are never cached");
    let names: Vec<String> = reply.form().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["oauth_token", "oauth_token_secret", "oauth_expires_in"]);
    let expires_in: i64 = reply.param("oauth_expires_in").unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&expires_in), "one hour, as Jane chose: {expires_in}");
    let access_token = reply.param("oauth_token").unwrap();
    assert_ne!(access_token, request.0);
    let row = grant_by_token(flow.store.reader(), &access_token).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.access_token.as_deref()), ("active", Some(access_token.as_str())));
    assert!(row.expires_at.is_some(), "one hour, as Jane chose");

    let again = flow.exchange(&request, "v3rifier", "n-3");
    assert_eq!(problem(&again), (401, Some("token_used".into())), "{again:?}");
    let with_access_token =
        flow.exchange(&(access_token, reply.param("oauth_token_secret").unwrap()), "v3rifier", "n-4");
    assert_eq!(
        problem(&with_access_token),
        (401, Some("token_rejected".into())),
        "an access token is no request token"
    );
}

async fn exchanges_that_must_fail_say_why(database: TestDatabase) {
    let flow = Flow::start(&database).await;
    let head = |store: &EventStore| {
        let store = store.clone();
        async move { store.head().await.unwrap() }
    };

    let approved = flow.request_token("a", "right", true).await;
    let before = head(&flow.store).await;
    let wrong_verifier = flow.exchange(&approved, "wrong", "b");
    assert_eq!(problem(&wrong_verifier), (401, Some("verifier_invalid".into())), "{wrong_verifier:?}");
    let wrong_secret = flow.exchange(&(approved.0.clone(), "not-the-secret".into()), "right", "c");
    assert_eq!(problem(&wrong_secret), (401, Some("signature_invalid".into())));
    let no_verifier =
        flow.post_signed("/oauth/token", &flow.client().with_token(approved.0.as_str(), approved.1.as_str()), &[], "d");
    assert_eq!(problem(&no_verifier), (400, Some("parameter_absent".into())));
    let unknown = flow.exchange(&("no-such-token".into(), "x".into()), "right", "e");
    assert_eq!(problem(&unknown), (401, Some("token_rejected".into())));
    assert_eq!(head(&flow.store).await, before, "refusals write nothing");

    let pending = flow.request_token("f", "unused", false).await;
    let undecided = flow.exchange(&pending, "anything", "g");
    assert_eq!(problem(&undecided), (401, Some("permission_unknown".into())), "{undecided:?}");

    // Another client holding the token and its secret still cannot exchange it.
    let (other_key, other_secret) = flow.server.add_client("http://127.0.0.1:*");
    let thief = Signer::new(other_key.as_str(), other_secret.as_str(), SignatureMethod::HmacSha1)
        .with_token(approved.0.as_str(), approved.1.as_str());
    let stolen = flow.post_signed("/oauth/token", &thief, &[("oauth_verifier", "right")], "h");
    assert_eq!(problem(&stolen), (401, Some("token_rejected".into())));

    // After all that, the rightful exchange still works.
    assert_eq!(flow.exchange(&approved, "right", "i").status, 200);
}

async fn an_expired_request_token_is_refused(database: TestDatabase) {
    let flow = Flow::start_with(&database, &["--request-token-ttl", "2"]).await;
    let approved = flow.request_token("a", "right", true).await;
    let unanswered = flow.request_token("b", "unused", false).await;
    std::thread::sleep(std::time::Duration::from_millis(2_500));

    let late = flow.exchange(&approved, "right", "c");
    assert_eq!(problem(&late), (401, Some("token_expired".into())), "{late:?}");
    let page = get(&flow.server.url(&format!("/oauth/authorize?oauth_token={}", unanswered.0)), "");
    assert_eq!(page.status, 400, "the owner is told it expired: {page:?}");
    assert!(page.body.contains("has expired"), "{}", page.body);

    // A process sweeps as it starts (then every minute): the log records both ends, by
    // the system, at the recorded expiry.
    let _sweeper = flow.server.beside();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let expired = loop {
        let events = flow.store.read_from(0, 1_000).await.unwrap();
        let expired: Vec<_> =
            events.into_iter().filter(|event| event.event_type == "grant.credentials_expired").collect();
        if expired.len() == 2 || std::time::Instant::now() > deadline {
            break expired;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(expired.len(), 2, "{expired:?}");
    for event in expired {
        assert_eq!(event.actor, grantlog_domain::Actor::System);
        assert_eq!(event.payload["credentials"], "request_token", "{event:?}");
    }
}

backend_tests!(
    an_approved_request_token_is_exchanged_once,
    exchanges_that_must_fail_say_why,
    an_expired_request_token_is_refused
);
