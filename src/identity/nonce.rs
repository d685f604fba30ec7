//! The bounded, thread-safe memory of ACS3 signature nonces seen within the
//! replay window. A nonce is remembered from the moment its request verified
//! until `window` has passed; a second use within that time is a replay.
//!
//! The store is bounded: when it holds `capacity` entries the oldest is
//! evicted to make room. A bounded store trades a tiny replay window under
//! flood (an evicted nonce could be replayed until its date expires) for
//! bounded memory; only requests with a valid signature ever reach it, so a
//! flood needs valid credentials.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use time::OffsetDateTime;

/// Bounded, thread-safe (`&self`, Mutex inside) store of ACS3 nonces seen
/// within the 15-minute window.
#[derive(Debug)]
pub struct NonceStore {
    capacity: usize,
    window: time::Duration,
    inner: Mutex<Inner>,
}

/// Arrival-ordered entries plus an index. Each entry has a sequence number
/// so an evicted stale entry never removes a newer record of the same nonce.
#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    by_nonce: HashMap<String, (u64, OffsetDateTime)>,
    order: VecDeque<(u64, OffsetDateTime, String)>,
}

impl Inner {
    /// Removes the oldest entry (and its index record, if still current).
    fn pop_oldest(&mut self) {
        if let Some((seq, _, nonce)) = self.order.pop_front() {
            if self.by_nonce.get(&nonce).is_some_and(|(s, _)| *s == seq) {
                self.by_nonce.remove(&nonce);
            }
        }
    }

    /// Evicts entries, oldest first, whose window has passed at `now`.
    fn evict_expired(&mut self, now: OffsetDateTime, window: time::Duration) {
        while self
            .order
            .front()
            .is_some_and(|(_, seen, _)| now - *seen >= window)
        {
            self.pop_oldest();
        }
    }
}

impl NonceStore {
    /// A store holding at most `capacity` nonces (at least 1) for `window`.
    pub fn new(capacity: usize, window: std::time::Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            window: time::Duration::try_from(window).unwrap_or(time::Duration::MAX),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// True if the nonce is fresh (and records it); false if it was seen
    /// within the window. Expired entries are evicted; when full, the oldest
    /// is evicted (bounded memory at the price of a tiny replay window under
    /// flood, see the module comment).
    pub fn check_and_insert(&self, nonce: &str, now: OffsetDateTime) -> bool {
        // A poisoned lock still holds a consistent map: no operation here
        // can panic half-way through an update.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.evict_expired(now, self.window);
        if let Some((_, seen)) = inner.by_nonce.get(nonce) {
            // Also a replay when `seen` is in the future (clock went back).
            if now - *seen < self.window {
                return false;
            }
        }
        while inner.order.len() >= self.capacity {
            inner.pop_oldest();
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.by_nonce.insert(nonce.to_owned(), (seq, now));
        inner.order.push_back((seq, now, nonce.to_owned()));
        true
    }

    /// Number of nonces currently remembered.
    pub fn len(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.by_nonce.len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);

    #[test]
    fn reuse_within_window_is_refused() {
        let store = NonceStore::new(10, Duration::from_secs(900));
        assert!(store.check_and_insert("n1", T0));
        assert!(!store.check_and_insert("n1", T0 + time::Duration::minutes(14)));
        assert!(store.check_and_insert("n2", T0));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn entries_expire_after_the_window() {
        let store = NonceStore::new(10, Duration::from_secs(900));
        assert!(store.check_and_insert("n1", T0));
        let later = T0 + time::Duration::minutes(15);
        assert!(store.check_and_insert("other", later));
        assert_eq!(store.len(), 1, "n1 evicted once its window passed");
        assert!(store.check_and_insert("n1", later));
    }

    #[test]
    fn capacity_is_respected_and_the_oldest_goes_first() {
        let store = NonceStore::new(3, Duration::from_secs(900));
        for (i, n) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let at = T0 + time::Duration::seconds(i64::try_from(i).unwrap());
            assert!(store.check_and_insert(n, at));
            assert!(store.len() <= 3);
        }
        assert_eq!(store.len(), 3);
        let at = T0 + time::Duration::seconds(10);
        assert!(!store.check_and_insert("e", at), "newest kept");
        assert!(!store.check_and_insert("c", at), "c kept");
        assert!(store.check_and_insert("a", at), "oldest evicted");
    }

    #[test]
    fn zero_capacity_still_works() {
        let store = NonceStore::new(0, Duration::from_secs(900));
        assert!(store.check_and_insert("a", T0));
        assert!(!store.check_and_insert("a", T0));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn concurrent_use_from_threads() {
        let store = std::sync::Arc::new(NonceStore::new(1000, Duration::from_secs(900)));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = store.clone();
                std::thread::spawn(move || {
                    (0..100)
                        .filter(|i| s.check_and_insert(&i.to_string(), T0))
                        .count()
                })
            })
            .collect();
        let fresh: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(fresh, 100, "each nonce accepted exactly once");
    }
}
