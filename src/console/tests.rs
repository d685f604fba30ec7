//! The ring, the SSE framing and stream, and the routes' guards on resets.

use std::collections::BTreeMap;
use std::time::Duration;

use http_body_util::BodyExt;

use super::*;
use crate::decision_log::SCHEMA_VERSION;

pub(crate) fn record(path: &str, principal: &str) -> DecisionRecord {
    DecisionRecord {
        schema: SCHEMA_VERSION,
        time: "2026-12-02T01:00:00Z".into(),
        request_id: format!("req-{path}"),
        method: "GET".into(),
        path: path.into(),
        query: None,
        source_ip: None,
        peer: None,
        tls: false,
        access_key_id: None,
        principal: Some(principal.into()),
        auth: Some("token"),
        service: Some("modelarts".into()),
        operation: None,
        actions: Vec::new(),
        context: BTreeMap::new(),
        decision: "allow".into(),
        deciding: String::new(),
        error: None,
        status: 200,
        latency_us: 7,
        snapshot: "digest".into(),
    }
}

#[test]
fn zero_turns_the_console_off() {
    assert!(Console::new(0).is_none());
    assert_eq!(Console::new(3).unwrap().capacity(), 3);
}

#[test]
fn the_ring_keeps_the_newest_and_finds_them_by_seq() {
    let c = Console::new(2).unwrap();
    for p in ["/a", "/b", "/c"] {
        c.push(record(p, "iam::acme:user:alice"));
    }
    let kept: Vec<_> = c
        .recent()
        .iter()
        .map(|e| (e.seq, e.record.path.clone()))
        .collect();
    assert_eq!(kept, [(2, "/b".to_string()), (3, "/c".to_string())]);
    assert!(c.find(1).is_none(), "evicted");
    assert_eq!(c.find(3).unwrap().record.path, "/c");
    assert!(c.find(4).is_none());
    c.clear();
    assert!(c.recent().is_empty());
    c.push(record("/d", "p"));
    assert_eq!(c.find(4).unwrap().record.path, "/d", "seq keeps increasing");
}

#[test]
fn a_subscriber_gets_the_backlog_then_exactly_what_follows() {
    let c = Console::new(10).unwrap();
    c.push(record("/old", "p"));
    let (backlog, mut rx) = c.subscribe();
    c.push(record("/new", "p"));
    assert_eq!(backlog.len(), 1);
    assert_eq!(backlog[0].record.path, "/old");
    let next = rx.try_recv().unwrap();
    assert_eq!((next.seq, next.record.path.as_str()), (2, "/new"));
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_newline_in_data_cannot_end_the_event_or_forge_a_field() {
    let f = sse::frame("decision", Some(9), "a\n\nid: 666\revent: x");
    assert_eq!(
        f,
        "id: 9\nevent: decision\ndata: a\ndata: \ndata: id: 666\ndata: event: x\n\n"
    );
    assert_eq!(f.matches("\n\n").count(), 1, "one event: {f:?}");
}

#[test]
fn a_decision_event_is_one_json_line_with_markup_left_for_the_page_to_escape() {
    let c = Console::new(4).unwrap();
    c.push(record(
        "/x/<img src=x onerror=alert(1)>\n",
        "<b>mallory</b>",
    ));
    let f = sse::decision_frame(&c.recent()[0]);
    let data: Vec<&str> = f.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.len(), 1, "{f}");
    let v: serde_json::Value = serde_json::from_str(data[0]).unwrap();
    assert_eq!(v["seq"], 1);
    assert_eq!(v["principal"], "<b>mallory</b>");
    assert_eq!(v["path"], "/x/<img src=x onerror=alert(1)>\n");
}

async fn next_chunk(body: &mut sse::SseBody) -> String {
    let frame = tokio::time::timeout(Duration::from_secs(2), body.frame())
        .await
        .expect("a chunk in time")
        .unwrap()
        .unwrap();
    String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn a_stream_sends_the_backlog_then_live_decisions() {
    let c = Console::new(10).unwrap();
    c.push(record("/before", "p"));
    let mut body = sse::open(c.clone());
    let first = next_chunk(&mut body).await;
    assert!(first.starts_with("retry: 2000\n\n"), "{first}");
    assert!(first.contains("id: 1\nevent: decision\n") && first.contains("/before"));
    c.push(record("/after", "p"));
    let live = next_chunk(&mut body).await;
    assert!(
        live.starts_with("id: 2\nevent: decision\n") && live.contains("/after"),
        "{live}"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_loses_events_and_never_blocks_the_gateway() {
    let c = Console::new(10).unwrap();
    let body = sse::open(c.clone());
    let pushes = sse::CLIENT_BUFFER + 100;
    for i in 0..pushes {
        c.push(record(&format!("/{i}"), "p"));
        // Let the feeding task run: it must drop, not wait.
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(c.dropped() >= 100, "dropped {}", c.dropped());
    assert_eq!(c.recent().len(), 10);
    drop(body);
}

fn call(
    c: Option<&Arc<Console>>,
    method: Method,
    path: &str,
    query: Option<&str>,
    header: Option<&str>,
) -> Option<(StatusCode, ::http::HeaderMap)> {
    let holder = crate::snapshot::SnapshotHolder::new(snapshot());
    let observed = crate::learn::Observed::default();
    let parts = http::Parts {
        console: c,
        holder: &holder,
        observed: &observed,
    };
    let header = header.map(|h| ::http::HeaderValue::from_str(h).unwrap());
    http::route(&parts, &method, path, query, header.as_ref())
        .map(|r| (r.status(), r.headers().clone()))
}

use ::http::{Method, StatusCode};

#[test]
fn resets_need_the_console_header() {
    let c = Console::new(4).unwrap();
    c.push(record("/a", "p"));
    let refused = call(Some(&c), Method::POST, "/-/console/reset", None, None).unwrap();
    assert_eq!(refused.0, StatusCode::FORBIDDEN);
    let wrong = call(
        Some(&c),
        Method::POST,
        "/-/learned/reset",
        None,
        Some("yes"),
    )
    .unwrap();
    assert_eq!(wrong.0, StatusCode::FORBIDDEN);
    assert_eq!(c.recent().len(), 1, "nothing was reset");
    let ok = call(
        Some(&c),
        Method::POST,
        "/-/console/reset",
        None,
        Some("reset"),
    )
    .unwrap();
    assert_eq!(ok.0, StatusCode::OK);
    assert!(c.recent().is_empty());
    let get = call(
        Some(&c),
        Method::GET,
        "/-/console/reset",
        None,
        Some("reset"),
    );
    assert!(get.is_none(), "a reset is a POST");
}

#[test]
fn the_page_is_served_with_a_strict_content_security_policy() {
    let (status, headers) = call(None, Method::GET, "/ui", None, None).unwrap();
    assert_eq!(status, StatusCode::OK);
    let csp = headers[::http::header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(headers[::http::header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(call(None, Method::GET, "/ui/nope.js", None, None).is_none());
}

#[test]
fn without_a_ring_the_data_endpoints_say_so() {
    for path in ["/-/events", "/-/console/recent", "/-/console/explain"] {
        let (status, _) = call(None, Method::GET, path, Some("seq=1"), None).unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[test]
fn the_script_never_writes_markup() {
    // Every value reaches the page through textContent (or an attribute
    // set with setAttribute on an element we created).
    let js = include_str!("assets/console.js");
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(sink), "console.js uses {sink}");
    }
    let html = include_str!("assets/index.html");
    assert!(!html.contains("<script>") && !html.contains("http://") && !html.contains("https://"));
}

/// The repository's routes and sample policies.
fn snapshot() -> crate::snapshot::Snapshot {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n[upstreams]\nmodelarts = \"http://127.0.0.1:9\"\nagentrun = \"http://127.0.0.1:9\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        repo.join("routes"),
        repo.join("policies"),
    );
    std::fs::write(&path, text).unwrap();
    let config = crate::config::Config::load(&path).unwrap();
    crate::snapshot::Snapshot::load(&config).unwrap()
}

fn action(
    action: &str,
    resource: &str,
    decision: &'static str,
) -> crate::decision_log::ActionRecord {
    crate::decision_log::ActionRecord {
        action: action.into(),
        resource: resource.into(),
        decision,
        reason: None,
        context: BTreeMap::new(),
    }
}

#[test]
fn a_click_traces_every_decided_action_against_the_current_snapshot() {
    let snap = snapshot();
    let mut r = record("/v1/p/pools/p1", "iam::acme0001:user:alice");
    r.snapshot = snap.digest.clone();
    r.decision = "explicit_deny".into();
    r.actions = vec![
        action(
            "modelarts:pool:delete",
            "modelarts:cn-north-4:acme0001:pool:p1",
            "explicit_deny",
        ),
        action(
            "modelarts:pool:get",
            "modelarts:cn-north-4:acme0001:pool:p1",
            "not_evaluated",
        ),
    ];
    let doc = explain::explain(&Entry { seq: 5, record: r }, &snap);
    assert_eq!(doc["seq"], 5);
    assert_eq!(doc["note"], serde_json::Value::Null, "{doc:#}");
    let actions = doc["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "not_evaluated actions are not traced");
    let a = &actions[0];
    assert_eq!(
        (a["logged"].as_str(), a["decision"].as_str()),
        (Some("explicit_deny"), Some("explicit_deny"))
    );
    assert!(
        a["summary"].as_str().unwrap().contains("DenyPoolDelete"),
        "{a:#}"
    );
    let statements = a["statements"].as_array().unwrap();
    let deny = statements
        .iter()
        .find(|s| s["statement"]["sid"] == "ProtectResourcePools")
        .unwrap();
    assert_eq!(deny["outcome"], "matched");
    assert_eq!(deny["statement"]["source"]["type"], "org");
    assert!(statements
        .iter()
        .any(|s| s["statement"]["source"]["type"] == "identity"));
}

#[test]
fn a_click_on_an_unknown_principal_or_an_undecided_request_says_why_there_is_no_trace() {
    let snap = snapshot();
    let mut r = record("/x", "iam::acme0001:user:nobody");
    r.actions = vec![action("modelarts:pool:get", "*", "implicit_deny")];
    let doc = explain::explain(&Entry { seq: 1, record: r }, &snap);
    assert!(doc["note"]
        .as_str()
        .unwrap()
        .contains("not in the current snapshot"));
    assert!(doc["actions"].as_array().unwrap().is_empty());
    let doc = explain::explain(
        &Entry {
            seq: 2,
            record: record("/y", "p"),
        },
        &snap,
    );
    assert!(doc["note"].as_str().unwrap().contains("no policy decision"));
}

#[tokio::test]
async fn explain_and_recent_answer_from_the_ring() {
    let c = Console::new(4).unwrap();
    c.push(record("/a", "iam::acme0001:user:alice"));
    let ok = |q: &str| {
        call(Some(&c), Method::GET, "/-/console/explain", Some(q), None)
            .unwrap()
            .0
    };
    assert_eq!(ok("seq=1"), StatusCode::OK);
    assert_eq!(ok("x=1&seq=1"), StatusCode::OK);
    assert_eq!(ok("seq=2"), StatusCode::NOT_FOUND);
    assert_eq!(ok("seq=abc"), StatusCode::NOT_FOUND);
    let (status, headers) = call(Some(&c), Method::GET, "/-/events", None, None).unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[::http::header::CONTENT_TYPE], "text/event-stream");
}
