//! The engine's fast paths (the action index, the per-decision shortcuts of
//! `evaluate`) against the slow path they replace: every statement of every
//! policy scanned in order, by `Statement::matches_action`,
//! `matches_resource` and `Condition::holds`, in the decision order of
//! huawei-iam.md / aliyun-ram.md. The material is the decision corpus
//! (`tests/decisions/*.toml`): proptest recombines each file's policies into
//! identity sets, organisation levels and session policies, and its cases'
//! actions (in any case), resources, contexts and root flags into requests.
//! Both must give the same `Decision`, reason and statement included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use iamgate::cloud::Cloud;
use iamgate::policy::{
    evaluate, parse_policy, Context, Decision, DecisionKind, Effect, OrgLevel, Policy, PolicySet,
    PolicySource, Reason, StatementRef, Subject,
};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct CorpusFile {
    cloud: Cloud,
    policies: BTreeMap<String, String>,
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    action: String,
    resource: String,
    #[serde(default)]
    context: BTreeMap<String, toml::Value>,
    #[serde(default)]
    trust: Option<String>,
}

/// One corpus file's material: compiled policies (the cloud's full-access
/// policy included), and the requests of its cases.
struct Material {
    cloud: Cloud,
    policies: Vec<Arc<Policy>>,
    requests: Vec<(String, String, Context)>,
}

fn context_of(values: &BTreeMap<String, toml::Value>) -> Context {
    let mut ctx = Context::new();
    for (k, v) in values {
        match v {
            toml::Value::Array(items) => ctx.set_multi(
                k,
                items
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect(),
            ),
            toml::Value::String(s) => ctx.set(k, s.clone()),
            other => panic!("context value {other}"),
        }
    }
    ctx
}

fn corpus() -> Vec<Material> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/decisions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let file: CorpusFile = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let mut policies: Vec<Arc<Policy>> = file
                .policies
                .iter()
                .map(|(name, doc)| Arc::new(parse_policy(path, name, file.cloud, doc).unwrap()))
                .collect();
            policies.push(Arc::new(Policy::full_access(file.cloud)));
            let requests = file
                .case
                .iter()
                .filter(|c| c.trust.is_none())
                .map(|c| (c.action.clone(), c.resource.clone(), context_of(&c.context)))
                .collect();
            Material {
                cloud: file.cloud,
                policies,
                requests,
            }
        })
        .collect()
}

// ---- the slow path --------------------------------------------------------

/// The first matching deny and the first matching allow, by a scan of
/// every statement in order.
fn scan(
    set: &[Arc<Policy>],
    action: &str,
    resource: &str,
    ctx: &Context,
) -> [Option<(Arc<Policy>, usize)>; 2] {
    let mut found: [Option<(Arc<Policy>, usize)>; 2] = [None, None];
    for p in set {
        for (i, st) in p.statements.iter().enumerate() {
            let slot = usize::from(st.effect == Effect::Allow);
            if found[slot].is_none()
                && st.matches_action(action)
                && st.matches_resource(resource)
                && st.conditions.iter().all(|c| c.holds(ctx))
            {
                found[slot] = Some((p.clone(), i));
            }
        }
    }
    found
}

fn by(kind: DecisionKind, (p, i): &(Arc<Policy>, usize), source: PolicySource) -> Decision {
    let st = &p.statements[*i];
    Decision {
        kind,
        reason: Reason::Statement(StatementRef {
            source,
            policy: p.name.clone(),
            index: st.index,
            sid: st.sid.clone(),
        }),
    }
}

/// A subject as plain lists: (cloud, root, identity, org levels, session).
struct Plain {
    cloud: Cloud,
    root: bool,
    identity: Vec<Arc<Policy>>,
    org: Vec<Vec<Arc<Policy>>>,
    session: Option<Vec<Arc<Policy>>>,
}

fn slow_decide(s: &Plain, action: &str, resource: &str, ctx: &Context) -> Decision {
    let action = action.to_ascii_lowercase();
    let org: &[Vec<Arc<Policy>>] = if s.root && s.cloud == Cloud::Aliyun {
        &[]
    } else {
        &s.org
    };
    let node = |level: usize| -> Arc<str> { format!("node{level}").into() };
    let levels: Vec<_> = org
        .iter()
        .map(|l| scan(l, &action, resource, ctx))
        .collect();
    for (level, [deny, _]) in levels.iter().enumerate() {
        if let Some(hit) = deny {
            let source = PolicySource::Org {
                level,
                node: node(level),
            };
            return by(DecisionKind::ExplicitDeny, hit, source);
        }
    }
    let [id_deny, id_allow] = if s.root {
        [None, None]
    } else {
        scan(&s.identity, &action, resource, ctx)
    };
    if let Some(hit) = id_deny {
        return by(DecisionKind::ExplicitDeny, &hit, PolicySource::Identity);
    }
    let session = s.session.as_ref().map(|l| scan(l, &action, resource, ctx));
    if let Some([Some(hit), _]) = &session {
        return by(DecisionKind::ExplicitDeny, hit, PolicySource::Session);
    }
    let implicit = |reason| Decision {
        kind: DecisionKind::ImplicitDeny,
        reason,
    };
    if let Some(level) = levels.iter().position(|[_, allow]| allow.is_none()) {
        let node = node(level);
        return implicit(Reason::NoOrgAllow { level, node });
    }
    if s.root {
        return Decision {
            kind: DecisionKind::Allow,
            reason: Reason::RootUser,
        };
    }
    match (id_allow, session) {
        (Some(_), Some([_, None])) => implicit(Reason::NoSessionAllow),
        (Some(hit), _) => by(DecisionKind::Allow, &hit, PolicySource::Identity),
        (None, _) => implicit(Reason::NoIdentityAllow),
    }
}

// ---- the property ---------------------------------------------------------

fn compiled(s: &Plain) -> Subject {
    let set = |l: &Vec<Arc<Policy>>| Arc::new(PolicySet::new(l.clone()));
    let org: Vec<OrgLevel> = s
        .org
        .iter()
        .enumerate()
        .map(|(level, l)| OrgLevel {
            node: format!("node{level}").into(),
            policies: set(l),
        })
        .collect();
    Subject {
        cloud: s.cloud,
        root: s.root,
        identity: set(&s.identity),
        org: org.into(),
        session: s.session.as_ref().map(set),
    }
}

/// How many times a padded case repeats its padding policies: enough
/// statements for the engine's resource memo (sets of 128 and more).
const PADDING_COPIES: usize = 130;

/// Indices into a file's policies (wrapped by `%` at use).
fn picks(max: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..max)
}

/// Upper-case every character whose bit in `mask` is set.
fn recase(action: &str, mask: u64) -> String {
    action
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn the_engine_decides_as_the_statement_scan(
        file in any::<usize>(),
        identity in picks(6),
        org in prop::collection::vec(picks(4), 0..4),
        session in prop::option::weighted(0.2, picks(3)),
        root in prop::bool::weighted(0.1),
        request in any::<usize>(),
        other_ctx in any::<usize>(),
        case_mask in prop::option::weighted(0.3, any::<u64>()),
        padding in prop::option::weighted(0.3, prop::collection::vec(any::<usize>(), 1..6)),
    ) {
        let all = corpus_once();
        let m = &all[file % all.len()];
        let of = |ix: &Vec<usize>| -> Vec<Arc<Policy>> {
            ix.iter().map(|i| m.policies[i % m.policies.len()].clone()).collect()
        };
        // Padded: more than a hundred copies of some of the file's policies
        // after the picked ones, so the identity set is big enough for the
        // per-decision memo of resource patterns (and repeats them all).
        let mut identity = of(&identity);
        for _ in 0..PADDING_COPIES {
            identity.extend(padding.as_ref().map(of).unwrap_or_default());
        }
        let plain = Plain {
            cloud: m.cloud,
            root,
            identity,
            org: org.iter().map(of).collect(),
            session: session.as_ref().map(of),
        };
        let subject = compiled(&plain);
        let (action, resource, _) = &m.requests[request % m.requests.len()];
        // A case's request with another case's context: conditions meet
        // values they were not written for.
        let ctx = &m.requests[other_ctx % m.requests.len()].2;
        let action = case_mask.map_or_else(|| action.clone(), |mask| recase(action, mask));
        let fast = evaluate(&subject, &action, resource, ctx);
        prop_assert_eq!(fast, slow_decide(&plain, &action, resource, ctx));
    }
}

fn corpus_once() -> &'static [Material] {
    static CORPUS: std::sync::OnceLock<Vec<Material>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(corpus)
}

#[test]
fn the_corpus_gives_the_property_material_from_every_file() {
    let all = corpus_once();
    assert!(all.len() >= 8, "{} corpus files", all.len());
    for m in all {
        assert!(m.policies.len() > 1 && !m.requests.is_empty());
    }
    // Both clouds, so the Alibaba root rule is exercised.
    assert!(all.iter().any(|m| m.cloud == Cloud::Aliyun));
    assert!(all.iter().any(|m| m.cloud == Cloud::Huawei));
}
