//! The admin listener (loopback by default): `/metrics`, `/healthz`,
//! `/readyz` (false before the first snapshot and while draining),
//! `/-/snapshot` (digest, load time, counts, last reload errors, the last
//! reload's access diff; with `?check=disk` also the digest the files on
//! disk compile to now), `/-/resources`, `/-/learned` (the least-privilege
//! policies of the traffic so far, `?principal=URN`) and `POST /-/reload`.
//!
//! Probes and `/metrics` are open: the kubelet and Prometheus must reach
//! them without secrets. Everything under `/-/` changes state or reveals it
//! (file paths and load errors), so it is guarded: with `[admin] token_file`
//! it needs `Authorization: Bearer <token>` (401 otherwise), on any address;
//! without a token file it answers only when the admin listener is bound to
//! a loopback address (only local processes can connect) and is refused 403
//! on any other address. The guard runs before routing, so an unauthorised
//! caller cannot even learn which `/-/` endpoints exist.
//!
//! The live console (`crate::console`: `GET /ui`, `/-/events`,
//! `/-/console/*`, `POST /-/learned/reset`) reveals principals and paths,
//! so `/ui` is guarded exactly as `/-/` is.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::accept::Acceptor;
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
    pub guard: Guard,
    /// The resource state (`GET /-/resources?limit=N`).
    pub resources: Arc<crate::state::ResourceState>,
    /// What decided requests needed (`GET /-/learned?principal=URN`).
    pub observed: Arc<crate::learn::Observed>,
    /// The console's ring of recent decisions (`None`: `[console] recent = 0`).
    pub console: Option<Arc<crate::console::Console>>,
}

/// Who may call the `/-/` endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// A bearer token, read from this file on every guarded request (so a
    /// rotated Secret takes effect without a restart).
    Token(PathBuf),
    /// No token configured, loopback listener: open to local callers.
    Loopback,
    /// No token configured, listener reachable from the network: refused.
    Refuse,
}

impl Guard {
    /// The guard for a listener address and an optional token file.
    pub fn new(listen: SocketAddr, token_file: Option<&Path>) -> Guard {
        match token_file {
            Some(p) => Guard::Token(p.to_path_buf()),
            None if listen.ip().is_loopback() => Guard::Loopback,
            None => {
                tracing::warn!(%listen, "admin listener beyond loopback without [admin] token_file: /-/ endpoints are refused (403)");
                Guard::Refuse
            }
        }
    }

    /// `None` when the request may go on, else the refusal.
    fn check(&self, req: &Request<Incoming>) -> Option<Response<Body>> {
        let path = match self {
            Guard::Loopback => return None,
            Guard::Refuse => {
                return Some(refusal(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "the admin listener is not on loopback and [admin] token_file is not set",
                ))
            }
            Guard::Token(path) => path,
        };
        let expected = match read_token(path) {
            Ok(t) => t,
            Err(e) => {
                // Fail closed: a token we cannot read admits nobody.
                tracing::error!("admin token: {e}");
                return Some(unauthorized());
            }
        };
        let given = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer);
        match given {
            Some(given) if same_secret(given, &expected) => None,
            _ => Some(unauthorized()),
        }
    }
}

/// The credentials of `Bearer <token>` (the scheme is case-insensitive).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Read a token file: its content without surrounding whitespace, non-empty.
pub fn read_token(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    Ok(token.to_owned())
}

/// Compare in constant time: hash both (equal lengths whatever the input),
/// then fold the XOR of every byte.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn refusal(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({"error": code, "message": message}))
}

fn unauthorized() -> Response<Body> {
    let mut r = refusal(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this endpoint needs Authorization: Bearer <token> ([admin] token_file)",
    );
    r.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer"),
    );
    r
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
            "access_diff": status.access_diff,
        })
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path();
        if path.starts_with("/-/") || crate::console::http::is_page(path) {
            if let Some(refused) = self.guard.check(&req) {
                return refused;
            }
        }
        if let Some(r) = self.console_route(&req) {
            return r;
        }
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
            (&Method::GET, "/-/snapshot") if wants_disk_check(req.uri().query()) => {
                json_response(StatusCode::OK, &self.snapshot_with_disk_json().await)
            }
            (&Method::GET, "/-/snapshot") => json_response(StatusCode::OK, &self.snapshot_json()),
            (&Method::GET, "/-/resources") => {
                let limit = query_limit(req.uri().query()).unwrap_or(1000);
                json_response(StatusCode::OK, &self.resources.to_json(limit))
            }
            (&Method::GET, "/-/learned") => self.learned(req.uri().query()),
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

impl Admin {
    /// `/-/snapshot?check=disk`: the live document plus the digest the
    /// files on disk compile to now (the start-up load path, on a blocking
    /// thread, never published) and whether the two agree, so a rollout can
    /// wait until every replica serves what is on disk.
    async fn snapshot_with_disk_json(&self) -> Value {
        let mut doc = self.snapshot_json();
        let config = self.reloader.config().clone();
        let loaded = tokio::task::spawn_blocking(move || crate::snapshot::Snapshot::load(&config))
            .await
            .map_err(|e| e.to_string());
        let disk = match loaded {
            Ok(Ok(snap)) => json!({"ok": true, "digest": snap.digest, "errors": []}),
            Ok(Err(errors)) => json!({"ok": false, "digest": null, "errors": errors_json(&errors)}),
            Err(e) => json!({"ok": false, "digest": null, "errors": [{"message": e}]}),
        };
        doc["in_sync"] = json!(disk["digest"] == doc["digest"]);
        doc["disk"] = disk;
        doc
    }

    /// `/-/learned`: the least-privilege policies of the traffic so far
    /// (of `principal=URN`, percent-encoded, or of everyone); 404 for a
    /// named principal with no decided request yet.
    fn learned(&self, query: Option<&str>) -> Response<Body> {
        let principal = query.and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("principal="))
                .map(|v| {
                    percent_encoding::percent_decode_str(&v.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned()
                })
        });
        let live = self.observed.learned(principal.as_deref());
        let nothing = live.learned.policies.is_empty() && live.learned.roots.is_empty();
        match (principal, nothing) {
            (Some(p), true) => json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": "not_observed", "message": format!("no decided request of {p} yet")}),
            ),
            _ => json_response(StatusCode::OK, &json!(live)),
        }
    }
}

impl Admin {
    /// The console's routes (`crate::console::http`), after the guard.
    fn console_route(&self, req: &Request<Incoming>) -> Option<Response<Body>> {
        let parts = crate::console::http::Parts {
            console: self.console.as_ref(),
            holder: &self.holder,
            observed: &self.observed,
        };
        crate::console::http::route(
            &parts,
            req.method(),
            req.uri().path(),
            req.uri().query(),
            req.headers().get(crate::console::http::RESET_HEADER),
        )
    }
}

/// Whether a query string asks for `check=disk`.
fn wants_disk_check(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|kv| kv == "check=disk"))
}

/// `limit=N` of a query string.
fn query_limit(query: Option<&str>) -> Option<usize> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("limit="))
        .and_then(|n| n.parse().ok())
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
    let mut acceptor = Acceptor::new("admin", Some(admin.metrics.clone()));
    loop {
        let stream = tokio::select! {
            (s, _) = acceptor.accept(&listener) => s,
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_follows_the_address_and_the_token_file() {
        let local: SocketAddr = "127.0.0.1:9090".parse().unwrap();
        let local6: SocketAddr = "[::1]:9090".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:9090".parse().unwrap();
        assert_eq!(Guard::new(local, None), Guard::Loopback);
        assert_eq!(Guard::new(local6, None), Guard::Loopback);
        assert_eq!(Guard::new(any, None), Guard::Refuse);
        let f = Path::new("/run/secrets/token");
        assert_eq!(Guard::new(local, Some(f)), Guard::Token(f.into()));
        assert_eq!(Guard::new(any, Some(f)), Guard::Token(f.into()));
    }

    #[test]
    fn only_check_equals_disk_asks_for_the_disk_digest() {
        assert!(wants_disk_check(Some("check=disk")));
        assert!(wants_disk_check(Some("limit=3&check=disk")));
        assert!(!wants_disk_check(None));
        assert!(!wants_disk_check(Some("check=disks")));
        assert!(!wants_disk_check(Some("xcheck=disk")));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("s3cret-token", "s3cret-token"));
        assert!(!same_secret("s3cret-tokem", "s3cret-token"));
        assert!(!same_secret("s3cret-token ", "s3cret-token"));
        assert!(!same_secret("", "s3cret-token"));
    }

    #[test]
    fn token_files_are_trimmed_and_never_empty() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "abc\n").unwrap();
        assert_eq!(read_token(&p).unwrap(), "abc");
        std::fs::write(&p, " \n").unwrap();
        assert!(read_token(&p).unwrap_err().contains("empty"));
        assert!(read_token(&dir.path().join("missing")).is_err());
    }
}
