//! The resource state end to end, as the handler will use it, on the real
//! route files and the bundled mock (in memory): a create answered 2xx is
//! recorded with the tags of its request body, a later request on the
//! resource gets its `*:ResourceTag/*` keys from the state (state lookup →
//! `add_resource_keys` → `policy::evaluate`), another account's request is
//! `Foreign` (the handler answers 404 and never forwards) while the mock,
//! namespaced by `X-Iamgate-Account`, would not serve it either.
//!
//! The decision corpus (`tests/decisions/resource_state_*.toml`) can state
//! only the context a case evaluates in, not how the state made it; these
//! tests cover that gap.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method};
use iamgate::cloud::Cloud;
use iamgate::directory::ResourceAttrs;
use iamgate::mock::{load_route_dir, MockUpstream};
use iamgate::policy::{evaluate, parse_policy, Context, PolicySet, Subject};
use iamgate::proxy::context::add_resource_keys;
use iamgate::routes::RouteTable;
use iamgate::state::{
    addressed, created_id, effect_of, Effect, Lookup, Owner, ResourceState, ACCOUNT_HEADER,
};
use serde_json::{json, Value};

const HUAWEI_POLICY: &str = r#"{"Version":"5.0","Statement":[
  {"Effect":"Allow","Action":["modelarts:notebook:*"],"Resource":["*"]},
  {"Sid":"NoRed","Effect":"Deny","Action":["modelarts:notebook:get","modelarts:notebook:delete"],
   "Condition":{"StringEquals":{"g:ResourceTag/team":["red"]}}}]}"#;
const ALIYUN_POLICY: &str = r#"{"Version":"1","Statement":[
  {"Effect":"Allow","Action":"agentrun:*","Resource":"*"},
  {"Sid":"NoRed","Effect":"Deny","Action":["agentrun:GetAgentRuntime","agentrun:DeleteAgentRuntime"],"Resource":"*",
   "Condition":{"StringEquals":{"acs:ResourceTag/team":"red"}}}]}"#;

struct World {
    routes: RouteTable,
    mock: MockUpstream,
    state: ResourceState,
}

fn world() -> World {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes");
    World {
        routes: RouteTable::load_dir(&dir).unwrap().0,
        mock: MockUpstream::new(&load_route_dir(&dir).unwrap()).unwrap(),
        state: ResourceState::new(1000),
    }
}

fn subject(cloud: Cloud, doc: &str) -> Subject {
    let policy = parse_policy(&PathBuf::from("t.json"), "TagGuard", cloud, doc).unwrap();
    Subject {
        cloud,
        root: false,
        identity: Arc::new(PolicySet::new(vec![Arc::new(policy)])),
        org: Vec::new().into(),
        session: None,
    }
}

fn as_account(account: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCOUNT_HEADER, HeaderValue::from_str(account).unwrap());
    h
}

impl World {
    /// A create the way the handler does it: effect, reservation, forward,
    /// id from the answer, record with the body's tags.
    fn create(&self, owner: &Owner, path: &str, body: Value, tags: &[(&str, &str)]) -> String {
        let m = self.routes.lookup(&Method::POST, path).unwrap();
        let Effect::Create { kind, item_param } = effect_of(&m) else {
            panic!("{path} is not a create");
        };
        let slot = self.state.reserve().unwrap();
        let bytes = body.to_string();
        let (status, answer) = self.mock.respond(
            "POST",
            path,
            None,
            &as_account(&owner.account),
            bytes.as_bytes(),
        );
        assert_eq!(status, 200, "{answer}");
        let id = created_id(m.service.cloud, &answer, item_param).unwrap();
        let key = iamgate::state::ResourceKey {
            service: m.service.name.clone(),
            kind: kind.to_string(),
            id: id.clone(),
        };
        let attrs = ResourceAttrs {
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ResourceAttrs::default()
        };
        self.state.record_created(slot, &key, owner.clone(), attrs);
        id
    }

    /// Route, look up and evaluate a request on one resource.
    fn decide(&self, subject: &Subject, method: Method, path: &str, caller: &Owner) -> String {
        let m = self.routes.lookup(&method, path).unwrap();
        let key = addressed(&m).unwrap().unwrap();
        let mut ctx = Context::new();
        match self.state.lookup(&key, &caller.account, &caller.region) {
            Lookup::Own(attrs) => add_resource_keys(&mut ctx, m.service.cloud, Some(&attrs)),
            Lookup::Foreign { owner } => return format!("foreign:{owner}"),
            other => panic!("unexpected {other:?}"),
        }
        let action = m.actions().next().unwrap();
        let resource = m.resource_for(action, &caller.region, &caller.account);
        evaluate(subject, &action.name, &resource, &ctx)
            .kind
            .as_str()
            .to_string()
    }
}

fn owner(account: &str, region: &str) -> Owner {
    Owner {
        account: account.into(),
        region: region.into(),
    }
}

#[test]
fn huawei_tags_of_a_notebook_created_through_the_gateway_feed_the_policy() {
    let w = world();
    let acme = owner("acme0001", "cn-north-4");
    let s = subject(Cloud::Huawei, HUAWEI_POLICY);
    let body = json!({"name": "n", "tags": [{"key": "team", "value": "red"}]});
    let red = w.create(&acme, "/v1/p-acme-cn4/notebooks", body, &[("team", "red")]);
    let blue = w.create(
        &acme,
        "/v1/p-acme-cn4/notebooks",
        json!({}),
        &[("team", "blue")],
    );
    let get = |id: &str| {
        w.decide(
            &s,
            Method::GET,
            &format!("/v1/p-acme-cn4/notebooks/{id}"),
            &acme,
        )
    };
    assert_eq!(get(&red), "explicit_deny");
    assert_eq!(get(&blue), "allow");
    // Tagging through the gateway changes the decision too.
    let key = |id: &str| iamgate::state::ResourceKey {
        service: "modelarts".into(),
        kind: "notebook".into(),
        id: id.into(),
    };
    assert!(w
        .state
        .record_tags(&key(&blue), &acme, &[("team".into(), "red".into())], &[]));
    assert_eq!(get(&blue), "explicit_deny");
    // After a delete the state forgets it.
    let path = format!("/v1/p-acme-cn4/notebooks/{red}");
    let m = w.routes.lookup(&Method::DELETE, &path).unwrap();
    assert!(matches!(effect_of(&m), Effect::Delete { id, .. } if id == red));
    assert!(w.state.record_deleted(&key(&red), &acme));
    assert!(matches!(
        w.state.lookup(&key(&red), "acme0001", "cn-north-4"),
        Lookup::Unknown
    ));
}

#[test]
fn huawei_cross_account_is_foreign_and_the_mock_would_not_serve_it() {
    let w = world();
    let acme = owner("acme0001", "cn-north-4");
    let id = w.create(&acme, "/v1/p-acme-cn4/notebooks", json!({}), &[]);
    let s = subject(Cloud::Huawei, HUAWEI_POLICY);
    let solo = owner("solo0002", "cn-north-4");
    let path = format!("/v1/p-solo-cn4/notebooks/{id}");
    assert_eq!(w.decide(&s, Method::GET, &path, &solo), "foreign:acme0001");
    let (status, _) = w
        .mock
        .respond("GET", &path, None, &as_account("solo0002"), b"");
    assert_eq!(status, 404);
}

#[test]
fn aliyun_runtime_of_another_account_is_foreign_and_tags_feed_the_policy() {
    let w = world();
    let a = owner("1234567890123456", "cn-hangzhou");
    let b = owner("6543210987654321", "cn-hangzhou");
    let s = subject(Cloud::Aliyun, ALIYUN_POLICY);
    let runtimes = "/2025-09-10/agents/runtimes";
    let red = w.create(
        &a,
        runtimes,
        json!({"agentRuntimeName": "r"}),
        &[("team", "red")],
    );
    let plain = w.create(&a, runtimes, json!({"agentRuntimeName": "p"}), &[]);
    let item = |id: &str| format!("{runtimes}/{id}");
    assert_eq!(w.decide(&s, Method::GET, &item(&red), &a), "explicit_deny");
    assert_eq!(
        w.decide(&s, Method::DELETE, &item(&red), &a),
        "explicit_deny"
    );
    assert_eq!(w.decide(&s, Method::GET, &item(&plain), &a), "allow");
    for method in [Method::GET, Method::DELETE] {
        assert_eq!(
            w.decide(&s, method.clone(), &item(&plain), &b),
            "foreign:1234567890123456"
        );
        let (status, _) = w.mock.respond(
            method.as_str(),
            &item(&plain),
            None,
            &as_account(&b.account),
            b"",
        );
        assert_eq!(status, 404, "{method}");
    }
}

#[test]
fn aliyun_names_are_per_account() {
    let w = world();
    let a = owner("1234567890123456", "cn-hangzhou");
    let b = owner("6543210987654321", "cn-hangzhou");
    let s = subject(
        Cloud::Aliyun,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"agentrun:*","Resource":"*"},
      {"Effect":"Deny","Action":"agentrun:GetTemplate","Resource":"*","Condition":{"StringEquals":{"acs:ResourceTag/team":"red"}}}]}"#,
    );
    let body = json!({"templateName": "shared-name"});
    assert_eq!(
        w.create(
            &a,
            "/2025-09-10/templates",
            body.clone(),
            &[("team", "red")]
        ),
        "shared-name"
    );
    assert_eq!(
        w.create(&b, "/2025-09-10/templates", body, &[]),
        "shared-name"
    );
    let path = "/2025-09-10/templates/shared-name";
    assert_eq!(w.decide(&s, Method::GET, path, &a), "explicit_deny");
    assert_eq!(w.decide(&s, Method::GET, path, &b), "allow");
}

#[test]
fn answers_to_tag_untag_update_and_delete_routes_change_the_state() {
    let w = world();
    let acme = owner("acme0001", "cn-north-4");
    let s = subject(Cloud::Huawei, HUAWEI_POLICY);
    let id = w.create(&acme, "/v1/p-acme-cn4/notebooks", json!({}), &[]);
    let item = format!("/v1/p-acme-cn4/notebooks/{id}");
    let red = [("team".to_string(), "red".to_string())];
    let put = w.routes.lookup(&Method::PUT, &item).unwrap();
    assert!(w.state.record_answer(&put, &acme, &red));
    assert_eq!(w.decide(&s, Method::GET, &item, &acme), "explicit_deny");
    // An update without tags keeps them; another account's answer changes nothing.
    assert!(w.state.record_answer(&put, &acme, &[]));
    assert!(!w
        .state
        .record_answer(&put, &owner("solo0002", "cn-north-4"), &[]));
    assert_eq!(w.decide(&s, Method::GET, &item, &acme), "explicit_deny");
    let get = w.routes.lookup(&Method::GET, &item).unwrap();
    assert!(
        !w.state.record_answer(&get, &acme, &red),
        "a read changes nothing"
    );
    let delete = w.routes.lookup(&Method::DELETE, &item).unwrap();
    assert!(w.state.record_answer(&delete, &acme, &[]));
    let key = addressed(&get).unwrap().unwrap();
    assert!(matches!(
        w.state.lookup(&key, "acme0001", "cn-north-4"),
        Lookup::Unknown
    ));
}

#[test]
fn modelarts_service_tag_routes_add_and_remove_tags() {
    let w = world();
    let acme = owner("acme0001", "cn-north-4");
    let id = w.create(
        &acme,
        "/v1/p-acme-cn4/services",
        json!({"service_name": "s"}),
        &[],
    );
    let tags = |path: &str, method: Method, body: &[(String, String)]| {
        let m = w.routes.lookup(&method, path).unwrap();
        assert!(w.state.record_answer(&m, &acme, body), "{method} {path}");
    };
    let base = format!("/v1/p-acme-cn4/services/{id}/tags");
    let two = [
        ("team".to_string(), "red".to_string()),
        ("env".to_string(), "dev".to_string()),
    ];
    tags(&format!("{base}/create"), Method::POST, &two);
    tags(
        &format!("{base}/delete"),
        Method::DELETE,
        &[("team".to_string(), String::new())],
    );
    let item = format!("/v1/p-acme-cn4/services/{id}");
    let get = w.routes.lookup(&Method::GET, &item).unwrap();
    let key = addressed(&get).unwrap().unwrap();
    match w.state.lookup(&key, "acme0001", "cn-north-4") {
        Lookup::Own(attrs) => assert_eq!(
            attrs.tags.into_iter().collect::<Vec<_>>(),
            vec![("env".to_string(), "dev".to_string())]
        ),
        other => panic!("{other:?}"),
    }
}
