//! Helpers shared by the integration tests: repository paths, fixture
//! tables copied from the source documents, the route table, concrete paths.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use iamgate::routes::RouteTable;

pub mod sign;

/// A path inside the repository.
pub fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The rows of `tests/data/<dir>/<name>`, header skipped, cells split at tabs.
pub fn fixture(dir: &str, name: &str) -> Vec<Vec<String>> {
    let path = manifest("tests/data").join(dir).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = text.lines().skip(1).filter(|l| !l.is_empty());
    rows.map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The repository's route files, loaded.
pub fn route_table() -> RouteTable {
    match RouteTable::load_dir(&manifest("routes")) {
        Ok((table, _warnings)) => table,
        Err(diags) => panic!("route files do not load: {diags:#?}"),
    }
}

/// A concrete path for a template: each `{name}` becomes `value(name)`.
pub fn instantiate(template: &str, value: impl Fn(&str) -> String) -> String {
    let segments =
        template.split('/').map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => value(name),
                None => s.to_string(),
            },
        );
    segments.collect::<Vec<_>>().join("/")
}

/// The action names a route requires, as the catalog spells them.
pub fn action_names<'a>(
    service: &'a iamgate::routes::Service,
    route: &iamgate::routes::Route,
) -> Vec<&'a str> {
    route
        .actions
        .iter()
        .map(|i| service.actions[*i].name.as_str())
        .collect()
}

/// The bundled mock upstream, served in-process on `127.0.0.1:0`, recording
/// every request it receives; stopped when dropped. What a denial test
/// checks to prove nothing was forwarded, and an allow test to see what was.
pub struct Upstream {
    mock: std::sync::Arc<iamgate::mock::MockUpstream>,
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Upstream {
    /// Start the mock over the repository's route files (needs a runtime).
    pub async fn start() -> Upstream {
        let files = iamgate::mock::load_route_dir(&manifest("routes")).unwrap();
        let mock = std::sync::Arc::new(iamgate::mock::MockUpstream::new(&files).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        tokio::spawn(iamgate::mock::serve(listener, mock.clone(), shutdown));
        Upstream {
            mock,
            addr,
            stop: Some(stop),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Every request the upstream received, oldest first.
    pub fn requests(&self) -> Vec<iamgate::mock::RecordedRequest> {
        self.mock.requests()
    }

    /// The only request the upstream received; panics unless exactly one.
    pub fn only_request(&self) -> iamgate::mock::RecordedRequest {
        let all = self.requests();
        assert_eq!(all.len(), 1, "exactly one request forwarded: {all:#?}");
        all.into_iter().next().unwrap()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A gateway config over `policies` whose upstreams are all `upstream`,
/// written into `dir`; `extra` is top-level TOML (before any table).
pub fn gateway_at(
    dir: &Path,
    policies: &Path,
    extra: &str,
    upstream: &str,
    log: iamgate::decision_log::DecisionLog,
) -> iamgate::proxy::Gateway {
    use iamgate::config::Config;
    use iamgate::snapshot::{Snapshot, SnapshotHolder};
    let config_path = dir.join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n{extra}\n[upstreams]\nmodelarts = \"http://{upstream}\"\nagentrun = \"http://{upstream}\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        manifest("routes"),
        policies,
    );
    std::fs::write(&config_path, text).unwrap();
    let config = Config::load(&config_path).unwrap();
    let snapshot = Snapshot::load(&config).unwrap();
    let targets = std::collections::HashMap::from([
        ("modelarts".to_string(), upstream.parse().unwrap()),
        ("agentrun".to_string(), upstream.parse().unwrap()),
    ]);
    let snapshots = std::sync::Arc::new(SnapshotHolder::new(snapshot));
    iamgate::proxy::Gateway::new(
        config,
        snapshots,
        targets,
        iamgate::metrics::Metrics::new(),
        log,
    )
}

/// The response's single `x-request-id`.
pub fn one_request_id<B>(resp: &http::Response<B>) -> String {
    let ids: Vec<_> = resp.headers().get_all("x-request-id").iter().collect();
    assert_eq!(ids.len(), 1, "one x-request-id");
    ids[0].to_str().unwrap().to_string()
}

/// Assert that `seen` is `method path` forwarded for `account`, carrying
/// the request id the client was answered with.
pub fn assert_forwarded(
    seen: &iamgate::mock::RecordedRequest,
    method: &str,
    path: &str,
    account: &str,
    request_id: &str,
) {
    assert_eq!((seen.method.as_str(), seen.path.as_str()), (method, path));
    let header = |name: &str| seen.headers.get(name).map(String::as_str);
    assert_eq!(header("x-iamgate-account"), Some(account), "{seen:#?}");
    assert_eq!(header("x-request-id"), Some(request_id), "{seen:#?}");
}

/// Run one request through the real handler from `peer` (TLS or not):
/// status, the response head (body taken) and the body as JSON (`Null`
/// when it is not JSON).
pub async fn send_from(
    gw: &std::sync::Arc<iamgate::proxy::Gateway>,
    req: http::Request<http_body_util::Full<bytes::Bytes>>,
    peer: &str,
    tls: bool,
) -> (
    http::StatusCode,
    http::Response<iamgate::proxy::Body>,
    serde_json::Value,
) {
    use http_body_util::BodyExt;
    let conn = iamgate::proxy::handler::Connection {
        peer: peer.parse().unwrap(),
        tls,
        framing: None,
    };
    let resp = iamgate::proxy::handler::handle(gw.clone(), req, conn).await;
    let status = resp.status();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    let head = http::Response::from_parts(parts, iamgate::proxy::Body::default());
    (status, head, json)
}

/// Copy a folder tree (files and sub-folders).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
