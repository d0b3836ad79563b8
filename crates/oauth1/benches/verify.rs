//! What verifying one signed request costs the server, before any database work.
//! Run: `cargo bench -p grantlog-oauth1 --bench verify`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use grantlog_oauth1::{
    AuthorizationHeader, IncomingRequest, Secrets, SignatureMethod, SignedRequest, Signer, Unsigned, VerificationKeys,
    rsa_private_key_from_pem, rsa_public_key_from_pem,
};

const URL: &str = "http://127.0.0.1:8080/api/photos?size=original&page=2";
const CLIENT_SECRET: &str = "beppa-demo-secret";
const TOKEN_SECRET: &str = "k2HlqL0aQ3v0wYc9v1sPUeX8";

fn header(method: SignatureMethod) -> String {
    let vectors: serde_json::Value = serde_json::from_str(include_str!("../tests/vectors/signatures.json")).unwrap();
    let rsa_key = rsa_private_key_from_pem(vectors["rsa_private_key_pem"].as_str().unwrap()).unwrap();
    let signer = Signer::new("beppa-demo-key", CLIENT_SECRET, method)
        .with_token("a7Tq2mZp9Kc4Lr8Wn1Xs", TOKEN_SECRET)
        .with_rsa_key(rsa_key);
    let unsigned = Unsigned {
        method: "GET",
        url: URL,
        body: &[],
        extra: &[("oauth_version", "1.0")],
        nonce: "9b2c47e1f0a84d5e8c3b1a6f",
        timestamp: 1_795_600_000,
    };
    signer.authorization_header(&unsigned, Some("Faji")).unwrap()
}

fn verify(header: &str, keys: VerificationKeys<'_>) {
    let request =
        IncomingRequest { method: "GET", url: URL, authorization: Some(header), content_type: None, body: b"" };
    let signed = SignedRequest::from_request(&request).unwrap();
    signed.verify(keys).unwrap();
}

fn benches(c: &mut Criterion) {
    let vectors: serde_json::Value = serde_json::from_str(include_str!("../tests/vectors/signatures.json")).unwrap();
    let public_key = rsa_public_key_from_pem(vectors["rsa_public_key_pem"].as_str().unwrap()).unwrap();
    let keys = VerificationKeys {
        secrets: Secrets { client_secret: CLIENT_SECRET, token_secret: TOKEN_SECRET },
        rsa_public_key: Some(&public_key),
    };

    let hmac_header = header(SignatureMethod::HmacSha1);
    c.bench_function("parse Authorization header", |b| {
        b.iter(|| AuthorizationHeader::parse(black_box(&hmac_header)).unwrap())
    });
    c.bench_function("verify HMAC-SHA1 request (parse, base string, HMAC)", |b| {
        b.iter(|| verify(black_box(&hmac_header), keys))
    });
    let sha256_header = header(SignatureMethod::HmacSha256);
    c.bench_function("verify HMAC-SHA256 request", |b| b.iter(|| verify(black_box(&sha256_header), keys)));
    let rsa_header = header(SignatureMethod::RsaSha1);
    c.bench_function("verify RSA-SHA1 request (1024-bit key)", |b| b.iter(|| verify(black_box(&rsa_header), keys)));
}

criterion_group!(verify_benches, benches);
criterion_main!(verify_benches);
