//! `iamgate check` as operators run it: the real binary on the repository's
//! own tree (passes) and on the broken fixture trees under
//! tests/data/broken/ (each fails with the right file and place), plus the
//! lint warnings that never fail a check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/data/broken").join(name)
}

/// Run `iamgate <args>` in `dir`; (exit code, stdout, stderr).
fn iamgate(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(args)
        .current_dir(dir)
        .env("IAMGATE_LOG", "warn")
        .output()
        .expect("run iamgate");
    (
        status.code().expect("exit code"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The repository's tree in a temp dir, credentials private.
fn repo_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("iamgate.toml"), tmp.path().join("iamgate.toml")).unwrap();
    common::copy_tree(&repo().join("routes"), &tmp.path().join("routes"));
    common::copy_tree(&repo().join("policies"), &tmp.path().join("policies"));
    #[cfg(unix)]
    chmod(&tmp.path().join("policies/credentials.toml"), 0o600);
    tmp
}

/// The check fails with exactly one error, at `location`, containing `needle`.
fn fails_at(tree: &str, location: &str, needle: &str) {
    let (code, out, err) = iamgate(&fixture(tree), &["check"]);
    assert_eq!(code, 1, "{tree}: {out}{err}");
    assert_eq!(out.trim(), "1 error, 0 warnings", "{tree}: {out}");
    let line = err
        .lines()
        .find(|l| l.contains(": error: "))
        .unwrap_or_else(|| panic!("{tree}: no error line in {err}"));
    assert!(
        line.starts_with(&format!("{location}: error: ")),
        "{tree}: {line:?} is not at {location}"
    );
    assert!(line.contains(needle), "{tree}: {line:?} lacks {needle:?}");
    assert!(line.contains("(hint: "), "{tree}: no hint in {line:?}");
}

#[test]
fn the_repository_tree_passes() {
    let tmp = repo_copy();
    let (code, out, err) = iamgate(tmp.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ok: "), "{out}");
    assert!(out.contains(" routes, ") && out.contains(" principals (snapshot "));
    assert!(!err.contains("error"), "{err}");
    assert!(!err.contains("chmod 600"), "{err}");
}

#[test]
fn the_repository_tree_passes_in_place_with_config_flag() {
    let (code, out, err) = iamgate(&repo(), &["check", "--config", "iamgate.toml"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ok: "), "{out}");
    // The sample credentials may be checked out 0644: a warning, never an error.
    assert!(!err.contains(": error: "), "{err}");
}

#[test]
fn the_minimal_fixture_base_passes() {
    let (code, out, err) = iamgate(&fixture("base"), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("ok: 2 routes, 1 policies, 2 principals"),
        "{out}"
    );
}

#[test]
fn bad_json_in_a_policy_has_line_and_column() {
    fails_at(
        "bad-json",
        "policies/huawei/identity/NotebookRead.json:4:62",
        "invalid JSON",
    );
}

#[test]
fn a_duplicate_key_in_a_policy_has_line_and_column() {
    // serde_json would keep the second Condition and drop the IpAddress one.
    fails_at(
        "duplicate-key",
        "policies/huawei/identity/NotebookRead.json:8:17",
        "duplicate key `Condition` in /Statement/0",
    );
}

#[test]
fn resource_patterns_load_and_the_unmatchable_ones_warn() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(&fixture("resource-patterns"), tmp.path());
    let (code, out, err) = iamgate(tmp.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("ok: ") && out.contains(", 2 warnings"),
        "{out}{err}"
    );
    let file = "policies/huawei/identity/NotebookRead.json";
    for (place, needle) in [
        (
            "/Statement/0/Resource/1",
            "no resource of service `modelarts`",
        ),
        ("/Statement/0/Resource/3", "no huawei URN"),
    ] {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("{file}#{place}: warning: ")))
            .unwrap_or_else(|| panic!("no warning at {place} in\n{err}"));
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        assert!(line.contains("(hint: "), "{line:?}");
    }
    // `modelarts:*`, another service's URN, `?` and the NotResource glob are quiet.
    assert_eq!(err.matches(": warning: ").count(), 2, "{err}");
}

#[test]
fn wrong_version_points_at_version() {
    fails_at(
        "wrong-version",
        "policies/huawei/identity/NotebookRead.json#/Version",
        "\"5.0\"",
    );
}

#[test]
fn unknown_operator_points_into_the_condition() {
    fails_at(
        "unknown-operator",
        "policies/huawei/identity/NotebookRead.json#/Statement/0/Condition/StringEqualz",
        "unknown operator",
    );
}

#[test]
fn bad_cidr_points_at_the_key() {
    fails_at(
        "bad-cidr",
        "policies/huawei/identity/NotebookRead.json#/Statement/0/Condition/IpAddress/g:SourceIp",
        "10.1.2.300/33",
    );
}

#[test]
fn unknown_policy_attached_to_a_user() {
    fails_at(
        "unknown-policy",
        "policies/accounts.toml#/account/0/user/0/policies/0",
        "NotebookReadOnly",
    );
}

#[test]
fn unknown_key_in_accounts_has_line_and_column() {
    fails_at(
        "unknown-account-key",
        "policies/accounts.toml:5:1",
        "unknown field `colour`",
    );
}

#[test]
fn route_naming_an_unknown_action() {
    fails_at(
        "unknown-route-action",
        "routes/modelarts.toml#/route/0/actions/0",
        "modelarts:notebook:show",
    );
}

#[test]
fn config_with_an_unknown_key() {
    fails_at(
        "config-unknown-key",
        "iamgate.toml:3:1",
        "unknown field `admin_listn`",
    );
}

#[test]
fn an_explicit_empty_scp_list_is_an_error() {
    fails_at(
        "empty-scp-list",
        "policies/accounts.toml#/organization/0/policies",
        "every node needs at least one SCP",
    );
}

#[test]
fn every_error_of_a_tree_is_reported_at_once() {
    let (code, out, err) = iamgate(&fixture("many-errors"), &["check"]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(out.trim(), "6 errors, 0 warnings");
    for location in [
        "iamgate.toml:3:1",
        "routes/modelarts.toml#/route/0/actions/0",
        "policies/huawei/identity/BadCondition.json#/Statement/0/Condition/IpAddress/g:SourceIp",
        "policies/huawei/identity/BadCondition.json#/Statement/0/Condition/StringEqualz",
        "policies/huawei/identity/Broken.json:4:62",
        "policies/huawei/identity/NotebookRead.json#/Version",
    ] {
        let wanted = format!("{location}: error: ");
        assert!(
            err.lines().any(|l| l.starts_with(&wanted)),
            "{location} missing from\n{err}"
        );
    }
}

#[test]
fn places_are_relative_to_the_config_given() {
    let (code, _, err) = iamgate(
        &repo(),
        &[
            "check",
            "--config",
            "tests/data/broken/bad-json/iamgate.toml",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains(
            "tests/data/broken/bad-json/policies/huawei/identity/NotebookRead.json:4:62: error: "
        ),
        "{err}"
    );
}

#[test]
fn a_missing_config_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = iamgate(tmp.path(), &["check", "--config", "nope.toml"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("nope.toml: error: cannot read"), "{err}");
}

#[cfg(unix)]
#[test]
fn lint_warnings_are_reported_and_never_fail() {
    let tmp = tempfile::tempdir().unwrap();
    common::copy_tree(&fixture("lint-warnings"), tmp.path());
    chmod(&tmp.path().join("policies/credentials.toml"), 0o644);
    let (code, out, err) = iamgate(tmp.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("ok: ") && out.contains(", 5 warnings"),
        "{out}"
    );
    for (location, needle) in [
        ("policies/credentials.toml", "chmod 600"),
        (
            "policies/huawei/identity/NotebookRead.json#/Statement/0/Condition/StringEquals/g:ResourceTag~1team",
            "modelarts:notebook:list",
        ),
        ("policies/huawei/scp/OldStyle.json#/Statement/0/Resource", "Allow"),
        ("policies/huawei/scp/OldStyle.json#/Statement/0/Condition", "Condition on an Allow"),
        ("policies/huawei/scp/OldStyle.json#/Statement/0/Action/0", "modelarts:*:get"),
    ] {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("{location}: warning: ")))
            .unwrap_or_else(|| panic!("no warning at {location} in\n{err}"));
        assert!(line.contains(needle), "{line:?} lacks {needle:?}");
        assert!(line.contains("(hint: "), "{line:?}");
    }
    // Keys the action lists, global keys and action patterns are not flagged.
    assert!(!err.contains("notebook:get (the route"), "{err}");
    assert!(!err.contains("g:SourceIp"), "{err}");
    assert!(!err.contains("Statement/1"), "{err}");

    chmod(&tmp.path().join("policies/credentials.toml"), 0o600);
    let (code, out, err) = iamgate(tmp.path(), &["check"]);
    assert_eq!(code, 0);
    assert!(out.contains(", 4 warnings"), "{out}");
    assert!(!err.contains("chmod 600"), "{err}");
}

#[test]
fn check_help_documents_exit_codes() {
    let (code, out, _) = iamgate(&repo(), &["check", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("1 on any error"), "{out}");
}
