//! The owner's pages served over HTTP, SQLite and PostgreSQL: a wrong password gets
//! no session, a denial goes back to the client and ends the request, markup in a
//! client's name stays text, every page forbids framing and script, and a callback
//! slipped into the authorize URL is ignored.

use crate::support::browser::{Browser, CALLBACK, hidden, now, request_token};
use crate::support::{Server, post};
use grantlog_oauth1::encoding::parse_form;
use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};
use grantlog_store::backend_tests;
use grantlog_store::testing::TestDatabase;

async fn owner_pages_refuse_strangers_escape_names_and_send_denials_back(database: TestDatabase) {
    let server = Server::start_with(&database.url, &["--demo"]);
    let (key, secret) = server.add_client_named("<script>alert('x')</script> Prints", "http://127.0.0.1:*");
    let (key, secret) = (key.as_str(), secret.as_str());
    let (token, token_secret) = request_token(&server, key, secret, "c-1");

    // A callback in the authorize URL is ignored; the login form comes first.
    let mut jane = Browser::new();
    let authorize =
        server.url(&format!("/oauth/authorize?oauth_token={token}&oauth_callback=http%3A%2F%2Fevil.example%2F"));
    let login = jane.get(&authorize);
    assert_eq!(login.status, 200);
    assert!(login.body.contains("name=\"password\""), "{}", login.body);
    let csp = login.csp.unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"), "{csp}");
    assert_eq!(login.frame_options.as_deref(), Some("DENY"));

    // A wrong password: no session, the form again.
    let csrf = hidden(&login.body, "csrf_token");
    let wrong = jane.submit(
        &server.url("/login"),
        &[("csrf_token", &csrf), ("oauth_token", &token), ("username", "jane"), ("password", "islay-whisky")],
    );
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong username or password."), "{}", wrong.body);
    assert!(!jane.cookies.iter().any(|(name, _)| name == "grantlog_session"));
    // A login form posted without its CSRF cookie is forged.
    let forged = Browser::new().submit(
        &server.url("/login"),
        &[("csrf_token", "x"), ("oauth_token", &token), ("username", "jane"), ("password", "islay-scotch")],
    );
    assert_eq!(forged.status, 403);

    let csrf = hidden(&wrong.body, "csrf_token");
    let logged_in = jane.submit(
        &server.url("/login"),
        &[("csrf_token", &csrf), ("oauth_token", &token), ("username", "jane"), ("password", "islay-scotch")],
    );
    assert_eq!(logged_in.status, 303, "{}", logged_in.body);
    let consent = jane.get(&server.url(&format!("/oauth/authorize?oauth_token={token}")));
    assert_eq!(consent.status, 200);
    assert!(consent.body.contains("&lt;script&gt;alert('x')&lt;/script&gt; Prints"), "the name is text");
    let csp = consent.csp.clone().unwrap_or_default();
    assert!(csp.contains("form-action 'self' http://127.0.0.1:9;"), "the answer may redirect to the callback: {csp}");
    assert!(!consent.body.contains("<script>"), "{}", consent.body);

    // Jane denies: back to the callback given at initiate, not the one in the URL.
    let csrf = hidden(&consent.body, "csrf_token");
    let denied = jane.submit(
        &server.url("/oauth/authorize"),
        &[("csrf_token", &csrf), ("oauth_token", &token), ("decision", "deny")],
    );
    assert_eq!(denied.status, 302);
    let location = denied.location.unwrap();
    assert!(location.starts_with(&format!("{CALLBACK}?")), "{location}");
    let query = parse_form(location.split_once('?').unwrap().1).unwrap();
    assert_eq!(
        query,
        [("oauth_token".to_owned(), token.clone()), ("oauth_problem".to_owned(), "permission_denied".to_owned())]
    );

    // The request is answered: the page and the form say so, and nothing more is recorded.
    assert_eq!(jane.get(&server.url(&format!("/oauth/authorize?oauth_token={token}"))).status, 400);
    let again = jane.submit(
        &server.url("/oauth/authorize"),
        &[("csrf_token", &csrf), ("oauth_token", &token), ("decision", "approve"), ("photos", "islay-harbour")],
    );
    assert_eq!(again.status, 400);

    // The client trying its luck at the token endpoint is told it was denied.
    let url = server.url("/oauth/token");
    let unsigned = Unsigned {
        method: "POST",
        url: &url,
        body: &[],
        extra: &[("oauth_verifier", "guess")],
        nonce: "c-2",
        timestamp: now(),
    };
    let signer = Signer::new(key, secret, SignatureMethod::HmacSha1).with_token(token.as_str(), token_secret.as_str());
    let exchange = post(&url, Some(&signer.authorization_header(&unsigned, None).unwrap()), "");
    assert_eq!((exchange.status, exchange.param("oauth_problem").as_deref()), (401, Some("permission_denied")));
}

async fn failed_logins_are_throttled_across_processes(database: TestDatabase) {
    let first = Server::start_with(&database.url, &["--demo"]);
    let second = first.beside();
    let (key, secret) = ("beppa-demo-key", "beppa-demo-secret");
    let (token, _) = request_token(&first, key, secret, "t-1");
    let mut mallory = Browser::new();
    let attempt = |browser: &mut Browser, server: &Server, password: &str| {
        let login = browser.get(&server.url(&format!("/oauth/authorize?oauth_token={token}")));
        let csrf = hidden(&login.body, "csrf_token");
        browser.submit(
            &server.url("/login"),
            &[("csrf_token", &csrf), ("oauth_token", &token), ("username", "jane"), ("password", password)],
        )
    };
    for guess in 0..5 {
        let server = if guess % 2 == 0 { &first } else { &second };
        assert_eq!(attempt(&mut mallory, server, &format!("guess-{guess}")).status, 401);
    }
    // Now even the right password is refused, on either server, for a while.
    let mut jane = Browser::new();
    let throttled = attempt(&mut jane, &second, "islay-scotch");
    assert_eq!(throttled.status, 429, "{}", throttled.body);
    assert!(throttled.body.contains("Too many failed logins"));
    assert!(!jane.cookies.iter().any(|(name, _)| name == "grantlog_session"));
}

backend_tests!(
    owner_pages_refuse_strangers_escape_names_and_send_denials_back,
    failed_logins_are_throttled_across_processes,
);
