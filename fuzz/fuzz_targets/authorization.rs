//! Both `Authorization` parsers, both canonicalisers and both verifiers.
//!
//! Input: fields separated by the byte 0xFF (never part of UTF-8 text):
//! Authorization header, method, path[?query], header lines (`name: value`),
//! body. With a fixed secret and a fixed `now` per scheme (the dates of the
//! vendors' vectors): nothing panics; a verification succeeds only when the
//! signature is the one computed for this very request; and the request
//! re-signed with that computed signature never fails as a mismatch.
#![no_main]

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use iamgate::identity::{
    acs3_canonical_request, acs3_string_to_sign, hmac_sha256_hex, parse_acs3, parse_sdk_hmac,
    sdk_hmac_canonical_request, sdk_hmac_string_to_sign, verify_acs3, verify_sdk_hmac, AuthFailure, UnsignedPayload,
    HttpParts, NonceStore, SignedAuthorization,
};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;
use time::OffsetDateTime;

const HUAWEI_SECRET: &[u8] = b"SKEXAMPLE";
const ALIYUN_SECRET: &[u8] = b"testsecret";
const HUAWEI_NOW: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);
const ALIYUN_NOW: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);

/// `name: value` lines → a header map; lines that are not a valid header are skipped.
fn headers(text: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes());
        let value = HeaderValue::from_bytes(value.trim().as_bytes());
        if let (Ok(name), Ok(value)) = (name, value) {
            map.append(name, value);
        }
    }
    map
}

/// Every header name received, sorted: the signed headers when the
/// Authorization header did not parse, so the canonicalisers still run.
fn all_names(map: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = map.keys().map(|k| k.as_str().to_string()).collect();
    names.sort();
    names.dedup();
    names
}

fn text<'a>(field: Option<&&'a [u8]>) -> &'a str {
    field
        .and_then(|f| std::str::from_utf8(f).ok())
        .unwrap_or("")
}

fn huawei(req: &HttpParts, parsed: Option<SignedAuthorization>) {
    let signed = parsed
        .as_ref()
        .map_or_else(|| all_names(req.headers), |a| a.signed_headers.clone());
    let Ok(canonical) = sdk_hmac_canonical_request(req, &signed) else {
        return;
    };
    let date = req
        .headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let expected = hmac_sha256_hex(
        HUAWEI_SECRET,
        &sdk_hmac_string_to_sign(date.trim(), &canonical),
    );
    if let Some(auth) = &parsed {
        if verify_sdk_hmac(req, auth, HUAWEI_SECRET, HUAWEI_NOW, UnsignedPayload::Refused).is_ok() {
            assert!(
                auth.signature.eq_ignore_ascii_case(&expected),
                "verified a foreign signature"
            );
        }
    }
    let resigned = SignedAuthorization {
        access_key: "AKEXAMPLE".into(),
        signed_headers: signed,
        signature: expected,
    };
    let result = verify_sdk_hmac(req, &resigned, HUAWEI_SECRET, HUAWEI_NOW, UnsignedPayload::Refused);
    assert_ne!(result, Err(AuthFailure::SignatureMismatch), "{req:?}");
}

fn aliyun(req: &HttpParts, parsed: Option<SignedAuthorization>) {
    let signed = parsed
        .as_ref()
        .map_or_else(|| all_names(req.headers), |a| a.signed_headers.clone());
    let Ok(canonical) = acs3_canonical_request(req, &signed) else {
        return;
    };
    let expected = hmac_sha256_hex(ALIYUN_SECRET, &acs3_string_to_sign(&canonical));
    if let Some(auth) = &parsed {
        let nonces = NonceStore::new(16, Duration::from_secs(900));
        if verify_acs3(req, auth, ALIYUN_SECRET, ALIYUN_NOW, &nonces).is_ok() {
            assert!(
                auth.signature.eq_ignore_ascii_case(&expected),
                "verified a foreign signature"
            );
        }
    }
    let resigned = SignedAuthorization {
        access_key: "testid".into(),
        signed_headers: signed,
        signature: expected,
    };
    let nonces = NonceStore::new(16, Duration::from_secs(900));
    let result = verify_acs3(req, &resigned, ALIYUN_SECRET, ALIYUN_NOW, &nonces);
    assert_ne!(result, Err(AuthFailure::SignatureMismatch), "{req:?}");
    if result.is_ok() {
        // The same nonce a second time is a replay.
        let again = verify_acs3(req, &resigned, ALIYUN_SECRET, ALIYUN_NOW, &nonces);
        assert_eq!(again, Err(AuthFailure::NonceReused));
    }
}

fuzz_target!(|data: &[u8]| {
    let fields: Vec<&[u8]> = data.split(|b| *b == 0xFF).collect();
    let authorization = text(fields.first());
    let sdk = parse_sdk_hmac(authorization).ok();
    let acs = parse_acs3(authorization).ok();
    let (path, query) = match text(fields.get(2)).split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (text(fields.get(2)), None),
    };
    let map = headers(text(fields.get(3)));
    let req = HttpParts {
        method: text(fields.get(1)),
        raw_path: path,
        raw_query: query,
        authority: None,
        headers: &map,
        body: fields.get(4).copied().unwrap_or(b""),
    };
    huawei(&req, sdk);
    aliyun(&req, acs);
});
