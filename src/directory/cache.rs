//! Compiled policy files kept from one load to the next, so that a reload
//! re-parses and recompiles only the files whose bytes changed.
//!
//! The key is the file's path and the SHA-256 of its bytes. A policy file's
//! compiled form depends on nothing else: its name is the file stem, its
//! cloud and kind follow from its folder (both part of the path), and
//! `parse_policy` is a pure function of (path, name, cloud, text). A file
//! that failed to compile is never cached, so its errors are reported again
//! on every load until it is fixed.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::policy::Policy;

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
