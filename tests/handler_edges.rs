//! Edges of the handler that the other in-memory pipeline tests leave
//! open (found by cargo-mutants): the dialect of a refusal that comes
//! before the route, which refusals say `Connection: close` (never on
//! HTTP/2), and the explanation a denial carries. Every refusal shows the
//! recording upstream saw nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use common::{sign, Upstream};
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use iamgate::decision_log::{DecisionLog, LogTarget};
use iamgate::proxy::handler::{handle, Connection};
use iamgate::proxy::Gateway;
use serde_json::Value;

const ALICE: &str = "example-token-alice-not-real";
const TAGGER_AK: (&str, &str) = ("HWTAGGEREXAMPLEAK004", "tagger-example-secret-not-real");

fn gateway(dir: &std::path::Path, upstream: &Upstream) -> Arc<Gateway> {
    gateway_logging(dir, upstream, DecisionLog::disabled())
}

fn gateway_logging(dir: &std::path::Path, upstream: &Upstream, log: DecisionLog) -> Arc<Gateway> {
    let policies = common::manifest("policies");
    Arc::new(common::gateway_at(
        dir,
        &policies,
        "",
        &upstream.addr(),
        log,
    ))
}

fn token_get(path: &str, version: Version) -> Request<Full<Bytes>> {
    Request::get(path)
        .version(version)
        .header("host", "127.0.0.1:8080")
        .header("x-auth-token", ALICE)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Handle `req` as if read from a connection whose framing verdict is `framing`.
async fn send(
    gw: &Arc<Gateway>,
    req: Request<Full<Bytes>>,
    framing: Option<&'static str>,
) -> (StatusCode, HeaderMap, Value) {
    let conn = Connection {
        peer: "127.0.0.1".parse().unwrap(),
        tls: false,
        framing,
    };
    let resp = handle(gw.clone(), req, conn).await;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

const TE_AND_CL: Option<&str> = Some("Transfer-Encoding and Content-Length together");

#[tokio::test]
async fn a_refusal_before_the_route_answers_in_the_dialect_of_the_path() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let req = token_get("/2025-09-10/templates", Version::HTTP_11);
    let (status, _, body) = send(&gw, req, TE_AND_CL).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Code"], "InvalidParameter", "{body}");
    assert!(
        body.get("error_code").is_none(),
        "Alibaba shape only: {body}"
    );
    let req = token_get("/v1/p-acme-cn4/notebooks", Version::HTTP_11);
    let (status, _, body) = send(&gw, req, TE_AND_CL).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "APIGW.0201", "{body}");
    assert!(body.get("Code").is_none(), "Huawei shape only: {body}");
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn only_a_refusal_that_leaves_the_connection_unsound_closes_it_and_never_on_http2() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    // alice may not list pools: a 403 on a sound HTTP/1.1 connection keeps it open.
    let req = token_get("/v2/p-acme-cn4/pools", Version::HTTP_11);
    let (status, headers, body) = send(&gw, req, None).await;
    assert_eq!(
        (status, &body["error_code"]),
        (StatusCode::FORBIDDEN, &"APIGW.0302".into())
    );
    assert!(headers.get("connection").is_none(), "{headers:?}");
    // A framing verdict closes an HTTP/1.1 connection, but HTTP/2 has no
    // `Connection` header (RFC 9113 §8.2.2): its stream ends, nothing more.
    let req = token_get("/v1/p-acme-cn4/notebooks", Version::HTTP_2);
    let (status, headers, body) = send(&gw, req, TE_AND_CL).await;
    assert_eq!(
        (status, &body["error_code"]),
        (StatusCode::BAD_REQUEST, &"APIGW.0201".into())
    );
    assert!(headers.get("connection").is_none(), "{headers:?}");
    let req = token_get("/v1/p-acme-cn4/notebooks", Version::HTTP_11);
    let (status, headers, _) = send(&gw, req, TE_AND_CL).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["connection"], "close");
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn a_denial_explains_the_condition_that_failed() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    // tagger may read notebooks tagged team=blue; nb-red is tagged red.
    let path = "/v1/p-acme-cn4/notebooks/nb-red";
    let req = sign::huawei("GET", path, b"", TAGGER_AK, &[]);
    let (status, _, body) = send(&gw, req, None).await;
    assert_eq!(
        (status, &body["error_code"]),
        (StatusCode::FORBIDDEN, &"APIGW.0302".into())
    );
    let encoded = body["encoded_authorization_message"].as_str().unwrap();
    let text = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let explanation: Value = serde_json::from_slice(&text).unwrap();
    assert_eq!(explanation["action"], "modelarts:notebook:get");
    let statements = explanation["statements"].as_array().unwrap();
    assert!(
        statements
            .iter()
            .any(|s| s.to_string().contains("OnlyTeamBlueNotebooks")),
        "{explanation}"
    );
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn an_sts_call_is_answered_by_the_gateway_itself() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let assumer = ("LTAIASSUMEREXAMPLE004", "assumer-example-secret-not-real");
    let call = [
        ("x-acs-action", "AssumeRole"),
        ("x-acs-version", "2015-04-01"),
    ];
    // No RoleArn: the built-in STS says so; nothing is forwarded.
    let req = sign::acs3("POST", "/", assumer, &call);
    let (status, _, body) = send(&gw, req, None).await;
    assert_eq!(
        (status, &body["Code"]),
        (StatusCode::BAD_REQUEST, &"MissingRoleArn".into()),
        "{body}"
    );
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn the_decision_log_names_the_keys_the_decision_read() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway_logging(dir.path(), &upstream, log.clone());
    let req = sign::huawei(
        "GET",
        "/v1/p-acme-cn4/notebooks/nb-red",
        b"",
        TAGGER_AK,
        &[],
    );
    let (status, _, body) = send(&gw, req, None).await;
    assert_eq!(
        (status, &body["error_code"]),
        (StatusCode::FORBIDDEN, &"APIGW.0302".into())
    );
    drop(gw);
    log.close().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let line: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(
        line["context"]["g:resourcetag/team"],
        serde_json::json!(["red"]),
        "{line}"
    );
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

/// A gateway whose `GET …/notebooks/{id}` needs two actions (no shipped
/// route does) and whose alice may take both only as a caller of acme0001.
fn two_action_gateway(dir: &std::path::Path, upstream: &Upstream) -> Arc<Gateway> {
    let (routes, policies) = (dir.join("routes"), dir.join("policies"));
    common::copy_tree(&common::manifest("routes"), &routes);
    common::copy_tree(&common::manifest("policies"), &policies);
    let file = routes.join("modelarts.toml");
    let one = "path = \"/v1/{project_id}/notebooks/{id}\"\nactions = [\"modelarts:notebook:get\"]";
    let two = "path = \"/v1/{project_id}/notebooks/{id}\"\nactions = [\"modelarts:notebook:list\", \"modelarts:notebook:get\"]";
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.matches(one).count(), 1);
    std::fs::write(&file, text.replacen(one, two, 1)).unwrap();
    let policy = r#"{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["modelarts:notebook:list","modelarts:notebook:get"],"Condition":{"StringEquals":{"g:PrincipalAccount":"acme0001"}}}]}"#;
    std::fs::write(policies.join("huawei/identity/AcmeCallers.json"), policy).unwrap();
    let accounts = policies.join("accounts.toml");
    let text = std::fs::read_to_string(&accounts).unwrap();
    let alice = "name = \"alice\"\npolicies = [\"NotebookFullAccess\"]";
    assert_eq!(text.matches(alice).count(), 1);
    let text = text.replacen(alice, "name = \"alice\"\npolicies = [\"AcmeCallers\"]", 1);
    std::fs::write(&accounts, text).unwrap();
    let config_path = dir.join("iamgate.toml");
    let config = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {routes:?}\npolicies = {policies:?}\n[upstreams]\nmodelarts = \"http://{0}\"\nagentrun = \"http://{0}\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        upstream.addr()
    );
    std::fs::write(&config_path, config).unwrap();
    let config = iamgate::config::Config::load(&config_path).unwrap();
    let snapshot = iamgate::snapshot::Snapshot::load(&config).unwrap();
    let targets = std::collections::HashMap::from([
        ("modelarts".to_string(), upstream.addr().parse().unwrap()),
        ("agentrun".to_string(), upstream.addr().parse().unwrap()),
    ]);
    let snapshots = Arc::new(iamgate::snapshot::SnapshotHolder::new(snapshot));
    let metrics = iamgate::metrics::Metrics::new();
    let log = DecisionLog::disabled();
    Arc::new(Gateway::new(config, snapshots, targets, metrics, log))
}

#[tokio::test]
async fn every_action_of_a_route_sees_the_whole_request_context() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = two_action_gateway(dir.path(), &upstream);
    // Both actions are allowed only if both saw g:PrincipalAccount.
    let req = token_get("/v1/p-acme-cn4/notebooks/nb-1", Version::HTTP_11);
    let (status, _, body) = send(&gw, req, None).await;
    assert_ne!(status, StatusCode::FORBIDDEN, "{body}");
    let seen = upstream.only_request();
    assert_eq!(seen.path, "/v1/p-acme-cn4/notebooks/nb-1");
}
