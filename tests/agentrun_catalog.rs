//! The AgentRun route file against its fixtures (`tests/data/agentrun/`,
//! written by `extract_seed.py`): the 100 REST operations of the official SDK
//! and the AgentRun actions the seed page names. Every route is looked up
//! through the real table with concrete (percent-encoded) values and must give
//! its action and the ARN the spec's rules give, written out here
//! independently of the route file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::manifest;
use std::collections::{BTreeMap, BTreeSet};

use http::Method;
use iamgate::cloud::Cloud;
use iamgate::routes::{RouteError, RouteTable, Service};

const REGION: &str = "cn-hangzhou";
const ACCOUNT: &str = "1234567890";

/// The seed actions with no REST operation (data-plane calls).
const DATA_PLANE: [&str; 8] = [
    "agentrun:InvokeRuntime",
    "agentrun:InvokeSandbox",
    "agentrun:RetrieveMemory",
    "agentrun:CreateMemory",
    "agentrun:UpdateMemory",
    "agentrun:DeleteMemory",
    "agentrun:StartBrowserSession",
    "agentrun:StopBrowserSession",
];

/// The rows of an AgentRun fixture.
fn fixture(name: &str) -> Vec<Vec<String>> {
    common::fixture("agentrun", name)
}

/// (method, path, action) of the SDK table, in table order.
fn sdk_operations() -> Vec<(String, String, String)> {
    let rows = fixture("sdk_operations.tsv");
    assert_eq!(rows.len(), 100, "the SDK has 100 REST operations");
    rows.into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect()
}

fn seed_actions() -> BTreeSet<String> {
    fixture("seed_actions.tsv")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn table() -> RouteTable {
    common::route_table()
}

fn agentrun(table: &RouteTable) -> &Service {
    table.service("agentrun").expect("no agentrun service")
}

#[test]
fn the_whole_route_directory_loads_with_both_services() {
    let (table, warnings) = RouteTable::load_dir(&manifest("routes")).unwrap();
    assert!(table.service("modelarts").is_some());
    let service = agentrun(&table);
    assert_eq!(service.cloud, Cloud::Aliyun);
    assert_eq!(service.upstream, "agentrun");
    assert_eq!(
        service.resource_template,
        "acs:agentrun:{region}:{account}:{type}/{id}"
    );
    let ours: Vec<_> = warnings
        .iter()
        .filter(|d| d.file.ends_with("agentrun.toml"))
        .collect();
    assert!(ours.is_empty(), "{ours:#?}");
    assert_eq!(
        table.cloud_for_path("/2025-09-10/templates"),
        Some(Cloud::Aliyun)
    );
}

#[test]
fn every_sdk_operation_is_a_route_exactly() {
    let table = table();
    let service = agentrun(&table);
    let sdk = sdk_operations();
    assert_eq!(service.routes.len(), 100, "no invented routes");
    assert!(service.unmapped.is_empty(), "every SDK operation is mapped");
    for ((method, path, action), route) in sdk.iter().zip(&service.routes) {
        assert_eq!(route.method.as_str(), method);
        assert_eq!(&route.path, path);
        let names = common::action_names(service, route);
        assert_eq!(names, [action.as_str()], "{method} {path}");
        let operation = action.strip_prefix("agentrun:").unwrap();
        assert_eq!(
            route.operation.as_deref(),
            Some(operation),
            "{method} {path}"
        );
    }
}

#[test]
fn the_catalog_is_the_sdk_actions_plus_the_seed_data_plane_actions() {
    let table = table();
    let service = agentrun(&table);
    let sdk: BTreeSet<String> = sdk_operations().into_iter().map(|r| r.2).collect();
    let seed = seed_actions();
    let data_plane: BTreeSet<String> = DATA_PLANE.iter().map(|s| s.to_string()).collect();
    // The fixtures themselves: the seed's actions without a REST operation are exactly the 8.
    let seed_only: BTreeSet<String> = seed.difference(&sdk).cloned().collect();
    assert_eq!(seed_only, data_plane);

    let names: Vec<&str> = service.actions.iter().map(|a| a.name.as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "no action twice");
    assert_eq!(names.len(), 108);
    let expected: BTreeSet<String> = sdk.union(&data_plane).cloned().collect();
    let actual: BTreeSet<String> = names.iter().map(|s| s.to_string()).collect();
    assert_eq!(actual, expected, "no invented or missing actions");
    assert!(
        seed.is_subset(&actual),
        "every seed action is in the catalog"
    );

    let routed: BTreeSet<usize> = service
        .routes
        .iter()
        .flat_map(|r| r.actions.iter().copied())
        .collect();
    let without_route: BTreeSet<String> = service
        .actions
        .iter()
        .enumerate()
        .filter(|(i, _)| !routed.contains(i))
        .map(|(_, a)| a.name.clone())
        .collect();
    assert_eq!(without_route, data_plane);

    for action in &service.actions {
        assert_eq!(action.key, action.name.to_lowercase());
        assert!(
            action.description.as_deref().is_some_and(|d| !d.is_empty()),
            "{} has a description",
            action.name
        );
        assert!(action.resource_types.len() <= 1, "{}", action.name);
        assert_eq!(table.action(&action.name.to_uppercase()), Some(action));
    }
    let typed = |name: &str| table.action(name).unwrap().resource_types.clone();
    assert_eq!(typed("agentrun:InvokeRuntime"), ["runtimes"]);
    assert_eq!(typed("agentrun:InvokeSandbox"), ["sandboxes"]);
    assert_eq!(typed("agentrun:RetrieveMemory"), ["memory-collections"]);
    assert_eq!(typed("agentrun:StartBrowserSession"), ["browsers"]);
    assert!(typed("agentrun:ListModelProviders").is_empty());
    assert!(typed("agentrun:ConvertFlowDSL").is_empty());
}

/// A concrete path: `{template_name}` → `my%2Dtpl`, any other `{name}` →
/// `name%2D1` (decoded: `name-1`).
fn instantiate(template: &str) -> String {
    common::instantiate(template, |name| match name {
        "template_name" => "my%2Dtpl".to_string(),
        name => format!("{name}%2D1"),
    })
}

/// The decoded value `instantiate` gives a parameter.
fn decoded(param: &str) -> String {
    if param == "template_name" {
        "my-tpl".into()
    } else {
        format!("{param}-1")
    }
}

/// The ARN an operation must check, by aliyun-ram.md and the route file's
/// documented decisions, derived from the path alone.
fn expected_arn(operation: &str, path: &str) -> String {
    match operation {
        // No resource of the account: only `Resource: "*"` covers them.
        "ListModelProviders" | "ConvertFlowDSL" => return "*".into(),
        // Filed under credential management by the seed; the path names none.
        "GetAccessToken" => return format!("acs:agentrun:{REGION}:{ACCOUNT}:credentials/*"),
        _ => {}
    }
    let segments: Vec<&str> = path.split('/').skip(2).collect();
    let segments = match segments.first() {
        Some(&"agents") => &segments[1..],
        _ => &segments[..],
    };
    let param = |i: usize| {
        segments
            .get(i)
            .and_then(|s| s.strip_prefix('{'))
            .and_then(|s| s.strip_suffix('}'))
    };
    let (kind, id) = match segments {
        // Runtime endpoints are their own type; list/create name no endpoint.
        ["runtimes", _, "endpoints", ..] => ("runtime-endpoints".to_string(), param(3)),
        // Flows: the REST paths carry no workspace.
        ["flows", ..] => ("workspaces/*/flows".to_string(), param(1)),
        [collection, ..] => (collection.to_string(), param(1)),
        [] => panic!("empty path {path}"),
    };
    let id = id.map(decoded).unwrap_or_else(|| "*".into());
    format!("acs:agentrun:{REGION}:{ACCOUNT}:{kind}/{id}")
}

#[test]
fn every_route_resolves_to_its_action_and_arn() {
    let table = table();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for (method, path, action_name) in sdk_operations() {
        let raw = instantiate(&path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let m = table
            .lookup(&method, &raw)
            .unwrap_or_else(|e| panic!("{method} {raw}: {e}"));
        assert_eq!(m.service.name, "agentrun");
        assert_eq!(m.route.path, path, "{method} {raw}");
        let actions: Vec<_> = m.actions().collect();
        assert_eq!(actions.len(), 1);
        assert_eq!(actions[0].name, action_name);
        let operation = action_name.strip_prefix("agentrun:").unwrap();
        let arn = m.resource_for(actions[0], REGION, ACCOUNT);
        assert_eq!(arn, expected_arn(operation, &path), "{method} {path}");
        assert!(m.params.iter().all(|(_, v)| !v.contains('%')));
        let kind = arn
            .rsplit_once('/')
            .map_or("*".to_string(), |(k, _)| k.to_string());
        *by_kind.entry(kind).or_default() += 1;
    }
    // Every collection of the spec is reached by some route.
    for kind in [
        "runtimes",
        "runtime-endpoints",
        "templates",
        "sandboxes",
        "credentials",
        "model-services",
        "model-proxies",
        "memory-collections",
        "knowledgebases",
        "custom-domains",
        "tools",
        "browsers",
        "code-interpreters",
        "im-bots",
        "workspaces",
        "workspaces/*/flows",
    ] {
        let key = format!("acs:agentrun:{REGION}:{ACCOUNT}:{kind}");
        assert!(by_kind.contains_key(&key), "{kind}: {by_kind:?}");
    }
}

#[test]
fn arns_of_typical_routes() {
    let table = table();
    let arn = |method: Method, path: &str| {
        let m = table
            .lookup(&method, path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let action = m.actions().next().unwrap();
        (action.name.clone(), m.resource_for(action, REGION, ACCOUNT))
    };
    let p = |rest: &str| format!("acs:agentrun:{REGION}:{ACCOUNT}:{rest}");
    let cases = [
        (
            Method::GET,
            "/2025-09-10/templates/my%2Dtpl",
            "agentrun:GetTemplate",
            p("templates/my-tpl"),
        ),
        (
            Method::GET,
            "/2025-09-10/templates",
            "agentrun:ListTemplates",
            p("templates/*"),
        ),
        (
            Method::POST,
            "/2025-09-10/templates",
            "agentrun:CreateTemplate",
            p("templates/*"),
        ),
        (
            Method::PATCH,
            "/2025-09-10/templates/t1/mcp/activate",
            "agentrun:ActivateTemplateMCP",
            p("templates/t1"),
        ),
        (
            Method::PUT,
            "/2025-09-10/sandboxes/sb-1/pause",
            "agentrun:PauseSandbox",
            p("sandboxes/sb-1"),
        ),
        (
            Method::GET,
            "/2025-09-10/agents/runtimes/rt-1/endpoints/ep-1",
            "agentrun:GetAgentRuntimeEndpoint",
            p("runtime-endpoints/ep-1"),
        ),
        (
            Method::POST,
            "/2025-09-10/agents/runtimes/rt-1/endpoints",
            "agentrun:CreateAgentRuntimeEndpoint",
            p("runtime-endpoints/*"),
        ),
        (
            Method::GET,
            "/2025-09-10/agents/runtimes/rt-1/endpoints",
            "agentrun:ListAgentRuntimeEndpoints",
            p("runtime-endpoints/*"),
        ),
        (
            Method::POST,
            "/2025-09-10/agents/runtimes/rt-1/versions",
            "agentrun:PublishRuntimeVersion",
            p("runtimes/rt-1"),
        ),
        (
            Method::GET,
            "/2025-09-10/agents/runtimes/rt-1/versions",
            "agentrun:ListAgentRuntimeVersions",
            p("runtimes/rt-1"),
        ),
        (
            Method::GET,
            "/2025-09-10/flows/f1",
            "agentrun:GetFlow",
            p("workspaces/*/flows/f1"),
        ),
        (
            Method::GET,
            "/2025-09-10/flows/f1/endpoints",
            "agentrun:ListFlowEndpoints",
            p("workspaces/*/flows/f1"),
        ),
        (
            Method::POST,
            "/2025-09-10/flows/f1/endpoints",
            "agentrun:CreateFlowEndpoint",
            p("workspaces/*/flows/f1"),
        ),
        (
            Method::GET,
            "/2025-09-10/flows",
            "agentrun:ListFlows",
            p("workspaces/*/flows/*"),
        ),
        (
            Method::POST,
            "/2025-09-10/flows/action/convertDsl",
            "agentrun:ConvertFlowDSL",
            "*".to_string(),
        ),
        (
            Method::GET,
            "/2025-09-10/agents/model-providers",
            "agentrun:ListModelProviders",
            "*".to_string(),
        ),
        (
            Method::GET,
            "/2025-09-10/agents/accessToken",
            "agentrun:GetAccessToken",
            p("credentials/*"),
        ),
        (
            Method::GET,
            "/2025-09-10/agents/im-bots/b%7E",
            "agentrun:GetIMBot",
            p("im-bots/b~"),
        ),
        (
            Method::PUT,
            "/2025-09-10/workspaces/ws-1/discovery/endpoints",
            "agentrun:UpdateWorkspaceDiscoveryEndpoints",
            p("workspaces/ws-1"),
        ),
    ];
    for (method, path, action, expected) in cases {
        assert_eq!(arn(method, path), (action.to_string(), expected), "{path}");
    }
}

#[test]
fn static_segments_are_not_captured_by_parameters() {
    let table = table();
    // `flows/action/convertDsl` is static; `flows/{flow_name}` with name "action" still routes.
    let m = table
        .lookup(&Method::GET, "/2025-09-10/flows/action")
        .unwrap();
    assert_eq!(m.route.operation.as_deref(), Some("GetFlow"));
    assert_eq!(m.param("flow_name"), Some("action"));
    // `agents/accessToken` is only GET; other methods are not found.
    assert_eq!(
        table
            .lookup(&Method::POST, "/2025-09-10/agents/accessToken")
            .unwrap_err(),
        RouteError::NotFound
    );
    for (method, path) in [
        (Method::PATCH, "/2025-09-10/templates"),
        (Method::GET, "/2025-09-10/agents/unknown"),
        (Method::GET, "/2025-09-11/templates"),
        (Method::GET, "/2025-09-10/Templates"),
    ] {
        assert_eq!(
            table.lookup(&method, path).unwrap_err(),
            RouteError::NotFound,
            "{method} {path}"
        );
    }
    for path in [
        "/2025-09-10/templates/a%2Fb",
        "/2025-09-10/templates/%2e%2e",
        "/2025-09-10//templates",
    ] {
        assert!(
            matches!(
                table.lookup(&Method::GET, path).unwrap_err(),
                RouteError::BadPath(_)
            ),
            "{path}"
        );
    }
}
