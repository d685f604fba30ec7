//! The ModelArts route file against the seed tables (copied into
//! `tests/data/modelarts/` by `extract_seed.py`), lookups of every seed route
//! and SDK operation through the real table, and broken route files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use http::Method;
use iamgate::cloud::Cloud;
use iamgate::diag::Place;
use iamgate::routes::{RouteError, RouteTable, Service};

const DUPLICATE_ROW: (&str, &str, &str) = (
    "POST",
    "/v2/{project_id}/training-jobs",
    "modelarts:trainJob:logExport",
);

/// The rows of a ModelArts fixture.
fn fixture(name: &str) -> Vec<Vec<String>> {
    common::fixture("modelarts", name)
}

fn list(cell: &str) -> Vec<String> {
    cell.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn table() -> RouteTable {
    common::route_table()
}

fn modelarts(table: &RouteTable) -> &Service {
    table.service("modelarts").expect("no modelarts service")
}

/// (method, path) → SDK operation.
fn sdk_operations() -> BTreeMap<(String, String), String> {
    let rows = fixture("sdk_operations.tsv");
    rows.into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), r[2].clone()))
        .collect()
}

/// Table 2 without the documented duplicate row.
fn seed_routes() -> Vec<(String, String, String)> {
    let rows = fixture("seed_table2.tsv");
    assert_eq!(rows.len(), 152, "seed table 2 has 152 rows");
    let (m, p, a) = DUPLICATE_ROW;
    let routes: Vec<_> = rows
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .filter(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str()) != (m, p, a))
        .collect();
    assert_eq!(routes.len(), 151);
    routes
}

#[test]
fn every_table1_action_is_in_the_catalog_exactly() {
    let table = table();
    let service = modelarts(&table);
    let rows = fixture("seed_table1.tsv");
    assert_eq!(rows.len(), 100);
    assert_eq!(service.actions.len(), rows.len(), "no invented actions");
    for (row, action) in rows.iter().zip(&service.actions) {
        assert_eq!(action.name, row[0]);
        assert_eq!(action.key, row[0].to_lowercase());
        assert_eq!(
            action.description.as_deref(),
            Some(row[1].as_str()),
            "{}",
            row[0]
        );
        assert_eq!(
            action.access.as_deref(),
            Some(row[2].as_str()),
            "{}",
            row[0]
        );
        assert_eq!(action.resource_types, list(&row[3]), "{}", row[0]);
        assert_eq!(action.condition_keys, list(&row[4]), "{}", row[0]);
        assert_eq!(table.action(&row[0].to_uppercase()), Some(action));
    }
}

#[test]
fn every_table2_row_is_a_route_in_seed_order() {
    let table = table();
    let service = modelarts(&table);
    let seed = seed_routes();
    assert_eq!(service.routes.len(), 151, "no invented routes");
    for ((method, path, action), route) in seed.iter().zip(&service.routes) {
        assert_eq!(route.method.as_str(), method);
        assert_eq!(&route.path, path);
        let names = common::action_names(service, route);
        assert_eq!(names, [action.as_str()], "{method} {path}");
    }
    // The documented exception: the duplicated row maps to trainJob:create only.
    let (m, p, _) = DUPLICATE_ROW;
    let route = service
        .routes
        .iter()
        .find(|r| r.method == m && r.path == p)
        .unwrap();
    assert_eq!(route.actions.len(), 1);
    assert_eq!(
        service.actions[route.actions[0]].name,
        "modelarts:trainJob:create"
    );
}

#[test]
fn sdk_operations_are_mapped_or_unmapped() {
    let table = table();
    let service = modelarts(&table);
    let sdk = sdk_operations();
    assert_eq!(sdk.len(), 297);
    let mut with_operation = 0;
    for route in &service.routes {
        let key = (route.method.to_string(), route.path.clone());
        assert_eq!(route.operation.as_ref(), sdk.get(&key), "{key:?}");
        with_operation += usize::from(route.operation.is_some());
    }
    assert_eq!(with_operation, 92);
    let mapped: BTreeSet<_> = service
        .routes
        .iter()
        .map(|r| (r.method.to_string(), r.path.clone()))
        .collect();
    let expected: Vec<_> = fixture("sdk_operations.tsv")
        .into_iter()
        .filter(|r| !mapped.contains(&(r[0].clone(), r[1].clone())))
        .collect();
    assert_eq!(expected.len(), 205);
    let unmapped: Vec<_> = service
        .unmapped
        .iter()
        .map(|u| vec![u.method.to_string(), u.path.clone(), u.operation.clone()])
        .collect();
    assert_eq!(unmapped, expected);
    assert_eq!(service.routes.len() + service.unmapped.len(), 356);
}

/// A concrete path: `{project_id}` → `proj1`, `{id}` → `nb%2D1`, any other
/// `{name}` → `name%2D1` (decoded: `name-1`).
fn instantiate(template: &str) -> String {
    common::instantiate(template, |name| match name {
        "project_id" => "proj1".to_string(),
        "id" => "nb%2D1".to_string(),
        name => format!("{name}%2D1"),
    })
}

/// The path parameter that holds the id of `kind`, by the rules of the route
/// file's header, written out independently of the file.
fn expected_id(kind: &str, path: &str) -> Option<String> {
    let collections: &[&str] = match kind {
        "notebook" => &["notebooks"],
        "image" => &["images"],
        "model" => &["models"],
        "service" => &["services"],
        "aiAlgorithm" => &["algorithms"],
        "trainJob" => &["training-jobs", "trainJob"],
        "network" => &["networks"],
        "workflow" => &["workflows"],
        "workspace" => &["workspaces"],
        "dataset" => &["datasets"],
        "pool" => &["pools"],
        "devserver" => &["dev-servers"],
        "nodeservice" => return Some("service_id".into()), // decision: the service on the nodes
        _ => &[], // dataAnnotation: no annotation id in any path
    };
    let segments: Vec<&str> = path.split('/').collect();
    segments.windows(2).find_map(|w| {
        let param = w[1].strip_prefix('{')?.strip_suffix('}')?;
        collections.contains(&w[0]).then(|| param.to_string())
    })
}

#[test]
fn every_seed_route_resolves_to_its_action_and_resource() {
    let table = table();
    for (method, path, action_name) in seed_routes() {
        let raw = instantiate(&path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let m = table
            .lookup(&method, &raw)
            .unwrap_or_else(|e| panic!("{method} {raw}: {e}"));
        assert_eq!(m.route.path, path);
        assert_eq!(m.service.name, "modelarts");
        let actions: Vec<_> = m.actions().collect();
        assert_eq!(actions.len(), 1);
        let action = actions[0];
        assert_eq!(action.name, action_name);
        let urn = m.resource_for(action, "cn-north-4", "acc1");
        let expected = match action.resource_types.first() {
            None => "*".to_string(),
            Some(kind) => {
                let id = expected_id(kind, &path).map(|p| {
                    if p == "id" {
                        "nb-1".into()
                    } else {
                        format!("{p}-1")
                    }
                });
                format!(
                    "modelarts:cn-north-4:acc1:{kind}:{}",
                    id.as_deref().unwrap_or("*")
                )
            }
        };
        assert_eq!(urn, expected, "{method} {path}");
        let names: Vec<&str> = m.params.iter().map(|(n, _)| *n).collect();
        assert!(
            names.iter().all(|n| path.contains(&format!("{{{n}}}"))),
            "{path}"
        );
    }
}

#[test]
fn resource_names_of_typical_routes() {
    let table = table();
    let urn = |method: Method, path: &str| {
        let m = table.lookup(&method, path).unwrap();
        let action = m.actions().next().unwrap();
        m.resource_for(action, "cn-north-4", "acc1")
    };
    assert_eq!(
        urn(Method::GET, "/v1/proj1/notebooks/nb%2D1"),
        "modelarts:cn-north-4:acc1:notebook:nb-1"
    );
    assert_eq!(
        urn(Method::GET, "/v1/proj1/notebooks"),
        "modelarts:cn-north-4:acc1:notebook:*"
    );
    assert_eq!(
        urn(Method::POST, "/v1/proj1/notebooks"),
        "modelarts:cn-north-4:acc1:notebook:*"
    );
    assert_eq!(
        urn(Method::GET, "/v1/proj1/notebooks/nb-7/storage"),
        "modelarts:cn-north-4:acc1:notebook:nb-7"
    );
    assert_eq!(
        urn(Method::POST, "/v1/proj1/notebooks/nb-7/create-image"),
        "modelarts:cn-north-4:acc1:image:*"
    );
    assert_eq!(
        urn(Method::GET, "/v1/proj1/events"),
        "modelarts:cn-north-4:acc1:pool:*"
    );
    assert_eq!(urn(Method::GET, "/v1/proj1/services"), "*");
    assert_eq!(
        urn(Method::GET, "/v1/proj1/images/group"),
        "modelarts:cn-north-4:acc1:image:*"
    );
    assert_eq!(
        urn(Method::GET, "/v1/proj1/services/tms/tags"),
        "modelarts:cn-north-4:acc1:service:*"
    );
}

#[test]
fn every_unmapped_sdk_operation_is_refused_with_its_name() {
    let table = table();
    let service = modelarts(&table);
    for unmapped in &service.unmapped {
        let raw = instantiate(&unmapped.path);
        let err = table.lookup(&unmapped.method, &raw).unwrap_err();
        let expected = RouteError::Unmapped {
            service: "modelarts".into(),
            operation: unmapped.operation.clone(),
        };
        assert_eq!(err, expected, "{} {raw}", unmapped.method);
    }
    let err = table
        .lookup(&Method::GET, "/v1/p/notebooks/flavors")
        .unwrap_err();
    let expected = RouteError::Unmapped {
        service: "modelarts".into(),
        operation: "list_flavors".into(),
    };
    assert_eq!(
        err, expected,
        "a static SDK path is not captured by notebooks/{{id}}"
    );
}

#[test]
fn ambiguous_paths_are_bad_requests() {
    let table = table();
    let paths = [
        "v1/proj1/notebooks",
        "/v1//notebooks",
        "/v1/proj1/notebooks/",
        "/v1/proj1/./notebooks",
        "/v1/proj1/notebooks/../images",
        "/v1/proj1/notebooks/%2e%2E",
        "/v1/proj1/notebooks/%2E",
        "/v1/proj1/notebooks/a%2Fb",
        "/v1/proj1/notebooks/a%2fb",
        "/v1/proj1/notebooks/a%5Cb",
        "/v1/proj1/notebooks/a%00",
        "/v1/proj1/notebooks/a\\b",
        "/v1/proj1/notebooks/%zz",
        "/v1/proj1/notebooks/%4",
        "/v1/proj1/notebooks/nb%",
        "/v1/proj1/notebooks/%FF%FE",
        "/v1/proj1/notebooks/fl%61vors",
    ];
    for path in paths {
        let err = table.lookup(&Method::GET, path).unwrap_err();
        assert!(matches!(err, RouteError::BadPath(_)), "{path}: {err:?}");
    }
}

#[test]
fn unknown_paths_and_methods_are_not_found() {
    let table = table();
    let cases = [
        (Method::PATCH, "/v1/proj1/notebooks"),
        (Method::GET, "/v1/proj1/unknown"),
        (Method::GET, "/v3/proj1/notebooks"),
        (Method::GET, "/v1/proj1/note%62ooks"),
        (Method::GET, "/V1/proj1/notebooks"),
    ];
    for (method, path) in cases {
        assert_eq!(
            table.lookup(&method, path).unwrap_err(),
            RouteError::NotFound,
            "{method} {path}"
        );
    }
    assert_eq!(table.cloud_for_path("/v1/anything"), Some(Cloud::Huawei));
    assert_eq!(table.cloud_for_path("/v2"), Some(Cloud::Huawei));
}

const SMALL: &str = r#"
service = "svc"
cloud = "huawei"
upstream = "svc"
resource = "svc:{region}:{account}:{type}:{id}"
[[action]]
name = "svc:thing:get"
resource_types = ["thing"]
"#;

#[test]
fn broken_files_report_every_error_with_file_and_place() {
    let dir = tempfile::tempdir().unwrap();
    let syntax = format!("{SMALL}colour = \"blue\"\n");
    std::fs::write(dir.path().join("a.toml"), syntax).unwrap();
    let meaning = format!(
        "{}{}",
        SMALL.replace("\"svc", "\"other"),
        r#"
[[route]]
method = "GET"
path = "/v1/{project_id}/things/{thing_id}"
actions = ["other:thing:nope"]
[[route]]
method = "GET"
path = "/v1/{project_id}/things/{id}"
actions = ["other:thing:get"]
resource = { type = "widget", id = "id" }
[[route]]
method = "GET"
path = "/v1/{project_id}/things/{x}"
actions = ["other:thing:get"]
"#
    );
    std::fs::write(dir.path().join("b.toml"), meaning).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a route file").unwrap();
    let diags = RouteTable::load_dir(dir.path()).unwrap_err();
    let found: Vec<(String, Place)> = diags
        .iter()
        .map(|d| {
            (
                d.file.file_name().unwrap().to_string_lossy().into_owned(),
                d.place.clone(),
            )
        })
        .collect();
    let pointer = |p: &str| Place::Pointer(p.to_string());
    assert!(
        matches!(&found[0], (f, Place::Line { line: 9, column: 1 }) if f == "a.toml"),
        "{found:?}"
    );
    assert!(diags[0].message.contains("colour"), "{}", diags[0].message);
    for place in [
        "/route/0/actions/0",
        "/route/1/resource/type",
        "/route/2/path",
    ] {
        assert!(
            found.contains(&("b.toml".to_string(), pointer(place))),
            "{place}: {found:?}"
        );
    }
    assert_eq!(diags.len(), 5, "{diags:#?}");
}
