//! Keep-alive connections to one upstream, for one worker: HTTP/1 senders
//! from hyper's connection-level client, reused most-recent-first.
//!
//! Each per-core worker has its own pools (`Gateway::for_worker`), so a
//! connection is only ever driven by the runtime that opened it and the
//! bookkeeping is a short `Vec` behind an uncontended lock. This replaces
//! hyper-util's general pool, whose keyed maps, checkout futures and
//! cross-task hand-offs cost about a tenth of the gateway's own
//! instructions per request (benches/README.md).
//!
//! A sender goes back to the pool as soon as the response head arrives;
//! hyper reports it ready again only once that response's body has been
//! read to the end, so checkout takes only ready senders and drops closed
//! or long-idle ones on the way.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Authority;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A request sender on one upstream connection.
pub type Sender = SendRequest<Full<Bytes>>;

/// An idle connection is closed after this long (the upstream may have
/// closed it already; a sender that says so is dropped at checkout).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// More idle connections than this per upstream and worker are closed.
/// The unit tests fill the pool to its bound, one descriptor per
/// connection: there it is small, so they hold under a 1,024-descriptor
/// `ulimit -n`.
const MAX_IDLE: usize = if cfg!(test) { 16 } else { 1024 };

struct Idle {
    sender: Sender,
    since: Instant,
}

/// The connections of one worker to one upstream.
pub struct Pool {
    authority: Authority,
    idle: Mutex<Vec<Idle>>,
}

/// Why no connection could be had.
#[derive(Debug)]
pub enum ConnectError {
    /// TCP connect failed.
    Connect(std::io::Error),
    /// The HTTP/1 handshake failed.
    Handshake(hyper::Error),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Connect(e) => write!(f, "connect: {e}"),
            ConnectError::Handshake(e) => write!(f, "handshake: {e}"),
        }
    }
}

impl Pool {
    pub fn new(authority: Authority) -> Pool {
        Pool {
            authority,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most recently used idle sender that is ready, if any.
    pub fn checkout(&self) -> Option<Sender> {
        let mut idle = self.lock();
        let now = Instant::now();
        idle.retain(|e| !e.sender.is_closed() && now.duration_since(e.since) < IDLE_TIMEOUT);
        let i = idle.iter().rposition(|e| e.sender.is_ready())?;
        Some(idle.swap_remove(i).sender)
    }

    /// Give a sender back once its response head has arrived.
    pub fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// A new connection (`TCP_NODELAY`), its driver spawned on this runtime.
    pub async fn connect(&self) -> Result<Sender, ConnectError> {
        let host = self.authority.host();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = self.authority.port_u16().unwrap_or(80);
        let stream = TcpStream::connect((host, port))
            .await
            .map_err(ConnectError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ConnectError::Handshake)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("upstream connection ended: {e}");
            }
        });
        Ok(sender)
    }

    /// Idle connections held now (for tests).
    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An upstream that answers every request on a connection with 200 and
    /// counts the connections it accepted.
    /// An upstream answering `200 ok`, the body's last byte 50 ms after the
    /// rest; with `close`, it closes each connection after one answer.
    async fn upstream_with(
        close: bool,
    ) -> (Authority, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {
                                // The body's second byte comes later, so a
                                // response can be seen while still busy.
                                let head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\no";
                                if s.write_all(head).await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                if s.write_all(b"k").await.is_err() || close {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        (addr.to_string().parse().unwrap(), accepted)
    }

    async fn upstream() -> (Authority, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        upstream_with(false).await
    }

    async fn get(sender: &mut Sender, host: &str) -> http::StatusCode {
        let req = http::Request::get("/x")
            .header("host", host)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status();
        http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap();
        status
    }

    #[tokio::test]
    async fn a_finished_connection_is_reused_and_a_busy_one_is_not() {
        let (authority, accepted) = upstream().await;
        let pool = Pool::new(authority.clone());
        assert!(pool.checkout().is_none(), "an empty pool has nothing");
        let mut a = pool.connect().await.unwrap();
        assert_eq!(get(&mut a, authority.as_str()).await, 200);
        a.ready().await.unwrap();
        pool.checkin(a);
        let mut again = pool.checkout().expect("the finished connection comes back");
        assert_eq!(get(&mut again, authority.as_str()).await, 200);
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A sender whose response is still unread is not ready: not handed out.
        let req = http::Request::get("/x")
            .header("host", authority.as_str())
            .body(Full::new(Bytes::new()))
            .unwrap();
        let pending = again.send_request(req).await.unwrap();
        pool.checkin(again);
        assert!(pool.checkout().is_none(), "busy until its body is read");
        http_body_util::BodyExt::collect(pending.into_body())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(pool.checkout().is_some(), "ready once the body is read");
    }

    #[tokio::test]
    async fn a_connection_the_upstream_closed_is_never_handed_out() {
        let (authority, _) = upstream_with(true).await;
        let pool = Pool::new(authority.clone());
        let mut a = pool.connect().await.unwrap();
        assert_eq!(get(&mut a, authority.as_str()).await, 200);
        pool.checkin(a);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(pool.checkout().is_none(), "closed by the upstream");
        assert_eq!(pool.idle_count(), 0, "and dropped at checkout");
    }

    #[tokio::test]
    async fn a_connection_closed_while_idle_in_the_pool_is_dropped_at_checkout() {
        // Answers one request, then closes when told to.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let authority: Authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let (close, closing) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await
                .unwrap();
            let _ = closing.await;
        });
        let pool = Pool::new(authority.clone());
        let mut a = pool.connect().await.unwrap();
        assert_eq!(get(&mut a, authority.as_str()).await, 200);
        a.ready().await.unwrap();
        pool.checkin(a);
        assert_eq!(pool.idle_count(), 1, "open when checked in");
        close.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(pool.checkout().is_none(), "closed by the upstream");
        assert_eq!(pool.idle_count(), 0, "and dropped at checkout");
    }

    #[tokio::test]
    async fn at_most_max_idle_connections_wait_in_the_pool() {
        // Connections wait in the listener's backlog, never accepted: one
        // descriptor each on this side (MAX_IDLE + 1 of them).
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        let _listener = socket.listen(64).unwrap();
        let pool = Pool::new(addr.to_string().parse().unwrap());
        for _ in 0..=MAX_IDLE {
            let sender = pool.connect().await.unwrap();
            pool.checkin(sender);
        }
        assert_eq!(pool.idle_count(), MAX_IDLE);
    }

    #[tokio::test]
    async fn a_connect_error_says_which_step_failed() {
        let dead = Pool::new("127.0.0.1:9".parse().unwrap());
        let Err(e) = dead.connect().await else {
            panic!("nobody listens on port 9");
        };
        assert!(e.to_string().starts_with("connect: "), "{e}");
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_connect_error() {
        let dead = Pool::new("127.0.0.1:9".parse().unwrap());
        assert!(matches!(
            dead.connect().await,
            Err(ConnectError::Connect(_))
        ));
    }
}
