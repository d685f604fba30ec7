//! The only writer of the live snapshot. Triggers: file changes (see
//! [`crate::watch`]), SIGHUP, and `POST /-/reload`; concurrent triggers
//! coalesce into one follow-up reload ([`crate::coalesce`]). The same
//! load → parse → compile → validate path as start-up runs each time; a
//! failure keeps the old snapshot and records every error.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::access_diff::{self, AccessDiff, Limits};
use crate::coalesce::{Coalescer, Load};
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::directory::cache::Reread;
use crate::metrics::Metrics;
use crate::snapshot::{Snapshot, SnapshotHolder};
use crate::state::ResourceState;

/// The only writer of the holder. Reloads run one at a time and coalesce
/// (see [`crate::coalesce`]).
pub struct Reloader {
    inner: Arc<Inner>,
    coalescer: Arc<Coalescer<ReloadOutcome>>,
}

struct Inner {
    config: Config,
    holder: Arc<SnapshotHolder>,
    metrics: Metrics,
    /// Re-seeded from each new snapshot's `resources.toml`.
    resources: Arc<ResourceState>,
    /// Run after each publish, with the new snapshot (the built-in mock
    /// creates the resources a reload added to `resources.toml`).
    after_publish: std::sync::Mutex<Vec<AfterPublish>>,
    /// The policy files written since the live snapshot read them, as far
    /// as the reload triggers know.
    stale: Mutex<Stale>,
}

/// Which policy files may differ from what the live snapshot compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// These (relative to the policies folder), named by the file watcher.
    Files(BTreeSet<PathBuf>),
    /// Any of them (SIGHUP, `POST /-/reload`, a watcher error or rescan).
    Unknown,
}

impl Stale {
    /// Both sets of changes.
    pub fn merge(&mut self, other: Stale) {
        match (&mut *self, other) {
            (Stale::Files(mine), Stale::Files(theirs)) => mine.extend(theirs),
            (this, _) => *this = Stale::Unknown,
        }
    }

    fn reread(&self) -> Reread<'_> {
        match self {
            Stale::Files(files) => Reread::Only(files),
            Stale::Unknown => Reread::All,
        }
    }
}

/// A hook run after each successful reload.
pub type AfterPublish = Box<dyn Fn(&Snapshot) + Send + Sync>;

/// What a reload did.
#[derive(Debug, Clone)]
pub enum ReloadOutcome {
    /// A new snapshot is live (its digest).
    Loaded(String),
    /// The old snapshot stays; these errors were found.
    Failed(Vec<Diagnostic>),
}

impl Reloader {
    pub fn new(
        config: Config,
        holder: Arc<SnapshotHolder>,
        metrics: Metrics,
        resources: Arc<ResourceState>,
    ) -> Reloader {
        let inner = Arc::new(Inner {
            config,
            holder,
            metrics,
            resources,
            after_publish: std::sync::Mutex::new(Vec::new()),
            // The live snapshot was read in full just now.
            stale: Mutex::new(Stale::Files(BTreeSet::new())),
        });
        let loader = inner.clone();
        let load: Load<ReloadOutcome> = Arc::new(move |triggers| {
            let inner = loader.clone();
            Box::pin(async move { inner.reload(&triggers).await })
        });
        Reloader {
            inner,
            coalescer: Coalescer::new(load),
        }
    }

    /// Ask for a reload that reads every file; returns the outcome of the
    /// first reload that started after this call (one shared by every
    /// concurrent caller).
    pub async fn reload(&self, trigger: &str) -> ReloadOutcome {
        self.reload_changed(trigger, Stale::Unknown).await
    }

    /// Ask for a reload after `changed` (the watcher's): a reload reads the
    /// policy files every trigger since the live snapshot named, and those
    /// their `stat` singles out (see [`Reread`]).
    pub async fn reload_changed(&self, trigger: &str, changed: Stale) -> ReloadOutcome {
        self.inner.stale_files().merge(changed);
        self.coalescer.request(trigger).await
    }

    /// Run `hook` with every snapshot a reload publishes from now on.
    pub fn after_publish(&self, hook: AfterPublish) {
        let mut hooks = self
            .inner
            .after_publish
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        hooks.push(hook);
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

impl Inner {
    /// Load everything again; publish on success, keep the old on failure.
    /// Policy files whose bytes did not change are taken compiled from the
    /// live snapshot. The access diff runs after publishing: it is
    /// informational (log, `/-/snapshot`, counters) and may take far longer
    /// than the load, so the new snapshot is enforced without waiting for it.
    async fn reload(&self, trigger: &str) -> ReloadOutcome {
        let config = self.config.clone();
        let live = self.holder.load();
        let previous = live.clone();
        // Changes named from here on are the next reload's.
        let stale = std::mem::replace(&mut *self.stale_files(), Stale::Files(BTreeSet::new()));
        let (started, every_file) = (Instant::now(), stale == Stale::Unknown);
        let loaded = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let loaded = Snapshot::reload(&config, &previous, stale.reread());
            (loaded, stale, t.elapsed())
        })
        .await;
        let loaded = loaded.unwrap_or_else(|e| {
            let failed = Err(vec![internal(format!("reload task failed: {e}"))]);
            (failed, Stale::Unknown, Duration::ZERO)
        });
        let (loaded, stale, load_time) = loaded;
        match loaded {
            Ok(snap) => {
                let digest = snap.digest.clone();
                publish_metrics(&self.metrics, &snap);
                // Count before publishing: a scrape never sees the new
                // snapshot with the reload counter one behind.
                self.metrics.reload(true);
                seed_resources(&self.resources, &snap);
                let snap = Arc::new(snap);
                self.holder.publish_arc(snap.clone());
                self.run_after_publish();
                let (took_ms, load_ms) = (started.elapsed().as_millis(), load_time.as_millis());
                tracing::info!(trigger, %digest, took_ms, load_ms, every_file, "reloaded");
                // Nothing changed: the last diff that changed something stays.
                if snap.digest != live.digest {
                    self.access_diff(trigger, live, snap).await;
                }
                ReloadOutcome::Loaded(digest)
            }
            Err(errors) => {
                // The live snapshot stays: what was stale still is.
                self.stale_files().merge(stale);
                for e in &errors {
                    tracing::error!(trigger, "reload failed: {e}");
                }
                self.holder.record_failure(errors.clone());
                self.metrics.reload(false);
                ReloadOutcome::Failed(errors)
            }
        }
    }

    /// Compare the snapshot just published with the one it replaced, on a
    /// blocking thread (bounded by ACCESS_DIFF_BUDGET, but it may evaluate
    /// many thousand decisions), and record the result.
    async fn access_diff(&self, trigger: &str, old: Arc<Snapshot>, new: Arc<Snapshot>) {
        let regions = self.config.regions.clone();
        let diff = tokio::task::spawn_blocking(move || {
            access_diff::diff(&old, &new, &regions, &reload_limits())
        })
        .await;
        match diff {
            Ok(diff) => {
                self.metrics.reload_access_changes(diff.gained, diff.lost);
                log_access_diff(trigger, &diff);
                self.holder.record_access_diff(diff);
            }
            Err(e) => tracing::error!(trigger, "access diff task failed: {e}"),
        }
    }
}

impl Inner {
    fn stale_files(&self) -> std::sync::MutexGuard<'_, Stale> {
        self.stale.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run_after_publish(&self) {
        let snap = self.holder.load();
        let hooks = self.after_publish.lock().unwrap_or_else(|p| p.into_inner());
        for hook in hooks.iter() {
            hook(&snap);
        }
    }
}

/// How long a reload may spend on its access diff (after publishing).
pub const ACCESS_DIFF_BUDGET: Duration = Duration::from_secs(2);

fn reload_limits() -> Limits {
    Limits {
        deadline: Some(Instant::now() + ACCESS_DIFF_BUDGET),
        ..Limits::default()
    }
}

/// One log line per reload: counts and the first changes (a warning when
/// access changed, so it stands out from routine reloads).
fn log_access_diff(trigger: &str, diff: &AccessDiff) {
    let line = access_diff::summary(diff, 20);
    if diff.is_empty() {
        tracing::info!(trigger, "{line}");
    } else {
        tracing::warn!(trigger, gained = diff.gained, lost = diff.lost, "{line}");
    }
}

fn internal(message: String) -> Diagnostic {
    Diagnostic::error(
        std::path::Path::new("<reload>"),
        crate::diag::Place::File,
        message,
    )
}

/// Seed the resource state from a snapshot's `resources.toml` (traffic's
/// records stay); entries that name no known service or type are logged.
pub fn seed_resources(resources: &ResourceState, snap: &Snapshot) {
    for skipped in resources.seed_from_files(&snap.routes, &snap.directory) {
        tracing::warn!(resource = %skipped, "resources.toml: no route file's resource template fits this name; ignored");
    }
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
