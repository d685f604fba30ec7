use super::*;
use crate::directory::load;
use crate::policy::{evaluate, DecisionKind, Reason};

fn sample() -> Directory {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    load(&dir, &mut Vec::new()).unwrap().0
}

fn reader(dir: &Directory) -> Arc<Role> {
    dir.role("1234567890123456", "AGENTRUNREADER")
        .unwrap()
        .clone()
}

fn in_an_hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::hours(1)
}

#[test]
fn issued_credentials_open_to_their_session() {
    let dir = sample();
    let issued = issue(&reader(&dir), "ci-run", None, in_an_hour());
    assert!(issued.access_key_id.starts_with("STS."));
    assert!(issued.expiration.ends_with('Z') && !issued.expiration.contains('.'));
    let key = session_key(
        &dir,
        &issued.access_key_id,
        Some(&issued.token),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(key.secret, issued.secret.as_bytes());
    let p = &key.principal;
    assert_eq!(
        p.urn,
        "acs:ram::1234567890123456:assumed-role/agentrunreader/ci-run"
    );
    assert_eq!(p.display_name(), "AgentRunReader:ci-run");
    assert!(!p.is_root());
    assert_eq!(
        session_of(p).unwrap(),
        (
            "acs:ram::1234567890123456:role/agentrunreader".to_string(),
            "agentrunreader",
            "ci-run"
        )
    );
}

#[test]
fn tampered_foreign_mismatched_expired_and_missing_tokens_are_refused() {
    let dir = sample();
    let issued = issue(&reader(&dir), "s1", None, in_an_hour());
    let now = OffsetDateTime::now_utc();
    let mut tampered = issued.token.clone();
    tampered.insert(20, 'x');
    let check =
        |ak: &str, token: Option<&str>| session_key(&dir, ak, token, now).map(|_| ()).unwrap_err();
    assert_eq!(
        check(&issued.access_key_id, Some(&tampered)),
        AuthError::SecurityTokenInvalid
    );
    assert_eq!(
        check(&issued.access_key_id, Some("CAISforeign")),
        AuthError::SecurityTokenInvalid
    );
    assert_eq!(
        check("STS.OTHER", Some(&issued.token)),
        AuthError::SecurityTokenMismatch
    );
    assert_eq!(
        check("LTAIRUNNEREXAMPLE0001", Some(&issued.token)),
        AuthError::SecurityTokenMismatch
    );
    assert_eq!(
        check(&issued.access_key_id, None),
        AuthError::MissingSecurityToken
    );
    let old = issue(&reader(&dir), "s1", None, now - time::Duration::seconds(1));
    assert!(matches!(
        check(&old.access_key_id, Some(&old.token)),
        AuthError::SecurityTokenExpired { expiration } if expiration == old.expiration
    ));
}

#[test]
fn a_deleted_role_ends_its_sessions() {
    let dir = sample();
    let issued = issue(&reader(&dir), "s1", None, in_an_hour());
    let mut without = sample();
    without.roles.clear();
    let err = session_key(
        &without,
        &issued.access_key_id,
        Some(&issued.token),
        OffsetDateTime::now_utc(),
    );
    assert_eq!(
        err.map(|_| ()).unwrap_err(),
        AuthError::SecurityTokenInvalid
    );
}

#[test]
fn the_session_policy_narrows_the_role() {
    let dir = sample();
    let policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"agentrun:List*","Resource":"*"}]}"#;
    let p = session_principal(&reader(&dir), "narrow", Some(policy)).unwrap();
    let ctx = Context::new();
    let res = "acs:agentrun:cn-hangzhou:1234567890123456:templates/*";
    assert!(evaluate(&p.subject, "agentrun:ListTemplates", res, &ctx).is_allowed());
    let get = evaluate(
        &p.subject,
        "agentrun:GetTemplate",
        "acs:agentrun:cn-hangzhou:1234567890123456:templates/t",
        &ctx,
    );
    assert_eq!(
        (get.kind, get.reason),
        (DecisionKind::ImplicitDeny, Reason::NoSessionAllow)
    );
    // Without a session policy the role's Get* applies.
    let p = session_principal(&reader(&dir), "wide", None).unwrap();
    assert!(evaluate(&p.subject, "agentrun:GetTemplate", res, &ctx).is_allowed());
    assert!(session_principal(&reader(&dir), "bad", Some("{")).is_none());
}

#[test]
fn session_keys_describe_the_session_only() {
    let dir = sample();
    let p = session_principal(&reader(&dir), "ci", None).unwrap();
    let mut c = Context::new();
    add_session_keys(&mut c, &p);
    let get = |k: &str| c.get(k).map(|v| v.to_vec());
    assert_eq!(
        get("acs:principalarn"),
        Some(vec![
            "acs:ram::1234567890123456:role/agentrunreader".to_string()
        ])
    );
    assert_eq!(
        get("acs:principaltype"),
        Some(vec!["AssumedRoleUser".to_string()])
    );
    assert_eq!(
        get("acs:principalaccount"),
        Some(vec!["1234567890123456".to_string()])
    );
    assert_eq!(get("sts:rolesessionname"), Some(vec!["ci".to_string()]));
    let user = dir.principal("1234567890123456", Some("runner")).unwrap();
    let mut c = Context::new();
    add_session_keys(&mut c, user);
    assert!(c.get("acs:principalarn").is_none());
}
