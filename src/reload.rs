//! The only writer of the live snapshot. Triggers: file changes under the
//! routes and policies folders (notify, debounced; Kubernetes ConfigMap
//! `..data` symlink swaps and editors that write via rename both show up as
//! events in the watched folders), SIGHUP, and `POST /-/reload`. The same
//! load → parse → compile → validate path as start-up runs each time; a
//! failure keeps the old snapshot and records every error.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, Mutex};

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::metrics::Metrics;
use crate::snapshot::{Snapshot, SnapshotHolder};

/// Serialises reloads so two triggers never race on the holder.
pub struct Reloader {
    config: Config,
    holder: Arc<SnapshotHolder>,
    metrics: Metrics,
    lock: Mutex<()>,
}

/// What a reload did.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// A new snapshot is live (its digest).
    Loaded(String),
    /// The old snapshot stays; these errors were found.
    Failed(Vec<Diagnostic>),
}

impl Reloader {
    pub fn new(config: Config, holder: Arc<SnapshotHolder>, metrics: Metrics) -> Reloader {
        Reloader {
            config,
            holder,
            metrics,
            lock: Mutex::new(()),
        }
    }

    /// Load everything again; publish on success, keep the old on failure.
    pub async fn reload(&self, trigger: &str) -> ReloadOutcome {
        let _guard = self.lock.lock().await;
        let config = self.config.clone();
        let loaded = tokio::task::spawn_blocking(move || Snapshot::load(&config)).await;
        let loaded =
            loaded.unwrap_or_else(|e| Err(vec![internal(format!("reload task failed: {e}"))]));
        match loaded {
            Ok(snap) => {
                let digest = snap.digest.clone();
                publish_metrics(&self.metrics, &snap);
                // Count before publishing: a scrape never sees the new
                // snapshot with the reload counter one behind.
                self.metrics.reload(true);
                self.holder.publish(snap);
                tracing::info!(trigger, %digest, "reloaded");
                ReloadOutcome::Loaded(digest)
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!(trigger, "reload failed: {e}");
                }
                self.holder.record_failure(errors.clone());
                self.metrics.reload(false);
                ReloadOutcome::Failed(errors)
            }
        }
    }
}

fn internal(message: String) -> Diagnostic {
    Diagnostic::error(
        std::path::Path::new("<reload>"),
        crate::diag::Place::File,
        message,
    )
}

/// Set the snapshot gauges for a snapshot about to go live.
pub fn publish_metrics(metrics: &Metrics, snap: &Snapshot) {
    let loaded = snap
        .loaded_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    metrics.snapshot_loaded(
        &snap.digest,
        loaded,
        snap.policy_count(),
        snap.routes.route_count(),
        snap.principal_count(),
    );
}

/// Watch the routes and policies folders; reload after `debounce` of quiet.
/// Returns the watcher, which must be kept alive.
pub fn watch_files(
    reloader: Arc<Reloader>,
    debounce: Duration,
) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = tx.send(());
        }
    })?;
    for dir in [&reloader.config.routes_dir, &reloader.config.policies_dir] {
        watcher.watch(dir, RecursiveMode::Recursive)?;
    }
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Debounce: wait until the folder has been quiet for `debounce`.
            loop {
                tokio::select! {
                    more = rx.recv() => if more.is_none() { return },
                    () = tokio::time::sleep(debounce) => break,
                }
            }
            reloader.reload("file change").await;
        }
    });
    Ok(watcher)
}

/// Reload on every SIGHUP.
#[cfg(unix)]
pub fn reload_on_sighup(reloader: Arc<Reloader>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            reloader.reload("SIGHUP").await;
        }
    });
    Ok(())
}
