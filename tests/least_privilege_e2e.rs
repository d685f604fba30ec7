//! The least-privilege workflow end to end with the real binary: a gateway
//! in audit mode over the builtin mock takes real HTTP traffic (allowed
//! requests, requests the policies deny, an authentication failure);
//! `iamgate learn` turns its decision log into a policy tree that `check`
//! accepts; `iamgate replay` of the same log against that tree denies
//! nothing, while a request outside the traffic is still denied; and
//! `iamgate coverage` shows the over-grant the learned tree removes.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const ALICE: &str = "example-token-alice-not-real";
const READER: &str = "example-token-reader-e2e-not-real";
const NB: &str = "/v1/p-acme-cn4/notebooks";

fn config(dir: &Path, policies: &Path, extra: &str) -> std::path::PathBuf {
    let path = dir.join(format!(
        "iamgate-{}.toml",
        policies.file_name().unwrap().to_string_lossy()
    ));
    let text = format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n{extra}\n\
         [upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n\
         [regions]\nagentrun = \"cn-hangzhou\"\n",
        common::manifest("routes"),
        policies,
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `iamgate serve`; the child, the gateway's and the admin address.
fn serve(config: &Path) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(addr) = line.strip_prefix(prefix) {
            break addr.to_string();
        }
    };
    let addr = next("listening on ");
    let admin = next("admin listening on ");
    (child, addr, admin)
}

/// `GET` on the admin listener with an optional bearer token: status, body.
fn admin_get(admin: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(admin).unwrap();
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nhost: {admin}\r\n{auth}connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// One HTTP/1.1 request; the status and the response head.
fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nx-auth-token: {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    (status, head)
}

fn iamgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .args(args)
        .env("IAMGATE_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn stop(mut child: Child) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    for _ in 0..500 {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("the gateway did not stop on SIGTERM");
}

/// Run the traffic through a gateway in audit mode; the decision log.
fn audited_traffic(dir: &Path, base: &Path) -> std::path::PathBuf {
    let log = dir.join("decisions.jsonl");
    let token = dir.join("admin-token");
    std::fs::write(&token, "e2e-admin-token\n").unwrap();
    let extra = format!(
        "enforce = \"audit\"\ndebug_headers = true\n[decision_log]\ntarget = {log:?}\n[admin]\ntoken_file = {token:?}"
    );
    let (child, addr, admin) = serve(&config(dir, base, &extra));
    let create = r#"{"id": "nb-e2e", "name": "nb-e2e"}"#;
    let traffic = [
        (READER, "GET", NB.to_string(), "", "allow"),
        (READER, "POST", NB.to_string(), create, "audit_deny"),
        (READER, "GET", format!("{NB}/nb-e2e"), "", "allow"),
        (READER, "DELETE", format!("{NB}/nb-e2e"), "", "audit_deny"),
        (
            ALICE,
            "GET",
            "/v2/p-acme-cn4/pools".to_string(),
            "",
            "audit_deny",
        ),
        (ALICE, "GET", NB.to_string(), "", "allow"),
    ];
    for (token, method, path, body, decision) in &traffic {
        let (status, head) = http(&addr, method, path, token, body);
        assert!((200..300).contains(&status), "{method} {path}: {head}");
        assert!(
            head.contains(&format!("x-iamgate-decision: {decision}")),
            "{head}"
        );
    }
    // Audit mode never lets an authentication failure through.
    let (status, _) = http(&addr, "GET", NB, "example-token-expired-not-real", "");
    assert_eq!(status, 401);
    live_learned(&admin);
    stop(child);
    log
}

/// `GET /-/learned` on the running gateway: the same policy `learn` writes
/// from the log, behind the admin token.
fn live_learned(admin: &str) {
    let reader = "/-/learned?principal=iam%3A%3Aacme0001%3Auser%3Areader";
    let (status, _) = admin_get(admin, reader, None);
    assert_eq!(status, 401);
    let (status, body) = admin_get(admin, reader, Some("e2e-admin-token"));
    assert_eq!(status, 200, "{body}");
    let live: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(live["policies"].as_array().unwrap().len(), 1, "{live:#}");
    let policy = &live["policies"][0];
    assert_eq!(policy["principal"], "iam::acme0001:user:reader");
    assert_eq!(
        (policy["requests"].as_u64(), policy["denied"].as_u64()),
        (Some(4), Some(2))
    );
    assert_eq!(
        policy["actions"],
        serde_json::json!([
            "modelarts:notebook:create",
            "modelarts:notebook:delete",
            "modelarts:notebook:get",
            "modelarts:notebook:list"
        ])
    );
    assert_eq!(policy["document"]["Version"], "5.0");
    let (status, _) = admin_get(
        admin,
        "/-/learned?principal=iam%3A%3Aacme0001%3Auser%3Anobody",
        Some("e2e-admin-token"),
    );
    assert_eq!(status, 404);
    let (status, body) = admin_get(admin, "/-/learned", Some("e2e-admin-token"));
    assert_eq!(status, 200);
    let all: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(all["policies"].as_array().unwrap().len(), 2, "{all:#}");
}

#[test]
fn audit_learn_check_replay_to_zero_denials_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    common::copy_tree(&common::manifest("policies"), &base);
    let mut creds = std::fs::OpenOptions::new()
        .append(true)
        .open(base.join("credentials.toml"))
        .unwrap();
    writeln!(creds, "\n[[token]]\ntoken = {READER:?}\naccount = \"acme0001\"\nuser = \"reader\"\nexpires_at = \"2099-01-01T00:00:00Z\"").unwrap();
    let log = audited_traffic(dir.path(), &base);
    let log_s = log.to_str().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 7, "{text}");
    assert_eq!(
        text.matches("\"decision\":\"audit_deny\"").count(),
        3,
        "{text}"
    );

    let learned = dir.path().join("learned");
    let (code, out, err) = iamgate(&[
        "learn",
        log_s,
        "--policies",
        base.to_str().unwrap(),
        "--out",
        learned.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let summary: Value = serde_json::from_str(&out).unwrap();
    let reader = summary["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"] == "reader")
        .unwrap();
    assert_eq!(
        reader["actions"],
        serde_json::json!([
            "modelarts:notebook:create",
            "modelarts:notebook:delete",
            "modelarts:notebook:get",
            "modelarts:notebook:list"
        ])
    );
    assert_eq!(
        reader["resources"],
        serde_json::json!([
            "modelarts:cn-north-4:acme0001:notebook:*",
            "modelarts:cn-north-4:acme0001:notebook:nb-e2e"
        ])
    );
    assert!(learned
        .join("huawei/identity/learned-acme0001-reader.json")
        .is_file());

    // The learned tree is a tree the gateway loads.
    let learned_config = config(dir.path(), &learned, "");
    let (code, out, err) = iamgate(&["--config", learned_config.to_str().unwrap(), "check"]);
    assert_eq!(code, 0, "{out}{err}");

    // Against the base tree nothing changed (exit 0); against the learned
    // tree every request is allowed: the audit denials are newly allowed.
    let (code, out, err) = iamgate(&[
        "replay",
        log_s,
        "--policies",
        base.to_str().unwrap(),
        "--routes",
        common::manifest("routes").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("3 denied; 0 newly denied, 0 newly allowed"),
        "{out}"
    );
    let (code, out, err) = iamgate(&[
        "replay",
        log_s,
        "--policies",
        learned.to_str().unwrap(),
        "--routes",
        common::manifest("routes").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 3, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["replayed"], 6);
    assert_eq!(report["denied_after"], 0, "{report:#}");
    assert_eq!(report["newly_allowed"], 3);
    assert_eq!(report["newly_denied"], 0);

    // What the traffic never did stays denied under the learned tree.
    let cfg = learned_config.to_str().unwrap();
    for (user, method, path) in [
        ("reader", "DELETE", "/v1/p-acme-cn4/notebooks/nb-other"),
        ("reader", "GET", "/v2/p-acme-cn4/pools"),
        ("alice", "POST", NB),
    ] {
        let (code, out, err) = iamgate(&[
            "--config", cfg, "explain", "--user", user, "--method", method, "--path", path,
        ]);
        assert_eq!(code, 2, "{user} {method} {path}: {out}{err}");
    }

    // Coverage: reader's base grants include storage reads it never used;
    // the learned tree grants nothing unused.
    let routes = common::manifest("routes");
    let coverage = |tree: &Path| -> Value {
        let (code, out, err) = iamgate(&[
            "coverage",
            log_s,
            "--policies",
            tree.to_str().unwrap(),
            "--routes",
            routes.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code, 0, "{out}{err}");
        serde_json::from_str(&out).unwrap()
    };
    let unused = |report: &Value| -> Value {
        let p = report["principals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["principal"] == "iam::acme0001:user:reader")
            .unwrap();
        p["granted_never_used"].clone()
    };
    let before = coverage(&base);
    assert!(
        unused(&before)
            .as_array()
            .unwrap()
            .contains(&Value::from("modelarts:notebook:listMountedStorages")),
        "{before:#}"
    );
    assert_eq!(unused(&coverage(&learned)), serde_json::json!([]));
}
