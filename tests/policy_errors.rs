//! Malformed policy documents are rejected with their place: line:column for
//! JSON syntax, a JSON pointer for errors of meaning — and all errors at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use iamgate::cloud::Cloud;
use iamgate::diag::{Diagnostic, Place};
use iamgate::policy::parse_policy;

fn errors(cloud: Cloud, doc: &str) -> Vec<Diagnostic> {
    match parse_policy(Path::new("p.json"), "p", cloud, doc) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(e) => e,
    }
}

/// Assert exactly one error at `pointer` whose message contains `needle`.
fn one_error_at(cloud: Cloud, doc: &str, pointer: &str, needle: &str) {
    let errs = errors(cloud, doc);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].place, Place::Pointer(pointer.into()), "{errs:?}");
    assert!(
        errs[0].message.contains(needle),
        "{:?} lacks {needle}",
        errs[0].message
    );
    assert!(!errs[0].warning);
}

fn hw(statement: &str) -> String {
    format!(r#"{{"Version":"5.0","Statement":[{statement}]}}"#)
}

#[test]
fn bad_json_has_line_and_column() {
    let errs = errors(
        Cloud::Huawei,
        "{\n  \"Version\": \"5.0\",\n  \"Statement\": [,]\n}",
    );
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].place,
        Place::Line {
            line: 3,
            column: 17
        }
    );
    assert_eq!(errs[0].location(), "p.json:3:17");
}

#[test]
fn wrong_version_names_the_expected_one() {
    let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*"}]}"#;
    one_error_at(Cloud::Huawei, doc, "/Version", "\"5.0\"");
    let doc = r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    one_error_at(Cloud::Aliyun, doc, "/Version", "\"1\"");
}

#[test]
fn unknown_operator() {
    let doc =
        hw(r#"{"Effect":"Allow","Action":"*","Condition":{"StringEqualz":{"g:UserName":"a"}}}"#);
    one_error_at(
        Cloud::Huawei,
        &doc,
        "/Statement/0/Condition/StringEqualz",
        "unknown operator",
    );
}

#[test]
fn huawei_only_modifiers_are_unknown_in_ram() {
    for op in [
        "StringEqualsIfExists",
        "ForAnyValue:StringEquals",
        "Null",
        "StringMatch",
        "NumberEquals",
    ] {
        let doc = format!(
            r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"{op}":{{"acs:SourceIp":"true"}}}}}}]}}"#
        );
        let errs = errors(Cloud::Aliyun, &doc);
        assert!(
            errs[0].message.contains("unknown operator"),
            "{op}: {errs:?}"
        );
    }
}

#[test]
fn unknown_field() {
    let doc = hw(r#"{"Effect":"Allow","Action":"*","Resources":"*"}"#);
    one_error_at(
        Cloud::Huawei,
        &doc,
        "/Statement/0/Resources",
        "unknown field",
    );
    let doc = r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"*"}],"Extra":1}"#;
    one_error_at(Cloud::Huawei, doc, "/Extra", "unknown field");
}

#[test]
fn bad_cidr_date_number_bool() {
    let cases = [
        ("IpAddress", "g:SourceIp", r#""10.0.0.0/33""#, "IP address"),
        ("DateLessThan", "g:CurrentTime", r#""yesterday""#, "date"),
        ("NumberEquals", "g:ResourceTag/n", r#""eight""#, "number"),
        ("Bool", "g:MFAPresent", r#""yes""#, "true or false"),
    ];
    for (op, key, value, needle) in cases {
        let doc = hw(&format!(
            r#"{{"Effect":"Allow","Action":"*","Condition":{{"{op}":{{"{key}":{value}}}}}}}"#
        ));
        let pointer = format!("/Statement/0/Condition/{op}/{}", key.replace('/', "~1"));
        one_error_at(Cloud::Huawei, &doc, &pointer, needle);
    }
}

#[test]
fn action_with_not_action() {
    let doc = hw(r#"{"Effect":"Allow","Action":"*","NotAction":"modelarts:pool:*"}"#);
    one_error_at(
        Cloud::Huawei,
        &doc,
        "/Statement/0",
        "exactly one of Action and NotAction",
    );
}

#[test]
fn empty_lists() {
    one_error_at(
        Cloud::Huawei,
        &hw(r#"{"Effect":"Allow","Action":[]}"#),
        "/Statement/0/Action",
        "empty",
    );
    one_error_at(
        Cloud::Huawei,
        &hw(r#"{"Effect":"Allow","Action":"*","Resource":[]}"#),
        "/Statement/0/Resource",
        "empty",
    );
    one_error_at(
        Cloud::Huawei,
        r#"{"Version":"5.0","Statement":[]}"#,
        "/Statement",
        "empty",
    );
    let doc =
        hw(r#"{"Effect":"Allow","Action":"*","Condition":{"StringEquals":{"g:UserName":[]}}}"#);
    one_error_at(
        Cloud::Huawei,
        &doc,
        "/Statement/0/Condition/StringEquals/g:UserName",
        "empty",
    );
}

#[test]
fn ram_requires_a_resource_and_rejects_principal() {
    let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"agentrun:*"}]}"#;
    one_error_at(Cloud::Aliyun, doc, "/Statement/0", "missing Resource");
    let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}]}"#;
    one_error_at(
        Cloud::Aliyun,
        doc,
        "/Statement/0/Principal",
        "trust policies",
    );
}

#[test]
fn bad_effect_action_and_resource_shapes() {
    one_error_at(
        Cloud::Huawei,
        &hw(r#"{"Effect":"allow","Action":"*"}"#),
        "/Statement/0/Effect",
        "Allow",
    );
    one_error_at(
        Cloud::Huawei,
        &hw(r#"{"Effect":"Allow","Action":"notebook"}"#),
        "/Statement/0/Action/0",
        "not an action",
    );
    one_error_at(
        Cloud::Huawei,
        &hw(r#"{"Effect":"Allow","Action":"*","Resource":["*"," "]}"#),
        "/Statement/0/Resource/1",
        "non-empty string",
    );
}

#[test]
fn any_non_empty_string_is_a_resource_pattern() {
    // Both dialects glob over the whole name: no URN/ARN shape is enforced at
    // load (`iamgate check` warns on patterns that can match nothing).
    for (cloud, version, patterns) in [
        (
            Cloud::Huawei,
            "5.0",
            ["modelarts:*", "notebook:nb1", "nb-?", "*:*:notebook:*"],
        ),
        (
            Cloud::Aliyun,
            "1",
            ["acs:agentrun:*", "agentrun:*", "acs:*", "runtimes/*"],
        ),
    ] {
        for field in ["Resource", "NotResource"] {
            let doc = format!(
                r#"{{"Version":"{version}","Statement":[{{"Effect":"Allow","Action":"*","{field}":{}}}]}}"#,
                serde_json::to_string(&patterns).unwrap()
            );
            let r = parse_policy(Path::new("p.json"), "p", cloud, &doc);
            assert!(r.is_ok(), "{cloud} {field}: {r:?}");
        }
    }
}

#[test]
fn a_lone_statement_object_is_huawei_only() {
    // huawei-iam.md: "Statement: array (a lone object is accepted)";
    // aliyun-ram.md: "Statement array".
    let one = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
    let doc = format!(r#"{{"Version":"5.0","Statement":{one}}}"#);
    let p = parse_policy(Path::new("p.json"), "p", Cloud::Huawei, &doc).unwrap();
    assert_eq!(p.statements.len(), 1);
    let doc = format!(r#"{{"Version":"1","Statement":{one}}}"#);
    one_error_at(Cloud::Aliyun, &doc, "/Statement", "must be an array");
}

/// Exactly one error, a line:column one, whose message is `message`.
fn duplicate_at(cloud: Cloud, doc: &str, line: usize, column: usize, message: &str) {
    let errs = errors(cloud, doc);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].place, Place::Line { line, column }, "{errs:?}");
    assert_eq!(errs[0].message, message);
}

#[test]
fn a_duplicate_key_at_any_level_is_an_error_with_its_place() {
    // serde_json's Value would keep the last member and drop the other.
    let doc = "{\"Version\":\"5.0\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",
  \"Condition\":{\"IpAddress\":{\"g:SourceIp\":\"10.0.0.0/8\"}},
  \"Condition\":{\"Bool\":{\"g:SecureTransport\":\"true\"}}}]}";
    let at = "duplicate key `Condition` in /Statement/0";
    duplicate_at(Cloud::Huawei, doc, 3, 13, at);
    let doc = r#"{"Version":"5.0","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"*"}]}"#;
    duplicate_at(
        Cloud::Huawei,
        doc,
        1,
        55,
        "duplicate key `Effect` in /Statement/0",
    );
    let doc = r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"*","Condition":{
"StringEquals":{"g:UserName":"a"},"StringEquals":{"g:UserName":"b"}}}]}"#;
    duplicate_at(
        Cloud::Huawei,
        doc,
        2,
        48,
        "duplicate key `StringEquals` in /Statement/0/Condition",
    );
    let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
"StringEquals":{"acs:SourceVpc":"a","acs:SourceVpc":"b"}}}]}"#;
    duplicate_at(
        Cloud::Aliyun,
        doc,
        2,
        51,
        "duplicate key `acs:SourceVpc` in /Statement/0/Condition/StringEquals",
    );
    let doc = r#"{"Version":"5.0","Statement":[{"Effect":"Deny","Action":"*"}],
"Statement":[{"Effect":"Allow","Action":"*"}]}"#;
    duplicate_at(
        Cloud::Huawei,
        doc,
        2,
        11,
        "duplicate key `Statement` in the document",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let doc = r#"{"Version":"5.0","Statement":[
        {"Effect":"Maybe","Action":"*"},
        {"Effect":"Allow","Action":"*","Condition":{"IpAddress":{"g:SourceIp":"nope"}}},
        {"Effect":"Allow"}
    ]}"#;
    let errs = errors(Cloud::Huawei, doc);
    let places: Vec<String> = errs.iter().map(Diagnostic::location).collect();
    assert_eq!(
        places,
        [
            "p.json#/Statement/0/Effect",
            "p.json#/Statement/1/Condition/IpAddress/g:SourceIp",
            "p.json#/Statement/2"
        ]
    );
}

#[test]
fn the_seed_full_access_policy_shapes_load() {
    // Single-string lists, many services, a misspelt action, ARN globs: all load.
    let doc = r#"{"Version":"1","Statement":[
      {"Action":"bss:DescribeAcccount","Resource":"*","Effect":"Allow"},
      {"Effect":"Allow","Action":["log:GetLogStoreLogs"],"Resource":"acs:log:*:*:project/*/logstore/aliyun-prom-*"},
      {"Effect":"Allow","Action":"ram:PassRole","Resource":"*","Condition":{"StringEquals":{"acs:Service":["fc.aliyuncs.com"]}}}
    ]}"#;
    assert!(parse_policy(Path::new("p.json"), "p", Cloud::Aliyun, doc).is_ok());
}
