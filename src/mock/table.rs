//! The mock's own routing table, derived from the route files.
//!
//! Every route and unmapped SDK operation of every file becomes an endpoint.
//! A *collection* is a path `P` that has a `POST` (create) and a sibling item
//! path `P/{x}`; the item's parameter name tells how the SDK addresses the
//! resource (`{template_name}` → by name, `{agent_runtime_id}` → by id).
//! Parameter names are normalised by position (`{p3}`) before they reach
//! matchit, which rejects `{id}` and `{instance_id}` at the same place.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::cloud::Cloud;
use crate::routes::file::ServiceFile;

/// What the mock does for one method on one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `GET P`: list the items stored under the concrete path.
    List(Arc<Collection>),
    /// `POST P`: store a new item.
    Create(Arc<Collection>),
    /// `GET P/{x}`.
    Get(Arc<Collection>),
    /// `PUT` or `PATCH P/{x}`: merge the body into the item.
    Update(Arc<Collection>),
    /// `DELETE P/{x}`.
    Delete(Arc<Collection>),
    /// Any other route: 200 with a small JSON object naming the operation.
    Other(String),
}

/// A collection of resources, as the route files and the SDK describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Collection {
    /// The item route's parameter, as the route file spells it (`workflow_id`).
    pub(crate) item_param: String,
    /// The SDK addresses items by the name the client chose (`{…_name}`).
    pub(crate) by_name: bool,
    /// The collection path's last segment (`notebooks`, `custom-domains`).
    pub(crate) list_key: String,
}

/// The outcome of [`RouteTable::lookup`].
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Found(Cloud, &'a Kind),
    /// Unknown path, or a known path without this method; the cloud when known.
    NotFound(Option<Cloud>),
}

/// One normalised path with its methods.
#[derive(Debug)]
struct Endpoint {
    cloud: Cloud,
    methods: HashMap<String, Kind>,
}

/// Method + raw path → what to do.
#[derive(Debug)]
pub(crate) struct RouteTable {
    router: matchit::Router<usize>,
    endpoints: Vec<Endpoint>,
}

/// One route or unmapped operation of a file, path already normalised.
struct Entry {
    method: String,
    original: String,
    operation: String,
}

impl RouteTable {
    /// Build the table of every file; fails only on paths matchit rejects.
    pub(crate) fn build(files: &[ServiceFile]) -> Result<Self, String> {
        let mut by_path: BTreeMap<String, (Cloud, Vec<Entry>)> = BTreeMap::new();
        for file in files {
            for (method, path, operation) in file_entries(file) {
                let slot = by_path
                    .entry(normalise(&path))
                    .or_insert_with(|| (file.cloud, Vec::new()));
                slot.1.push(Entry {
                    method,
                    original: path,
                    operation,
                });
            }
        }
        let collections = derive_collections(&by_path);
        let mut table = RouteTable {
            router: matchit::Router::new(),
            endpoints: Vec::new(),
        };
        for (path, (cloud, entries)) in &by_path {
            let methods = entries
                .iter()
                .map(|e| (e.method.clone(), kind_of(path, e, &collections)))
                .collect();
            table
                .router
                .insert(path.clone(), table.endpoints.len())
                .map_err(|e| format!("mock route {path}: {e}"))?;
            table.endpoints.push(Endpoint {
                cloud: *cloud,
                methods,
            });
        }
        Ok(table)
    }

    /// Find what `method` on the raw `path` does.
    pub(crate) fn lookup(&self, method: &str, path: &str) -> Lookup<'_> {
        let Ok(matched) = self.router.at(path) else {
            return Lookup::NotFound(None);
        };
        let Some(endpoint) = self.endpoints.get(*matched.value) else {
            return Lookup::NotFound(None);
        };
        match endpoint.methods.get(method) {
            Some(kind) => Lookup::Found(endpoint.cloud, kind),
            None => Lookup::NotFound(Some(endpoint.cloud)),
        }
    }
}

/// Every (method, path, operation) of a file, mapped and unmapped.
fn file_entries(file: &ServiceFile) -> Vec<(String, String, String)> {
    let mapped = file.routes.iter().map(|r| {
        let op = r
            .operation
            .clone()
            .unwrap_or_else(|| format!("{} {}", r.method, r.path));
        (r.method.to_ascii_uppercase(), r.path.clone(), op)
    });
    let unmapped = file.unmapped.iter().map(|u| {
        (
            u.method.to_ascii_uppercase(),
            u.path.clone(),
            u.operation.clone(),
        )
    });
    mapped.chain(unmapped).collect()
}

/// Rename every `{param}` segment to `{p<index>}` (index of the segment).
pub(crate) fn normalise(path: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, seg)| match param_name(seg) {
            Some(_) => format!("{{p{i}}}"),
            None => seg.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `{name}` → `name`.
fn param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

/// Normalised collection path → its collection, for every `P` with a `POST`
/// and a sibling item path.
fn derive_collections(
    by_path: &BTreeMap<String, (Cloud, Vec<Entry>)>,
) -> HashMap<String, Arc<Collection>> {
    let mut out = HashMap::new();
    for (path, (_, entries)) in by_path {
        if !entries.iter().any(|e| e.method == "POST") {
            continue;
        }
        let item_path = format!("{path}/{{p{}}}", path.split('/').count());
        let Some((_, item_entries)) = by_path.get(&item_path) else {
            continue;
        };
        let Some(item_param) = item_param(item_entries) else {
            continue;
        };
        let list_key = path.rsplit('/').next().unwrap_or_default().to_string();
        let by_name = item_param == "name" || item_param.ends_with("_name");
        out.insert(
            path.clone(),
            Arc::new(Collection {
                item_param,
                by_name,
                list_key,
            }),
        );
    }
    out
}

/// The item parameter's name, preferring the `GET` route's spelling.
fn item_param(entries: &[Entry]) -> Option<String> {
    let preferred = entries
        .iter()
        .find(|e| e.method == "GET")
        .or_else(|| entries.first())?;
    let last = preferred.original.rsplit('/').next()?;
    param_name(last).map(str::to_string)
}

/// The kind of one entry, given the derived collections.
fn kind_of(path: &str, entry: &Entry, collections: &HashMap<String, Arc<Collection>>) -> Kind {
    let other = || Kind::Other(entry.operation.clone());
    if let Some(coll) = collections.get(path) {
        return match entry.method.as_str() {
            "POST" => Kind::Create(coll.clone()),
            "GET" => Kind::List(coll.clone()),
            _ => other(),
        };
    }
    let parent = path
        .rsplit_once('/')
        .map(|(parent, _)| parent)
        .unwrap_or_default();
    let is_item = path.rsplit('/').next().and_then(param_name).is_some();
    match collections.get(parent) {
        Some(coll) if is_item => match entry.method.as_str() {
            "GET" => Kind::Get(coll.clone()),
            "PUT" | "PATCH" => Kind::Update(coll.clone()),
            "DELETE" => Kind::Delete(coll.clone()),
            _ => other(),
        },
        _ => other(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const FILE: &str = r#"
service = "modelarts"
cloud = "huawei"
upstream = "modelarts"
resource = "modelarts:{region}:{account}:{type}:{id}"

[[route]]
method = "POST"
path = "/v1/{project_id}/notebooks"
actions = ["modelarts:notebook:create"]

[[route]]
method = "GET"
path = "/v1/{project_id}/notebooks/{id}"
actions = ["modelarts:notebook:get"]
operation = "show_notebook"

[[route]]
method = "GET"
path = "/v1/{project_id}/notebooks/{instance_id}/storage"
actions = ["modelarts:notebook:listStorage"]

[[unmapped]]
method = "GET"
path = "/v1/{project_id}/notebooks/flavors"
operation = "list_flavors"

[[route]]
method = "POST"
path = "/v2/{project_id}/pools"
actions = ["modelarts:pool:create"]

[[route]]
method = "DELETE"
path = "/v2/{project_id}/pools/{pool_name}"
actions = ["modelarts:pool:delete"]

[[route]]
method = "POST"
path = "/v2/{project_id}/services/delete"
actions = ["modelarts:service:delete"]
"#;

    fn table() -> RouteTable {
        let file: ServiceFile = toml::from_str(FILE).unwrap();
        RouteTable::build(&[file]).unwrap()
    }

    fn kind(table: &RouteTable, method: &str, path: &str) -> Kind {
        match table.lookup(method, path) {
            Lookup::Found(Cloud::Huawei, kind) => kind.clone(),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    #[test]
    fn normalise_renames_params_by_position() {
        assert_eq!(
            normalise("/v1/{project_id}/notebooks/{id}"),
            "/v1/{p2}/notebooks/{p4}"
        );
        assert_eq!(normalise("/v1/auth-mode"), "/v1/auth-mode");
    }

    #[test]
    fn notebooks_are_a_collection_addressed_by_id() {
        let t = table();
        let Kind::Create(coll) = kind(&t, "POST", "/v1/p1/notebooks") else {
            panic!()
        };
        assert_eq!(coll.item_param, "id");
        assert!(!coll.by_name);
        assert_eq!(coll.list_key, "notebooks");
        assert!(matches!(
            kind(&t, "GET", "/v1/p1/notebooks/nb-1"),
            Kind::Get(_)
        ));
    }

    #[test]
    fn sibling_param_names_share_a_position() {
        let t = table();
        assert_eq!(
            kind(&t, "GET", "/v1/p1/notebooks/nb/storage"),
            Kind::Other("GET /v1/{project_id}/notebooks/{instance_id}/storage".into())
        );
        assert_eq!(
            kind(&t, "GET", "/v1/p1/notebooks/flavors"),
            Kind::Other("list_flavors".into())
        );
    }

    #[test]
    fn pools_are_addressed_by_name() {
        let t = table();
        let Kind::Delete(coll) = kind(&t, "DELETE", "/v2/p1/pools/pool-a") else {
            panic!()
        };
        assert!(coll.by_name);
        assert_eq!(coll.item_param, "pool_name");
    }

    #[test]
    fn a_post_without_item_route_is_not_a_collection() {
        let t = table();
        assert!(matches!(
            kind(&t, "POST", "/v2/p1/services/delete"),
            Kind::Other(_)
        ));
    }

    #[test]
    fn unknown_paths_and_methods_are_not_found() {
        let t = table();
        assert!(matches!(t.lookup("GET", "/v9/x"), Lookup::NotFound(None)));
        assert!(matches!(
            t.lookup("PUT", "/v1/p1/notebooks"),
            Lookup::NotFound(Some(Cloud::Huawei))
        ));
    }
}
