//! Interoperability with Python's `oauthlib`, a library nobody here wrote, both ways:
//! requests it signs verify with our crate, and requests we sign verify in oauthlib.
//! The generators on both sides cover all four signature methods, unicode and reserved
//! characters, repeated keys, empty values, odd ports, and parameters in the header,
//! the query and a form body (`tests/clients/python/oauthlib_interop.py` lists the
//! oauthlib quirks its generator, and ours, steer around).

use grantlog_oauth1::encoding::percent_encode;
use grantlog_oauth1::{
    IncomingRequest, ProtocolError, RsaPrivateKey, Secrets, SignatureMethod, SignedRequest, Signer, Unsigned,
    VerificationKeys, rsa_private_key_from_pem, rsa_public_key_from_pem,
};
use grantlog_tests::{run_python_client, workspace_root};
use proptest::prelude::{Just, prop_oneof};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::{Deserialize, Serialize};

const REQUESTS_EACH_WAY: usize = 250;
const SCRIPT: &str = "oauthlib_interop.py";

fn keys_file() -> String {
    workspace_root().join("crates/oauth1/tests/vectors/signatures.json").display().to_string()
}

#[derive(Debug, Serialize, Deserialize)]
struct Exchange {
    requests: Vec<WireRequest>,
}

/// One signed request as it travels, in the harness's JSON shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WireRequest {
    method: String,
    url: String,
    headers: std::collections::BTreeMap<String, String>,
    body: String,
    signature_method: String,
    client_secret: String,
    token_secret: String,
    base_string: Option<String>,
}

impl WireRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn signed(&self) -> Result<SignedRequest, ProtocolError> {
        SignedRequest::from_request(&IncomingRequest {
            method: &self.method,
            url: &self.url,
            authorization: self.header("Authorization"),
            content_type: self.header("Content-Type"),
            body: self.body.as_bytes(),
        })
    }
}

#[derive(Debug, Deserialize)]
struct Verdicts {
    results: Vec<Verdict>,
}

#[derive(Debug, Deserialize)]
struct Verdict {
    index: usize,
    valid: bool,
    base_string: Option<String>,
}

#[test]
fn requests_signed_by_oauthlib_verify_here() {
    let keys_file = keys_file();
    let vectors: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&keys_file).unwrap()).unwrap();
    let public_key = rsa_public_key_from_pem(vectors["rsa_public_key_pem"].as_str().unwrap()).unwrap();
    let count = REQUESTS_EACH_WAY.to_string();
    let output = run_python_client(SCRIPT, &["sign", "--count", &count, "--seed", "5849", "--keys", &keys_file], b"");
    let exchange: Exchange = serde_json::from_slice(&output).expect("oauthlib's sign output");
    assert_eq!(exchange.requests.len(), REQUESTS_EACH_WAY);

    let mut methods = std::collections::HashSet::new();
    for (index, request) in exchange.requests.iter().enumerate() {
        let signed = request.signed().unwrap_or_else(|e| panic!("request {index} refused ({e}): {request:#?}"));
        methods.insert(signed.signature_method());
        if let Some(expected) = &request.base_string {
            assert_eq!(signed.base_string(), expected, "request {index}: base string");
        }
        let keys = |client_secret| VerificationKeys {
            secrets: Secrets { client_secret, token_secret: &request.token_secret },
            rsa_public_key: Some(&public_key),
        };
        assert_eq!(signed.verify(keys(&request.client_secret)), Ok(()), "request {index}: {request:#?}");

        // The same request must fail once anything it was signed over changes.
        let wrong_secret = format!("{}!", request.client_secret);
        let mut other_method = request.clone();
        other_method.method = if request.method == "PATCH" { "POST".into() } else { "PATCH".into() };
        let tampered = match signed.signature_method() {
            SignatureMethod::RsaSha1 => other_method.signed().unwrap().verify(keys(&request.client_secret)),
            _ => signed.verify(keys(&wrong_secret)),
        };
        assert_eq!(tampered, Err(ProtocolError::SignatureInvalid), "request {index} tampered");
    }
    assert_eq!(methods.len(), 4, "oauthlib's requests cover every signature method");
}

#[test]
fn requests_we_sign_verify_in_oauthlib() {
    let keys_file = keys_file();
    let vectors: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&keys_file).unwrap()).unwrap();
    let private_key = rsa_private_key_from_pem(vectors["rsa_private_key_pem"].as_str().unwrap()).unwrap();

    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let requests: Vec<WireRequest> = (0..REQUESTS_EACH_WAY)
        .map(|_| scenario().new_tree(&mut runner).expect("generating a request").current().sign(&private_key))
        .collect();
    let methods: std::collections::BTreeSet<_> = requests.iter().map(|r| r.signature_method.clone()).collect();
    assert_eq!(methods.len(), 4, "our requests cover every signature method");

    let input = serde_json::to_vec(&Exchange { requests: requests.clone() }).unwrap();
    let output = run_python_client(SCRIPT, &["verify", "--keys", &keys_file], &input);
    let verdicts: Verdicts = serde_json::from_slice(&output).expect("oauthlib's verify output");
    assert_eq!(verdicts.results.len(), requests.len());
    for verdict in &verdicts.results {
        let request = &requests[verdict.index];
        assert!(verdict.valid, "oauthlib refused request {}: {request:#?}", verdict.index);
        assert_eq!(verdict.base_string, request.base_string, "request {}: base string", verdict.index);
    }
}

/// Where the protocol parameters travel.
#[derive(Debug, Clone, Copy)]
enum Placement {
    Header,
    Query,
    Body,
}

#[derive(Debug, Clone)]
struct Scenario {
    http_method: &'static str,
    url: String,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
    placement: Placement,
    method: SignatureMethod,
    consumer_key: String,
    client_secret: String,
    token: Option<(String, String)>,
    callback: Option<String>,
    verifier: Option<String>,
    realm: Option<String>,
    nonce: String,
    timestamp: u64,
}

fn form(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v))).collect::<Vec<_>>().join("&")
}

impl Scenario {
    fn sign(mut self, rsa_key: &RsaPrivateKey) -> WireRequest {
        let mut signer =
            Signer::new(&self.consumer_key, &self.client_secret, self.method).with_rsa_key(rsa_key.clone());
        if let Some((token, secret)) = &self.token {
            signer = signer.with_token(token, secret);
        }
        let mut extra = vec![("oauth_version", "1.0")];
        extra.extend(self.callback.as_deref().map(|c| ("oauth_callback", c)));
        extra.extend(self.verifier.as_deref().map(|v| ("oauth_verifier", v)));
        let url = self.url_with(&self.query);
        let unsigned = Unsigned {
            method: self.http_method,
            url: &url,
            body: &self.body,
            extra: &extra,
            nonce: &self.nonce,
            timestamp: self.timestamp,
        };
        let protocol = signer.protocol_params(&unsigned).expect("signing");
        let mut headers = std::collections::BTreeMap::new();
        match self.placement {
            Placement::Header => {
                let header = grantlog_oauth1::AuthorizationHeader::new(self.realm.as_deref(), protocol).unwrap();
                headers.insert("Authorization".to_owned(), header.to_string());
            }
            Placement::Query => self.query.extend(protocol),
            Placement::Body => self.body.extend(protocol),
        }
        if !self.body.is_empty() {
            headers.insert("Content-Type".to_owned(), "application/x-www-form-urlencoded".to_owned());
        }
        let mut wire = WireRequest {
            method: self.http_method.to_owned(),
            url: self.url_with(&self.query),
            headers,
            body: form(&self.body),
            signature_method: self.method.as_str().to_owned(),
            client_secret: self.client_secret.clone(),
            token_secret: self.token.as_ref().map(|(_, s)| s.clone()).unwrap_or_default(),
            base_string: None,
        };
        let signed = wire.signed().expect("our own request parses");
        wire.base_string = (self.method != SignatureMethod::Plaintext).then(|| signed.base_string().to_owned());
        wire
    }

    fn url_with(&self, query: &[(String, String)]) -> String {
        if query.is_empty() { self.url.clone() } else { format!("{}?{}", self.url, form(query)) }
    }
}

/// Any text, reserved characters and unicode included.
fn text(min: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 ~._!*'();:@&=+$,/?#%é☃🥃\\[\\]-]{{{min},12}}")).unwrap()
}

/// What oauthlib can read back from a query or form body: its parser decodes
/// `oauth_` values twice there, so only unreserved characters survive.
fn unreserved(min: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9~._-]{{{min},12}}")).unwrap()
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    // A small pool of names makes repeated keys common; never `realm` or `oauth_…`.
    proptest::collection::vec(("[ab☃ %&=~]{1,2}", text(0)), 0..4)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let placement = prop_oneof![4 => Just(Placement::Header), 1 => Just(Placement::Query), 1 => Just(Placement::Body)];
    let method = proptest::sample::select(vec![
        SignatureMethod::HmacSha1,
        SignatureMethod::HmacSha256,
        SignatureMethod::RsaSha1,
        SignatureMethod::Plaintext,
    ]);
    let url = (
        proptest::sample::select(vec!["http", "https", "HTTPS"]),
        proptest::sample::select(vec!["Photos.Example.NET", "api.faji.test", "127.0.0.1"]),
        proptest::sample::select(vec!["", ":80", ":443", ":8443", ":9", ":65535"]),
        proptest::collection::vec(text(1), 0..3),
    )
        .prop_map(|(scheme, host, port, segments)| {
            let path: String = segments.iter().map(|s| format!("/{}", percent_encode(s))).collect();
            format!("{scheme}://{host}{port}{path}")
        });
    let http_method = proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]);
    (placement, method, http_method, url, params(), params()).prop_flat_map(
        |(placement, method, http_method, url, query, body)| {
            let safe_only = !matches!(placement, Placement::Header);
            let value = move |min| {
                if safe_only { unreserved(min).boxed() } else { text(min).boxed() }
            };
            let secret = move || {
                if safe_only && method == SignatureMethod::Plaintext { unreserved(0).boxed() } else { text(0).boxed() }
            };
            let body = if http_method == "GET" && !matches!(placement, Placement::Body) { Vec::new() } else { body };
            (
                value(1),
                secret(),
                proptest::option::of((value(1), secret())),
                proptest::option::weighted(0.2, prop_oneof![Just("oob".to_owned()), value(1)]),
                proptest::option::weighted(0.2, value(1)),
                proptest::option::weighted(0.3, "[a-zA-Z ]{1,10}"),
                value(1),
                1_700_000_000u64..1_900_000_000,
            )
                .prop_map(
                    move |(consumer_key, client_secret, token, callback, verifier, realm, nonce, timestamp)| Scenario {
                        http_method: if matches!(placement, Placement::Body) { "POST" } else { http_method },
                        url: url.clone(),
                        query: query.clone(),
                        body: body.clone(),
                        placement,
                        method,
                        consumer_key,
                        client_secret,
                        token,
                        callback,
                        verifier,
                        realm: realm.filter(|_| matches!(placement, Placement::Header)),
                        nonce,
                        timestamp,
                    },
                )
        },
    )
}
