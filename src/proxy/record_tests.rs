//! The decision-log line a request leaves, built through the setters the
//! handler calls, against the repository's routes and sample policies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use http::{Request, StatusCode};
use serde_json::{json, Value};

use super::*;
use crate::config::Config;
use crate::decision_log::{DecisionLog, LogTarget};
use crate::identity::{AuthError, AuthFailure};
use crate::metrics::Metrics;
use crate::proxy::test_gateway;

const ALICE_TOKEN: &str = "example-token-alice-not-real";

fn gateway(dir: &Path, log: DecisionLog) -> Arc<Gateway> {
    test_gateway::gateway_with(test_gateway::sample_config(dir, ""), HashMap::new(), log)
}

/// Runs `fill` on a fresh recorder, finishes with `status`, returns the
/// single line written and its raw text.
async fn line(status: StatusCode, fill: impl FnOnce(&mut Record, &Gateway)) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway(dir.path(), log.clone());
    let mut recorder = Recorder {
        snap: gw.snapshots.load(),
        gw: gw.clone(),
        request_id: "req-1".into(),
        started: Instant::now(),
        rec: Record {
            detailed: gw.decision_log.is_enabled(),
            ..Record::default()
        },
        done: false,
    };
    fill(&mut recorder.rec, &gw);
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = status;
    recorder.finish(resp);
    drop(gw);
    log.close().await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    (serde_json::from_str(text.trim()).unwrap(), text)
}

fn parts(req: Request<()>) -> Parts {
    req.into_parts().0
}

#[tokio::test]
async fn a_404_before_any_decision_gets_a_full_line() {
    let req = Request::get("/v1/p-acme-cn4/nothing?limit=2&x-auth-token=abc&marker=a%2Fb")
        .header("x-auth-token", ALICE_TOKEN)
        .body(())
        .unwrap();
    let (l, text) = line(StatusCode::NOT_FOUND, |rec, _| {
        rec.set_request(&parts(req), "10.1.2.3".parse().unwrap(), true);
        rec.decision = Some("not_found");
        rec.set_error(&GatewayError::NotFound);
    })
    .await;
    assert_eq!(l["schema"], 1);
    assert_eq!(l["method"], "GET");
    assert_eq!(l["path"], "/v1/p-acme-cn4/nothing");
    assert_eq!(l["query"], "limit=2&x-auth-token=REDACTED&marker=a%2Fb");
    assert_eq!(
        (l["peer"].clone(), l["source_ip"].clone()),
        (json!("10.1.2.3"), json!("10.1.2.3"))
    );
    assert_eq!(l["tls"], true);
    assert_eq!(l["auth"], "token");
    assert_eq!(l["principal"], Value::Null);
    assert_eq!(l["access_key_id"], Value::Null);
    assert_eq!(l["actions"], json!([]));
    assert_eq!(l["decision"], "not_found");
    assert_eq!(l["error"]["code"], "not_found");
    assert_eq!(l["status"], 404);
    assert!(
        !text.contains(ALICE_TOKEN) && !text.contains("abc"),
        "{text}"
    );
}

#[tokio::test]
async fn an_auth_failure_names_the_claimed_key_and_never_the_signature() {
    let auth =
        "SDK-HMAC-SHA256 Access=HWUNKNOWNAK, SignedHeaders=host;x-sdk-date, Signature=deadbeef01";
    let req = Request::post("/v1/p-acme-cn4/notebooks")
        .header("authorization", auth)
        .body(())
        .unwrap();
    let failure = GatewayError::Auth(AuthError::Verify(AuthFailure::SignatureMismatch));
    let (l, text) = line(StatusCode::UNAUTHORIZED, |rec, _| {
        rec.set_request(&parts(req), "127.0.0.1".parse().unwrap(), false);
        rec.service = Some("modelarts".into());
        rec.set_operation(Some("CreateNotebook"));
        rec.set_source_ip("192.0.2.7".parse().unwrap());
        rec.decision = Some("unauthenticated");
        rec.set_error(&failure);
    })
    .await;
    assert_eq!(l["auth"], "sdk-hmac");
    assert_eq!(l["access_key_id"], "HWUNKNOWNAK");
    assert_eq!(l["source_ip"], "192.0.2.7");
    assert_eq!(l["peer"], "127.0.0.1");
    assert_eq!(l["operation"], "CreateNotebook");
    assert_eq!(l["error"]["code"], "unauthenticated");
    assert_eq!(l["error"]["kind"], "signature_mismatch");
    assert!(!text.contains("deadbeef01"), "{text}");
}

#[test]
fn claimed_credentials_of_each_scheme() {
    let with = |name: &str, value: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        claimed_credentials(&h)
    };
    let acs3 = "ACS3-HMAC-SHA256 Credential=LTAIkey,SignedHeaders=host,Signature=00";
    assert_eq!(
        with("authorization", acs3),
        (Some("acs3"), Some("LTAIkey".into()))
    );
    assert_eq!(with("authorization", "Bearer x"), (Some("other"), None));
    assert_eq!(with("x-auth-token", "t"), (Some("token"), None));
    assert_eq!(claimed_credentials(&HeaderMap::new()), (None, None));
    let long = format!("SDK-HMAC-SHA256 Access={}, Signature=1", "A".repeat(500));
    assert_eq!(with("authorization", &long).1.unwrap().len(), MAX_KEY_ID);
}

#[tokio::test]
async fn a_denial_logs_every_action_with_its_structured_reason() {
    let (l, _) = line(StatusCode::FORBIDDEN, |rec, gw| {
        let snap = gw.snapshots.load();
        let who = &snap.directory.tokens[ALICE_TOKEN];
        let res = |t: &str| format!("modelarts:cn-north-4:acme0001:{t}");
        let needs = vec![
            (
                "modelarts:notebook:list".to_string(),
                res("notebook:*"),
                Context::new(),
            ),
            (
                "modelarts:pool:delete".to_string(),
                res("pool:p1"),
                Context::new(),
            ),
            (
                "modelarts:notebook:get".to_string(),
                res("notebook:n1"),
                Context::new(),
            ),
        ];
        let result = crate::policy::authorize(&who.principal.subject, &needs);
        rec.principal = who.principal.urn.clone();
        rec.note_authorization(&who.principal.subject, &needs, &result);
    })
    .await;
    let actions = l["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 3, "{l}");
    assert_eq!(actions[0]["decision"], "allow");
    assert_eq!(actions[0]["reason"]["type"], "statement");
    assert_eq!(actions[0]["reason"]["source"]["type"], "identity");
    assert_eq!(actions[0]["reason"]["policy"], "NotebookFullAccess");
    assert_eq!(actions[1]["action"], "modelarts:pool:delete");
    assert_eq!(
        actions[1]["resource"],
        "modelarts:cn-north-4:acme0001:pool:p1"
    );
    assert_eq!(actions[1]["decision"], "explicit_deny");
    assert_eq!(actions[1]["reason"]["source"]["type"], "org");
    assert_eq!(actions[1]["reason"]["policy"], "DenyPoolDelete");
    assert_eq!(actions[1]["reason"]["sid"], "ProtectResourcePools");
    assert_eq!(actions[2]["decision"], "not_evaluated");
    assert_eq!(actions[2]["reason"], Value::Null);
    assert_eq!(l["decision"], "explicit_deny");
    assert_eq!(l["principal"], "iam::acme0001:user:alice");
    assert!(
        l["deciding"].as_str().unwrap().contains("DenyPoolDelete"),
        "{l}"
    );
}

#[test]
fn keys_read_go_to_the_line_and_differences_to_the_action() {
    let ctx = |team: &str| {
        let mut c = Context::new();
        c.set("g:ResourceTag/team", team);
        c.set("g:SourceIp", "10.0.0.1");
        c.set("g:UserName", "alice"); // never read: never logged
        c.get("g:resourcetag/team");
        c.get("g:sourceip");
        c.get("g:mfapresent");
        c
    };
    let needs = vec![
        ("a:x:get".to_string(), "r1".to_string(), ctx("blue")),
        ("a:x:put".to_string(), "r2".to_string(), ctx("red")),
        ("a:x:del".to_string(), "r3".to_string(), ctx("green")),
    ];
    let allow = Decision {
        kind: crate::policy::DecisionKind::Allow,
        reason: crate::policy::Reason::NoIdentityAllow,
    };
    let mut top = ContextValues::new();
    let actions = action_records(
        &needs,
        vec![Some(allow.clone()), Some(allow), None],
        &mut top,
    );
    let top = serde_json::to_value(&top).unwrap();
    assert_eq!(
        top,
        json!({"g:mfapresent": null, "g:resourcetag/team": ["blue"], "g:sourceip": ["10.0.0.1"]})
    );
    assert_eq!(actions[0].context, ContextValues::new());
    let own = serde_json::to_value(&actions[1].context).unwrap();
    assert_eq!(own, json!({"g:resourcetag/team": ["red"]}));
    assert_eq!(
        actions[2].context,
        ContextValues::new(),
        "not evaluated: nothing read"
    );
}

#[tokio::test]
async fn a_request_dropped_mid_way_is_logged_as_client_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway(dir.path(), log.clone());
    let recorder = Recorder {
        snap: gw.snapshots.load(),
        gw: gw.clone(),
        request_id: "req-2".into(),
        started: Instant::now(),
        rec: Record::default(),
        done: false,
    };
    drop(recorder);
    drop(gw);
    log.close().await;
    let l: Value = serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
    assert_eq!(l["status"], 499);
    assert_eq!(l["error"]["code"], "client_closed");
}

/// A gateway with the decision log off and `[console]` as given.
fn gateway_without_log(dir: &Path, console: &str) -> Arc<Gateway> {
    let gw = gateway(dir, DecisionLog::disabled());
    let path = dir.join("iamgate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}[console]\n{console}\n")).unwrap();
    let config = Config::load(&path).unwrap();
    Arc::new(Gateway::new(
        config,
        gw.snapshots.clone(),
        HashMap::new(),
        Metrics::new(),
        DecisionLog::disabled(),
    ))
}

fn finish_one(gw: &Arc<Gateway>) {
    let mut recorder = Recorder {
        snap: gw.snapshots.load(),
        gw: gw.clone(),
        request_id: "req-3".into(),
        started: Instant::now(),
        rec: Record {
            detailed: gw.detailed(),
            ..Record::default()
        },
        done: false,
    };
    let req = Request::get("/v1/p-acme-cn4/notebooks?limit=1")
        .body(())
        .unwrap();
    recorder
        .rec
        .set_request(&parts(req), "127.0.0.1".parse().unwrap(), false);
    recorder.finish(Response::new(Body::default()));
}

#[test]
fn the_console_ring_gets_the_full_record_with_the_log_off() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_without_log(dir.path(), "recent = 5");
    assert!(gw.detailed(), "the ring needs the full record");
    finish_one(&gw);
    let kept = gw.console.as_ref().unwrap().recent();
    assert_eq!(kept.len(), 1);
    let r = &kept[0].record;
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("GET", "/v1/p-acme-cn4/notebooks")
    );
    assert_eq!(r.query.as_deref(), Some("limit=1"));
    assert_eq!((r.request_id.as_str(), r.status), ("req-3", 200));
}

#[test]
fn with_the_ring_and_the_log_off_nothing_detailed_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_without_log(dir.path(), "recent = 0");
    assert!(gw.console.is_none());
    assert!(!gw.detailed(), "the fast path: metrics only");
    finish_one(&gw);
}

#[tokio::test]
async fn with_both_on_the_log_and_the_ring_get_the_same_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let gw = gateway(dir.path(), log.clone());
    finish_one(&gw);
    let kept = gw.console.as_ref().unwrap().recent();
    drop(gw);
    log.close().await;
    let line: Value = serde_json::from_str(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
    assert_eq!(line, serde_json::to_value(&kept[0].record).unwrap());
}

/// `[otel]` starts the trace pipeline (`start_traces`), and a gateway with
/// traces builds the full record even with the log and the ring off.
#[cfg(feature = "otel")]
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_otel_section_starts_traces_and_asks_for_the_full_record() {
    let dir = tempfile::tempdir().unwrap();
    let otel = "recent = 0\n[otel]\nendpoint = \"http://127.0.0.1:9\"";
    let gw = gateway_without_log(dir.path(), otel);
    assert!(gw.console.is_none());
    let traces = gw.otel.clone().expect("[otel] starts the traces");
    assert!(gw.detailed(), "a span needs the full record");
    let done = tokio::time::timeout(std::time::Duration::from_secs(20), traces.shutdown());
    assert!(done.await.is_ok(), "shutdown hung");
}

/// With `[otel]` and the decision log both on, a request gets its span and
/// its log line: the span does not stand in for the line.
#[cfg(feature = "otel")]
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn with_otel_and_the_log_on_the_line_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let log = DecisionLog::start(LogTarget::File(path.clone()), 16, || {}).unwrap();
    let plain = gateway(dir.path(), DecisionLog::disabled());
    let config_path = dir.path().join("iamgate.toml");
    let text = std::fs::read_to_string(&config_path).unwrap();
    let otel = "[console]\nrecent = 0\n[otel]\nendpoint = \"http://127.0.0.1:9\"\n";
    std::fs::write(&config_path, format!("{text}{otel}")).unwrap();
    let gw = Arc::new(Gateway::new(
        Config::load(&config_path).unwrap(),
        plain.snapshots.clone(),
        HashMap::new(),
        Metrics::new(),
        log.clone(),
    ));
    let traces = gw.otel.clone().expect("[otel] starts the traces");
    finish_one(&gw);
    drop(gw);
    log.close().await;
    let written = std::fs::read_to_string(&path).unwrap();
    let line: Value = serde_json::from_str(written.trim()).unwrap();
    assert_eq!(line["request_id"], "req-3", "{written}");
    let done = tokio::time::timeout(std::time::Duration::from_secs(20), traces.shutdown());
    assert!(done.await.is_ok(), "shutdown hung");
}

fn recorder(gw: &Arc<Gateway>, detailed: bool) -> Recorder {
    Recorder {
        snap: gw.snapshots.load(),
        gw: gw.clone(),
        request_id: "req-4".into(),
        started: Instant::now(),
        rec: Record {
            detailed,
            ..Record::default()
        },
        done: false,
    }
}

fn fresh(detailed: bool) -> Record {
    Record {
        detailed,
        ..Record::default()
    }
}

fn alice(gw: &Gateway, access_key: Option<&str>) -> Authenticated {
    let snap = gw.snapshots.load();
    Authenticated {
        principal: snap.directory.tokens[ALICE_TOKEN].principal.clone(),
        access_key: access_key.map(str::to_string),
        mfa: false,
    }
}

#[test]
fn the_authenticated_principal_and_its_key_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), DecisionLog::disabled());
    let urn = "iam::acme0001:user:alice";
    let mut token = fresh(true);
    token.set_authenticated(&alice(&gw, None));
    assert_eq!(token.principal, urn);
    assert_eq!(
        (token.auth, token.access_key_id.as_deref()),
        (Some("token"), None)
    );
    let mut signed = fresh(true);
    signed.set_authenticated(&alice(&gw, Some("HWALICEEXAMPLEAK0001")));
    assert_eq!(
        signed.access_key_id.as_deref(),
        Some("HWALICEEXAMPLEAK0001")
    );
    assert_eq!(signed.auth, None);
    // Without the detailed record only the principal (for the debug headers).
    let mut fast = fresh(false);
    fast.set_authenticated(&alice(&gw, None));
    assert_eq!((fast.principal.as_str(), fast.auth), (urn, None));
}

#[test]
fn without_the_detailed_record_the_deciding_action_still_labels_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), DecisionLog::disabled());
    let who = alice(&gw, None);
    let needs = vec![(
        "modelarts:pool:list".to_string(),
        "modelarts:cn-north-4:acme0001:pool:*".to_string(),
        Context::new(),
    )];
    let result = crate::policy::authorize(&who.principal.subject, &needs);
    let mut rec = fresh(false);
    rec.note_authorization(&who.principal.subject, &needs, &result);
    assert_eq!(rec.action.as_deref(), Some("modelarts:pool:list"));
    assert_eq!(rec.decision, Some("implicit_deny"));
    assert!(
        rec.actions.is_empty(),
        "no per-action records on the fast path"
    );
    let allowed = vec![(
        "modelarts:notebook:list".to_string(),
        "modelarts:cn-north-4:acme0001:notebook:*".to_string(),
        Context::new(),
    )];
    let result = crate::policy::authorize(&who.principal.subject, &allowed);
    let mut rec = fresh(false);
    rec.note_authorization(&who.principal.subject, &allowed, &result);
    assert_eq!(rec.action.as_deref(), Some("modelarts:notebook:list"));
    assert_eq!(rec.decision, Some("allow"));
}

#[test]
fn finish_sets_the_request_id_and_with_debug_headers_names_decision_snapshot_and_principal() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), DecisionLog::disabled());
    let path = dir.path().join("iamgate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("debug_headers = true\n{text}")).unwrap();
    let config = Config::load(&path).unwrap();
    let debug = Arc::new(Gateway::new(
        config,
        gw.snapshots.clone(),
        HashMap::new(),
        Metrics::new(),
        DecisionLog::disabled(),
    ));
    let answer = || {
        let mut resp = Response::new(Body::default());
        *resp.status_mut() = StatusCode::ACCEPTED;
        resp
    };
    let mut named = recorder(&debug, false);
    named.rec.set_authenticated(&alice(&debug, None));
    named.rec.decision = Some("allow");
    let resp = named.finish(answer());
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let h = resp.headers();
    assert_eq!(h["x-request-id"], "req-4");
    assert_eq!(h["x-iamgate-decision"], "allow");
    assert_eq!(
        h["x-iamgate-snapshot"],
        debug.snapshots.load().digest.as_str()
    );
    assert_eq!(h["x-iamgate-principal"], "iam::acme0001:user:alice");
    assert!(h.get("x-iamgate-session").is_none());
    // Refused before authentication: no principal to name.
    let resp = recorder(&debug, false).finish(answer());
    assert_eq!(resp.headers()["x-iamgate-decision"], "error");
    assert!(resp.headers().get("x-iamgate-principal").is_none());
    // Without debug headers only the request id.
    let resp = recorder(&gw, false).finish(answer());
    assert_eq!(resp.headers()["x-request-id"], "req-4");
    assert!(resp.headers().get("x-iamgate-decision").is_none());
}
