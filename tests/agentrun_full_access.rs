//! The seed's full-access RAM policy (verbatim) against every AgentRun REST
//! operation: a RAM user holding only that policy, in no resource directory,
//! is allowed 32 operations by an exact action, 20 by `agentrun:List*`, 21 by
//! `agentrun:Get*`, and denied the other 27 (aliyun-ram.md). Which kind of
//! grant allowed an operation is read from the decision's reason: the deciding
//! statement, and which of its action patterns match.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::manifest;
use std::collections::BTreeSet;
use std::sync::Arc;

use http::Method;
use iamgate::cloud::Cloud;
use iamgate::policy::glob::Glob;
use iamgate::policy::statement::ActionSet;
use iamgate::policy::{
    evaluate, parse_policy, Context, DecisionKind, Policy, PolicySet, PolicySource, Reason, Subject,
};
use iamgate::routes::RouteTable;

const REGION: &str = "cn-hangzhou";
const ACCOUNT: &str = "1234567890";
const POLICY: &str = "agentrun-full-access";

/// The operations the full-access policy does not allow, as aliyun-ram.md
/// lists them: Flow, Tool, IMBot, Browser, CodeInterpreter and Workspace
/// writes, and Delete/Pause/ResumeSandbox.
const DENIED: [&str; 27] = [
    "CreateBrowser",
    "DeleteBrowser",
    "CreateCodeInterpreter",
    "DeleteCodeInterpreter",
    "CreateIMBot",
    "UpdateIMBot",
    "DeleteIMBot",
    "CreateTool",
    "UpdateTool",
    "DeleteTool",
    "CreateFlow",
    "ConvertFlowDSL",
    "UpdateFlow",
    "DeleteFlow",
    "UpdateFlowDraft",
    "CreateFlowEndpoint",
    "UpdateFlowEndpoint",
    "DeleteFlowEndpoint",
    "PublishFlowVersion",
    "DeleteFlowVersion",
    "DeleteSandbox",
    "PauseSandbox",
    "ResumeSandbox",
    "CreateWorkspace",
    "UpdateWorkspace",
    "DeleteWorkspace",
    "UpdateWorkspaceDiscoveryEndpoints",
];

fn load_policy(rel: &str) -> Policy {
    let path = manifest(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    parse_policy(&path, POLICY, Cloud::Aliyun, &text)
        .unwrap_or_else(|e| panic!("{rel} does not load: {e:#?}"))
}

fn policy() -> Policy {
    load_policy("tests/data/agentrun/agentrun-full-access.json")
}

fn subject(policy: Policy) -> Subject {
    Subject {
        cloud: Cloud::Aliyun,
        root: false,
        identity: Arc::new(PolicySet::new(vec![Arc::new(policy)])),
        org: Arc::from(Vec::new()),
        session: None,
    }
}

fn table() -> RouteTable {
    common::route_table()
}

/// (method, path, action) of the SDK table.
fn sdk_operations() -> Vec<(String, String, String)> {
    let rows = common::fixture("agentrun", "sdk_operations.tsv");
    assert_eq!(rows.len(), 100);
    rows.into_iter()
        .map(|c| (c[0].clone(), c[1].clone(), c[2].clone()))
        .collect()
}

/// A concrete path for a template: every `{param}` → `param-1`.
fn instantiate(template: &str) -> String {
    common::instantiate(template, |name| format!("{name}-1"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    Exact,
    List,
    Get,
}

/// How the deciding statement covers `action`: exactly one of its patterns
/// must match, and that pattern names the kind of grant.
fn grant_kind(policy: &Policy, index: usize, action: &str) -> Grant {
    let ActionSet::Action(patterns) = &policy.statements[index].actions else {
        panic!("statement {index} has no Action")
    };
    let lower = action.to_lowercase();
    let matching: Vec<String> = patterns
        .iter()
        .filter(|g| g.matches(&lower))
        .map(|g| g.text().into_owned())
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "{action}: statement {index} patterns {matching:?}"
    );
    match matching[0].as_str() {
        "agentrun:list*" => Grant::List,
        "agentrun:get*" => Grant::Get,
        p if !p.contains(['*', '?']) => {
            assert!(p.eq_ignore_ascii_case(action), "{p} vs {action}");
            Grant::Exact
        }
        other => panic!("{action}: unexpected pattern {other}"),
    }
}

#[test]
fn the_seed_policy_loads_verbatim_from_both_places() {
    let sample = std::fs::read(manifest(
        "policies/aliyun/identity/agentrun-full-access.json",
    ))
    .unwrap();
    let fixture = std::fs::read(manifest("tests/data/agentrun/agentrun-full-access.json")).unwrap();
    assert_eq!(
        sample, fixture,
        "the sample policy and the fixture are the same bytes"
    );
    let text = String::from_utf8(fixture).unwrap();
    assert!(text.starts_with("{\n  \"Version\": \"1\",\n  \"Statement\": ["));
    assert!(
        text.contains("\"bss:DescribeAcccount\""),
        "misspelling kept"
    );
    let policy = load_policy("policies/aliyun/identity/agentrun-full-access.json");
    assert_eq!(policy, self::policy());
    assert_eq!(policy.statements.len(), 28);
    assert_eq!(&*policy.name, POLICY);
    // The second statement is the AgentRun one: 2 globs + 40 exact actions.
    let agentrun = &policy.statements[1];
    let ActionSet::Action(actions) = &agentrun.actions else {
        panic!("{agentrun:?}")
    };
    assert_eq!(actions.len(), 42);
    assert_eq!(
        actions[..2],
        [Glob::new("agentrun:list*"), Glob::new("agentrun:get*")]
    );
}

#[test]
fn every_operation_against_the_full_access_policy() {
    let table = table();
    let policy = policy();
    let subject = subject(policy.clone());
    let ctx = Context::new();
    let (mut exact, mut list, mut get, mut denied) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (method, path, action) in sdk_operations() {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let concrete = instantiate(&path);
        let m = table.lookup(&method, &concrete).unwrap();
        let catalog = m.actions().next().unwrap();
        assert_eq!(catalog.name, action);
        let arn = m.resource_for(catalog, REGION, ACCOUNT);
        let operation = action.strip_prefix("agentrun:").unwrap().to_string();
        let d = evaluate(&subject, &action, &arn, &ctx);
        match (&d.kind, &d.reason) {
            (DecisionKind::Allow, Reason::Statement(s)) => {
                assert_eq!(s.source, PolicySource::Identity);
                assert_eq!(&*s.policy, POLICY);
                assert_eq!(
                    s.index, 1,
                    "{operation} is granted by the AgentRun statement"
                );
                match grant_kind(&policy, s.index, &action) {
                    Grant::Exact => exact.push(operation),
                    Grant::List => list.push(operation),
                    Grant::Get => get.push(operation),
                }
            }
            (DecisionKind::ImplicitDeny, Reason::NoIdentityAllow) => denied.push(operation),
            other => panic!("{operation} on {arn}: unexpected decision {other:?}"),
        }
    }
    println!(
        "exact {} list {} get {} denied {}",
        exact.len(),
        list.len(),
        get.len(),
        denied.len()
    );
    assert_eq!(exact.len(), 32, "exact: {exact:?}");
    assert_eq!(list.len(), 20, "List*: {list:?}");
    assert_eq!(get.len(), 21, "Get*: {get:?}");
    assert_eq!(denied.len(), 27, "denied: {denied:?}");
    let denied: BTreeSet<&str> = denied.iter().map(String::as_str).collect();
    assert_eq!(denied, DENIED.iter().copied().collect::<BTreeSet<_>>());
    assert!(list.iter().all(|o| o.starts_with("List")));
    assert!(get.iter().all(|o| o.starts_with("Get")));
}

#[test]
fn actions_ignore_case_and_fnf_grants_do_not_open_agentrun_flows() {
    let subject = subject(policy());
    let ctx = Context::new();
    let arn = format!("acs:agentrun:{REGION}:{ACCOUNT}:templates/t1");
    for action in [
        "AGENTRUN:GETTEMPLATE",
        "AgentRun:getTemplate",
        "agentrun:updatetemplate",
    ] {
        assert!(
            evaluate(&subject, action, &arn, &ctx).is_allowed(),
            "{action}"
        );
    }
    // The seed grants fnf:CreateFlow, which is another service's action.
    let flows = format!("acs:agentrun:{REGION}:{ACCOUNT}:workspaces/*/flows/*");
    assert!(!evaluate(&subject, "agentrun:CreateFlow", &flows, &ctx).is_allowed());
    assert!(evaluate(&subject, "fnf:CreateFlow", "acs:fnf:*:*:flow/f1", &ctx).is_allowed());
    // The misspelt action grants only itself.
    assert!(evaluate(&subject, "bss:DescribeAcccount", "*", &ctx).is_allowed());
    assert!(!evaluate(&subject, "bss:DescribeAccount", "*", &ctx).is_allowed());
}

#[test]
fn the_data_plane_actions_are_granted_exactly() {
    let table = table();
    let policy = policy();
    let subject = subject(policy.clone());
    let ctx = Context::new();
    for name in [
        "agentrun:InvokeRuntime",
        "agentrun:InvokeSandbox",
        "agentrun:RetrieveMemory",
        "agentrun:CreateMemory",
        "agentrun:UpdateMemory",
        "agentrun:DeleteMemory",
        "agentrun:StartBrowserSession",
        "agentrun:StopBrowserSession",
    ] {
        let action = table.action(name).unwrap();
        let arn = format!(
            "acs:agentrun:{REGION}:{ACCOUNT}:{}/x-1",
            action.resource_types[0]
        );
        let d = evaluate(&subject, name, &arn, &ctx);
        let Reason::Statement(s) = &d.reason else {
            panic!("{name}: {d:?}")
        };
        assert!(d.is_allowed(), "{name}");
        assert_eq!(grant_kind(&policy, s.index, name), Grant::Exact, "{name}");
    }
}
