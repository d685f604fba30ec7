//! Parsing and checking securitytokens requests against the sample tree.

use super::*;
use crate::directory::load;

fn sample() -> Directory {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    load(&dir, &mut Vec::new()).unwrap().0
}

fn assume_body(agency: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"auth":{{"identity":{{"methods":["assume_role"],"assume_role":{{"agency_name":"{agency}","domain_name":"acme"{extra}}}}}}}}}"#
    )
    .into_bytes()
}

fn assume_of(body: &[u8]) -> AssumeRole {
    match parse(body).unwrap() {
        Request::AssumeRole(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn parses_both_methods_and_refuses_the_rest() {
    let a = assume_of(&assume_body(
        "x",
        r#","duration_seconds":900,"session_user":{"name":"s1"}"#,
    ));
    assert_eq!(
        (a.agency_name.as_str(), a.duration_seconds),
        ("x", Some(900))
    );
    assert_eq!(a.session_user.unwrap().name, "s1");
    let t = br#"{"auth":{"identity":{"methods":["token"],"token":{"duration_seconds":1200}}}}"#;
    assert!(matches!(
        parse(t).unwrap(),
        Request::Token(TokenMethod {
            id: None,
            duration_seconds: Some(1200)
        })
    ));
    for bad in [
        &br#"{"auth":{"identity":{"methods":["password"]}}}"#[..],
        br#"{"auth":{"identity":{"methods":["assume_role"]}}}"#,
        br#"not json"#,
    ] {
        assert_eq!(parse(bad).unwrap_err().code, "IAM.0007");
    }
    let with_policy = br#"{"auth":{"identity":{"methods":["token"],"policy":{"Version":"1.1"}}}}"#;
    assert!(parse(with_policy).unwrap_err().message.contains("policy"));
}

#[test]
fn a_trusted_account_gets_the_session_with_defaults() {
    let d = sample();
    let deployer = d.principal("solo0002", Some("deployer")).unwrap();
    let asm = assume(
        &d,
        deployer,
        &assume_of(&assume_body("SOLO_NOTEBOOK_READER", "")),
    )
    .unwrap();
    assert_eq!(asm.agency.name, "solo_notebook_reader", "names ignore case");
    assert_eq!((asm.session.as_str(), asm.seconds), ("deployer", 3600));
    assert_eq!(
        asm.session_of(),
        SessionOf::Agency {
            account: "acme0001".into(),
            agency: "solo_notebook_reader".into(),
            session: "deployer".into()
        }
    );
}

#[test]
fn untrusted_callers_service_agencies_and_unknown_agencies_are_refused() {
    let d = sample();
    let alice = d.principal("acme0001", Some("alice")).unwrap();
    let deployer = d.principal("solo0002", Some("deployer")).unwrap();
    let cases = [
        (alice, "solo_notebook_reader"),
        (deployer, "modelarts_agency"),
        (deployer, "nope"),
    ];
    for (who, agency) in cases {
        let e = assume(&d, who, &assume_of(&assume_body(agency, ""))).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::FORBIDDEN, "IAM.0101"),
            "{agency}"
        );
        assert!(e.message.contains(agency) && e.message.contains(&who.urn));
    }
}

#[test]
fn durations_and_session_names_are_checked() {
    let d = sample();
    let deployer = d.principal("solo0002", Some("deployer")).unwrap();
    for extra in [
        r#","duration_seconds":899"#,
        r#","duration_seconds":3601"#,
        r#","session_user":{"name":"x"}"#,
        r#","session_user":{"name":"bad name"}"#,
    ] {
        let e = assume(
            &d,
            deployer,
            &assume_of(&assume_body("solo_notebook_reader", extra)),
        );
        assert_eq!(e.unwrap_err().code, "IAM.0007", "{extra}");
    }
    let body = assume_body("solo_notebook_reader", r#","domain_id":"nobody""#);
    let e = assume(&d, deployer, &assume_of(&body)).unwrap_err();
    assert!(e.message.contains("domain_id"), "{}", e.message);
}

#[test]
fn the_token_method_keeps_the_callers_identity() {
    let d = sample();
    let alice = d.principal("acme0001", Some("alice")).unwrap();
    let t = TokenMethod {
        id: None,
        duration_seconds: None,
    };
    let (of, seconds) = own_session(alice, &t).unwrap();
    assert_eq!(seconds, TOKEN_DEFAULT_SECONDS);
    assert_eq!(
        of,
        SessionOf::User {
            account: "acme0001".into(),
            user: Some("alice".into())
        }
    );
    let session = d
        .agency("acme0001", "solo_notebook_reader")
        .unwrap()
        .session_principal("s1");
    assert_eq!(
        session_of(&session),
        SessionOf::Agency {
            account: "acme0001".into(),
            agency: "solo_notebook_reader".into(),
            session: "s1".into()
        }
    );
    let long = TokenMethod {
        id: None,
        duration_seconds: Some(TOKEN_MAX_SECONDS + 1),
    };
    assert_eq!(own_session(alice, &long).unwrap_err().code, "IAM.0007");
}
