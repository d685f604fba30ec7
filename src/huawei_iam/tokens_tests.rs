//! Password logins and token answers against the sample tree.

use super::*;
use crate::directory::load;
use crate::huawei_iam::sessions::SessionStore;

fn sample() -> Directory {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    load(&dir, &mut Vec::new()).unwrap().0
}

fn password_body(user: &str, password: &str, scope: &str) -> Vec<u8> {
    format!(
        r#"{{"auth":{{"identity":{{"methods":["password"],"password":{{"user":{{"name":"{user}","password":"{password}","domain":{{"name":"acme"}}}}}}}}{scope}}}}}"#
    )
    .into_bytes()
}

fn password_of(body: &[u8]) -> Password {
    match parse(body).unwrap() {
        Request::Password(p) => p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_right_password_logs_in_with_its_project_scope() {
    let d = sample();
    let scope = r#","scope":{"project":{"name":"cn-north-4"}}"#;
    let p = password_of(&password_body(
        "alice",
        "alice-example-password-not-real",
        scope,
    ));
    let who = login(&d, &p).unwrap();
    assert_eq!(who.urn, "iam::acme0001:user:alice");
    assert_eq!(
        user_session(&who),
        SessionOf::User {
            account: "acme0001".into(),
            user: Some("alice".into())
        }
    );
}

#[test]
fn wrong_passwords_unknown_users_and_foreign_projects_are_refused() {
    let d = sample();
    for (user, password) in [
        ("alice", "not-the-password"),
        ("nobody", "alice-example-password-not-real"),
        ("operator", "anything"),
    ] {
        let e = login(&d, &password_of(&password_body(user, password, ""))).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNAUTHORIZED, "IAM.0102"),
            "{user}"
        );
    }
    let scope = r#","scope":{"project":{"id":"p-solo-cn4"}}"#;
    let p = password_of(&password_body(
        "alice",
        "alice-example-password-not-real",
        scope,
    ));
    assert_eq!(login(&d, &p).unwrap_err().code, "IAM.0007");
}

#[test]
fn assume_role_and_bad_methods_parse() {
    let body = br#"{"auth":{"identity":{"methods":["assume_role"],"assume_role":{"domain_name":"acme","agency_name":"a"}},"scope":{"domain":{"name":"acme"}}}}"#;
    assert!(matches!(parse(body).unwrap(), Request::AssumeRole(a) if a.agency_name == "a"));
    let bad = br#"{"auth":{"identity":{"methods":["token"]}}}"#;
    assert_eq!(parse(bad).unwrap_err().code, "IAM.0007");
}

#[test]
fn the_answer_names_the_user_and_who_assumed() {
    let d = sample();
    let alice = d.principal("acme0001", Some("alice")).unwrap();
    let store = SessionStore::new(4);
    let now = time::OffsetDateTime::now_utc();
    let issued = store.issue_token(user_session(alice), 60, now).unwrap();
    let v = answer(&issued, alice, None, "password");
    assert_eq!(v["token"]["user"]["name"], "alice");
    assert_eq!(v["token"]["methods"][0], "password");
    assert_eq!(v["token"]["expires_at"], issued.session.expires_text());
    assert!(v["token"].get("assumed_by").is_none());
    let agency = d.agency("acme0001", "solo_notebook_reader").unwrap();
    let session = agency.session_principal("s");
    let solo = d.principal("solo0002", Some("solo")).unwrap();
    let v = answer(&issued, &session, Some(solo), "assume_role");
    assert_eq!(v["token"]["assumed_by"]["user"]["name"], "solo");
}
