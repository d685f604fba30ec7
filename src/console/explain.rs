//! A click's explanation: the per-statement trace `iamgate explain` prints,
//! recomputed from the kept record with the explain engine against the
//! *current* snapshot (nothing extra is kept per request). Each action the
//! gateway decided is traced with exactly the condition values the record
//! logged; a key a statement reads that the record did not log is listed
//! (`unlogged_keys`), and a snapshot other than the deciding one is said.

use serde::Serialize;
use serde_json::{json, Value};

use super::Entry;
use crate::decision_log::{ActionRecord, ContextValues};
use crate::explain::reason_text;
use crate::learn::log::parse_principal;
use crate::policy::explain::{trace, StatementTrace};
use crate::policy::{evaluate, Context, Subject};
use crate::snapshot::Snapshot;

/// One decided action, traced again.
#[derive(Debug, Serialize)]
pub struct ActionTrace {
    pub action: String,
    pub resource: String,
    /// What the gateway decided then.
    pub logged: &'static str,
    /// What the current snapshot decides with the logged values.
    pub decision: &'static str,
    pub summary: String,
    pub context: ContextValues,
    pub unlogged_keys: Vec<String>,
    pub statements: Vec<StatementTrace>,
}

/// The explanation document of one entry (`GET /-/console/explain?seq=N`).
pub fn explain(entry: &Entry, snap: &Snapshot) -> Value {
    let r = &entry.record;
    let mut doc = json!({
        "seq": entry.seq,
        "request_id": r.request_id,
        "principal": r.principal,
        "decision": r.decision,
        "deciding": r.deciding,
        "error": r.error,
        "snapshot_then": r.snapshot,
        "snapshot_now": snap.digest,
        "actions": [],
    });
    let subject = r.principal.as_deref().and_then(|p| subject_of(snap, p));
    let note = match (&subject, r.actions.is_empty()) {
        (_, true) => Some("no policy decision was made for this request (refused before one, or unmapped)"),
        (None, false) => Some("the principal is not in the current snapshot (a role or agency session, or removed): no trace"),
        (Some(_), false) if r.snapshot != snap.digest => Some("traced against the current snapshot, which is not the one that decided"),
        _ => None,
    };
    doc["note"] = json!(note);
    if let Some(subject) = subject {
        let traces: Vec<ActionTrace> = r
            .actions
            .iter()
            .filter(|a| a.decision != "not_evaluated")
            .map(|a| trace_action(subject, &r.context, a))
            .collect();
        doc["actions"] = json!(traces);
    }
    doc
}

fn subject_of<'s>(snap: &'s Snapshot, urn: &str) -> Option<&'s Subject> {
    let (_, account, user) = parse_principal(urn)?;
    let p = snap.directory.principal(&account, user.as_deref())?;
    Some(&p.subject)
}

fn trace_action(subject: &Subject, top: &ContextValues, a: &ActionRecord) -> ActionTrace {
    let mut logged = top.clone();
    logged.extend(a.context.clone());
    let mut ctx = Context::with_capacity(logged.len());
    for (key, values) in &logged {
        if let Some(values) = values {
            ctx.set_multi(key, values.clone());
        }
    }
    let d = evaluate(subject, &a.action, &a.resource, &ctx);
    let statements = trace(subject, &a.action, &a.resource, &ctx);
    let unlogged_keys = ctx
        .read_keys()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !logged.contains_key(k))
        .collect();
    ActionTrace {
        action: a.action.clone(),
        resource: a.resource.clone(),
        logged: a.decision,
        decision: d.kind.as_str(),
        summary: reason_text(&d.reason),
        context: logged,
        unlogged_keys,
        statements,
    }
}
