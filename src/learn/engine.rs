//! The pure part of `iamgate learn`: decision-log lines in, one
//! least-privilege identity policy per principal out. No IO, so the admin
//! API (and a console) can run it on lines held in memory.
//!
//! A request needs every action of its route on the resource the gateway
//! named for it: an id where the path had one, the collection wildcard
//! (`…:notebook:*`) for lists and creates. Those (action, resource) pairs
//! are exactly what the policy allows — grouped into as few statements as
//! the pairs allow without widening anything.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Value};

use super::conditions::{condition_json, Conditions, PairContexts};
use super::log::{parse_principal, LogLine};
use crate::cloud::Cloud;

/// One learned policy and what it was learned from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnedPolicy {
    pub principal: String,
    pub cloud: Cloud,
    pub account: String,
    pub user: String,
    /// The policy's name (the file stem it is written under).
    pub name: String,
    /// Requests of this principal the policy was learned from.
    pub requests: usize,
    /// Of those, requests the gateway denied (or would have, in audit mode).
    pub denied: usize,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    /// The policy document, in the principal's dialect.
    pub document: Value,
}

/// What learning produced: the policies, and principals it could not or
/// need not write one for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Learned {
    pub policies: Vec<LearnedPolicy>,
    /// Account roots seen: identity policies do not restrict them.
    pub roots: Vec<String>,
    /// Principal URNs iamgate does not write (not learned from).
    pub unknown: Vec<String>,
}

/// The policy name for a user: `learned-<account>-<user>`, reduced to
/// characters every dialect accepts in a file name.
pub fn policy_name(account: &str, user: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(
                |c| match c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    true => c,
                    false => '_',
                },
            )
            .collect()
    };
    format!("learned-{}-{}", clean(account), clean(user))
}

/// Per principal: action → resources the requests needed, and counts.
#[derive(Debug, Clone, Default)]
pub(super) struct Seen {
    pairs: BTreeMap<String, BTreeSet<String>>,
    requests: usize,
    denied: usize,
    /// With `--conditions`: what each pair's requests showed.
    contexts: Option<PairContexts>,
}

impl Seen {
    /// Count one request.
    pub(super) fn request(&mut self, allowed: bool) {
        self.requests += 1;
        self.denied += usize::from(!allowed);
    }

    /// Whether the pair is already known.
    pub(super) fn has(&self, action: &str, resource: &str) -> bool {
        self.pairs.get(action).is_some_and(|r| r.contains(resource))
    }

    pub(super) fn add(&mut self, action: &str, resource: &str) {
        let resources = self.pairs.entry(action.to_string()).or_default();
        resources.insert(resource.to_string());
    }
}

/// How to learn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LearnOptions {
    /// Narrow statements with the tag and enterprise-project values the
    /// requests showed ([`super::conditions`]).
    pub conditions: bool,
}

/// Learn one policy per principal from every line a policy decided.
pub fn learn(lines: &[LogLine]) -> Learned {
    learn_with(lines, LearnOptions::default())
}

/// [`learn`], with options.
pub fn learn_with(lines: &[LogLine], opts: LearnOptions) -> Learned {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for line in lines.iter().filter(|l| l.is_decided()) {
        let Some(principal) = &line.principal else {
            continue;
        };
        let s = seen.entry(principal.clone()).or_default();
        s.request(line.was_allowed());
        for (i, a) in line.actions.iter().enumerate() {
            s.add(&a.action, &a.resource);
            if opts.conditions {
                let contexts = s.contexts.get_or_insert_with(PairContexts::default);
                contexts.observe(&a.action, &a.resource, &line.context_of(i));
            }
        }
    }
    learn_seen(seen)
}

/// One policy per principal of what was seen.
pub(super) fn learn_seen(seen: BTreeMap<String, Seen>) -> Learned {
    let mut out = Learned::default();
    for (principal, s) in seen {
        match parse_principal(&principal) {
            None => out.unknown.push(principal),
            Some((_, _, None)) => out.roots.push(principal),
            Some((cloud, account, Some(user))) => {
                out.policies
                    .push(policy_for(principal, cloud, account, user, s));
            }
        }
    }
    out
}

fn policy_for(
    principal: String,
    cloud: Cloud,
    account: String,
    user: String,
    s: Seen,
) -> LearnedPolicy {
    let groups = condition_groups(&s);
    let actions = s.pairs.keys().cloned().collect();
    let resources: BTreeSet<String> = groups
        .values()
        .flat_map(|pairs| pairs.values().flatten().cloned())
        .collect();
    LearnedPolicy {
        name: policy_name(&account, &user),
        document: document(cloud, &groups),
        principal,
        cloud,
        account,
        user,
        requests: s.requests,
        denied: s.denied,
        actions,
        resources: resources.into_iter().collect(),
    }
}

/// Conditions → action → resources (one group, no conditions, unless
/// `--conditions` found some), ids under a wildcard of their group dropped.
fn condition_groups(s: &Seen) -> BTreeMap<Conditions, BTreeMap<String, BTreeSet<String>>> {
    let mut groups: BTreeMap<Conditions, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (action, resources) in &s.pairs {
        for r in resources {
            let c = s
                .contexts
                .as_ref()
                .map(|ctx| ctx.conditions(action, r))
                .unwrap_or_default();
            let group = groups.entry(c).or_default();
            group.entry(action.clone()).or_default().insert(r.clone());
        }
    }
    for pairs in groups.values_mut() {
        for resources in pairs.values_mut() {
            *resources = without_covered(std::mem::take(resources));
        }
    }
    groups
}

/// Drop a resource a wildcard of the same set already covers (an id next to
/// its collection's `…:*`): the same access, a shorter policy.
fn without_covered(resources: BTreeSet<String>) -> BTreeSet<String> {
    if resources.contains("*") {
        return BTreeSet::from(["*".to_string()]);
    }
    let prefixes: Vec<String> = resources
        .iter()
        .filter_map(|r| r.strip_suffix('*').map(str::to_string))
        .collect();
    let covered = |r: &String| {
        prefixes
            .iter()
            .any(|p| r.starts_with(p.as_str()) && **r != format!("{p}*"))
    };
    resources.into_iter().filter(|r| !covered(r)).collect()
}

/// Per condition group, actions that need the same resources share one
/// statement, in action order.
fn document(
    cloud: Cloud,
    groups: &BTreeMap<Conditions, BTreeMap<String, BTreeSet<String>>>,
) -> Value {
    let mut statements: Vec<Value> = Vec::new();
    for (conditions, pairs) in groups {
        let mut same: Vec<(Vec<String>, &BTreeSet<String>)> = Vec::new();
        for (action, resources) in pairs {
            match same.iter_mut().find(|(_, r)| *r == resources) {
                Some((actions, _)) => actions.push(action.clone()),
                None => same.push((vec![action.clone()], resources)),
            }
        }
        for (actions, resources) in same {
            let mut st = json!({
                "Sid": format!("Learned{}", statements.len()),
                "Effect": "Allow",
                "Action": actions,
                "Resource": resources.iter().collect::<Vec<_>>(),
            });
            if let Some(c) = condition_json(conditions) {
                st["Condition"] = c;
            }
            statements.push(st);
        }
    }
    json!({ "Version": cloud.policy_version(), "Statement": statements })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
