//! An owner's browser without a browser engine (cookies kept, redirects not followed)
//! and a client's first step, for the tests of the owner's pages.

use grantlog_oauth1::encoding::percent_encode;
use grantlog_oauth1::{SignatureMethod, Signer, Unsigned};

use super::{Reply, Server, get, post};

/// Where the test clients' owners are sent back to (nothing listens there).
pub const CALLBACK: &str = "http://127.0.0.1:9/ready";

/// A browser: keeps cookies, follows nothing by itself.
pub struct Browser {
    agent: ureq::Agent,
    pub cookies: Vec<(String, String)>,
    /// Sent with every request, as a proxy in front would add them.
    pub extra_headers: Vec<(&'static str, String)>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub csp: Option<String>,
    pub frame_options: Option<String>,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Page {
    /// A response header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Browser {
    pub fn new() -> Self {
        Self { agent: grantlog_server::demo::agent(), cookies: Vec::new(), extra_headers: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, response: &ureq::http::Response<ureq::Body>) {
        for value in response.headers().get_all("set-cookie") {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn page(&mut self, mut response: ureq::http::Response<ureq::Body>) -> Page {
        self.keep(&response);
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (location, csp, frame_options) =
            (header("location"), header("content-security-policy"), header("x-frame-options"));
        Page {
            status: response.status().as_u16(),
            location,
            csp,
            frame_options,
            headers: response.headers().clone(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub fn get(&mut self, url: &str) -> Page {
        let mut request = self.agent.get(url).header("Cookie", self.cookie_header());
        for (name, value) in &self.extra_headers {
            request = request.header(*name, value);
        }
        let response = request.call().unwrap();
        self.page(response)
    }

    pub fn submit(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let body: Vec<String> =
            fields.iter().map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v))).collect();
        let mut request = self
            .agent
            .post(url)
            .header("Cookie", self.cookie_header())
            .header("Content-Type", "application/x-www-form-urlencoded");
        for (name, value) in &self.extra_headers {
            request = request.header(*name, value);
        }
        let response = request.send(body.join("&")).unwrap();
        self.page(response)
    }
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    grantlog_server::demo::hidden(html, name).unwrap_or_else(|error| panic!("{error}: {html}"))
}

pub fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// Temporary credentials (token, secret) for the client (key, secret), with [`CALLBACK`].
pub fn request_token(server: &Server, key: &str, secret: &str, nonce: &str) -> (String, String) {
    let reply = initiate(server, key, secret, nonce);
    assert_eq!(reply.status, 200, "{reply:?}");
    (reply.param("oauth_token").unwrap(), reply.param("oauth_token_secret").unwrap())
}

/// `POST /oauth/initiate` signed by the client (key, secret), with [`CALLBACK`].
pub fn initiate(server: &Server, key: &str, secret: &str, nonce: &str) -> Reply {
    let url = server.url("/oauth/initiate");
    let unsigned = Unsigned {
        method: "POST",
        url: &url,
        body: &[],
        extra: &[("oauth_callback", CALLBACK)],
        nonce,
        timestamp: now(),
    };
    let header = Signer::new(key, secret, SignatureMethod::HmacSha1).authorization_header(&unsigned, None).unwrap();
    post(&url, Some(&header), "")
}

impl Browser {
    /// Logs in through the form an account page sends a visitor to.
    pub fn log_in(&mut self, server: &Server, username: &str, password: &str) {
        let form = self.get(&server.url("/login?next=%2Faccount%2Fgrants"));
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = hidden(&form.body, "csrf_token");
        let fields = [
            ("csrf_token", csrf.as_str()),
            ("next", "/account/grants"),
            ("username", username),
            ("password", password),
        ];
        let done = self.submit(&server.url("/login"), &fields);
        assert_eq!((done.status, done.location.as_deref()), (303, Some("/account/grants")), "{}", done.body);
    }

    /// Approves request `token` on the consent page with `choices` (photos, expires,
    /// remember); returns the verifier the redirect to the callback carries.
    pub fn approve(&mut self, server: &Server, token: &str, choices: &[(&str, &str)]) -> String {
        let consent = self.get(&server.url(&format!("/oauth/authorize?oauth_token={token}")));
        assert_eq!(consent.status, 200, "{}", consent.body);
        let csrf = hidden(&consent.body, "csrf_token");
        let mut fields = vec![("csrf_token", csrf.as_str()), ("oauth_token", token), ("decision", "approve")];
        fields.extend_from_slice(choices);
        let answer = self.submit(&server.url("/oauth/authorize"), &fields);
        assert_eq!(answer.status, 302, "{}", answer.body);
        verifier(&answer)
    }

    /// The CSRF token of the page at `path` (an account page).
    pub fn csrf(&mut self, server: &Server, path: &str) -> String {
        let page = self.get(&server.url(path));
        assert_eq!(page.status, 200, "{}", page.body);
        hidden(&page.body, "csrf_token")
    }
}

/// The `oauth_verifier` of a redirect to the callback.
pub fn verifier(page: &Page) -> String {
    let location = page.location.as_deref().expect("a redirect");
    assert!(location.starts_with(CALLBACK), "{location}");
    let query = grantlog_oauth1::encoding::parse_form(location.split_once('?').expect("a query").1).unwrap();
    query.into_iter().find(|(name, _)| name == "oauth_verifier").expect("a verifier").1
}

/// A registered client making signed requests.
pub struct Client<'a> {
    pub server: &'a Server,
    pub key: String,
    pub secret: String,
}

impl<'a> Client<'a> {
    /// The `--demo` client, Beppa Prints.
    pub fn demo(server: &'a Server) -> Self {
        Self { server, key: "beppa-demo-key".into(), secret: "beppa-demo-secret".into() }
    }

    /// Temporary credentials (token, secret), with [`CALLBACK`].
    pub fn request_token(&self, nonce: &str) -> (String, String) {
        request_token(self.server, &self.key, &self.secret, nonce)
    }

    /// `POST /oauth/initiate` through `server`, answered as it is.
    pub fn initiate(&self, server: &Server, nonce: &str) -> Reply {
        initiate(server, &self.key, &self.secret, nonce)
    }

    /// Token credentials for an approved request token.
    pub fn exchange(&self, request: &(String, String), verifier: &str, nonce: &str) -> (String, String) {
        let reply = self.try_exchange(request, verifier, nonce);
        assert_eq!(reply.status, 200, "{reply:?}");
        (reply.param("oauth_token").unwrap(), reply.param("oauth_token_secret").unwrap())
    }

    /// `POST /oauth/token` for a request token, answered as it is.
    pub fn try_exchange(&self, (token, secret): &(String, String), verifier: &str, nonce: &str) -> Reply {
        let url = self.server.url("/oauth/token");
        let unsigned = Unsigned {
            method: "POST",
            url: &url,
            body: &[],
            extra: &[("oauth_verifier", verifier)],
            nonce,
            timestamp: now(),
        };
        let signer = self.signer().with_token(token.as_str(), secret.as_str());
        post(&url, Some(&signer.authorization_header(&unsigned, None).unwrap()), "")
    }

    /// `GET /api/photos` with token credentials, through `server`.
    pub fn photos(&self, server: &Server, access: &(String, String), nonce: &str) -> Reply {
        self.with_token(server, "GET", "/api/photos", access, nonce)
    }

    /// `method path` on `server`, signed with token credentials, without a body.
    pub fn with_token(
        &self,
        server: &Server,
        method: &str,
        path: &str,
        (token, secret): &(String, String),
        nonce: &str,
    ) -> Reply {
        let url = server.url(path);
        let unsigned = Unsigned { method, url: &url, body: &[], extra: &[], nonce, timestamp: now() };
        let header = self.signer().with_token(token.as_str(), secret.as_str()).authorization_header(&unsigned, None);
        match method {
            "GET" => get(&url, &header.unwrap()),
            _ => post(&url, Some(&header.unwrap()), ""),
        }
    }

    fn signer(&self) -> Signer {
        Signer::new(self.key.as_str(), self.secret.as_str(), SignatureMethod::HmacSha1)
    }
}

/// On a `--demo` server: Jane logs in and approves Beppa's new request (nonce `nonce`)
/// for one photo and a day. Her browser, Beppa, the request token and the grant's id.
pub async fn jane_approves_beppa<'a>(
    server: &'a Server,
    database_url: &str,
    nonce: &str,
) -> (Browser, Client<'a>, (String, String), String) {
    let (jane, beppa, request, _) = jane_approves(server, nonce, &[("photos", "islay-harbour"), ("expires", "1day")]);
    let store = grantlog_store::EventStore::connect(grantlog_store::ConnectOptions::new(database_url)).await.unwrap();
    let grant = grantlog_projection::tables::grant_by_token(store.reader(), &request.0).await.unwrap().unwrap();
    (jane, beppa, request, grant.grant_id.to_string())
}

/// On a `--demo` server: Jane logs in, approves Beppa's new request for one photo, and
/// Beppa exchanges the verifier (nonces `{prefix}-request`, `{prefix}-token`). Her
/// browser, Beppa, his request token and his access token.
pub fn jane_gives_beppa_access<'a>(
    server: &'a Server,
    prefix: &str,
) -> (Browser, Client<'a>, Credentials, Credentials) {
    let (jane, beppa, request, verifier) =
        jane_approves(server, &format!("{prefix}-request"), &[("photos", "islay-harbour")]);
    let access = beppa.exchange(&request, &verifier, &format!("{prefix}-token"));
    (jane, beppa, request, access)
}

/// Jane logs in and approves Beppa's new request (nonce `nonce`) with `choices`: her
/// browser, Beppa, the request token and the verifier.
fn jane_approves<'a>(
    server: &'a Server,
    nonce: &str,
    choices: &[(&str, &str)],
) -> (Browser, Client<'a>, Credentials, String) {
    let beppa = Client::demo(server);
    let mut jane = Browser::new();
    jane.log_in(server, "jane", "islay-scotch");
    let request = beppa.request_token(nonce);
    let verifier = jane.approve(server, &request.0, choices);
    (jane, beppa, request, verifier)
}

/// A token and its secret.
pub type Credentials = (String, String);

/// `GET base_url + path` signed by the demo's Beppa with `access`, as a client that
/// gives up after five seconds: `None` when the node cannot be reached or does not
/// answer in time (it was killed, or hangs).
pub fn beppa_gets(base_url: &str, path: &str, (token, secret): &Credentials, nonce: &str) -> Option<Reply> {
    let url = format!("{base_url}{path}");
    let unsigned = Unsigned { method: "GET", url: &url, body: &[], extra: &[], nonce, timestamp: now() };
    let header = Signer::new("beppa-demo-key", "beppa-demo-secret", SignatureMethod::HmacSha1)
        .with_token(token.as_str(), secret.as_str())
        .authorization_header(&unsigned, None)
        .unwrap();
    super::patient_agent().get(&url).header("Authorization", &header).call().ok().map(super::reply)
}
