//! The request pipeline in memory, without a socket: the real handler, the
//! repository's routes and sample policies, bodies as `Full<Bytes>`. The
//! upstream is an address nobody listens on, so anything that gets through
//! shows up as a 502 — every refusal below is proven to stop before it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use iamgate::config::Config;
use iamgate::decision_log::{DecisionLog, LogTarget};
use iamgate::metrics::Metrics;
use iamgate::proxy::handler::{handle, Connection};
use iamgate::proxy::{Body, Gateway};
use iamgate::snapshot::{Snapshot, SnapshotHolder};
use serde_json::Value;

const ALICE: &str = "example-token-alice-not-real";
const NB: &str = "/v1/p-acme-cn4/notebooks";

fn gateway(dir: &std::path::Path, extra: &str, log: DecisionLog) -> Arc<Gateway> {
    gateway_to(dir, extra, log, "127.0.0.1:9")
}

/// A gateway whose upstreams all point at `upstream`.
fn gateway_to(
    dir: &std::path::Path,
    extra: &str,
    log: DecisionLog,
    upstream: &str,
) -> Arc<Gateway> {
    let config_path = dir.join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n{extra}\n[upstreams]\nmodelarts = \"http://127.0.0.1:9\"\nagentrun = \"http://127.0.0.1:9\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        common::manifest("routes"),
        common::manifest("policies"),
    );
    std::fs::write(&config_path, text).unwrap();
    let config = Config::load(&config_path).unwrap();
    let snapshot = Snapshot::load(&config).unwrap();
    let targets = HashMap::from([
        ("modelarts".to_string(), upstream.parse().unwrap()),
        ("agentrun".to_string(), upstream.parse().unwrap()),
    ]);
    let snapshots = Arc::new(SnapshotHolder::new(snapshot));
    Arc::new(Gateway::new(
        config,
        snapshots,
        targets,
        Metrics::new(),
        log,
    ))
}

fn get(path: &str, token: Option<&str>) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header("host", "127.0.0.1:8080");
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

async fn send(gw: &Arc<Gateway>, req: Request<Full<Bytes>>) -> (StatusCode, Response<Body>, Value) {
    let conn = Connection {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        framing: None,
    };
    let resp = handle(gw.clone(), req, conn).await;
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, Response::from_parts(parts, Body::default()), json)
}

fn one_request_id(resp: &Response<Body>) -> String {
    let ids: Vec<_> = resp.headers().get_all("x-request-id").iter().collect();
    assert_eq!(ids.len(), 1);
    ids[0].to_str().unwrap().to_string()
}

#[tokio::test]
async fn a_policy_denial_is_403_with_iam_wording_and_never_reaches_the_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled());
    let (status, resp, body) = send(&gw, get("/v2/p-acme-cn4/pools", Some(ALICE))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error_code"], "APIGW.0302");
    assert_eq!(body["request_id"], one_request_id(&resp).as_str());
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .starts_with("User: iam::acme0001:user:alice is not authorized"));
    let metrics = gw.metrics.render();
    assert!(metrics.contains(r#"iamgate_requests_total{action="modelarts:pool:list",decision="implicit_deny",service="modelarts",status="4xx"} 1"#), "{metrics}");
    assert!(
        !metrics.contains("iamgate_upstream_errors_total{"),
        "nothing was forwarded"
    );
}

#[tokio::test]
async fn an_allowed_request_is_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "debug_headers = true", DecisionLog::disabled());
    let (status, resp, body) = send(&gw, get(NB, Some(ALICE))).await;
    // Nobody listens upstream: the allowed request got as far as forwarding.
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error_code"], "APIGW.0201");
    assert_eq!(resp.headers()["x-iamgate-decision"], "allow");
    let digest = gw.snapshots.load().digest.clone();
    assert_eq!(resp.headers()["x-iamgate-snapshot"], digest.as_str());
    assert!(gw
        .metrics
        .render()
        .contains(r#"iamgate_upstream_errors_total{kind="connect",upstream="modelarts"} 1"#));
}

#[tokio::test]
async fn a_wire_framing_verdict_is_a_400_that_closes_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled());
    let conn = Connection {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        framing: Some("Transfer-Encoding and Content-Length together"),
    };
    // Alice may list notebooks: only the framing verdict refuses this.
    let resp = handle(gw.clone(), get(NB, Some(ALICE)), conn).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["connection"], "close");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error_code"], "APIGW.0201");
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .contains("Content-Length"));
    let metrics = gw.metrics.render();
    assert!(metrics.contains(r#"decision="bad_request""#), "{metrics}");
    assert!(
        !metrics.contains("iamgate_upstream_errors_total{"),
        "nothing was forwarded"
    );
}

#[tokio::test]
async fn refusals_before_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled());
    let cases = [
        (
            get("/v1/p-acme-cn4/notebooks/%2e%2e", Some(ALICE)),
            StatusCode::BAD_REQUEST,
            "APIGW.0201",
        ),
        (
            get("/v1/p-acme-cn4/nothing", Some(ALICE)),
            StatusCode::NOT_FOUND,
            "APIGW.0101",
        ),
        (
            get("/v1/p-acme-cn4/notebooks/flavors", Some(ALICE)),
            StatusCode::NOT_FOUND,
            "APIGW.0101",
        ),
        (get(NB, None), StatusCode::UNAUTHORIZED, "APIGW.0301"),
        (
            get(NB, Some("bogus")),
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
        ),
        (
            get("/v1/p-solo-cn4/notebooks", Some(ALICE)),
            StatusCode::FORBIDDEN,
            "APIGW.0302",
        ),
    ];
    for (req, want_status, want_code) in cases {
        let path = req.uri().to_string();
        let (status, resp, body) = send(&gw, req).await;
        assert_eq!(
            (status, body["error_code"].as_str().unwrap()),
            (want_status, want_code),
            "{path}: {body}"
        );
        one_request_id(&resp);
    }
    assert!(
        !gw.metrics
            .render()
            .contains("iamgate_upstream_errors_total{"),
        "nothing was forwarded"
    );
}

#[tokio::test]
async fn alibaba_paths_answer_in_the_alibaba_shape() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled());
    let (status, _, body) = send(&gw, get("/2025-09-10/templates", None)).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "IncompleteSignature")
    );
    assert!(body.get("error_code").is_none());
    let (status, _, body) = send(&gw, get("/2025-09-10/nothing", None)).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "InvalidAction.NotFound")
    );
}

#[tokio::test]
async fn every_request_is_one_json_line_in_the_decision_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway(dir.path(), "", log.clone());
    send(&gw, get("/v2/p-acme-cn4/pools", Some(ALICE))).await;
    send(&gw, get("/nothing", Some(ALICE))).await; // refused before any decision
    drop(gw);
    log.close().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "every request gets a line: {text}");
    let l = &lines[0];
    assert_eq!(l["schema"], 1);
    assert_eq!(l["principal"], "iam::acme0001:user:alice");
    assert_eq!(l["service"], "modelarts");
    assert_eq!(l["decision"], "implicit_deny");
    assert_eq!(l["status"], 403);
    assert_eq!(l["snapshot"].as_str().unwrap().len(), 16);
    let l = &lines[1];
    assert_eq!(
        (l["decision"].as_str(), l["status"].as_u64()),
        (Some("not_found"), Some(404))
    );
    assert_eq!(l["principal"], Value::Null);
}

#[tokio::test]
async fn a_request_whose_client_went_away_is_still_recorded() {
    // An upstream that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway_to(dir.path(), "", log.clone(), &addr);
    let conn = Connection {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        framing: None,
    };
    let task = tokio::spawn(handle(gw.clone(), get(NB, Some(ALICE)), conn));
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort(); // what hyper does when the client disconnects
    assert!(task.await.unwrap_err().is_cancelled());
    let metrics = gw.metrics.render();
    assert!(
        metrics.contains(r#"iamgate_requests_total{action="modelarts:notebook:list",decision="allow",service="modelarts",status="4xx"} 1"#),
        "{metrics}"
    );
    drop(gw);
    log.close().await;
    let line: Value = serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
    assert_eq!(
        (line["decision"].as_str(), line["status"].as_u64()),
        (Some("allow"), Some(499))
    );
    drop(silent);
}
