//! The human-readable report of an [`Explanation`](super::Explanation).

use super::{Explanation, RequestLine};
use crate::policy::explain::{Outcome, StatementTrace};
use crate::policy::{PolicySource, Reason};

/// The deciding reason in words.
pub fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Statement(s) => s.to_string(),
        Reason::NoOrgAllow { level, node } => {
            format!("no policy attached at organisation level {level} ({node}) allows it")
        }
        Reason::NoIdentityAllow => "no identity-based policy allows it".into(),
        Reason::RootUser => "the account root identity (identity policies do not apply)".into(),
        Reason::NoSessionAllow => "the role allows it, but the session policy does not".into(),
    }
}

pub(super) fn kind_text(kind: &str) -> &'static str {
    match kind {
        "allow" => "allow",
        "explicit_deny" => "explicit deny",
        "implicit_deny" => "implicit deny",
        _ => "deny (project refused)",
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Matched => "matched".into(),
        Outcome::ActionNotMatched => "action not matched".into(),
        Outcome::ResourceNotMatched => "resource not matched".into(),
        Outcome::ConditionFailed {
            operator,
            key,
            request_values,
        } => {
            let values = match request_values.as_deref() {
                None => "key absent from the request".to_string(),
                Some([one]) => format!("request value {one:?}"),
                Some(many) => format!("request values {many:?}"),
            };
            format!("condition failed: {operator} {key}, {values}")
        }
    }
}

fn statement_text(t: &StatementTrace) -> String {
    let s = &t.statement;
    let place = match &s.source {
        PolicySource::Org { level, node } => format!("org level {level} ({node})"),
        PolicySource::Identity => "identity".to_string(),
        PolicySource::Session => "session policy".to_string(),
    };
    let sid = s
        .sid
        .as_ref()
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    format!(
        "  [{place}] {}#{}{sid} {:?}: {}",
        s.policy,
        s.index,
        t.effect,
        outcome_text(&t.outcome)
    )
}

/// The human-readable report.
pub fn render_text(e: &Explanation) -> String {
    let mut out = Vec::new();
    out.push(format!("decision: {}", kind_text(e.kind)));
    out.push(format!("  because: {}", e.summary));
    out.push(format!(
        "principal: {} (account {})",
        e.principal, e.account
    ));
    out.push(format!("request: {}", request_text(&e.request)));
    for n in &e.notes {
        out.push(format!("note: {n}"));
    }
    for r in &e.requests {
        out.push(format!(
            "action {} on {}: {} ({})",
            r.action,
            r.resource,
            kind_text(r.decision),
            r.summary
        ));
    }
    if !e.context.is_empty() {
        out.push("context:".into());
        for (k, v) in &e.context {
            let shown = match v.as_slice() {
                [one] => format!("{one:?}"),
                many => format!("{many:?}"),
            };
            out.push(format!("  {k} = {shown}"));
        }
    }
    if !e.unset_keys.is_empty() {
        out.push(format!(
            "absent (give them with --context): {}",
            e.unset_keys.join(", ")
        ));
    }
    for r in &e.requests {
        out.push(format!("statements for {} on {}:", r.action, r.resource));
        out.extend(r.statements.iter().map(statement_text));
    }
    out.push(format!("snapshot: {}", e.snapshot));
    out.join("\n") + "\n"
}

fn request_text(r: &RequestLine) -> String {
    let mut parts = Vec::new();
    if let (Some(m), Some(p)) = (&r.method, &r.path) {
        parts.push(format!("{m} {p}"));
    }
    if let Some(s) = &r.service {
        parts.push(format!("service {s}"));
    }
    if let Some(o) = &r.operation {
        parts.push(format!("operation {o}"));
    }
    if let Some(p) = &r.project {
        parts.push(format!("project {p}"));
    }
    if let Some(reg) = &r.region {
        parts.push(format!("region {reg}"));
    }
    if parts.is_empty() {
        "action and resource as given".into()
    } else {
        parts.join(", ")
    }
}
