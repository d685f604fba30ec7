//! The policy store: every policy file under `policies/<cloud>/<kind>/`,
//! parsed with its cloud's grammar, plus the built-in full-access policies.
//! Names (file stems) are unique within a cloud.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::directory::cache::CompiledPolicies;
use crate::policy::{parse_policy, Policy};

/// Identity policies attach to users and groups; organisation policies
/// (Huawei SCPs, Alibaba control policies) to org nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    Identity,
    Org,
}

/// The folders policies live in, per cloud and kind.
pub const FOLDERS: &[(Cloud, PolicyKind, &str)] = &[
    (Cloud::Huawei, PolicyKind::Identity, "huawei/identity"),
    (Cloud::Huawei, PolicyKind::Org, "huawei/scp"),
    (Cloud::Aliyun, PolicyKind::Identity, "aliyun/identity"),
    (Cloud::Aliyun, PolicyKind::Org, "aliyun/control"),
];

#[derive(Debug, Default)]
pub struct PolicyStore {
    policies: HashMap<(Cloud, String), (Arc<Policy>, PolicyKind, PathBuf)>,
    /// What this load compiled, by path and content digest (the next
    /// load's starting point).
    pub(crate) compiled: CompiledPolicies,
}

/// The cloud's built-in full-access policy: one per process, so that sets
/// holding it are reused across reloads like those of unchanged files.
fn full_access(cloud: Cloud) -> Arc<Policy> {
    static HUAWEI: std::sync::OnceLock<Arc<Policy>> = std::sync::OnceLock::new();
    static ALIYUN: std::sync::OnceLock<Arc<Policy>> = std::sync::OnceLock::new();
    let cell = match cloud {
        Cloud::Huawei => &HUAWEI,
        Cloud::Aliyun => &ALIYUN,
    };
    cell.get_or_init(|| Arc::new(Policy::full_access(cloud)))
        .clone()
}

impl PolicyStore {
    /// Load every folder; all errors of all files at once. `sources` receives
    /// (path, bytes) of every file read, for the snapshot digest.
    pub fn load(
        dir: &Path,
        sources: &mut Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<PolicyStore, Vec<Diagnostic>> {
        PolicyStore::load_reusing(dir, sources, &CompiledPolicies::default())
    }

    /// [`PolicyStore::load`], taking a file's compiled policy from
    /// `previous` when its path and bytes are the same (see
    /// [`crate::directory::cache`]): only changed files are parsed again.
    pub fn load_reusing(
        dir: &Path,
        sources: &mut Vec<(PathBuf, Vec<u8>)>,
        previous: &CompiledPolicies,
    ) -> Result<PolicyStore, Vec<Diagnostic>> {
        let mut store = PolicyStore::default();
        for cloud in [Cloud::Huawei, Cloud::Aliyun] {
            let builtin = full_access(cloud);
            let key = (cloud, builtin.name.to_string());
            store
                .policies
                .insert(key, (builtin, PolicyKind::Org, PathBuf::from("<built-in>")));
        }
        let mut errors = Vec::new();
        for &(cloud, kind, folder) in FOLDERS {
            for path in json_files(&dir.join(folder), &mut errors) {
                let bytes = match std::fs::read(&path) {
                    Ok(b) => b,
                    Err(e) => {
                        errors.push(Diagnostic::error(
                            &path,
                            Place::File,
                            format!("cannot read: {e}"),
                        ));
                        continue;
                    }
                };
                match store.compile(previous, &path, cloud, &bytes) {
                    Ok(p) => store.insert(cloud, kind, path.clone(), p, &mut errors),
                    Err(e) => errors.extend(e),
                }
                sources.push((path, bytes));
            }
        }
        if errors.is_empty() {
            Ok(store)
        } else {
            Err(errors)
        }
    }

    /// The compiled policy of one file: `previous`'s when the bytes are the
    /// same, else parsed now; remembered in `self.compiled` either way.
    fn compile(
        &mut self,
        previous: &CompiledPolicies,
        path: &Path,
        cloud: Cloud,
        bytes: &[u8],
    ) -> Result<Arc<Policy>, Vec<Diagnostic>> {
        let digest = CompiledPolicies::digest(bytes);
        let policy = match previous.get(path, &digest) {
            Some(p) => p,
            None => {
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    let msg = format!("cannot read: stream did not contain valid UTF-8 ({e})");
                    vec![Diagnostic::error(path, Place::File, msg)]
                })?;
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                Arc::new(parse_policy(path, &name, cloud, text)?)
            }
        };
        self.compiled
            .insert(path.to_path_buf(), digest, policy.clone());
        Ok(policy)
    }

    fn insert(
        &mut self,
        cloud: Cloud,
        kind: PolicyKind,
        path: PathBuf,
        p: Arc<Policy>,
        errors: &mut Vec<Diagnostic>,
    ) {
        let key = (cloud, p.name.to_string());
        if let Some((_, _, other)) = self.policies.get(&key) {
            let msg = format!(
                "policy name `{}` is already used by {} (names are unique within a cloud)",
                p.name,
                other.display()
            );
            errors.push(Diagnostic::error(&path, Place::File, msg));
            return;
        }
        self.policies.insert(key, (p, kind, path));
    }

    /// A policy of this cloud and kind, or a message saying why not.
    pub fn get(&self, cloud: Cloud, kind: PolicyKind, name: &str) -> Result<Arc<Policy>, String> {
        match self.policies.get(&(cloud, name.to_string())) {
            Some((p, k, _)) if *k == kind => Ok(p.clone()),
            Some((_, _, path)) => Err(format!(
                "`{name}` ({}) is not an {} policy{}",
                path.display(),
                kind_name(kind),
                misplaced_hint(kind)
            )),
            None => {
                let other = if cloud == Cloud::Huawei {
                    Cloud::Aliyun
                } else {
                    Cloud::Huawei
                };
                let hint = if self.policies.contains_key(&(other, name.to_string())) {
                    format!("; `{name}` is a policy of the {other} cloud and cannot be attached in a {cloud} account")
                } else {
                    String::new()
                };
                Err(format!(
                    "unknown {cloud} {} policy `{name}`{hint}",
                    kind_name(kind)
                ))
            }
        }
    }

    /// Number of policies loaded from files (built-ins not counted).
    pub fn file_count(&self) -> usize {
        self.policies
            .values()
            .filter(|(_, _, p)| p.as_os_str() != "<built-in>")
            .count()
    }
}

/// Why a policy of the other kind is where it is not allowed: the usual
/// mix-up is an identity policy in an `[[account]]`'s `policies`, which
/// attaches SCPs / control policies to the account's organisation node.
fn misplaced_hint(wanted: PolicyKind) -> &'static str {
    match wanted {
        PolicyKind::Org => "; `policies` on an [[organization]], [[organization.unit]] or [[account]] attaches SCPs / control policies to that organisation node; attach identity policies to users or groups ([[account.user]] or [[account.group]] `policies`)",
        PolicyKind::Identity => "; it is an organisation (SCP/control) policy: attach it with `policies` on an [[organization]], [[organization.unit]] or [[account]]",
    }
}

fn kind_name(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Identity => "identity",
        PolicyKind::Org => "organisation (SCP/control)",
    }
}

/// `*.json` files of a folder, sorted; a missing folder is simply empty.
fn json_files(dir: &Path, errors: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            errors.push(Diagnostic::error(
                dir,
                Place::File,
                format!("cannot list: {e}"),
            ));
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}
