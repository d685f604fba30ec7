//! Audit mode (`enforce = "audit"`) through the real handler, in memory:
//! a request the policies deny is forwarded and answered as the upstream
//! answers, recorded as `audit_deny` with the denial's reason (decision
//! log, metric, `X-Iamgate-Audit` with `debug_headers`). Authentication
//! failures, foreign projects and ambiguous paths are refused all the same
//! and never reach the upstream. Global, per service and per account.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{send_from, Upstream};
use http::{Request, StatusCode};
use http_body_util::Full;
use iamgate::decision_log::{DecisionLog, LogTarget};
use iamgate::proxy::Gateway;
use serde_json::Value;

const ALICE: &str = "example-token-alice-not-real";
/// alice holds NotebookFullAccess only: listing pools is an implicit deny.
const POOLS: &str = "/v2/p-acme-cn4/pools";

fn gateway(
    dir: &std::path::Path,
    policies: &std::path::Path,
    extra: &str,
    log: DecisionLog,
    up: &str,
) -> Arc<Gateway> {
    Arc::new(common::gateway_at(dir, policies, extra, up, log))
}

fn get(path: &str, token: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "127.0.0.1:8080")
        .header("x-auth-token", token)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

fn metric(gw: &Gateway, needle: &str) -> bool {
    gw.metrics
        .render()
        .lines()
        .any(|l| l.starts_with("iamgate_requests_total{") && l.contains(needle))
}

/// A copy of the sample tree with `line` added to account acme0001.
fn tree_with_account_line(dir: &std::path::Path, line: &str) -> std::path::PathBuf {
    let tree = dir.join("policies");
    common::copy_tree(&common::manifest("policies"), &tree);
    let accounts = tree.join("accounts.toml");
    let text = std::fs::read_to_string(&accounts).unwrap();
    let text = text.replacen(
        "id = \"acme0001\"\n",
        &format!("id = \"acme0001\"\n{line}\n"),
        1,
    );
    std::fs::write(&accounts, text).unwrap();
    tree
}

async fn log_lines(path: &std::path::Path, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= n {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} lines in {}", path.display());
}

#[tokio::test]
async fn a_denied_request_is_forwarded_and_recorded_as_audit_deny() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let extra = "enforce = \"audit\"\ndebug_headers = true";
    let gw = gateway(
        dir.path(),
        &common::manifest("policies"),
        extra,
        log.clone(),
        &upstream.addr(),
    );
    let (status, resp, _) = send_from(&gw, get(POOLS, ALICE), "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::OK, "the upstream's answer");
    assert_eq!(upstream.requests().len(), 1);
    assert_eq!(resp.headers()["x-iamgate-decision"], "audit_deny");
    let audit = resp.headers()["x-iamgate-audit"].to_str().unwrap();
    assert!(
        audit.starts_with(
            "implicit_deny modelarts:pool:list on modelarts:cn-north-4:acme0001:pool:*"
        ),
        "{audit}"
    );
    assert!(metric(&gw, "decision=\"audit_deny\""));
    // An allowed request stays an allow.
    let (status, resp, _) = send_from(
        &gw,
        get("/v1/p-acme-cn4/notebooks", ALICE),
        "127.0.0.1",
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resp.headers()["x-iamgate-decision"], "allow");
    assert!(resp.headers().get("x-iamgate-audit").is_none());
    log.close().await;
    let lines = log_lines(&path, 2).await;
    assert_eq!(lines[0]["decision"], "audit_deny");
    assert_eq!(lines[0]["error"], Value::Null);
    assert_eq!(lines[0]["actions"][0]["decision"], "implicit_deny");
    assert_eq!(
        lines[0]["actions"][0]["reason"]["type"],
        "no_identity_allow"
    );
    assert_eq!(lines[1]["decision"], "allow");
}

#[tokio::test]
async fn authentication_failures_foreign_projects_and_ambiguous_paths_are_still_refused() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        dir.path(),
        &common::manifest("policies"),
        "enforce = \"audit\"",
        DecisionLog::disabled(),
        &upstream.addr(),
    );
    let (status, _, body) = send_from(
        &gw,
        get(POOLS, "example-token-expired-not-real"),
        "127.0.0.1",
        false,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, body) =
        send_from(&gw, get("/v2/p-solo-cn4/pools", ALICE), "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], "APIGW.0302", "{body}");
    let (status, _, _) = send_from(
        &gw,
        get("/v1/p-acme-cn4/notebooks/a%2Fb", ALICE),
        "127.0.0.1",
        false,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(upstream.requests().is_empty(), "{:#?}", upstream.requests());
    assert!(!metric(&gw, "audit_deny"));
}

#[tokio::test]
async fn a_service_can_stay_enforced_under_a_global_audit() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "enforce = \"audit\"\n[enforce_services]\nmodelarts = \"enforce\"";
    let gw = gateway(
        dir.path(),
        &common::manifest("policies"),
        extra,
        DecisionLog::disabled(),
        &upstream.addr(),
    );
    let (status, _, body) = send_from(&gw, get(POOLS, ALICE), "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error_code"], "APIGW.0302", "{body}");
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn an_account_in_audit_mode_is_forwarded_and_an_enforced_one_is_not() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tree = tree_with_account_line(dir.path(), "enforce = \"audit\"");
    let gw = gateway(
        dir.path(),
        &tree,
        "",
        DecisionLog::disabled(),
        &upstream.addr(),
    );
    let (status, resp, _) = send_from(&gw, get(POOLS, ALICE), "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(upstream.requests().len(), 1);
    // Without debug_headers the response carries no audit header.
    assert!(resp.headers().get("x-iamgate-audit").is_none());
    assert!(metric(&gw, "decision=\"audit_deny\""));

    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tree = tree_with_account_line(dir.path(), "enforce = \"enforce\"");
    let gw = gateway(
        dir.path(),
        &tree,
        "enforce = \"audit\"",
        DecisionLog::disabled(),
        &upstream.addr(),
    );
    let (status, _, body) = send_from(&gw, get(POOLS, ALICE), "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error_code"], "APIGW.0302", "{body}");
    assert!(upstream.requests().is_empty());
}

#[test]
fn an_account_enforce_value_other_than_enforce_or_audit_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let tree = tree_with_account_line(dir.path(), "enforce = \"warn\"");
    let errors = iamgate::snapshot::Snapshot::load_dirs(&common::manifest("routes"), &tree, None)
        .unwrap_err();
    let text = format!("{errors:?}");
    assert!(
        text.contains("accounts.toml") && text.contains("warn"),
        "{text}"
    );
}
