//! The naive baseline of the decision bench: the engine's decision order by
//! brute force. Every statement of every policy in order (organisation
//! levels first, then identity), action and resource matched by a plain
//! recursive wildcard matcher over the pattern text at match time,
//! conditions through `Condition::holds`; no index, nothing compiled.

use std::sync::Arc;

use iamgate::policy::condition::Condition;
use iamgate::policy::statement::{ActionSet, ResourceSet};
use iamgate::policy::{
    Context, Decision, DecisionKind, Effect, Policy, PolicySource, Reason, StatementRef,
};

/// A statement as text: lower-cased action patterns, resource patterns.
struct NaiveStatement {
    index: usize,
    sid: Option<Arc<str>>,
    effect: Effect,
    actions: Vec<String>,
    resources: Vec<String>,
    conditions: Vec<Condition>,
}

pub struct NaivePolicy {
    name: Arc<str>,
    statements: Vec<NaiveStatement>,
}

pub struct NaiveLevel {
    pub node: Arc<str>,
    pub policies: Vec<Arc<NaivePolicy>>,
}

#[derive(Clone)]
pub struct NaiveSubject {
    pub identity: Arc<[Arc<NaivePolicy>]>,
    pub org: Arc<[NaiveLevel]>,
}

pub fn naive_policy(policy: &Policy) -> Arc<NaivePolicy> {
    let statements = policy.statements.iter().map(|s| {
        let ActionSet::Action(actions) = &s.actions else {
            panic!("the generator writes no NotAction")
        };
        let ResourceSet::Resource(resources) = &s.resources else {
            panic!("the generator writes no NotResource")
        };
        NaiveStatement {
            index: s.index,
            sid: s.sid.clone(),
            effect: s.effect,
            actions: actions.iter().map(|g| g.text().into_owned()).collect(),
            resources: resources.iter().map(|g| g.text().into_owned()).collect(),
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
pub fn naive_decide(
    subject: &NaiveSubject,
    action: &str,
    resource: &str,
    ctx: &Context,
) -> Decision {
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
