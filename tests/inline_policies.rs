//! Inline identity policies in `accounts.toml`, as operators use them: the
//! real binary's `explain` names the inline policy that decided, and
//! `check` accepts the tree.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const INLINE_ACCOUNT: &str = r#"
[[account]]
id = "inline0003"
name = "inline-corp"
cloud = "huawei"

[[account.project]]
id = "p-inline-cn4"
name = "cn-north-4"
region = "cn-north-4"

[[account.group]]
name = "listers"
policy = { Version = "5.0", Statement = [{ Effect = "Allow", Action = ["modelarts:notebook:list"] }] }

[[account.user]]
name = "scripted"
groups = ["listers"]
policy = '''
{
  "Version": "5.0",
  "Statement": [{"Effect": "Allow", "Action": ["modelarts:notebook:get"], "Resource": ["modelarts:*:*:notebook:*"]}]
}
'''
"#;

fn tree(tmp: &Path) -> std::path::PathBuf {
    let policies = tmp.join("policies");
    common::copy_tree(&common::manifest("policies"), &policies);
    let accounts = policies.join("accounts.toml");
    let mut text = std::fs::read_to_string(&accounts).unwrap();
    text.push_str(INLINE_ACCOUNT);
    std::fs::write(&accounts, text).unwrap();
    policies
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(args)
        .current_dir(common::manifest(""))
        .env("IAMGATE_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn explain(policies: &Path, method: &str, path: &str) -> (i32, Value) {
    let (code, out, err) = run(&[
        "explain",
        "--policies",
        policies.to_str().unwrap(),
        "--user",
        "scripted",
        "--method",
        method,
        "--path",
        path,
        "--json",
    ]);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, v)
}

#[test]
fn explain_names_the_inline_policy_of_the_user_and_of_its_group() {
    let tmp = tempfile::tempdir().unwrap();
    let policies = tree(tmp.path());
    let (code, v) = explain(&policies, "GET", "/v1/p-inline-cn4/notebooks/nb1");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["reason"]["policy"], "inline/inline0003/user/scripted/0");
    let (code, v) = explain(&policies, "GET", "/v1/p-inline-cn4/notebooks");
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["reason"]["policy"], "inline/inline0003/group/listers/0");
    let (code, v) = explain(&policies, "DELETE", "/v1/p-inline-cn4/notebooks/nb1");
    assert_eq!(code, 2, "{v:#}");
}

#[test]
fn check_accepts_inline_policies_and_places_their_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let policies = tree(tmp.path());
    let config = tmp.path().join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n[upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        common::manifest("routes"),
        policies
    );
    std::fs::write(&config, text).unwrap();
    let (code, out, err) = run(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let accounts = policies.join("accounts.toml");
    let broken = std::fs::read_to_string(&accounts).unwrap().replace(
        "\"Effect\": \"Allow\", \"Action\": [\"modelarts:notebook:get\"]",
        "\"Effect\": \"Allow\", \"Action\": [\"modelarts\"]",
    );
    std::fs::write(&accounts, broken).unwrap();
    let (code, _, err) = run(&["check", "--config", config.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "accounts.toml#/account/4/user/0/policy/Statement/0/Action/0: error: inline policy: "
        ),
        "{err}"
    );
}
