//! The access diff over copies of the repository's sample tree, each test
//! changing one file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use super::*;
use crate::directory::cache::Reread;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A copy of `policies/` under a fresh temp folder.
fn copy_tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("policies");
    copy_dir(&Path::new(REPO).join("policies"), &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let to = dst.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &to);
        } else {
            std::fs::copy(&path, &to).unwrap();
        }
    }
}

fn load(policies: &Path) -> Snapshot {
    Snapshot::load_dirs(&Path::new(REPO).join("routes"), policies, None).unwrap()
}

fn regions() -> BTreeMap<String, String> {
    [("agentrun".to_string(), "cn-hangzhou".to_string())].into()
}

fn change(d: &AccessDiff, principal: &str, action: &str) -> Option<Change> {
    d.changes
        .iter()
        .find(|c| c.principal == principal && c.action.eq_ignore_ascii_case(action))
        .map(|c| c.change)
}

#[test]
fn the_same_tree_changes_nothing_and_compares_every_pair() {
    let (_tmp, dir) = copy_tree();
    let (a, b) = (load(&dir), load(&dir));
    let d = diff(&a, &b, &regions(), &Limits::default());
    assert!(d.is_empty(), "{d:?}");
    assert!(d.complete);
    assert!(d.pairs_total > 100);
    assert_eq!(d.pairs_compared, d.pairs_total);
}

#[test]
fn a_wider_group_policy_gains_and_a_removed_user_loses() {
    let (_tmp, dir) = copy_tree();
    let old = load(&dir);
    let path = dir.join("huawei/identity/NotebookReadOnly.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let wider = text.replace(
        "\"modelarts:notebook:list\",",
        "\"modelarts:notebook:list\", \"modelarts:notebook:delete\",",
    );
    std::fs::write(&path, wider).unwrap();
    let accounts = dir.join("accounts.toml");
    let text = std::fs::read_to_string(&accounts).unwrap();
    let without_solo = text.replace("name = \"solo\"", "name = \"solo2\"");
    std::fs::write(&accounts, without_solo).unwrap();
    let credentials = dir.join("credentials.toml");
    let text = std::fs::read_to_string(&credentials).unwrap();
    std::fs::write(
        &credentials,
        text.replace("user = \"solo\"", "user = \"solo2\""),
    )
    .unwrap();
    let new = load(&dir);
    let d = diff(&old, &new, &regions(), &Limits::default());
    assert_eq!(
        change(&d, "iam::acme0001:user:reader", "modelarts:notebook:delete"),
        Some(Change::Gained)
    );
    assert_eq!(
        change(&d, "iam::solo0002:user:solo", "modelarts:pool:delete"),
        Some(Change::Lost)
    );
    assert_eq!(
        change(&d, "iam::solo0002:user:solo2", "modelarts:pool:delete"),
        Some(Change::Gained)
    );
    // Nothing else about reader changed.
    let reader: Vec<_> = d
        .changes
        .iter()
        .filter(|c| c.principal == "iam::acme0001:user:reader")
        .collect();
    assert_eq!(reader.len(), 1, "{reader:?}");
    assert_eq!(d.gained + d.lost, d.changes.len() + d.omitted);
}

#[test]
fn an_org_policy_cuts_access_for_everyone_below_it() {
    let (_tmp, dir) = copy_tree();
    let old = load(&dir);
    std::fs::remove_file(dir.join("aliyun/control/DenyAgentRuntimeDelete.json")).unwrap();
    let accounts = dir.join("accounts.toml");
    let t = std::fs::read_to_string(&accounts).unwrap();
    let t = t.replace(
        "policies = [\"FullAliyunAccess\", \"DenyAgentRuntimeDelete\"]",
        "policies = [\"FullAliyunAccess\"]",
    );
    std::fs::write(&accounts, t).unwrap();
    let new = load(&dir);
    let d = diff(&old, &new, &regions(), &Limits::default());
    assert!(d.lost == 0, "{d:?}");
    let gained: Vec<_> = d
        .changes
        .iter()
        .filter(|c| c.principal == "acs:ram::6543210987654321:user/guarded")
        .collect();
    assert!(!gained.is_empty(), "{d:?}");
    assert!(gained.iter().all(|c| c.change == Change::Gained));
}

#[test]
fn limits_bound_the_work_and_the_listing() {
    let (_tmp, dir) = copy_tree();
    let old = load(&dir);
    std::fs::remove_file(dir.join("huawei/identity/NotebookFullAccess.json")).unwrap();
    let accounts = dir.join("accounts.toml");
    let t = std::fs::read_to_string(&accounts).unwrap();
    std::fs::write(
        &accounts,
        t.replace("policies = [\"NotebookFullAccess\"]", "policies = []"),
    )
    .unwrap();
    let new = load(&dir);
    let full = diff(&old, &new, &regions(), &Limits::default());
    assert!(full.lost > 2, "{full:?}");
    let listed = Limits {
        max_listed: 2,
        ..Limits::default()
    };
    let short = diff(&old, &new, &regions(), &listed);
    assert_eq!(short.changes.len(), 2);
    assert_eq!(short.omitted, full.lost - 2);
    assert_eq!(short.lost, full.lost);
    let few = Limits {
        max_pairs: 10,
        ..Limits::default()
    };
    let cut = diff(&old, &new, &regions(), &few);
    assert!(!cut.complete);
    assert_eq!(cut.pairs_compared, 10);
    let late = Limits {
        deadline: Some(Instant::now()),
        ..Limits::default()
    };
    let none = diff(&old, &new, &regions(), &late);
    assert_eq!(none.pairs_compared, 0);
    assert!(!none.complete);
}

#[test]
fn a_region_scoped_grant_counts_in_its_region_only() {
    let (_tmp, dir) = copy_tree();
    let old = load(&dir);
    let path = dir.join("huawei/identity/NotebookReadOnly.json");
    let scoped = r#"{"Version": "5.0", "Statement": [{"Effect": "Allow",
        "Action": ["modelarts:notebook:list", "modelarts:notebook:get", "modelarts:notebook:listMountedStorages", "modelarts:notebook:getMountedStorage"],
        "Resource": ["modelarts:cn-north-4:*:notebook:*"]}]}"#;
    std::fs::write(&path, scoped).unwrap();
    let same_region = load(&dir);
    assert!(diff(&old, &same_region, &regions(), &Limits::default()).is_empty());
    std::fs::write(&path, scoped.replace("cn-north-4", "cn-south-1")).unwrap();
    let other_region = load(&dir);
    let d = diff(&old, &other_region, &regions(), &Limits::default());
    assert_eq!(
        change(&d, "iam::acme0001:user:reader", "modelarts:notebook:get"),
        Some(Change::Lost)
    );
}

#[test]
fn the_summary_names_counts_and_changes() {
    let d = AccessDiff {
        gained: 1,
        lost: 2,
        changes: vec![AccessChange {
            principal: "iam::a:user:u".into(),
            action: "modelarts:notebook:get".into(),
            change: Change::Gained,
        }],
        omitted: 2,
        pairs_compared: 5,
        pairs_total: 9,
        complete: false,
    };
    let s = summary(&d, 5);
    assert!(
        s.starts_with("access diff: 1 gained, 2 lost (incomplete: 5 of 9 pairs compared)"),
        "{s}"
    );
    assert!(
        s.contains("gained iam::a:user:u modelarts:notebook:get"),
        "{s}"
    );
    assert!(s.ends_with("… 2 more"), "{s}");
}

/// A reload of `dir` reusing `live`'s compiled files (what the reloader does).
fn reload(dir: &Path, live: &Snapshot) -> Snapshot {
    let routes = Path::new(REPO).join("routes");
    Snapshot::load_dirs_reusing(&routes, dir, None, &live.directory.compiled, Reread::All).unwrap()
}

fn user<'s>(s: &'s Snapshot, name: &str) -> &'s Principal {
    s.directory.find_user(name, None)[0]
}

/// The diff against a reload (unchanged principals share their compiled
/// policies and are skipped) equals the diff against a load from scratch
/// (nothing shared: every pair evaluated), for a changed identity policy,
/// a changed SCP and a changed accounts.toml.
#[test]
fn a_reload_diffs_exactly_like_a_load_from_scratch() {
    let edits: [(&str, &str, &str); 3] = [
        (
            "huawei/identity/NotebookReadOnly.json",
            r#" "modelarts:notebook:get","#,
            "",
        ),
        (
            "huawei/scp/DenyPoolDelete.json",
            "modelarts:pool:delete",
            "modelarts:notebook:delete",
        ),
        (
            "accounts.toml",
            "name = \"operator\"\npolicies = [\"ModelArtsFullAccess\"]",
            "name = \"operator\"\npolicies = [\"NotebookFullAccess\"]",
        ),
    ];
    for (file, from, to) in edits {
        let (_tmp, dir) = copy_tree();
        let live = load(&dir);
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        let (reloaded, scratch) = (reload(&dir, &live), load(&dir));
        let by_reload = diff(&live, &reloaded, &regions(), &Limits::default());
        let by_scratch = diff(&live, &scratch, &regions(), &Limits::default());
        assert!(!by_scratch.is_empty(), "{file}: the edit changes access");
        assert_eq!(by_reload, by_scratch, "{file}");
    }
}

#[test]
fn only_principals_whose_compiled_policies_changed_are_evaluated() {
    let (_tmp, dir) = copy_tree();
    let live = load(&dir);
    let path = dir.join("huawei/identity/NotebookReadOnly.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("ReadNotebooks", "ReadAgain")).unwrap();
    let reloaded = reload(&dir, &live);
    // operator's policies did not change; reader's group policy did.
    assert!(same_subject(
        user(&live, "operator"),
        user(&reloaded, "operator")
    ));
    assert!(!same_subject(
        user(&live, "reader"),
        user(&reloaded, "reader")
    ));
    // Compiled apart, equal policies are not the same ones.
    let scratch = load(&dir);
    assert!(!same_subject(
        user(&reloaded, "operator"),
        user(&scratch, "operator")
    ));

    // With no time at all, a reload that changed nothing is still compared
    // completely (nothing needs evaluating), a load from scratch is not.
    let unchanged = reload(&dir, &reloaded);
    let no_time = Limits {
        deadline: Some(Instant::now()),
        ..Limits::default()
    };
    let d = diff(&reloaded, &unchanged, &regions(), &no_time);
    assert!(d.complete && d.is_empty(), "{d:?}");
    assert_eq!(d.pairs_compared, d.pairs_total);
    let d = diff(&reloaded, &scratch, &regions(), &no_time);
    assert!(!d.complete, "{d:?}");

    // The pair budget counts evaluations only: room for one principal's
    // actions completes a reload where one principal's policies changed
    // (reader's group policy: reader alone), not a load from scratch.
    let one_principal = Limits {
        max_pairs: d.pairs_total / reloaded.directory.principals.len(),
        ..Limits::default()
    };
    let d = diff(&live, &reloaded, &regions(), &one_principal);
    assert!(d.complete, "{d:?}");
    assert_eq!(d.pairs_compared, d.pairs_total);
    let d = diff(&live, &scratch, &regions(), &one_principal);
    assert!(!d.complete, "{d:?}");
    assert!(d.pairs_compared <= one_principal.max_pairs, "{d:?}");
}
