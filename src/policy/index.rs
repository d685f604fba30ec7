//! A set of policies indexed by action, so that a decision looks only at the
//! statements that can match the requested action: literal actions by hash,
//! wildcard patterns grouped by their literal service prefix, `NotAction`
//! statements always.
//!
//! Statement positions (`u32`) follow the order of the policies given, then
//! statement order, so "the first matching statement" is the lowest position.

use std::collections::HashMap as StdHashMap;
use std::sync::Arc;

/// Action lookups happen on every decision: foldhash, not SipHash (the keys
/// come from policy files, and the seed is per process anyway).
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

use crate::policy::glob::Glob;
use crate::policy::statement::{ActionSet, Policy, Statement};

/// Policies in attachment order plus the action index over their statements.
#[derive(Debug, Default)]
pub struct PolicySet {
    policies: Vec<Arc<Policy>>,
    /// Position → (policy index, statement index).
    positions: Vec<(u32, u32)>,
    exact: HashMap<Box<str>, Vec<u32>>,
    /// Distinct wildcard patterns by literal service, each with every
    /// statement that uses it: a pattern is matched once per request, however
    /// many policies repeat it.
    by_service: HashMap<Box<str>, Vec<(Glob, Vec<u32>)>>,
    /// Patterns whose service part is itself a wildcard (`*`, `*:get`).
    any_service: Vec<(Glob, Vec<u32>)>,
    not_action: Vec<u32>,
}

impl PolicySet {
    pub fn new(policies: Vec<Arc<Policy>>) -> PolicySet {
        let mut set = PolicySet {
            policies,
            ..PolicySet::default()
        };
        let mut slots = HashMap::default();
        let mut pos = 0u32;
        for (pi, policy) in set.policies.clone().iter().enumerate() {
            for (si, st) in policy.statements.iter().enumerate() {
                set.positions.push((pi as u32, si as u32));
                set.insert(st, pos, &mut slots);
                pos += 1;
            }
        }
        set
    }

    /// `slots` remembers where each distinct wildcard pattern already sits.
    fn insert(&mut self, st: &Statement, pos: u32, slots: &mut HashMap<Glob, usize>) {
        match &st.actions {
            ActionSet::NotAction(_) => self.not_action.push(pos),
            ActionSet::Action(globs) => {
                for g in globs {
                    match g {
                        Glob::Exact(a) => self.exact.entry(a.clone()).or_default().push(pos),
                        other => {
                            let list = match literal_service(other) {
                                Some(svc) => self.by_service.entry(svc.into()).or_default(),
                                None => &mut self.any_service,
                            };
                            match slots.get(other) {
                                Some(&i) => list[i].1.push(pos),
                                None => {
                                    slots.insert(other.clone(), list.len());
                                    list.push((other.clone(), vec![pos]));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    pub fn policies(&self) -> &[Arc<Policy>] {
        &self.policies
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The policy and statement at a position.
    pub fn statement(&self, pos: u32) -> (&Arc<Policy>, &Statement) {
        let (pi, si) = self.positions[pos as usize];
        let policy = &self.policies[pi as usize];
        (policy, &policy.statements[si as usize])
    }

    /// Call `f` with every statement position whose action matches
    /// `action` (lower-cased). A position may be visited more than once.
    pub fn for_each_candidate(&self, action: &str, mut f: impl FnMut(u32)) {
        if let Some(list) = self.exact.get(action) {
            list.iter().for_each(|&p| f(p));
        }
        let service = action.split(':').next().unwrap_or(action);
        let wild = self
            .by_service
            .get(service)
            .into_iter()
            .flatten()
            .chain(&self.any_service);
        for (glob, positions) in wild {
            if glob.matches(action) {
                positions.iter().for_each(|&p| f(p));
            }
        }
        for &p in &self.not_action {
            if self.statement(p).1.matches_action(action) {
                f(p);
            }
        }
    }
}

/// The literal service part of a wildcard action pattern (`modelarts` of
/// `modelarts:notebook:*`), or `None` when the service part has a wildcard.
fn literal_service(g: &Glob) -> Option<&str> {
    let text = match g {
        Glob::Prefix(p) | Glob::Stars(p) | Glob::General(p) | Glob::Exact(p) => p,
        Glob::Any => return None,
    };
    let (svc, _) = text.split_once(':')?;
    (!svc.contains(['*', '?'])).then_some(svc)
}
