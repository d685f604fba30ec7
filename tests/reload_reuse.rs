//! A reload re-parses only the policy files whose bytes changed: the
//! others are the very compiled policies of the snapshot it replaces
//! (`Snapshot::reload`, `directory::cache`). What it decides and the digest
//! it carries are those of a load from scratch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;

use iamgate::cloud::Cloud;
use iamgate::config::Config;
use iamgate::directory::cache::{FileStamp, Reread};
use iamgate::directory::policies::PolicyKind;
use iamgate::directory::PolicyStore;
use iamgate::snapshot::Snapshot;

/// The repository's routes and policies copied under `root`.
fn sample_at(root: &Path) {
    common::copy_tree(&common::manifest("routes"), &root.join("routes"));
    common::copy_tree(&common::manifest("policies"), &root.join("policies"));
}

fn load(root: &Path) -> Snapshot {
    Snapshot::load_dirs(&root.join("routes"), &root.join("policies"), None).unwrap()
}

fn reload(root: &Path, previous: &Snapshot) -> Result<Snapshot, Vec<iamgate::diag::Diagnostic>> {
    let compiled = &previous.directory.compiled;
    let (routes, policies) = (root.join("routes"), root.join("policies"));
    Snapshot::load_dirs_reusing(&routes, &policies, None, compiled, Reread::All)
}

/// A store over `root`'s policies, reusing `previous`'s compiled files.
fn store(root: &Path, previous: &Snapshot) -> PolicyStore {
    PolicyStore::load_reusing(
        &root.join("policies"),
        &mut Vec::new(),
        &previous.directory.compiled.policies,
        Reread::All,
    )
    .unwrap()
}

fn identity(store: &PolicyStore, name: &str) -> Arc<iamgate::policy::Policy> {
    store
        .get(Cloud::Huawei, PolicyKind::Identity, name)
        .unwrap()
}

const READ_ONLY: &str = "huawei/identity/NotebookReadOnly.json";

/// A copy of the sample tree under a fresh folder, and its first load.
fn sample() -> (tempfile::TempDir, Snapshot) {
    let dir = tempfile::tempdir().unwrap();
    sample_at(dir.path());
    let first = load(dir.path());
    (dir, first)
}

/// Replace `from` with `to` in one file under `root/policies`.
fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join("policies").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file}: no `{from}`");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

#[test]
fn unchanged_files_are_reused_and_a_changed_one_is_compiled_again() {
    let (dir, first) = sample();
    let root = dir.path();
    assert!(first.directory.compiled.policies.len() >= 5);
    let before = store(root, &first);
    edit(root, READ_ONLY, "ReadNotebooks", "ReadNotebooksAgain");
    let after = store(root, &first);
    // Unchanged: the same compiled policy, not an equal copy.
    for name in ["NotebookFullAccess", "ModelArtsFullAccess"] {
        assert!(Arc::ptr_eq(
            &identity(&before, name),
            &identity(&after, name)
        ));
    }
    // Changed: compiled from the new bytes.
    let changed = identity(&after, "NotebookReadOnly");
    assert!(!Arc::ptr_eq(
        &identity(&before, "NotebookReadOnly"),
        &changed
    ));
    assert_eq!(
        changed.statements[0].sid.as_deref(),
        Some("ReadNotebooksAgain")
    );
}

/// The identity policy set of a sample user.
fn identity_set(s: &Snapshot, user: &str) -> Arc<iamgate::policy::PolicySet> {
    s.directory.find_user(user, None)[0]
        .subject
        .identity
        .clone()
}

fn accounts_table(s: &Snapshot) -> Arc<iamgate::directory::files::AccountsFile> {
    s.directory
        .compiled
        .accounts
        .as_ref()
        .unwrap()
        .value
        .clone()
}

fn policy_names(set: &iamgate::policy::PolicySet) -> Vec<String> {
    set.policies().iter().map(|p| p.name.to_string()).collect()
}

#[test]
fn unchanged_tables_and_identity_sets_are_reused_and_changed_ones_rebuilt() {
    let (dir, first) = sample();
    let root = dir.path();
    edit(root, READ_ONLY, "ReadNotebooks", "ReadNotebooksAgain");
    let second = reload(root, &first).unwrap();
    // accounts.toml did not change: the very table parsed last time.
    assert!(Arc::ptr_eq(
        &accounts_table(&first),
        &accounts_table(&second)
    ));
    // operator holds only ModelArtsFullAccess (unchanged): the same set;
    // reader holds NotebookReadOnly (changed): a set built again, with it.
    assert!(Arc::ptr_eq(
        &identity_set(&first, "operator"),
        &identity_set(&second, "operator")
    ));
    let reader = identity_set(&second, "reader");
    assert!(!Arc::ptr_eq(&identity_set(&first, "reader"), &reader));
    let sid = reader.policies()[0].statements[0].sid.as_deref();
    assert_eq!(sid, Some("ReadNotebooksAgain"));

    // accounts.toml changed: parsed again, and operator's set follows it.
    edit(
        root,
        "accounts.toml",
        "name = \"operator\"\npolicies = [\"ModelArtsFullAccess\"]",
        "name = \"operator\"\npolicies = [\"NotebookFullAccess\"]",
    );
    let third = reload(root, &second).unwrap();
    assert!(!Arc::ptr_eq(
        &accounts_table(&second),
        &accounts_table(&third)
    ));
    assert_eq!(
        policy_names(&identity_set(&third, "operator")),
        ["NotebookFullAccess"]
    );
    assert_eq!(third.digest, load(root).digest);
}

#[test]
fn a_broken_table_is_reported_on_reload_and_reused_once_fixed() {
    let (dir, first) = sample();
    let root = dir.path();
    let accounts = root.join("policies/accounts.toml");
    let good = std::fs::read_to_string(&accounts).unwrap();
    std::fs::write(&accounts, format!("{good}\n[[account]\n")).unwrap();
    let errors = reload(root, &first).err().unwrap();
    assert!(
        errors.iter().any(|e| e.file.ends_with("accounts.toml")),
        "{errors:?}"
    );
    std::fs::write(&accounts, &good).unwrap();
    let fixed = reload(root, &first).unwrap();
    assert!(Arc::ptr_eq(
        &accounts_table(&first),
        &accounts_table(&fixed)
    ));
    assert_eq!(fixed.digest, first.digest);
}

#[test]
fn a_reload_equals_a_load_from_scratch_digest_and_decisions() {
    let (dir, first) = sample();
    let root = dir.path();
    // Read-only loses `get`: reader (notebook-readers) can no longer get.
    edit(root, READ_ONLY, r#" "modelarts:notebook:get","#, "");
    let reloaded = reload(root, &first).unwrap();
    let scratch = load(root);
    assert_ne!(reloaded.digest, first.digest);
    assert_eq!(reloaded.digest, scratch.digest);
    assert_eq!(reloaded.policy_count(), scratch.policy_count());
    let ctx = iamgate::policy::Context::new();
    let resource = "modelarts:cn-north-4:acme0001:notebook:nb-1";
    for (account, user) in scratch.directory.principals.keys() {
        let a = &reloaded
            .directory
            .principal(account, user.as_deref())
            .unwrap();
        let b = &scratch
            .directory
            .principal(account, user.as_deref())
            .unwrap();
        for action in ["modelarts:notebook:get", "modelarts:notebook:list"] {
            let da = iamgate::policy::evaluate(&a.subject, action, resource, &ctx);
            let db = iamgate::policy::evaluate(&b.subject, action, resource, &ctx);
            assert_eq!(da, db, "{account}/{user:?} {action}");
        }
    }
}

#[test]
fn a_broken_file_is_reported_on_every_reload_until_fixed() {
    let (dir, first) = sample();
    let root = dir.path();
    let file = root.join("policies").join(READ_ONLY);
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, "{ not json").unwrap();
    for _ in 0..2 {
        let errors = reload(root, &first).err().unwrap();
        assert!(
            errors.iter().any(|e| e.file.ends_with(READ_ONLY)),
            "{errors:?}"
        );
    }
    std::fs::write(&file, &good).unwrap();
    assert_eq!(reload(root, &first).unwrap().digest, first.digest);
}

#[test]
fn snapshot_reload_reads_the_config_folders() {
    let dir = tempfile::tempdir().unwrap();
    let config = configured(dir.path());
    let first = Snapshot::load(&config).unwrap();
    let again = Snapshot::reload(&config, &first, Reread::All).unwrap();
    assert_eq!(again.digest, first.digest);
    assert_eq!(
        again.directory.compiled.policies.len(),
        first.directory.compiled.policies.len()
    );
}

/// The sample tree with a config naming it (built-in mock upstreams).
fn configured(root: &Path) -> Config {
    sample_at(root);
    let config_path = root.join("iamgate.toml");
    std::fs::write(
        &config_path,
        "listen = \"127.0.0.1:0\"\nroutes = \"routes\"\npolicies = \"policies\"\n\
         [upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n\
         [regions]\nagentrun = \"cn-hangzhou\"\n",
    )
    .unwrap();
    Config::load(&config_path).unwrap()
}

/// A file the watcher named in a reload that failed is read by the next
/// reload too, even when only another file is named then and `stat` cannot
/// tell the first one changed (its stamp in the live snapshot is forged to
/// the current one, as a write inside one clock tick leaves it).
#[tokio::test]
async fn a_failed_watched_reload_leaves_its_files_to_the_next() {
    use iamgate::reload::{ReloadOutcome, Reloader, Stale};
    let dir = tempfile::tempdir().unwrap();
    let config = configured(dir.path());
    let mut first = Snapshot::load(&config).unwrap();
    let path = config.policies_dir.join(READ_ONLY);
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, "{ not json").unwrap();
    let policies = &mut first.directory.compiled.policies;
    let mut entry = policies.at(&path).unwrap().clone();
    entry.stamp = FileStamp::of(&std::fs::symlink_metadata(&path).unwrap());
    policies.insert(path.as_path().into(), entry);
    let holder = Arc::new(iamgate::snapshot::SnapshotHolder::new(first));
    let resources = Arc::new(iamgate::state::ResourceState::new(100));
    let metrics = iamgate::metrics::Metrics::new();
    let reloader = Reloader::new(config, holder.clone(), metrics, resources);
    let named = |file: &str| Stale::Files([std::path::PathBuf::from(file)].into());
    let failed = |o: &ReloadOutcome| matches!(o, ReloadOutcome::Failed(e) if e[0].to_string().contains("NotebookReadOnly.json"));
    let outcome = reloader
        .reload_changed("file change", named(READ_ONLY))
        .await;
    assert!(failed(&outcome), "{outcome:?}");
    let other = "huawei/identity/NotebookFullAccess.json";
    let outcome = reloader.reload_changed("file change", named(other)).await;
    assert!(failed(&outcome), "{outcome:?}");
    std::fs::write(&path, good).unwrap();
    let outcome = reloader.reload_changed("file change", named(other)).await;
    assert!(matches!(outcome, ReloadOutcome::Loaded(_)), "{outcome:?}");
}

#[test]
fn unchanged_route_files_keep_their_table_and_a_changed_one_is_compiled_again() {
    let (dir, first) = sample();
    let root = dir.path();
    let routes = root.join("routes");
    let same = reload(root, &first).unwrap();
    assert!(
        Arc::ptr_eq(&first.routes, &same.routes),
        "nothing changed: the very table"
    );
    assert_eq!(first.digest, same.digest);
    let texts = |s: &Snapshot| s.warnings.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    assert_eq!(
        texts(&first),
        texts(&same),
        "the routes' warnings come along"
    );

    // One byte more in one file: parsed again (equal routes, another table).
    let path = routes.join("modelarts.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n# edited\n")).unwrap();
    let edited = reload(root, &same).unwrap();
    assert!(!Arc::ptr_eq(&same.routes, &edited.routes));
    assert_ne!(same.digest, edited.digest);
    assert_eq!(same.routes.route_count(), edited.routes.route_count());

    // A broken file is an error (never the previous table), fixed it loads.
    std::fs::write(&path, format!("{text}\n[[broken")).unwrap();
    let errors = reload(root, &edited).unwrap_err();
    assert!(
        errors.iter().any(|d| d.file.ends_with("modelarts.toml")),
        "{errors:?}"
    );
    std::fs::write(&path, &text).unwrap();
    let fixed = reload(root, &edited).unwrap();
    assert_eq!(fixed.digest, first.digest, "the original bytes again");

    // A file removed: the table is rebuilt without its routes.
    std::fs::remove_file(routes.join("agentrun.toml")).unwrap();
    let fewer = reload(root, &fixed).unwrap();
    assert!(fewer.routes.route_count() < fixed.routes.route_count());
}
