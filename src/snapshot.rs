//! The one immutable `Snapshot` (routes + directory + policies) and the
//! `SnapshotHolder` that publishes it behind one `ArcSwap`. A request loads
//! the snapshot once and uses it to the end; a reload swaps in a new one
//! only when everything loaded and validated.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::access_diff::AccessDiff;
use crate::cloud::Cloud;
use crate::config::{Config, Upstream};
use crate::diag::{Diagnostic, Place};
use crate::directory::cache::{ContentDigest, Reread, Sources};
use crate::directory::{self, Directory};
use crate::routes::RouteTable;

/// Everything a request needs, compiled and immutable.
#[derive(Debug)]
pub struct Snapshot {
    /// Identifies the files this snapshot was built from (first 16 hex of a SHA-256).
    pub digest: String,
    pub loaded_at: SystemTime,
    pub routes: Arc<RouteTable>,
    pub directory: Directory,
    /// Warnings found while loading (errors prevent a snapshot).
    pub warnings: Vec<Diagnostic>,
}

impl Snapshot {
    /// Load routes and policies named by the config; all errors at once.
    pub fn load(config: &Config) -> Result<Snapshot, Vec<Diagnostic>> {
        Snapshot::load_dirs(&config.routes_dir, &config.policies_dir, Some(config))
    }

    /// [`Snapshot::load`] for a reload: the whole snapshot is rebuilt and
    /// validated, but files whose path and bytes are those `previous`
    /// compiled are not parsed again, and policy files `reread` leaves out
    /// are not even read (see [`Reread`]).
    pub fn reload(
        config: &Config,
        previous: &Snapshot,
        reread: Reread<'_>,
    ) -> Result<Snapshot, Vec<Diagnostic>> {
        let compiled = &previous.directory.compiled;
        Snapshot::load_dirs_reusing(
            &config.routes_dir,
            &config.policies_dir,
            Some(config),
            compiled,
            reread,
        )
    }

    /// Load from explicit folders (`iamgate explain --policies`); with a
    /// config, also check each service has an upstream (and a region for Alibaba).
    pub fn load_dirs(
        routes_dir: &Path,
        policies_dir: &Path,
        config: Option<&Config>,
    ) -> Result<Snapshot, Vec<Diagnostic>> {
        let none = directory::cache::Compiled::default();
        Snapshot::load_dirs_reusing(routes_dir, policies_dir, config, &none, Reread::All)
    }

    /// [`Snapshot::load_dirs`] reusing what an earlier load compiled (see [`crate::directory::cache`]).
    pub fn load_dirs_reusing(
        routes_dir: &Path,
        policies_dir: &Path,
        config: Option<&Config>,
        compiled: &directory::cache::Compiled,
        reread: Reread<'_>,
    ) -> Result<Snapshot, Vec<Diagnostic>> {
        let mut policy_sources = Vec::new();
        let routes = RouteTable::load_dir_reusing(routes_dir, compiled.routes.as_ref());
        let dir = directory::load_reusing(policies_dir, &mut policy_sources, compiled, reread);
        let (routes, (mut directory, dir_warnings)) = match (routes, dir) {
            (Ok(r), Ok(d)) => (r, d),
            (r, d) => {
                let mut errors = r.err().unwrap_or_default();
                errors.extend(d.err().unwrap_or_default());
                return Err(errors);
            }
        };
        let mut warnings = routes.warnings.clone();
        warnings.extend(dir_warnings);
        if let Some(config) = config {
            check_services(config, &routes.table)?;
        }
        let roots = [
            ("routes", routes_dir, routes.files.clone()),
            ("policies", policies_dir, policy_sources),
        ];
        let table = routes.table.clone();
        directory.compiled.routes = Some(routes);
        Ok(Snapshot {
            digest: digest(roots),
            loaded_at: SystemTime::now(),
            routes: table,
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
        // A built-in service (STS, IAM) is answered in-process: no upstream, no region.
        let builtin =
            s.upstream == crate::sts::BUILTIN_UPSTREAM || s.upstream == crate::huawei_iam::UPSTREAM;
        if builtin {
            continue;
        }
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

/// (label, root folder, the files read under it) for [`digest`].
type SourceRoot<'a> = (&'a str, &'a Path, Sources);

/// A source file's name for the digest: `<root label>/<path under its root>`
/// with `/` separators, so the same tree at another absolute location hashes
/// the same while a file moved to another folder does not.
fn source_name(label: &str, root: &Path, path: &Path) -> String {
    // The usual case, on bytes (parsing 10,000 paths into components was
    // 5 % of a reload): `root`, `/`, then a relative path in UTF-8 with no
    // empty or `.` segment, which the components below give back as it is.
    let root_bytes = root.as_os_str().as_encoded_bytes();
    let rel = path
        .as_os_str()
        .as_encoded_bytes()
        .strip_prefix(root_bytes)
        .and_then(|rest| rest.strip_prefix(b"/"))
        .filter(|_| !root_bytes.is_empty() && !root_bytes.ends_with(b"/"))
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .filter(|rest| rest.split('/').all(|part| !part.is_empty() && part != "."));
    match rel {
        Some(rel) => format!("{label}/{rel}"),
        None => source_name_by_components(label, root, path),
    }
}

fn source_name_by_components(label: &str, root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut name = label.to_string();
    for part in rel.components() {
        name.push('/');
        name.push_str(&part.as_os_str().to_string_lossy());
    }
    name
}

/// SHA-256 over (name length, name, SHA-256 of the bytes) of every
/// compiled source, in name order (first 16 hex). The file digests are
/// those of the bytes compiled; nothing is read again here.
fn digest<const N: usize>(roots: [SourceRoot<'_>; N]) -> String {
    let mut named: Vec<(String, ContentDigest)> = roots
        .into_iter()
        .flat_map(|(label, root, files)| {
            files
                .into_iter()
                .map(move |(path, file)| (source_name(label, root, &path), file))
        })
        .collect();
    named.sort();
    let mut h = Sha256::new();
    for (name, file) in &named {
        h.update((name.len() as u64).to_be_bytes());
        h.update(name.as_bytes());
        h.update(file);
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// The result of the last reload attempt, for `/-/snapshot`.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub last_attempt: Option<SystemTime>,
    pub last_errors: Vec<Diagnostic>,
    /// The live snapshot compared with the one it replaced (`None` until
    /// the first successful reload; a failed reload keeps it).
    pub access_diff: Option<AccessDiff>,
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
        self.publish_arc(Arc::new(next));
    }

    /// [`SnapshotHolder::publish`] for a snapshot the caller keeps using.
    pub fn publish_arc(&self, next: Arc<Snapshot>) {
        self.live.store(next);
        self.set_status(Vec::new());
    }

    /// Record a failed reload; the live snapshot stays.
    pub fn record_failure(&self, errors: Vec<Diagnostic>) {
        self.set_status(errors);
    }

    /// Remember the access diff of the snapshot just published.
    pub fn record_access_diff(&self, diff: AccessDiff) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.access_diff = Some(diff);
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::directory::cache::CompiledPolicies;

    #[test]
    fn a_source_name_read_from_bytes_is_the_one_its_components_give() {
        let cases = [
            ("policies", "policies/huawei/identity/a.json"),
            ("/srv/p", "/srv/p/accounts.toml"),
            ("./policies", "./policies/aliyun/scp/x.json"),
            ("policies/", "policies/accounts.toml"),
            ("policies", "policies//huawei/a.json"),
            ("policies", "policies/./huawei/a.json"),
            ("policies", "policies/huawei/../a.json"),
            ("policies", "other/huawei/a.json"),
            ("policies", "policiesx/a.json"),
            ("", "a.json"),
            ("/", "/a.json"),
        ];
        for (root, path) in cases {
            let (root, path) = (Path::new(root), Path::new(path));
            assert_eq!(
                source_name("policies", root, path),
                source_name_by_components("policies", root, path),
                "{root:?} {path:?}"
            );
        }
        let clean = source_name("routes", Path::new("/r"), Path::new("/r/modelarts.toml"));
        assert_eq!(clean, "routes/modelarts.toml");
    }

    fn one_root(root: &str, files: &[(&str, &str)]) -> String {
        let root = Path::new(root);
        let files = files
            .iter()
            .map(|(p, b)| (root.join(p).into(), CompiledPolicies::digest(b.as_bytes())))
            .collect();
        digest([("policies", root, files)])
    }

    #[test]
    fn the_same_names_in_other_folders_hash_differently() {
        let a = one_root("/t", &[("huawei/identity/P.json", "{}")]);
        let b = one_root("/t", &[("huawei/scp/P.json", "{}")]);
        assert_ne!(a, b);
    }

    #[test]
    fn the_same_tree_elsewhere_hashes_the_same() {
        let files = [("huawei/identity/P.json", "{}"), ("accounts.toml", "x")];
        assert_eq!(one_root("/a/b", &files), one_root("/c", &files));
    }

    #[test]
    fn the_root_label_keeps_routes_and_policies_apart() {
        let root = Path::new("/t");
        let file = || vec![(root.join("x.toml").into(), CompiledPolicies::digest(b"x"))];
        let as_route = digest([("routes", root, file()), ("policies", root, Vec::new())]);
        let as_policy = digest([("routes", root, Vec::new()), ("policies", root, file())]);
        assert_ne!(as_route, as_policy);
    }

    #[test]
    fn names_and_bytes_cannot_be_shifted_into_each_other() {
        // Length prefixes: "ab" + "c" must differ from "a" + "bc".
        let a = one_root("/t", &[("ab", "c")]);
        let b = one_root("/t", &[("a", "bc")]);
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
    }
}
