//! RAM roles at the command line: `iamgate check` on trust policies (an
//! unknown principal form is an error with its place; a role no one can
//! assume is a warning) and `iamgate explain --role` (a session of the role,
//! narrowed by `--session-policy`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `iamgate <args>` in `dir`: (exit code, stdout + stderr).
fn iamgate(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(args)
        .current_dir(dir)
        .env("IAMGATE_LOG", "warn")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

/// The repository's tree in a temp dir with `roles` appended to the last
/// account (agentrun-prod, 6543210987654321).
fn tree_with(roles: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("iamgate.toml"), tmp.path().join("iamgate.toml")).unwrap();
    common::copy_tree(&repo().join("routes"), &tmp.path().join("routes"));
    common::copy_tree(&repo().join("policies"), &tmp.path().join("policies"));
    let accounts = tmp.path().join("policies/accounts.toml");
    let mut text = std::fs::read_to_string(&accounts).unwrap();
    text.push_str(roles);
    std::fs::write(&accounts, text).unwrap();
    tmp
}

fn role(name: &str, principal: &str) -> String {
    format!(
        "\n[[account.role]]\nname = \"{name}\"\ntrust_policy = '{{\"Version\":\"1\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{principal}}}]}}'\n"
    )
}

#[test]
fn the_sample_roles_check_clean() {
    let (code, out) = iamgate(&repo(), &["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("role"), "{out}");
}

#[test]
fn an_unknown_principal_form_is_an_error_at_its_place() {
    let tmp = tree_with(&role(
        "Odd",
        r#"{"RAM":"acs:ram::6543210987654321:group/dev"}"#,
    ));
    let (code, out) = iamgate(tmp.path(), &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("policies/accounts.toml#/account/3/role/1/trust_policy/Statement/0/Principal"),
        "{out}"
    );
    assert!(
        out.contains("unknown RAM principal `acs:ram::6543210987654321:group/dev`"),
        "{out}"
    );
}

#[test]
fn a_role_no_one_can_assume_is_a_warning() {
    let nobody = role(
        "Nobody",
        r#"{"RAM":"acs:ram::6543210987654321:user/ghost"}"#,
    );
    let denied = "\n[[account.role]]\nname = \"DenyOnly\"\ntrust_policy = '{\"Version\":\"1\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"RAM\":\"acs:ram::6543210987654321:root\"}}]}'\n";
    let fine = role("Fine", r#"{"Service":"fc.aliyuncs.com"}"#);
    let tmp = tree_with(&format!("{nobody}{denied}{fine}"));
    let (code, out) = iamgate(tmp.path(), &["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "#/account/3/role/1/trust_policy: warning: no one here can assume role `Nobody`"
        ),
        "{out}"
    );
    assert!(
        out.contains("#/account/3/role/2/trust_policy: warning: no one can assume role `DenyOnly`"),
        "{out}"
    );
    assert!(!out.contains("`Fine`"), "{out}");
}

#[test]
fn duplicate_role_names_ignore_case() {
    let tmp = tree_with(&format!(
        "{}{}",
        role("Twin", r#"{"Service":"fc.aliyuncs.com"}"#),
        role("TWIN", r#"{"Service":"fc.aliyuncs.com"}"#)
    ));
    let (code, out) = iamgate(tmp.path(), &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("duplicate role `TWIN`"), "{out}");
}

#[test]
fn explain_role_answers_for_a_session_of_the_role() {
    let (code, out) = iamgate(
        &repo(),
        &[
            "explain",
            "--role",
            "agentrunreader",
            "--method",
            "GET",
            "--path",
            "/2025-09-10/templates",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "principal: acs:ram::1234567890123456:assumed-role/agentrunreader/iamgate-explain"
        ),
        "{out}"
    );
    assert!(
        out.contains("acs:principalarn = \"acs:ram::1234567890123456:role/agentrunreader\""),
        "{out}"
    );
    let (code, out) = iamgate(
        &repo(),
        &[
            "explain",
            "--role",
            "AgentRunReader",
            "--method",
            "POST",
            "--path",
            "/2025-09-10/templates",
        ],
    );
    assert_eq!(code, 2, "{out}");
}

#[test]
fn explain_role_with_a_session_policy_narrows() {
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("session.json");
    std::fs::write(&policy, r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"agentrun:List*","Resource":"*"}]}"#).unwrap();
    let p = policy.to_str().unwrap();
    let (code, out) = iamgate(
        &repo(),
        &[
            "explain",
            "--role",
            "AgentRunReader",
            "--session-policy",
            p,
            "--method",
            "GET",
            "--path",
            "/2025-09-10/templates/t1",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("the role allows it, but the session policy does not"),
        "{out}"
    );
    assert!(
        out.contains("[session policy] session-policy#0 Allow: action not matched"),
        "{out}"
    );
    let (code, _) = iamgate(
        &repo(),
        &[
            "explain",
            "--role",
            "AgentRunReader",
            "--session-policy",
            p,
            "--method",
            "GET",
            "--path",
            "/2025-09-10/templates",
        ],
    );
    assert_eq!(code, 0);
    let (code, out) = iamgate(
        &repo(),
        &[
            "explain",
            "--role",
            "NoSuchRole",
            "--action",
            "agentrun:ListTemplates",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no role `NoSuchRole`"), "{out}");
}
