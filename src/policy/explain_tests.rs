//! Unit tests of explanations: each statement's outcome says which part
//! failed, and the statements the engine skips for a root identity are left
//! out. Written against the mutants cargo-mutants left alive
//! (tests/MUTANTS.md).

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::policy::document::parse_policy;
use crate::policy::evaluate::OrgLevel;

const NB: &str = "modelarts:cn-north-4:acc1:notebook:nb1";

fn policy(cloud: Cloud, name: &str, statements: &str) -> Arc<crate::policy::Policy> {
    let doc = format!(
        r#"{{"Version":"{}","Statement":[{statements}]}}"#,
        cloud.policy_version()
    );
    Arc::new(parse_policy(Path::new("t.json"), name, cloud, &doc).unwrap())
}

/// One statement each: matched, wrong action, wrong resource, failed condition.
fn identity(cloud: Cloud) -> Arc<crate::policy::Policy> {
    policy(
        cloud,
        "id",
        r#"{"Effect":"Allow","Action":"modelarts:notebook:get","Resource":"*"},
           {"Effect":"Deny","Action":"obs:*","Resource":"*"},
           {"Effect":"Allow","Action":"modelarts:*","Resource":"modelarts:*:*:pool:*"},
           {"Sid":"Mine","Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"StringEquals":{"g:UserName":"alice"}}}"#,
    )
}

fn subject(cloud: Cloud, root: bool) -> Subject {
    let scp = policy(
        cloud,
        "scp",
        r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
    );
    Subject {
        cloud,
        root,
        identity: Arc::new(PolicySet::new(vec![identity(cloud)])),
        org: vec![OrgLevel {
            node: "ou-1".into(),
            policies: Arc::new(PolicySet::new(vec![scp])),
        }]
        .into(),
        session: None,
    }
}

fn outcomes(traces: &[StatementTrace]) -> Vec<(String, Outcome)> {
    traces
        .iter()
        .map(|t| (t.statement.to_string(), t.outcome.clone()))
        .collect()
}

#[test]
fn every_statement_says_why_it_did_not_match() {
    let mut ctx = Context::new();
    ctx.set("g:UserName", "bob");
    let got = outcomes(&trace(
        &subject(Cloud::Huawei, false),
        "ModelArts:Notebook:Get",
        NB,
        &ctx,
    ));
    let failed = Outcome::ConditionFailed {
        operator: "StringEquals".into(),
        key: "g:UserName".into(),
        request_values: Some(vec!["bob".into()]),
    };
    let want = vec![
        (
            "scp#0 at organisation level 0 (ou-1)".into(),
            Outcome::Matched,
        ),
        ("id#0".into(), Outcome::Matched),
        ("id#1".into(), Outcome::ActionNotMatched),
        ("id#2".into(), Outcome::ResourceNotMatched),
        ("id#3 (Mine)".into(), failed),
    ];
    assert_eq!(got, want);
    ctx.set("g:UserName", "alice");
    let st = &identity(Cloud::Huawei).statements[3];
    assert_eq!(judge_statement(st, "x:y", NB, &ctx), Outcome::Matched);
}

#[test]
fn a_root_identity_skips_identity_policies_and_on_aliyun_control_policies() {
    let ctx = Context::new();
    let traced = |cloud, root| {
        let t = trace(&subject(cloud, root), "modelarts:notebook:get", NB, &ctx);
        t.iter()
            .map(|t| t.statement.to_string())
            .collect::<Vec<_>>()
    };
    let org = "scp#0 at organisation level 0 (ou-1)".to_string();
    assert_eq!(traced(Cloud::Huawei, true), std::slice::from_ref(&org));
    assert!(traced(Cloud::Aliyun, true).is_empty());
    let aliyun = traced(Cloud::Aliyun, false);
    assert_eq!(aliyun.first(), Some(&org));
    assert_eq!(aliyun.len(), 5);
}
