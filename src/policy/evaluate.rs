//! Evaluation: a pure function of a subject (its compiled identity policies
//! and organisation levels), an action, a resource and a context.
//!
//! Order (huawei-iam.md, aliyun-ram.md): the first explicit deny in the order
//! org root → … → account → identity policies; else the first org level with
//! no allow; else the root identity is allowed; else the first allowing
//! identity statement; else an implicit deny by the identity policies.

use std::sync::Arc;

use crate::cloud::Cloud;
use crate::policy::context::Context;
use crate::policy::decision::{
    Decision, DecisionKind, Denial, Grant, Permit, PolicySource, Reason, StatementRef,
};
use crate::policy::index::{ActionKey, PolicySet};
use crate::policy::statement::{Effect, Statement};

/// One organisation level on the path root → OUs/folders → account.
#[derive(Debug, Clone)]
pub struct OrgLevel {
    /// The node's id (`r-root`, `ou-prod`, the account id).
    pub node: Arc<str>,
    pub policies: Arc<PolicySet>,
}

/// Everything the engine needs to know about a caller.
#[derive(Debug, Clone)]
pub struct Subject {
    pub cloud: Cloud,
    /// The account root identity (not subject to identity policies).
    pub root: bool,
    /// Identity policies: user-attached in listed order, then each group's.
    pub identity: Arc<PolicySet>,
    /// Empty when the account is in no organisation.
    pub org: Arc<[OrgLevel]>,
    /// A role session's session policy (STS `Policy`): when present it must
    /// allow too, so it can only narrow what the identity policies allow.
    pub session: Option<Arc<PolicySet>>,
}

/// What one policy set says about a request: the first matching deny and
/// the first matching allow (by position).
#[derive(Default, Clone, Copy)]
struct Verdict {
    deny: Option<u32>,
    allow: Option<u32>,
}

/// Organisation levels whose verdicts fit on the stack.
const INLINE_LEVELS: usize = 8;

fn judge(set: &PolicySet, action: &ActionKey<'_>, resource: &str, ctx: &Context) -> Verdict {
    // A big set remembers, for this decision, which of its distinct
    // resource patterns matched; a small one matches each statement's own.
    match set.resource_memo() {
        None => judge_with(set, action, ctx, |_, st| st.matches_resource(resource)),
        Some(mut memo) => judge_with(set, action, ctx, |pos, st| {
            set.matches_resource(pos, st, resource, &mut memo)
        }),
    }
}

fn judge_with(
    set: &PolicySet,
    action: &ActionKey<'_>,
    ctx: &Context,
    mut on_resource: impl FnMut(u32, &Statement) -> bool,
) -> Verdict {
    let mut v = Verdict::default();
    set.for_each_candidate_key(action, |pos| {
        let (_, st) = set.statement(pos);
        let slot = match st.effect {
            Effect::Deny => &mut v.deny,
            Effect::Allow => &mut v.allow,
        };
        if slot.is_some_and(|s| s <= pos) {
            return;
        }
        if on_resource(pos, st) && st.conditions.iter().all(|c| c.holds(ctx)) {
            *slot = Some(pos);
        }
    });
    v
}

fn statement_ref(set: &PolicySet, pos: u32, source: PolicySource) -> StatementRef {
    let (policy, st) = set.statement(pos);
    StatementRef {
        source,
        policy: policy.name.clone(),
        index: st.index,
        sid: st.sid.clone(),
    }
}

fn org_source(level: usize, l: &OrgLevel) -> PolicySource {
    PolicySource::Org {
        level,
        node: l.node.clone(),
    }
}

/// Decide one action (any case) on one resource.
pub fn evaluate(subject: &Subject, action: &str, resource: &str, ctx: &Context) -> Decision {
    let lowered;
    let action = if action.bytes().any(|b| b.is_ascii_uppercase()) {
        lowered = action.to_ascii_lowercase();
        lowered.as_str()
    } else {
        action
    };
    let action = &ActionKey::new(action);
    // Alibaba: control policies do not apply to the account's root identity.
    let org: &[OrgLevel] = if subject.root && subject.cloud == Cloud::Aliyun {
        &[]
    } else {
        &subject.org
    };
    let deny = |reason| Decision {
        kind: DecisionKind::ExplicitDeny,
        reason,
    };
    // Org trees are a few levels deep: their verdicts live on the stack
    // (no allocation per decision); deeper trees spill to the heap.
    let mut inline = [Verdict::default(); INLINE_LEVELS];
    let mut spilled = Vec::new();
    let verdicts: &mut [Verdict] = if org.len() <= INLINE_LEVELS {
        &mut inline[..org.len()]
    } else {
        spilled.resize(org.len(), Verdict::default());
        &mut spilled
    };
    for (v, l) in verdicts.iter_mut().zip(org) {
        *v = judge(&l.policies, action, resource, ctx);
    }
    let verdicts = &*verdicts;
    for (level, (l, v)) in org.iter().zip(verdicts).enumerate() {
        if let Some(pos) = v.deny {
            return deny(Reason::Statement(statement_ref(
                &l.policies,
                pos,
                org_source(level, l),
            )));
        }
    }
    let identity = if subject.root {
        Verdict::default()
    } else {
        judge(&subject.identity, action, resource, ctx)
    };
    if let Some(pos) = identity.deny {
        return deny(Reason::Statement(statement_ref(
            &subject.identity,
            pos,
            PolicySource::Identity,
        )));
    }
    let session = subject
        .session
        .as_ref()
        .map(|set| (set, judge(set, action, resource, ctx)));
    if let Some((
        set,
        Verdict {
            deny: Some(pos), ..
        },
    )) = &session
    {
        return deny(Reason::Statement(statement_ref(
            set,
            *pos,
            PolicySource::Session,
        )));
    }
    for (level, (l, v)) in org.iter().zip(verdicts).enumerate() {
        if v.allow.is_none() {
            let reason = Reason::NoOrgAllow {
                level,
                node: l.node.clone(),
            };
            return Decision {
                kind: DecisionKind::ImplicitDeny,
                reason,
            };
        }
    }
    if subject.root {
        return Decision {
            kind: DecisionKind::Allow,
            reason: Reason::RootUser,
        };
    }
    match identity.allow {
        Some(_) if session.is_some_and(|(_, v)| v.allow.is_none()) => Decision {
            kind: DecisionKind::ImplicitDeny,
            reason: Reason::NoSessionAllow,
        },
        Some(pos) => Decision {
            kind: DecisionKind::Allow,
            reason: Reason::Statement(statement_ref(
                &subject.identity,
                pos,
                PolicySource::Identity,
            )),
        },
        None => Decision {
            kind: DecisionKind::ImplicitDeny,
            reason: Reason::NoIdentityAllow,
        },
    }
}

/// Decide every (action, resource) a request needs; all must be allowed.
/// Each pair has its own context: the keys of the resource an action is on
/// (its tags) differ between actions.
pub fn authorize(
    subject: &Subject,
    needs: &[(String, String, Context)],
) -> Result<Permit, Box<Denial>> {
    let mut grants = Vec::with_capacity(needs.len());
    for (action, resource, ctx) in needs {
        let decision = evaluate(subject, action, resource, ctx);
        if !decision.is_allowed() {
            return Err(Box::new(Denial {
                action: action.clone(),
                resource: resource.clone(),
                decision,
            }));
        }
        grants.push(Grant {
            action: action.clone(),
            resource: resource.clone(),
            decision,
        });
    }
    Ok(Permit::new(grants))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    //! Property tests of the evaluator's invariants over generated policies.
    use super::*;
    use crate::policy::document::parse_policy;
    use proptest::prelude::*;
    use std::path::Path;

    const ACTIONS: &[&str] = &[
        "modelarts:notebook:get",
        "modelarts:notebook:delete",
        "modelarts:pool:delete",
        "modelarts:*:get",
        "modelarts:notebook:*",
        "*",
    ];
    const RESOURCES: &[&str] = &[
        "*",
        "modelarts:*:*:notebook:*",
        "modelarts:cn-north-4:acc1:notebook:nb1",
        "modelarts:*:*:pool:p?",
    ];
    const REQUESTS: &[(&str, &str)] = &[
        (
            "modelarts:notebook:get",
            "modelarts:cn-north-4:acc1:notebook:nb1",
        ),
        (
            "modelarts:notebook:delete",
            "modelarts:cn-north-4:acc1:notebook:nb2",
        ),
        ("modelarts:pool:delete", "modelarts:cn-north-4:acc1:pool:p1"),
    ];

    fn statement() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            0..ACTIONS.len(),
            0..RESOURCES.len(),
            any::<bool>(),
        )
            .prop_map(|(allow, a, r, cond)| {
                let effect = if allow { "Allow" } else { "Deny" };
                let c = if cond {
                    r#","Condition":{"StringEquals":{"g:UserName":"alice"}}"#
                } else {
                    ""
                };
                format!(
                    r#"{{"Effect":"{effect}","Action":"{}","Resource":"{}"{c}}}"#,
                    ACTIONS[a], RESOURCES[r]
                )
            })
    }

    fn policy(name: &str, statements: &[String]) -> Arc<crate::policy::Policy> {
        let doc = format!(
            r#"{{"Version":"5.0","Statement":[{}]}}"#,
            statements.join(",")
        );
        Arc::new(parse_policy(Path::new("gen.json"), name, Cloud::Huawei, &doc).unwrap())
    }

    fn subject(
        identity: Vec<Arc<crate::policy::Policy>>,
        org: Vec<Vec<Arc<crate::policy::Policy>>>,
    ) -> Subject {
        let org: Vec<OrgLevel> = org
            .into_iter()
            .enumerate()
            .map(|(i, p)| OrgLevel {
                node: format!("n{i}").into(),
                policies: Arc::new(PolicySet::new(p)),
            })
            .collect();
        Subject {
            cloud: Cloud::Huawei,
            root: false,
            identity: Arc::new(PolicySet::new(identity)),
            org: org.into(),
            session: None,
        }
    }

    fn ctx(alice: bool) -> Context {
        let mut c = Context::new();
        c.set("g:UserName", if alice { "alice" } else { "bob" });
        c
    }

    /// Brute force: does any statement of these policies with this effect match?
    fn any_match(
        policies: &[Arc<crate::policy::Policy>],
        effect: Effect,
        req: (&str, &str),
        c: &Context,
    ) -> bool {
        policies.iter().flat_map(|p| &p.statements).any(|s| {
            s.effect == effect
                && s.matches_action(&req.0.to_ascii_lowercase())
                && s.matches_resource(req.1)
                && s.conditions.iter().all(|k| k.holds(c))
        })
    }

    proptest! {
        #[test]
        fn deny_overrides_allow_and_default_is_deny(
            ids in prop::collection::vec(prop::collection::vec(statement(), 1..4), 0..4),
            scps in prop::collection::vec(prop::collection::vec(statement(), 1..3), 0..3),
            alice in any::<bool>(),
        ) {
            let identity: Vec<_> = ids.iter().enumerate().map(|(i, s)| policy(&format!("id{i}"), s)).collect();
            let org: Vec<Vec<_>> = scps.iter().enumerate().map(|(i, s)| vec![policy(&format!("scp{i}"), s)]).collect();
            let subj = subject(identity.clone(), org.clone());
            let c = ctx(alice);
            for &req in REQUESTS {
                let d = evaluate(&subj, req.0, req.1, &c);
                let any_deny = any_match(&identity, Effect::Deny, req, &c) || org.iter().any(|l| any_match(l, Effect::Deny, req, &c));
                let allowed = any_match(&identity, Effect::Allow, req, &c) && org.iter().all(|l| any_match(l, Effect::Allow, req, &c));
                // Deny overrides allow.
                prop_assert_eq!(d.kind == DecisionKind::ExplicitDeny, any_deny);
                // Default deny: allowed only when an identity allow and every level's allow exist and no deny.
                prop_assert_eq!(d.is_allowed(), allowed && !any_deny);
                // Determinism: the same inputs give the same decision.
                prop_assert_eq!(&d, &evaluate(&subj, req.0, req.1, &c));
                // Adding a matching deny anywhere never turns a deny into an allow.
                let mut more = identity.clone();
                more.push(policy("deny-all", &[r#"{"Effect":"Deny","Action":"*"}"#.to_string()]));
                prop_assert_eq!(evaluate(&subject(more, org.clone()), req.0, req.1, &c).kind, DecisionKind::ExplicitDeny);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "evaluate_rules_tests.rs"]
mod rules_tests;
