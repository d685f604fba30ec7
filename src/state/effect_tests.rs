//! Tests of the route-derived effects, addressed ids and created ids, over
//! the repository's real route files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::json;

use super::*;
use crate::cloud::Cloud;
use crate::routes::RouteTable;

fn routes() -> RouteTable {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes");
    RouteTable::load_dir(&dir).unwrap().0
}

fn key(service: &str, kind: &str, id: &str) -> ResourceKey {
    ResourceKey {
        service: service.into(),
        kind: kind.into(),
        id: id.into(),
    }
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
    // Aliases never get as far as the state: the router refuses them.
    for alias in ["/v1/p1/notebooks/nb-red;x", "/v1/p1/notebooks/nb-red%20"] {
        let refused = t.lookup(&http::Method::GET, alias);
        assert!(
            matches!(&refused, Err(crate::routes::RouteError::BadPath(why)) if why.contains("resource id holds")),
            "{alias}: {refused:?}"
        );
    }
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
