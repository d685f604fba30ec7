//! Unit tests of authentication against the sample directory (`policies/`):
//! a key or token belongs to one cloud, tokens expire at their instant, and
//! every failure has its metric label. Requests are signed with the
//! independent reference signer. Written against the mutants cargo-mutants
//! left alive (tests/MUTANTS.md).

use std::path::Path;

use time::macros::datetime;

use super::*;
use crate::identity::reference_signer;
use crate::identity::test_vectors::OwnedRequest;

const ALICE_AK: &str = "HWALICEEXAMPLEAK0001";
const ALICE_SK: &[u8] = b"alice-example-secret-not-real";
const RUNNER_AK: &str = "LTAIRUNNEREXAMPLE0001";
const NOW: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);

fn directory() -> Directory {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    crate::directory::load(&dir, &mut Vec::new()).unwrap().0
}

fn nonces() -> NonceStore {
    NonceStore::new(16, std::time::Duration::from_secs(900))
}

/// A Huawei GET signed by `ak` with `sk` over host and date.
fn huawei_request(ak: &str, sk: &[u8]) -> OwnedRequest {
    let mut req = OwnedRequest {
        method: "GET".into(),
        path: "/v1/acme0001/notebooks".into(),
        ..OwnedRequest::default()
    };
    req.set("host", "modelarts.example");
    req.set("x-sdk-date", "20250101T000000Z");
    let signed = ["host", "x-sdk-date"];
    let sig = reference_signer::huawei_signature(&req, &signed, sk);
    let auth =
        format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date, Signature={sig}");
    req.set("authorization", &auth);
    req
}

fn with_header(name: &str, value: &str) -> OwnedRequest {
    let mut req = OwnedRequest {
        method: "GET".into(),
        path: "/".into(),
        ..OwnedRequest::default()
    };
    req.set(name, value);
    req
}

fn user(who: &Authenticated) -> Option<&str> {
    who.principal.user.as_ref().map(|u| u.name.as_str())
}

#[test]
fn a_signed_request_names_its_key_and_user() {
    let dir = directory();
    let req = huawei_request(ALICE_AK, ALICE_SK);
    let who = authenticate(&dir, Cloud::Huawei, &req.parts(), NOW, &nonces()).unwrap();
    assert_eq!(user(&who), Some("alice"));
    assert_eq!(who.access_key.as_deref(), Some(ALICE_AK));
    assert!(!who.mfa);
    let forged = huawei_request(ALICE_AK, b"not-the-secret");
    let err = authenticate(&dir, Cloud::Huawei, &forged.parts(), NOW, &nonces()).unwrap_err();
    assert_eq!(err, AuthError::Verify(AuthFailure::SignatureMismatch));
}

#[test]
fn a_key_of_the_other_cloud_is_unknown() {
    let dir = directory();
    let sig = "0".repeat(64);
    let acs3 = |ak: &str| {
        let h = format!("ACS3-HMAC-SHA256 Credential={ak},SignedHeaders=host,Signature={sig}");
        with_header("authorization", &h)
    };
    let err = identify(&dir, Cloud::Aliyun, &acs3(ALICE_AK).parts(), NOW).err();
    assert_eq!(err, Some(AuthError::UnknownKey));
    let err = identify(&dir, Cloud::Aliyun, &acs3("NOSUCHKEY").parts(), NOW).err();
    assert_eq!(err, Some(AuthError::UnknownKey));
    // The Alibaba key passes the lookup on its own cloud (then the head
    // checks refuse this request, which signs only `host`).
    let err = identify(&dir, Cloud::Aliyun, &acs3(RUNNER_AK).parts(), NOW).err();
    assert!(
        matches!(err, Some(AuthError::Verify(AuthFailure::Malformed(_)))),
        "{err:?}"
    );
    let req = huawei_request(RUNNER_AK, b"runner-example-secret-not-real");
    let err = identify(&dir, Cloud::Huawei, &req.parts(), NOW).err();
    assert_eq!(err, Some(AuthError::UnknownKey));
}

#[test]
fn on_alibaba_a_security_token_or_an_sts_key_makes_a_session() {
    let dir = directory();
    let sig = "0".repeat(64);
    let acs3 = |ak: &str| {
        let h = format!("ACS3-HMAC-SHA256 Credential={ak},SignedHeaders=host,Signature={sig}");
        with_header("authorization", &h)
    };
    // An STS key without its token: not looked up among long-term keys.
    let err = identify(&dir, Cloud::Aliyun, &acs3("STS.EXAMPLE0001").parts(), NOW).err();
    assert_eq!(err, Some(AuthError::MissingSecurityToken));
    // A long-term key with a token: the token cannot belong to it.
    let mut req = acs3(RUNNER_AK);
    req.set("x-acs-security-token", "example-token");
    let err = identify(&dir, Cloud::Aliyun, &req.parts(), NOW).err();
    assert_eq!(err, Some(AuthError::SecurityTokenMismatch));
    // Huawei knows neither: the key is looked up as it is.
    let mut req = huawei_request("STS.EXAMPLE0001", ALICE_SK);
    req.set("x-acs-security-token", "example-token");
    let err = identify(&dir, Cloud::Huawei, &req.parts(), NOW).err();
    assert_eq!(err, Some(AuthError::UnknownKey));
}

#[test]
fn tokens_are_huawei_only_and_expire_at_their_instant() {
    let dir = directory();
    let token = |value: &str, now| {
        let req = with_header("x-auth-token", value);
        authenticate(&dir, Cloud::Huawei, &req.parts(), now, &nonces())
    };
    let who = token("example-token-alice-not-real", NOW).unwrap();
    assert_eq!(
        (user(&who), who.access_key.as_deref(), who.mfa),
        (Some("alice"), None, true)
    );
    let last = datetime!(2098-12-31 23:59:59 UTC);
    assert!(token("example-token-alice-not-real", last).is_ok());
    let expiry = datetime!(2099-01-01 00:00:00 UTC);
    let err = token("example-token-alice-not-real", expiry).unwrap_err();
    assert!(matches!(err, AuthError::TokenExpired { .. }), "{err:?}");
    assert_eq!(token("nope", NOW).unwrap_err(), AuthError::UnknownToken);
    // No credential at all: Huawei looks for a token, Alibaba has none.
    let none = with_header("accept", "*/*");
    let missing = AuthError::Verify(AuthFailure::Missing);
    let err = authenticate(&dir, Cloud::Huawei, &none.parts(), NOW, &nonces()).unwrap_err();
    assert_eq!(err, missing);
    let req = with_header("x-auth-token", "example-token-alice-not-real");
    let err = authenticate(&dir, Cloud::Aliyun, &req.parts(), NOW, &nonces()).unwrap_err();
    assert_eq!(err, missing);
}

#[test]
fn every_failure_has_its_metric_label() {
    let cases = [
        (AuthError::Verify(AuthFailure::Missing), "missing"),
        (
            AuthError::Verify(AuthFailure::Malformed("x".into())),
            "malformed",
        ),
        (
            AuthError::Verify(AuthFailure::UnsupportedAlgorithm("x".into())),
            "unsupported",
        ),
        (
            AuthError::Verify(AuthFailure::SignatureMismatch),
            "signature_mismatch",
        ),
        (
            AuthError::Verify(AuthFailure::BodyHashMismatch),
            "signature_mismatch",
        ),
        (
            AuthError::Verify(AuthFailure::Expired { date: "x".into() }),
            "expired",
        ),
        (AuthError::Verify(AuthFailure::NonceReused), "nonce_reused"),
        (
            AuthError::Verify(AuthFailure::TemporaryCredentials),
            "unsupported",
        ),
        (
            AuthError::Verify(AuthFailure::ReplayStoreFull(ReplayLimit::Full)),
            "nonce_store_full",
        ),
        (
            AuthError::Verify(AuthFailure::ReplayStoreFull(ReplayLimit::Quota)),
            "nonce_store_quota",
        ),
        (
            AuthError::Verify(AuthFailure::UnsignedPayload),
            "unsigned_payload",
        ),
        (AuthError::UnknownKey, "unknown_key"),
        (AuthError::UnknownToken, "token_unknown"),
        (
            AuthError::TokenExpired {
                expires_at: "x".into(),
            },
            "token_expired",
        ),
    ];
    for (err, label) in cases {
        assert_eq!(err.kind(), label, "{err:?}");
    }
}
