use super::*;

fn parse(text: &str) -> Result<TrustPolicy, Vec<Diagnostic>> {
    parse_trust_policy(Path::new("accounts.toml"), "/account/0/role/0", text)
}

const USER_AND_SERVICE: &str = r#"{"Version":"1","Statement":[
  {"Effect":"Allow","Action":"sts:AssumeRole",
   "Principal":{"RAM":["acs:ram::111:user/alice","acs:ram::222:root"],"Service":"fc.aliyuncs.com"}}]}"#;

#[test]
fn admits_named_user_whole_account_and_service_only() {
    let t = parse(USER_AND_SERVICE).unwrap();
    let ctx = Context::new();
    assert!(t.admits(
        Caller::User {
            account: "111",
            name: "alice"
        },
        &ctx
    ));
    assert!(!t.admits(
        Caller::User {
            account: "111",
            name: "bob"
        },
        &ctx
    ));
    assert!(t.admits(
        Caller::User {
            account: "222",
            name: "anyone"
        },
        &ctx
    ));
    assert!(t.admits(
        Caller::Role {
            account: "222",
            name: "r"
        },
        &ctx
    ));
    assert!(t.admits(Caller::Service("FC.aliyuncs.com"), &ctx));
    assert!(!t.admits(Caller::Service("devs.aliyuncs.com"), &ctx));
    assert_eq!(t.services().collect::<Vec<_>>(), ["fc.aliyuncs.com"]);
    assert!(!t.admits_no_one());
}

#[test]
fn external_id_condition_and_explicit_deny() {
    let t = parse(
        r#"{"Version":"1","Statement":[
      {"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::111:root"},
       "Condition":{"StringEquals":{"sts:ExternalId":"abc"}}},
      {"Effect":"Deny","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::111:user/mallory"}}]}"#,
    )
    .unwrap();
    let alice = Caller::User {
        account: "111",
        name: "alice",
    };
    let mut ctx = Context::new();
    assert!(!t.admits(alice, &ctx), "no ExternalId");
    ctx.set("sts:ExternalId", "wrong");
    assert!(!t.admits(alice, &ctx));
    let mut ctx = Context::new();
    ctx.set("sts:ExternalId", "abc");
    assert!(t.admits(alice, &ctx));
    let mallory = Caller::User {
        account: "111",
        name: "mallory",
    };
    assert!(!t.admits(mallory, &ctx), "the deny wins");
}

#[test]
fn role_principals_ignore_case() {
    let t = parse(
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
         "Principal":{"RAM":"acs:ram::111:role/Builder"}}]}"#,
    )
    .unwrap();
    let ctx = Context::new();
    assert!(t.admits(
        Caller::Role {
            account: "111",
            name: "BUILDER"
        },
        &ctx
    ));
    assert!(!t.admits(
        Caller::User {
            account: "111",
            name: "builder"
        },
        &ctx
    ));
}

#[test]
fn unknown_principal_forms_are_errors_with_their_place() {
    for bad in [
        r#"{"RAM":"*"}"#,
        r#"{"RAM":"acs:ram::*:root"}"#,
        r#"{"RAM":"acs:ram::111:group/dev"}"#,
        r#"{"Federated":"acs:ram::111:saml-provider/x"}"#,
        r#"{"Service":"fc"}"#,
        r#""acs:ram::111:root""#,
    ] {
        let doc = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{bad}}}]}}"#
        );
        let errors = parse(&doc).unwrap_err();
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert_eq!(
            errors[0].place,
            Place::Pointer("/account/0/role/0/trust_policy/Statement/0/Principal".into()),
            "{bad}"
        );
    }
}

#[test]
fn grammar_errors_of_the_statement_part_are_reported() {
    let no_principal =
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#;
    assert!(parse(no_principal).is_err());
    let bad_version = r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"}}]}"#;
    assert!(parse(bad_version).is_err());
    let resource = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Principal":{"RAM":"acs:ram::1:root"}}]}"#;
    assert!(parse(resource).is_err());
    assert!(parse("{not json").is_err());
}

#[test]
fn a_policy_that_admits_no_one_is_recognised() {
    let t = parse(r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Principal":{"RAM":"acs:ram::1:root"}}]}"#).unwrap();
    assert!(t.admits_no_one());
}
