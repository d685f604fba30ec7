//! Accepting connections: plain TCP or TLS (rustls, ring provider), HTTP/1.1
//! and HTTP/2 via hyper-util's auto builder, and everything that keeps one
//! client from holding the gateway: a cap on open connections, a TLS
//! handshake deadline, the first-line check ([`super::firstline`]) under the
//! header timeout, the raw HTTP/1 framing check ([`super::framing`]), HTTP/2
//! keep-alive pings and an idle timeout for every connection. Refusals below
//! the handler are counted (`iamgate_protocol_errors_total`) and logged at
//! info with the peer.
//!
//! Shutdown: the caller's `shutdown` future completes when readiness has
//! been withdrawn; the listener keeps accepting for `drain_delay` (load
//! balancers take a moment to notice), then every connection is asked to
//! finish its in-flight requests and close, for at most `grace`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::Limits;
use crate::config::Tls;
use crate::proxy::firstline::{read_first_line, FirstLine, Prefixed};
use crate::proxy::framing::FramingTap;
use crate::proxy::handler::{handle, Connection};
use crate::proxy::Gateway;

/// Build a TLS acceptor from PEM files (ALPN h2 and http/1.1).
pub fn tls_acceptor(tls: &Tls) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| format!("{}: {e}", tls.cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", tls.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| format!("{}: {e}", tls.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", Path::new(&tls.cert).display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(max_buf_size(limits));
    let ping = limits.idle_timeout.min(Duration::from_secs(30));
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(ping))
        .keep_alive_timeout(ping);
    b
}

/// hyper's read buffer, which bounds a request head.
fn max_buf_size(limits: &Limits) -> usize {
    limits.max_header_bytes.max(8192)
}

/// What every connection task shares.
struct Shared {
    gw: Arc<Gateway>,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    /// `true` once connections must finish and close.
    stop: watch::Receiver<bool>,
}

/// The cap on open connections (`[limits] max_connections`), shared by
/// every listener of the gateway.
pub fn connection_slots(limits: &Limits) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(limits.max_connections))
}

/// Serve the gateway on `listener` until `shutdown` completes, then keep
/// accepting for `drain_delay`, then drain in-flight requests for at most
/// `grace`. A connection is accepted only with one of `slots`.
pub async fn serve_gateway(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    gw: Arc<Gateway>,
    slots: Arc<Semaphore>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let limits = gw.config.limits.clone();
    let (stop_tx, stop) = watch::channel(false);
    let shared = Arc::new(Shared {
        builder: builder(&limits),
        gw,
        tls,
        stop,
    });
    let mut acceptor = crate::accept::Acceptor::new("gateway", Some(shared.gw.metrics.clone()));
    let stop_accepting = async {
        shutdown.await;
        tracing::info!(
            delay_ms = limits.drain_delay.as_millis() as u64,
            "draining: still accepting for the drain delay"
        );
        tokio::time::sleep(limits.drain_delay).await;
    };
    tokio::pin!(stop_accepting);
    // Accept, then wait for a slot: with one listener per worker, a worker
    // holding a free slot must not sit on an empty queue while the waiting
    // connection is in another worker's. At most one accepted connection
    // per worker waits for a slot; the rest stay in the kernel's backlog.
    loop {
        let (stream, peer) = tokio::select! {
            accepted = acceptor.accept(&listener) => accepted,
            () = &mut stop_accepting => break,
        };
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot { Ok(s) => s, Err(_) => break },
            () = &mut stop_accepting => break,
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            serve_stream(stream, peer, &shared).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => {}
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over; closing remaining connections"),
    }
}

async fn serve_stream(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let limits = &shared.gw.config.limits;
    let Some(acceptor) = &shared.tls else {
        return serve_io(stream, peer, false, shared).await;
    };
    let handshake = tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream));
    let mut stop = shared.stop.clone();
    // Like a connection without its first line: nothing to finish when draining.
    let handshake = tokio::select! {
        handshake = handshake => handshake,
        _ = stop.wait_for(|s| *s) => return,
    };
    match handshake {
        Ok(Ok(s)) => serve_io(s, peer, true, shared).await,
        Ok(Err(e)) => protocol_error(shared, peer, "tls_handshake", &e.to_string()),
        Err(_) => protocol_error(shared, peer, "tls_handshake", "handshake timed out"),
    }
}

fn protocol_error(shared: &Shared, peer: SocketAddr, kind: &str, detail: &str) {
    shared.gw.metrics.protocol_error(kind);
    tracing::info!(%peer, kind, "refused below the request pipeline: {detail}");
}

/// Check the first line, then hand the connection to hyper.
async fn serve_io<I>(mut io: I, peer: SocketAddr, tls: bool, shared: &Shared)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = &shared.gw.config.limits;
    let first = read_first_line(&mut io, limits.max_header_bytes);
    let first = tokio::time::timeout(limits.header_read_timeout, first);
    // No request has begun on a connection still waiting for its first
    // line: once the drain starts it is closed at once, not held until the
    // header timeout (a pre-opened balancer connection would delay every
    // shutdown by that long).
    let mut stop = shared.stop.clone();
    let first = tokio::select! {
        first = first => first,
        _ = stop.wait_for(|s| *s) => return,
    };
    let prefix = match first {
        Ok(Ok(FirstLine::Http(prefix))) => prefix,
        Ok(Ok(FirstLine::Refused(why))) => {
            protocol_error(shared, peer, "request_line", why);
            let _ = io.write_all(&refusal(why)).await;
            let _ = io.shutdown().await;
            return;
        }
        Ok(Ok(FirstLine::Closed)) | Ok(Err(_)) => return,
        Err(_) => return protocol_error(shared, peer, "idle", "no request line in time"),
    };
    let activity = Arc::new(Activity::new());
    let (io, framing) = FramingTap::new(Prefixed::new(prefix, io), max_buf_size(limits));
    // HTTP/1 requests reach the service in order: their index on the
    // connection is the tap's.
    let requests = Arc::new(AtomicU64::new(0));
    let (gw, act) = (shared.gw.clone(), activity.clone());
    let svc = service_fn(move |req: hyper::Request<Incoming>| {
        let (gw, act) = (gw.clone(), act.clone());
        let conn_info = Connection {
            peer: peer.ip(),
            tls,
            framing: framing.violation(requests.fetch_add(1, Ordering::Relaxed)),
        };
        async move {
            act.begin();
            let resp = handle(gw, req, conn_info).await;
            act.end();
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let io = TokioIo::new(io);
    let conn = shared.builder.serve_connection(io, svc);
    tokio::pin!(conn);
    let (mut stop, idle) = (shared.stop.clone(), limits.idle_timeout);
    let mut closing = false;
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(100)));
    // Ask the connection to finish its in-flight requests and close when the
    // gateway stops or no request has been in flight for `idle`.
    let result = loop {
        tokio::select! {
            result = conn.as_mut() => break result,
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tick.tick(), if !closing => {
                if activity.idle_for() >= idle {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    };
    if let Err(e) = result {
        let kind = classify(e.as_ref());
        protocol_error(shared, peer, kind, &e.to_string());
    }
}

/// Requests in flight on one connection and when the last one began or ended.
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
    }

    fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.touch();
    }

    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// A bounded label for an error that ended a connection.
fn classify(e: &(dyn std::error::Error + 'static)) -> &'static str {
    let Some(h) = e.downcast_ref::<hyper::Error>() else {
        return "h2";
    };
    if h.is_parse_too_large() {
        "too_large"
    } else if h.is_parse() || h.is_parse_status() {
        "parse"
    } else if h.is_timeout() {
        "header_timeout"
    } else if h.is_incomplete_message() {
        "incomplete"
    } else {
        "h2"
    }
}

/// The answer to a connection whose first line is not HTTP/1.x or HTTP/2:
/// 400 with both error shapes (no route told the dialect), then close.
fn refusal(why: &str) -> Vec<u8> {
    let id = crate::proxy::request_id::next();
    let message = format!("bad request: {why}");
    let body = serde_json::json!({
        "error_code": "APIGW.0201", "error_msg": message, "request_id": id,
        "Code": "InvalidParameter", "Message": message, "RequestId": id,
    })
    .to_string();
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-request-id: {id}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "server_tests.rs"]
mod tests;
