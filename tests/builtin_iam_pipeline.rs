//! The built-in Huawei IAM routes (`routes/iam.toml`) through the real
//! handler, in memory: a password login, an agency token for a caller the
//! policies allow to assume it and a refusal for one they do not,
//! temporary keys for a token, and IAM's own error bodies. Nothing is ever
//! forwarded: the recording upstream sees no request.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{send_from, Upstream};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use iamgate::decision_log::DecisionLog;
use iamgate::proxy::{Body, Gateway};
use serde_json::{json, Value};

fn gateway(dir: &std::path::Path, upstream: &Upstream) -> Arc<Gateway> {
    let policies = common::manifest("policies");
    let log = DecisionLog::disabled();
    let extra = "debug_headers = true";
    Arc::new(common::gateway_at(
        dir,
        &policies,
        extra,
        &upstream.addr(),
        log,
    ))
}

fn post(path: &str, token: Option<&str>, body: &Value) -> Request<Full<Bytes>> {
    let mut b = Request::post(path)
        .header("host", common::sign::HOST)
        .header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    b.body(Full::new(Bytes::from(body.to_string()))).unwrap()
}

async fn send(gw: &Arc<Gateway>, req: Request<Full<Bytes>>) -> (StatusCode, Response<Body>, Value) {
    send_from(gw, req, "127.0.0.1", false).await
}

fn password(user: &str, secret: &str, domain: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": secret, "domain": {"name": domain}}}}}})
}

fn assume(agency: &str) -> Value {
    json!({"auth": {"identity": {"methods": ["assume_role"], "assume_role": {
        "agency_name": agency, "domain_name": "acme"}}}})
}

const TOKENS: &str = "/v3/auth/tokens";
const KEYS: &str = "/v3.0/OS-CREDENTIAL/securitytokens";

fn decision(resp: &Response<Body>) -> &str {
    resp.headers()["x-iamgate-decision"].to_str().unwrap()
}

/// Log in with a password: the token from `X-Subject-Token`.
async fn login(gw: &Arc<Gateway>, user: &str, secret: &str, domain: &str) -> String {
    let (status, resp, body) = send(gw, post(TOKENS, None, &password(user, secret, domain))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(decision(&resp), "allow");
    assert_eq!(body["token"]["user"]["name"], user, "{body}");
    resp.headers()["x-subject-token"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_password_login_makes_a_token_and_a_wrong_password_is_401() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let token = login(&gw, "alice", "alice-example-password-not-real", "acme").await;
    assert!(!token.is_empty());
    let wrong = password("alice", "not-the-password", "acme");
    let (status, resp, body) = send(&gw, post(TOKENS, None, &wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(decision(&resp), "unauthenticated");
    assert!(resp.headers().get("x-subject-token").is_none());
    let (status, resp, body) = send(&gw, post(TOKENS, None, &json!({"auth": {}}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(decision(&resp), "bad_request");
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn an_agency_token_needs_the_policies_allow_and_a_caller() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let deployer = login(
        &gw,
        "deployer",
        "deployer-example-password-not-real",
        "solo-corp",
    )
    .await;
    let body = assume("solo_notebook_reader");
    let (status, resp, answer) = send(&gw, post(TOKENS, Some(&deployer), &body)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(decision(&resp), "allow");
    assert!(resp.headers().get("x-subject-token").is_some());
    // solo (solo-corp, trusted like deployer) holds no sts:agencies:assume.
    let solo = ("HWSOLOEXAMPLEAK00005", "solo-example-secret-not-real");
    let bytes = body.to_string();
    let signed = common::sign::huawei("POST", TOKENS, bytes.as_bytes(), solo, &[]);
    let (status, resp, answer) = send(&gw, signed).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(
        answer["error_code"], "APIGW.0302",
        "the policy's denial: {answer}"
    );
    assert_eq!(decision(&resp), "implicit_deny");
    assert!(resp.headers().get("x-subject-token").is_none());
    // An agency that does not trust the caller's account: IAM's own 403.
    let alice = login(&gw, "alice", "alice-example-password-not-real", "acme").await;
    let (status, resp, answer) = send(&gw, post(TOKENS, Some(&alice), &body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(
        answer["error_code"], "IAM.0101",
        "IAM's refusal, not APIG's: {answer}"
    );
    assert_eq!(decision(&resp), "implicit_deny");
    // Without a caller there is nobody to assume it.
    let (status, _, answer) = send(&gw, post(TOKENS, None, &body)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn a_token_gets_temporary_keys_and_an_agency_it_may_not_assume_is_403() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let alice = login(&gw, "alice", "alice-example-password-not-real", "acme").await;
    let own =
        json!({"auth": {"identity": {"methods": ["token"], "token": {"duration_seconds": 900}}}});
    let (status, resp, answer) = send(&gw, post(KEYS, Some(&alice), &own)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(decision(&resp), "allow");
    assert!(
        answer["credential"]["access"]
            .as_str()
            .is_some_and(|a| !a.is_empty()),
        "{answer}"
    );
    let solo = ("HWSOLOEXAMPLEAK00005", "solo-example-secret-not-real");
    let bytes = assume("solo_notebook_reader").to_string();
    let signed = common::sign::huawei("POST", KEYS, bytes.as_bytes(), solo, &[]);
    let (status, resp, answer) = send(&gw, signed).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(decision(&resp), "implicit_deny");
    assert_eq!(
        answer["error_code"], "APIGW.0302",
        "the policy's denial: {answer}"
    );
    let (status, resp, answer) = send(&gw, post(KEYS, Some(&alice), &json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(decision(&resp), "bad_request");
    assert!(upstream.requests().is_empty(), "nothing was forwarded");
}

#[tokio::test]
async fn a_login_token_is_a_credential_for_the_forwarded_routes() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let token = login(&gw, "alice", "alice-example-password-not-real", "acme").await;
    let req = Request::get("/v1/p-acme-cn4/notebooks")
        .header("host", common::sign::HOST)
        .header("x-auth-token", &token)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, resp, body) = send(&gw, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(decision(&resp), "allow");
    let seen = upstream.only_request();
    assert_eq!(seen.path, "/v1/p-acme-cn4/notebooks");
}
