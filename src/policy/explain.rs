//! Explanations: how every statement visible to a subject fared against one
//! request. Slow and thorough on purpose; the hot path uses `evaluate`.

use serde::Serialize;

use crate::cloud::Cloud;
use crate::policy::context::Context;
use crate::policy::decision::{PolicySource, StatementRef};
use crate::policy::evaluate::Subject;
use crate::policy::index::PolicySet;
use crate::policy::statement::{Effect, Statement};

/// How one statement fared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Action, resource and every condition matched.
    Matched,
    ActionNotMatched,
    ResourceNotMatched,
    /// Action and resource matched but this condition did not hold.
    ConditionFailed {
        operator: String,
        key: String,
        request_values: Option<Vec<String>>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementTrace {
    pub statement: StatementRef,
    pub effect: Effect,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Judge one statement, saying why it did not match.
pub fn judge_statement(st: &Statement, action: &str, resource: &str, ctx: &Context) -> Outcome {
    if !st.matches_action(&action.to_ascii_lowercase()) {
        return Outcome::ActionNotMatched;
    }
    if !st.matches_resource(resource) {
        return Outcome::ResourceNotMatched;
    }
    match st.conditions.iter().find(|c| !c.holds(ctx)) {
        Some(c) => Outcome::ConditionFailed {
            operator: c.operator.clone(),
            key: c.key.clone(),
            request_values: ctx.get(&c.lookup).map(<[String]>::to_vec),
        },
        None => Outcome::Matched,
    }
}

fn trace_set(
    set: &PolicySet,
    source: PolicySource,
    action: &str,
    resource: &str,
    ctx: &Context,
) -> Vec<StatementTrace> {
    set.policies()
        .iter()
        .flat_map(|p| p.statements.iter().map(move |st| (p, st)))
        .map(|(p, st)| StatementTrace {
            statement: StatementRef {
                source: source.clone(),
                policy: p.name.clone(),
                index: st.index,
                sid: st.sid.clone(),
            },
            effect: st.effect,
            outcome: judge_statement(st, action, resource, ctx),
        })
        .collect()
}

/// Every statement of the subject's organisation levels (root first) and
/// identity policies, with its outcome. Levels and policies the engine skips
/// (root identity) are left out, as the engine leaves them out.
pub fn trace(
    subject: &Subject,
    action: &str,
    resource: &str,
    ctx: &Context,
) -> Vec<StatementTrace> {
    let skip_org = subject.root && subject.cloud == Cloud::Aliyun;
    let mut out = Vec::new();
    if !skip_org {
        for (level, l) in subject.org.iter().enumerate() {
            let source = PolicySource::Org {
                level,
                node: l.node.clone(),
            };
            out.extend(trace_set(&l.policies, source, action, resource, ctx));
        }
    }
    if !subject.root {
        out.extend(trace_set(
            &subject.identity,
            PolicySource::Identity,
            action,
            resource,
            ctx,
        ));
    }
    if let Some(session) = &subject.session {
        out.extend(trace_set(
            session,
            PolicySource::Session,
            action,
            resource,
            ctx,
        ));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "explain_tests.rs"]
mod tests;
