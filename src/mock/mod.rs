//! The bundled mock cloud upstream: what iamgate forwards allowed calls to.
//!
//! Built from the route files ([`MockUpstream::new`]): every *collection* — a
//! path `P` with a `POST` route and a sibling item route `P/{x}` — gets an
//! in-memory create / list / get / update (deep merge) / delete, with items
//! stored per caller account and concrete collection path: the account is
//! the [`ACCOUNT_HEADER`] the gateway sets (`""` when absent), so one
//! account never reaches another's items, even by id. Every other route of the files,
//! mapped or unmapped, answers 200 with a small JSON object; anything else
//! is a 404 with a JSON error body. Every request is recorded
//! (`GET /-/requests`, cleared by `DELETE /-/requests`; these two are never
//! recorded) so tests can prove the upstream saw nothing after a denial.
//! The log is unauthenticated, so credential headers (`Authorization`,
//! tokens, signatures) are recorded as `<redacted>`, one per value.
//!
//! Ids: the client's own when the body carries the item key (`sandboxId`),
//! or its name when the SDK addresses the resource by name (item parameter
//! `{…_name}`: AgentRun templates, credentials, model services, …; ModelArts
//! pools and networks: `name` or `metadata.name`); otherwise a fresh uuid.
//!
//! Response shapes (generic per cloud; the SDK models ignore unknown keys):
//!
//! | | Huawei (`huaweicloudsdkcore` models) | Alibaba (Tea models, AgentRun) |
//! |---|---|---|
//! | item | the stored body + `id`, `<item_param>` (`workflow_id`), `name` when by name, `metadata.{id,name}` | body + `<itemParam>` (`agentRuntimeId`, `templateName`), `id`, `<resource>Id` when by name |
//! | create / get / update / delete | the item itself (`ShowNotebookResponse`, `CreatePoolResponse` …) | `{"code":"SUCCESS","requestId","data": item}` (`TemplateResult`, `AgentRuntimeResult` …) |
//! | list | `{"data","items","<list_key>": [items], "total", "count"}` (`ListNotebooksResponse.data`, `ListPoolsResponse.items`, `ListWorkspaceResponse.workspaces` …) | `{"code","requestId","data":{"items","<listKey>","total","pageNumber","pageSize"}}` (`ListTemplatesOutput.items`, `ListWorkspacesOutput.workspaces`) |
//! | other route | `{"operation": "<sdk operation>"}` | `{"code":"SUCCESS","requestId"}` |
//! | error | `{"error_code":"Mock.0404","error_msg","request_id"}` | `{"code":"ERR_NOT_FOUND","message","requestId"}` |
//!
//! An unknown path has no cloud; its 404 body carries both error shapes.
//!
//! Resources declared in `resources.toml` exist from the start
//! ([`MockUpstream::seed_from`], see [`seed`]): the gateway's built-in mock
//! and `iamgate mock --policies DIR` create them under the ids their URNs
//! name, in their owner account's collection.

pub mod seed;
mod server;
mod shapes;
mod store;
mod table;

use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use crate::cloud::Cloud;
use crate::routes::file::ServiceFile;
use table::{Kind, Lookup, RouteTable};

pub use crate::state::ACCOUNT_HEADER;
pub use server::{load_route_dir, run_standalone, serve};
pub use store::RecordedRequest;

/// The admin path listing (GET) or clearing (DELETE) the recorded requests.
pub const REQUESTS_PATH: &str = "/-/requests";

/// The mock upstream: routing table, items, request log.
#[derive(Debug)]
pub struct MockUpstream {
    table: RouteTable,
    store: store::Store,
    recorder: store::Recorder,
}

impl MockUpstream {
    /// Build the mock for these route files.
    pub fn new(files: &[ServiceFile]) -> Result<Self, String> {
        Ok(MockUpstream {
            table: RouteTable::build(files)?,
            store: store::Store::default(),
            recorder: store::Recorder::default(),
        })
    }

    /// Create every resource of `resources.toml` that the mock can place
    /// (see [`seed`]); items that exist already stay as they are. Returns
    /// the URNs that could not be placed.
    pub fn seed_from(
        &self,
        routes: &crate::routes::RouteTable,
        directory: &crate::directory::Directory,
    ) -> Vec<String> {
        let (seeds, skipped) = seed::seeds(routes, directory);
        for s in &seeds {
            self.seed_one(s);
        }
        skipped
    }

    /// One seeded item: decorated as a create would decorate it (Huawei
    /// items also get their id as `name`, which the SDK models show).
    fn seed_one(&self, s: &seed::Seed) -> bool {
        let Lookup::Found(cloud, Kind::Get(coll)) = self.table.lookup("GET", &s.item_path) else {
            return false;
        };
        let (parent, id) = split_item(&s.item_path);
        let mut item = Map::new();
        if cloud == Cloud::Huawei {
            item.insert("name".into(), Value::String(id.clone()));
        }
        shapes::decorate(cloud, coll, &id, &mut item);
        self.store
            .insert(&s.account, parent, &id, Value::Object(item))
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.recorder.all()
    }

    /// Answer one request in memory: status and JSON body.
    pub fn respond(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (StatusCode, Value) {
        if path == REQUESTS_PATH {
            return self.admin(method);
        }
        let logged = store::Logged::new(method, path, query, headers, body.len());
        self.recorder.record(logged);
        let account = headers
            .get(ACCOUNT_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match self.table.lookup(method, path) {
            Lookup::Found(cloud, kind) => self.dispatch(cloud, kind, account, path, body),
            Lookup::NotFound(cloud) => {
                not_found(cloud, &format!("no mock route for {method} {path}"))
            }
        }
    }

    /// `GET` / `DELETE /-/requests`.
    fn admin(&self, method: &str) -> (StatusCode, Value) {
        match method {
            "GET" => (StatusCode::OK, json!(self.recorder.all())),
            "DELETE" => (StatusCode::OK, json!({"cleared": self.recorder.clear()})),
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                shapes::error(None, "0405", "use GET or DELETE on /-/requests"),
            ),
        }
    }

    fn dispatch(
        &self,
        cloud: Cloud,
        kind: &Kind,
        account: &str,
        path: &str,
        body: &[u8],
    ) -> (StatusCode, Value) {
        match kind {
            Kind::Other(operation) => (StatusCode::OK, shapes::other(cloud, operation)),
            Kind::List(coll) => (
                StatusCode::OK,
                shapes::list(cloud, coll, self.store.list(account, path)),
            ),
            Kind::Create(coll) => {
                let mut item = body_object(body);
                let id = shapes::choose_id(coll, &item);
                shapes::decorate(cloud, coll, &id, &mut item);
                let item = Value::Object(item);
                if !self.store.insert(account, path, &id, item.clone()) {
                    let message = format!("{} {id} already exists", coll.list_key);
                    return (
                        StatusCode::CONFLICT,
                        shapes::error(Some(cloud), "0409", &message),
                    );
                }
                (StatusCode::OK, shapes::single(cloud, item))
            }
            Kind::Get(coll) | Kind::Update(coll) | Kind::Delete(coll) => {
                let (parent, id) = split_item(path);
                let found = match kind {
                    Kind::Get(_) => self.store.get(account, parent, &id),
                    Kind::Delete(_) => self.store.remove(account, parent, &id),
                    _ => self.store.update(
                        account,
                        parent,
                        &id,
                        Value::Object(body_object(body)),
                        |item| shapes::decorate(cloud, coll, &id, item),
                    ),
                };
                match found {
                    Some(item) => (StatusCode::OK, shapes::single(cloud, item)),
                    None => not_found(
                        Some(cloud),
                        &format!("{} {id} does not exist", coll.list_key),
                    ),
                }
            }
        }
    }
}

fn not_found(cloud: Option<Cloud>, message: &str) -> (StatusCode, Value) {
    (StatusCode::NOT_FOUND, shapes::error(cloud, "0404", message))
}

/// The request body as a JSON object; anything else counts as `{}`.
fn body_object(body: &[u8]) -> Map<String, Value> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// `/c/x%20y` → (`/c`, `x y`).
fn split_item(path: &str) -> (&str, String) {
    let (parent, raw) = path.rsplit_once('/').unwrap_or(("", path));
    let id = percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned();
    (parent, id)
}
