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
//!
//! The watcher names the policy files it saw written, and its reload reads
//! only those of the policy files (and any whose `stat` says they may have
//! changed, see [`crate::directory::cache::Reread`]). An event it cannot
//! pin to one policy file — a folder, a symlink swap, a temporary file, a
//! rescan, an error — makes that reload read every file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::directory::build::TOML_FILES;
use crate::directory::policies::FOLDERS;
use crate::reload::{Reloader, Stale};

/// What the watchers report.
#[derive(Debug)]
pub enum Signal {
    /// Something changed inside a root: these policy files, or unknown.
    Change(Stale),
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
    let named = Roots {
        routes: absolute(&config.routes_dir)?,
        policies: absolute(&config.policies_dir)?,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let mut root_watcher = notify::recommended_watcher(forward(tx.clone(), named))?;
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

/// A root as the watcher names the paths under it: notify joins a relative
/// root to the working folder, and so does this.
fn absolute(root: &Path) -> notify::Result<PathBuf> {
    Ok(std::env::current_dir()?.join(root))
}

/// The two watched roots, absolute.
pub struct Roots {
    pub routes: PathBuf,
    pub policies: PathBuf,
}

impl Roots {
    /// What an event says changed: the policy files it names (relative to
    /// the policies folder), or unknown when any of its paths is not a
    /// policy file or a file every load reads anyway.
    pub fn changed(&self, event: &notify::Event) -> Stale {
        let mut files = std::collections::BTreeSet::new();
        if event.need_rescan() || event.paths.is_empty() {
            return Stale::Unknown;
        }
        for path in &event.paths {
            if let Ok(relative) = path.strip_prefix(&self.policies) {
                let folder = relative.parent().unwrap_or(Path::new(""));
                let in_folder = FOLDERS.iter().any(|(_, _, f)| folder == Path::new(f));
                if in_folder && relative.extension().is_some_and(|x| x == "json") {
                    files.insert(relative.to_path_buf());
                } else if !TOML_FILES.iter().any(|f| relative == Path::new(f)) {
                    return Stale::Unknown;
                }
            } else if path.strip_prefix(&self.routes).is_err() {
                // Routes are read in full on every load; anything else is a surprise.
                return Stale::Unknown;
            }
        }
        Stale::Files(files)
    }
}

type Handler = Box<dyn FnMut(notify::Result<notify::Event>) + Send>;

/// Events from inside the roots: every non-access event is a change.
fn forward(tx: UnboundedSender<Signal>, roots: Roots) -> Handler {
    Box::new(move |event| {
        let signal = match event {
            Ok(e) if e.kind.is_access() => return,
            Ok(e) => Signal::Change(roots.changed(&e)),
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

/// What settled changes amount to.
#[derive(Debug, PartialEq, Eq)]
pub struct Settled {
    /// A root was relinked (symlink swap): watch the roots again.
    pub relinked: bool,
    pub changed: Stale,
}

/// Wait until the changes settle: `debounce` of quiet, or `deadline`.
/// Returns what changed, or `None` once the channel closed.
pub async fn settle(
    rx: &mut UnboundedReceiver<Signal>,
    first: Signal,
    debounce: Duration,
    deadline: Instant,
    reloader_metrics: &crate::metrics::Metrics,
) -> Option<Settled> {
    let mut settled = Settled {
        relinked: false,
        changed: Stale::Files(BTreeSet::new()),
    };
    settled.note(first, reloader_metrics);
    loop {
        tokio::select! {
            more = rx.recv() => settled.note(more?, reloader_metrics),
            () = tokio::time::sleep(debounce) => return Some(settled),
            () = tokio::time::sleep_until(deadline) => return Some(settled),
        }
    }
}

impl Settled {
    /// Add one signal; report errors. A relink or an error (events may
    /// have been lost) leaves what changed unknown.
    fn note(&mut self, signal: Signal, metrics: &crate::metrics::Metrics) {
        match signal {
            Signal::Change(changed) => self.changed.merge(changed),
            Signal::Relink => {
                self.relinked = true;
                self.changed = Stale::Unknown;
            }
            Signal::Error(e) => {
                tracing::error!(error = %e, "file watcher error; reloading in case events were lost");
                metrics.watch_error();
                self.changed = Stale::Unknown;
            }
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
        let Some(settled) = settle(&mut rx, first, debounce, deadline, &metrics).await else {
            return;
        };
        if settled.relinked {
            rewatch(&watcher, &roots, &metrics);
        }
        reloader
            .reload_changed("file change", settled.changed)
            .await;
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
    use notify::event::{CreateKind, EventKind, ModifyKind, RenameMode};

    fn files(names: &[&str]) -> Stale {
        Stale::Files(names.iter().map(PathBuf::from).collect())
    }

    fn change(names: &[&str]) -> Signal {
        Signal::Change(files(names))
    }

    fn roots() -> Roots {
        Roots {
            routes: PathBuf::from("/etc/iamgate/routes"),
            policies: PathBuf::from("/etc/iamgate/policies"),
        }
    }

    fn event(kind: EventKind, paths: &[&str]) -> notify::Event {
        let mut e = notify::Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        e
    }

    fn written(paths: &[&str]) -> notify::Event {
        event(EventKind::Modify(ModifyKind::Any), paths)
    }

    #[test]
    fn an_event_names_the_policy_files_it_wrote() {
        let roots = roots();
        let e = written(&["/etc/iamgate/policies/huawei/identity/A.json"]);
        assert_eq!(roots.changed(&e), files(&["huawei/identity/A.json"]));
        // A rename names both files.
        let both = [
            "/etc/iamgate/policies/aliyun/control/Old.json",
            "/etc/iamgate/policies/aliyun/control/New.json",
        ];
        let renamed = event(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), &both);
        let named = files(&["aliyun/control/New.json", "aliyun/control/Old.json"]);
        assert_eq!(roots.changed(&renamed), named);
        // Files every load reads in full need no name.
        for path in [
            "/etc/iamgate/policies/accounts.toml",
            "/etc/iamgate/policies/credentials.toml",
            "/etc/iamgate/routes/modelarts.toml",
            "/etc/iamgate/routes/.modelarts.toml.swp",
        ] {
            assert_eq!(roots.changed(&written(&[path])), files(&[]), "{path}");
        }
    }

    #[test]
    fn an_event_that_is_not_one_policy_file_leaves_the_change_unknown() {
        let roots = roots();
        for path in [
            // A policy folder itself (renamed, replaced, removed).
            "/etc/iamgate/policies/huawei/identity",
            "/etc/iamgate/policies/huawei",
            "/etc/iamgate/policies",
            // Kubernetes ConfigMap swap, editors' and `sed -i`'s files: they
            // may be what a symlinked policy file points to.
            "/etc/iamgate/policies/..data",
            "/etc/iamgate/policies/huawei/identity/..data",
            "/etc/iamgate/policies/huawei/identity/sedX1b2c3",
            "/etc/iamgate/policies/huawei/identity/sub/A.json",
            "/etc/iamgate/policies/huawei/other/A.json",
            "/etc/iamgate/policies/A.json",
            "/etc/iamgate/policies/accounts.toml.bak",
            // Outside both roots.
            "/etc/iamgate/iamgate.toml",
        ] {
            assert_eq!(roots.changed(&written(&[path])), Stale::Unknown, "{path}");
            let with_a_file = [path, "/etc/iamgate/policies/huawei/scp/S.json"];
            assert_eq!(roots.changed(&written(&with_a_file)), Stale::Unknown);
        }
        // A rescan (queue overflow) and an event without paths.
        let rescan = written(&["/etc/iamgate/policies/huawei/identity/A.json"])
            .set_flag(notify::event::Flag::Rescan);
        assert_eq!(roots.changed(&rescan), Stale::Unknown);
        let bare = event(EventKind::Create(CreateKind::Any), &[]);
        assert_eq!(roots.changed(&bare), Stale::Unknown);
    }

    #[test]
    fn the_handler_forwards_changes_and_errors_but_not_reads() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut handler = forward(tx, roots());
        let path = "/etc/iamgate/policies/huawei/identity/A.json";
        let read = notify::event::AccessKind::Open(notify::event::AccessMode::Any);
        handler(Ok(event(EventKind::Access(read), &[path])));
        assert!(rx.try_recv().is_err(), "a read is not a change");
        handler(Ok(written(&[path])));
        let got = rx.try_recv().unwrap();
        assert!(matches!(got, Signal::Change(c) if c == files(&["huawei/identity/A.json"])));
        handler(Err(notify::Error::generic("queue overflow")));
        assert!(matches!(rx.try_recv().unwrap(), Signal::Error(e) if e.contains("overflow")));
    }

    #[test]
    fn changes_merge_and_unknown_absorbs() {
        let mut a = files(&["huawei/identity/A.json"]);
        a.merge(files(&["huawei/scp/S.json"]));
        assert_eq!(a, files(&["huawei/identity/A.json", "huawei/scp/S.json"]));
        a.merge(Stale::Unknown);
        assert_eq!(a, Stale::Unknown);
        a.merge(files(&["huawei/identity/B.json"]));
        assert_eq!(a, Stale::Unknown);
    }

    #[test]
    fn a_relative_root_is_named_as_the_watcher_names_it() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute(Path::new("policies")).unwrap(),
            cwd.join("policies")
        );
        let abs = Path::new("/srv/policies");
        assert_eq!(absolute(abs).unwrap(), abs);
    }

    #[tokio::test]
    async fn quiet_folder_reloads_after_the_debounce() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(5);
        let out = settle(
            &mut rx,
            change(&["huawei/identity/A.json"]),
            Duration::from_millis(100),
            deadline,
            &Metrics::new(),
        )
        .await;
        let expected = Settled {
            relinked: false,
            changed: files(&["huawei/identity/A.json"]),
        };
        assert_eq!(out, Some(expected));
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
                if tx.send(change(&["aliyun/control/C.json"])).is_err() {
                    return;
                }
            }
        });
        let start = Instant::now();
        let deadline = start + Duration::from_millis(500);
        // A 200 ms debounce never sees 200 ms of quiet with a write every 50 ms.
        let out = settle(
            &mut rx,
            change(&["huawei/identity/A.json"]),
            Duration::from_millis(200),
            deadline,
            &Metrics::new(),
        )
        .await;
        let took = start.elapsed();
        // Every change seen while settling is in the one reload.
        let both = files(&["aliyun/control/C.json", "huawei/identity/A.json"]);
        assert_eq!(out.map(|s| s.changed), Some(both));
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
        let expected = Settled {
            relinked: true,
            changed: Stale::Unknown,
        };
        assert_eq!(out, Some(expected));
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
