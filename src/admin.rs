//! The admin listener (loopback by default): `/metrics`, `/healthz`,
//! `/readyz` (false before the first snapshot and while draining),
//! `/-/snapshot` (digest, load time, counts, last reload errors) and
//! `POST /-/reload`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::diag::Diagnostic;
use crate::metrics::Metrics;
use crate::proxy::respond::json_response;
use crate::proxy::Body;
use crate::reload::{ReloadOutcome, Reloader};
use crate::snapshot::SnapshotHolder;

/// What the admin endpoints read.
pub struct Admin {
    pub holder: Arc<SnapshotHolder>,
    pub metrics: Metrics,
    pub reloader: Arc<Reloader>,
    pub ready: AtomicBool,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn errors_json(errors: &[Diagnostic]) -> Value {
    errors
        .iter()
        .map(|d| json!({"file": d.file.display().to_string(), "location": d.location(), "message": d.message, "warning": d.warning}))
        .collect()
}

impl Admin {
    /// The `/-/snapshot` document.
    pub fn snapshot_json(&self) -> Value {
        let snap = self.holder.load();
        let status = self.holder.status();
        json!({
            "digest": snap.digest,
            "loaded_at": unix(snap.loaded_at),
            "counts": {
                "policies": snap.policy_count(),
                "routes": snap.routes.route_count(),
                "principals": snap.principal_count(),
                "services": snap.routes.services().len(),
            },
            "warnings": errors_json(&snap.warnings),
            "last_reload": {
                "at": status.last_attempt.map(unix),
                "ok": status.last_errors.is_empty(),
                "errors": errors_json(&status.last_errors),
            },
        })
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        match (req.method(), req.uri().path()) {
            (&Method::GET, "/metrics") => {
                let mut r = text(StatusCode::OK, self.metrics.render());
                r.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; version=0.0.4"),
                );
                r
            }
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n".into()),
            (&Method::GET, "/readyz") if self.ready.load(Ordering::SeqCst) => {
                text(StatusCode::OK, "ready\n".into())
            }
            (&Method::GET, "/readyz") => {
                text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n".into())
            }
            (&Method::GET, "/-/snapshot") => json_response(StatusCode::OK, &self.snapshot_json()),
            (&Method::POST, "/-/reload") => match self.reloader.reload("admin").await {
                ReloadOutcome::Loaded(digest) => {
                    json_response(StatusCode::OK, &json!({"ok": true, "digest": digest}))
                }
                ReloadOutcome::Failed(errors) => json_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &json!({"ok": false, "errors": errors_json(&errors)}),
                ),
            },
            _ => json_response(StatusCode::NOT_FOUND, &json!({"error": "not found"})),
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    use http_body_util::{BodyExt, Full};
    let mut r = Response::new(
        Full::new(bytes::Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}

/// Serve the admin endpoints until `shutdown` completes.
pub async fn serve_admin(
    listener: TcpListener,
    admin: Arc<Admin>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
            () = &mut shutdown => return,
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let admin = admin.clone();
                async move { Ok::<_, Infallible>(admin.handle(req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
