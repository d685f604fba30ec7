//! The one immutable `Snapshot` (routes + directory + policies) and the
//! `SnapshotHolder` that publishes it behind one `ArcSwap`. A request loads
//! the snapshot once and uses it to the end; a reload swaps in a new one
//! only when everything loaded and validated.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::cloud::Cloud;
use crate::config::{Config, Upstream};
use crate::diag::{Diagnostic, Place};
use crate::directory::{self, Directory};
use crate::routes::RouteTable;

/// Everything a request needs, compiled and immutable.
#[derive(Debug)]
pub struct Snapshot {
    /// Identifies the files this snapshot was built from (first 16 hex of a SHA-256).
    pub digest: String,
    pub loaded_at: SystemTime,
    pub routes: RouteTable,
    pub directory: Directory,
    /// Warnings found while loading (errors prevent a snapshot).
    pub warnings: Vec<Diagnostic>,
}

impl Snapshot {
    /// Load routes and policies named by the config; all errors at once.
    pub fn load(config: &Config) -> Result<Snapshot, Vec<Diagnostic>> {
        Snapshot::load_dirs(&config.routes_dir, &config.policies_dir, Some(config))
    }

    /// Load from explicit folders (`iamgate explain --policies`); with a
    /// config, also check each service has an upstream (and a region for Alibaba).
    pub fn load_dirs(
        routes_dir: &Path,
        policies_dir: &Path,
        config: Option<&Config>,
    ) -> Result<Snapshot, Vec<Diagnostic>> {
        let mut sources = Vec::new();
        let routes = RouteTable::load_dir(routes_dir);
        let dir = directory::load(policies_dir, &mut sources);
        let ((routes, mut warnings), (directory, dir_warnings)) = match (routes, dir) {
            (Ok(r), Ok(d)) => (r, d),
            (r, d) => {
                let mut errors = r.err().unwrap_or_default();
                errors.extend(d.err().unwrap_or_default());
                return Err(errors);
            }
        };
        warnings.extend(dir_warnings);
        if let Some(config) = config {
            check_services(config, &routes)?;
        }
        add_route_sources(routes_dir, &mut sources);
        Ok(Snapshot {
            digest: digest(&mut sources),
            loaded_at: SystemTime::now(),
            routes,
            directory,
            warnings,
        })
    }

    pub fn policy_count(&self) -> usize {
        self.directory.policy_count
    }

    pub fn principal_count(&self) -> usize {
        self.directory.principals.len()
    }
}

/// Every route file's upstream is configured; Alibaba services have a region.
fn check_services(config: &Config, routes: &RouteTable) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    for s in routes.services() {
        if !config.upstreams.contains_key(&s.upstream) {
            let msg = format!(
                "service `{}` names upstream `{}`, which [upstreams] does not define",
                s.name, s.upstream
            );
            errors.push(Diagnostic::error(
                &config.path,
                Place::Pointer("/upstreams".into()),
                msg,
            ));
        }
        if s.cloud == Cloud::Aliyun && config.region(&s.name).is_none() {
            let msg = format!(
                "Alibaba service `{}` needs a region: [regions] {} = \"cn-hangzhou\"",
                s.name, s.name
            );
            errors.push(Diagnostic::error(
                &config.path,
                Place::Pointer("/regions".into()),
                msg,
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn add_route_sources(dir: &Path, sources: &mut Vec<(PathBuf, Vec<u8>)>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if p.extension().is_some_and(|x| x == "toml") {
                if let Ok(bytes) = std::fs::read(&p) {
                    sources.push((p, bytes));
                }
            }
        }
    }
}

/// SHA-256 over (file name, length, bytes) of every source, in path order.
fn digest(sources: &mut [(PathBuf, Vec<u8>)]) -> String {
    sources.sort();
    let mut h = Sha256::new();
    for (path, bytes) in sources.iter() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// The result of the last reload attempt, for `/-/snapshot`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub last_attempt: Option<SystemTime>,
    pub last_errors: Vec<Diagnostic>,
}

/// Holds the live snapshot. `reload` is the only writer.
pub struct SnapshotHolder {
    live: ArcSwap<Snapshot>,
    status: Mutex<ReloadStatus>,
}

impl SnapshotHolder {
    pub fn new(first: Snapshot) -> SnapshotHolder {
        SnapshotHolder {
            live: ArcSwap::from_pointee(first),
            status: Mutex::new(ReloadStatus::default()),
        }
    }

    /// The live snapshot; hold the `Arc` for the whole request.
    pub fn load(&self) -> Arc<Snapshot> {
        self.live.load_full()
    }

    /// Publish a new snapshot (clears the last errors).
    pub fn publish(&self, next: Snapshot) {
        self.live.store(Arc::new(next));
        self.set_status(Vec::new());
    }

    /// Record a failed reload; the live snapshot stays.
    pub fn record_failure(&self, errors: Vec<Diagnostic>) {
        self.set_status(errors);
    }

    fn set_status(&self, errors: Vec<Diagnostic>) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.last_attempt = Some(SystemTime::now());
        s.last_errors = errors;
    }

    pub fn status(&self) -> ReloadStatus {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// True when the config names the built-in mock for any upstream.
pub fn uses_builtin_mock(config: &Config) -> bool {
    config
        .upstreams
        .values()
        .any(|u| *u == Upstream::BuiltinMock)
}
