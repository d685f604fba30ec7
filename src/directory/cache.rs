//! What one load compiled, kept for the next, so that a reload re-parses
//! and recompiles only what changed: the policy files, the parsed TOML
//! tables (`accounts.toml`, `credentials.toml`, `resources.toml`) and the
//! policy sets built from them (users' and groups', organisation nodes').
//!
//! A file's key is its path and the SHA-256 of its bytes. A policy file's
//! compiled form depends on nothing else: its name is the file stem, its
//! cloud and kind follow from its folder (both part of the path), and
//! `parse_policy` is a pure function of (path, name, cloud, text); a TOML
//! table is a pure function of its text. A file that failed to compile is
//! never cached, so its errors are reported again on every load until it is
//! fixed. A policy set is reused only when the same names resolve
//! to the very same compiled policies (pointer-equal) as last time, so a
//! changed policy file always rebuilds every set that holds it.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::cloud::Cloud;
use crate::directory::files::{AccountsFile, CredentialsFile, ResourcesFile};
use crate::directory::policies::PolicyKind;
use crate::policy::{Policy, PolicySet};

/// Everything a load leaves for the next one to reuse.
#[derive(Debug, Default)]
pub struct Compiled {
    pub policies: CompiledPolicies,
    pub accounts: Option<Parsed<AccountsFile>>,
    pub credentials: Option<Parsed<CredentialsFile>>,
    pub resources: Option<Parsed<ResourcesFile>>,
    pub sets: PolicySets,
}

/// A TOML file as parsed from exactly these bytes at this path.
pub struct Parsed<T> {
    pub path: PathBuf,
    /// `None`: an optional file that was absent (`value` is the default).
    pub digest: Option<ContentDigest>,
    pub value: Arc<T>,
}

impl<T> Parsed<T> {
    /// The value parsed from exactly these bytes at this path, if this is it.
    pub fn reuse(this: Option<&Self>, path: &Path, digest: &ContentDigest) -> Option<Arc<T>> {
        let this = this?;
        (this.path == path && this.digest.as_ref() == Some(digest)).then(|| this.value.clone())
    }
}

/// The path only: `credentials.toml` holds secrets.
impl<T> std::fmt::Debug for Parsed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed").field("path", &self.path).finish()
    }
}

/// A policy set's names: (cloud, identity or organisation policies, the
/// names in order).
pub type SetKey = (Cloud, PolicyKind, Vec<String>);

/// The policy sets of one load (identity sets of users and groups, org
/// nodes' sets) → the policies they resolved to and the set built from them.
pub type PolicySets = HashMap<SetKey, (Vec<Arc<Policy>>, Arc<PolicySet>)>;

/// The set `previous` built from exactly these policies, if any.
pub fn reuse_set(
    previous: &PolicySets,
    key: &SetKey,
    policies: &[Arc<Policy>],
) -> Option<Arc<PolicySet>> {
    let (was, set) = previous.get(key)?;
    let same =
        was.len() == policies.len() && was.iter().zip(policies).all(|(a, b)| Arc::ptr_eq(a, b));
    same.then(|| set.clone())
}

/// SHA-256 of a file's bytes.
pub type ContentDigest = [u8; 32];

/// Path → (content digest, compiled policy) of the policy files one load
/// compiled; the next load starts from it.
/// Keyed by the path's bytes: hashing a `Path` parses its components.
#[derive(Debug, Default)]
pub struct CompiledPolicies {
    by_path: HashMap<Box<OsStr>, (ContentDigest, Arc<Policy>), foldhash::fast::RandomState>,
}

impl CompiledPolicies {
    pub fn digest(bytes: &[u8]) -> ContentDigest {
        Sha256::digest(bytes).into()
    }

    /// The policy compiled from exactly these bytes at this path, if any.
    pub fn get(&self, path: &Path, digest: &ContentDigest) -> Option<Arc<Policy>> {
        match self.by_path.get(path.as_os_str()) {
            Some((d, p)) if d == digest => Some(p.clone()),
            _ => None,
        }
    }

    pub fn insert(&mut self, path: PathBuf, digest: ContentDigest, policy: Arc<Policy>) {
        let path = path.into_os_string().into_boxed_os_str();
        self.by_path.insert(path, (digest, policy));
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::cloud::Cloud;

    #[test]
    fn a_policy_is_found_only_at_its_path_with_the_same_bytes() {
        let mut cache = CompiledPolicies::default();
        let policy = Arc::new(Policy::full_access(Cloud::Huawei));
        let (a, b) = (
            CompiledPolicies::digest(b"{}"),
            CompiledPolicies::digest(b"{ }"),
        );
        assert_ne!(a, b);
        cache.insert("x/P.json".into(), a, policy.clone());
        assert!(Arc::ptr_eq(
            &cache.get(Path::new("x/P.json"), &a).unwrap(),
            &policy
        ));
        assert!(cache.get(Path::new("x/P.json"), &b).is_none());
        assert!(cache.get(Path::new("y/P.json"), &a).is_none());
        assert_eq!(cache.len(), 1);
    }
}
