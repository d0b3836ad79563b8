//! Sign-then-verify over random requests: a signature holds for exactly the request and
//! keys it was made with.

use std::sync::LazyLock;

use grantlog_oauth1::encoding::percent_encode;
use grantlog_oauth1::{
    AuthorizationHeader, IncomingRequest, ProtocolError, RsaPrivateKey, RsaPublicKey, Secrets, SignatureMethod,
    SignedRequest, Signer, Unsigned, VerificationKeys, rsa_private_key_from_pem, rsa_public_key_from_pem,
};
use proptest::prelude::*;

static RSA_KEYS: LazyLock<(RsaPrivateKey, RsaPublicKey)> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/signatures.json");
    let vectors: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        rsa_private_key_from_pem(vectors["rsa_private_key_pem"].as_str().unwrap()).unwrap(),
        rsa_public_key_from_pem(vectors["rsa_public_key_pem"].as_str().unwrap()).unwrap(),
    )
});

#[derive(Debug, Clone)]
struct Scenario {
    http_method: String,
    url: String,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
    method: SignatureMethod,
    consumer_key: String,
    client_secret: String,
    token: Option<(String, String)>,
    nonce: String,
    timestamp: u64,
}

impl Scenario {
    fn full_url(&self) -> String {
        let mut url = self.url.clone();
        for (index, (name, value)) in self.query.iter().enumerate() {
            url.push(if index == 0 { '?' } else { '&' });
            url.push_str(&format!("{}={}", percent_encode(name), percent_encode(value)));
        }
        url
    }

    fn header(&self) -> String {
        let mut signer =
            Signer::new(&self.consumer_key, &self.client_secret, self.method).with_rsa_key(RSA_KEYS.0.clone());
        if let Some((token, secret)) = &self.token {
            signer = signer.with_token(token, secret);
        }
        let url = self.full_url();
        let unsigned = Unsigned {
            method: &self.http_method,
            url: &url,
            body: &self.body,
            extra: &[],
            nonce: &self.nonce,
            timestamp: self.timestamp,
        };
        signer.authorization_header(&unsigned, Some("Photos")).unwrap()
    }

    /// Verifies `header` against this scenario's request as the server would see it,
    /// with the given secrets.
    fn verify(&self, header: &str, client_secret: &str, token_secret: &str) -> Result<(), ProtocolError> {
        let url = self.full_url();
        let body = self
            .body
            .iter()
            .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = IncomingRequest {
            method: &self.http_method,
            url: &url,
            authorization: Some(header),
            content_type: Some("application/x-www-form-urlencoded"),
            body: body.as_bytes(),
        };
        let keys =
            VerificationKeys { secrets: Secrets { client_secret, token_secret }, rsa_public_key: Some(&RSA_KEYS.1) };
        SignedRequest::from_request(&request)?.verify(keys)
    }

    fn token_secret(&self) -> &str {
        self.token.as_ref().map_or("", |(_, secret)| secret)
    }
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ~._!*'();:@&=+$,/?#%é☃🥃-]{0,10}"
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    // Names from a small pool so repeated keys are common; never oauth_-prefixed.
    proptest::collection::vec(("[ab☃ %&=]{1,2}", text()), 0..4)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let method = prop_oneof![
        Just(SignatureMethod::HmacSha1),
        Just(SignatureMethod::HmacSha256),
        Just(SignatureMethod::RsaSha1),
        Just(SignatureMethod::Plaintext),
    ];
    let url = (
        prop_oneof![Just("http"), Just("HTTPS")],
        prop_oneof![Just("Photos.Example.NET"), Just("127.0.0.1"), Just("[::1]")],
        prop_oneof![Just(""), Just(":80"), Just(":443"), Just(":8443"), Just(":9")],
        proptest::collection::vec(text(), 0..3),
    )
        .prop_map(|(scheme, host, port, segments)| {
            let path: String = segments.iter().map(|s| format!("/{}", percent_encode(s))).collect();
            format!("{scheme}://{host}{port}{path}")
        });
    (
        (prop_oneof![Just("GET"), Just("POST"), Just("put"), Just("DELETE")], url, params(), params()),
        // Any nonce the protocol accepts: no control characters.
        (method, text(), text(), proptest::option::of((text(), text())), "[^\\p{Cc}]{1,16}", 1u64..4_000_000_000),
    )
        .prop_map(
            |((http_method, url, query, body), (method, consumer_key, client_secret, token, nonce, timestamp))| {
                Scenario {
                    http_method: http_method.into(),
                    url,
                    query,
                    body,
                    method,
                    consumer_key,
                    client_secret,
                    token,
                    nonce,
                    timestamp,
                }
            },
        )
}

fn signs_the_request(method: SignatureMethod) -> bool {
    method != SignatureMethod::Plaintext
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_signed_request_verifies(scenario in scenario()) {
        let header = scenario.header();
        prop_assert_eq!(scenario.verify(&header, &scenario.client_secret, scenario.token_secret()), Ok(()));
    }

    #[test]
    fn another_secret_breaks_it(scenario in scenario(), which in 0..2usize) {
        prop_assume!(scenario.method != SignatureMethod::RsaSha1); // RSA-SHA1 uses no shared secret
        let header = scenario.header();
        let client = format!("{}x", scenario.client_secret);
        let token = format!("{}x", scenario.token_secret());
        let result = if which == 0 {
            scenario.verify(&header, &client, scenario.token_secret())
        } else {
            scenario.verify(&header, &scenario.client_secret, &token)
        };
        prop_assert_eq!(result, Err(ProtocolError::SignatureInvalid));
    }

    #[test]
    fn another_request_breaks_it(scenario in scenario(), change in 0..6usize, extra in "[a-z0-9]{1,3}") {
        prop_assume!(signs_the_request(scenario.method)); // PLAINTEXT signs only the secrets
        let header = scenario.header();
        let mut altered = scenario.clone();
        match change {
            0 => altered.http_method = if scenario.http_method == "PATCH" { "GET".into() } else { "PATCH".into() },
            1 => altered.url.push_str(&format!("/{extra}")),
            2 => altered.query.push((extra, String::new())),
            3 => altered.body.push(("b".into(), extra)),
            4 => match altered.query.first_mut().or(altered.body.first_mut()) {
                Some((_, value)) => value.push('x'),
                None => altered.query.push(("a".into(), extra)),
            },
            _ => {
                altered.url = match altered.url.strip_prefix("http:") {
                    Some(rest) => format!("https:{rest}"),
                    None => altered.url.replacen("HTTPS:", "http:", 1),
                }
            }
        }
        prop_assert_eq!(altered.verify(&header, &scenario.client_secret, scenario.token_secret()), Err(ProtocolError::SignatureInvalid));
    }

    #[test]
    fn another_protocol_parameter_breaks_it(scenario in scenario(), which in 0..4usize) {
        prop_assume!(signs_the_request(scenario.method));
        let header = AuthorizationHeader::parse(&scenario.header()).unwrap();
        let name = ["oauth_nonce", "oauth_timestamp", "oauth_consumer_key", "oauth_token"][which];
        let mut params: Vec<(String, String)> =
            header.params().iter().filter(|(n, _)| n != "realm").cloned().collect();
        match params.iter_mut().find(|(n, _)| n == name) {
            Some((_, value)) if name == "oauth_timestamp" => *value = (value.parse::<u64>().unwrap() + 1).to_string(),
            Some((_, value)) => value.push('x'),
            None => params.push((name.to_owned(), "t".to_owned())),
        }
        let forged = AuthorizationHeader::new(header.realm(), params).unwrap().to_string();
        let result = scenario.verify(&forged, &scenario.client_secret, scenario.token_secret());
        prop_assert_eq!(result, Err(ProtocolError::SignatureInvalid), "{} changed", name);
    }

    #[test]
    fn another_signature_method_breaks_it(scenario in scenario()) {
        prop_assume!(scenario.method != SignatureMethod::Plaintext);
        let header = scenario.header();
        let claimed = match scenario.method {
            SignatureMethod::HmacSha1 => "HMAC-SHA256",
            _ => "HMAC-SHA1",
        };
        let forged = header.replace(&format!("oauth_signature_method=\"{}\"", scenario.method), &format!("oauth_signature_method=\"{claimed}\""));
        prop_assert_eq!(scenario.verify(&forged, &scenario.client_secret, scenario.token_secret()), Err(ProtocolError::SignatureInvalid));
    }
}
