//! `grantlog demo`: the seed story, told against a real server in this process on a
//! temporary SQLite database — Beppa's requests signed by our own client code, Jane's
//! browser played by plain HTTP with cookies — then the grant's event history.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail};
use grantlog_oauth1::encoding::{parse_form, percent_encode};
use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};
use grantlog_store::{ConnectOptions, EventStore, SecretBox};
use secrecy::SecretString;

use crate::http::Application;
use crate::operators::OperatorTokens;
use crate::services::Services;
use crate::services::oauth::Checks;

// The seed story's cast, as `grantlog serve --demo` creates it.

/// Jane's login.
pub const OWNER: &str = "jane";
/// Jane's password.
pub const PASSWORD: &str = "islay-scotch";
/// Beppa's consumer key.
pub const CLIENT_KEY: &str = "beppa-demo-key";
/// Beppa's shared secret.
pub const CLIENT_SECRET: &str = "beppa-demo-secret";
/// Jane's two private photos: id, title, PNG bytes.
pub const PHOTOS: [(&str, &str, &[u8]); 2] = [
    ("islay-harbour", "Port Ellen harbour at dawn", include_bytes!("../demo/islay-harbour.png")),
    ("islay-distillery", "The distillery's warehouses", include_bytes!("../demo/islay-distillery.png")),
];

/// The callback Beppa names; nothing needs to listen there.
const CALLBACK: &str = "http://127.0.0.1:9/ready";

/// Runs the story and narrates it on standard output.
pub async fn run() -> anyhow::Result<()> {
    let folder = tempfile::tempdir().context("Failed to make a temporary folder")?;
    let url = format!("sqlite://{}", folder.path().join("demo.db").display());
    let store = EventStore::connect(ConnectOptions::new(&url)).await.context("Failed to open the demo database")?;
    store.migrate().await.context("Failed to migrate the demo database")?;
    let secrets = SecretBox::load_or_create(&folder.path().join("demo.key")).context("Failed to make a secrets key")?;
    let services = Services::new(store.clone(), secrets);
    services.seed_demo().await.context("Failed to seed the story")?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("Failed to listen on a loopback port")?;
    let application =
        Application::build(listener, services, None, Checks::default(), OperatorTokens::default(), Default::default())?;
    let base = format!("http://{}", application.address());
    let server = tokio::spawn(application.run());

    println!("Faji, a photo site, runs at {base}. Jane keeps two private photos there.");
    println!("Beppa Prints holds client credentials from Faji ({}).", CLIENT_KEY);
    let grant_token = tokio::task::spawn_blocking(move || story(&base)).await??;

    let grant = grantlog_projection::tables::grant_by_token(store.reader(), &grant_token)
        .await?
        .ok_or_else(|| anyhow!("the grant was not recorded"))?;
    println!("\nThe grant's history, as the event log holds it (grant {}):", grant.grant_id);
    for event in store.read_stream(&format!("grant-{}", grant.grant_id)).await? {
        let actor = serde_json::to_string(&event.actor)?;
        println!(
            "  #{:<3} {}  {:<36} by {actor}",
            event.position,
            event.occurred_at.format("%H:%M:%S"),
            event.event_type
        );
    }
    let report = store.verify_chain(None).await?.map_err(|violation| anyhow!("{violation}"))?;
    println!("The whole log ({} events) verifies; its head is {}.", report.events, report.head);
    server.abort();
    Ok(())
}

/// What Beppa and Jane's browser hold once she has approved: the request token (which
/// names the grant), Beppa's token credentials, and her browser's cookies (a `Cookie`
/// header with her session).
#[derive(Debug)]
pub struct Approved {
    /// The request token.
    pub request_token: String,
    /// Beppa signing with the access token.
    pub access: Signer,
    /// Jane's `Cookie` header.
    pub cookies: String,
    /// The access token and its secret, for a signer that is not ours (benchmarks).
    pub token_credentials: (String, SecretString),
}

/// Jane's browser: her cookies, which hold her session once she has logged in.
#[derive(Debug, Default)]
pub struct Browser {
    cookies: Vec<(String, String)>,
}

impl Browser {
    /// A browser holding the cookies of a `Cookie` header (`name=value; …`), such as
    /// [`Approved::cookies`].
    pub fn with_cookies(header: &str) -> Self {
        let pairs = header.split("; ").filter_map(|pair| pair.split_once('='));
        Self { cookies: pairs.map(|(name, value)| (name.to_owned(), value.to_owned())).collect() }
    }
}

/// Steps 1 to 4 of the story over HTTP against `base`, a server with the demo's cast:
/// Beppa gets a request token, Jane logs in and approves both photos for one hour
/// through the forms, Beppa exchanges the verifier. `say` hears each step told.
pub fn approve_through_the_pages(base: &str, say: &mut dyn FnMut(&str)) -> anyhow::Result<Approved> {
    approve_in(&mut Browser::default(), base, say)
}

/// The same in Jane's `browser`: she logs in only when it holds no live session (and
/// it holds one afterwards). Long because it is the story's four steps in order, each
/// told as it happens.
pub fn approve_in(browser: &mut Browser, base: &str, say: &mut dyn FnMut(&str)) -> anyhow::Result<Approved> {
    let agent = agent();
    let beppa = Signer::new(CLIENT_KEY, CLIENT_SECRET, SignatureMethod::HmacSha1);

    say("\n1. Jane asks Beppa to print her photos. Beppa asks Faji for temporary credentials.");
    let initiate = format!("{base}/oauth/initiate");
    let header = signed_header(&beppa, "POST", &initiate, &[("oauth_callback", CALLBACK)])?;
    let reply = form_reply(agent.post(&initiate).header("Authorization", header).send_empty()?)?;
    let (token, token_secret) = (field(&reply, "oauth_token")?, field(&reply, "oauth_token_secret")?);
    say(&format!("   Faji answers with a request token, {token}, and its secret (not shown)."));

    let cookies = &mut browser.cookies;
    let authorize = format!("{base}/oauth/authorize?oauth_token={}", percent_encode(&token));
    let first = page(agent.get(&authorize).header("Cookie", cookie_header(cookies)).call()?, cookies)?;
    let consent = if first.contains("name=\"password\"") {
        say("2. Beppa sends Jane to Faji. Faji asks her to log in; she types her password into Faji, not Beppa.");
        let login_form = [
            ("csrf_token", hidden(&first, "csrf_token")?),
            ("oauth_token", token.clone()),
            ("username", OWNER.to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        let response = agent
            .post(format!("{base}/login"))
            .header("Cookie", cookie_header(cookies))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(encode(&login_form))?;
        if response.status() != 303 {
            bail!("logging in answered {}", response.status());
        }
        page(response, cookies)?;
        page(agent.get(&authorize).header("Cookie", cookie_header(cookies)).call()?, cookies)?
    } else {
        say("2. Beppa sends Jane to Faji, where she is logged in already.");
        first
    };

    say("3. Faji shows Jane who asks and what for: read-only access to her photos, for one hour.");
    let mut decision = vec![("csrf_token", hidden(&consent, "csrf_token")?), ("oauth_token", token.clone())];
    decision.extend(PHOTOS.iter().map(|(id, _, _)| ("photos", (*id).to_owned())));
    decision.extend([("expires", "1hour".to_owned()), ("decision", "approve".to_owned())]);
    let response = agent
        .post(format!("{base}/oauth/authorize"))
        .header("Cookie", cookie_header(cookies))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(encode(&decision))?;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| anyhow!("no redirect after approving"))?;
    let back = parse_form(location.split_once('?').map_or("", |(_, query)| query))
        .map_err(|_| anyhow!("a malformed callback"))?;
    let verifier = field(&back, "oauth_verifier")?;
    say("   She approves both photos for one hour. Her browser goes back to Beppa with a verifier.");

    say("4. Beppa exchanges the request token and verifier for token credentials.");
    let token_url = format!("{base}/oauth/token");
    let with_request = beppa.clone().with_token(token.as_str(), token_secret.as_str());
    let header = signed_header(&with_request, "POST", &token_url, &[("oauth_verifier", &verifier)])?;
    let reply = form_reply(agent.post(&token_url).header("Authorization", header).send_empty()?)?;
    let (access_token, access_secret) = (field(&reply, "oauth_token")?, field(&reply, "oauth_token_secret")?);
    let access = beppa.with_token(access_token.as_str(), access_secret.as_str());
    say("   Faji issues an access token, good for one hour.");
    Ok(Approved {
        request_token: token,
        access,
        cookies: cookie_header(cookies),
        token_credentials: (access_token, SecretString::from(access_secret)),
    })
}

/// The story's HTTP exchanges; returns the request token, which names the grant.
fn story(base: &str) -> anyhow::Result<String> {
    let Approved { request_token, access, .. } = approve_through_the_pages(base, &mut |line| println!("{line}"))?;
    let agent = agent();

    println!("5. Beppa fetches the photo list, then each photo.");
    let list_url = format!("{base}/api/photos");
    let mut listing =
        agent.get(&list_url).header("Authorization", signed_header(&access, "GET", &list_url, &[])?).call()?;
    let photos: serde_json::Value = serde_json::from_str(&listing.body_mut().read_to_string()?)?;
    for photo in photos.as_array().ok_or_else(|| anyhow!("no photo list"))? {
        let id = photo["id"].as_str().unwrap_or_default();
        let url = format!("{base}/api/photos/{}", percent_encode(id));
        let mut image = agent.get(&url).header("Authorization", signed_header(&access, "GET", &url, &[])?).call()?;
        let bytes = image.body_mut().read_to_vec()?;
        println!(
            "   {} — {} bytes of {}",
            photo["title"].as_str().unwrap_or_default(),
            bytes.len(),
            photo["content_type"].as_str().unwrap_or_default()
        );
    }
    println!("Jane never gave Beppa her password. Beppa prints the photos.");
    Ok(request_token)
}

/// An HTTP agent that reports statuses rather than failing on them and follows no
/// redirect (a browser's next step is the story's to take).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// The `Authorization` header of a request signed now, with a fresh nonce.
pub fn signed_header(signer: &Signer, method: &str, url: &str, extra: &[(&str, &str)]) -> anyhow::Result<String> {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let nonce = crate::services::random_token(16);
    let unsigned = Unsigned { method, url, body: &[], extra, nonce: &nonce, timestamp };
    Ok(signer.authorization_header(&unsigned, None)?)
}

fn form_reply(mut response: ureq::http::Response<ureq::Body>) -> anyhow::Result<Vec<(String, String)>> {
    let status = response.status();
    let body = response.body_mut().read_to_string()?;
    if status != 200 {
        bail!("the server answered {status}: {body}");
    }
    parse_form(&body).map_err(|_| anyhow!("a malformed form reply"))
}

fn field(pairs: &[(String, String)], name: &str) -> anyhow::Result<String> {
    pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).ok_or_else(|| anyhow!("no {name} in the reply"))
}

/// The page's body, keeping the cookies it sets.
fn page(mut response: ureq::http::Response<ureq::Body>, cookies: &mut Vec<(String, String)>) -> anyhow::Result<String> {
    for value in response.headers().get_all("set-cookie") {
        if let Some((name, value)) = value.to_str()?.split(';').next().and_then(|pair| pair.split_once('=')) {
            cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }
    Ok(response.body_mut().read_to_string()?)
}

fn cookie_header(cookies: &[(String, String)]) -> String {
    cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
}

/// The value of the hidden input `name` on a page we rendered ourselves (the test of
/// the owner pages reads them the same way).
pub fn hidden(html: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).ok_or_else(|| anyhow!("no {name} on the page"))? + marker.len();
    let length = html[start..].find('"').ok_or_else(|| anyhow!("an unterminated {name}"))?;
    Ok(html[start..start + length].to_owned())
}

fn encode(fields: &[(&str, String)]) -> String {
    fields.iter().map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v))).collect::<Vec<_>>().join("&")
}
