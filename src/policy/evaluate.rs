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
use crate::policy::decision::{Decision, DecisionKind, Denial, Grant, Permit, PolicySource, Reason, StatementRef};
use crate::policy::document::Effect;
use crate::policy::index::PolicySet;

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
}

/// What one policy set says about a request: the first matching deny and
/// the first matching allow (by position).
#[derive(Default, Clone, Copy)]
struct Verdict {
    deny: Option<u32>,
    allow: Option<u32>,
}

fn judge(set: &PolicySet, action: &str, resource: &str, ctx: &Context) -> Verdict {
    let mut v = Verdict::default();
    set.for_each_candidate(action, |pos| {
        let (_, st) = set.statement(pos);
        let slot = match st.effect {
            Effect::Deny => &mut v.deny,
            Effect::Allow => &mut v.allow,
        };
        if slot.is_some_and(|s| s <= pos) {
            return;
        }
        if st.matches_resource(resource) && st.conditions.iter().all(|c| c.holds(ctx)) {
            *slot = Some(pos);
        }
    });
    v
}

fn statement_ref(set: &PolicySet, pos: u32, source: PolicySource) -> StatementRef {
    let (policy, st) = set.statement(pos);
    StatementRef { source, policy: policy.name.clone(), index: st.index, sid: st.sid.clone() }
}

fn org_source(level: usize, l: &OrgLevel) -> PolicySource {
    PolicySource::Org { level, node: l.node.clone() }
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
    // Alibaba: control policies do not apply to the account's root identity.
    let org: &[OrgLevel] = if subject.root && subject.cloud == Cloud::Aliyun { &[] } else { &subject.org };
    let deny = |reason| Decision { kind: DecisionKind::ExplicitDeny, reason };
    let verdicts: Vec<Verdict> = org.iter().map(|l| judge(&l.policies, action, resource, ctx)).collect();
    for (level, (l, v)) in org.iter().zip(&verdicts).enumerate() {
        if let Some(pos) = v.deny {
            return deny(Reason::Statement(statement_ref(&l.policies, pos, org_source(level, l))));
        }
    }
    let identity = if subject.root { Verdict::default() } else { judge(&subject.identity, action, resource, ctx) };
    if let Some(pos) = identity.deny {
        return deny(Reason::Statement(statement_ref(&subject.identity, pos, PolicySource::Identity)));
    }
    for (level, (l, v)) in org.iter().zip(&verdicts).enumerate() {
        if v.allow.is_none() {
            let reason = Reason::NoOrgAllow { level, node: l.node.clone() };
            return Decision { kind: DecisionKind::ImplicitDeny, reason };
        }
    }
    if subject.root {
        return Decision { kind: DecisionKind::Allow, reason: Reason::RootUser };
    }
    match identity.allow {
        Some(pos) => Decision {
            kind: DecisionKind::Allow,
            reason: Reason::Statement(statement_ref(&subject.identity, pos, PolicySource::Identity)),
        },
        None => Decision { kind: DecisionKind::ImplicitDeny, reason: Reason::NoIdentityAllow },
    }
}

/// Decide every (action, resource) a request needs; all must be allowed.
pub fn authorize(subject: &Subject, needs: &[(String, String)], ctx: &Context) -> Result<Permit, Denial> {
    let mut grants = Vec::with_capacity(needs.len());
    for (action, resource) in needs {
        let decision = evaluate(subject, action, resource, ctx);
        if !decision.is_allowed() {
            return Err(Denial { action: action.clone(), resource: resource.clone(), decision });
        }
        grants.push(Grant { action: action.clone(), resource: resource.clone(), decision });
    }
    Ok(Permit::new(grants))
}
