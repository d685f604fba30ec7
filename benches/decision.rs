//! `evaluate` over generated ModelArts-like policies at realistic sizes, each
//! beside a naive baseline written here that decides the same way by brute
//! force: every statement of every policy in order (organisation levels
//! first, then identity), action and resource matched by a plain recursive
//! wildcard matcher over the pattern text at match time, conditions through
//! `Condition::holds`; no index. For the principal lookup the baseline scans
//! a `Vec`. Before timing, both answers (kind and reason) are asserted equal.
//!
//! Policies come from a seeded generator: 70 actions over 10 resource types,
//! exact action lists, `modelarts:<type>:*` and `modelarts:*:get*` patterns,
//! URN resources, `StringEquals` on `g:ResourceTag/team` and `IpAddress` on
//! `g:SourceIp` conditions, and Deny statements that never match the
//! measured requests. Identity policies never grant the `workspace` type,
//! which gives the implicit-deny request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion};
use iamgate::cloud::Cloud;
use iamgate::policy::condition::Condition;
use iamgate::policy::document::{ActionSet, ResourceSet};
use iamgate::policy::glob::Glob;
use iamgate::policy::{
    evaluate, parse_policy, Context, Decision, DecisionKind, Effect, OrgLevel, Policy, PolicySet,
    PolicySource, Reason, StatementRef, Subject,
};

/// Resource types with the prefix of their ids; × `VERBS` = 70 actions.
const TYPES: &[(&str, &str)] = &[
    ("notebook", "nb"),
    ("training-job", "job"),
    ("model", "model"),
    ("service", "svc"),
    ("dataset", "ds"),
    ("pool", "pool"),
    ("image", "img"),
    ("algorithm", "algo"),
    ("node", "node"),
    ("workflow", "wf"),
];
const VERBS: &[&str] = &["get", "list", "create", "update", "delete", "start", "stop"];
const TEAMS: &[&str] = &["ml-platform", "cv", "nlp", "speech"];
const NETS: &[&str] = &["10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"];

/// The last statement of a measured principal's last policy: an allow that
/// needs both conditions checked.
const GRANT: &str = r#"{"Sid":"NotebookOpsMlPlatform","Effect":"Allow",
    "Action":["modelarts:notebook:start","modelarts:notebook:stop"],
    "Resource":["modelarts:*:*:notebook:nb-17"],
    "Condition":{"StringEquals":{"g:ResourceTag/team":["ml-platform"]},"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}}"#;

type Request = (&'static str, &'static str);
const ALLOWED: Request = (
    "modelarts:notebook:start",
    "modelarts:cn-north-4:0c3a5e0f9b2d4e6a:notebook:nb-17",
);
const IMPLICIT_DENY: Request = (
    "modelarts:workspace:delete",
    "modelarts:cn-north-4:0c3a5e0f9b2d4e6a:workspace:ws-3",
);

/// splitmix64: a seeded generator, so every run measures the same policies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// `text` one time in `one_in`, else nothing.
    fn maybe(&mut self, one_in: usize, text: String) -> String {
        if self.below(one_in) == 0 {
            text
        } else {
            String::new()
        }
    }
}

fn team_condition(rng: &mut Rng) -> String {
    format!(
        r#","Condition":{{"StringEquals":{{"g:ResourceTag/team":["{}"]}}}}"#,
        rng.pick(TEAMS)
    )
}

fn ip_condition(rng: &mut Rng) -> String {
    format!(
        r#","Condition":{{"IpAddress":{{"g:SourceIp":["{}"]}}}}"#,
        rng.pick(NETS)
    )
}

fn resource(rng: &mut Rng, ty: &str, id: &str) -> String {
    match rng.below(3) {
        0 => r#""*""#.to_string(),
        1 => format!(r#""modelarts:*:*:{ty}:*""#),
        _ => format!(r#""modelarts:*:*:{ty}:{id}-{}""#, rng.below(40)),
    }
}

/// One statement: half exact action lists, a quarter `<type>:*`, some
/// `*:get*`/`*:list*`, a tenth Deny on `-prod-` resources.
fn random_statement(rng: &mut Rng) -> String {
    let (ty, id) = rng.pick(TYPES);
    let (effect, actions, resource, condition) = match rng.below(20) {
        0..=9 => {
            let n = 1 + rng.below(3);
            let list: Vec<String> = (0..n)
                .map(|_| format!(r#""modelarts:{ty}:{}""#, rng.pick(VERBS)))
                .collect();
            let cond = team_condition(rng);
            (
                "Allow",
                list.join(","),
                resource(rng, ty, id),
                rng.maybe(3, cond),
            )
        }
        10..=14 => {
            let cond = team_condition(rng);
            (
                "Allow",
                format!(r#""modelarts:{ty}:*""#),
                resource(rng, ty, id),
                rng.maybe(2, cond),
            )
        }
        15..=17 => {
            let cond = ip_condition(rng);
            let actions = r#""modelarts:*:get*","modelarts:*:list*""#.to_string();
            ("Allow", actions, r#""*""#.to_string(), rng.maybe(2, cond))
        }
        _ => {
            let actions = match rng.below(2) {
                0 => format!(r#""modelarts:{ty}:delete","modelarts:{ty}:stop""#),
                _ => format!(r#""modelarts:{ty}:*""#),
            };
            (
                "Deny",
                actions,
                format!(r#""modelarts:*:*:{ty}:{id}-prod-*""#),
                String::new(),
            )
        }
    };
    format!(r#"{{"Effect":"{effect}","Action":[{actions}],"Resource":[{resource}]{condition}}}"#)
}

fn parse(name: &str, statements: &[String]) -> Arc<Policy> {
    let doc = format!(
        r#"{{"Version":"5.0","Statement":[{}]}}"#,
        statements.join(",")
    );
    let policy = parse_policy(Path::new("bench.json"), name, Cloud::Huawei, &doc);
    Arc::new(policy.unwrap_or_else(|e| panic!("{name}: {e:?}")))
}

/// Five random statements; with `grant`, the last one is `GRANT`.
fn identity_policy(rng: &mut Rng, name: &str, grant: bool) -> Arc<Policy> {
    let mut statements: Vec<String> = (0..5).map(|_| random_statement(rng)).collect();
    if grant {
        statements[4] = GRANT.to_string();
    }
    parse(name, &statements)
}

// ---- the naive baseline -------------------------------------------------

/// A statement as text: lower-cased action patterns, resource patterns.
struct NaiveStatement {
    index: usize,
    sid: Option<Arc<str>>,
    effect: Effect,
    actions: Vec<String>,
    resources: Vec<String>,
    conditions: Vec<Condition>,
}

struct NaivePolicy {
    name: Arc<str>,
    statements: Vec<NaiveStatement>,
}

struct NaiveLevel {
    node: Arc<str>,
    policies: Vec<Arc<NaivePolicy>>,
}

#[derive(Clone)]
struct NaiveSubject {
    identity: Arc<[Arc<NaivePolicy>]>,
    org: Arc<[NaiveLevel]>,
}

/// The pattern text back from a compiled glob (a lossless round trip).
fn glob_text(g: &Glob) -> String {
    match g {
        Glob::Any => "*".to_string(),
        Glob::Exact(s) | Glob::General(s) => s.to_string(),
        Glob::Prefix(p) => format!("{p}*"),
    }
}

fn naive_policy(policy: &Policy) -> Arc<NaivePolicy> {
    let statements = policy.statements.iter().map(|s| {
        assert!(
            matches!(s.actions, ActionSet::Action(_)),
            "the generator writes no NotAction"
        );
        let ResourceSet::Resource(resources) = &s.resources else {
            panic!("the generator writes no NotResource")
        };
        NaiveStatement {
            index: s.index,
            sid: s.sid.clone(),
            effect: s.effect,
            actions: s.action_text.iter().map(|a| a.to_lowercase()).collect(),
            resources: resources.iter().map(glob_text).collect(),
            conditions: s.conditions.clone(),
        }
    });
    Arc::new(NaivePolicy {
        name: policy.name.clone(),
        statements: statements.collect(),
    })
}

/// `*` any run of characters (also empty), `?` one character; recursive.
fn wildcard(pattern: &str, text: &str) -> bool {
    let mut p = pattern.chars();
    let mut t = text.chars();
    match p.next() {
        None => text.is_empty(),
        Some('*') => {
            let rest = p.as_str();
            loop {
                if wildcard(rest, t.as_str()) {
                    return true;
                }
                if t.next().is_none() {
                    return false;
                }
            }
        }
        Some('?') => t.next().is_some() && wildcard(p.as_str(), t.as_str()),
        Some(c) => t.next() == Some(c) && wildcard(p.as_str(), t.as_str()),
    }
}

type Hit<'a> = Option<(&'a NaivePolicy, &'a NaiveStatement)>;

/// The first matching deny (scanning stops there) and the first matching allow.
fn scan<'a>(
    policies: &'a [Arc<NaivePolicy>],
    action: &str,
    resource: &str,
    ctx: &Context,
) -> (Hit<'a>, Hit<'a>) {
    let mut allow = None;
    for policy in policies {
        for st in &policy.statements {
            let matches = st.actions.iter().any(|p| wildcard(p, action))
                && st.resources.iter().any(|p| wildcard(p, resource))
                && st.conditions.iter().all(|c| c.holds(ctx));
            match st.effect {
                Effect::Deny if matches => return (Some((policy, st)), allow),
                Effect::Allow if matches && allow.is_none() => allow = Some((policy, st)),
                _ => {}
            }
        }
    }
    (None, allow)
}

fn statement(
    kind: DecisionKind,
    (policy, st): (&NaivePolicy, &NaiveStatement),
    source: PolicySource,
) -> Decision {
    let at = StatementRef {
        source,
        policy: policy.name.clone(),
        index: st.index,
        sid: st.sid.clone(),
    };
    Decision {
        kind,
        reason: Reason::Statement(at),
    }
}

/// The engine's order by brute force (no root identities are generated).
fn naive_decide(subject: &NaiveSubject, action: &str, resource: &str, ctx: &Context) -> Decision {
    let action = action.to_ascii_lowercase();
    let mut no_allow_at = None;
    for (level, l) in subject.org.iter().enumerate() {
        let (deny, allow) = scan(&l.policies, &action, resource, ctx);
        if let Some(hit) = deny {
            return statement(
                DecisionKind::ExplicitDeny,
                hit,
                PolicySource::Org {
                    level,
                    node: l.node.clone(),
                },
            );
        }
        if allow.is_none() && no_allow_at.is_none() {
            no_allow_at = Some((level, l.node.clone()));
        }
    }
    let (deny, allow) = scan(&subject.identity, &action, resource, ctx);
    if let Some(hit) = deny {
        return statement(DecisionKind::ExplicitDeny, hit, PolicySource::Identity);
    }
    if let Some((level, node)) = no_allow_at {
        return Decision {
            kind: DecisionKind::ImplicitDeny,
            reason: Reason::NoOrgAllow { level, node },
        };
    }
    match allow {
        Some(hit) => statement(DecisionKind::Allow, hit, PolicySource::Identity),
        None => Decision {
            kind: DecisionKind::ImplicitDeny,
            reason: Reason::NoIdentityAllow,
        },
    }
}

// ---- fixtures -------------------------------------------------------------

/// Three SCP levels, each `FullAccess` plus a Deny for some other action.
struct Org {
    levels: Arc<[OrgLevel]>,
    naive: Arc<[NaiveLevel]>,
}

fn org() -> Org {
    let denies = [
        (
            "r-root",
            r#"{"Effect":"Deny","Action":["modelarts:pool:delete"],"Resource":["*"]}"#,
        ),
        (
            "ou-prod",
            r#"{"Effect":"Deny","Action":["modelarts:service:*"],"Resource":["modelarts:*:*:service:svc-prod-*"]}"#,
        ),
        (
            "0c3a5e0f9b2d4e6a",
            r#"{"Effect":"Deny","Action":["modelarts:*:delete*"],"Resource":["*"],
                "Condition":{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}"#,
        ),
    ];
    let mut levels = Vec::new();
    let mut naive = Vec::new();
    for (node, deny) in denies {
        let policies = vec![
            Arc::new(Policy::full_access(Cloud::Huawei)),
            parse(&format!("scp-{node}"), &[deny.to_string()]),
        ];
        let node: Arc<str> = node.into();
        naive.push(NaiveLevel {
            node: node.clone(),
            policies: policies.iter().map(|p| naive_policy(p)).collect(),
        });
        levels.push(OrgLevel {
            node,
            policies: Arc::new(PolicySet::new(policies)),
        });
    }
    Org {
        levels: levels.into(),
        naive: naive.into(),
    }
}

/// One principal as the engine and the baseline see it.
struct Principal {
    subject: Subject,
    naive: NaiveSubject,
}

fn principal(identity: Vec<Arc<Policy>>, org: &Org) -> Principal {
    let naive = NaiveSubject {
        identity: identity.iter().map(|p| naive_policy(p)).collect(),
        org: org.naive.clone(),
    };
    let identity = Arc::new(PolicySet::new(identity));
    Principal {
        subject: Subject {
            cloud: Cloud::Huawei,
            root: false,
            identity,
            org: org.levels.clone(),
        },
        naive,
    }
}

/// The measured principal: `n` identity policies, the last one granting.
fn measured(n: usize, org: &Org) -> Principal {
    let mut rng = Rng(0x5eed + n as u64);
    let policies = (0..n)
        .map(|i| identity_policy(&mut rng, &format!("policy-{i:04}"), i + 1 == n))
        .collect();
    principal(policies, org)
}

fn context() -> Context {
    let mut ctx = Context::new();
    ctx.set("g:ResourceTag/team", "ml-platform");
    ctx.set("g:SourceIp", "10.1.2.3");
    ctx
}

/// Engine and baseline must agree, and on the expected kind.
fn check(p: &Principal, (action, resource): Request, ctx: &Context, want: DecisionKind) {
    let engine = evaluate(&p.subject, action, resource, ctx);
    assert_eq!(
        engine,
        naive_decide(&p.naive, action, resource, ctx),
        "engine and baseline disagree on {action}"
    );
    assert_eq!(engine.kind, want, "{action}: {:?}", engine.reason);
}

/// An access-key-like id, distinct for distinct `i`.
fn access_key(i: u64) -> String {
    format!("HPUA{:016X}", Rng(i).next())
}

/// A snapshot-like principal map: `n` others sharing 500 policy sets drawn
/// from 200 shared policies, and the measured principal in the middle.
struct Directory {
    map: HashMap<String, Arc<Subject>>,
    list: Vec<(String, NaiveSubject)>,
}

fn directory(n: usize, measured_key: &str, measured: &Principal, org: &Org) -> Directory {
    let mut rng = Rng(n as u64);
    let pool: Vec<Arc<Policy>> = (0..200)
        .map(|i| identity_policy(&mut rng, &format!("shared-{i}"), false))
        .collect();
    let naive_pool: Vec<Arc<NaivePolicy>> = pool.iter().map(|p| naive_policy(p)).collect();
    let sets: Vec<Principal> = (0..500)
        .map(|_| {
            let picks: Vec<usize> = (0..3).map(|_| rng.below(pool.len())).collect();
            let mut p = principal(picks.iter().map(|&i| pool[i].clone()).collect(), org);
            p.naive.identity = picks.iter().map(|&i| naive_pool[i].clone()).collect();
            p
        })
        .collect();
    let mut dir = Directory {
        map: HashMap::with_capacity(n + 1),
        list: Vec::with_capacity(n + 1),
    };
    for i in 0..n {
        if i == n / 2 {
            dir.map
                .insert(measured_key.to_string(), Arc::new(measured.subject.clone()));
            dir.list
                .push((measured_key.to_string(), measured.naive.clone()));
        }
        let other = &sets[rng.below(sets.len())];
        dir.map
            .insert(access_key(i as u64), Arc::new(other.subject.clone()));
        dir.list.push((access_key(i as u64), other.naive.clone()));
    }
    dir
}

// ---- benches --------------------------------------------------------------

fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    g
}

fn bench_request(
    g: &mut BenchmarkGroup<'_, WallTime>,
    p: &Principal,
    req: Request,
    ctx: &Context,
    case: &str,
) {
    g.bench_function(format!("iamgate{case}"), |b| {
        b.iter(|| {
            evaluate(
                black_box(&p.subject),
                black_box(req.0),
                black_box(req.1),
                black_box(ctx),
            )
        })
    });
    g.bench_function(format!("naive_baseline{case}"), |b| {
        b.iter(|| {
            naive_decide(
                black_box(&p.naive),
                black_box(req.0),
                black_box(req.1),
                black_box(ctx),
            )
        })
    });
}

fn bench_ten_policies(c: &mut Criterion) {
    let (org, ctx) = (org(), context());
    let p = measured(10, &org);
    check(&p, ALLOWED, &ctx, DecisionKind::Allow);
    check(&p, IMPLICIT_DENY, &ctx, DecisionKind::ImplicitDeny);
    let mut g = group(c, "decision/10_policies_3_scp_levels");
    bench_request(&mut g, &p, ALLOWED, &ctx, "/allowed");
    bench_request(&mut g, &p, IMPLICIT_DENY, &ctx, "/implicit_deny");
    g.finish();
}

fn bench_thousand_policies(c: &mut Criterion) {
    let (org, ctx) = (org(), context());
    let p = measured(1000, &org);
    check(&p, ALLOWED, &ctx, DecisionKind::Allow);
    let mut g = group(c, "decision/1000_policies");
    bench_request(&mut g, &p, ALLOWED, &ctx, "");
    g.finish();
}

fn bench_other_principals(c: &mut Criterion) {
    let (org, ctx) = (org(), context());
    let p = measured(10, &org);
    let key = access_key(u64::MAX);
    let (action, resource) = ALLOWED;
    for n in [100, 10_000, 100_000] {
        let dir = directory(n, &key, &p, &org);
        let engine = evaluate(&dir.map[&key], action, resource, &ctx);
        let found = dir
            .list
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| s)
            .unwrap();
        assert_eq!(engine, naive_decide(found, action, resource, &ctx));
        assert_eq!(engine.kind, DecisionKind::Allow);
        let mut g = group(c, &format!("decision/other_principals/{n}"));
        g.bench_function("iamgate", |b| {
            b.iter(|| {
                let subject = dir.map.get(black_box(key.as_str())).unwrap();
                evaluate(
                    subject,
                    black_box(action),
                    black_box(resource),
                    black_box(&ctx),
                )
            })
        });
        g.bench_function("naive_baseline", |b| {
            b.iter(|| {
                let key = black_box(key.as_str());
                let subject = dir
                    .list
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, s)| s)
                    .unwrap();
                naive_decide(
                    subject,
                    black_box(action),
                    black_box(resource),
                    black_box(&ctx),
                )
            })
        });
        g.finish();
    }
}

criterion_group!(
    benches,
    bench_ten_policies,
    bench_thousand_policies,
    bench_other_principals
);
criterion_main!(benches);
