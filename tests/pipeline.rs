//! The request pipeline in memory, without a client socket: the real
//! handler, the repository's routes and sample policies, bodies as
//! `Full<Bytes>`, and the bundled mock as the upstream, served in-process
//! and recording what it receives. Every refusal proves the upstream saw
//! nothing; every allowed request shows the one request it forwarded. Tests
//! that need an upstream nobody answers say so in their names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{assert_forwarded, one_request_id, send_from, Upstream};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use iamgate::decision_log::{DecisionLog, LogTarget};
use iamgate::proxy::handler::{handle, Connection};
use iamgate::proxy::{Body, Gateway};
use serde_json::Value;

const ALICE: &str = "example-token-alice-not-real";
const ALICE_AK: (&str, &str) = ("HWALICEEXAMPLEAK0001", "alice-example-secret-not-real");
const NB: &str = "/v1/p-acme-cn4/notebooks";

fn gateway(dir: &std::path::Path, extra: &str, log: DecisionLog, upstream: &str) -> Arc<Gateway> {
    let policies = common::manifest("policies");
    Arc::new(common::gateway_at(dir, &policies, extra, upstream, log))
}

fn get(path: &str, token: Option<&str>) -> Request<Full<Bytes>> {
    let mut b = Request::get(path).header("host", "127.0.0.1:8080");
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    b.body(Full::new(Bytes::new())).unwrap()
}

async fn send(gw: &Arc<Gateway>, req: Request<Full<Bytes>>) -> (StatusCode, Response<Body>, Value) {
    send_from(gw, req, "127.0.0.1", false).await
}

/// The `iamgate_requests_total` sample with these labels, if any.
fn requests_total(gw: &Gateway, labels: &str) -> Option<String> {
    let text = gw.metrics.render();
    let line = text
        .lines()
        .find(|l| l.starts_with("iamgate_requests_total{") && l.contains(labels))?;
    Some(line.rsplit(' ').next().unwrap().to_string())
}

#[tokio::test]
async fn a_policy_denial_is_403_with_iam_wording_and_never_reaches_the_upstream() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
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
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn an_allowed_request_is_forwarded_once_with_the_callers_account() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(
        dir.path(),
        "debug_headers = true",
        DecisionLog::disabled(),
        &upstream.addr(),
    );
    let (status, resp, body) = send(&gw, get(NB, Some(ALICE))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(resp.headers()["x-iamgate-decision"], "allow");
    let digest = gw.snapshots.load().digest.clone();
    assert_eq!(resp.headers()["x-iamgate-snapshot"], digest.as_str());
    let seen = upstream.only_request();
    assert_forwarded(&seen, "GET", NB, "acme0001", &one_request_id(&resp));
    assert_eq!(
        seen.headers.get("x-auth-token").map(String::as_str),
        Some("<redacted>")
    );
}

#[tokio::test]
async fn a_dead_upstream_is_502_after_the_allow() {
    let dir = tempfile::tempdir().unwrap();
    // Nobody listens on port 9: the allowed request got as far as forwarding.
    let gw = gateway(
        dir.path(),
        "debug_headers = true",
        DecisionLog::disabled(),
        "127.0.0.1:9",
    );
    let (status, resp, body) = send(&gw, get(NB, Some(ALICE))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error_code"], "APIGW.0201");
    assert_eq!(resp.headers()["x-iamgate-decision"], "allow");
    assert!(gw
        .metrics
        .render()
        .contains(r#"iamgate_upstream_errors_total{kind="connect",upstream="modelarts"} 1"#));
}

#[tokio::test]
async fn a_wire_framing_verdict_is_a_400_that_closes_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
    let conn = Connection {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        framing: Some("Transfer-Encoding and Content-Length together"),
    };
    // Alice may list notebooks: only the framing verdict refuses this.
    let resp = handle(gw.clone(), get(NB, Some(ALICE)), conn).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["connection"], "close");
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["error_code"], "APIGW.0201");
    assert!(body["error_msg"]
        .as_str()
        .unwrap()
        .contains("Content-Length"));
    let metrics = gw.metrics.render();
    assert!(metrics.contains(r#"decision="bad_request""#), "{metrics}");
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn refusals_before_the_policy() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
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
        assert!(upstream.requests().is_empty(), "{path} was forwarded");
    }
}

#[tokio::test]
async fn alibaba_paths_answer_in_the_alibaba_shape() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
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
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_signed_x_project_id_naming_another_project_is_403() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
    let req = common::sign::huawei("GET", NB, b"", ALICE_AK, &[("x-project-id", "p-solo-cn4")]);
    let (status, _, body) = send(&gw, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], "APIGW.0302");
    assert!(upstream.requests().is_empty());
    // The same signed header naming the path's project is forwarded.
    let req = common::sign::huawei("GET", NB, b"", ALICE_AK, &[("x-project-id", "p-acme-cn4")]);
    let (status, resp, body) = send(&gw, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_forwarded(
        &upstream.only_request(),
        "GET",
        NB,
        "acme0001",
        &one_request_id(&resp),
    );
}

#[tokio::test]
async fn an_absolute_form_target_whose_authority_differs_from_host_is_400() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
    let req = Request::get(format!("http://elsewhere.example{NB}"))
        .header("host", "127.0.0.1:8080")
        .header("x-auth-token", ALICE)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body) = send(&gw, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error_code"], "APIGW.0201");
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_project_of_another_account_is_403_wrong_project() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
    let (status, _, body) = send(&gw, get("/v1/p-solo-cn4/notebooks", Some(ALICE))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], "APIGW.0302");
    assert_eq!(
        requests_total(&gw, r#"decision="wrong_project""#).as_deref(),
        Some("1"),
        "{}",
        gw.metrics.render()
    );
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn unmapped_forward_still_refuses_another_accounts_project() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmapped = \"forward\"";
    let gw = gateway(dir.path(), extra, DecisionLog::disabled(), &upstream.addr());
    let foreign = "/v1/p-solo-cn4/authoring/clusters";
    let (status, _, body) = send(&gw, get(foreign, Some(ALICE))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error_code"], "APIGW.0302");
    assert!(upstream.requests().is_empty());
    // The caller's own project: forwarded without a policy decision.
    let own = "/v1/p-acme-cn4/authoring/clusters";
    let (status, resp, body) = send(&gw, get(own, Some(ALICE))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_forwarded(
        &upstream.only_request(),
        "GET",
        own,
        "acme0001",
        &one_request_id(&resp),
    );
    assert_eq!(
        requests_total(&gw, r#"decision="unmapped""#).as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn every_request_is_one_json_line_in_the_decision_log() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway(dir.path(), "", log.clone(), &upstream.addr());
    send(&gw, get("/v2/p-acme-cn4/pools", Some(ALICE))).await;
    send(&gw, get("/nothing", Some(ALICE))).await; // refused before any decision
    drop(gw);
    log.close().await;
    assert!(upstream.requests().is_empty());
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
async fn a_request_whose_client_went_away_on_a_silent_upstream_is_still_recorded() {
    // An upstream that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway(dir.path(), "", log.clone(), &addr);
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

#[tokio::test]
async fn a_body_on_a_post_whose_sdk_operation_takes_none_is_400_and_closes() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "", DecisionLog::disabled(), &upstream.addr());
    // alice may start notebooks; start_notebook takes no body in the SDK.
    let start = "/v1/p-acme-cn4/notebooks/nb-1/start";
    let with_body = Request::post(start)
        .header("host", "127.0.0.1:8080")
        .header("x-auth-token", ALICE)
        .header("content-length", "9")
        .body(Full::new(Bytes::from_static(b"{\"a\": 1}\n")))
        .unwrap();
    let (status, resp, body) = send(&gw, with_body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "APIGW.0201");
    assert_eq!(resp.headers()["connection"], "close");
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
    let without = Request::post(start)
        .header("host", "127.0.0.1:8080")
        .header("x-auth-token", ALICE)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, _) = send(&gw, without).await;
    assert_ne!(
        status,
        StatusCode::BAD_REQUEST,
        "the same call without a body passes"
    );
    assert_eq!(upstream.requests().len(), 1);
}
