//! Tests of the nonce store: the replay window measured from the later of
//! the signed date and the arrival, refusal (never eviction) when full or
//! over a key's quota, expiry, and concurrent use.

use super::*;
use std::time::Duration;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2025-01-01 00:00:00 UTC);
const WINDOW: Duration = Duration::from_secs(900);

fn at(seconds: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(seconds)
}

fn full(limit: ReplayLimit) -> Result<(), AuthFailure> {
    Err(AuthFailure::ReplayStoreFull(limit))
}

#[test]
fn reuse_within_window_is_refused() {
    let store = NonceStore::with_quota(10, 10, WINDOW);
    assert_eq!(store.check_and_insert("ak", "n1", T0, T0), Ok(()));
    assert_eq!(
        store.check_and_insert("ak", "n1", T0, at(14 * 60)),
        Err(AuthFailure::NonceReused)
    );
    assert_eq!(store.check_and_insert("ak", "n2", T0, T0), Ok(()));
    assert_eq!(store.len(), 2);
}

#[test]
fn the_same_nonce_of_another_key_is_not_a_replay() {
    let store = NonceStore::with_quota(10, 10, WINDOW);
    assert_eq!(store.check_and_insert("ak1", "n", T0, T0), Ok(()));
    assert_eq!(store.check_and_insert("ak2", "n", T0, T0), Ok(()));
}

#[test]
fn kept_through_the_last_second_the_date_check_accepts() {
    let store = NonceStore::with_quota(10, 10, WINDOW);
    assert_eq!(store.check_and_insert("ak", "n1", T0, T0), Ok(()));
    assert_eq!(
        store.check_and_insert("ak", "n1", T0, at(15 * 60)),
        Err(AuthFailure::NonceReused),
        "the date check still accepts at exactly +15m"
    );
    assert_eq!(
        store.check_and_insert("ak", "other", T0, at(15 * 60 + 1)),
        Ok(())
    );
    assert_eq!(store.len(), 1, "n1 evicted once its window passed");
    assert_eq!(
        store.check_and_insert("ak", "n1", T0, at(15 * 60 + 1)),
        Ok(())
    );
}

#[test]
fn a_future_dated_request_is_remembered_past_arrival_plus_window() {
    let store = NonceStore::with_quota(10, 10, WINDOW);
    let signed = at(14 * 60 + 50);
    assert_eq!(store.check_and_insert("ak", "n1", signed, T0), Ok(()));
    // 15 minutes after arrival the signed date is 10 s old and passes the
    // date check, so the nonce must still be remembered; it is until
    // signed + 15m.
    assert_eq!(
        store.check_and_insert("ak", "n1", signed, at(15 * 60)),
        Err(AuthFailure::NonceReused)
    );
    assert_eq!(
        store.check_and_insert("ak", "n1", signed, at(29 * 60 + 50)),
        Err(AuthFailure::NonceReused)
    );
    assert_eq!(
        store.check_and_insert("ak", "n1", signed, at(29 * 60 + 51)),
        Ok(())
    );
}

#[test]
fn a_full_store_refuses_and_keeps_the_victims_nonce() {
    let store = NonceStore::with_quota(3, 3, WINDOW);
    for n in ["victim", "b", "c"] {
        let ak = if n == "victim" {
            "victim-ak"
        } else {
            "flood-ak"
        };
        assert_eq!(store.check_and_insert(ak, n, T0, T0), Ok(()));
    }
    assert_eq!(
        store.check_and_insert("flood-ak", "d", T0, at(1)),
        full(ReplayLimit::Full)
    );
    assert_eq!(store.len(), 3, "nothing evicted");
    assert_eq!(
        store.check_and_insert("victim-ak", "victim", T0, at(2)),
        Err(AuthFailure::NonceReused),
        "the victim's nonce is still remembered"
    );
    // Expired entries still make room.
    assert_eq!(
        store.check_and_insert("flood-ak", "d", T0, at(15 * 60 + 1)),
        Ok(())
    );
}

#[test]
fn one_key_cannot_take_more_than_its_quota() {
    let store = NonceStore::with_quota(10, 2, WINDOW);
    assert_eq!(store.check_and_insert("flood", "a", T0, T0), Ok(()));
    assert_eq!(store.check_and_insert("flood", "b", T0, T0), Ok(()));
    assert_eq!(
        store.check_and_insert("flood", "c", T0, T0),
        full(ReplayLimit::Quota)
    );
    assert_eq!(store.check_and_insert("other", "c", T0, T0), Ok(()));
    assert_eq!(store.len(), 3);
    // The quota frees up as the key's entries expire.
    assert_eq!(
        store.check_and_insert("flood", "c", T0, at(15 * 60 + 1)),
        Ok(())
    );
}

#[test]
fn default_quota_is_a_tenth_of_the_capacity() {
    let store = NonceStore::new(20, WINDOW);
    assert_eq!(store.check_and_insert("k", "1", T0, T0), Ok(()));
    assert_eq!(store.check_and_insert("k", "2", T0, T0), Ok(()));
    assert_eq!(
        store.check_and_insert("k", "3", T0, T0),
        full(ReplayLimit::Quota)
    );
}

#[test]
fn zero_capacity_and_quota_still_hold_one() {
    let store = NonceStore::with_quota(0, 0, WINDOW);
    assert_eq!(store.check_and_insert("k", "a", T0, T0), Ok(()));
    assert_eq!(
        store.check_and_insert("k", "a", T0, T0),
        Err(AuthFailure::NonceReused)
    );
    assert_eq!(
        store.check_and_insert("j", "b", T0, T0),
        full(ReplayLimit::Full)
    );
    assert_eq!(store.len(), 1);
}

#[test]
fn concurrent_use_from_threads() {
    let store = std::sync::Arc::new(NonceStore::with_quota(1000, 1000, WINDOW));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || {
                (0..100)
                    .filter(|i| s.check_and_insert("k", &i.to_string(), T0, T0).is_ok())
                    .count()
            })
        })
        .collect();
    let fresh: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(fresh, 100, "each nonce accepted exactly once");
}

#[test]
fn nonces_with_the_same_expiry_all_expire() {
    let store = NonceStore::with_quota(10, 10, WINDOW);
    assert!(store.is_empty());
    store.check_and_insert("ak", "n1", T0, T0).unwrap();
    store.check_and_insert("ak", "n2", T0, T0).unwrap();
    store.check_and_insert("ak", "n3", T0, T0).unwrap();
    assert_eq!(store.len(), 3);
    store
        .check_and_insert("ak", "n4", at(901), at(901))
        .unwrap();
    assert_eq!(store.len(), 1, "n1..n3 expired together");
    assert!(!store.is_empty());
}

#[test]
fn an_expired_nonce_frees_exactly_one_unit_of_its_keys_quota() {
    let store = NonceStore::with_quota(10, 2, WINDOW);
    store.check_and_insert("ak", "a1", T0, T0).unwrap();
    store
        .check_and_insert("ak", "a2", at(600), at(600))
        .unwrap();
    // a1 has expired, a2 is live: one unit free, not two.
    store
        .check_and_insert("ak", "a3", at(901), at(901))
        .unwrap();
    assert_eq!(
        store.check_and_insert("ak", "a4", at(902), at(902)),
        full(ReplayLimit::Quota)
    );
}
