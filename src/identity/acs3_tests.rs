//! Tests of the Alibaba `ACS3-HMAC-SHA256` verifier: the vendor vector, every
//! refusal reason, the nonce rules, and a property test that parsing and
//! canonicalising never panic.

use std::time::Duration;

use proptest::prelude::*;
use time::macros::datetime;

use super::*;
use crate::identity::crypto::hmac_sha256_hex;
use crate::identity::reference_signer;
use crate::identity::test_vectors::{self, headers_from_canonical, OwnedRequest};

/// The canonical query alone.
fn canonical_query(raw_query: Option<&str>) -> Result<String, AuthFailure> {
    let mut out = String::new();
    push_canonical_query(&mut out, raw_query)?;
    Ok(out)
}

const SECRET: &[u8] = b"testsecret";
const DATE: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);
const NOW: OffsetDateTime = datetime!(2025-01-01 00:05:00 UTC);
const BODY: &[u8] = br#"{"templateName":"my tpl","cpu":2}"#;
const SIGNED: [&str; 6] = [
    "content-type",
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
];

fn store() -> NonceStore {
    NonceStore::new(1000, Duration::from_secs(900))
}

/// The vector's request: method, raw path and the canonical headers, with
/// the SDK's wire query.
fn vector_request() -> (OwnedRequest, Acs3Auth, test_vectors::Vector) {
    let v = test_vectors::acs3();
    let canonical = v.section("canonical request");
    let mut lines = canonical.lines();
    let req = OwnedRequest {
        method: lines.next().unwrap().to_owned(),
        path: lines.next().unwrap().to_owned(),
        query: Some(v.line("wire query (SDK urlencode)")),
        headers: headers_from_canonical(&canonical),
        ..OwnedRequest::default()
    };
    let auth = parse_acs3(&v.line("Authorization")).unwrap();
    (req, auth, v)
}

/// A request of our own, with a body, signed over `SIGNED`.
fn own_request(nonce: &str) -> (OwnedRequest, Acs3Auth) {
    let mut req = OwnedRequest {
        method: "POST".into(),
        path: "/2025-09-10/templates".into(),
        query: Some("clientToken=a+b".into()),
        body: BODY.to_vec(),
        ..OwnedRequest::default()
    };
    req.set("content-type", "application/json");
    req.set("host", "127.0.0.1:8080");
    req.set("x-acs-action", "CreateTemplate");
    req.set("x-acs-content-sha256", &sha256_hex(BODY));
    req.set("x-acs-date", "2025-01-01T00:00:00Z");
    req.set("x-acs-signature-nonce", nonce);
    let auth = sign(&req, &SIGNED);
    (req, auth)
}

/// Signs `req` with the independent reference signer, never with the
/// verifier's own canonicaliser.
fn sign(req: &OwnedRequest, signed: &[&str]) -> Acs3Auth {
    Acs3Auth {
        access_key: "testid".into(),
        signature: reference_signer::acs3_signature(req, signed, SECRET),
        signed_headers: signed.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn vendor_vector_rebuilds_canonical_request_string_to_sign_and_signature() {
    let (req, auth, v) = vector_request();
    assert_eq!(auth.access_key, "testid");
    let canonical = acs3_canonical_request(&req.parts(), &auth.signed_headers).unwrap();
    assert_eq!(canonical, v.section("canonical request"));
    let sts = acs3_string_to_sign(&canonical);
    assert_eq!(sts, v.section("string to sign"));
    assert_eq!(hmac_sha256_hex(SECRET, &sts), auth.signature);
    assert_eq!(
        canonical_query(Some(&v.line("wire query (SDK urlencode)"))).unwrap(),
        v.line("canonical query")
    );
}

#[test]
fn vendor_vector_with_a_different_body_fails_the_body_hash_before_the_signature() {
    let (req, auth, _) = vector_request();
    assert_eq!(
        verify_acs3(&req.parts(), &auth, b"wrong", NOW, &store()),
        Err(AuthFailure::BodyHashMismatch)
    );
}

#[test]
fn own_signed_request_verifies() {
    let (req, auth) = own_request("n-1");
    let nonces = store();
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &nonces),
        Ok(())
    );
    assert_eq!(nonces.len(), 1);
}

#[test]
fn wrong_secret_is_a_mismatch() {
    let (req, auth) = own_request("n-1");
    assert_eq!(
        verify_acs3(&req.parts(), &auth, b"other", NOW, &store()),
        Err(AuthFailure::SignatureMismatch)
    );
}

#[test]
fn tampered_signed_header_is_a_mismatch() {
    let (mut req, auth) = own_request("n-1");
    req.set("x-acs-action", "DeleteTemplate");
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()),
        Err(AuthFailure::SignatureMismatch)
    );
}

#[test]
fn body_changed_after_signing() {
    let (mut req, auth) = own_request("n-1");
    req.body = br#"{"templateName":"evil"}"#.to_vec();
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()),
        Err(AuthFailure::BodyHashMismatch)
    );
    // Updating the declared hash too breaks the signature instead.
    let new_hash = sha256_hex(&req.body);
    req.set("x-acs-content-sha256", &new_hash);
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()),
        Err(AuthFailure::SignatureMismatch)
    );
}

#[test]
fn date_window_is_fifteen_minutes_either_way() {
    let (req, auth) = own_request("n-1");
    let verify = |now| verify_acs3(&req.parts(), &auth, SECRET, now, &store());
    let expired = Err(AuthFailure::Expired {
        date: "2025-01-01T00:00:00Z".into(),
    });
    assert_eq!(verify(DATE + time::Duration::minutes(14)), Ok(()));
    assert_eq!(verify(DATE + time::Duration::minutes(16)), expired);
    assert_eq!(verify(DATE - time::Duration::minutes(14)), Ok(()));
    assert_eq!(verify(DATE - time::Duration::minutes(16)), expired);
}

#[test]
fn required_headers_must_be_signed() {
    for missing in [
        "host",
        "x-acs-date",
        "x-acs-content-sha256",
        "x-acs-signature-nonce",
    ] {
        let (req, _) = own_request("n-1");
        let signed: Vec<&str> = SIGNED.iter().copied().filter(|h| *h != missing).collect();
        let auth = sign(&req, &signed);
        let err = verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()).unwrap_err();
        assert!(
            matches!(err, AuthFailure::Malformed(ref m) if m.contains(missing)),
            "{err}"
        );
    }
}

#[test]
fn nonce_reuse_is_refused() {
    let nonces = store();
    let (req, auth) = own_request("n-1");
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &nonces),
        Ok(())
    );
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &nonces),
        Err(AuthFailure::NonceReused)
    );
}

#[test]
fn a_bad_signature_does_not_burn_the_nonce() {
    let nonces = store();
    let (req, mut forged) = own_request("victim-nonce");
    forged.signature = "0".repeat(64);
    assert_eq!(
        verify_acs3(&req.parts(), &forged, SECRET, NOW, &nonces),
        Err(AuthFailure::SignatureMismatch)
    );
    assert_eq!(nonces.len(), 0);
    let (req, auth) = own_request("victim-nonce");
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &nonces),
        Ok(())
    );
}

#[test]
fn a_future_dated_request_cannot_be_replayed_fifteen_minutes_later() {
    let nonces = store();
    let (mut req, _) = own_request("n-future");
    let arrival = DATE;
    let signed_at = "2025-01-01T00:14:50Z";
    req.set("x-acs-date", signed_at);
    let auth = sign(&req, &SIGNED);
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, arrival, &nonces),
        Ok(())
    );
    let replay = arrival + time::Duration::minutes(15);
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, replay, &nonces),
        Err(AuthFailure::NonceReused)
    );
}

#[test]
fn a_full_store_refuses_with_replay_store_full() {
    let nonces = NonceStore::with_quota(1, 1, Duration::from_secs(900));
    let (req, auth) = own_request("first");
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &nonces),
        Ok(())
    );
    let (req, auth) = own_request("second");
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &nonces),
        Err(AuthFailure::ReplayStoreFull(
            crate::identity::ReplayLimit::Full
        ))
    );
}

#[test]
fn plus_and_percent_20_in_the_query_are_equivalent() {
    assert_eq!(
        canonical_query(Some("a=x+y&b=1")).unwrap(),
        canonical_query(Some("b=1&a=x%20y")).unwrap()
    );
    let (mut req, _) = own_request("n-1");
    req.query = Some("name=x%20y&k".into());
    let auth = sign(&req, &SIGNED);
    req.query = Some("k=&name=x+y".into());
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()),
        Ok(())
    );
}

#[test]
fn canonical_query_and_uri_details() {
    assert_eq!(canonical_query(None).unwrap(), "");
    assert_eq!(canonical_query(Some("b=%2b&a=")).unwrap(), "a=&b=%2B");
    assert_eq!(canonical_query(Some("k=%7e%41*")).unwrap(), "k=~A%2A");
    assert!(canonical_query(Some("%FF=1")).is_err());
    let (mut req, auth) = own_request("n-1");
    req.path = String::new();
    let canonical = acs3_canonical_request(&req.parts(), &auth.signed_headers).unwrap();
    assert!(canonical.starts_with("POST\n/\n"));
}

#[test]
fn repeated_headers_are_sorted_and_joined() {
    let (mut req, _) = own_request("n-1");
    req.headers.append("x-acs-action", " B ".parse().unwrap());
    req.headers.append("x-acs-action", "A".parse().unwrap());
    let signed = vec!["x-acs-action".to_string()];
    let canonical = acs3_canonical_request(&req.parts(), &signed).unwrap();
    assert!(canonical.contains("\nx-acs-action:A,B,CreateTemplate\n"));
}

#[test]
fn canonical_headers_are_sorted_by_name_whatever_the_signed_order() {
    let (req, _) = own_request("n-1");
    let signed = vec!["x-acs-date".to_string(), "host".to_string()];
    let canonical = acs3_canonical_request(&req.parts(), &signed).unwrap();
    assert!(canonical
        .contains("\nhost:127.0.0.1:8080\nx-acs-date:2025-01-01T00:00:00Z\n\nx-acs-date;host\n"));
}

#[test]
fn security_token_means_temporary_credentials() {
    let (mut req, _) = own_request("n-1");
    req.set("x-acs-security-token", "sts-token");
    let mut signed = SIGNED.to_vec();
    signed.push("x-acs-security-token");
    let auth = sign(&req, &signed);
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()),
        Err(AuthFailure::TemporaryCredentials)
    );
}

#[test]
fn oversized_nonce_is_malformed() {
    let (req, auth) = own_request(&"n".repeat(MAX_NONCE_LEN + 1));
    assert!(matches!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()),
        Err(AuthFailure::Malformed(_))
    ));
}

#[test]
fn other_algorithms_are_unsupported_and_garbage_is_malformed() {
    for alg in ["SDK-HMAC-SHA256", "ACS3-HMAC-SM3", "ECDSA"] {
        assert_eq!(
            parse_acs3(&format!(
                "{alg} Credential=a,SignedHeaders=host,Signature=00"
            )),
            Err(AuthFailure::UnsupportedAlgorithm(alg.into()))
        );
    }
    let sig = "a".repeat(64);
    let cases = [
        String::new(),
        "ACS3-HMAC-SHA256 ,,,".into(),
        "\u{0}\u{1}".into(),
        format!("ACS3-HMAC-SHA256 Credential=id,SignedHeaders=,Signature={sig}"),
        format!("ACS3-HMAC-SHA256 Access=id,SignedHeaders=host,Signature={sig}"),
        "ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host,Signature=xyz".into(),
    ];
    for case in cases {
        assert!(
            matches!(parse_acs3(&case), Err(AuthFailure::Malformed(_))),
            "{case:?}"
        );
    }
}

#[test]
fn debug_does_not_show_the_full_signature() {
    let (_, auth) = own_request("n-1");
    assert!(!format!("{auth:?}").contains(&auth.signature));
}

proptest! {
    #[test]
    fn parsing_and_canonicalising_never_panic(
        header in ".*",
        tail in "[A-Za-z=,; ;%0-9-]{0,60}",
        path in "[/%A-Za-z0-9 ~+.\u{e9}-]{0,40}",
        query in proptest::option::of("[=&%+A-Za-z0-9 \u{e9}-]{0,40}"),
    ) {
        let _ = parse_acs3(&header);
        let _ = parse_acs3(&format!("ACS3-HMAC-SHA256 {tail}"));
        let (mut req, auth) = own_request("n-1");
        req.path = path;
        req.query = query;
        let _ = acs3_canonical_request(&req.parts(), &auth.signed_headers);
        let signed = vec![header.to_lowercase()];
        let _ = acs3_canonical_request(&req.parts(), &signed);
        let _ = verify_acs3(&req.parts(), &auth, SECRET, NOW, &store());
    }
}

#[test]
fn the_head_checks_refuse_before_any_body_is_read() {
    let head = |req: &OwnedRequest, auth: &Acs3Auth, now| check_acs3_head(&req.parts(), auth, now);
    let (req, auth) = own_request("n-1");
    assert_eq!(head(&req, &auth, NOW), Ok(()));
    let late = head(&req, &auth, DATE + time::Duration::minutes(16));
    assert!(matches!(late, Err(AuthFailure::Expired { .. })), "{late:?}");
    let mut with_token = req.clone();
    with_token.set("x-acs-security-token", "sts");
    assert_eq!(
        head(&with_token, &auth, NOW),
        Err(AuthFailure::TemporaryCredentials)
    );
    let mut unsigned_nonce = auth.clone();
    unsigned_nonce
        .signed_headers
        .retain(|h| h != "x-acs-signature-nonce");
    assert!(matches!(
        head(&req, &unsigned_nonce, NOW),
        Err(AuthFailure::Malformed(_))
    ));
    for bad in [String::new(), "n".repeat(MAX_NONCE_LEN + 1)] {
        let (req, auth) = own_request(&bad);
        assert!(matches!(
            head(&req, &auth, NOW),
            Err(AuthFailure::Malformed(_))
        ));
    }
}

#[test]
fn a_nonce_may_be_empty_never_and_max_len_bytes_at_most() {
    let longest = "n".repeat(MAX_NONCE_LEN);
    let (req, auth) = own_request(&longest);
    assert_eq!(check_acs3_head(&req.parts(), &auth, NOW), Ok(()));
    assert_eq!(
        verify_acs3(&req.parts(), &auth, SECRET, NOW, &store()),
        Ok(())
    );
    let (req, auth) = own_request("");
    let err = verify_acs3(&req.parts(), &auth, SECRET, NOW, &store());
    assert!(matches!(err, Err(AuthFailure::Malformed(_))), "{err:?}");
}

#[test]
fn temporary_credentials_need_their_token_once_and_signed() {
    let (mut req, _) = own_request("n-sts");
    req.set("x-acs-security-token", "sts-token");
    let mut signed = SIGNED.to_vec();
    signed.push("x-acs-security-token");
    let auth = sign(&req, &signed);
    assert_eq!(check_acs3_session_head(&req.parts(), &auth, NOW), Ok(()));
    assert_eq!(
        verify_acs3_signature(&req.parts(), &auth, SECRET, NOW, true),
        Ok(("n-sts".to_string(), DATE))
    );
    let nonces = store();
    assert_eq!(
        verify_acs3_session(&req.parts(), &auth, SECRET, NOW, &nonces),
        Ok(())
    );
    assert_eq!(
        verify_acs3_session(&req.parts(), &auth, SECRET, NOW, &nonces),
        Err(AuthFailure::NonceReused)
    );
    // A nonce changed after signing.
    let mut wrong = req.clone();
    wrong.set("x-acs-signature-nonce", "n-sts-2");
    assert_eq!(
        verify_acs3_session(&wrong.parts(), &auth, SECRET, NOW, &nonces),
        Err(AuthFailure::SignatureMismatch)
    );

    // The token not signed, or absent: malformed, in the head and after.
    let token_unsigned = sign(&req, &SIGNED);
    let mut no_token = req.clone();
    no_token.headers.remove("x-acs-security-token");
    for (r, a) in [(&req, &token_unsigned), (&no_token, &auth)] {
        let head = check_acs3_session_head(&r.parts(), a, NOW);
        assert!(matches!(head, Err(AuthFailure::Malformed(_))), "{head:?}");
        let full = verify_acs3_session(&r.parts(), a, SECRET, NOW, &store());
        assert!(matches!(full, Err(AuthFailure::Malformed(_))), "{full:?}");
    }
    // The head checks after the token still run.
    let late = check_acs3_session_head(&req.parts(), &auth, DATE + time::Duration::minutes(16));
    assert!(matches!(late, Err(AuthFailure::Expired { .. })), "{late:?}");
}
