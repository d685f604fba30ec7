//! Unit tests of the shared Authorization header parser: which first tokens
//! are algorithm names, repeated and missing parameters, the access key's
//! shape, the header names `SignedHeaders` and a request's `Debug` may show.
//! Written against the mutants cargo-mutants left alive (tests/MUTANTS.md).

use super::*;
use crate::identity::request::{header_values, single_header, HttpParts};

const ALG: &str = "SDK-HMAC-SHA256";

fn sig() -> String {
    "ab".repeat(32)
}

fn parse(header: &str) -> Result<SignedAuthorization, AuthFailure> {
    parse_authorization(header, ALG, "Access")
}

fn is_malformed(r: Result<SignedAuthorization, AuthFailure>) -> bool {
    matches!(r, Err(AuthFailure::Malformed(_)))
}

#[test]
fn an_unknown_name_is_unsupported_anything_else_malformed() {
    let unsupported = |token: &str| {
        let r = parse(&format!(
            "{token} Access=a, SignedHeaders=host, Signature={}",
            sig()
        ));
        matches!(r, Err(AuthFailure::UnsupportedAlgorithm(_)))
    };
    assert!(unsupported("SDK-HMAC-SM3"));
    assert!(unsupported("V11_HMAC_SHA256"));
    assert!(unsupported("a1"));
    assert!(unsupported(&"A".repeat(64)));
    assert!(!unsupported(&"A".repeat(65)));
    assert!(!unsupported("AB$"));
    assert!(!unsupported("A.B"));
    assert!(is_malformed(parse("")));
    assert!(is_malformed(parse("   ")));
}

#[test]
fn parameters_are_each_given_once_and_well_formed() {
    let ok = parse(&format!(
        "{ALG} Access=AK1, SignedHeaders=host;x-sdk-date, Signature={}",
        sig()
    ))
    .unwrap();
    assert_eq!(ok.access_key, "AK1");
    assert_eq!(ok.signed_headers, ["host", "x-sdk-date"]);
    assert_eq!(ok.signature, sig());
    let s = sig();
    for bad in [
        format!("{ALG} Access=A, Access=B, SignedHeaders=host, Signature={s}"),
        format!("{ALG} Access=A, SignedHeaders=host, SignedHeaders=host, Signature={s}"),
        format!("{ALG} Access=A, SignedHeaders=host, Signature={s}, Signature={s}"),
        format!("{ALG} Access=, SignedHeaders=host, Signature={s}"),
        format!("{ALG} Access=A B, SignedHeaders=host, Signature={s}"),
        format!("{ALG} Access=A\u{7}B, SignedHeaders=host, Signature={s}"),
        format!("{ALG} SignedHeaders=host, Signature={s}"),
        format!("{ALG} Access=A, Signature={s}"),
        format!("{ALG} Access=A, SignedHeaders=host"),
        format!("{ALG} Access=A, SignedHeaders=host, Signature={}", &s[1..]),
        format!("{ALG} Access=A, SignedHeaders=host, Signature={s}, Extra=1"),
        format!("{ALG} Access=A, SignedHeaders=Host, Signature={s}"),
        format!("{ALG} Access=A, SignedHeaders=host;host, Signature={s}"),
        format!("{ALG} Access=A, SignedHeaders=host;, Signature={s}"),
    ] {
        assert!(is_malformed(parse(&bad)), "{bad}");
    }
}

#[test]
fn debug_shows_the_key_and_only_a_prefix_of_the_signature() {
    let auth = parse(&format!(
        "{ALG} Access=AK1, SignedHeaders=host, Signature={}",
        sig()
    ))
    .unwrap();
    let text = format!("{auth:?}");
    assert!(text.contains("AK1") && text.contains("host"), "{text}");
    assert!(
        text.contains("abababab…") && !text.contains(&sig()),
        "{text}"
    );
}

fn parts<'a>(headers: &'a http::HeaderMap, authority: Option<&'a str>) -> HttpParts<'a> {
    HttpParts {
        method: "GET",
        raw_path: "/p",
        raw_query: Some("q=1"),
        authority,
        headers,
        body: b"secret body",
    }
}

#[test]
fn the_authority_stands_in_for_host_only() {
    let mut headers = http::HeaderMap::new();
    headers.insert("x-a", http::HeaderValue::from_static(" v "));
    let req = parts(&headers, Some("gw.example"));
    assert_eq!(header_values(&req, "x-a").unwrap(), ["v"]);
    assert_eq!(header_values(&req, "host").unwrap(), ["gw.example"]);
    assert!(header_values(&req, "x-b").unwrap().is_empty());
    assert!(header_values(&parts(&headers, None), "host")
        .unwrap()
        .is_empty());
    assert!(header_values(&req, "X-A").is_err());
    for good in ["a", "0-9", "x!#$%&'*+-.^_`|~"] {
        assert!(header_values(&req, good).is_ok(), "{good}");
    }
    for bad in ["", "a b", "a:b", "é"] {
        assert!(header_values(&req, bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_requests_debug_shows_names_never_values() {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-security-token",
        http::HeaderValue::from_static("tok-123"),
    );
    let text = format!("{:?}", parts(&headers, None));
    assert!(
        text.contains("x-security-token") && text.contains("/p"),
        "{text}"
    );
    assert!(text.contains("body_len: 11"), "{text}");
    assert!(
        !text.contains("tok-123") && !text.contains("secret body"),
        "{text}"
    );
}

#[test]
fn an_absent_header_and_a_repeated_one_are_told_apart() {
    let mut headers = http::HeaderMap::new();
    headers.append("x-a", http::HeaderValue::from_static("1"));
    headers.append("x-a", http::HeaderValue::from_static("2"));
    headers.append("x-b", http::HeaderValue::from_static("3"));
    let req = parts(&headers, None);
    let message = |name: &str| match single_header(&req, name) {
        Err(AuthFailure::Malformed(m)) => m,
        other => panic!("{name}: {other:?}"),
    };
    assert!(message("x-c").contains("absent"), "{}", message("x-c"));
    assert!(message("x-a").contains("repeated"), "{}", message("x-a"));
    assert_eq!(single_header(&req, "x-b"), Ok("3"));
}

/// `SignedHeaders` names are lower-case RFC 9110 tokens: every token
/// character is accepted, anything else refused.
#[test]
fn signed_header_names_are_lower_case_tokens() {
    let signed = |names: &str| {
        parse(&format!(
            "{ALG} Access=A, SignedHeaders={names}, Signature={}",
            sig()
        ))
    };
    let specials = "!#$%&'*+-.^_`|~";
    let all = format!("abcdefghijklmnopqrstuvwxyz0123456789{specials}");
    assert_eq!(signed(&all).unwrap().signed_headers, [all]);
    for c in specials.chars() {
        assert!(signed(&format!("x{c}y")).is_ok(), "{c}");
    }
    for bad in [
        "Host", "x-Acs", "a\"b", "a(b", "a)b", "a/b", "a:b", "a@b", "a[b", "a{b", "a=b", "a?b",
        "a\\b", "é", "a\u{7f}",
    ] {
        assert!(is_malformed(signed(bad)), "{bad}");
    }
}
