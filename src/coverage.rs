//! `iamgate coverage LOG`: which parts of the catalog the traffic in a
//! decision log exercised. Per service: every catalog action and SDK
//! operation, who called it and how often it was allowed or denied, and
//! what was never called. Per principal of the policy tree: the catalog
//! actions its identity policies grant that it never used — the
//! over-grant report, where least privilege starts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::learn::log::LogLine;
use crate::policy::explain::{trace, Outcome};
use crate::policy::{Context, Effect, PolicySource};
use crate::snapshot::Snapshot;

/// Everything `iamgate coverage` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub log: PathBuf,
    pub routes: PathBuf,
    pub policies: PathBuf,
    pub json: bool,
}

/// Allowed / denied request counts of one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub allowed: usize,
    pub denied: usize,
}

/// One catalog action or SDK operation and who exercised it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Use {
    pub name: String,
    pub by: BTreeMap<String, Tally>,
}

/// One service's coverage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServiceCoverage {
    pub service: String,
    pub actions_total: usize,
    pub actions_used: Vec<Use>,
    pub actions_never_called: Vec<String>,
    pub operations_total: usize,
    pub operations_used: Vec<Use>,
    pub operations_never_called: Vec<String>,
}

/// One principal's grants that the traffic never used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrincipalCoverage {
    pub principal: String,
    pub granted: usize,
    pub used: usize,
    pub granted_never_used: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub services: Vec<ServiceCoverage>,
    pub principals: Vec<PrincipalCoverage>,
}

fn count(uses: &mut BTreeMap<String, Use>, name: &str, line: &LogLine) {
    let u = uses.entry(name.to_string()).or_default();
    u.name = name.to_string();
    let who = line
        .principal
        .clone()
        .unwrap_or_else(|| "(unauthenticated)".into());
    let t = u.by.entry(who).or_default();
    match line.was_allowed() || line.decision == "unmapped" {
        true => t.allowed += 1,
        false => t.denied += 1,
    }
}

/// Coverage of `lines` over the catalog and principals of `snap`.
pub fn coverage(lines: &[LogLine], snap: &Snapshot) -> Report {
    let mut report = Report::default();
    for service in snap.routes.services() {
        let mine = lines
            .iter()
            .filter(|l| l.service.as_deref() == Some(&service.name));
        let (mut actions, mut ops) = (BTreeMap::new(), BTreeMap::new());
        for line in mine {
            for a in line
                .actions
                .iter()
                .filter(|a| a.decision != "not_evaluated")
            {
                count(&mut actions, &a.action, line);
            }
            if let Some(op) = &line.operation {
                count(&mut ops, op, line);
            }
        }
        let catalog: Vec<String> = service.actions.iter().map(|a| a.name.clone()).collect();
        let mut operations: Vec<String> = service
            .routes
            .iter()
            .filter_map(|r| r.operation.clone())
            .chain(service.unmapped.iter().map(|u| u.operation.clone()))
            .collect();
        operations.sort();
        operations.dedup();
        report.services.push(ServiceCoverage {
            service: service.name.clone(),
            actions_total: catalog.len(),
            actions_never_called: never(&catalog, &actions),
            actions_used: actions.into_values().collect(),
            operations_total: operations.len(),
            operations_never_called: never(&operations, &ops),
            operations_used: ops.into_values().collect(),
        });
    }
    report.principals = principals(lines, snap);
    report
}

fn never(all: &[String], used: &BTreeMap<String, Use>) -> Vec<String> {
    all.iter()
        .filter(|n| !used.contains_key(n.as_str()))
        .cloned()
        .collect()
}

/// Every user of the tree: catalog actions of its cloud that one of its
/// identity policies allows for some resource, minus the ones its requests
/// needed. Conditions are not judged: a grant behind a condition is a grant.
fn principals(lines: &[LogLine], snap: &Snapshot) -> Vec<PrincipalCoverage> {
    let mut users: Vec<_> = snap
        .directory
        .principals
        .values()
        .filter(|p| !p.is_root())
        .collect();
    users.sort_by(|a, b| a.urn.cmp(&b.urn));
    let ctx = Context::new();
    users
        .into_iter()
        .map(|p| {
            let used: Vec<&str> = lines
                .iter()
                .filter(|l| l.principal.as_deref() == Some(&p.urn))
                .flat_map(|l| l.actions.iter().map(|a| a.action.as_str()))
                .collect();
            let granted: Vec<String> = snap
                .routes
                .services()
                .iter()
                .filter(|s| s.cloud == p.cloud)
                .flat_map(|s| s.actions.iter())
                .filter(|a| {
                    trace(&p.subject, &a.name, "*", &ctx).iter().any(|t| {
                        t.effect == Effect::Allow
                            && t.statement.source == PolicySource::Identity
                            && t.outcome != Outcome::ActionNotMatched
                    })
                })
                .map(|a| a.name.clone())
                .collect();
            let unused: Vec<String> = granted
                .iter()
                .filter(|g| !used.iter().any(|u| u.eq_ignore_ascii_case(g)))
                .cloned()
                .collect();
            PrincipalCoverage {
                principal: p.urn.clone(),
                granted: granted.len(),
                used: granted.len() - unused.len(),
                granted_never_used: unused,
            }
        })
        .collect()
}

/// Run `iamgate coverage`: 0 on success, 1 when the log or tree cannot be read.
pub fn run(opts: &Options) -> u8 {
    let log = match crate::learn::read_log_path(&opts.log) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("iamgate coverage: {e}");
            return 1;
        }
    };
    let snap = match Snapshot::load_dirs(&opts.routes, &opts.policies, None) {
        Ok(s) => s,
        Err(diags) => {
            diags.iter().for_each(|d| eprintln!("{d}"));
            eprintln!("iamgate coverage: the configuration does not load (run `iamgate check`)");
            return 1;
        }
    };
    let report = coverage(&log.lines, &snap);
    if opts.json {
        match serde_json::to_string_pretty(&report) {
            Ok(t) => println!("{t}"),
            Err(e) => {
                eprintln!("iamgate coverage: {e}");
                return 1;
            }
        }
    } else {
        print!("{}", render(&report));
    }
    0
}

fn uses_text(uses: &[Use]) -> String {
    let mut s = String::new();
    for u in uses {
        let by: Vec<String> =
            u.by.iter()
                .map(|(p, t)| format!("{p} ({} allowed, {} denied)", t.allowed, t.denied))
                .collect();
        s += &format!("    {:<40} {}\n", u.name, by.join(", "));
    }
    s
}

/// The text report. Services and users no request touched get one line
/// each (the JSON has every detail).
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    for c in &r.services {
        if c.actions_used.is_empty() && c.operations_used.is_empty() {
            s += &format!(
                "{}: no requests ({} actions, {} SDK operations)\n\n",
                c.service, c.actions_total, c.operations_total
            );
            continue;
        }
        s += &format!(
            "{}: {}/{} actions, {}/{} SDK operations exercised\n",
            c.service,
            c.actions_used.len(),
            c.actions_total,
            c.operations_used.len(),
            c.operations_total
        );
        s += &uses_text(&c.actions_used);
        s += &format!(
            "  actions never called: {}\n",
            c.actions_never_called.join(", ")
        );
        s += &uses_text(&c.operations_used);
        s += &format!(
            "  operations never called: {}\n\n",
            c.operations_never_called.join(", ")
        );
    }
    let (active, idle): (Vec<_>, Vec<_>) = r.principals.iter().partition(|p| p.used > 0);
    for p in active {
        let unused = match p.granted_never_used.is_empty() {
            true => "none".to_string(),
            false => p.granted_never_used.join(", "),
        };
        s += &format!(
            "{}: uses {} of {} granted action(s); granted but never used: {unused}\n",
            p.principal, p.used, p.granted
        );
    }
    if !idle.is_empty() {
        let idle: Vec<String> = idle
            .iter()
            .map(|p| format!("{} ({} granted)", p.principal, p.granted))
            .collect();
        s += &format!(
            "users that used none of their grants: {}\n",
            idle.join(", ")
        );
    }
    s
}
