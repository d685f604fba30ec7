//! A set of policies indexed by action, so that a decision looks only at the
//! statements that can match the requested action: literal actions by hash
//! (a sorted vector, searched), wildcard patterns grouped by their literal
//! service prefix, `NotAction` statements always.
//!
//! Statement positions (`u32`) follow the order of the policies given, then
//! statement order, so "the first matching statement" is the lowest position.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::FixedState;
use smallvec::SmallVec;

use crate::policy::glob::Glob;
use crate::policy::statement::{ActionSet, Policy, Statement};

/// The hashes of an action and of its service, computed once per decision
/// and looked up in every set of the subject (organisation levels, identity,
/// session). The seed is fixed: a hash only orders index entries, every hit
/// is checked against the pattern itself, so a collision costs one extra
/// comparison and never changes an answer.
#[derive(Debug, Clone, Copy)]
pub struct ActionKey<'a> {
    /// Lower-cased.
    pub action: &'a str,
    exact: u64,
    service: u64,
}

const HASH: FixedState = FixedState::with_seed(0x1a6a_7e00_5eed_0001);

impl<'a> ActionKey<'a> {
    /// `action` must already be lower-cased.
    pub fn new(action: &'a str) -> ActionKey<'a> {
        let service = action.split(':').next().unwrap_or(action);
        ActionKey {
            action,
            exact: HASH.hash_one(action),
            service: HASH.hash_one(service),
        }
    }
}

/// One distinct wildcard pattern and the run of `wild_positions` that holds
/// every statement using it.
#[derive(Debug)]
struct Wild {
    /// Hash of the literal service (0 for `any_service` entries).
    service: u64,
    glob: Glob,
    run: (u32, u32),
}

/// One distinct literal action: where it is written (position, pattern
/// index), checked once per lookup against the requested action, and the
/// run of `exact_positions` naming it.
#[derive(Debug)]
struct Exact {
    hash: u64,
    at: (u32, u32),
    run: (u32, u32),
}

/// Policies in attachment order plus the action index over their
/// statements. Sorted vectors rather than hash maps: a subject's set is
/// built once per distinct list of policies and held by the snapshot for
/// every user that has that list, so its size is the snapshot's size.
#[derive(Debug, Default)]
pub struct PolicySet {
    policies: Vec<Arc<Policy>>,
    /// Position → (policy index, statement index).
    positions: Vec<(u32, u32)>,
    /// Distinct literal action patterns, sorted by hash.
    exact: Vec<Exact>,
    exact_positions: Vec<u32>,
    /// Distinct wildcard patterns with a literal service, sorted by the
    /// service's hash: a pattern is matched once per request, however many
    /// policies repeat it.
    by_service: Vec<Wild>,
    /// Patterns whose service part is itself a wildcard (`*`, `*:get`).
    any_service: Vec<Wild>,
    wild_positions: Vec<u32>,
    not_action: Vec<u32>,
    /// Each statement's resource patterns as ids of the set's distinct
    /// patterns (`resource_ids[resource_starts[pos]..resource_starts[pos + 1]]`,
    /// in the statement's order): a decision matches each distinct pattern
    /// at most once, however many statements repeat it ([`ResourceMemo`]).
    resource_starts: Vec<u32>,
    resource_ids: Vec<u32>,
    distinct_resources: u32,
}

/// What one decision has learnt about the resource, per distinct pattern
/// of one set: not matched yet, no, yes. On the stack for sets of up to 64
/// distinct patterns; none for sets under [`MEMO_FROM`] statements.
pub struct ResourceMemo(SmallVec<[u8; 64]>);

/// Sets with fewer statements than this keep no memo.
const MEMO_FROM: usize = 128;

const UNKNOWN: u8 = 0;
const NO: u8 = 1;
const YES: u8 = 2;

/// The index while it is built: each distinct wildcard pattern with its
/// literal service (if any) and the statements using it.
type WildBuild = HashMap<Glob, (Option<u64>, Vec<u32>), FixedState>;

/// Each distinct literal action while the index is built: where it is
/// first written and every statement naming it.
type ExactBuild<'p> = HashMap<&'p str, ((u32, u32), Vec<u32>), FixedState>;

impl PolicySet {
    pub fn new(policies: Vec<Arc<Policy>>) -> PolicySet {
        let mut set = PolicySet::default();
        let mut b = Build {
            exact: ExactBuild::with_hasher(HASH),
            wild: WildBuild::with_hasher(HASH),
            order: Vec::new(),
        };
        let mut pos = 0u32;
        // A small set matches its few patterns directly: zeroing a memo
        // costs more than it saves there, so it numbers none.
        let statements: usize = policies.iter().map(|p| p.statements.len()).sum();
        let memo = statements >= MEMO_FROM;
        let mut resource_ids = HashMap::with_hasher(HASH);
        if memo {
            set.resource_starts.push(0);
        }
        for (pi, policy) in policies.iter().enumerate() {
            for (si, st) in policy.statements.iter().enumerate() {
                set.positions.push((pi as u32, si as u32));
                if let ActionSet::NotAction(_) = st.actions {
                    set.not_action.push(pos);
                }
                b.insert(st, pos);
                if memo {
                    for glob in st.resource_patterns() {
                        let next = resource_ids.len() as u32;
                        set.resource_ids
                            .push(*resource_ids.entry(glob).or_insert(next));
                    }
                    set.resource_starts.push(set.resource_ids.len() as u32);
                }
                pos += 1;
            }
        }
        set.distinct_resources = resource_ids.len() as u32;
        for (action, (at, list)) in b.exact {
            let run = extend(&mut set.exact_positions, list);
            let hash = HASH.hash_one(action);
            set.exact.push(Exact { hash, at, run });
        }
        set.exact.sort_unstable_by_key(|e| (e.hash, e.at));
        for glob in b.order {
            if let Some((service, list)) = b.wild.remove(&glob) {
                let run = extend(&mut set.wild_positions, list);
                match service {
                    Some(service) => set.by_service.push(Wild { service, glob, run }),
                    None => set.any_service.push(Wild {
                        service: 0,
                        glob,
                        run,
                    }),
                }
            }
        }
        set.by_service.sort_by_key(|w| w.service);
        set.policies = policies;
        set.shrink_to_fit();
        set
    }

    /// No spare capacity: a set lives as long as its snapshot, and there
    /// is one per distinct list of policies (10,000 on a tree where every
    /// user has a policy of their own).
    fn shrink_to_fit(&mut self) {
        self.positions.shrink_to_fit();
        self.exact.shrink_to_fit();
        self.exact_positions.shrink_to_fit();
        self.by_service.shrink_to_fit();
        self.any_service.shrink_to_fit();
        self.wild_positions.shrink_to_fit();
        self.not_action.shrink_to_fit();
        self.resource_starts.shrink_to_fit();
        self.resource_ids.shrink_to_fit();
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

    /// A memo for one decision over this set, `None` for a small set (see
    /// [`PolicySet::matches_resource`]).
    pub fn resource_memo(&self) -> Option<ResourceMemo> {
        (self.distinct_resources > 0).then(|| {
            ResourceMemo(SmallVec::from_elem(
                UNKNOWN,
                self.distinct_resources as usize,
            ))
        })
    }

    /// [`Statement::matches_resource`] for `st`, the statement at `pos`,
    /// each of its patterns matched only if no earlier statement of this
    /// decision matched an equal one (`memo`, from
    /// [`PolicySet::resource_memo`]).
    pub fn matches_resource(
        &self,
        pos: u32,
        st: &Statement,
        resource: &str,
        memo: &mut ResourceMemo,
    ) -> bool {
        let (start, end) = (
            self.resource_starts[pos as usize] as usize,
            self.resource_starts[pos as usize + 1] as usize,
        );
        let ids = &self.resource_ids[start..end];
        st.resources_match(|i, glob| {
            // Numbered from this very statement: an id for each pattern.
            let Some(known) = ids.get(i).and_then(|&id| memo.0.get_mut(id as usize)) else {
                return glob.matches(resource);
            };
            if *known == UNKNOWN {
                *known = if glob.matches(resource) { YES } else { NO };
            }
            *known == YES
        })
    }

    /// Call `f` with every statement position whose action matches
    /// `action` (lower-cased). A position may be visited more than once.
    pub fn for_each_candidate(&self, action: &str, f: impl FnMut(u32)) {
        self.for_each_candidate_key(&ActionKey::new(action), f)
    }

    /// [`PolicySet::for_each_candidate`] with the action's hashes computed
    /// by the caller (once for all the sets of a decision).
    pub fn for_each_candidate_key(&self, key: &ActionKey<'_>, mut f: impl FnMut(u32)) {
        let first = self.exact.partition_point(|e| e.hash < key.exact);
        for e in self.exact[first..]
            .iter()
            .take_while(|e| e.hash == key.exact)
        {
            if self.names_exactly(e.at.0, e.at.1, key.action) {
                let (start, end) = e.run;
                self.exact_positions[start as usize..end as usize]
                    .iter()
                    .for_each(|&p| f(p));
            }
        }
        let first = self.by_service.partition_point(|w| w.service < key.service);
        let same_service = self.by_service[first..]
            .iter()
            .take_while(|w| w.service == key.service);
        for w in same_service.chain(&self.any_service) {
            if w.glob.matches(key.action) {
                let (start, end) = w.run;
                for &p in &self.wild_positions[start as usize..end as usize] {
                    f(p);
                }
            }
        }
        for &p in &self.not_action {
            if self.statement(p).1.matches_action(key.action) {
                f(p);
            }
        }
    }

    /// Is action pattern `gi` of the statement at `pos` exactly `action`?
    fn names_exactly(&self, pos: u32, gi: u32, action: &str) -> bool {
        match &self.statement(pos).1.actions {
            ActionSet::Action(globs) => {
                matches!(globs.get(gi as usize), Some(Glob::Exact(a)) if **a == *action)
            }
            ActionSet::NotAction(_) => false,
        }
    }
}

/// The index under construction (see [`PolicySet::new`]).
struct Build<'p> {
    exact: ExactBuild<'p>,
    wild: WildBuild,
    /// The distinct wildcard patterns in first-use order.
    order: Vec<Glob>,
}

impl<'p> Build<'p> {
    fn insert(&mut self, st: &'p Statement, pos: u32) {
        let ActionSet::Action(globs) = &st.actions else {
            return;
        };
        for (gi, g) in globs.iter().enumerate() {
            if let Glob::Exact(a) = g {
                let entry = self
                    .exact
                    .entry(a)
                    .or_insert(((pos, gi as u32), Vec::new()));
                entry.1.push(pos);
                continue;
            }
            let order = &mut self.order;
            let entry = self.wild.entry(g.clone()).or_insert_with(|| {
                order.push(g.clone());
                (literal_service(g).map(|s| HASH.hash_one(s)), Vec::new())
            });
            entry.1.push(pos);
        }
    }
}

/// Append `list` to `all`; its run there.
fn extend(all: &mut Vec<u32>, list: Vec<u32>) -> (u32, u32) {
    let start = all.len() as u32;
    all.extend(list);
    (start, all.len() as u32)
}

/// The literal service part of a wildcard action pattern (`modelarts` of
/// `modelarts:notebook:*`), or `None` when the service part has a wildcard.
fn literal_service(g: &Glob) -> Option<&str> {
    let text = match g {
        Glob::Prefix(p) | Glob::Stars(p, ..) | Glob::General(p) | Glob::Exact(p) => p,
        Glob::Any => return None,
    };
    let (svc, _) = text.split_once(':')?;
    (!svc.contains(['*', '?'])).then_some(svc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "index_tests.rs"]
mod tests;
