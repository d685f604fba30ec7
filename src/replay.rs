//! `iamgate replay LOG --policies DIR`: re-decide every request a policy
//! decided in a decision log against another policy tree, and report what
//! changed — newly denied, newly allowed, same outcome for another reason —
//! before a policy change is merged. Exit 0 when nothing changed, 3 when
//! something did (a CI gate), 1 when the log or tree cannot be read.
//!
//! A line carries each decision's action, resource and the condition keys
//! it read; the re-decision sees exactly those values. When the new
//! policies read a key the original decision never read, its value is not
//! known: the request is reported `undecidable`, never decided as if the
//! key were absent (docs/decision-log.md).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::directory::Principal;
use crate::learn::log::{parse_principal, LogLine, LoggedContext};
use crate::policy::{evaluate, Context};
use crate::snapshot::Snapshot;

/// Everything `iamgate replay` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub log: PathBuf,
    pub policies: PathBuf,
    pub routes: PathBuf,
    pub json: bool,
}

/// How one request fared against the new tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Unchanged,
    NewlyDenied,
    NewlyAllowed,
    ReasonChanged,
    Undecidable,
}

/// One action's decision, as logged or as re-decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionOutcome {
    pub action: String,
    pub resource: String,
    pub decision: String,
    pub reason: Option<Value>,
}

/// One replayed request that changed.
#[derive(Debug, Clone, Serialize)]
pub struct Replayed {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub principal: String,
    pub change: Change,
    pub before: String,
    pub after: String,
    /// Each action as re-decided (up to the first not allowed).
    pub actions: Vec<ActionOutcome>,
    /// For `undecidable`: the keys the new policies read that the log lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_keys: Vec<String>,
}

/// The whole replay.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Lines a policy decided, all replayed.
    pub replayed: usize,
    /// Lines with no policy decision (refusals, unmapped forwards).
    pub skipped: usize,
    pub allowed_after: usize,
    pub denied_after: usize,
    pub newly_denied: usize,
    pub newly_allowed: usize,
    pub reason_changed: usize,
    pub undecidable: usize,
    pub snapshot: String,
    pub changes: Vec<Replayed>,
}

impl Report {
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// Re-decide every decided line against `snap`.
pub fn replay(lines: &[LogLine], snap: &Snapshot) -> Report {
    let mut report = Report {
        snapshot: snap.digest.clone(),
        ..Report::default()
    };
    for line in lines {
        if !line.is_decided() {
            report.skipped += 1;
            continue;
        }
        report.replayed += 1;
        let r = replay_line(line, snap);
        let allowed = r.after == "allow";
        report.allowed_after += usize::from(allowed);
        report.denied_after += usize::from(!allowed);
        match r.change {
            Change::Unchanged => continue,
            Change::NewlyDenied => report.newly_denied += 1,
            Change::NewlyAllowed => report.newly_allowed += 1,
            Change::ReasonChanged => report.reason_changed += 1,
            Change::Undecidable => report.undecidable += 1,
        }
        report.changes.push(r);
    }
    report
}

fn principal_of<'s>(snap: &'s Snapshot, urn: &str) -> Option<&'s Principal> {
    let (_, account, user) = parse_principal(urn)?;
    snap.directory
        .principal(&account, user.as_deref())
        .map(AsRef::as_ref)
}

/// Re-decide one line: every action in order, stopping at the first one
/// not allowed (as the gateway does).
fn replay_line(line: &LogLine, snap: &Snapshot) -> Replayed {
    let principal = line.principal.clone().unwrap_or_default();
    let mut out = Replayed {
        request_id: line.request_id.clone(),
        method: line.method.clone(),
        path: line.path.clone(),
        before: line.decision.clone(),
        after: "implicit_deny".into(),
        change: Change::Unchanged,
        actions: Vec::new(),
        unknown_keys: Vec::new(),
        principal,
    };
    let Some(who) = principal_of(snap, &out.principal) else {
        // The principal is gone: the gateway would not authenticate it.
        out.after = "unauthenticated".into();
        out.change = changed(line, &out);
        return out;
    };
    out.after = "allow".into();
    for (i, a) in line.actions.iter().enumerate() {
        let logged = line.context_of(i);
        let ctx = context(&logged);
        let d = evaluate(&who.subject, &a.action, &a.resource, &ctx);
        let unknown: Vec<String> = ctx
            .read_keys()
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !logged.contains_key(k))
            .collect();
        out.actions.push(ActionOutcome {
            action: a.action.clone(),
            resource: a.resource.clone(),
            decision: d.kind.as_str().into(),
            reason: serde_json::to_value(&d.reason).ok(),
        });
        if !unknown.is_empty() {
            out.unknown_keys = unknown;
            out.change = Change::Undecidable;
            out.after = "undecidable".into();
            return out;
        }
        if !d.is_allowed() {
            out.after = d.kind.as_str().into();
            break;
        }
    }
    out.change = changed(line, &out);
    out
}

/// A context holding exactly the logged values (a key logged as absent stays absent).
fn context(logged: &LoggedContext) -> Context {
    let mut ctx = Context::with_capacity(logged.len());
    for (key, values) in logged {
        if let Some(values) = values {
            ctx.set_multi(key, values.clone());
        }
    }
    ctx
}

fn changed(line: &LogLine, r: &Replayed) -> Change {
    let was = line.was_allowed();
    let is = r.after == "allow";
    if was != is {
        return if is {
            Change::NewlyAllowed
        } else {
            Change::NewlyDenied
        };
    }
    let before: Vec<ActionOutcome> = line
        .actions
        .iter()
        .filter(|a| a.decision != "not_evaluated")
        .map(|a| ActionOutcome {
            action: a.action.clone(),
            resource: a.resource.clone(),
            decision: a.decision.clone(),
            reason: a.reason.clone(),
        })
        .collect();
    match before == r.actions {
        true => Change::Unchanged,
        false => Change::ReasonChanged,
    }
}

/// Run `iamgate replay`: 0 nothing changed, 3 something did, 1 on errors.
pub fn run(opts: &Options) -> u8 {
    let log = match crate::learn::read_log_path(&opts.log) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("iamgate replay: {e}");
            return 1;
        }
    };
    for (n, why) in &log.skipped {
        eprintln!("{}:{n}: skipped: {why}", opts.log.display());
    }
    let snap = match Snapshot::load_dirs(&opts.routes, &opts.policies, None) {
        Ok(s) => s,
        Err(diags) => {
            diags.iter().for_each(|d| eprintln!("{d}"));
            eprintln!("iamgate replay: the policy tree does not load (run `iamgate check`)");
            return 1;
        }
    };
    let report = replay(&log.lines, &snap);
    if opts.json {
        match serde_json::to_string_pretty(&report) {
            Ok(t) => println!("{t}"),
            Err(e) => {
                eprintln!("iamgate replay: {e}");
                return 1;
            }
        }
    } else {
        print!("{}", render(&report));
    }
    if report.changed() {
        3
    } else {
        0
    }
}

/// The text report: one line per changed request, then the counts.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    for c in &r.changes {
        let change = serde_json::to_value(c.change)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        s += &format!(
            "{change:<15} {} {} {} ({} → {})\n",
            c.principal, c.method, c.path, c.before, c.after
        );
        let keys: BTreeSet<&String> = c.unknown_keys.iter().collect();
        if !keys.is_empty() {
            s += &format!("                the log has no value for {keys:?}\n");
        }
    }
    s += &format!(
        "replayed {} request(s) against snapshot {}: {} allowed, {} denied; {} newly denied, {} newly allowed, {} reason changed, {} undecidable ({} line(s) without a policy decision skipped)\n",
        r.replayed, r.snapshot, r.allowed_after, r.denied_after, r.newly_denied,
        r.newly_allowed, r.reason_changed, r.undecidable, r.skipped
    );
    s
}
