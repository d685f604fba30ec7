//! Reload coalescing. Triggers (admin, SIGHUP, watcher) may arrive faster
//! than a reload runs; queueing one reload per trigger lets any client keep
//! the gateway busy reloading. Instead, while a reload runs every new request
//! joins one pending follow-up; when the running reload ends, the follow-up
//! starts once for all of them. Each caller gets the outcome of the first
//! reload that *started after its request* (so it sees files as they were
//! when it asked, never an older read).
//!
//! The loads run on a spawned driver task, not in the caller's future: a
//! client that hangs up mid-reload cannot cancel it or wedge the queue.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// One run of the loader: the triggers it serves, joined by `,`.
pub type Load<T> = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = T> + Send>> + Send + Sync>;

struct State {
    /// Reloads started so far (the sequence number of the latest).
    started: u64,
    /// Highest sequence number any waiter needs.
    wanted: u64,
    running: bool,
    triggers: BTreeSet<String>,
}

/// Runs `load` at most once at a time, coalescing requests.
pub struct Coalescer<T> {
    load: Load<T>,
    state: Mutex<State>,
    /// (sequence number of the last finished reload, its outcome).
    done: watch::Sender<(u64, Option<T>)>,
}

impl<T: Clone + Send + Sync + 'static> Coalescer<T> {
    pub fn new(load: Load<T>) -> Arc<Coalescer<T>> {
        let state = State {
            started: 0,
            wanted: 0,
            running: false,
            triggers: BTreeSet::new(),
        };
        Arc::new(Coalescer {
            load,
            state: Mutex::new(state),
            done: watch::channel((0, None)).0,
        })
    }

    /// Ask for a reload and wait for one that started after this call.
    pub async fn request(self: &Arc<Self>, trigger: &str) -> T {
        let mut done = self.done.subscribe();
        let target = {
            let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let target = st.started + 1;
            st.wanted = st.wanted.max(target);
            st.triggers.insert(trigger.to_owned());
            if !st.running {
                st.running = true;
                tokio::spawn(self.clone().drive());
            }
            target
        };
        loop {
            {
                let (seq, outcome) = &*done.borrow_and_update();
                if *seq >= target {
                    if let Some(outcome) = outcome {
                        return outcome.clone();
                    }
                }
            }
            if done.changed().await.is_err() {
                // Unreachable while `self` is alive (it owns the sender);
                // run the load directly rather than fail.
                return (self.load)(trigger.to_owned()).await;
            }
        }
    }

    /// Run loads until no waiter needs another one.
    async fn drive(self: Arc<Self>) {
        loop {
            let (seq, triggers) = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if st.wanted <= st.started {
                    st.running = false;
                    return;
                }
                st.started += 1;
                let triggers: Vec<String> = std::mem::take(&mut st.triggers).into_iter().collect();
                (st.started, triggers.join(","))
            };
            let outcome = (self.load)(triggers).await;
            self.done.send_replace((seq, Some(outcome)));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A loader that counts its runs, takes 100 ms, returns its run number.
    fn counting() -> (Arc<AtomicU64>, Arc<Coalescer<u64>>) {
        let runs = Arc::new(AtomicU64::new(0));
        let r = runs.clone();
        let load: Load<u64> = Arc::new(move |_| {
            let r = r.clone();
            Box::pin(async move {
                let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                n
            })
        });
        (runs, Coalescer::new(load))
    }

    #[tokio::test]
    async fn one_request_one_load() {
        let (runs, c) = counting();
        assert_eq!(c.request("admin").await, 1);
        assert_eq!(c.request("admin").await, 2);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn requests_during_a_load_share_one_follow_up() {
        let (runs, c) = counting();
        let first = tokio::spawn({
            let c = c.clone();
            async move { c.request("watcher").await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        // 20 triggers while load 1 runs: they must all get load 2, which
        // started after them, and no load 3..21 may run.
        let mut waiters = Vec::new();
        for i in 0..20 {
            let c = c.clone();
            let trigger = if i % 2 == 0 { "admin" } else { "SIGHUP" };
            waiters.push(tokio::spawn(async move { c.request(trigger).await }));
        }
        assert_eq!(first.await.unwrap(), 1);
        for w in waiters {
            assert_eq!(w.await.unwrap(), 2);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_cancelled_caller_does_not_wedge_the_queue() {
        let (runs, c) = counting();
        let cancelled = tokio::spawn({
            let c = c.clone();
            async move { c.request("admin").await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancelled.abort();
        assert_eq!(c.request("admin").await, 2);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
