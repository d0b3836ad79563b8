//! The shared RFC 5849 vectors (`tests/vectors/`, a copy of `shared/vectors/` that
//! `.ci/run` checks is current): every signature case verifies and signs to the
//! expected value, every header case parses or fails as listed.

use grantlog_oauth1::encoding::{parse_form, percent_encode};
use grantlog_oauth1::signature::{sign, verify};
use grantlog_oauth1::uri::query;
use grantlog_oauth1::{
    AuthorizationHeader, IncomingRequest, ProtocolError, Secrets, SignatureMethod, SignedRequest, Signer, SigningKeys,
    Unsigned, VerificationKeys, rsa_private_key_from_pem, rsa_public_key_from_pem,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct SignatureVectors {
    rsa_private_key_pem: String,
    rsa_public_key_pem: String,
    cases: Vec<SignatureCase>,
}

#[derive(Deserialize)]
struct SignatureCase {
    name: String,
    method: String,
    url: String,
    oauth_params: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Vec<(String, String)>,
    raw_body: Option<String>,
    content_type: Option<String>,
    realm: Option<String>,
    client_secret: String,
    token_secret: String,
    signature_method: String,
    base_string: Option<String>,
    signature: String,
}

#[derive(Deserialize)]
struct HeaderVectors {
    valid: Vec<ValidHeader>,
    invalid: Vec<InvalidHeader>,
}

#[derive(Deserialize)]
struct ValidHeader {
    header: String,
    params: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct InvalidHeader {
    header: String,
    why: String,
    problem: String,
}

fn load<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"))
}

fn form_body(pairs: &[(String, String)]) -> String {
    pairs.iter().map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v))).collect::<Vec<_>>().join("&")
}

struct Case<'a> {
    case: &'a SignatureCase,
    method: SignatureMethod,
    header: String,
    body: String,
}

impl<'a> Case<'a> {
    fn new(case: &'a SignatureCase) -> Self {
        let mut params = case.oauth_params.clone();
        params.push(("oauth_signature".into(), case.signature.clone()));
        let header = AuthorizationHeader::new(case.realm.as_deref(), params).unwrap().to_string();
        Self {
            case,
            method: case.signature_method.parse().unwrap(),
            header,
            body: case.raw_body.clone().unwrap_or_else(|| form_body(&case.body)),
        }
    }

    fn incoming(&self) -> IncomingRequest<'_> {
        IncomingRequest {
            method: &self.case.method,
            url: &self.case.url,
            authorization: Some(&self.header),
            content_type: self.case.content_type.as_deref(),
            body: self.body.as_bytes(),
        }
    }

    fn secrets(&self) -> Secrets<'a> {
        Secrets { client_secret: &self.case.client_secret, token_secret: &self.case.token_secret }
    }
}

#[test]
fn every_signature_vector_verifies_and_signs() {
    let vectors: SignatureVectors = load("signatures.json");
    let public_key = rsa_public_key_from_pem(&vectors.rsa_public_key_pem).unwrap();
    let private_key = rsa_private_key_from_pem(&vectors.rsa_private_key_pem).unwrap();
    let mut methods_seen = std::collections::HashSet::new();
    for vector in &vectors.cases {
        let case = Case::new(vector);
        let name = &vector.name;
        methods_seen.insert(case.method);

        let decoded_query = query(&vector.url).map(|q| parse_form(q).unwrap()).unwrap_or_default();
        assert_eq!(decoded_query, vector.query, "{name}: query parameters");

        let signed = SignedRequest::from_request(&case.incoming()).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(expected) = &vector.base_string {
            assert_eq!(signed.base_string(), expected, "{name}: base string");
        }
        let verification = VerificationKeys { secrets: case.secrets(), rsa_public_key: Some(&public_key) };
        signed.verify(verification).unwrap_or_else(|e| panic!("{name}: {e}"));

        let signing = SigningKeys { secrets: case.secrets(), rsa_private_key: Some(&private_key) };
        let produced = sign(case.method, signed.base_string(), signing).unwrap();
        assert_eq!(produced, vector.signature, "{name}: signature we produce");
    }
    assert_eq!(methods_seen.len(), 4, "all four signature methods are covered");
}

#[test]
fn the_client_signer_reproduces_every_vector() {
    let vectors: SignatureVectors = load("signatures.json");
    let private_key = rsa_private_key_from_pem(&vectors.rsa_private_key_pem).unwrap();
    for vector in &vectors.cases {
        let case = Case::new(vector);
        let get = |wanted: &str| vector.oauth_params.iter().find(|(n, _)| n == wanted).map(|(_, v)| v.as_str());
        let consumer_key = get("oauth_consumer_key").unwrap();
        let mut signer =
            Signer::new(consumer_key, &vector.client_secret, case.method).with_rsa_key(private_key.clone());
        // RFC 5849 2.3's PLAINTEXT example signs with a token secret but shows no token.
        if get("oauth_token").is_some() || !vector.token_secret.is_empty() {
            signer = signer.with_token(get("oauth_token").unwrap_or_default(), &vector.token_secret);
        }
        let standard =
            ["oauth_consumer_key", "oauth_signature_method", "oauth_timestamp", "oauth_nonce", "oauth_token"];
        let extra: Vec<(&str, &str)> = vector
            .oauth_params
            .iter()
            .filter(|(n, _)| !standard.contains(&n.as_str()))
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = if vector.content_type.is_some() { vector.body.clone() } else { Vec::new() };
        let unsigned = Unsigned {
            method: &vector.method,
            url: &vector.url,
            body: &body,
            extra: &extra,
            nonce: get("oauth_nonce").unwrap_or_default(),
            timestamp: get("oauth_timestamp").map_or(0, |t| t.parse().unwrap()),
        };
        let params = signer.protocol_params(&unsigned).unwrap();
        assert_eq!(
            params.last().unwrap(),
            &("oauth_signature".to_owned(), vector.signature.clone()),
            "{}",
            vector.name
        );
    }
}

#[test]
fn tampering_with_any_vector_breaks_its_signature() {
    let vectors: SignatureVectors = load("signatures.json");
    let public_key = rsa_public_key_from_pem(&vectors.rsa_public_key_pem).unwrap();
    for vector in &vectors.cases {
        let case = Case::new(vector);
        let signed = SignedRequest::from_request(&case.incoming()).unwrap();
        let wrong_secret = format!("{}x", vector.client_secret);
        let keys = VerificationKeys {
            secrets: Secrets { client_secret: &wrong_secret, token_secret: &vector.token_secret },
            rsa_public_key: Some(&public_key),
        };
        if case.method != SignatureMethod::RsaSha1 {
            assert_eq!(signed.verify(keys), Err(ProtocolError::SignatureInvalid), "{}: wrong secret", vector.name);
        }
        let mut tampered_base = signed.base_string().to_owned();
        tampered_base.push('x');
        let keys = VerificationKeys { secrets: case.secrets(), rsa_public_key: Some(&public_key) };
        if case.method != SignatureMethod::Plaintext {
            assert_eq!(
                verify(case.method, &tampered_base, &vector.signature, keys),
                Err(ProtocolError::SignatureInvalid),
                "{}: altered request",
                vector.name
            );
        }
    }
}

#[test]
fn rsa_sha1_without_a_registered_key_is_a_rejected_method() {
    let vectors: SignatureVectors = load("signatures.json");
    let vector = vectors.cases.iter().find(|c| c.signature_method == "RSA-SHA1").unwrap();
    let case = Case::new(vector);
    let signed = SignedRequest::from_request(&case.incoming()).unwrap();
    let keys = VerificationKeys { secrets: case.secrets(), rsa_public_key: None };
    assert_eq!(signed.verify(keys), Err(ProtocolError::SignatureMethodRejected));
}

#[test]
fn every_valid_header_vector_parses() {
    let vectors: HeaderVectors = load("authorization-headers.json");
    for vector in &vectors.valid {
        let parsed = AuthorizationHeader::parse(&vector.header).unwrap_or_else(|e| panic!("{}: {e}", vector.header));
        assert_eq!(parsed.params(), vector.params.as_slice(), "{}", vector.header);
    }
}

#[test]
fn every_invalid_header_vector_is_refused_with_its_problem() {
    let vectors: HeaderVectors = load("authorization-headers.json");
    for vector in &vectors.invalid {
        let error = AuthorizationHeader::parse(&vector.header).expect_err(&vector.why);
        assert_eq!(ProtocolError::from(error).problem(), vector.problem, "{}: {}", vector.why, vector.header);
    }
}
