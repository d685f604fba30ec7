//! Unit tests of the document parser: what a valid document compiles to,
//! and every error with its JSON pointer. `tests/policy_errors.rs` checks the
//! same rules through the public API; these run with the module's own unit
//! tests, as cargo-mutants does (tests/MUTANTS.md).

use super::*;

fn parse(cloud: Cloud, doc: &str) -> Result<Policy, Vec<(String, String)>> {
    parse_policy(Path::new("t.json"), "t", cloud, doc).map_err(|errs| {
        errs.into_iter()
            .map(|d| match d.place {
                Place::Pointer(p) => (p, d.message),
                other => (format!("{other:?}"), d.message),
            })
            .collect()
    })
}

fn hw(statements: &str) -> String {
    format!(r#"{{"Version":"5.0","Statement":[{statements}]}}"#)
}

fn ali(statements: &str) -> String {
    format!(r#"{{"Version":"1","Statement":[{statements}]}}"#)
}

/// The pointers of the errors, asserting each message holds its needle.
fn errors_at(cloud: Cloud, doc: &str, want: &[(&str, &str)]) {
    let errs = parse(cloud, doc).expect_err(doc);
    let got: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    let places: Vec<&str> = want.iter().map(|(p, _)| *p).collect();
    assert_eq!(got, places, "{doc}: {errs:?}");
    for ((_, msg), (_, needle)) in errs.iter().zip(want) {
        assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
    }
}

#[test]
fn a_valid_document_compiles_every_statement() {
    let p = parse(
        Cloud::Huawei,
        &hw(
            r#"{"Sid":"A","Effect":"Allow","Action":"ModelArts:Notebook:*"},
               {"Effect":"Deny","NotAction":["obs:*","ecs:get"],"NotResource":"obs:*:*:bucket:b?",
                "Condition":{"StringEquals":{"g:UserName":["a","b"]},"Bool":{"g:MFAPresent":true},
                             "NumberEquals":{"g:ResourceTag/n":8}}}"#,
        ),
    )
    .unwrap();
    assert_eq!((&*p.name, p.cloud), ("t", Cloud::Huawei));
    let [a, d] = &p.statements[..] else {
        panic!("{p:?}")
    };
    assert_eq!(
        (a.index, a.sid.as_deref(), a.effect),
        (0, Some("A"), Effect::Allow)
    );
    assert_eq!(
        a.actions,
        ActionSet::Action(vec![Glob::new("modelarts:notebook:*")])
    );
    // Huawei: no Resource means every resource.
    assert_eq!(a.resources, ResourceSet::Resource(vec![Glob::Any]));
    assert!(a.conditions.is_empty());
    assert_eq!(
        (d.index, d.sid.as_deref(), d.effect),
        (1, None, Effect::Deny)
    );
    let not = ActionSet::NotAction(vec![Glob::new("obs:*"), Glob::new("ecs:get")]);
    assert_eq!(d.actions, not);
    let not = ResourceSet::NotResource(vec![Glob::new("obs:*:*:bucket:b?")]);
    assert_eq!(d.resources, not);
    let conds: Vec<(&str, &str)> = d
        .conditions
        .iter()
        .map(|c| (c.operator.as_str(), c.key.as_str()))
        .collect();
    assert_eq!(
        conds,
        [
            ("Bool", "g:MFAPresent"),
            ("NumberEquals", "g:ResourceTag/n"),
            ("StringEquals", "g:UserName")
        ]
    );
    let mut ctx = crate::policy::Context::new();
    ctx.set("g:UserName", "b");
    ctx.set("g:MFAPresent", "true");
    ctx.set("g:ResourceTag/n", "8");
    assert!(d.conditions.iter().all(|c| c.holds(&ctx)), "values as text");
}

#[test]
fn the_version_must_be_the_dialects() {
    let one = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    assert!(parse(Cloud::Huawei, &hw(one)).is_ok());
    assert!(parse(Cloud::Aliyun, &ali(one)).is_ok());
    errors_at(Cloud::Huawei, &ali(one), &[("/Version", "\"5.0\"")]);
    errors_at(Cloud::Aliyun, &hw(one), &[("/Version", "\"1\"")]);
    let doc = format!(r#"{{"Statement":[{one}]}}"#);
    errors_at(Cloud::Huawei, &doc, &[("", "missing Version")]);
    errors_at(Cloud::Huawei, "[]", &[("", "JSON object")]);
}

#[test]
fn the_statement_list_and_its_items() {
    let one = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    let lone = format!(r#"{{"Version":"5.0","Statement":{one}}}"#);
    assert_eq!(parse(Cloud::Huawei, &lone).unwrap().statements.len(), 1);
    let lone = format!(r#"{{"Version":"1","Statement":{one}}}"#);
    errors_at(Cloud::Aliyun, &lone, &[("/Statement", "array")]);
    errors_at(
        Cloud::Huawei,
        r#"{"Version":"5.0"}"#,
        &[("", "missing Statement")],
    );
    errors_at(Cloud::Huawei, &hw(""), &[("/Statement", "empty")]);
    errors_at(Cloud::Huawei, &hw("1"), &[("/Statement/0", "JSON object")]);
}

#[test]
fn unknown_fields_are_named_with_escaped_pointers() {
    let doc = r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"*"}],"a/b~c":1}"#;
    errors_at(Cloud::Huawei, doc, &[("/a~1b~0c", "unknown field `a/b~c`")]);
    let doc = ali(r#"{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}"#);
    errors_at(
        Cloud::Aliyun,
        &doc,
        &[("/Statement/0/Principal", "trust policies")],
    );
    let doc = hw(r#"{"Effect":"Allow","Action":"*","Resources":"*"}"#);
    let errs = parse(Cloud::Huawei, &doc).unwrap_err();
    assert!(!errs[0].1.contains("trust policies"), "{errs:?}");
    let doc = hw(r#"{"Effect":"Allow","Action":"*","Sid":1}"#);
    errors_at(Cloud::Huawei, &doc, &[("/Statement/0/Sid", "string")]);
}

#[test]
fn effect_is_allow_or_deny_exactly() {
    errors_at(
        Cloud::Huawei,
        &hw(r#"{"Effect":"allow","Action":"*"}"#),
        &[("/Statement/0/Effect", "found")],
    );
    errors_at(
        Cloud::Huawei,
        &hw(r#"{"Action":"*"}"#),
        &[("/Statement/0", "missing Effect")],
    );
}

#[test]
fn actions_and_resources_are_non_empty_string_lists() {
    let at = |doc: &str, p: &str, n: &str| errors_at(Cloud::Huawei, &hw(doc), &[(p, n)]);
    at(r#"{"Effect":"Allow"}"#, "/Statement/0", "missing Action");
    at(
        r#"{"Effect":"Allow","Action":"*","NotAction":"*"}"#,
        "/Statement/0",
        "not both",
    );
    at(
        r#"{"Effect":"Allow","Action":[]}"#,
        "/Statement/0/Action",
        "empty",
    );
    at(
        r#"{"Effect":"Allow","Action":1}"#,
        "/Statement/0/Action",
        "string",
    );
    at(
        r#"{"Effect":"Allow","Action":["*"," "]}"#,
        "/Statement/0/Action/1",
        "non-empty",
    );
    at(
        r#"{"Effect":"Allow","Action":["*",2]}"#,
        "/Statement/0/Action/1",
        "non-empty",
    );
    at(
        r#"{"Effect":"Allow","Action":"notebook"}"#,
        "/Statement/0/Action/0",
        "not an action",
    );
    at(
        r#"{"Effect":"Allow","Action":"a b:c"}"#,
        "/Statement/0/Action/0",
        "not an action",
    );
    at(
        r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#,
        "/Statement/0",
        "at most one",
    );
    at(
        r#"{"Effect":"Allow","Action":"*","Resource":[]}"#,
        "/Statement/0/Resource",
        "empty",
    );
    let doc = ali(r#"{"Effect":"Allow","Action":"*"}"#);
    errors_at(Cloud::Aliyun, &doc, &[("/Statement/0", "missing Resource")]);
    let p = parse(
        Cloud::Aliyun,
        &ali(r#"{"Effect":"Allow","Action":"*","Resource":["a","b*"]}"#),
    );
    let globs = vec![Glob::new("a"), Glob::new("b*")];
    assert_eq!(
        p.unwrap().statements[0].resources,
        ResourceSet::Resource(globs)
    );
}

#[test]
fn conditions_are_operators_of_keys_of_scalar_values() {
    let at = |cond: &str, p: &str, n: &str| {
        let doc = hw(&format!(
            r#"{{"Effect":"Allow","Action":"*","Condition":{cond}}}"#
        ));
        errors_at(Cloud::Huawei, &doc, &[(p, n)]);
    };
    let c = "/Statement/0/Condition";
    at("[]", c, "object of operators");
    at("{}", c, "must not be empty");
    at(
        r#"{"StringEqualz":{"g:a":"x"}}"#,
        &format!("{c}/StringEqualz"),
        "unknown operator",
    );
    at(
        r#"{"StringEquals":{}}"#,
        &format!("{c}/StringEquals"),
        "non-empty object",
    );
    at(
        r#"{"StringEquals":"x"}"#,
        &format!("{c}/StringEquals"),
        "non-empty object",
    );
    at(
        r#"{"StringEquals":{"g:a/b":[]}}"#,
        &format!("{c}/StringEquals/g:a~1b"),
        "must not be empty",
    );
    at(
        r#"{"StringEquals":{"g:a":["x",{}]}}"#,
        &format!("{c}/StringEquals/g:a"),
        "strings, numbers",
    );
    at(
        r#"{"StringEquals":{"g:a":null}}"#,
        &format!("{c}/StringEquals/g:a"),
        "strings, numbers",
    );
    at(
        r#"{"Bool":{"g:a":"yes"}}"#,
        &format!("{c}/Bool/g:a"),
        "true or false",
    );
}
