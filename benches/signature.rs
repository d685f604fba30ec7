//! Signature verification for a 1 KiB body (issue 9's target: ≤ 3 µs),
//! both schemes, as the gateway runs it: parse the `Authorization` header,
//! then verify (date window, body hash, canonical request, HMAC, constant-
//! time compare). Beside each, its baseline: the cryptography alone that no
//! verifier can skip (SHA-256 of the body, SHA-256 of a canonical request of
//! the same length, HMAC chain of the signing key), so the ratio says what
//! the parsing and canonicalisation around it cost.
//!
//! ACS3's nonce is left out (`verify_acs3_signature`): recording it in the
//! replay store is a hash-map insert, measured with the pipeline in
//! `benches/load`. The request is signed here with the crate's own
//! canonicaliser; that the verifier agrees with the vendors is the unit
//! tests' job (vendor vectors and an independent signer), not this bench's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use iamgate::identity::{
    acs3_canonical_request, acs3_string_to_sign, hmac_sha256_hex, parse_acs3, parse_sdk_hmac,
    sdk_hmac_canonical_request, sdk_hmac_string_to_sign, sha256_hex, verify_acs3_signature,
    verify_sdk_hmac, HttpParts, UnsignedPayload,
};
use time::OffsetDateTime;

/// The gateway's allocator (src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &[u8] = b"bench-secret-not-real";
const PATH: &str = "/v1/0123456789abcdef0123456789abcdef/notebooks";
const HOST: &str = "modelarts.cn-north-4.myhuaweicloud.com";

/// A JSON body of exactly 1 KiB.
fn body() -> Vec<u8> {
    let head = br#"{"name":"bench","description":""#;
    let tail = br#""}"#;
    let mut b = head.to_vec();
    b.resize(1024 - tail.len(), b'x');
    b.extend_from_slice(tail);
    b
}

fn parts<'a>(method: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> HttpParts<'a> {
    HttpParts {
        method,
        raw_path: PATH,
        raw_query: Some("limit=10&offset=0"),
        authority: None,
        headers,
        body,
    }
}

fn header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    headers.insert(name, value.parse().unwrap());
}

/// `now` in UTC as `YYYY<d>MM<d>DDTHH<t>MM<t>SSZ`: Huawei's `X-Sdk-Date`
/// has no separators, Alibaba's `x-acs-date` is ISO 8601.
fn stamp(now: OffsetDateTime, d: &str, t: &str) -> String {
    let (h, m, s) = now.to_hms();
    let (year, month, day) = (now.year(), u8::from(now.month()), now.day());
    format!("{year:04}{d}{month:02}{d}{day:02}T{h:02}{t}{m:02}{t}{s:02}Z")
}

/// A POST signed with SDK-HMAC-SHA256 (Huawei).
fn sdk_hmac_request(now: OffsetDateTime, body: &[u8]) -> HeaderMap {
    let date = stamp(now, "", "");
    let mut h = HeaderMap::new();
    header(&mut h, "host", HOST);
    header(&mut h, "content-type", "application/json");
    header(&mut h, "x-sdk-date", &date);
    let signed: Vec<String> = ["content-type", "host", "x-sdk-date"]
        .map(String::from)
        .into();
    let canonical = sdk_hmac_canonical_request(&parts("POST", &h, body), &signed).unwrap();
    let sig = hmac_sha256_hex(SECRET, &sdk_hmac_string_to_sign(&date, &canonical));
    let auth = format!(
        "SDK-HMAC-SHA256 Access=BENCHAK, SignedHeaders={}, Signature={sig}",
        signed.join(";")
    );
    header(&mut h, "authorization", &auth);
    h
}

/// A POST signed with ACS3-HMAC-SHA256 (Alibaba).
fn acs3_request(now: OffsetDateTime, body: &[u8]) -> HeaderMap {
    let date = stamp(now, "-", ":");
    let mut h = HeaderMap::new();
    header(&mut h, "host", "agentrun.cn-hangzhou.aliyuncs.com");
    header(&mut h, "content-type", "application/json");
    header(&mut h, "x-acs-action", "CreateAgentRuntime");
    header(&mut h, "x-acs-version", "2025-09-10");
    header(&mut h, "x-acs-date", &date);
    header(&mut h, "x-acs-signature-nonce", "3f0a9c1e-bench-nonce");
    header(&mut h, "x-acs-content-sha256", &sha256_hex(body));
    let signed: Vec<String> = [
        "content-type",
        "host",
        "x-acs-action",
        "x-acs-content-sha256",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-version",
    ]
    .map(String::from)
    .into();
    let canonical = acs3_canonical_request(&parts("POST", &h, body), &signed).unwrap();
    let sig = hmac_sha256_hex(SECRET, &acs3_string_to_sign(&canonical));
    let auth = format!(
        "ACS3-HMAC-SHA256 Credential=BENCHAK,SignedHeaders={},Signature={sig}",
        signed.join(";")
    );
    header(&mut h, "authorization", &auth);
    h
}

fn authorization(h: &HeaderMap) -> &str {
    h.get("authorization").unwrap().to_str().unwrap()
}

/// What no verifier can skip: hash the body, hash a canonical request of
/// this length, one HMAC over the string to sign.
fn crypto_floor(body: &[u8], canonical_len: usize) -> String {
    let canonical = "c".repeat(canonical_len);
    let body_hash = sha256_hex(body);
    let string_to_sign = format!("ALG\n{}", sha256_hex(canonical.as_bytes()));
    hmac_sha256_hex(SECRET, &(string_to_sign + &body_hash))
}

fn signatures(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let body = body();
    let mut g = c.benchmark_group("signature_1KiB_body");

    let h = sdk_hmac_request(now, &body);
    let req = parts("POST", &h, &body);
    let signed: Vec<String> = ["content-type", "host", "x-sdk-date"]
        .map(String::from)
        .into();
    let canonical_len = sdk_hmac_canonical_request(&req, &signed).unwrap().len();
    let verify = || {
        let auth = parse_sdk_hmac(authorization(&h)).unwrap();
        verify_sdk_hmac(&req, &auth, SECRET, now, UnsignedPayload::Refused)
    };
    assert_eq!(verify(), Ok(()), "the bench request must verify");
    g.bench_function("sdk_hmac_sha256/iamgate", |b| {
        b.iter(|| black_box(verify()))
    });
    g.bench_function("sdk_hmac_sha256/crypto_floor", |b| {
        b.iter(|| black_box(crypto_floor(black_box(&body), canonical_len)))
    });

    let h = acs3_request(now, &body);
    let req = parts("POST", &h, &body);
    let verify = || {
        let auth = parse_acs3(authorization(&h)).unwrap();
        verify_acs3_signature(&req, &auth, SECRET, now, false)
    };
    assert!(verify().is_ok(), "the bench request must verify");
    let auth = parse_acs3(authorization(&h)).unwrap();
    let canonical_len = acs3_canonical_request(&req, &auth.signed_headers)
        .unwrap()
        .len();
    g.bench_function("acs3_hmac_sha256/iamgate", |b| {
        b.iter(|| black_box(verify()))
    });
    g.bench_function("acs3_hmac_sha256/crypto_floor", |b| {
        b.iter(|| black_box(crypto_floor(black_box(&body), canonical_len)))
    });
    g.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
