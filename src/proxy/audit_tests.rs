//! Tests of audit mode's pieces: what `GET /-/learned` is fed, where audit
//! mode applies, and the `X-Iamgate-Audit` header.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::Value;

use super::*;
use crate::decision_log::{ActionRecord, DecisionLog};
use crate::proxy::test_gateway;

const ALICE: &str = "iam::acme0001:user:alice";

/// A gateway over the repository's routes and sample policies; `extra` is
/// top-level TOML.
fn gateway(dir: &Path, extra: &str) -> Arc<Gateway> {
    let config = test_gateway::sample_config(dir, extra);
    test_gateway::gateway_with(config, HashMap::new(), DecisionLog::disabled())
}

fn learned(gw: &Gateway) -> Value {
    serde_json::to_value(gw.observed.learned(Some(ALICE))).unwrap()
}

#[test]
fn observe_notes_what_decided_requests_needed_and_which_were_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), "");
    let mut rec = Record {
        principal: ALICE.into(),
        decision: Some("allow"),
        ..Record::default()
    };
    observe(&gw, &rec);
    assert_eq!(
        learned(&gw)["policies"],
        serde_json::json!([]),
        "no action: nothing noted"
    );
    rec.actions = vec![ActionRecord {
        action: "modelarts:notebook:list".into(),
        resource: "modelarts:cn-north-4:acme0001:notebook:*".into(),
        decision: "allow",
        reason: None,
        context: Default::default(),
    }];
    observe(&gw, &rec);
    observe(&gw, &rec);
    rec.decision = Some("implicit_deny");
    observe(&gw, &rec);
    let l = learned(&gw);
    let policy = &l["policies"][0];
    assert_eq!(policy["requests"], 3, "{l}");
    assert_eq!(policy["denied"], 1, "{l}");
    assert_eq!(
        policy["actions"],
        serde_json::json!(["modelarts:notebook:list"])
    );
}

#[test]
fn audit_mode_applies_where_it_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, audited) in [("", false), ("enforce = \"audit\"", true)] {
        let gw = gateway(dir.path(), extra);
        let snap = gw.snapshots.load();
        let route = snap
            .routes
            .lookup(&Method::GET, "/v1/p-acme-cn4/notebooks")
            .unwrap();
        let who = Authenticated {
            principal: snap.directory.find_user("alice", Some("acme0001"))[0].clone(),
            access_key: None,
            mfa: false,
        };
        assert_eq!(applies(&gw, &snap, &route, &who), audited, "{extra:?}");
    }
}

fn answer() -> Response<Body> {
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::CREATED;
    resp
}

#[test]
fn the_audit_header_is_the_would_be_denial_in_visible_ascii_with_debug_headers_only() {
    let dir = tempfile::tempdir().unwrap();
    let why = || Some("implicit_deny a:b on x: Sid Ünï".to_string());
    let gw = gateway(dir.path(), "debug_headers = true");
    let resp = header(&gw, answer(), why());
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        resp.headers()["x-iamgate-audit"],
        "implicit_deny a:b on x: Sid ?n?"
    );
    let resp = header(&gw, answer(), None);
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("x-iamgate-audit").is_none());
    let quiet = gateway(dir.path(), "");
    let resp = header(&quiet, answer(), why());
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert!(resp.headers().get("x-iamgate-audit").is_none());
}
