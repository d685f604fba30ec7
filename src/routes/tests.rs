//! Unit tests of the route table: routing priorities, parameter names and
//! decoding, resource names, and the load-time checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;
use std::path::PathBuf;

use http::Method;

use super::file::ServiceFile;
use super::{RouteError, RouteTable};
use crate::diag::{Diagnostic, Place};

const HEADER: &str = r#"
service = "svc"
cloud = "huawei"
upstream = "svc"
resource = "svc:{region}:{account}:{type}:{id}"

[[action]]
name = "svc:notebook:get"
resource_types = ["notebook"]
[[action]]
name = "svc:notebook:list"
resource_types = ["notebook"]
[[action]]
name = "svc:image:create"
resource_types = ["image"]
[[action]]
name = "svc:workflow:list"
[[action]]
name = "svc:workflow:get"
resource_types = ["workflow"]
"#;

const ROUTES: &str = r#"
[[route]]
method = "GET"
path = "/v1/{project_id}/notebooks/{id}"
actions = ["svc:notebook:get"]
resource = { type = "notebook", id = "id" }
[[route]]
method = "GET"
path = "/v1/{project_id}/notebooks/{instance_id}/storage"
actions = ["svc:notebook:get", "svc:image:create"]
resource = { type = "notebook", id = "instance_id" }
[[route]]
method = "GET"
path = "/v1/{project_id}/notebooks"
actions = ["svc:notebook:list"]
resource = { type = "notebook" }
[[route]]
method = "GET"
path = "/v2/{project_id}/workflows/overview"
actions = ["svc:workflow:list"]
[[route]]
method = "GET"
path = "/v2/{project_id}/workflows/{workflow_id}/executions"
actions = ["svc:workflow:get"]
resource = { type = "workflow", id = "workflow_id" }
[[unmapped]]
method = "GET"
path = "/v1/{project_id}/notebooks/flavors"
operation = "list_flavors"
"#;

fn parse(text: &str) -> ServiceFile {
    toml::from_str(text).unwrap()
}

fn table() -> RouteTable {
    let file = parse(&format!("{HEADER}{ROUTES}"));
    RouteTable::from_files(vec![(PathBuf::from("svc.toml"), file)])
        .unwrap()
        .0
}

fn errors(extra: &str) -> Vec<Diagnostic> {
    let file = parse(&format!("{HEADER}{ROUTES}{extra}"));
    match RouteTable::from_files(vec![(PathBuf::from("svc.toml"), file)]) {
        Ok(_) => panic!("expected errors"),
        Err(diags) => diags,
    }
}

fn pointer(d: &Diagnostic) -> &str {
    match &d.place {
        Place::Pointer(p) => p,
        other => panic!("not a pointer: {other:?}"),
    }
}

#[test]
fn returns_each_route_its_own_parameter_names_decoded() {
    let t = table();
    let m = t
        .lookup(&Method::GET, "/v1/p1/notebooks/nb%2D1/storage")
        .unwrap();
    assert_eq!(
        m.route.path,
        "/v1/{project_id}/notebooks/{instance_id}/storage"
    );
    assert_eq!(
        m.params,
        [("project_id", "p1".into()), ("instance_id", "nb-1".into())]
    );
    // Only a value that decoding changed is a copy; the rest borrow the path.
    assert!(matches!(m.params[0].1, Cow::Borrowed("p1")));
    assert!(matches!(m.params[1].1, Cow::Owned(_)));
    let m = t.lookup(&Method::GET, "/v1/p1/notebooks/nb-2").unwrap();
    assert_eq!(m.param("id"), Some("nb-2"));
    assert_eq!(m.param("instance_id"), None);
}

#[test]
fn static_segments_win_over_parameters() {
    let t = table();
    let err = t
        .lookup(&Method::GET, "/v1/p/notebooks/flavors")
        .unwrap_err();
    assert_eq!(
        err,
        RouteError::Unmapped {
            service: "svc".into(),
            operation: "list_flavors".into()
        }
    );
    let m = t.lookup(&Method::GET, "/v2/p/workflows/overview").unwrap();
    assert_eq!(m.route.path, "/v2/{project_id}/workflows/overview");
}

#[test]
fn matchit_backtracks_from_a_static_child_to_the_parameter_sibling() {
    // `overview` is static under workflows/, but `overview/executions` only
    // fits `{workflow_id}/executions`: matchit 0.8.6 backtracks to it, which
    // is the only template the path fits, so the route is the right one.
    let t = table();
    let m = t
        .lookup(&Method::GET, "/v2/p/workflows/overview/executions")
        .unwrap();
    assert_eq!(
        m.route.path,
        "/v2/{project_id}/workflows/{workflow_id}/executions"
    );
    assert_eq!(m.param("workflow_id"), Some("overview"));
}

#[test]
fn an_escape_that_changes_the_route_is_ambiguous() {
    let t = table();
    let err = t
        .lookup(&Method::GET, "/v1/p/notebooks/fl%61vors")
        .unwrap_err();
    assert!(matches!(err, RouteError::BadPath(m) if m.contains("percent-encoding")));
    // An escaped static segment simply does not match: fail closed.
    assert_eq!(
        t.lookup(&Method::GET, "/v1/p/note%62ooks").unwrap_err(),
        RouteError::NotFound
    );
}

#[test]
fn unknown_method_or_path_is_not_found() {
    let t = table();
    assert_eq!(
        t.lookup(&Method::DELETE, "/v1/p/notebooks").unwrap_err(),
        RouteError::NotFound
    );
    assert_eq!(
        t.lookup(&Method::GET, "/v1/p/nothing").unwrap_err(),
        RouteError::NotFound
    );
    assert_eq!(
        t.lookup(&Method::GET, "/").unwrap_err(),
        RouteError::NotFound
    );
    assert!(matches!(
        t.lookup(&Method::GET, "/v1/p/notebooks/"),
        Err(RouteError::BadPath(_))
    ));
}

#[test]
fn resource_names_follow_the_route_and_the_action() {
    let t = table();
    let m = t
        .lookup(&Method::GET, "/v1/p/notebooks/nb%2D1/storage")
        .unwrap();
    let actions: Vec<_> = m.actions().collect();
    assert_eq!(
        m.resource_for(actions[0], "r1", "a1"),
        "svc:r1:a1:notebook:nb-1"
    );
    // image:create does not support the route's type: its own type, id `*`.
    assert_eq!(m.resource_for(actions[1], "r1", "a1"), "svc:r1:a1:image:*");
    let list = t.lookup(&Method::GET, "/v1/p/notebooks").unwrap();
    let action = list.actions().next().unwrap();
    assert_eq!(
        list.resource_for(action, "r1", "a1"),
        "svc:r1:a1:notebook:*"
    );
    let overview = t.lookup(&Method::GET, "/v2/p/workflows/overview").unwrap();
    let action = overview.actions().next().unwrap();
    assert_eq!(overview.resource_for(action, "r1", "a1"), "*");
}

#[test]
fn table_accessors() {
    let t = table();
    assert_eq!(t.route_count(), 6);
    assert_eq!(
        t.action("SVC:Notebook:GET").unwrap().name,
        "svc:notebook:get"
    );
    assert!(t.action("svc:notebook:nope").is_none());
    assert_eq!(t.service("svc").unwrap().routes.len(), 5);
    assert_eq!(t.cloud_for_path("/v2/x"), Some(crate::cloud::Cloud::Huawei));
    assert_eq!(t.cloud_for_path("/2025-09-10/x"), None);
}

#[test]
fn reports_every_error_of_meaning_at_once() {
    let extra = r#"
[[action]]
name = "svc:bad*name"
[[route]]
method = "FETCH"
path = "/v1/{project_id}/a"
actions = ["svc:notebook:get"]
[[route]]
method = "GET"
path = "/v1/{project_id}/b/{*rest}"
actions = ["svc:notebook:get"]
[[route]]
method = "GET"
path = "/v1/{project_id}/c/{c_id}"
actions = ["svc:nope:get", "svc:notebook:get"]
resource = { type = "image", id = "x_id" }
[[route]]
method = "GET"
path = "/v1/{pid}/notebooks/{nb}"
actions = ["svc:notebook:get"]
[[route]]
method = "GET"
path = "/v1/{project_id}/notebooks/flavors"
actions = ["svc:notebook:list"]
"#;
    let diags = errors(extra);
    let places: Vec<&str> = diags.iter().map(pointer).collect();
    for place in [
        "/action/5/name",
        "/route/5/method",
        "/route/6/path",
        "/route/7/actions/0",
        "/route/7/resource/type",
        "/route/7/resource/id",
        "/route/8/path",
        "/unmapped/0/path",
    ] {
        assert!(places.contains(&place), "{place} missing from {diags:#?}");
    }
    assert!(diags
        .iter()
        .all(|d| d.file == std::path::Path::new("svc.toml") && !d.warning));
    let both = diags
        .iter()
        .find(|d| pointer(d) == "/unmapped/0/path")
        .unwrap();
    assert!(both
        .message
        .contains("both mapped and unmapped (see svc.toml#/route/9)"));
}

#[test]
fn reports_conflicts_across_files() {
    let mut other =
        parse(&format!("{HEADER}{ROUTES}").replace("cloud = \"huawei\"", "cloud = \"aliyun\""));
    other.service = "other".into();
    other
        .actions
        .iter_mut()
        .for_each(|a| a.name = a.name.replace("svc:", "other:"));
    other.routes.iter_mut().for_each(|r| {
        r.actions
            .iter_mut()
            .for_each(|a| *a = a.replace("svc:", "other:"))
    });
    let files = vec![
        (PathBuf::from("a.toml"), parse(&format!("{HEADER}{ROUTES}"))),
        (PathBuf::from("b.toml"), other),
    ];
    let diags = RouteTable::from_files(files).unwrap_err();
    assert!(diags
        .iter()
        .all(|d| d.file == std::path::Path::new("b.toml")));
    assert!(diags
        .iter()
        .any(|d| d.message.contains("already claimed by service svc")));
    assert!(diags.iter().any(|d| d.message.contains("a.toml#/route/0")));
}

#[test]
fn rejects_a_bad_resource_template() {
    let file = parse(&HEADER.replace("{id}\"", "{name}\""));
    let diags = RouteTable::from_files(vec![(PathBuf::from("svc.toml"), file)]).unwrap_err();
    assert_eq!(pointer(&diags[0]), "/resource");
}

#[test]
fn an_escape_that_keeps_the_route_is_fine() {
    // The decoded value names a static segment, so the decoded path is
    // routed again; it reaches the same route (by backtracking), so it passes.
    let t = table();
    let m = t
        .lookup(&Method::GET, "/v2/p/workflows/overvi%65w/executions")
        .unwrap();
    assert_eq!(m.param("workflow_id"), Some("overview"));
}
