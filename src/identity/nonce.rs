//! The bounded, thread-safe memory of ACS3 signature nonces. A nonce is
//! remembered until `max(signed date, arrival) + window`: the date check
//! accepts a request up to `window` after its signed date, so a request
//! dated in the future must be remembered past its arrival + window, or it
//! could be replayed once more (dated now+14m50s, replayed 15 minutes later).
//!
//! The store is bounded and **refuses** rather than evicts: a full store
//! (`capacity` live nonces) or an access key holding its `per_key` quota
//! makes the request fail with [`AuthFailure::ReplayStoreFull`] (503), so a
//! live nonce is never forgotten and one key's flood cannot lock out the
//! others until the store is full. Only requests with a valid signature ever
//! reach the store, so a flood needs valid credentials. Expired entries are
//! evicted, oldest expiry first; every operation is O(log n).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use time::OffsetDateTime;

use super::error::{AuthFailure, ReplayLimit};

/// Bounded, thread-safe (`&self`, Mutex inside) store of ACS3 nonces seen
/// within the replay window, with a per-access-key quota.
#[derive(Debug)]
pub struct NonceStore {
    capacity: usize,
    per_key: usize,
    window: time::Duration,
    inner: Mutex<Inner>,
}

/// The live entries, indexed three ways: by `(access key, nonce)` for the
/// replay check, by expiry for eviction, and a count per access key for the
/// quota. The sequence number makes expiry keys unique.
#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    live: HashSet<(String, String)>,
    by_expiry: BTreeMap<(OffsetDateTime, u64), (String, String)>,
    per_key: HashMap<String, usize>,
}

impl Inner {
    /// Evicts every entry whose expiry is before `now`. An entry is kept
    /// while `now <= expiry`, matching the inclusive date window.
    fn evict_expired(&mut self, now: OffsetDateTime) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 >= now {
                break;
            }
            let (access_key, nonce) = entry.remove();
            self.live.remove(&(access_key.clone(), nonce));
            if let Some(count) = self.per_key.get_mut(&access_key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.per_key.remove(&access_key);
                }
            }
        }
    }
}

impl NonceStore {
    /// A store holding at most `capacity` nonces (at least 1), each access
    /// key at most 10% of them (at least 1), remembered for `window`.
    pub fn new(capacity: usize, window: std::time::Duration) -> Self {
        Self::with_quota(capacity, (capacity / 10).max(1), window)
    }

    /// A store holding at most `capacity` nonces, at most `per_key` of them
    /// for one access key (both at least 1), remembered for `window` past
    /// the later of the signed date and the arrival.
    pub fn with_quota(capacity: usize, per_key: usize, window: std::time::Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            per_key: per_key.max(1),
            window: time::Duration::try_from(window).unwrap_or(time::Duration::MAX),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records `nonce` of `access_key`, signed at `signed`, arriving at
    /// `now`. A nonce still remembered → `NonceReused`; a full store or a
    /// key at its quota → `ReplayStoreFull` (nothing evicted early).
    pub fn check_and_insert(
        &self,
        access_key: &str,
        nonce: &str,
        signed: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), AuthFailure> {
        // A poisoned lock still holds a consistent store: no operation here
        // can panic half-way through an update.
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.evict_expired(now);
        let key = (access_key.to_owned(), nonce.to_owned());
        if inner.live.contains(&key) {
            return Err(AuthFailure::NonceReused);
        }
        if inner.live.len() >= self.capacity {
            return Err(AuthFailure::ReplayStoreFull(ReplayLimit::Full));
        }
        if inner.per_key.get(access_key).copied().unwrap_or(0) >= self.per_key {
            return Err(AuthFailure::ReplayStoreFull(ReplayLimit::Quota));
        }
        let expiry = signed.max(now).saturating_add(self.window);
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.by_expiry.insert((expiry, seq), key.clone());
        inner.live.insert(key);
        *inner.per_key.entry(access_key.to_owned()).or_insert(0) += 1;
        Ok(())
    }

    /// Number of nonces currently remembered.
    pub fn len(&self) -> usize {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.live.len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "nonce_tests.rs"]
mod tests;
