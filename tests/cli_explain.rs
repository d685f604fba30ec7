//! `iamgate explain` as operators run it: the real binary against the
//! repository's sample tree (and small temp policy trees via `--policies`),
//! asserting decisions, reasons, per-statement outcomes, `--json` fields and
//! exit codes (0 allowed, 2 denied, 1 usage or load error).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `iamgate explain <args>` at the repository root.
fn explain(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("explain")
        .args(args)
        .current_dir(repo())
        .env("IAMGATE_LOG", "warn")
        .output()
        .expect("run iamgate");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn explain_json(args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out, err) = explain(&all);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, v)
}

const POOL_DELETE: &[&str] = &["--method", "DELETE", "--path", "/v2/p-acme-cn4/pools/p1"];
const UPDATE_RED: &[&str] = &[
    "--method",
    "PUT",
    "--path",
    "/v1/p-acme-cn4/notebooks/nb-red",
];

fn with<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

#[test]
fn scp_denies_pool_delete_for_operator() {
    let (code, out, err) = explain(&with(&["--user", "operator"], POOL_DELETE));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("decision: explicit deny\n"), "{out}");
    assert!(
        out.contains(
            "because: DenyPoolDelete#0 (ProtectResourcePools) at organisation level 1 (ou-prod)"
        ),
        "{out}"
    );
    assert!(
        out.contains("principal: iam::acme0001:user:operator"),
        "{out}"
    );
    assert!(
        out.contains("action modelarts:pool:delete on modelarts:cn-north-4:acme0001:pool:p1"),
        "{out}"
    );
    // Every statement, org levels root → account, then identity policies.
    let statements: Vec<&str> = out.lines().filter(|l| l.starts_with("  [")).collect();
    assert_eq!(
        statements,
        [
            "  [org level 0 (r-demo)] FullAccess#0 Allow: matched",
            "  [org level 1 (ou-prod)] FullAccess#0 Allow: matched",
            "  [org level 1 (ou-prod)] DenyPoolDelete#0 (ProtectResourcePools) Deny: matched",
            "  [org level 2 (acme0001)] FullAccess#0 Allow: matched",
            "  [identity] ModelArtsFullAccess#0 (EverythingInModelArts) Allow: matched",
        ]
    );
    // Context keys the gateway would supply, connection keys left absent.
    assert!(
        out.contains("  g:requestedregion = \"cn-north-4\""),
        "{out}"
    );
    assert!(out.contains("  modelarts:poolid = \"p1\""), "{out}");
    assert!(!out.contains("g:sourceip ="), "{out}");
    assert!(
        out.contains("absent (give them with --context): g:SourceIp"),
        "{out}"
    );
}

#[test]
fn reader_may_get_a_notebook_by_action_and_resource() {
    let (code, out, err) = explain(&[
        "--user",
        "reader",
        "--action",
        "modelarts:notebook:get",
        "--resource",
        "modelarts:cn-north-4:acme0001:notebook:nb1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("decision: allow\n"), "{out}");
    assert!(
        out.contains("because: NotebookReadOnly#0 (ReadNotebooks)"),
        "{out}"
    );
    assert!(
        out.contains("project p-acme-cn4, region cn-north-4"),
        "{out}"
    );
}

#[test]
fn tagger_may_not_update_a_red_notebook() {
    let (code, out, err) = explain(&with(&["--user", "tagger"], UPDATE_RED));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("decision: implicit deny\n"), "{out}");
    assert!(
        out.contains("because: no identity-based policy allows it"),
        "{out}"
    );
    assert!(
        out.contains(
            "[identity] NotebookTeamBlue#1 (OnlyTeamBlueNotebooks) Allow: condition failed: StringEquals g:ResourceTag/team, request value \"red\""
        ),
        "{out}"
    );
    assert!(out.contains("  g:resourcetag/team = \"red\""), "{out}");
}

#[test]
fn tagger_may_update_a_blue_notebook() {
    let path = "/v1/p-acme-cn4/notebooks/nb-blue";
    let (code, out, _) = explain(&["--user", "tagger", "--method", "PUT", "--path", path]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("because: NotebookTeamBlue#1 (OnlyTeamBlueNotebooks)"));
}

#[test]
fn a_context_override_flips_the_decision() {
    let args = with(
        &["--user", "tagger", "--context", "g:ResourceTag/team=blue"],
        UPDATE_RED,
    );
    let (code, out, err) = explain(&args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("decision: allow\n"), "{out}");
    assert!(out.contains("  g:resourcetag/team = \"blue\""), "{out}");
}

#[test]
fn json_output_for_a_denial() {
    let (code, v) = explain_json(&with(&["--user", "operator"], POOL_DELETE));
    assert_eq!(code, 2);
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["kind"], "explicit_deny");
    assert_eq!(v["reason"]["type"], "statement");
    assert_eq!(v["reason"]["policy"], "DenyPoolDelete");
    assert_eq!(v["reason"]["index"], 0);
    assert_eq!(v["reason"]["source"]["type"], "org");
    assert_eq!(v["reason"]["source"]["level"], 1);
    assert_eq!(v["reason"]["source"]["node"], "ou-prod");
    assert_eq!(v["principal"], "iam::acme0001:user:operator");
    assert_eq!(
        v["context"]["g:principalurn"][0],
        "iam::acme0001:user:operator"
    );
    let requests = v["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r["action"], "modelarts:pool:delete");
    assert_eq!(r["resource"], "modelarts:cn-north-4:acme0001:pool:p1");
    assert_eq!(r["decision"], "explicit_deny");
    let statements = r["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 5);
    let deny = &statements[2];
    assert_eq!(deny["statement"]["policy"], "DenyPoolDelete");
    assert_eq!(deny["effect"], "Deny");
    assert_eq!(deny["outcome"], "matched");
}

#[test]
fn json_output_shows_the_failed_condition() {
    let (code, v) = explain_json(&with(&["--user", "tagger"], UPDATE_RED));
    assert_eq!(code, 2);
    assert_eq!(v["kind"], "implicit_deny");
    assert_eq!(v["reason"]["type"], "no_identity_allow");
    let failed: Vec<&Value> = v["requests"][0]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "condition_failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["operator"], "StringEquals");
    assert_eq!(failed[0]["key"], "g:ResourceTag/team");
    assert_eq!(failed[0]["request_values"], serde_json::json!(["red"]));
}

#[test]
fn json_output_for_an_allow() {
    let (code, v) = explain_json(&[
        "--user",
        "reader",
        "--action",
        "modelarts:notebook:get",
        "--resource",
        "modelarts:cn-north-4:acme0001:notebook:nb1",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["kind"], "allow");
    assert_eq!(v["reason"]["policy"], "NotebookReadOnly");
    assert_eq!(v["reason"]["source"]["type"], "identity");
    assert_eq!(v["requests"][0]["decision"], "allow");
}

#[test]
fn scps_bound_the_root_identity_too() {
    let (code, v) = explain_json(&with(&["--root", "--account", "acme0001"], POOL_DELETE));
    assert_eq!(code, 2);
    assert_eq!(v["principal"], "iam::acme0001:root");
    assert_eq!(v["reason"]["policy"], "DenyPoolDelete");
    let (code, v) = explain_json(&[
        "--root",
        "--account",
        "acme0001",
        "--action",
        "modelarts:notebook:get",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["reason"]["type"], "root_user");
}

#[test]
fn a_project_of_another_account_is_refused() {
    let (code, out, _) = explain(&with(&["--user", "solo"], POOL_DELETE));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("project p-acme-cn4"), "{out}");
    assert!(
        out.contains("not to the caller's account solo0002"),
        "{out}"
    );
    let (_, v) = explain_json(&with(&["--user", "solo"], POOL_DELETE));
    assert_eq!(v["kind"], "project_denied");
    assert_eq!(v["reason"]["type"], "project");
    // In its own project, with no organisation above it, solo may delete pools.
    let own = ["--method", "DELETE", "--path", "/v2/p-solo-cn4/pools/p1"];
    let (code, out, _) = explain(&with(&["--user", "solo"], &own));
    assert_eq!(code, 0, "{out}");
}

#[test]
fn alibaba_control_policy_denies_runtime_delete() {
    let (code, v) = explain_json(&[
        "--user",
        "guarded",
        "--method",
        "DELETE",
        "--path",
        "/2025-09-10/agents/runtimes/rt-1",
    ]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["kind"], "explicit_deny");
    assert_eq!(v["reason"]["policy"], "DenyAgentRuntimeDelete");
    assert!(v["context"]["acs:currenttime"].is_array(), "{v}");
}

#[test]
fn usage_and_lookup_errors_exit_1() {
    let (code, _, err) = explain(&["--user", "nobody", "--action", "modelarts:notebook:get"]);
    assert_eq!(code, 1);
    assert!(err.contains("no user `nobody`"), "{err}");
    let (code, _, err) = explain(&["--user", "reader", "--method", "GET", "--path", "/v1/nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no route"), "{err}");
    let (code, _, _) = explain(&["--user", "reader"]);
    assert_eq!(code, 1);
    let (code, _, err) = explain(&["--user", "reader", "--action", "a:b:c", "--context", "oops"]);
    assert_eq!(code, 1);
    assert!(err.contains("key=value"), "{err}");
    let (code, _, _) = explain(&["--user", "reader", "--action", "a:b:c", "--now", "soon"]);
    assert_eq!(code, 1);
    let (code, _, err) = explain(&[
        "--user",
        "runner",
        "--method",
        "GET",
        "--path",
        "/v1/p-acme-cn4/notebooks",
    ]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn help_documents_exit_codes() {
    let (code, out, _) = explain(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("0 allowed, 2 denied"), "{out}");
    assert!(out.contains("1 on usage or load errors"), "{out}");
}

/// A one-account Huawei policy tree with `policy` attached to user `temp`.
fn temp_tree(policy: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("huawei/identity")).unwrap();
    std::fs::write(
        dir.join("accounts.toml"),
        r#"
[[account]]
id = "acc1"
name = "acme"
cloud = "huawei"

[[account.project]]
id = "p1"
name = "cn-north-4"
region = "cn-north-4"

[[account.user]]
name = "temp"
policies = ["Temp"]
"#,
    )
    .unwrap();
    std::fs::write(dir.join("huawei/identity/Temp.json"), policy).unwrap();
    tmp
}

fn explain_in(tree: &Path, extra: &[&str]) -> (i32, String) {
    let policies = tree.to_str().unwrap();
    let mut args = vec![
        "--policies",
        policies,
        "--user",
        "temp",
        "--action",
        "modelarts:notebook:get",
        "--resource",
        "modelarts:cn-north-4:acc1:notebook:nb1",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = explain(&args);
    (code, out + &err)
}

#[test]
fn now_fixes_the_time_for_date_conditions() {
    let tree = temp_tree(
        r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"modelarts:notebook:get",
            "Condition":{"DateLessThan":{"g:CurrentTime":"2026-01-01T00:00:00Z"}}}]}"#,
    );
    let (code, out) = explain_in(tree.path(), &["--now", "2025-12-31T23:59:59Z"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("g:currenttime = \"2025-12-31T23:59:59Z\""),
        "{out}"
    );
    let (code, out) = explain_in(tree.path(), &["--now", "2026-01-01T00:00:01Z"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "condition failed: DateLessThan g:CurrentTime, request value \"2026-01-01T00:00:01Z\""
        ),
        "{out}"
    );
}

#[test]
fn a_json_array_sets_a_multi_valued_key() {
    let tree = temp_tree(
        r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"modelarts:notebook:get",
            "Condition":{"ForAllValues:StringEquals":{"g:TagKeys":["a","b"]},
                         "ForAnyValue:StringEquals":{"g:TagKeys":["a"]}}}]}"#,
    );
    let (code, out) = explain_in(tree.path(), &["--context", r#"g:TagKeys=["a","b"]"#]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = explain_in(tree.path(), &["--context", r#"g:TagKeys=["a","c"]"#]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ForAllValues:StringEquals g:TagKeys"), "{out}");
    let (code, out) = explain_in(tree.path(), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ForAnyValue:StringEquals g:TagKeys"), "{out}");
}

#[test]
fn load_errors_of_the_policy_tree_exit_1_with_places() {
    let tree = temp_tree(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"x:y:z"}]}"#);
    let (code, out) = explain_in(tree.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Temp.json#/Version: error: "), "{out}");
}
