//! The snapshot digest names exactly the bytes that were compiled: every
//! route and policy file, with its path under its root, in path order.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use iamgate::snapshot::Snapshot;

/// Copy the repository's `routes/` and `policies/` under `root`.
fn sample_at(root: &Path) {
    common::copy_tree(&common::manifest("routes"), &root.join("routes"));
    common::copy_tree(&common::manifest("policies"), &root.join("policies"));
}

fn digest_of(root: &Path) -> String {
    Snapshot::load_dirs(&root.join("routes"), &root.join("policies"), None)
        .unwrap()
        .digest
}

#[test]
fn identical_trees_at_different_locations_have_the_same_digest() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    sample_at(a.path());
    sample_at(&b.path().join("deeper/still"));
    assert_eq!(
        digest_of(a.path()),
        digest_of(&b.path().join("deeper/still"))
    );
}

#[test]
fn the_digest_changes_when_any_compiled_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    sample_at(root);
    let mut seen = vec![digest_of(root)];
    let files = [
        "routes/agentrun.toml",
        "policies/accounts.toml",
        "policies/resources.toml",
        "policies/huawei/scp/DenyPoolDelete.json",
        "policies/aliyun/identity/agentrun-template-read.json",
    ];
    for rel in files {
        let path = root.join(rel);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push('\n'); // same meaning, other bytes
        std::fs::write(&path, text).unwrap();
        let next = digest_of(root);
        assert!(!seen.contains(&next), "{rel} changed, digest did not");
        seen.push(next);
    }
}
