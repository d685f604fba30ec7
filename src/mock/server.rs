//! Serving the mock over HTTP/1 and HTTP/2 (hyper-util's auto builder), its
//! graceful shutdown, and the standalone `iamgate mock` entry point.
//!
//! Shutdown is explicit, as in mini-redis: when the `shutdown` future
//! completes the accept loop stops, every open connection is told to finish
//! its in-flight request and close, and `serve` returns once they have (or
//! after [`DRAIN_TIMEOUT`]).

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::MockUpstream;
use crate::accept::Acceptor;
use crate::routes::file::ServiceFile;

/// How long open connections may take to finish after shutdown.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Serve `mock` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    mock: Arc<MockUpstream>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    let mut acceptor = Acceptor::new("mock", None);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            (stream, _) = acceptor.accept(&listener) => {
                connections.spawn(serve_connection(stream, mock.clone(), stop_rx.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        connections.abort_all();
    }
    Ok(())
}

/// One connection, until it closes or shutdown asks it to.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    mock: Arc<MockUpstream>,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |req| {
        let mock = mock.clone();
        async move { Ok::<_, Infallible>(handle(&mock, req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "mock upstream: connection ended with an error");
    }
}

/// Completes once shutdown is signalled (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Read the whole request, answer it in memory.
async fn handle(mock: &MockUpstream, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let (status, json) = mock.respond(
        parts.method.as_str(),
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &body,
    );
    let mut response = Response::new(Full::new(Bytes::from(json.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Parse every `*.toml` of `dir` (sorted by name); all errors at once.
pub fn load_route_dir(dir: &Path) -> Result<Vec<ServiceFile>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| toml::from_str::<ServiceFile>(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(file) => files.push(file),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors.join("\n"))
    }
}

/// Run the mock on its own (`iamgate mock`): bind `listen`, print
/// `listening on <addr>`, serve until SIGINT/SIGTERM. With `policies`, the
/// resources of its `resources.toml` exist from the start.
pub async fn run_standalone(
    listen: &str,
    routes: &Path,
    policies: Option<&Path>,
) -> Result<(), String> {
    let files = load_route_dir(routes)?;
    let mock = Arc::new(MockUpstream::new(&files)?);
    if let Some(policies) = policies {
        let snap = crate::snapshot::Snapshot::load_dirs(routes, policies, None)
            .map_err(|d| crate::serve::report(&d))?;
        for urn in mock.seed_from(&snap.routes, &snap.directory) {
            tracing::warn!(resource = %urn, "resources.toml: the mock has no item route for this resource; not created");
        }
    }
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let shutdown = crate::signals::shutdown_signal()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {addr}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("stdout: {e}"))?;
    drop(stdout);
    serve(listener, mock, shutdown)
        .await
        .map_err(|e| format!("mock upstream: {e}"))
}
