//! What the running gateway has seen, for `GET /-/learned`: per principal
//! the (action, resource) pairs its decided requests needed, bounded. When
//! full, new pairs are refused and counted rather than older ones
//! forgotten (a policy learned from a silently thinned record would deny
//! what the application does). The lock is held for a few map look-ups;
//! a pair already known allocates nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::engine::{learn_seen, Learned, Seen};

/// Pairs kept across all principals by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// The live record (one per gateway).
#[derive(Debug)]
pub struct Observed {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    seen: BTreeMap<String, Seen>,
    pairs: usize,
    dropped: u64,
}

/// A live answer: the policies, and how many pairs the bound refused.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveLearned {
    #[serde(flatten)]
    pub learned: Learned,
    pub dropped_pairs: u64,
    pub capacity: usize,
}

impl Default for Observed {
    fn default() -> Self {
        Observed::new(DEFAULT_CAPACITY)
    }
}

impl Observed {
    pub fn new(capacity: usize) -> Observed {
        Observed {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One decided request of `principal` needing `pairs` (action, resource).
    pub fn note<'a>(
        &self,
        principal: &str,
        allowed: bool,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if !inner.seen.contains_key(principal) {
            if inner.pairs >= self.capacity {
                inner.dropped += 1;
                return;
            }
            inner.seen.insert(principal.to_string(), Seen::default());
        }
        let Some(seen) = inner.seen.get_mut(principal) else {
            return;
        };
        seen.request(allowed);
        for (action, resource) in pairs {
            if seen.has(action, resource) {
                continue;
            }
            if inner.pairs >= self.capacity {
                inner.dropped += 1;
                continue;
            }
            seen.add(action, resource);
            inner.pairs += 1;
        }
    }

    /// Forget everything seen (the console's reset): learning starts over.
    pub fn reset(&self) {
        *self.lock() = Inner::default();
    }

    /// The policies learned so far (of one principal, or of all).
    pub fn learned(&self, principal: Option<&str>) -> LiveLearned {
        let guard = self.lock();
        let mut seen = BTreeMap::new();
        for (p, s) in &guard.seen {
            if principal.is_none_or(|only| only == p) {
                seen.insert(p.clone(), s.clone());
            }
        }
        LiveLearned {
            learned: learn_seen(seen),
            dropped_pairs: guard.dropped,
            capacity: self.capacity,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_kept_per_principal_and_refused_past_the_bound() {
        let o = Observed::new(2);
        o.note("iam::a:user:u", true, [("s:x:get", "s:r:a:x:1")]);
        o.note(
            "iam::a:user:u",
            false,
            [("s:x:get", "s:r:a:x:1"), ("s:x:list", "s:r:a:x:*")],
        );
        // Full: a third pair and a new principal are refused and counted.
        o.note("iam::a:user:u", true, [("s:x:delete", "s:r:a:x:1")]);
        o.note("iam::a:user:v", true, [("s:x:get", "s:r:a:x:2")]);
        let live = o.learned(None);
        assert_eq!(live.dropped_pairs, 2);
        assert_eq!(live.learned.policies.len(), 1);
        let u = &live.learned.policies[0];
        assert_eq!(u.actions, ["s:x:get", "s:x:list"]);
        assert_eq!((u.requests, u.denied), (3, 1));
        assert!(o.learned(Some("iam::a:user:v")).learned.policies.is_empty());
        assert_eq!(o.learned(Some("iam::a:user:u")).learned.policies.len(), 1);
    }

    #[test]
    fn reset_forgets_every_principal_and_frees_the_bound() {
        let o = Observed::new(1);
        o.note("iam::a:user:u", true, [("s:x:get", "s:r:a:x:1")]);
        o.note("iam::a:user:u", true, [("s:x:list", "s:r:a:x:*")]);
        o.reset();
        assert!(o.learned(None).learned.policies.is_empty());
        assert_eq!(o.learned(None).dropped_pairs, 0);
        o.note("iam::a:user:v", true, [("s:x:get", "s:r:a:x:2")]);
        assert_eq!(o.learned(None).learned.policies.len(), 1);
    }
}
