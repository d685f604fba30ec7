//! Reload triggers outside the admin API: the file watcher and SIGHUP.
//!
//! The watcher follows the routes and policies folders recursively
//! (Kubernetes ConfigMap `..data` swaps and editors that write via rename
//! show up there) and also the *parent* of each folder, because a root that
//! is itself a symlink (`policies -> release-7`, swapped to `release-8`)
//! changes in its parent, not inside the old target: on such a swap the root
//! is watched again (now resolving to the new target) and reloaded.
//!
//! Changes are debounced: a reload waits for `debounce` of quiet, but never
//! longer than `max_wait` after the first change, so continuous writes cannot
//! starve reloads. Watcher errors are logged and counted in
//! `iamgate_watch_errors_total`; since an error may mean lost events (queue
//! overflow), it also triggers a reload.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::reload::Reloader;

/// What the watchers report.
#[derive(Debug)]
pub enum Signal {
    /// Something changed inside a root.
    Change,
    /// A root's entry in its parent folder changed (symlink swap, rename).
    Relink,
    /// The watcher failed; events may have been lost.
    Error(String),
}

/// Keeps the watchers alive; drop it to stop watching.
pub struct FileWatch {
    _roots: Arc<Mutex<RecommendedWatcher>>,
    _parents: RecommendedWatcher,
}

/// Watch the configured routes and policies folders and reload on change.
pub fn watch_files(reloader: Arc<Reloader>) -> notify::Result<FileWatch> {
    let config = reloader.config();
    let roots = vec![config.routes_dir.clone(), config.policies_dir.clone()];
    let (tx, rx) = mpsc::unbounded_channel();
    let mut root_watcher = notify::recommended_watcher(forward(tx.clone()))?;
    for root in &roots {
        root_watcher.watch(root, RecursiveMode::Recursive)?;
    }
    let links = link_paths(&roots);
    let parents: BTreeSet<PathBuf> = links
        .iter()
        .filter_map(|l| l.parent().map(Path::to_path_buf))
        .collect();
    let relink = move |e: &notify::Event| e.paths.iter().any(|p| links.contains(p));
    let mut parent_watcher = notify::recommended_watcher(forward_parent(tx, relink))?;
    for parent in &parents {
        // Best effort: without it a swapped symlinked root is missed, but
        // changes inside the roots are still seen.
        if let Err(e) = parent_watcher.watch(parent, RecursiveMode::NonRecursive) {
            tracing::error!(parent = %parent.display(), error = %e, "cannot watch a root's parent folder");
            reloader.metrics().watch_error();
        }
    }
    let roots_watcher = Arc::new(Mutex::new(root_watcher));
    tokio::spawn(run(reloader, rx, roots_watcher.clone(), roots));
    Ok(FileWatch {
        _roots: roots_watcher,
        _parents: parent_watcher,
    })
}

/// Each root as its parent watcher names it: canonical parent + last part.
fn link_paths(roots: &[PathBuf]) -> BTreeSet<PathBuf> {
    roots
        .iter()
        .filter_map(|root| {
            let name = root.file_name()?;
            let parent = match root.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            Some(std::fs::canonicalize(parent).ok()?.join(name))
        })
        .collect()
}

type Handler = Box<dyn FnMut(notify::Result<notify::Event>) + Send>;

/// Events from inside the roots: every non-access event is a change.
fn forward(tx: UnboundedSender<Signal>) -> Handler {
    Box::new(move |event| {
        let signal = match event {
            Ok(e) if e.kind.is_access() => return,
            Ok(_) => Signal::Change,
            Err(e) => Signal::Error(e.to_string()),
        };
        let _ = tx.send(signal);
    })
}

/// Events from the parents: only those naming a root count.
fn forward_parent(
    tx: UnboundedSender<Signal>,
    names_a_root: impl Fn(&notify::Event) -> bool + Send + 'static,
) -> Handler {
    Box::new(move |event| {
        let signal = match event {
            Ok(e) if e.kind.is_access() || !names_a_root(&e) => return,
            Ok(_) => Signal::Relink,
            Err(e) => Signal::Error(e.to_string()),
        };
        let _ = tx.send(signal);
    })
}

/// Wait until the changes settle: `debounce` of quiet, or `deadline`.
/// Returns whether a root was relinked, or `None` once the channel closed.
pub async fn settle(
    rx: &mut UnboundedReceiver<Signal>,
    first: Signal,
    debounce: Duration,
    deadline: Instant,
    reloader_metrics: &crate::metrics::Metrics,
) -> Option<bool> {
    let mut relinked = note(first, reloader_metrics);
    loop {
        tokio::select! {
            more = rx.recv() => relinked |= note(more?, reloader_metrics),
            () = tokio::time::sleep(debounce) => return Some(relinked),
            () = tokio::time::sleep_until(deadline) => return Some(relinked),
        }
    }
}

/// Report errors; true for a relink.
fn note(signal: Signal, metrics: &crate::metrics::Metrics) -> bool {
    match signal {
        Signal::Change => false,
        Signal::Relink => true,
        Signal::Error(e) => {
            tracing::error!(error = %e, "file watcher error; reloading in case events were lost");
            metrics.watch_error();
            false
        }
    }
}

async fn run(
    reloader: Arc<Reloader>,
    mut rx: UnboundedReceiver<Signal>,
    watcher: Arc<Mutex<RecommendedWatcher>>,
    roots: Vec<PathBuf>,
) {
    let (debounce, max_wait) = (reloader.config().debounce, reloader.config().max_wait);
    while let Some(first) = rx.recv().await {
        let deadline = Instant::now() + max_wait;
        let metrics = reloader.metrics().clone();
        let Some(relinked) = settle(&mut rx, first, debounce, deadline, &metrics).await else {
            return;
        };
        if relinked {
            rewatch(&watcher, &roots, &metrics);
        }
        reloader.reload("file change").await;
    }
}

/// Watch the roots again so a swapped symlink resolves to its new target.
fn rewatch(
    watcher: &Mutex<RecommendedWatcher>,
    roots: &[PathBuf],
    metrics: &crate::metrics::Metrics,
) {
    let mut w = watcher.lock().unwrap_or_else(|e| e.into_inner());
    for root in roots {
        // Unwatching fails when the old target is gone: nothing to undo.
        let _ = w.unwatch(root);
        if let Err(e) = w.watch(root, RecursiveMode::Recursive) {
            tracing::error!(root = %root.display(), error = %e, "cannot watch again after a swap");
            metrics.watch_error();
        }
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[tokio::test]
    async fn quiet_folder_reloads_after_the_debounce() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        let out = settle(
            &mut rx,
            Signal::Change,
            Duration::from_millis(100),
            deadline,
            &Metrics::new(),
        )
        .await;
        assert_eq!(out, Some(false));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_secs(2),
            "{took:?}"
        );
        drop(tx);
    }

    #[tokio::test]
    async fn continuous_writes_reload_within_max_wait() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(async move {
            for _ in 0..60 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if tx.send(Signal::Change).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        let deadline = start + Duration::from_millis(500);
        // A 200 ms debounce never sees 200 ms of quiet with a write every 50 ms.
        let out = settle(
            &mut rx,
            Signal::Change,
            Duration::from_millis(200),
            deadline,
            &Metrics::new(),
        )
        .await;
        let took = start.elapsed();
        assert_eq!(out, Some(false));
        assert!(
            took >= Duration::from_millis(490) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        writer.abort();
    }

    #[tokio::test]
    async fn errors_are_counted_and_relinks_reported() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let metrics = Metrics::new();
        tx.send(Signal::Relink).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let out = settle(
            &mut rx,
            Signal::Error("queue overflow".into()),
            Duration::from_millis(50),
            deadline,
            &metrics,
        )
        .await;
        assert_eq!(out, Some(true));
        assert!(metrics.render().contains("iamgate_watch_errors_total 1"));
        drop(tx);
    }

    #[test]
    fn roots_are_named_by_canonical_parent() {
        let dir = tempfile::tempdir().unwrap();
        let canon = std::fs::canonicalize(dir.path()).unwrap();
        let links = link_paths(&[dir.path().join("policies")]);
        assert_eq!(
            links.into_iter().collect::<Vec<_>>(),
            [canon.join("policies")]
        );
    }
}
