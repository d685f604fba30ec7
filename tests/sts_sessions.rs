//! Requests signed with STS temporary credentials, through the real handler
//! in memory: the session is minted in-process (the same sealing key as the
//! gateway), so an already expired session can be tested without waiting.
//! Every refusal checks the status, the code and that the upstream saw
//! nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{send_from, sign, Upstream};
use http::StatusCode;
use iamgate::decision_log::DecisionLog;
use iamgate::proxy::Gateway;
use iamgate::sts::sessions::{issue, Issued};
use time::{Duration, OffsetDateTime};

const DEV: &str = "1234567890123456";
const TEMPLATES: &str = "/2025-09-10/templates";

fn gateway(dir: &std::path::Path, upstream: &Upstream) -> Arc<Gateway> {
    let policies = common::manifest("policies");
    let gw = common::gateway_at(
        dir,
        &policies,
        "debug_headers = true",
        &upstream.addr(),
        DecisionLog::disabled(),
    );
    Arc::new(gw)
}

fn session(
    gw: &Gateway,
    role: &str,
    name: &str,
    policy: Option<&str>,
    expires: OffsetDateTime,
) -> Issued {
    let snap = gw.snapshots.load();
    let role = snap.directory.role(DEV, role).unwrap();
    issue(role, name, policy, expires)
}

fn hour() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::hours(1)
}

fn signed(
    method: &str,
    s: &Issued,
    token: &str,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    sign::acs3(
        method,
        TEMPLATES,
        (&s.access_key_id, &s.secret),
        &[("x-acs-security-token", token)],
    )
}

#[tokio::test]
async fn a_session_read_is_forwarded_and_names_the_session() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let s = session(&gw, "AgentRunReader", "ci-run", None, hour());
    let (status, resp, _) = send_from(&gw, signed("GET", &s, &s.token), "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::OK);
    let arn = "acs:ram::1234567890123456:assumed-role/agentrunreader/ci-run";
    assert_eq!(
        resp.headers()
            .get("x-iamgate-session")
            .map(|v| v.to_str().unwrap()),
        Some(arn),
        "{:?}",
        resp.headers()
    );
    let seen = upstream.only_request();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", TEMPLATES)
    );
    assert_eq!(seen.headers["x-iamgate-account"], DEV);
}

#[tokio::test]
async fn a_session_write_is_denied_naming_the_assumed_role() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let s = session(&gw, "AgentRunReader", "ci-run", None, hour());
    let (status, _, body) = send_from(&gw, signed("POST", &s, &s.token), "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["Code"], "NoPermission");
    let detail = &body["AccessDeniedDetail"];
    assert_eq!(detail["AuthPrincipalType"], "AssumedRoleUser");
    assert_eq!(detail["AuthPrincipalDisplayName"], "AgentRunReader:ci-run");
    assert!(upstream.requests().is_empty());
}

#[tokio::test]
async fn a_session_policy_narrows_the_role_over_the_wire() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let only_runtimes = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"agentrun:List*","Resource":"acs:agentrun:*:*:runtimes/*"}]}"#;
    let s = session(&gw, "AgentRunReader", "narrow", Some(only_runtimes), hour());
    let (status, _, body) = send_from(&gw, signed("GET", &s, &s.token), "127.0.0.1", false).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::FORBIDDEN, Some("NoPermission"))
    );
    assert!(upstream.requests().is_empty());
}

/// Status and code of a refused request; the upstream saw nothing.
async fn refused(
    gw: &Arc<Gateway>,
    upstream: &Upstream,
    req: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> (StatusCode, String) {
    let (status, _, body) = send_from(gw, req, "127.0.0.1", false).await;
    assert!(upstream.requests().is_empty(), "nothing forwarded");
    (status, body["Code"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn expired_unknown_mismatched_and_missing_tokens_are_refused() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let bad = StatusCode::BAD_REQUEST;
    let old = session(
        &gw,
        "AgentRunReader",
        "old",
        None,
        OffsetDateTime::now_utc() - Duration::seconds(5),
    );
    assert_eq!(
        refused(&gw, &upstream, signed("GET", &old, &old.token)).await,
        (bad, "InvalidSecurityToken.Expired".into())
    );
    let s = session(&gw, "AgentRunReader", "s", None, hour());
    let other = session(&gw, "AgentRunReader", "other", None, hour());
    assert_eq!(
        refused(&gw, &upstream, signed("GET", &s, &other.token)).await,
        (bad, "InvalidSecurityToken.MismatchWithAccessKey".into())
    );
    assert_eq!(
        refused(&gw, &upstream, signed("GET", &s, "CAISnot-ours")).await,
        (bad, "InvalidSecurityToken.Malformed".into())
    );
    let no_token = sign::acs3("GET", TEMPLATES, (&s.access_key_id, &s.secret), &[]);
    assert_eq!(
        refused(&gw, &upstream, no_token).await,
        (bad, "MissingSecurityToken".into())
    );
    let runner = ("LTAIRUNNEREXAMPLE0001", "runner-example-secret-not-real");
    let long_term = sign::acs3(
        "GET",
        TEMPLATES,
        runner,
        &[("x-acs-security-token", &s.token)],
    );
    assert_eq!(
        refused(&gw, &upstream, long_term).await,
        (bad, "InvalidSecurityToken.MismatchWithAccessKey".into())
    );
    let wrong_secret = sign::acs3(
        "GET",
        TEMPLATES,
        (&s.access_key_id, "guess"),
        &[("x-acs-security-token", &s.token)],
    );
    assert_eq!(
        refused(&gw, &upstream, wrong_secret).await,
        (bad, "SignatureDoesNotMatch".into())
    );
}

#[tokio::test]
async fn an_unsigned_security_token_is_refused() {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), &upstream);
    let s = session(&gw, "AgentRunReader", "s", None, hour());
    let mut req = sign::acs3("GET", TEMPLATES, (&s.access_key_id, &s.secret), &[]);
    req.headers_mut()
        .insert("x-acs-security-token", s.token.parse().unwrap());
    let got = refused(&gw, &upstream, req).await;
    assert_eq!(
        got,
        (StatusCode::BAD_REQUEST, "IncompleteSignature".to_string())
    );
}

#[tokio::test]
async fn the_decision_log_names_the_session() {
    use iamgate::decision_log::LogTarget;
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let policies = common::manifest("policies");
    let gw = Arc::new(common::gateway_at(
        dir.path(),
        &policies,
        "",
        &upstream.addr(),
        log.clone(),
    ));
    let s = session(&gw, "AgentRunReader", "audit", None, hour());
    send_from(&gw, signed("POST", &s, &s.token), "127.0.0.1", false).await;
    drop(gw);
    log.close().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        line["principal"],
        "acs:ram::1234567890123456:assumed-role/agentrunreader/audit"
    );
    assert_eq!(line["access_key_id"], s.access_key_id.as_str());
    assert_eq!(line["decision"], "implicit_deny");
    assert!(upstream.requests().is_empty());
}
