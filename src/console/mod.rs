//! The live console on the admin listener (`GET /ui`): a bounded ring of
//! the most recent decisions (`[console] recent`), the same
//! [`DecisionRecord`]s the decision log writes, so a page opened late still
//! shows the last N, and a broadcast of every new one to the page's
//! server-sent event stream ([`sse`]). Clicking a decision recomputes its
//! per-statement trace against the current snapshot ([`explain`]); the
//! pages and endpoints are in [`http`], the embedded assets in `assets/`.
//!
//! The proxy's cost: one `Arc` and a short lock per request, and a
//! broadcast send that never waits — a slow browser loses events (counted),
//! it never slows a request.

pub mod explain;
pub mod http;
pub mod sse;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::decision_log::DecisionRecord;

/// `[console] recent` when unset: on, so the bundled defaults show traffic.
pub const DEFAULT_RECENT: usize = 1000;

/// Events a stream may fall behind the newest before it loses some.
const BROADCAST_CAPACITY: usize = 1024;

/// One decision as the console holds it: the log's record and its place.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Increasing per process: the SSE event id and the key a click asks by.
    pub seq: u64,
    #[serde(flatten)]
    pub record: DecisionRecord,
}

/// The ring and the live feed (one per gateway, shared by every worker).
#[derive(Debug)]
pub struct Console {
    capacity: usize,
    inner: Mutex<Ring>,
    tx: broadcast::Sender<Arc<Entry>>,
    /// Events slow streams lost.
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Ring {
    entries: VecDeque<Arc<Entry>>,
    next_seq: u64,
}

impl Console {
    /// A console keeping `capacity` decisions; `None` when 0 (off).
    pub fn new(capacity: usize) -> Option<Arc<Console>> {
        if capacity == 0 {
            return None;
        }
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        Some(Arc::new(Console {
            capacity,
            inner: Mutex::new(Ring {
                entries: VecDeque::with_capacity(capacity.min(4096)),
                next_seq: 1,
            }),
            tx,
            dropped: AtomicU64::new(0),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep one decision (forgetting the oldest when full) and announce it.
    /// The send happens under the ring's lock so a new stream's backlog and
    /// its live events neither overlap nor leave a gap.
    pub fn push(&self, record: DecisionRecord) {
        let mut ring = self.lock();
        let entry = Arc::new(Entry {
            seq: ring.next_seq,
            record,
        });
        ring.next_seq += 1;
        if ring.entries.len() == self.capacity {
            ring.entries.pop_front();
        }
        ring.entries.push_back(entry.clone());
        if self.tx.receiver_count() > 0 {
            // Err only when no receiver is left: nothing to deliver to.
            let _ = self.tx.send(entry);
        }
    }

    /// The decisions kept, oldest first.
    pub fn recent(&self) -> Vec<Arc<Entry>> {
        self.lock().entries.iter().cloned().collect()
    }

    /// The kept decision with this sequence number.
    pub fn find(&self, seq: u64) -> Option<Arc<Entry>> {
        let ring = self.lock();
        let first = ring.entries.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        ring.entries.get(i).cloned()
    }

    /// The backlog and a receiver of every decision after it.
    pub fn subscribe(&self) -> (Vec<Arc<Entry>>, broadcast::Receiver<Arc<Entry>>) {
        let ring = self.lock();
        let rx = self.tx.subscribe();
        (ring.entries.iter().cloned().collect(), rx)
    }

    /// Forget every kept decision (sequence numbers keep increasing).
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// Count events a slow stream lost.
    pub fn note_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Events slow streams lost since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod tests;
