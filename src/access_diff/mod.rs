//! Access diff: which (principal, catalog action) pairs gained or lost
//! access between two snapshots. Every reload computes it against the live
//! snapshot (log, `/-/snapshot`, `iamgate_reload_access_changes_total`) and
//! `iamgate diff OLD NEW` computes it offline; [`diff`] is a pure function of
//! the two snapshots so a console can reuse it.
//!
//! How resources are treated (a decision, documented in the README): an
//! action counts as *granted* to a principal when the engine allows it on
//! the action's catalog resource with the wildcard id — the service's
//! template with `{type}` = each resource type the catalog gives the action,
//! `{id}` = `*`, `{account}` = the principal's account and `{region}` = each
//! region the principal can call it in (its account's project regions on
//! Huawei, the service's `[regions]` entry on Alibaba, else `*`) — with an
//! empty context. So a grant scoped to one resource id, or one that needs a
//! condition key, counts as "not granted"; a conditional deny counts as not
//! applying. This is the question "may this principal use this action at
//! all, unconditionally?", which is exactly what a policy review changes.
//!
//! The work is bounded: at most [`Limits::max_pairs`] pairs are compared (and
//! none after [`Limits::deadline`]), at most [`Limits::max_listed`] changes are
//! listed; the counts say how much was left out.

pub mod cli;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::cloud::Cloud;
use crate::directory::Principal;
use crate::policy::{evaluate, Context};
use crate::routes::{Action, Service};
use crate::snapshot::Snapshot;

/// How much work one diff may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Pairs evaluated at most; the rest are counted as not compared. A
    /// principal known to decide as before (see [`diff`]) is compared
    /// without evaluating anything and does not count.
    pub max_pairs: usize,
    /// Changes listed at most; the rest are counted in `omitted`.
    pub max_listed: usize,
    /// Stop comparing at this instant (checked every few hundred pairs).
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pairs: 1_000_000,
            max_listed: 200,
            deadline: None,
        }
    }
}

/// Whether a pair gained or lost access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Gained,
    Lost,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Gained => "gained",
            Change::Lost => "lost",
        }
    }
}

/// One (principal, action) whose access changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessChange {
    /// The principal's URN/ARN (`iam::acme0001:user:alice`).
    pub principal: String,
    pub action: String,
    pub change: Change,
}

/// The result of [`diff`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccessDiff {
    /// Pairs that gained access, among those compared.
    pub gained: usize,
    /// Pairs that lost access, among those compared.
    pub lost: usize,
    /// The first `max_listed` changes, by principal then action.
    pub changes: Vec<AccessChange>,
    /// Changes counted but not listed.
    pub omitted: usize,
    /// Pairs compared, and pairs there were (principals × actions).
    pub pairs_compared: usize,
    pub pairs_total: usize,
    /// Every pair was compared (no limit or deadline cut the work short).
    pub complete: bool,
}

impl AccessDiff {
    pub fn is_empty(&self) -> bool {
        self.gained == 0 && self.lost == 0
    }
}

/// A principal's key in the directory: (account id, user name or root).
type PrincipalKey = (String, Option<String>);

/// Compare what every principal of either snapshot may do with every action
/// of either catalog. `regions`: Alibaba service → region (`[regions]`).
pub fn diff(
    old: &Snapshot,
    new: &Snapshot,
    regions: &BTreeMap<String, String>,
    limits: &Limits,
) -> AccessDiff {
    let (old_side, new_side) = (Side::new(old, regions), Side::new(new, regions));
    let principals: BTreeSet<&PrincipalKey> = old
        .directory
        .principals
        .keys()
        .chain(new.directory.principals.keys())
        .collect();
    let actions: BTreeSet<&str> = old_side
        .actions
        .keys()
        .chain(new_side.actions.keys())
        .map(String::as_str)
        .collect();
    let mut out = AccessDiff {
        pairs_total: principals.len() * actions.len(),
        complete: true,
        ..AccessDiff::default()
    };
    let same_catalog = old_side.same_inputs(&new_side);
    let mut evaluated = 0;
    'all: for key in principals {
        // The very same compiled policies deciding over the same catalog:
        // every action answers as before, so none needs evaluating.
        let unchanged = match (old_side.principal(key), new_side.principal(key)) {
            (Some(a), Some(b)) => same_catalog && same_subject(a, b),
            _ => false,
        };
        if unchanged {
            out.pairs_compared += actions.len();
            continue;
        }
        for (index, action) in actions.iter().enumerate() {
            if evaluated >= limits.max_pairs || past(limits.deadline, evaluated) {
                out.complete = false;
                break 'all;
            }
            evaluated += 1;
            out.pairs_compared += 1;
            let before = old_side.allows(key, index, action);
            let after = new_side.allows(key, index, action);
            if before != after {
                let change = if after { Change::Gained } else { Change::Lost };
                out.record(&old_side, &new_side, key, action, change, limits.max_listed);
            }
        }
    }
    out
}

/// The deadline has passed (looked at every 256 pairs: reading the clock
/// costs more than a decision).
fn past(deadline: Option<Instant>, done: usize) -> bool {
    done % 256 == 0 && deadline.is_some_and(|d| Instant::now() >= d)
}

impl AccessDiff {
    fn record(
        &mut self,
        old: &Side<'_>,
        new: &Side<'_>,
        key: &PrincipalKey,
        action: &str,
        change: Change,
        max_listed: usize,
    ) {
        match change {
            Change::Gained => self.gained += 1,
            Change::Lost => self.lost += 1,
        }
        if self.changes.len() >= max_listed {
            self.omitted += 1;
            return;
        }
        let principal = new.principal(key).or_else(|| old.principal(key));
        let action = new.action_name(action).or_else(|| old.action_name(action));
        self.changes.push(AccessChange {
            principal: principal.map_or_else(|| format!("{key:?}"), |p| p.urn.clone()),
            action: action.unwrap_or_default().to_string(),
            change,
        });
    }
}

/// One snapshot, indexed for the diff.
struct Side<'s> {
    snap: &'s Snapshot,
    /// Lower-cased action name → (its service, the action).
    actions: HashMap<String, (&'s Service, &'s Action)>,
    /// Huawei account → the regions of its projects.
    account_regions: HashMap<&'s str, BTreeSet<&'s str>>,
    regions: &'s BTreeMap<String, String>,
    /// (subject, action index) → allowed. Users with the same policies in
    /// one account share one compiled subject, so a tree of thousands of
    /// users needs a decision per distinct subject, not per user.
    memo: RefCell<HashMap<(SubjectKey, usize), bool>>,
}

/// What a wildcard decision depends on: the compiled identity policies
/// and org levels (by address: the snapshot holds them for the whole
/// diff), root or not, and the account (it is in the resource name).
type SubjectKey = (usize, usize, bool, Arc<str>);

/// Two principals decided by the very same compiled policies (identity
/// set, and each organisation level's set, pointer-equal; a reload reuses
/// them when their files did not change), in the same account.
fn same_subject(a: &Principal, b: &Principal) -> bool {
    let (x, y) = (&a.subject, &b.subject);
    x.cloud == y.cloud
        && x.root == y.root
        && a.account_id == b.account_id
        && x.session.is_none()
        && y.session.is_none()
        && Arc::ptr_eq(&x.identity, &y.identity)
        && x.org.len() == y.org.len()
        && x.org
            .iter()
            .zip(y.org.iter())
            .all(|(l, m)| l.node == m.node && Arc::ptr_eq(&l.policies, &m.policies))
}

fn subject_key(p: &Principal) -> SubjectKey {
    let s = &p.subject;
    (
        Arc::as_ptr(&s.identity) as usize,
        Arc::as_ptr(&s.org) as *const u8 as usize,
        s.root,
        p.account_id.clone(),
    )
}

impl<'s> Side<'s> {
    fn new(snap: &'s Snapshot, regions: &'s BTreeMap<String, String>) -> Side<'s> {
        let mut actions = HashMap::new();
        for service in snap.routes.services() {
            for action in &service.actions {
                actions
                    .entry(action.key.clone())
                    .or_insert((service, action));
            }
        }
        let mut account_regions: HashMap<&str, BTreeSet<&str>> = HashMap::new();
        for p in snap.directory.projects.values() {
            account_regions
                .entry(&p.account_id)
                .or_default()
                .insert(p.region.as_str());
        }
        Side {
            snap,
            actions,
            account_regions,
            regions,
            memo: RefCell::new(HashMap::new()),
        }
    }

    /// Whether the two sides ask the same questions: the same actions with
    /// the same services, resource types and templates, and the same
    /// regions per account (everything [`Side::allows`] reads besides the
    /// principal's subject).
    fn same_inputs(&self, other: &Side<'_>) -> bool {
        let same_action = |(k, (s, a)): (&String, &(&Service, &Action))| {
            other.actions.get(k).is_some_and(|(t, b)| {
                s.name == t.name
                    && s.cloud == t.cloud
                    && s.resource_template == t.resource_template
                    && a.name == b.name
                    && a.resource_types == b.resource_types
            })
        };
        self.actions.len() == other.actions.len()
            && self.actions.iter().all(same_action)
            && self.account_regions == other.account_regions
    }

    fn principal(&self, key: &PrincipalKey) -> Option<&'s Principal> {
        self.snap.directory.principals.get(key).map(|p| p.as_ref())
    }

    fn action_name(&self, key: &str) -> Option<&'s str> {
        self.actions.get(key).map(|(_, a)| a.name.as_str())
    }

    /// Whether `key` may use `action` (number `index` of the diff's
    /// sorted actions) unconditionally on its wildcard resource.
    fn allows(&self, key: &PrincipalKey, index: usize, action: &str) -> bool {
        let (Some(principal), Some((service, action))) =
            (self.principal(key), self.actions.get(action))
        else {
            return false;
        };
        let memo_key = (subject_key(principal), index);
        if let Some(known) = self.memo.borrow().get(&memo_key) {
            return *known;
        }
        let ctx = Context::new();
        let allowed = self
            .resources(principal, service, action)
            .iter()
            .any(|r| evaluate(&principal.subject, &action.name, r, &ctx).is_allowed());
        self.memo.borrow_mut().insert(memo_key, allowed);
        allowed
    }

    /// The wildcard resources of `action` for this principal.
    fn resources(&self, principal: &Principal, service: &Service, action: &Action) -> Vec<String> {
        if action.resource_types.is_empty() {
            return vec!["*".to_string()];
        }
        let regions: Vec<&str> = match service.cloud {
            Cloud::Huawei => self
                .account_regions
                .get(principal.account_id.as_ref())
                .map(|r| r.iter().copied().collect())
                .unwrap_or_default(),
            Cloud::Aliyun => self
                .regions
                .get(&service.name)
                .map(String::as_str)
                .into_iter()
                .collect(),
        };
        let regions = if regions.is_empty() {
            vec!["*"]
        } else {
            regions
        };
        let mut out = Vec::new();
        for kind in &action.resource_types {
            for region in &regions {
                out.push(
                    service
                        .resource_template
                        .replace("{region}", region)
                        .replace("{account}", &principal.account_id)
                        .replace("{type}", kind)
                        .replace("{id}", "*"),
                );
            }
        }
        out
    }
}

/// One line for the log: counts, then the first few changes.
pub fn summary(diff: &AccessDiff, shown: usize) -> String {
    let mut line = format!("access diff: {} gained, {} lost", diff.gained, diff.lost);
    if !diff.complete {
        line.push_str(&format!(
            " (incomplete: {} of {} pairs compared)",
            diff.pairs_compared, diff.pairs_total
        ));
    }
    for c in diff.changes.iter().take(shown) {
        line.push_str(&format!(
            "; {} {} {}",
            c.change.as_str(),
            c.principal,
            c.action
        ));
    }
    let more = diff.gained + diff.lost;
    if more > shown.min(diff.changes.len()) {
        line.push_str(&format!(
            "; … {} more",
            more - shown.min(diff.changes.len())
        ));
    }
    line
}

#[cfg(test)]
mod tests;
