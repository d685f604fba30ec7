//! The decision corpus: every `tests/decisions/*.toml` file holds policies and
//! cases (policies + action + resource + context → decision, kind, deciding
//! statement). One harness runs them all, then checks that every operator of
//! each dialect was seen both holding and failing, and that each modifier
//! (IfExists, ForAnyValue, ForAllValues) was exercised.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use iamgate::cloud::Cloud;
use iamgate::policy::condition::{operator_names, SetQualifier};
use iamgate::policy::{evaluate, parse_policy, Context, OrgLevel, Policy, PolicySet, Subject};
use iamgate::policy::{PolicySource, Reason};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    cloud: Cloud,
    policies: BTreeMap<String, String>,
    /// RAM role trust policies, by name (cases with `trust` + `caller`).
    #[serde(default)]
    trust_policies: BTreeMap<String, String>,
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    identity: Vec<String>,
    #[serde(default)]
    org: Vec<Vec<String>>,
    #[serde(default)]
    root: bool,
    action: String,
    resource: String,
    #[serde(default)]
    context: BTreeMap<String, toml::Value>,
    decision: String,
    by: String,
    /// A role session's session policies (they can only narrow).
    #[serde(default)]
    session: Option<Vec<String>>,
    /// A trust-policy case: does trust policy `trust` admit `caller`
    /// (`user:<account>/<name>`, `role:<account>/<name>`, `service:<name>`)?
    #[serde(default)]
    trust: Option<String>,
    #[serde(default)]
    caller: Option<String>,
}

/// (dialect, operator) → outcomes seen; modifiers seen.
#[derive(Default)]
struct Coverage {
    outcomes: BTreeMap<(Cloud, String), BTreeSet<bool>>,
    modifiers: BTreeSet<(Cloud, &'static str)>,
}

fn context_of(case: &Case) -> Context {
    let mut ctx = Context::new();
    for (k, v) in &case.context {
        match v {
            toml::Value::Array(items) => ctx.set_multi(
                k,
                items
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect(),
            ),
            toml::Value::String(s) => ctx.set(k, s.clone()),
            other => panic!(
                "{}: context value {other} must be a string or array",
                case.name
            ),
        }
    }
    ctx
}

fn resolve(
    policies: &BTreeMap<String, Arc<Policy>>,
    cloud: Cloud,
    names: &[String],
) -> Vec<Arc<Policy>> {
    names
        .iter()
        .map(|n| match policies.get(n) {
            Some(p) => p.clone(),
            None if n == cloud.default_org_policy() => Arc::new(Policy::full_access(cloud)),
            None => panic!("unknown policy {n}"),
        })
        .collect()
}

fn label(reason: &Reason) -> String {
    match reason {
        Reason::Statement(s) => match &s.source {
            PolicySource::Identity => format!("identity:{}#{}", s.policy, s.index),
            PolicySource::Org { level, .. } => format!("org{level}:{}#{}", s.policy, s.index),
            PolicySource::Session => format!("session:{}#{}", s.policy, s.index),
        },
        Reason::NoOrgAllow { level, .. } => format!("no-allow:org{level}"),
        Reason::NoIdentityAllow => "no-allow:identity".into(),
        Reason::RootUser => "root".into(),
        Reason::NoSessionAllow => "no-allow:session".into(),
    }
}

fn record(cov: &mut Coverage, cloud: Cloud, subject: &Subject, case: &Case, ctx: &Context) {
    let mut sets: Vec<&PolicySet> = subject.org.iter().map(|l| &*l.policies).collect();
    sets.push(&subject.identity);
    let action = case.action.to_ascii_lowercase();
    for st in sets
        .iter()
        .flat_map(|s| s.policies())
        .flat_map(|p| &p.statements)
    {
        if !st.matches_action(&action) || !st.matches_resource(&case.resource) {
            continue;
        }
        for c in &st.conditions {
            cov.outcomes
                .entry((cloud, c.base.to_string()))
                .or_default()
                .insert(c.holds(ctx));
            if c.if_exists {
                cov.modifiers.insert((cloud, "IfExists"));
            }
            match c.set {
                SetQualifier::ForAnyValue => cov.modifiers.insert((cloud, "ForAnyValue")),
                SetQualifier::ForAllValues => cov.modifiers.insert((cloud, "ForAllValues")),
                SetQualifier::Plain => false,
            };
        }
    }
}

fn run_file(path: &Path, cov: &mut Coverage) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let file: CorpusFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cloud = file.cloud;
    let policies: BTreeMap<String, Arc<Policy>> = file
        .policies
        .iter()
        .map(|(name, doc)| {
            let p =
                parse_policy(path, name, cloud, doc).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            (name.clone(), Arc::new(p))
        })
        .collect();
    let mut failures = Vec::new();
    for case in &file.case {
        if let Some(trust) = &case.trust {
            failures.extend(trust_case(path, &file, trust, case));
            continue;
        }
        let org: Vec<OrgLevel> = case
            .org
            .iter()
            .enumerate()
            .map(|(i, names)| OrgLevel {
                node: format!("level{i}").into(),
                policies: Arc::new(PolicySet::new(resolve(&policies, cloud, names))),
            })
            .collect();
        let subject = Subject {
            cloud,
            root: case.root,
            identity: Arc::new(PolicySet::new(resolve(&policies, cloud, &case.identity))),
            org: org.into(),
            session: case
                .session
                .as_ref()
                .map(|names| Arc::new(PolicySet::new(resolve(&policies, cloud, names)))),
        };
        let ctx = context_of(case);
        let d = evaluate(&subject, &case.action, &case.resource, &ctx);
        record(cov, cloud, &subject, case, &ctx);
        let (kind, by) = (d.kind.as_str(), label(&d.reason));
        if kind != case.decision || by != case.by {
            failures.push(format!(
                "{}: {}: expected {} by {}, got {kind} by {by}",
                path.display(),
                case.name,
                case.decision,
                case.by
            ));
        }
    }
    (file.case.len(), failures)
}

/// A trust-policy case: `allow` when the trust policy admits the caller,
/// else `implicit_deny`; `by` is always `trust`.
fn trust_case(path: &Path, file: &CorpusFile, trust: &str, case: &Case) -> Option<String> {
    use iamgate::directory::trust::{parse_trust_policy, Caller};
    let doc = &file.trust_policies[trust];
    let policy =
        parse_trust_policy(path, "/trust", doc).unwrap_or_else(|e| panic!("{trust}: {e:?}"));
    let who = case
        .caller
        .as_deref()
        .expect("a trust case names its caller");
    let (kind, rest) = who.split_once(':').unwrap();
    let split = || rest.split_once('/').unwrap();
    let caller = match kind {
        "user" => Caller::User {
            account: split().0,
            name: split().1,
        },
        "role" => Caller::Role {
            account: split().0,
            name: split().1,
        },
        "service" => Caller::Service(rest),
        other => panic!("{}: unknown caller kind {other}", case.name),
    };
    let admitted = policy.admits(caller, &context_of(case));
    let got = if admitted { "allow" } else { "implicit_deny" };
    (got != case.decision || case.by != "trust").then(|| {
        format!(
            "{}: {}: expected {} by {}, got {got} by trust",
            path.display(),
            case.name,
            case.decision,
            case.by
        )
    })
}

#[test]
fn decision_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/decisions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut cov = Coverage::default();
    let (mut total, mut failures) = (0, Vec::new());
    let mut clouds = BTreeSet::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "toml"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        clouds.insert(toml::from_str::<CorpusFile>(&text).unwrap().cloud);
        let (n, fails) = run_file(f, &mut cov);
        total += n;
        failures.extend(fails);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let mut missing = Vec::new();
    for cloud in clouds {
        for op in operator_names(cloud) {
            let seen = cov
                .outcomes
                .get(&(cloud, op.to_string()))
                .cloned()
                .unwrap_or_default();
            println!(
                "{cloud} {op}: holds={} fails={}",
                seen.contains(&true),
                seen.contains(&false)
            );
            if seen.len() < 2 {
                missing.push(format!("{cloud} {op} (seen {seen:?})"));
            }
        }
        if cloud == Cloud::Huawei {
            for m in ["IfExists", "ForAnyValue", "ForAllValues"] {
                println!(
                    "{cloud} modifier {m}: {}",
                    cov.modifiers.contains(&(cloud, m))
                );
                if !cov.modifiers.contains(&(cloud, m)) {
                    missing.push(format!("{cloud} modifier {m}"));
                }
            }
        }
    }
    println!("{total} corpus cases passed");
    assert!(
        missing.is_empty(),
        "operators not exercised with a match and a miss: {missing:?}"
    );
}
