//! `evaluate` over generated ModelArts-like policies at realistic sizes
//! (`common::generate`), each beside a naive brute-force baseline
//! (`common::naive`): 10 identity policies under 3 SCP levels (allowed and
//! implicitly denied requests), 1,000 identity policies, and a principal
//! looked up (by access key, as the gateway does) among 100 / 10,000 /
//! 100,000 others and then decided. That last case has no naive baseline: a
//! linear scan beside a hash map would compare lookups, not decisions. It is
//! reported as flat in N against its own N=100 figure (time(N)/time(100),
//! printed after the criterion run). Before timing, the engine and the
//! baseline are asserted to give the same decision (kind and reason).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::generate::{identity_policy, parse, Rng};
use common::naive::{naive_decide, naive_policy, NaiveLevel, NaiveSubject};
use criterion::measurement::WallTime;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion};
use iamgate::cloud::Cloud;
use iamgate::policy::{evaluate, Context, DecisionKind, OrgLevel, Policy, PolicySet, Subject};

type Request = (&'static str, &'static str);
const ALLOWED: Request = (
    "modelarts:notebook:start",
    "modelarts:cn-north-4:0c3a5e0f9b2d4e6a:notebook:nb-17",
);
const IMPLICIT_DENY: Request = (
    "modelarts:workspace:delete",
    "modelarts:cn-north-4:0c3a5e0f9b2d4e6a:workspace:ws-3",
);

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
            session: None,
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

/// A snapshot-like access-key map (what the gateway's directory holds):
/// `n` others sharing 500 policy sets drawn from 200 shared policies, and
/// the measured principal.
fn directory(
    n: usize,
    measured_key: &str,
    measured: &Principal,
    org: &Org,
) -> HashMap<String, Arc<Subject>> {
    let mut rng = Rng(n as u64);
    let pool: Vec<Arc<Policy>> = (0..200)
        .map(|i| identity_policy(&mut rng, &format!("shared-{i}"), false))
        .collect();
    let sets: Vec<Arc<Subject>> = (0..500)
        .map(|_| {
            let picks = (0..3).map(|_| pool[rng.below(pool.len())].clone());
            Arc::new(principal(picks.collect(), org).subject)
        })
        .collect();
    let mut map = HashMap::with_capacity(n + 1);
    map.insert(measured_key.to_string(), Arc::new(measured.subject.clone()));
    for i in 0..n {
        map.insert(access_key(i as u64), sets[rng.below(sets.len())].clone());
    }
    map
}

/// The gateway's per-request work for this case: find the caller by access
/// key, then decide.
fn lookup_and_decide(
    dir: &HashMap<String, Arc<Subject>>,
    key: &str,
    (action, resource): Request,
    ctx: &Context,
) -> DecisionKind {
    let subject = dir.get(black_box(key)).unwrap();
    evaluate(
        subject,
        black_box(action),
        black_box(resource),
        black_box(ctx),
    )
    .kind
}

/// Median nanoseconds per call of `f` over 7 batches of 20,000 calls.
fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut batches: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..20_000 {
                f();
            }
            t.elapsed().as_nanos() as f64 / 20_000.0
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[3]
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
    let mut flat = Vec::new();
    for n in [100, 10_000, 100_000] {
        let dir = directory(n, &key, &p, &org);
        let engine = evaluate(&dir[&key], ALLOWED.0, ALLOWED.1, &ctx);
        assert_eq!(engine, naive_decide(&p.naive, ALLOWED.0, ALLOWED.1, &ctx));
        assert_eq!(engine.kind, DecisionKind::Allow);
        let mut g = group(c, &format!("decision/other_principals/{n}"));
        g.bench_function("iamgate_lookup_and_decide", |b| {
            b.iter(|| lookup_and_decide(&dir, &key, ALLOWED, &ctx))
        });
        g.finish();
        flat.push((
            n,
            median_ns(|| {
                black_box(lookup_and_decide(&dir, &key, ALLOWED, &ctx));
            }),
        ));
    }
    // Flat in N: each size against the N=100 figure (1.00 = no growth).
    let reference = flat[0].1;
    for (n, ns) in &flat {
        println!(
            "lookup + decision among {n} other principals: median {ns:.0} ns, time(N)/time(100) = {:.2}",
            ns / reference
        );
    }
}

criterion_group!(
    benches,
    bench_ten_policies,
    bench_thousand_policies,
    bench_other_principals
);
criterion_main!(benches);
