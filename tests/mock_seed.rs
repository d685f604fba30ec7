//! Resources declared in `resources.toml` exist in the bundled mock from
//! the start, under the ids their URNs name, in their owner's collection —
//! in memory, and behind the gateway (an allowed GET of a declared notebook
//! is a 200 with the item, not the mock's 404).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::Full;
use iamgate::decision_log::DecisionLog;
use iamgate::mock::{load_route_dir, MockUpstream, ACCOUNT_HEADER};
use iamgate::snapshot::Snapshot;
use serde_json::Value;

fn seeded_mock() -> MockUpstream {
    let mock = MockUpstream::new(&load_route_dir(&common::manifest("routes")).unwrap()).unwrap();
    let snap = Snapshot::load_dirs(
        &common::manifest("routes"),
        &common::manifest("policies"),
        None,
    )
    .unwrap();
    assert!(mock.seed_from(&snap.routes, &snap.directory).is_empty());
    // A second seeding (a reload) changes nothing.
    assert!(mock.seed_from(&snap.routes, &snap.directory).is_empty());
    mock
}

fn as_account(account: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCOUNT_HEADER, HeaderValue::from_str(account).unwrap());
    h
}

#[test]
fn declared_notebooks_and_pools_exist_in_their_account() {
    let mock = seeded_mock();
    let acme = as_account("acme0001");
    let (status, nb) = mock.respond("GET", "/v1/p-acme-cn4/notebooks/nb-blue", None, &acme, b"");
    assert_eq!(status, StatusCode::OK, "{nb}");
    assert_eq!(
        (nb["id"].as_str(), nb["name"].as_str()),
        (Some("nb-blue"), Some("nb-blue"))
    );
    let (status, list) = mock.respond("GET", "/v1/p-acme-cn4/notebooks", None, &acme, b"");
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["nb-blue", "nb-red"]);
    let (status, pool) = mock.respond("GET", "/v2/p-acme-cn4/pools/pool-gpu", None, &acme, b"");
    assert_eq!(status, StatusCode::OK, "{pool}");
    assert_eq!(pool["metadata"]["name"], "pool-gpu");
    // Another account does not see them, even by id.
    let other = as_account("solo0002");
    let (status, _) = mock.respond("GET", "/v1/p-acme-cn4/notebooks/nb-blue", None, &other, b"");
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn seeded_items_update_and_delete_like_created_ones() {
    let mock = seeded_mock();
    let acme = as_account("acme0001");
    let path = "/v1/p-acme-cn4/notebooks/nb-red";
    let (status, nb) = mock.respond("PUT", path, None, &acme, br#"{"description":"d"}"#);
    assert_eq!(status, StatusCode::OK, "{nb}");
    assert_eq!(
        (nb["id"].as_str(), nb["description"].as_str()),
        (Some("nb-red"), Some("d"))
    );
    let (status, _) = mock.respond("DELETE", path, None, &acme, b"");
    assert_eq!(status, StatusCode::OK);
    let (status, _) = mock.respond("GET", path, None, &acme, b"");
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The request log is what it always was: every call, in order.
    let seen: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            format!("PUT {path}"),
            format!("DELETE {path}"),
            format!("GET {path}")
        ]
    );
}

#[tokio::test]
async fn an_allowed_get_of_a_declared_notebook_is_200_through_the_gateway() {
    let mock = Arc::new(seeded_mock());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(iamgate::mock::serve(listener, mock.clone(), async move {
        let _ = stopped.await;
    }));
    let dir = tempfile::tempdir().unwrap();
    let log = DecisionLog::disabled();
    let gw = Arc::new(common::gateway_at(
        dir.path(),
        &common::manifest("policies"),
        "",
        &addr,
        log,
    ));
    let req = Request::get("/v1/p-acme-cn4/notebooks/nb-blue")
        .header("host", "127.0.0.1:8080")
        .header("x-auth-token", "example-token-alice-not-real")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let (status, _, body): (_, _, Value) = common::send_from(&gw, req, "127.0.0.1", false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "nb-blue");
    assert_eq!(mock.requests().len(), 1);
    let _ = stop.send(());
}

#[tokio::test]
async fn a_reload_adds_the_resources_it_declares_to_a_hooked_mock() {
    use iamgate::config::Config;
    use iamgate::reload::{ReloadOutcome, Reloader};
    use iamgate::snapshot::SnapshotHolder;

    let tmp = tempfile::tempdir().unwrap();
    let policies = tmp.path().join("policies");
    common::copy_tree(&common::manifest("policies"), &policies);
    let config_path = tmp.path().join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n[upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        common::manifest("routes"),
        policies,
    );
    std::fs::write(&config_path, text).unwrap();
    let config = Config::load(&config_path).unwrap();
    let holder = Arc::new(SnapshotHolder::new(Snapshot::load(&config).unwrap()));
    let resources = Arc::new(iamgate::state::ResourceState::new(100));
    let reloader = Reloader::new(config, holder, iamgate::metrics::Metrics::new(), resources);
    let mock = Arc::new(seeded_mock());
    let hooked = mock.clone();
    reloader.after_publish(Box::new(move |snap| {
        hooked.seed_from(&snap.routes, &snap.directory);
    }));
    let late = "/v1/p-acme-cn4/notebooks/nb-late";
    let acme = as_account("acme0001");
    assert_eq!(
        mock.respond("GET", late, None, &acme, b"").0,
        StatusCode::NOT_FOUND
    );
    let file = policies.join("resources.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("\n[[resource]]\nurn = \"modelarts:cn-north-4:acme0001:notebook:nb-late\"\n");
    std::fs::write(&file, text).unwrap();
    assert!(matches!(
        reloader.reload("test").await,
        ReloadOutcome::Loaded(_)
    ));
    let (status, nb) = mock.respond("GET", late, None, &acme, b"");
    assert_eq!(status, StatusCode::OK, "{nb}");
    assert_eq!(nb["id"], "nb-late");
}
