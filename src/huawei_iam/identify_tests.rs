//! How a request presenting a session is identified, up to the signature
//! (which the e2e tests check with the SDK's own signer).

use super::*;
use crate::directory::load;
use sessions::SessionOf;

fn sample() -> Directory {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    load(&dir, &mut Vec::new()).unwrap().0
}

fn agency_session() -> SessionOf {
    SessionOf::Agency {
        account: "acme0001".into(),
        agency: "solo_notebook_reader".into(),
        session: "s1".into(),
    }
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn parts(h: &http::HeaderMap) -> HttpParts<'_> {
    HttpParts {
        method: "GET",
        raw_path: "/v1/p-acme-cn4/notebooks",
        raw_query: None,
        authority: None,
        headers: h,
        body: b"",
    }
}

fn signed_by(ak: &str, token: &str) -> http::HeaderMap {
    let auth = format!(
        "SDK-HMAC-SHA256 Access={ak}, SignedHeaders=host;x-sdk-date;x-security-token, Signature={}",
        "0".repeat(64)
    );
    headers(&[
        ("authorization", &auth),
        ("x-security-token", token),
        ("host", "gw"),
        ("x-sdk-date", "20260101T000000Z"),
    ])
}

fn err(r: Result<Credential<'_>, AuthError>) -> AuthError {
    match r {
        Ok(_) => panic!("expected a refusal"),
        Err(e) => e,
    }
}

#[test]
fn temporary_keys_are_checked_before_the_signature() {
    let d = sample();
    let store = SessionStore::new(8);
    let now = OffsetDateTime::now_utc();
    let live = store.issue_keys(agency_session(), 900, now).unwrap();
    let token = live.session.security_token.clone();
    let h = signed_by("NOSUCHKEY", &token);
    let unknown = err(identify(&store, &d, Cloud::Huawei, &parts(&h), now));
    assert_eq!(unknown, AuthError::UnknownKey);
    let h = signed_by(&live.id, "another-token");
    let wrong = err(identify(&store, &d, Cloud::Huawei, &parts(&h), now));
    assert_eq!(wrong, AuthError::UnknownToken);
    let later = now + time::Duration::seconds(901);
    let h = signed_by(&live.id, &token);
    let expired = err(identify(&store, &d, Cloud::Huawei, &parts(&h), later));
    assert!(
        matches!(expired, AuthError::TokenExpired { .. }),
        "{expired:?}"
    );
}

#[test]
fn a_matching_session_yields_the_agency_session_principal() {
    let d = sample();
    let store = SessionStore::new(8);
    let now = time::macros::datetime!(2026-01-01 00:00:00 UTC);
    let live = store.issue_keys(agency_session(), 900, now).unwrap();
    let h = signed_by(&live.id, &live.session.security_token);
    match identify(&store, &d, Cloud::Huawei, &parts(&h), now).unwrap() {
        Credential::Session { key, auth } => {
            assert_eq!(
                key.principal.urn,
                "sts::acme0001:assumed-agency:solo_notebook_reader/s1"
            );
            assert_eq!(key.secret, live.session.secret.as_bytes());
            assert_eq!(auth.access_key, live.id);
        }
        _ => panic!("expected a session credential"),
    }
}

#[test]
fn a_security_token_that_is_not_signed_is_refused() {
    let d = sample();
    let store = SessionStore::new(8);
    let now = time::macros::datetime!(2026-01-01 00:00:00 UTC);
    let live = store.issue_keys(agency_session(), 900, now).unwrap();
    let auth = format!(
        "SDK-HMAC-SHA256 Access={}, SignedHeaders=host;x-sdk-date, Signature={}",
        live.id,
        "0".repeat(64)
    );
    let token = live.session.security_token.clone();
    let h = headers(&[
        ("authorization", &auth),
        ("x-security-token", &token),
        ("host", "gw"),
        ("x-sdk-date", "20260101T000000Z"),
    ]);
    let e = err(identify(&store, &d, Cloud::Huawei, &parts(&h), now));
    assert!(
        matches!(
            e,
            AuthError::Verify(crate::identity::AuthFailure::Malformed(_))
        ),
        "{e:?}"
    );
}

#[test]
fn a_deleted_agency_ends_its_sessions() {
    let d = sample();
    let store = SessionStore::new(8);
    let now = OffsetDateTime::now_utc();
    let gone = SessionOf::Agency {
        account: "acme0001".into(),
        agency: "deleted".into(),
        session: "s1".into(),
    };
    let live = store.issue_keys(gone, 900, now).unwrap();
    let h = signed_by(&live.id, &live.session.security_token);
    assert_eq!(
        err(identify(&store, &d, Cloud::Huawei, &parts(&h), now)),
        AuthError::UnknownKey
    );
}

#[test]
fn issued_auth_tokens_identify_their_user_until_they_expire() {
    let d = sample();
    let store = SessionStore::new(8);
    let now = OffsetDateTime::now_utc();
    let of = SessionOf::User {
        account: "acme0001".into(),
        user: Some("reader".into()),
    };
    let t = store.issue_token(of, 60, now).unwrap();
    let h = headers(&[("x-auth-token", &t.id)]);
    match identify(&store, &d, Cloud::Huawei, &parts(&h), now).unwrap() {
        Credential::Token(who) => assert_eq!(who.principal.urn, "iam::acme0001:user:reader"),
        _ => panic!("expected a token"),
    }
    let later = now + time::Duration::seconds(61);
    let e = err(identify(&store, &d, Cloud::Huawei, &parts(&h), later));
    assert!(matches!(e, AuthError::TokenExpired { .. }), "{e:?}");
    // Tokens from credentials.toml still work as before.
    let h = headers(&[("x-auth-token", "example-token-alice-not-real")]);
    assert!(matches!(
        identify(&store, &d, Cloud::Huawei, &parts(&h), now).unwrap(),
        Credential::Token(_)
    ));
}

#[test]
fn a_token_id_must_be_the_callers_own_live_token() {
    let d = sample();
    let store = SessionStore::new(8);
    let now = OffsetDateTime::now_utc();
    let alice = d.principal("acme0001", Some("alice")).unwrap();
    let reader = d.principal("acme0001", Some("reader")).unwrap();
    let of = SessionOf::User {
        account: "acme0001".into(),
        user: Some("reader".into()),
    };
    let issued = store.issue_token(of, 60, now).unwrap();
    assert!(check_token_id(&store, &d, None, alice, now).is_ok());
    assert!(check_token_id(&store, &d, Some(&issued.id), reader, now).is_ok());
    let later = now + time::Duration::seconds(61);
    for (id, who, at) in [
        (issued.id.as_str(), alice, now),
        (issued.id.as_str(), reader, later),
        ("example-token-expired-not-real", alice, now),
        ("nope", alice, now),
    ] {
        let e = check_token_id(&store, &d, Some(id), who, at).unwrap_err();
        assert_eq!(e.code, "IAM.0007", "{id}");
    }
    let file_token = "example-token-alice-not-real";
    assert!(check_token_id(&store, &d, Some(file_token), alice, now).is_ok());
}

#[test]
fn same_secret_compares_whole_values() {
    assert!(same_secret(b"abc", b"abc"));
    assert!(!same_secret(b"abc", b"abd"));
    assert!(!same_secret(b"abc", b"abcd"));
    assert!(!same_secret(b"", b"a"));
}
