//! Unit tests of the resource state: seeding, ownership, the changes
//! traffic makes, capacity, reseeding, and the route-derived effects over
//! the repository's real route files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::json;

use super::*;
use crate::cloud::Cloud;
use crate::directory::{Directory, ResourceAttrs};
use crate::routes::RouteTable;

fn routes() -> RouteTable {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes");
    RouteTable::load_dir(&dir).unwrap().0
}

fn directory() -> Directory {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    crate::directory::load(&dir, &mut Vec::new()).unwrap().0
}

fn key(service: &str, kind: &str, id: &str) -> ResourceKey {
    ResourceKey {
        service: service.into(),
        kind: kind.into(),
        id: id.into(),
    }
}

fn owner(account: &str, region: &str) -> Owner {
    Owner {
        account: account.into(),
        region: region.into(),
    }
}

fn tagged(pairs: &[(&str, &str)]) -> ResourceAttrs {
    ResourceAttrs {
        tags: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..ResourceAttrs::default()
    }
}

fn own_tags(l: Lookup) -> Vec<(String, String)> {
    match l {
        Lookup::Own(attrs) => attrs.tags.into_iter().collect(),
        other => panic!("expected Own, got {other:?}"),
    }
}

fn create(state: &ResourceState, k: &ResourceKey, o: &Owner, attrs: ResourceAttrs) {
    let slot = state.reserve().unwrap();
    state.record_created(slot, k, o.clone(), attrs);
}

const RT: &str = "runtimes";

#[test]
fn seeds_parse_resources_toml_with_each_services_template() {
    let state = ResourceState::new(100);
    let skipped = state.seed_from_files(&routes(), &directory());
    assert!(skipped.is_empty(), "{skipped:?}");
    let nb = key("modelarts", "notebook", "nb-red");
    let tags = own_tags(state.lookup(&nb, "acme0001", "cn-north-4"));
    assert_eq!(tags, vec![("team".to_string(), "red".to_string())]);
    match state.lookup(
        &key("modelarts", "pool", "pool-gpu"),
        "acme0001",
        "cn-north-4",
    ) {
        Lookup::Own(a) => assert_eq!(a.keys["modelarts:poolType"], "dedicated"),
        other => panic!("{other:?}"),
    }
    assert_eq!(state.len(), directory().resources.len());
}

#[test]
fn urn_parsing_handles_types_with_slashes_and_refuses_bad_ids() {
    let table = routes();
    let (k, o) =
        seed::key_of(&table, "acs:agentrun:cn-hangzhou:123:workspaces/*/flows/f1").unwrap();
    assert_eq!(
        (k.kind.as_str(), k.id.as_str()),
        ("workspaces/*/flows", "f1")
    );
    assert_eq!(o, owner("123", "cn-hangzhou"));
    let (k, _) = seed::key_of(&table, "acs:agentrun:cn-hangzhou:123:runtimes/rt-1").unwrap();
    assert_eq!((k.kind.as_str(), k.id.as_str()), (RT, "rt-1"));
    for bad in [
        "modelarts:cn-north-4:acme0001:notebook:nb;x",
        "modelarts:cn-north-4:acme0001:nosuchtype:nb",
        "modelarts:cn-north-4::notebook:nb",
        "ecs:cn-north-4:acme0001:instance:i-1",
    ] {
        assert!(seed::key_of(&table, bad).is_none(), "{bad}");
    }
}

#[test]
fn own_foreign_unknown_and_case_variants() {
    let state = ResourceState::new(10);
    let rt = key("agentrun", RT, "rt-A");
    create(
        &state,
        &rt,
        &owner("A", "cn-hangzhou"),
        tagged(&[("team", "red")]),
    );
    assert_eq!(own_tags(state.lookup(&rt, "A", "cn-hangzhou")).len(), 1);
    assert!(
        matches!(state.lookup(&rt, "B", "cn-hangzhou"), Lookup::Foreign { owner } if owner == "A")
    );
    // The owner in another region: not this resource, and not foreign.
    assert!(matches!(
        state.lookup(&rt, "A", "cn-shanghai"),
        Lookup::Unknown
    ));
    assert!(matches!(
        state.lookup(&key("agentrun", RT, "rt-B"), "B", "cn-hangzhou"),
        Lookup::Unknown
    ));
    // Same id, other type or service: another resource.
    assert!(matches!(
        state.lookup(&key("agentrun", "sandboxes", "rt-A"), "B", "x"),
        Lookup::Unknown
    ));
    assert!(matches!(
        state.lookup(&key("agentrun", RT, "RT-a"), "A", "cn-hangzhou"),
        Lookup::CaseVariant { known } if known == "rt-A"
    ));
}

#[test]
fn names_may_exist_once_per_account() {
    let state = ResourceState::new(10);
    let t = key("agentrun", "templates", "t1");
    create(&state, &t, &owner("A", "r"), tagged(&[("team", "red")]));
    create(&state, &t, &owner("B", "r"), tagged(&[("team", "blue")]));
    assert_eq!(own_tags(state.lookup(&t, "A", "r"))[0].1, "red");
    assert_eq!(own_tags(state.lookup(&t, "B", "r"))[0].1, "blue");
    assert!(matches!(state.lookup(&t, "C", "r"), Lookup::Foreign { .. }));
    assert_eq!(state.len(), 2);
    assert!(state.record_deleted(&t, &owner("A", "r")));
    assert!(matches!(state.lookup(&t, "A", "r"), Lookup::Foreign { owner } if owner == "B"));
}

#[test]
fn tags_updates_and_deletes_change_only_the_owners_record() {
    let state = ResourceState::new(10);
    let svc = key("modelarts", "service", "s1");
    let a = owner("A", "cn-north-4");
    create(
        &state,
        &svc,
        &a,
        tagged(&[("team", "blue"), ("env", "dev")]),
    );
    let add = [("team".to_string(), "red".to_string())];
    assert!(!state.record_tags(&svc, &owner("B", "cn-north-4"), &add, &[]));
    assert!(state.record_tags(&svc, &a, &add, &["env".to_string()]));
    assert_eq!(
        own_tags(state.lookup(&svc, "A", "cn-north-4")),
        add.to_vec()
    );
    let replaced = [("cost".to_string(), "1".to_string())];
    assert!(state.record_updated(&svc, &a, Some(&replaced)));
    assert_eq!(
        own_tags(state.lookup(&svc, "A", "cn-north-4")),
        replaced.to_vec()
    );
    assert!(state.record_updated(&svc, &a, None));
    assert_eq!(
        own_tags(state.lookup(&svc, "A", "cn-north-4")),
        replaced.to_vec()
    );
    assert!(state.record_deleted(&svc, &a));
    assert!(!state.record_deleted(&svc, &a));
    assert!(matches!(
        state.lookup(&svc, "A", "cn-north-4"),
        Lookup::Unknown
    ));
    assert_eq!(state.len(), 0);
}

#[test]
fn a_full_state_refuses_creates_and_frees_unused_reservations() {
    let state = ResourceState::new(2);
    create(
        &state,
        &key("s", "t", "a"),
        &owner("A", "r"),
        ResourceAttrs::default(),
    );
    let held = state.reserve().unwrap();
    assert_eq!(state.reserve().unwrap_err(), StateFull { capacity: 2 });
    drop(held);
    let slot = state.reserve().unwrap();
    state.record_created(
        slot,
        &key("s", "t", "b"),
        owner("A", "r"),
        ResourceAttrs::default(),
    );
    assert!(state.reserve().is_err());
    // Re-creating a known resource replaces it and frees its reservation.
    assert!(state.record_deleted(&key("s", "t", "b"), &owner("A", "r")));
    create(
        &state,
        &key("s", "t", "a"),
        &owner("A", "r"),
        tagged(&[("k", "v")]),
    );
    assert_eq!(state.len(), 1);
    assert!(state.reserve().is_ok());
}

#[test]
fn reseeding_replaces_file_records_and_keeps_traffic() {
    let table = routes();
    let mut dir = directory();
    let state = ResourceState::new(100);
    state.seed_from_files(&table, &dir);
    let created = key("modelarts", "notebook", "nb-new");
    create(
        &state,
        &created,
        &owner("acme0001", "cn-north-4"),
        tagged(&[("team", "red")]),
    );
    let blue = key("modelarts", "notebook", "nb-blue");
    let acme = owner("acme0001", "cn-north-4");
    let red = [("team".to_string(), "red".to_string())];
    assert!(state.record_tags(&blue, &acme, &red, &[]));
    // The file drops nb-red and re-tags nb-blue; traffic knew nb-blue better.
    dir.resources.retain(|urn, _| !urn.ends_with(":nb-red"));
    for attrs in dir.resources.values_mut() {
        attrs.tags.insert("team".into(), "green".into());
    }
    state.seed_from_files(&table, &dir);
    assert!(matches!(
        state.lookup(
            &key("modelarts", "notebook", "nb-red"),
            "acme0001",
            "cn-north-4"
        ),
        Lookup::Unknown
    ));
    assert_eq!(
        own_tags(state.lookup(&created, "acme0001", "cn-north-4")),
        red.to_vec()
    );
    assert_eq!(
        own_tags(state.lookup(&blue, "acme0001", "cn-north-4")),
        red.to_vec()
    );
    let pool = key("modelarts", "pool", "pool-gpu");
    assert_eq!(
        own_tags(state.lookup(&pool, "acme0001", "cn-north-4"))[0].1,
        "green"
    );
    assert_eq!(state.len(), dir.resources.len() + 1);
}

#[test]
fn admin_view_is_sorted_bounded_and_names_the_origin() {
    let state = ResourceState::new(100);
    state.seed_from_files(&routes(), &directory());
    create(
        &state,
        &key("agentrun", RT, "rt-1"),
        &owner("A", "cn-hangzhou"),
        tagged(&[("team", "red")]),
    );
    let all = state.to_json(100);
    assert_eq!(all["count"], state.len());
    assert_eq!(all["truncated"], false);
    let first = &all["resources"][0];
    assert_eq!(
        (first["service"].as_str(), first["origin"].as_str()),
        (Some("agentrun"), Some("traffic"))
    );
    assert_eq!(first["tags"]["team"], "red");
    assert!(all["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["origin"] == "file"));
    let one = state.to_json(1);
    assert_eq!(one["resources"].as_array().unwrap().len(), 1);
    assert_eq!(one["truncated"], true);
}

/// The routes of the real table at (method, path), routed as the handler does.
fn effect(table: &RouteTable, method: &str, path: &str) -> String {
    let m = table.lookup(&method.parse().unwrap(), path).unwrap();
    format!("{:?}", effect_of(&m))
}

#[test]
fn effects_over_the_real_route_table() {
    let t = routes();
    let cases = [
        (
            "POST",
            "/v1/p1/notebooks",
            r#"Create { kind: "notebook", item_param: "id" }"#,
        ),
        (
            "DELETE",
            "/v1/p1/notebooks/nb1",
            r#"Delete { kind: "notebook", id: "nb1" }"#,
        ),
        (
            "PUT",
            "/v1/p1/notebooks/nb1",
            r#"Update { kind: "notebook", id: "nb1" }"#,
        ),
        ("GET", "/v1/p1/notebooks/nb1", "None"),
        ("POST", "/v1/p1/notebooks/nb1/start", "None"),
        (
            "POST",
            "/v1/p1/services",
            r#"Create { kind: "service", item_param: "service_id" }"#,
        ),
        (
            "POST",
            "/v1/p1/services/s1/tags/create",
            r#"Tag { kind: "service", id: "s1" }"#,
        ),
        (
            "DELETE",
            "/v1/p1/services/s1/tags/delete",
            r#"Untag { kind: "service", id: "s1" }"#,
        ),
        (
            "POST",
            "/v2/p1/trainJob/j1/tags/create",
            r#"Tag { kind: "trainJob", id: "j1" }"#,
        ),
        (
            "PATCH",
            "/v2/p1/pools/gpu",
            r#"Update { kind: "pool", id: "gpu" }"#,
        ),
        ("DELETE", "/v2/p1/workflows/w1/executions/e1", "None"),
        ("DELETE", "/v2/p1/datasets/d1/versions/v1", "None"),
        ("POST", "/v2/p1/datasets/d1/data-annotations/labels", "None"),
        (
            "POST",
            "/2025-09-10/agents/runtimes",
            r#"Create { kind: "runtimes", item_param: "agent_runtime_id" }"#,
        ),
        (
            "DELETE",
            "/2025-09-10/agents/runtimes/rt1",
            r#"Delete { kind: "runtimes", id: "rt1" }"#,
        ),
        (
            "POST",
            "/2025-09-10/agents/runtimes/rt1/endpoints",
            r#"Create { kind: "runtime-endpoints", item_param: "agent_runtime_endpoint_id" }"#,
        ),
        (
            "POST",
            "/2025-09-10/templates",
            r#"Create { kind: "templates", item_param: "template_name" }"#,
        ),
        (
            "POST",
            "/2025-09-10/flows",
            r#"Create { kind: "workspaces/*/flows", item_param: "flow_name" }"#,
        ),
        ("PUT", "/2025-09-10/sandboxes/s1/pause", "None"),
        ("POST", "/2025-09-10/agents/runtimes/rt1/versions", "None"),
    ];
    for (method, path, want) in cases {
        assert_eq!(effect(&t, method, path), want, "{method} {path}");
    }
}

/// Every create the table yields, pinned: a new route file that adds one
/// shows up here for review.
#[test]
fn every_create_is_a_create_or_register_action() {
    let t = routes();
    for service in t.services() {
        for route in &service.routes {
            if route.method != http::Method::POST {
                continue;
            }
            let path = route.path.replace("{project_id}", "p1");
            let Ok(m) = t.lookup(&route.method, &path) else {
                continue;
            };
            if let Effect::Create { .. } = effect_of(&m) {
                let action = m.actions().next().unwrap().name.to_ascii_lowercase();
                assert!(
                    action.ends_with(":create")
                        || action.contains(":create")
                        || action.ends_with(":register"),
                    "{} {} → {action}",
                    route.method,
                    route.path
                );
            }
        }
    }
}

#[test]
fn addressed_ids_are_canonical() {
    let t = routes();
    let m = t
        .lookup(&http::Method::GET, "/v1/p1/notebooks/nb-red")
        .unwrap();
    assert_eq!(
        addressed(&m).unwrap(),
        Some(key("modelarts", "notebook", "nb-red"))
    );
    let m = t
        .lookup(&http::Method::GET, "/v1/p1/notebooks/nb-red;x")
        .unwrap();
    assert_eq!(addressed(&m), Err(Ambiguous::Character(';')));
    let m = t
        .lookup(&http::Method::GET, "/v1/p1/notebooks/nb-red%20")
        .unwrap();
    assert_eq!(addressed(&m), Err(Ambiguous::Character(' ')));
    let m = t.lookup(&http::Method::GET, "/v1/p1/notebooks").unwrap();
    assert_eq!(addressed(&m), Ok(None));
}

#[test]
fn created_ids_from_the_mock_and_sdk_shapes() {
    let h = Cloud::Huawei;
    let a = Cloud::Aliyun;
    assert_eq!(
        created_id(h, &json!({"id": "nb-1", "name": "x"}), "id").as_deref(),
        Some("nb-1")
    );
    assert_eq!(
        created_id(h, &json!({"metadata": {"id": "j-1"}}), "training_job_id").as_deref(),
        Some("j-1")
    );
    assert_eq!(
        created_id(
            h,
            &json!({"workflow_id": "w-1", "id": "w-1"}),
            "workflow_id"
        )
        .as_deref(),
        Some("w-1")
    );
    assert_eq!(
        created_id(
            h,
            &json!({"metadata": {"name": "gpu"}, "id": "uuid"}),
            "pool_name"
        )
        .as_deref(),
        Some("gpu")
    );
    assert_eq!(
        created_id(
            a,
            &json!({"data": {"agentRuntimeId": "rt-1", "id": "rt-1"}}),
            "agent_runtime_id"
        )
        .as_deref(),
        Some("rt-1")
    );
    assert_eq!(
        created_id(a, &json!({"data": {"id": "bot-1"}}), "im_bot_id").as_deref(),
        Some("bot-1")
    );
    // By name: the name, never the separate templateId.
    assert_eq!(
        created_id(
            a,
            &json!({"data": {"templateName": "t1", "id": "uuid"}}),
            "template_name"
        )
        .as_deref(),
        Some("t1")
    );
    assert_eq!(
        created_id(a, &json!({"data": {"templateId": "uuid"}}), "template_name"),
        None
    );
    assert_eq!(created_id(h, &json!({"id": "a;b"}), "id"), None);
    assert_eq!(created_id(h, &json!({"id": 7}), "id"), None);
    assert_eq!(
        created_id(a, &json!({"code": "SUCCESS"}), "sandbox_id"),
        None
    );
}
