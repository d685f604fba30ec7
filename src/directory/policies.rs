//! The policy store: every policy file under `policies/<cloud>/<kind>/`,
//! parsed with its cloud's grammar, plus the built-in full-access policies.
//! Names (file stems) are unique within a cloud.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::directory::cache::{CompiledFile, CompiledPolicies, FileStamp, Reread, Sources};
use crate::policy::glob::Texts;
use crate::policy::{document::parse_policy_in, Policy};

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

/// A policy by name: (the policy, its kind, its file). The key is the
/// policy's own name (shared, looked up by `&str`).
type ByName = HashMap<Arc<str>, (Arc<Policy>, PolicyKind, Arc<Path>), foldhash::fast::RandomState>;

#[derive(Debug, Default)]
pub struct PolicyStore {
    /// Huawei's, then Alibaba's (looked up by `&str`, no key built).
    policies: [ByName; 2],
    /// What this load compiled, by path and content digest (the next
    /// load's starting point).
    pub(crate) compiled: CompiledPolicies,
    /// One copy of each pattern text among the files this load parses.
    texts: Texts,
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
    /// The cloud's names (`Cloud` is `Huawei` = 0, `Aliyun` = 1).
    fn of(&self, cloud: Cloud) -> &ByName {
        &self.policies[cloud as usize]
    }

    fn of_mut(&mut self, cloud: Cloud) -> &mut ByName {
        &mut self.policies[cloud as usize]
    }

    /// Load every folder; all errors of all files at once. `sources`
    /// receives (path, SHA-256) of every file compiled, for the snapshot
    /// digest. A file's compiled policy is `previous`'s when its path and
    /// bytes are the same (see [`crate::directory::cache`]): only changed
    /// files are parsed again, and files `reread` leaves out are not read at
    /// all when `previous` compiled them.
    pub fn load_reusing(
        dir: &Path,
        sources: &mut Sources,
        previous: &CompiledPolicies,
        reread: Reread<'_>,
    ) -> Result<PolicyStore, Vec<Diagnostic>> {
        let mut store = PolicyStore {
            compiled: CompiledPolicies::with_capacity(previous.len()),
            ..PolicyStore::default()
        };
        for cloud in [Cloud::Huawei, Cloud::Aliyun] {
            let builtin = full_access(cloud);
            let entry = (builtin.clone(), PolicyKind::Org, Path::new(BUILT_IN).into());
            store.of_mut(cloud).insert(builtin.name.clone(), entry);
        }
        let mut errors = Vec::new();
        let named = reread.named_under(dir);
        for &(cloud, kind, folder) in FOLDERS {
            let files = json_files(&dir.join(folder), &mut errors);
            let unread = unread(previous, &files, named.as_ref());
            for ((path, _), unread) in files.into_iter().zip(unread) {
                if let Some(file) = unread {
                    sources.push((path.clone(), file.digest));
                    store.compiled.insert(path.clone(), file.clone());
                    store.insert(cloud, kind, path, file.policy.clone(), &mut errors);
                    continue;
                }
                let (bytes, stamp) = match read_stamped(&path) {
                    Ok(read) => read,
                    Err(e) => {
                        errors.push(Diagnostic::error(
                            &path,
                            Place::File,
                            format!("cannot read: {e}"),
                        ));
                        continue;
                    }
                };
                let digest = CompiledPolicies::digest(&bytes);
                match store.compile(previous, path.clone(), cloud, &bytes, (digest, stamp)) {
                    Ok(p) => store.insert(cloud, kind, path.clone(), p, &mut errors),
                    Err(e) => errors.extend(e),
                }
                sources.push((path, digest));
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
        path: Arc<Path>,
        cloud: Cloud,
        bytes: &[u8],
        (digest, stamp): (crate::directory::cache::ContentDigest, FileStamp),
    ) -> Result<Arc<Policy>, Vec<Diagnostic>> {
        let policy = match previous.get(&path, &digest) {
            Some(p) => p,
            None => {
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    let msg = format!("cannot read: stream did not contain valid UTF-8 ({e})");
                    vec![Diagnostic::error(&path, Place::File, msg)]
                })?;
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                Arc::new(parse_policy_in(&path, &name, cloud, text, &mut self.texts)?)
            }
        };
        let file = CompiledFile {
            digest,
            stamp,
            policy: policy.clone(),
        };
        self.compiled.insert(path, file);
        Ok(policy)
    }

    fn insert(
        &mut self,
        cloud: Cloud,
        kind: PolicyKind,
        path: Arc<Path>,
        p: Arc<Policy>,
        errors: &mut Vec<Diagnostic>,
    ) {
        use std::collections::hash_map::Entry;
        match self.of_mut(cloud).entry(p.name.clone()) {
            Entry::Occupied(other) => {
                let msg = format!(
                    "policy name `{}` is already used by {} (names are unique within a cloud)",
                    p.name,
                    other.get().2.display()
                );
                errors.push(Diagnostic::error(&path, Place::File, msg));
            }
            Entry::Vacant(slot) => {
                slot.insert((p, kind, path));
            }
        }
    }

    /// A policy of this cloud and kind, or a message saying why not.
    pub fn get(&self, cloud: Cloud, kind: PolicyKind, name: &str) -> Result<Arc<Policy>, String> {
        match self.of(cloud).get(name) {
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
                let hint = if self.of(other).contains_key(name) {
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
            .iter()
            .flat_map(HashMap::values)
            .filter(|(_, _, p)| p.as_os_str() != BUILT_IN)
            .count()
    }
}

/// The "file" of the built-in full-access policies.
const BUILT_IN: &str = "<built-in>";

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

/// Below this many files one thread `stat`s them all.
const PARALLEL_STAT_FROM: usize = 1024;

/// For each file, what `previous` compiled there when it need not be read
/// again: the watcher did not name it (`named` is `None` when every file
/// must be read) and [`unchanged`] holds. A big folder's `stat`s are
/// shared out over the machine's cores (a reload of 10,000 files spends
/// most of its policy-store time in them); the result is the same.
fn unread<'p>(
    previous: &'p CompiledPolicies,
    files: &[(Arc<Path>, std::fs::DirEntry)],
    named: Option<&HashSet<OsString>>,
) -> Vec<Option<&'p CompiledFile>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    unread_on(previous, files, named, threads.min(4))
}

/// [`unread`] over at most `threads` threads.
fn unread_on<'p>(
    previous: &'p CompiledPolicies,
    files: &[(Arc<Path>, std::fs::DirEntry)],
    named: Option<&HashSet<OsString>>,
    threads: usize,
) -> Vec<Option<&'p CompiledFile>> {
    let Some(named) = named else {
        return vec![None; files.len()];
    };
    let one =
        |(path, entry): &(Arc<Path>, std::fs::DirEntry)| match named.contains(path.as_os_str()) {
            true => None,
            false => unchanged(previous, path, entry),
        };
    if files.len() < PARALLEL_STAT_FROM || threads < 2 {
        return files.iter().map(one).collect();
    }
    let chunk = files.len().div_ceil(threads);
    std::thread::scope(|s| {
        let mut parts = files.chunks(chunk);
        let first = parts.next().unwrap_or_default();
        let others: Vec<_> = parts
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<_> = first.iter().map(one).collect();
        for handle in others {
            // A panicking `stat` is not expected; read those files instead.
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(_) => out.resize(out.len() + chunk, None),
            }
        }
        out.truncate(files.len());
        out
    })
}

/// What `previous` compiled at `path`, if `stat` shows the very file it
/// read then and the entry is not a symlink (see [`Reread`]).
fn unchanged<'p>(
    previous: &'p CompiledPolicies,
    path: &Path,
    entry: &std::fs::DirEntry,
) -> Option<&'p CompiledFile> {
    let file = previous.at(path)?;
    // The entry's own `stat` (relative to the open folder: no path walk),
    // not following a symlink; a symlink is always read.
    let meta = entry.metadata().ok()?;
    if meta.file_type().is_symlink() {
        return None;
    }
    file.stamp.unchanged(&FileStamp::of(&meta)).then_some(file)
}

/// A file's bytes and its stamp, taken from the open file just before
/// reading (as `std::fs::read` does for its size hint: no extra call).
fn read_stamped(path: &Path) -> std::io::Result<(Vec<u8>, FileStamp)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok((bytes, FileStamp::of(&meta)))
}

/// `*.json` entries of a folder, sorted; a missing folder is simply empty.
fn json_files(dir: &Path, errors: &mut Vec<Diagnostic>) -> Vec<(Arc<Path>, std::fs::DirEntry)> {
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
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| (e.path(), e))
        .filter(|(p, _)| p.extension().is_some_and(|x| x == "json"))
        .map(|(p, e)| (Arc::<Path>::from(p), e))
        .collect();
    // One folder: byte order of the names is the paths' order, without
    // comparing path components.
    files.sort_unstable_by(|(a, _), (b, _)| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    files
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    /// A policy file whose one statement has this sid.
    fn policy(sid: &str) -> String {
        format!(
            r#"{{"Version": "5.0", "Statement": [{{"Sid": "{sid}", "Effect": "Allow", "Action": ["modelarts:notebook:list"]}}]}}"#
        )
    }

    fn sid(store: &PolicyStore, name: &str) -> String {
        let p = store
            .get(Cloud::Huawei, PolicyKind::Identity, name)
            .unwrap();
        p.statements[0].sid.as_deref().unwrap().to_string()
    }

    fn load(dir: &Path, previous: &CompiledPolicies, reread: Reread<'_>) -> PolicyStore {
        PolicyStore::load_reusing(dir, &mut Vec::new(), previous, reread).unwrap()
    }

    /// A tree with `huawei/identity/A.json` and `B.json`, and its first load.
    fn tree() -> (tempfile::TempDir, PathBuf, PolicyStore) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("huawei/identity");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("A.json"), policy("A1")).unwrap();
        std::fs::write(folder.join("B.json"), policy("B1")).unwrap();
        let first = load(dir.path(), &CompiledPolicies::default(), Reread::All);
        assert_eq!(first.file_count(), 2, "the built-in policies are not files");
        (dir, folder, first)
    }

    #[test]
    fn the_files_of_one_load_share_their_pattern_texts() {
        let (_dir, _, store) = tree();
        let action = |name: &str| {
            let p = store
                .get(Cloud::Huawei, PolicyKind::Identity, name)
                .unwrap();
            match &p.statements[0].actions {
                crate::policy::statement::ActionSet::Action(globs) => match &globs[0] {
                    crate::policy::glob::Glob::Exact(text) => text.clone(),
                    other => panic!("{other:?}"),
                },
                other => panic!("{other:?}"),
            }
        };
        assert!(Arc::ptr_eq(&action("A"), &action("B")));
    }

    /// `previous` as if `stat` could not tell that `path` was rewritten
    /// (a write inside the clock tick of the last read, on a kernel with
    /// coarse timestamps): its stamp is the file's current one.
    fn blind(previous: &CompiledPolicies, path: &Path) -> CompiledPolicies {
        let mut forged = CompiledPolicies::default();
        for (p, file) in &previous.by_path_for_tests() {
            let mut file = file.clone();
            if **p == *path {
                file.stamp = FileStamp::of(&std::fs::symlink_metadata(path).unwrap());
            }
            forged.insert(p.clone(), file);
        }
        forged
    }

    #[test]
    fn a_file_the_watcher_names_is_read_even_when_stat_sees_no_change() {
        let (dir, folder, first) = tree();
        let a = folder.join("A.json");
        std::fs::write(&a, policy("A2")).unwrap();
        let previous = blind(&first.compiled, &a);
        // Unnamed and unchanged to `stat`: the compiled policy is kept (the
        // limit the watcher's names cover).
        let none = BTreeSet::new();
        assert_eq!(
            sid(&load(dir.path(), &previous, Reread::Only(&none)), "A"),
            "A1"
        );
        let named = BTreeSet::from([PathBuf::from("huawei/identity/A.json")]);
        let store = load(dir.path(), &previous, Reread::Only(&named));
        assert_eq!(sid(&store, "A"), "A2");
        assert_eq!(sid(&load(dir.path(), &previous, Reread::All), "A"), "A2");
    }

    #[test]
    fn an_unnamed_file_is_reused_unread_unless_stat_singles_it_out() {
        let (dir, folder, first) = tree();
        let none = BTreeSet::new();
        let again = load(dir.path(), &first.compiled, Reread::Only(&none));
        for name in ["A", "B"] {
            let was = first
                .get(Cloud::Huawei, PolicyKind::Identity, name)
                .unwrap();
            let is = again
                .get(Cloud::Huawei, PolicyKind::Identity, name)
                .unwrap();
            assert!(Arc::ptr_eq(&was, &is), "{name}");
        }
        // Rewritten (new stamp), added, removed: all seen without a name.
        std::fs::write(folder.join("B.json"), policy("B2")).unwrap();
        std::fs::write(folder.join("C.json"), policy("C1")).unwrap();
        std::fs::remove_file(folder.join("A.json")).unwrap();
        let store = load(dir.path(), &first.compiled, Reread::Only(&none));
        assert_eq!(sid(&store, "B"), "B2");
        assert_eq!(sid(&store, "C"), "C1");
        assert!(store.get(Cloud::Huawei, PolicyKind::Identity, "A").is_err());
    }

    #[test]
    #[cfg(unix)]
    fn symlinked_and_hard_linked_files_are_always_read() {
        let (dir, folder, _) = tree();
        let elsewhere = dir.path().join("shared");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("L.json"), policy("L1")).unwrap();
        std::fs::write(elsewhere.join("H.json"), policy("H1")).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("L.json"), folder.join("L.json")).unwrap();
        std::fs::hard_link(elsewhere.join("H.json"), folder.join("H.json")).unwrap();
        let first = load(dir.path(), &CompiledPolicies::default(), Reread::All);
        // Written through the other name, with `stat` of the folder's entry
        // blind to it: still read, since the watcher may not name it.
        std::fs::write(elsewhere.join("L.json"), policy("L2")).unwrap();
        std::fs::write(elsewhere.join("H.json"), policy("H2")).unwrap();
        let previous = blind(
            &blind(&first.compiled, &folder.join("L.json")),
            &folder.join("H.json"),
        );
        let none = BTreeSet::new();
        let store = load(dir.path(), &previous, Reread::Only(&none));
        assert_eq!(sid(&store, "L"), "L2");
        assert_eq!(sid(&store, "H"), "H2");
    }
    #[test]
    fn a_big_folder_statted_on_several_threads_decides_like_one_thread() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("huawei/identity");
        std::fs::create_dir_all(&folder).unwrap();
        let n = PARALLEL_STAT_FROM + 77;
        for i in 0..n {
            std::fs::write(folder.join(format!("P{i:05}.json")), policy("one")).unwrap();
        }
        let first = load(dir.path(), &CompiledPolicies::default(), Reread::All);
        // Changed to `stat` (another size), named by the watcher, or
        // untouched: spread over every thread's share, the last one's too.
        let changed = [0, 500, n / 2, n - 1];
        for i in changed {
            std::fs::write(folder.join(format!("P{i:05}.json")), policy("two!")).unwrap();
        }
        let named_rel = BTreeSet::from([PathBuf::from("huawei/identity/P00003.json")]);
        let named = Reread::Only(&named_rel).named_under(dir.path());
        let files = json_files(&folder, &mut Vec::new());
        let reused = |threads| -> Vec<bool> {
            unread_on(&first.compiled, &files, named.as_ref(), threads)
                .iter()
                .map(Option::is_some)
                .collect()
        };
        let one = reused(1);
        assert_eq!(one.len(), n);
        let expected: Vec<bool> = (0..n).map(|i| !changed.contains(&i) && i != 3).collect();
        assert_eq!(one, expected);
        for threads in [2, 3, 4] {
            assert_eq!(reused(threads), one, "{threads} threads");
        }
        // Every file must be read: nothing is reused, on any number of threads.
        for threads in [1, 2] {
            let all = unread_on(&first.compiled, &files, None, threads);
            assert!(all.iter().all(Option::is_none) && all.len() == n);
        }
    }
}
