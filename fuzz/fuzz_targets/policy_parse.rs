//! Policy JSON → `policy::parse_policy` (both dialects), then evaluation.
//!
//! Input: first byte chooses the cloud (even = Huawei, odd = Alibaba), the
//! rest is the policy text. A policy that parses is evaluated for a few
//! fixed requests, as an identity policy and as an organisation policy:
//! evaluation must be deterministic, and adding a `Deny *` identity policy
//! must turn every one of them into an explicit deny.
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use iamgate::cloud::Cloud;
use iamgate::policy::{
    evaluate, parse_policy, Context, Decision, DecisionKind, OrgLevel, Policy, PolicySet, Subject,
};
use libfuzzer_sys::fuzz_target;

/// (action, resource) pairs per cloud: real actions, resource names as the
/// proxy builds them, and one action no catalog knows.
const HUAWEI: [(&str, &str); 4] = [
    ("modelarts:notebook:list", "*"),
    (
        "modelarts:notebook:delete",
        "modelarts:cn-north-4:acme0001:notebook:nb-1",
    ),
    (
        "modelarts:pool:delete",
        "modelarts:cn-north-4:acme0001:pool:pool-a",
    ),
    (
        "ModelArts:Notebook:Get",
        "modelarts:cn-north-4:acme0001:notebook:*",
    ),
];
const ALIYUN: [(&str, &str); 4] = [
    ("agentrun:ListAgentRuntimes", "*"),
    (
        "agentrun:DeleteAgentRuntime",
        "acs:agentrun:cn-hangzhou:1234:runtimes/rt-1",
    ),
    (
        "agentrun:GetTemplate",
        "acs:agentrun:cn-hangzhou:1234:templates/t-1",
    ),
    ("unknown:Action", "acs:agentrun:*:*:*"),
];

/// The `Deny *` policy of a cloud, parsed once.
fn deny_all(cloud: Cloud) -> Arc<Policy> {
    static HUAWEI_DENY: OnceLock<Arc<Policy>> = OnceLock::new();
    static ALIYUN_DENY: OnceLock<Arc<Policy>> = OnceLock::new();
    let (cell, version) = match cloud {
        Cloud::Huawei => (&HUAWEI_DENY, "5.0"),
        Cloud::Aliyun => (&ALIYUN_DENY, "1"),
    };
    cell.get_or_init(|| {
        let text = format!(
            r#"{{"Version":"{version}","Statement":[{{"Effect":"Deny","Action":"*","Resource":"*"}}]}}"#
        );
        match parse_policy(Path::new("deny.json"), "DenyAll", cloud, &text) {
            Ok(policy) => Arc::new(policy),
            Err(diags) => panic!("the Deny * policy does not parse: {diags:?}"),
        }
    })
    .clone()
}

/// A context with the keys the sample policies' conditions use.
fn context() -> Context {
    let mut ctx = Context::new();
    ctx.set("g:SourceIp", "10.1.2.3");
    ctx.set("acs:SourceIp", "10.1.2.3");
    ctx.set("g:UserName", "alice");
    ctx.set("acs:CurrentTime", "2026-01-01T00:00:00Z");
    ctx.set("g:CurrentTime", "2026-01-01T00:00:00Z");
    ctx.set("g:ResourceTag/Team", "blue");
    ctx.set("g:RequestedRegion", "cn-north-4");
    ctx.set("acs:SecureTransport", "true");
    ctx.set_multi("g:TagKeys", vec!["Team".into(), "env".into()]);
    ctx
}

fn subject(cloud: Cloud, identity: Vec<Arc<Policy>>, org: Vec<Arc<Policy>>) -> Subject {
    let org: Vec<OrgLevel> = org
        .into_iter()
        .map(|p| OrgLevel {
            node: Arc::from("r-root"),
            policies: Arc::new(PolicySet::new(vec![p])),
        })
        .collect();
    Subject {
        cloud,
        root: false,
        identity: Arc::new(PolicySet::new(identity)),
        org: org.into(),
        session: None,
    }
}

fn decide(s: &Subject, action: &str, resource: &str, ctx: &Context) -> Decision {
    let first = evaluate(s, action, resource, ctx);
    assert_eq!(
        first,
        evaluate(s, action, resource, ctx),
        "not deterministic"
    );
    first
}

fuzz_target!(|data: &[u8]| {
    let Some((choice, rest)) = data.split_first() else {
        return;
    };
    let (cloud, requests) = if choice % 2 == 0 {
        (Cloud::Huawei, HUAWEI)
    } else {
        (Cloud::Aliyun, ALIYUN)
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let policy = match parse_policy(Path::new("fuzz.json"), "Fuzz", cloud, text) {
        Ok(policy) => Arc::new(policy),
        Err(diags) => {
            assert!(!diags.is_empty(), "an error without a diagnostic");
            return;
        }
    };
    let ctx = context();
    let alone = subject(cloud, vec![policy.clone()], vec![]);
    let as_org = subject(cloud, vec![policy.clone()], vec![policy.clone()]);
    let denied = subject(cloud, vec![policy.clone(), deny_all(cloud)], vec![]);
    for (action, resource) in requests {
        let allowed = decide(&alone, action, resource, &ctx);
        let org = decide(&as_org, action, resource, &ctx);
        // The same policy as SCP and identity policy never allows more.
        assert!(
            !org.is_allowed() || allowed.is_allowed(),
            "{org:?} vs {allowed:?}"
        );
        let deny = decide(&denied, action, resource, &ctx);
        assert_eq!(
            deny.kind,
            DecisionKind::ExplicitDeny,
            "{action} {resource}: {deny:?}"
        );
    }
});
