//! Tests of the Huawei `SDK-HMAC-SHA256` verifier: the vendor vectors, every
//! refusal reason, and a property test that parsing and canonicalising never
//! panic.

use proptest::prelude::*;
use time::macros::datetime;

use super::*;
use crate::identity::crypto::hmac_sha256_hex;
use crate::identity::reference_signer;
use crate::identity::test_vectors::{self, headers_from_canonical, OwnedRequest, Vector};

/// The canonical URI alone.
fn canonical_uri(raw_path: &str) -> String {
    let mut out = String::new();
    push_canonical_uri(&mut out, raw_path);
    out
}

/// The canonical query alone.
fn canonical_query(raw_query: Option<&str>) -> String {
    let mut out = String::new();
    push_canonical_query(&mut out, raw_query);
    out
}

const SK: &[u8] = b"SKEXAMPLE";
const DATE: OffsetDateTime = datetime!(2024-01-01 00:00:00 UTC);
const NOW: OffsetDateTime = datetime!(2024-01-01 00:05:00 UTC);

/// Rebuilds a vector's request from its wire URI, canonical headers and body.
fn request_from(v: &Vector) -> OwnedRequest {
    let mut req = OwnedRequest {
        method: v.title.split(' ').next().unwrap().to_owned(),
        headers: headers_from_canonical(&v.section("canonical request")),
        ..OwnedRequest::default()
    };
    req.set_uri(&v.line("wire uri"));
    let body = v.title.rsplit_once(" body=").unwrap().1;
    if body != "None" {
        let inner = body.strip_prefix("b'").unwrap().strip_suffix('\'').unwrap();
        req.body = inner.as_bytes().to_vec();
    }
    req
}

fn vector_auth(v: &Vector) -> SdkHmacAuth {
    parse_sdk_hmac(&v.line("Authorization")).unwrap()
}

/// The POST vector (the one with a body) and its Authorization.
fn post_vector() -> (OwnedRequest, SdkHmacAuth) {
    let v = test_vectors::huawei()
        .into_iter()
        .find(|v| v.title.starts_with("POST"))
        .unwrap();
    (request_from(&v), vector_auth(&v))
}

/// Signs `req` with the independent reference signer (for cases the
/// vectors do not cover), never with the verifier's own canonicaliser.
fn sign(req: &OwnedRequest, signed: &[&str]) -> SdkHmacAuth {
    SdkHmacAuth {
        access_key: "AKEXAMPLE".into(),
        signature: reference_signer::huawei_signature(req, signed, SK),
        signed_headers: signed.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn vendor_vectors_rebuild_canonical_request_string_to_sign_and_signature() {
    let vectors = test_vectors::huawei();
    assert_eq!(
        vectors.len(),
        3,
        "GET with query, POST with body, DELETE with %2F"
    );
    for v in &vectors {
        let req = request_from(v);
        let auth = vector_auth(v);
        assert_eq!(auth.access_key, "AKEXAMPLE");
        let canonical = sdk_hmac_canonical_request(&req.parts(), &auth.signed_headers).unwrap();
        assert_eq!(canonical, v.section("canonical request"), "{}", v.title);
        let sts = sdk_hmac_string_to_sign("20240101T000000Z", &canonical);
        assert_eq!(sts, v.section("string to sign"), "{}", v.title);
        assert_eq!(hmac_sha256_hex(SK, &sts), auth.signature, "{}", v.title);
        assert_eq!(
            verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
            Ok(())
        );
    }
}

#[test]
fn host_comes_from_the_authority_when_there_is_no_host_header() {
    let (mut req, auth) = post_vector();
    req.headers.remove("host");
    assert!(matches!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::Malformed(_))
    ));
    req.authority = Some("127.0.0.1:8080".into());
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Ok(())
    );
}

#[test]
fn wrong_secret_is_a_mismatch() {
    let (req, auth) = post_vector();
    assert_eq!(
        verify_sdk_hmac(
            &req.parts(),
            &auth,
            b"SKWRONG",
            NOW,
            UnsignedPayload::Allowed
        ),
        Err(AuthFailure::SignatureMismatch)
    );
}

#[test]
fn tampered_signed_header_is_a_mismatch() {
    let (mut req, auth) = post_vector();
    req.set("x-project-id", "otherproj");
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::SignatureMismatch)
    );
}

#[test]
fn body_changed_after_signing_is_a_mismatch() {
    let (mut req, auth) = post_vector();
    req.body = br#"{"name":"nb2"}"#.to_vec();
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::SignatureMismatch)
    );
}

#[test]
fn date_window_is_fifteen_minutes_either_way() {
    let (req, auth) = post_vector();
    let verify = |now| verify_sdk_hmac(&req.parts(), &auth, SK, now, UnsignedPayload::Allowed);
    let expired = Err(AuthFailure::Expired {
        date: "20240101T000000Z".into(),
    });
    assert_eq!(verify(DATE + time::Duration::minutes(14)), Ok(()));
    assert_eq!(verify(DATE + time::Duration::minutes(16)), expired);
    assert_eq!(verify(DATE - time::Duration::minutes(14)), Ok(()));
    assert_eq!(verify(DATE - time::Duration::minutes(16)), expired);
}

#[test]
fn unparsable_date_is_expired() {
    let (mut req, _) = post_vector();
    req.set("x-sdk-date", "2024-01-01T00:00:00Z");
    let auth = sign(&req, &["host", "x-sdk-date"]);
    assert!(matches!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::Expired { .. })
    ));
}

#[test]
fn signed_headers_must_include_host_and_date() {
    let (req, auth) = post_vector();
    for missing in ["host", "x-sdk-date"] {
        let mut partial = auth.clone();
        partial.signed_headers.retain(|h| h != missing);
        let err =
            verify_sdk_hmac(&req.parts(), &partial, SK, NOW, UnsignedPayload::Allowed).unwrap_err();
        assert!(
            matches!(err, AuthFailure::Malformed(ref m) if m.contains(missing)),
            "{err}"
        );
    }
}

#[test]
fn absent_or_repeated_signed_header_is_malformed() {
    let (mut req, auth) = post_vector();
    req.headers.remove("user-agent");
    assert!(matches!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::Malformed(_))
    ));
    let (mut req, auth) = post_vector();
    req.headers
        .append("x-project-id", "proj123".parse().unwrap());
    assert!(matches!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::Malformed(_))
    ));
}

#[test]
fn security_token_means_temporary_credentials() {
    let (mut req, _) = post_vector();
    req.set("x-security-token", "token");
    let auth = sign(&req, &["host", "x-sdk-date", "x-security-token"]);
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::TemporaryCredentials)
    );
}

#[test]
fn other_algorithms_are_unsupported() {
    for alg in [
        "SDK-HMAC-SM3",
        "V11-HMAC-SHA256",
        "ECDSA",
        "ACS3-HMAC-SHA256",
    ] {
        let header = format!("{alg} Access=AK, SignedHeaders=host, Signature=00");
        assert_eq!(
            parse_sdk_hmac(&header),
            Err(AuthFailure::UnsupportedAlgorithm(alg.into()))
        );
    }
}

#[test]
fn garbage_authorization_is_malformed() {
    let sig = "a".repeat(64);
    let cases = [
        String::new(),
        "SDK-HMAC-SHA256".into(),
        "SDK-HMAC-SHA256 garbage".into(),
        "{}".into(),
        format!("SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature={sig}"),
        format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=zz{sig}"),
        format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=Host, Signature={sig}"),
        format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;;a, Signature={sig}"),
        format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;host, Signature={sig}"),
        format!("SDK-HMAC-SHA256 Access=AK, Access=AK, SignedHeaders=host, Signature={sig}"),
        format!("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature={sig}, X=1"),
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host".into(),
    ];
    for case in cases {
        assert!(
            matches!(parse_sdk_hmac(&case), Err(AuthFailure::Malformed(_))),
            "{case:?}"
        );
    }
}

#[test]
fn separator_without_space_is_accepted() {
    let sig = "a".repeat(64);
    let auth = parse_sdk_hmac(&format!(
        "SDK-HMAC-SHA256 Access=AK,SignedHeaders=host;x-sdk-date,Signature={sig}"
    ))
    .unwrap();
    assert_eq!(auth.signed_headers, ["host", "x-sdk-date"]);
}

#[test]
fn unsigned_payload_is_honoured_and_a_pinned_hash_must_match_the_body() {
    let (mut req, _) = post_vector();
    req.set("x-sdk-content-sha256", "UNSIGNED-PAYLOAD");
    let auth = sign(&req, &["host", "x-sdk-content-sha256", "x-sdk-date"]);
    assert!(
        sdk_hmac_canonical_request(&req.parts(), &auth.signed_headers)
            .unwrap()
            .ends_with("\nUNSIGNED-PAYLOAD")
    );
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Ok(())
    );

    // A request signed over the real body hash, replayed with that hash pinned
    // in an (unsigned) X-Sdk-Content-Sha256 and a different body.
    let (mut req, auth) = post_vector();
    let original_hash = sha256_hex(&req.body);
    req.set("x-sdk-content-sha256", &original_hash);
    req.body = br#"{"name":"evil"}"#.to_vec();
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::BodyHashMismatch)
    );
}

#[test]
fn unsigned_payload_with_a_body_is_refused_when_asked() {
    let (mut req, _) = post_vector();
    req.set("x-sdk-content-sha256", "UNSIGNED-PAYLOAD");
    let auth = sign(&req, &["host", "x-sdk-date"]);
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Refused),
        Err(AuthFailure::UnsignedPayload)
    );
    // The body was never signed: any body verifies when allowed.
    req.body = br#"{"name":"swapped"}"#.to_vec();
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Ok(())
    );
    // Without a body nothing is unsigned: the header is ignored.
    req.body.clear();
    let auth = sign(&req, &["host", "x-sdk-date"]);
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Refused),
        Ok(())
    );
}

#[test]
fn an_unsigned_content_sha256_header_cannot_be_added_or_changed() {
    // Signed over the body hash, then UNSIGNED-PAYLOAD added by a relay.
    let (mut req, auth) = post_vector();
    req.set("x-sdk-content-sha256", "UNSIGNED-PAYLOAD");
    req.body = br#"{"name":"evil"}"#.to_vec();
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed),
        Err(AuthFailure::SignatureMismatch)
    );
}

#[test]
fn canonical_uri_and_query_rules() {
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/"), "/");
    assert_eq!(canonical_uri("/a/b/"), "/a/b/");
    assert_eq!(canonical_uri("/a%2fb/%7e%41"), "/a/b/~A/");
    assert_eq!(canonical_uri("/caf%C3%A9"), "/caf%C3%A9/");
    assert_eq!(canonical_query(None), "");
    assert_eq!(canonical_query(Some("b=2&a=1&a=0&k")), "a=0&a=1&b=2&k=");
    assert_eq!(canonical_query(Some("x=a%20b&y=a+b")), "x=a%20b&y=a%2Bb");
}

#[test]
fn debug_does_not_show_the_full_signature() {
    let (_, auth) = post_vector();
    let shown = format!("{auth:?}");
    assert!(!shown.contains(&auth.signature));
    assert!(shown.contains("AKEXAMPLE"));
    let (mut req, _) = post_vector();
    req.set(
        "authorization",
        &format!("SDK-HMAC-SHA256 Signature={}", auth.signature),
    );
    assert!(!format!("{:?}", req.parts()).contains(&auth.signature));
}

proptest! {
    #[test]
    fn parsing_and_canonicalising_never_panic(
        header in ".*",
        tail in "[A-Za-z=,; ;%0-9-]{0,60}",
        path in "[/%A-Za-z0-9 ~+.\u{e9}-]{0,40}",
        query in proptest::option::of("[=&%+A-Za-z0-9 \u{e9}-]{0,40}"),
        method in "[A-Za-z]{0,8}",
    ) {
        let _ = parse_sdk_hmac(&header);
        let _ = parse_sdk_hmac(&format!("SDK-HMAC-SHA256 {tail}"));
        let (mut req, auth) = post_vector();
        req.method = method;
        req.path = path;
        req.query = query;
        let _ = sdk_hmac_canonical_request(&req.parts(), &auth.signed_headers);
        let signed = vec![header.to_lowercase()];
        let _ = sdk_hmac_canonical_request(&req.parts(), &signed);
        let _ = verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Allowed);
    }
}

#[test]
fn the_head_checks_refuse_before_any_body_is_read() {
    let (req, auth) = post_vector();
    let head =
        |req: &OwnedRequest, auth: &SdkHmacAuth, now| check_sdk_hmac_head(&req.parts(), auth, now);
    assert_eq!(head(&req, &auth, NOW), Ok(()));
    let late = head(&req, &auth, DATE + time::Duration::minutes(16));
    assert!(matches!(late, Err(AuthFailure::Expired { .. })), "{late:?}");
    let mut with_token = req.clone();
    with_token.set("x-security-token", "sts");
    assert_eq!(
        head(&with_token, &auth, NOW),
        Err(AuthFailure::TemporaryCredentials)
    );
    let mut unsigned_date = auth.clone();
    unsigned_date.signed_headers.retain(|h| h != "x-sdk-date");
    assert!(matches!(
        head(&req, &unsigned_date, NOW),
        Err(AuthFailure::Malformed(_))
    ));
}

#[test]
fn temporary_credentials_need_the_token_signed_and_a_valid_signature() {
    let (mut req, _) = post_vector();
    req.set("x-security-token", "sts-token");
    let auth = sign(&req, &["host", "x-sdk-date", "x-security-token"]);
    let verify = |auth: &SdkHmacAuth, secret: &[u8]| {
        verify_sdk_hmac_session(&req.parts(), auth, secret, NOW, UnsignedPayload::Allowed)
    };
    assert_eq!(verify(&auth, SK), Ok(()));
    assert_eq!(
        verify(&auth, b"SKWRONG"),
        Err(AuthFailure::SignatureMismatch)
    );

    let head = |auth: &SdkHmacAuth, now| check_sdk_hmac_session_head(&req.parts(), auth, now);
    assert_eq!(head(&auth, NOW), Ok(()));
    let late = head(&auth, DATE + time::Duration::minutes(16));
    assert!(matches!(late, Err(AuthFailure::Expired { .. })), "{late:?}");
    let mut token_unsigned = auth.clone();
    token_unsigned
        .signed_headers
        .retain(|h| h != "x-security-token");
    let err = head(&token_unsigned, NOW).unwrap_err();
    assert!(
        matches!(err, AuthFailure::Malformed(ref m) if m.contains("x-security-token")),
        "{err}"
    );
}

#[test]
fn without_a_body_a_declared_hash_is_not_compared() {
    // An empty body is always signed as the hash of nothing, so whatever
    // X-Sdk-Content-Sha256 says cannot unsign or pin anything.
    let (mut req, _) = post_vector();
    req.body.clear();
    req.set("x-sdk-content-sha256", &"0".repeat(64));
    let auth = sign(&req, &["host", "x-sdk-date"]);
    assert_eq!(
        verify_sdk_hmac(&req.parts(), &auth, SK, NOW, UnsignedPayload::Refused),
        Ok(())
    );
}
