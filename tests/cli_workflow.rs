//! `iamgate learn`, `replay` and `coverage` as operators run them: the real
//! binary on small hand-written decision logs (the schema of
//! docs/decision-log.md) against the sample tree and edited copies of it,
//! asserting outputs and exit codes (replay: 0 unchanged, 3 changed, 1 error).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const NB1: &str = "modelarts:cn-north-4:acme0001:notebook:nb1";

fn run(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(args)
        .current_dir(common::manifest(""))
        .env("IAMGATE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// alice's `GET /v1/p-acme-cn4/notebooks/nb1`, allowed by NotebookFullAccess.
fn alice_get() -> Value {
    json!({"schema": 1, "request_id": "r1", "method": "GET", "path": "/v1/p-acme-cn4/notebooks/nb1",
        "principal": "iam::acme0001:user:alice", "service": "modelarts", "operation": "show_notebook",
        "actions": [{"action": "modelarts:notebook:get", "resource": NB1, "decision": "allow",
            "reason": {"type": "statement", "source": {"type": "identity"}, "policy": "NotebookFullAccess", "index": 0, "sid": "AllNotebookActions"},
            "context": {}}],
        "context": {}, "decision": "allow", "status": 200})
}

fn write_log(dir: &Path, lines: &[Value]) -> String {
    let path = dir.join("decisions.jsonl");
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

/// A copy of the sample tree with NotebookFullAccess replaced by `policy`.
fn tree_with(dir: &Path, policy: Value) -> String {
    let tree = dir.join("tree");
    common::copy_tree(&common::manifest("policies"), &tree);
    let file = tree.join("huawei/identity/NotebookFullAccess.json");
    std::fs::write(file, policy.to_string()).unwrap();
    tree.to_str().unwrap().to_string()
}

fn replay(log: &str, tree: &str) -> (i32, Value) {
    let (code, out, err) = run(&["replay", log, "--policies", tree, "--json"], None);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}")),
    )
}

#[test]
fn replay_against_the_same_policies_changes_nothing_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let unauthenticated =
        json!({"schema": 1, "principal": null, "decision": "unauthenticated", "actions": []});
    let log = write_log(dir.path(), &[alice_get(), unauthenticated]);
    let (code, out, err) = run(&["replay", &log, "--policies", "policies"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("replayed 1 request(s)"), "{out}");
    assert!(out.contains("0 newly denied, 0 newly allowed, 0 reason changed, 0 undecidable (1 line(s) without a policy decision skipped)"), "{out}");
}

#[test]
fn a_narrower_policy_makes_the_request_newly_denied_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), &[alice_get()]);
    let tree = tree_with(
        dir.path(),
        json!({"Version": "5.0", "Statement": [
        {"Effect": "Allow", "Action": ["modelarts:notebook:list"], "Resource": ["*"]}]}),
    );
    let (code, report) = replay(&log, &tree);
    assert_eq!(code, 3);
    assert_eq!(report["newly_denied"], 1, "{report:#}");
    let change = &report["changes"][0];
    assert_eq!(change["change"], "newly_denied");
    assert_eq!(
        (change["before"].as_str(), change["after"].as_str()),
        (Some("allow"), Some("implicit_deny"))
    );
    assert_eq!(
        change["actions"][0]["reason"],
        json!({"type": "no_identity_allow"})
    );
}

#[test]
fn another_allowing_statement_is_a_reason_change() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), &[alice_get()]);
    let tree = tree_with(
        dir.path(),
        json!({"Version": "5.0", "Statement": [
        {"Sid": "Other", "Effect": "Allow", "Action": ["modelarts:notebook:get"], "Resource": ["*"]}]}),
    );
    let (code, report) = replay(&log, &tree);
    assert_eq!(code, 3);
    assert_eq!(report["reason_changed"], 1, "{report:#}");
    assert_eq!(report["changes"][0]["actions"][0]["reason"]["sid"], "Other");
}

#[test]
fn a_condition_on_a_key_the_log_never_recorded_is_undecidable() {
    let dir = tempfile::tempdir().unwrap();
    let mut tagged = alice_get();
    tagged["request_id"] = json!("r2");
    tagged["context"] = json!({"g:resourcetag/team": ["blue"]});
    let log = write_log(dir.path(), &[alice_get(), tagged]);
    let tree = tree_with(
        dir.path(),
        json!({"Version": "5.0", "Statement": [
        {"Effect": "Allow", "Action": ["modelarts:notebook:get"], "Resource": ["*"],
         "Condition": {"StringEquals": {"g:ResourceTag/team": ["blue"]}}}]}),
    );
    let (code, report) = replay(&log, &tree);
    assert_eq!(code, 3);
    assert_eq!(report["undecidable"], 1, "{report:#}");
    let undecidable = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["change"] == "undecidable")
        .unwrap();
    assert_eq!(undecidable["request_id"], "r1");
    assert_eq!(undecidable["unknown_keys"], json!(["g:resourcetag/team"]));
    // The line that recorded the key is decided with its value: allowed.
    assert_eq!(report["allowed_after"], 1);
}

#[test]
fn replay_of_a_missing_log_or_a_broken_tree_exits_1() {
    let (code, _, err) = run(
        &["replay", "/nonexistent.jsonl", "--policies", "policies"],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("cannot read"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), &[alice_get()]);
    let tree = tree_with(dir.path(), json!({"Version": "5.0", "Statement": "nope"}));
    let (code, _, _) = run(&["replay", &log, "--policies", &tree], None);
    assert_eq!(code, 1);
}

#[test]
fn learn_reads_stdin_and_writes_a_policy_per_user() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let stdin = alice_get().to_string() + "\nnot json\n";
    let (code, text, err) = run(
        &["learn", "-", "--out", out.to_str().unwrap()],
        Some(&stdin),
    );
    assert_eq!(code, 0, "{text}{err}");
    assert!(err.contains("-:2: skipped"), "{err}");
    assert!(
        text.contains(
            "iam::acme0001:user:alice\n  policy:    huawei/identity/learned-acme0001-alice.json"
        ),
        "{text}"
    );
    assert!(text.contains(&format!("  resources: {NB1}")), "{text}");
    let written: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("huawei/identity/learned-acme0001-alice.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        written["Statement"][0]["Action"],
        json!(["modelarts:notebook:get"])
    );
    assert!(out.join("learned-summary.json").is_file());
    // --principal keeps only that principal.
    let out2 = dir.path().join("out2");
    let (code, text, _) = run(
        &[
            "learn",
            "-",
            "--out",
            out2.to_str().unwrap(),
            "--principal",
            "iam::acme0001:user:bob",
        ],
        Some(&stdin),
    );
    assert_eq!(code, 0);
    assert!(text.starts_with("learned 0 policies"), "{text}");
}

#[test]
fn coverage_names_who_exercised_what_and_what_is_granted_but_unused() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), &[alice_get()]);
    let (code, text, err) = run(&["coverage", &log], None);
    assert_eq!(code, 0, "{text}{err}");
    assert!(text.contains("modelarts: 1/"), "{text}");
    assert!(text.contains("modelarts:notebook:get"), "{text}");
    assert!(
        text.contains("iam::acme0001:user:alice (1 allowed, 0 denied)"),
        "{text}"
    );
    assert!(text.contains("agentrun: no requests"), "{text}");
    let (code, json_text, _) = run(&["coverage", &log, "--json"], None);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&json_text).unwrap();
    let alice = report["principals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["principal"] == "iam::acme0001:user:alice")
        .unwrap();
    assert_eq!(alice["used"], 1);
    let unused = alice["granted_never_used"].as_array().unwrap();
    assert!(unused.contains(&json!("modelarts:notebook:delete")));
    assert!(!unused.contains(&json!("modelarts:notebook:get")));
    let modelarts = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "modelarts")
        .unwrap();
    assert_eq!(modelarts["operations_used"][0]["name"], "show_notebook");
    assert!(modelarts["actions_never_called"]
        .as_array()
        .unwrap()
        .contains(&json!("modelarts:notebook:delete")));
}

#[test]
fn learned_conditions_keep_the_tag_the_requests_showed() {
    let dir = tempfile::tempdir().unwrap();
    let nb = |id: &str, team: &str| {
        json!({"schema": 1, "request_id": id, "method": "GET", "path": format!("/v1/p-acme-cn4/notebooks/{id}"),
            "principal": "iam::acme0001:user:tagger", "service": "modelarts", "operation": "show_notebook",
            "actions": [{"action": "modelarts:notebook:get", "resource": "modelarts:cn-north-4:acme0001:notebook:*",
                "decision": "allow", "reason": null, "context": {}}],
            "context": {"g:resourcetag/team": [team]}, "decision": "allow", "status": 200})
    };
    let log = write_log(dir.path(), &[nb("a", "blue"), nb("b", "blue")]);
    let learned = dir.path().join("learned");
    let args = [
        "learn",
        &log,
        "--policies",
        "policies",
        "--out",
        learned.to_str().unwrap(),
        "--conditions",
    ];
    let (code, out, err) = run(&args, None);
    assert_eq!(code, 0, "{out}{err}");
    let file = learned.join("huawei/identity/learned-acme0001-tagger.json");
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(
        policy["Statement"][0]["Condition"],
        json!({"StringEquals": {"g:resourcetag/team": ["blue"]}})
    );
    // The tree loads, the traffic replays allowed, and the condition still
    // tells blue from red.
    let (code, report) = replay(&log, learned.to_str().unwrap());
    assert_eq!(
        (
            report["denied_after"].as_u64(),
            report["undecidable"].as_u64()
        ),
        (Some(0), Some(0)),
        "{report:#}"
    );
    assert_eq!(code, 3, "the deciding statement changed");
    let config = dir.path().join("iamgate.toml");
    std::fs::write(&config, format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {learned:?}\n[upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        common::manifest("routes"))).unwrap();
    let config = config.to_str().unwrap();
    let (code, out, err) = run(&["--config", config, "check"], None);
    assert_eq!(code, 0, "{out}{err}");
    let explain = |id: &str| {
        run(
            &[
                "--config",
                config,
                "explain",
                "--user",
                "tagger",
                "--method",
                "GET",
                "--path",
                &format!("/v1/p-acme-cn4/notebooks/{id}"),
            ],
            None,
        )
        .0
    };
    assert_eq!(explain("nb-blue"), 0);
    assert_eq!(explain("nb-red"), 2);
}

#[test]
fn learn_refuses_to_write_into_the_tree_it_copies() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), &[alice_get()]);
    let base = dir.path().join("base");
    common::copy_tree(&common::manifest("policies"), &base);
    let inside = base.join("learned");
    let (code, _, err) = run(
        &[
            "learn",
            &log,
            "--policies",
            base.to_str().unwrap(),
            "--out",
            inside.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("is inside --policies"), "{err}");
    assert!(!inside.exists());
    let (code, _, err) = run(
        &[
            "learn",
            &log,
            "--policies",
            base.to_str().unwrap(),
            "--out",
            base.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 1, "{err}");
}
