//! Unit tests of the evaluation order the property test cannot see: which
//! statement a decision names when the index visits them out of order, the
//! root identity under organisation policies per cloud, and `authorize`.
//! Written against the mutants cargo-mutants left alive (tests/MUTANTS.md).

use std::path::Path;

use super::*;
use crate::policy::document::parse_policy;

/// A non-root Huawei subject with these identity policies and no organisation.
fn subject(identity: Vec<Arc<crate::policy::Policy>>) -> Subject {
    Subject {
        cloud: Cloud::Huawei,
        root: false,
        identity: Arc::new(PolicySet::new(identity)),
        org: Vec::new().into(),
        session: None,
    }
}

fn ctx() -> Context {
    Context::new()
}

fn on(cloud: Cloud, name: &str, statements: &str) -> Arc<crate::policy::Policy> {
    let doc = format!(
        r#"{{"Version":"{}","Statement":[{statements}]}}"#,
        cloud.policy_version()
    );
    Arc::new(parse_policy(Path::new("t.json"), name, cloud, &doc).unwrap())
}

const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;
const DENY_ALL: &str = r#"{"Effect":"Deny","Action":"*","Resource":"*"}"#;

/// A subject of `cloud` whose identity allows everything, under one
/// organisation level holding `org` (no level when `None`).
fn member(cloud: Cloud, root: bool, org: Option<&str>) -> Subject {
    Subject {
        cloud,
        root,
        identity: Arc::new(PolicySet::new(vec![on(cloud, "id", ALLOW_ALL)])),
        org: org
            .map(|st| OrgLevel {
                node: "ou-1".into(),
                policies: Arc::new(PolicySet::new(vec![on(cloud, "scp", st)])),
            })
            .into_iter()
            .collect(),
        session: None,
    }
}

#[test]
fn the_first_statement_by_position_decides_whatever_the_index_visits_first() {
    // The literal action (statement 1) is visited before the wildcard
    // (statement 0); the reason must still name statement 0.
    let set = on(
        Cloud::Huawei,
        "p",
        r#"{"Effect":"Allow","Action":"modelarts:*","Resource":"*"},
           {"Effect":"Allow","Action":"modelarts:notebook:get","Resource":"*"},
           {"Effect":"Deny","Action":"modelarts:*","Resource":"modelarts:*:*:pool:*"},
           {"Effect":"Deny","Action":"modelarts:notebook:get","Resource":"modelarts:*:*:pool:*"}"#,
    );
    let subj = subject(vec![set]);
    let d = evaluate(
        &subj,
        "modelarts:notebook:get",
        "modelarts:r:a:notebook:nb1",
        &ctx(),
    );
    assert_eq!(d.kind, DecisionKind::Allow);
    let Reason::Statement(st) = &d.reason else {
        panic!("{d:?}")
    };
    assert_eq!(st.index, 0);
    let d = evaluate(
        &subj,
        "modelarts:notebook:get",
        "modelarts:r:a:pool:p1",
        &ctx(),
    );
    let Reason::Statement(st) = &d.reason else {
        panic!("{d:?}")
    };
    assert_eq!((d.kind, st.index), (DecisionKind::ExplicitDeny, 2));
}

#[test]
fn a_statement_needs_its_resource_even_without_conditions() {
    let set = on(
        Cloud::Huawei,
        "p",
        r#"{"Effect":"Allow","Action":"*","Resource":"modelarts:*:*:pool:*"}"#,
    );
    let subj = subject(vec![set]);
    let d = evaluate(
        &subj,
        "modelarts:notebook:get",
        "modelarts:r:a:notebook:nb1",
        &ctx(),
    );
    assert_eq!(d.reason, Reason::NoIdentityAllow);
}

#[test]
fn control_policies_skip_only_the_aliyun_root() {
    let (action, resource, c) = ("ecs:get", "acs:ecs:*:1:instance/i-1", Context::new());
    let kind = |s: &Subject| evaluate(s, action, resource, &c).kind;
    // The Huawei root identity stays under its SCPs.
    assert_eq!(
        kind(&member(Cloud::Huawei, true, Some(DENY_ALL))),
        DecisionKind::ExplicitDeny
    );
    let d = evaluate(
        &member(Cloud::Huawei, true, Some(ALLOW_ALL)),
        action,
        resource,
        &c,
    );
    assert_eq!((d.kind, d.reason), (DecisionKind::Allow, Reason::RootUser));
    // The Alibaba root identity is not subject to control policies ...
    let d = evaluate(
        &member(Cloud::Aliyun, true, Some(DENY_ALL)),
        action,
        resource,
        &c,
    );
    assert_eq!((d.kind, d.reason), (DecisionKind::Allow, Reason::RootUser));
    // ... but every other Alibaba identity is.
    assert_eq!(
        kind(&member(Cloud::Aliyun, false, Some(DENY_ALL))),
        DecisionKind::ExplicitDeny
    );
    assert_eq!(
        kind(&member(Cloud::Aliyun, false, None)),
        DecisionKind::Allow
    );
}

#[test]
fn authorize_grants_every_need_or_names_the_first_refused() {
    let set = on(
        Cloud::Huawei,
        "p",
        r#"{"Effect":"Allow","Action":"modelarts:notebook:get","Resource":"*"}"#,
    );
    let subj = subject(vec![set]);
    let need = |a: &str| {
        (
            a.to_string(),
            "modelarts:r:a:notebook:nb1".to_string(),
            Context::new(),
        )
    };
    let permit = authorize(&subj, &[need("modelarts:notebook:get")]).unwrap();
    assert_eq!(permit.grants().len(), 1);
    assert_eq!(permit.grants()[0].action, "modelarts:notebook:get");
    assert!(permit.grants()[0].decision.is_allowed());
    let denial = authorize(
        &subj,
        &[
            need("modelarts:notebook:get"),
            need("modelarts:notebook:delete"),
            need("x:y"),
        ],
    )
    .unwrap_err();
    assert_eq!(denial.action, "modelarts:notebook:delete");
    assert_eq!(denial.decision.reason, Reason::NoIdentityAllow);
}

#[test]
fn a_session_policy_must_allow_too_and_its_deny_is_named() {
    let session = |statements: &str| {
        let mut s = subject(vec![on(Cloud::Huawei, "id", ALLOW_ALL)]);
        s.session = Some(Arc::new(PolicySet::new(vec![on(
            Cloud::Huawei,
            "session",
            statements,
        )])));
        s
    };
    let (action, resource) = ("modelarts:notebook:get", "modelarts:r:a:notebook:nb1");
    let only_list = r#"{"Effect":"Allow","Action":"modelarts:notebook:list","Resource":"*"}"#;
    let d = evaluate(&session(only_list), action, resource, &ctx());
    assert_eq!(
        (d.kind, d.reason),
        (DecisionKind::ImplicitDeny, Reason::NoSessionAllow)
    );
    let d = evaluate(&session(ALLOW_ALL), action, resource, &ctx());
    assert_eq!(d.kind, DecisionKind::Allow);
    let Reason::Statement(st) = &d.reason else {
        panic!("{d:?}")
    };
    assert_eq!(
        (st.policy.as_ref(), &st.source),
        ("id", &PolicySource::Identity)
    );
    let d = evaluate(&session(DENY_ALL), action, resource, &ctx());
    let Reason::Statement(st) = &d.reason else {
        panic!("{d:?}")
    };
    assert_eq!(
        (d.kind, st.policy.as_ref(), &st.source),
        (
            DecisionKind::ExplicitDeny,
            "session",
            &PolicySource::Session
        )
    );
}

#[test]
fn an_organisation_deeper_than_the_inline_levels_is_judged_level_by_level() {
    let deep = |last: &str| {
        let mut s = member(Cloud::Huawei, false, None);
        let level = |i: usize, st: &str| OrgLevel {
            node: format!("ou-{i}").into(),
            policies: Arc::new(PolicySet::new(vec![on(Cloud::Huawei, "scp", st)])),
        };
        let mut org: Vec<OrgLevel> = (0..INLINE_LEVELS).map(|i| level(i, ALLOW_ALL)).collect();
        org.push(level(INLINE_LEVELS, last));
        s.org = org.into();
        s
    };
    let (action, resource) = ("ecs:get", "acs:ecs:*:1:instance/i-1");
    assert_eq!(
        evaluate(&deep(ALLOW_ALL), action, resource, &ctx()).kind,
        DecisionKind::Allow
    );
    let d = evaluate(&deep(DENY_ALL), action, resource, &ctx());
    let Reason::Statement(st) = &d.reason else {
        panic!("{d:?}")
    };
    assert_eq!(
        (d.kind, &st.source),
        (
            DecisionKind::ExplicitDeny,
            &PolicySource::Org {
                level: INLINE_LEVELS,
                node: format!("ou-{INLINE_LEVELS}").into(),
            }
        )
    );
    let only_other = r#"{"Effect":"Allow","Action":"obs:*","Resource":"*"}"#;
    let d = evaluate(&deep(only_other), action, resource, &ctx());
    assert_eq!(
        d.reason,
        Reason::NoOrgAllow {
            level: INLINE_LEVELS,
            node: format!("ou-{INLINE_LEVELS}").into(),
        }
    );
}
