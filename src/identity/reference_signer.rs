//! Test-only signers written straight from `spec/signing.md`, sharing no
//! code with the verifiers (their own percent-coding, canonical forms and
//! HMAC), so a positive test proves the verifier agrees with the spec and
//! not merely with itself. Both are checked against the vendors' vectors
//! first; a bug common to signer and verifier would have to match the
//! vendors' SDKs too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::test_vectors::{self, OwnedRequest};

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn hex_hmac(key: &[u8], text: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Percent-encodes every byte but `A-Za-z0-9-_.~`, upper-case hex.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-decodes (`%XY` → byte); with `plus`, `+` is a space.
fn decode(text: &str, plus: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let (mut out, mut i) = (Vec::new(), 0);
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
                continue;
            }
            (b'+', _) if plus => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    out
}

/// Decoded `(key, value)` pairs of a raw query.
fn pairs(query: &str, plus: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<_> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, plus), decode(v, plus))
        })
        .collect();
    out.sort();
    out
}

/// The values of header `name` (the host from the authority if absent).
fn values(req: &OwnedRequest, name: &str) -> Vec<String> {
    let mut out: Vec<String> = req
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().trim().to_string())
        .collect();
    if out.is_empty() && name == "host" {
        out.extend(req.authority.clone());
    }
    out
}

/// `SDK-HMAC-SHA256` signature of `req` over `signed` (spec steps 2–4).
pub(crate) fn huawei_signature(req: &OwnedRequest, signed: &[&str], sk: &[u8]) -> String {
    let path = if req.path.is_empty() { "/" } else { &req.path };
    let segments: Vec<String> = decode(path, false)
        .split(|b| *b == b'/')
        .map(encode)
        .collect();
    let mut uri = segments.join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let query: Vec<String> = pairs(req.query.as_deref().unwrap_or(""), false)
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let headers: String = signed
        .iter()
        .map(|n| format!("{n}:{}\n", values(req, n).join("")))
        .collect();
    let payload = match (
        req.body.is_empty(),
        values(req, "x-sdk-content-sha256").pop(),
    ) {
        (true, _) => hex_sha256(b""),
        (false, Some(declared)) => declared,
        (false, None) => hex_sha256(&req.body),
    };
    let canonical = [
        req.method.to_uppercase(),
        uri,
        query.join("&"),
        headers,
        signed.join(";"),
        payload,
    ]
    .join("\n");
    let date = values(req, "x-sdk-date").pop().unwrap();
    let to_sign = format!(
        "SDK-HMAC-SHA256\n{date}\n{}",
        hex_sha256(canonical.as_bytes())
    );
    hex_hmac(sk, &to_sign)
}

/// `ACS3-HMAC-SHA256` signature of `req` over `signed` (spec steps 2–4).
pub(crate) fn acs3_signature(req: &OwnedRequest, signed: &[&str], secret: &[u8]) -> String {
    let uri = if req.path.is_empty() { "/" } else { &req.path };
    let query: Vec<String> = pairs(req.query.as_deref().unwrap_or(""), true)
        .iter()
        .map(|(k, v)| format!("{}={}", String::from_utf8(k.clone()).unwrap(), encode(v)))
        .collect();
    let mut names: Vec<&str> = signed.to_vec();
    names.sort();
    let headers: String = names
        .iter()
        .map(|n| {
            let mut vs = values(req, n);
            vs.sort();
            format!("{n}:{}\n", vs.join(","))
        })
        .collect();
    let payload = values(req, "x-acs-content-sha256").pop().unwrap();
    let canonical = [
        req.method.clone(),
        uri.to_string(),
        query.join("&"),
        headers,
        signed.join(";"),
        payload,
    ]
    .join("\n");
    hex_hmac(
        secret,
        &format!("ACS3-HMAC-SHA256\n{}", hex_sha256(canonical.as_bytes())),
    )
}

/// `(signed headers, signature)` of an Authorization header.
fn signed_and_signature(authorization: &str) -> (Vec<String>, String) {
    let field = |name: &str| {
        let start = authorization.find(name).unwrap() + name.len();
        let rest = &authorization[start..];
        rest.split(',').next().unwrap().trim().to_string()
    };
    let signed = field("SignedHeaders=")
        .split(';')
        .map(str::to_string)
        .collect();
    (signed, field("Signature="))
}

#[test]
fn the_reference_signers_reproduce_the_vendor_vectors() {
    for v in test_vectors::huawei() {
        let mut req = OwnedRequest {
            method: v.title.split(' ').next().unwrap().to_owned(),
            headers: test_vectors::headers_from_canonical(&v.section("canonical request")),
            ..OwnedRequest::default()
        };
        req.set_uri(&v.line("wire uri"));
        let body = v.title.rsplit_once(" body=").unwrap().1;
        if let Some(inner) = body.strip_prefix("b'") {
            req.body = inner.strip_suffix('\'').unwrap().as_bytes().to_vec();
        }
        let (signed, signature) = signed_and_signature(&v.line("Authorization"));
        let signed: Vec<&str> = signed.iter().map(String::as_str).collect();
        assert_eq!(
            huawei_signature(&req, &signed, b"SKEXAMPLE"),
            signature,
            "{}",
            v.title
        );
    }
    let v = test_vectors::acs3();
    let canonical = v.section("canonical request");
    let mut lines = canonical.lines();
    let req = OwnedRequest {
        method: lines.next().unwrap().to_owned(),
        path: lines.next().unwrap().to_owned(),
        query: Some(v.line("wire query (SDK urlencode)")),
        headers: test_vectors::headers_from_canonical(&canonical),
        ..OwnedRequest::default()
    };
    let (signed, signature) = signed_and_signature(&v.line("Authorization"));
    let signed: Vec<&str> = signed.iter().map(String::as_str).collect();
    assert_eq!(acs3_signature(&req, &signed, b"testsecret"), signature);
}
