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
//! fixed. A policy set is reused only when it holds the very same
//! compiled policies (pointer-equal) in the same order as a set built
//! before, so a changed policy file always rebuilds every set that holds it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
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
    /// The snapshot's route table and the files it came from (kept here so
    /// that one value carries everything a reload reuses).
    pub routes: Option<crate::routes::CompiledRoutes>,
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

/// A policy set's key: (cloud, identity or organisation policies, the
/// compiled policies it holds, in order).
pub type SetKey = (Cloud, PolicyKind, SamePolicies);

/// Compiled policies compared and hashed by address: two lists are equal
/// when they hold the very same compiled policies in the same order. The
/// key holds its policies, so no address it compares can be freed and
/// reused by another policy while it is in a map.
#[derive(Debug, Clone)]
pub struct SamePolicies(pub Vec<Arc<Policy>>);

impl PartialEq for SamePolicies {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

impl Eq for SamePolicies {}

impl std::hash::Hash for SamePolicies {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.len());
        for p in &self.0 {
            std::ptr::hash(Arc::as_ptr(p), state);
        }
    }
}

/// The policy sets of one load (identity sets of users and groups, org
/// nodes' sets), by the policies they were built from.
pub type PolicySets = HashMap<SetKey, Arc<PolicySet>, foldhash::fast::RandomState>;

/// SHA-256 of a file's bytes.
pub type ContentDigest = [u8; 32];

/// Which policy files a load reads from disk.
///
/// A load from scratch, SIGHUP and `POST /-/reload` read every file. The
/// file watcher's reload reads the policy files it saw written (the kernel
/// named them), and of the others every file that is a symlink, has more
/// than one hard link (it can be written through a path the watcher does
/// not report), or whose inode, size or change time differ from those of
/// the previous read. A file none of that singles out is one nobody wrote
/// to since the live snapshot read it: its digest and compiled policy are
/// taken from that snapshot. Neither signal alone is trusted: a change
/// time is updated once per clock tick (a write in the tick of the last
/// read keeps it), and the watcher does not see writes through another
/// directory. Every folder is still listed, so added and removed files are
/// always seen; the TOML files and routes are always read.
#[derive(Debug, Clone, Copy)]
pub enum Reread<'a> {
    All,
    /// These policy files (paths relative to the policies folder), plus
    /// every file the rules above single out.
    Only(&'a BTreeSet<PathBuf>),
}

impl Reread<'_> {
    /// The files that must be read whatever their stamp says, as paths
    /// under `dir` (compared as bytes, no path parsing per file); `None`:
    /// every file.
    pub fn named_under(&self, dir: &Path) -> Option<HashSet<OsString>> {
        match self {
            Reread::All => None,
            Reread::Only(changed) => Some(
                changed
                    .iter()
                    .map(|relative| dir.join(relative).into_os_string())
                    .collect(),
            ),
        }
    }
}

/// What `stat` said of a file just before it was read: its identity and
/// the last change of its bytes or metadata (`st_ctime`, which unlike the
/// modification time no tool sets back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    ctime: (i64, i64),
    nlink: u64,
}

impl FileStamp {
    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            nlink: meta.nlink(),
        }
    }

    /// Elsewhere nothing identifies a file cheaply: every stamp differs,
    /// so every file is read.
    #[cfg(not(unix))]
    pub fn of(_meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            dev: 0,
            ino: 0,
            size: 0,
            ctime: (0, 0),
            nlink: 0,
        }
    }

    /// Whether a file that now has stamp `now` still holds the bytes read
    /// when it had `self`, as far as `stat` can tell. A file with other
    /// hard links never counts as unchanged; on systems without inode
    /// numbers nothing does.
    pub fn unchanged(&self, now: &FileStamp) -> bool {
        self == now && self.nlink == 1 && cfg!(unix)
    }
}

/// Path → (content digest, stamp, compiled policy) of the policy files one
/// load compiled; the next load starts from it.
/// Keyed by the path's bytes: hashing a `Path` parses its components.
#[derive(Debug, Default)]
pub struct CompiledPolicies {
    by_path: HashMap<SourcePath, CompiledFile, foldhash::fast::RandomState>,
}

/// The files one load compiled, each with the SHA-256 of its bytes (for
/// the snapshot digest).
pub type Sources = Vec<(Arc<Path>, ContentDigest)>;

/// A compiled file's path, shared with the policy store and the sources
/// (one allocation per file and load), hashed and compared by its bytes:
/// looked up by `&OsStr`.
#[derive(Debug, Clone)]
struct SourcePath(Arc<Path>);

impl std::hash::Hash for SourcePath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_os_str().hash(state)
    }
}

impl PartialEq for SourcePath {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_os_str() == other.0.as_os_str()
    }
}

impl Eq for SourcePath {}

impl std::borrow::Borrow<OsStr> for SourcePath {
    fn borrow(&self) -> &OsStr {
        self.0.as_os_str()
    }
}

/// One policy file as a load compiled it.
#[derive(Debug, Clone)]
pub struct CompiledFile {
    pub digest: ContentDigest,
    /// `stat` just before the bytes were read.
    pub stamp: FileStamp,
    pub policy: Arc<Policy>,
}

impl CompiledPolicies {
    pub fn digest(bytes: &[u8]) -> ContentDigest {
        Sha256::digest(bytes).into()
    }

    /// The policy compiled from exactly these bytes at this path, if any.
    pub fn get(&self, path: &Path, digest: &ContentDigest) -> Option<Arc<Policy>> {
        let file = self.at(path).filter(|f| f.digest == *digest)?;
        Some(file.policy.clone())
    }

    /// What was compiled at this path.
    pub fn at(&self, path: &Path) -> Option<&CompiledFile> {
        self.by_path.get(path.as_os_str())
    }

    pub fn insert(&mut self, path: Arc<Path>, file: CompiledFile) {
        self.by_path.insert(SourcePath(path), file);
    }

    /// Room for `n` files (a reload: the previous load's count).
    pub fn with_capacity(n: usize) -> CompiledPolicies {
        let by_path = HashMap::with_capacity_and_hasher(n, Default::default());
        CompiledPolicies { by_path }
    }

    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    #[cfg(test)]
    pub(crate) fn by_path_for_tests(&self) -> Vec<(Arc<Path>, CompiledFile)> {
        let files = self.by_path.iter();
        files.map(|(p, f)| (p.0.clone(), f.clone())).collect()
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
    fn a_set_key_is_the_very_same_policies_in_the_same_order() {
        use std::hash::BuildHasher;
        let (a, b) = (
            Arc::new(Policy::full_access(Cloud::Huawei)),
            Arc::new(Policy::full_access(Cloud::Huawei)),
        );
        assert_eq!(*a, *b, "equal in content");
        let key = |ps: &[&Arc<Policy>]| {
            let list: Vec<Arc<Policy>> = ps.iter().map(|p| Arc::clone(p)).collect();
            (Cloud::Huawei, PolicyKind::Identity, SamePolicies(list))
        };
        let hasher = foldhash::fast::FixedState::with_seed(7);
        assert_eq!(key(&[&a, &b]), key(&[&a, &b]));
        assert_eq!(
            hasher.hash_one(key(&[&a, &b])),
            hasher.hash_one(key(&[&a, &b]))
        );
        // A recompiled policy (same text, another allocation) is another
        // key: its set is rebuilt. So are another order and another length.
        assert_ne!(key(&[&a]), key(&[&b]));
        assert_ne!(key(&[&a, &b]), key(&[&b, &a]));
        assert_ne!(key(&[&a]), key(&[&a, &a]));
        let mut sets = PolicySets::default();
        let set = Arc::new(PolicySet::new(vec![a.clone()]));
        sets.insert(key(&[&a]), set.clone());
        assert!(Arc::ptr_eq(&sets[&key(&[&a])], &set));
        assert!(!sets.contains_key(&key(&[&b])));
        let other_kind = (
            Cloud::Huawei,
            PolicyKind::Org,
            SamePolicies(vec![a.clone()]),
        );
        assert!(!sets.contains_key(&other_kind));
    }

    #[test]
    fn a_policy_is_found_only_at_its_path_with_the_same_bytes() {
        let mut cache = CompiledPolicies::default();
        let policy = Arc::new(Policy::full_access(Cloud::Huawei));
        let (a, b) = (
            CompiledPolicies::digest(b"{}"),
            CompiledPolicies::digest(b"{ }"),
        );
        assert_ne!(a, b);
        let dir = tempfile::tempdir().unwrap();
        let stamp = FileStamp::of(&std::fs::metadata(dir.path()).unwrap());
        let file = CompiledFile {
            digest: a,
            stamp,
            policy: policy.clone(),
        };
        cache.insert(Path::new("x/P.json").into(), file);
        assert!(Arc::ptr_eq(
            &cache.get(Path::new("x/P.json"), &a).unwrap(),
            &policy
        ));
        assert!(cache.get(Path::new("x/P.json"), &b).is_none());
        assert!(cache.get(Path::new("y/P.json"), &a).is_none());
        assert_eq!(cache.len(), 1);
    }

    fn stamp(path: &Path) -> FileStamp {
        FileStamp::of(&std::fs::symlink_metadata(path).unwrap())
    }

    #[test]
    fn a_stamp_changes_with_the_bytes_the_inode_and_extra_links() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("P.json");
        std::fs::write(&path, "{}").unwrap();
        let first = stamp(&path);
        assert!(first.unchanged(&stamp(&path)));
        // Same size, written again: the change time moves (the test sleeps
        // past the coarse clock's tick; the watcher covers a write inside it).
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "{ ").unwrap();
        let rewritten = stamp(&path);
        assert!(!first.unchanged(&rewritten));
        // Replaced by another file (rename over it): another inode.
        let other = dir.path().join("new.json");
        std::fs::write(&other, "{ ").unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert!(!rewritten.unchanged(&stamp(&path)));
        // A second hard link: never trusted, even to itself.
        let replaced = stamp(&path);
        std::fs::hard_link(&path, dir.path().join("link.json")).unwrap();
        let linked = stamp(&path);
        assert!(!replaced.unchanged(&linked));
        assert!(!linked.unchanged(&linked));
    }
}
