//! Tests of forwarding against a raw TCP upstream: the answer streamed back
//! with its length and without hop-by-hop headers, an empty answer ended at
//! once, the body deadline, an unknown upstream.

use super::*;
use hyper::body::Body as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An upstream that answers each request it reads with `answers[i]` (the
/// last one again once they run out), keeping the connection open, and
/// hands every request head it read to the test.
async fn upstream(
    answers: Vec<&'static [u8]>,
) -> (Authority, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen, heads) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut n = 0;
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            let answers = answers.clone();
            let first = n;
            n += 1;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut i = first;
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => {
                            let _ = seen.send(String::from_utf8_lossy(&buf[..k]).into_owned());
                            let answer = answers[i.min(answers.len() - 1)];
                            i += 1;
                            if s.write_all(answer).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr.to_string().parse().unwrap(), heads)
}

fn upstreams(authority: Authority, body_timeout: Duration) -> Upstreams {
    let targets = [("mock".to_string(), authority)].into_iter().collect();
    Upstreams::new(targets, Duration::from_secs(5), body_timeout)
}

fn outgoing<'a>(method: &'a Method, path: &'a str) -> Outgoing<'a> {
    let mut headers = HeaderMap::new();
    headers.insert("host", "upstream.test".parse().unwrap());
    Outgoing {
        method,
        path_and_query: path,
        headers,
        body: Bytes::new(),
    }
}

async fn forward(
    ups: &Upstreams,
    method: &Method,
    path: &str,
) -> Result<Response<Body>, GatewayError> {
    let permit = Permit::for_unmapped_operation_by_configuration();
    ups.forward(&permit, "mock", outgoing(method, path), &Metrics::new())
        .await
}

#[tokio::test]
async fn the_answer_comes_back_with_its_length_and_without_hop_by_hop_headers() {
    let hello: &[u8] = b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\nkeep-alive: timeout=5\r\nx-request-id: upstream-id\r\nx-kept: 1\r\n\r\nhello";
    let (authority, mut heads) = upstream(vec![hello]).await;
    let ups = upstreams(authority, Duration::from_secs(5));
    let resp = forward(&ups, &Method::PUT, "/v1/things?x=1").await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-kept"], "1");
    assert!(resp.headers().get("keep-alive").is_none());
    assert!(resp.headers().get("x-request-id").is_none());
    let body = resp.into_body();
    assert_eq!(body.size_hint().exact(), Some(5));
    assert!(!body.is_end_stream(), "five bytes are still to come");
    let bytes = body.collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..], b"hello");
    let head = heads.recv().await.unwrap();
    assert!(
        head.starts_with("PUT /v1/things?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("host: upstream.test\r\n"), "{head}");
}

#[tokio::test]
async fn an_empty_answer_is_ended_at_once_and_the_connection_is_reused() {
    let empty: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    let (authority, mut heads) = upstream(vec![empty]).await;
    let ups = upstreams(authority, Duration::from_secs(5));
    for _ in 0..2 {
        let resp = forward(&ups, &Method::DELETE, "/v1/things/1")
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        let body = resp.into_body();
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.collect().await.unwrap().to_bytes().is_empty());
    }
    assert_eq!(
        heads.recv().await.unwrap().lines().next(),
        Some("DELETE /v1/things/1 HTTP/1.1")
    );
    assert!(
        heads.recv().await.is_some(),
        "two requests reached the upstream"
    );
    let pool = ups.pools.get("mock").unwrap();
    assert_eq!(pool.idle_count(), 1, "one connection, back in the pool");
}

#[tokio::test]
async fn a_stalled_body_fails_at_its_deadline() {
    let stalls: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhe";
    let (authority, _heads) = upstream(vec![stalls]).await;
    let ups = upstreams(authority, Duration::from_millis(100));
    let resp = forward(&ups, &Method::GET, "/slow").await.unwrap();
    let started = Instant::now();
    let err = resp.into_body().collect().await.unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn an_unknown_upstream_or_a_dead_one_is_unavailable() {
    let ups = upstreams("127.0.0.1:9".parse().unwrap(), Duration::from_secs(5));
    let permit = Permit::for_unmapped_operation_by_configuration();
    let metrics = Metrics::new();
    let out = outgoing(&Method::GET, "/");
    let err = ups
        .forward(&permit, "nope", out, &metrics)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GatewayError::UpstreamUnavailable(ref m) if m.contains("nope")),
        "{err:?}"
    );
    let err = forward(&ups, &Method::GET, "/").await.unwrap_err();
    assert!(
        matches!(err, GatewayError::UpstreamUnavailable(ref m) if m.starts_with("connect: ")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_fresh_pool_reaches_the_same_upstreams_on_connections_of_its_own() {
    let ok: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (authority, _heads) = upstream(vec![ok]).await;
    let ups = upstreams(authority, Duration::from_secs(5));
    let resp = forward(&ups, &Method::GET, "/").await.unwrap();
    resp.into_body().collect().await.unwrap();
    let fresh = ups.fresh_pool();
    assert_eq!(fresh.pools.get("mock").unwrap().idle_count(), 0);
    let resp = forward(&fresh, &Method::GET, "/").await.unwrap();
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "ok");
}

/// An upstream on a thread of its own (it runs while a test blocks the
/// runtime's only thread): answers one request on its first connection,
/// closes that connection when told to (and says so), then answers one
/// request on a second connection if one comes within a second. Every
/// request head it reads is reported with the number of its connection.
struct ClosingUpstream {
    authority: Authority,
    close_first: std::sync::mpsc::Sender<()>,
    closed: std::sync::mpsc::Receiver<()>,
    heads: std::sync::mpsc::Receiver<(usize, String)>,
    thread: std::thread::JoinHandle<()>,
}

impl ClosingUpstream {
    fn start() -> ClosingUpstream {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let (close_first, closing) = std::sync::mpsc::channel::<()>();
        let (closed_tx, closed) = std::sync::mpsc::channel::<()>();
        let (seen, heads) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            let mut buf = vec![0u8; 8192];
            let (mut first, _) = listener.accept().unwrap();
            let n = first.read(&mut buf).unwrap();
            seen.send((1, String::from_utf8_lossy(&buf[..n]).into_owned()))
                .unwrap();
            first.write_all(answer).unwrap();
            closing.recv().unwrap();
            drop(first);
            closed_tx.send(()).unwrap();
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(1);
            while Instant::now() < deadline {
                let Ok((mut second, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                second.set_nonblocking(false).unwrap();
                let n = second.read(&mut buf).unwrap();
                seen.send((2, String::from_utf8_lossy(&buf[..n]).into_owned()))
                    .unwrap();
                second.write_all(answer).unwrap();
                return;
            }
        });
        ClosingUpstream {
            authority,
            close_first,
            closed,
            heads,
            thread,
        }
    }

    fn request(&self, method: Method, path: &str) -> Request<Full<Bytes>> {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.authority.as_str())
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    }

    /// A pool holding one idle connection, its first request answered.
    async fn pool_with_one_idle_connection(&self) -> Pool {
        let pool = Pool::new(self.authority.clone());
        let Ok(first) = send(&pool, self.request(Method::GET, "/first")).await else {
            panic!("the first request fails");
        };
        first.into_body().collect().await.unwrap();
        // Let the connection's task see the body read and ask for more.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            pool.idle_count(),
            1,
            "the first connection waits in the pool"
        );
        pool
    }

    /// Close the first connection; block (not yield) until its FIN is in
    /// our socket, so the connection's task has not seen it.
    fn close_first_connection(&self) {
        self.close_first.send(()).unwrap();
        self.closed.recv().unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Every request head the upstream read: (connection, request line).
    fn finish(self) -> Vec<(usize, String)> {
        self.thread.join().unwrap();
        let lines = self.heads.try_iter();
        lines
            .map(|(c, head)| (c, head.lines().next().unwrap_or("").to_string()))
            .collect()
    }
}

/// The race the second attempt in `send` exists for, made deterministic:
/// the FIN of an idle pooled connection is in our socket, its task has not
/// run, so the sender still looks ready. hyper writes the request and then
/// finds the connection closed before any answer: an idempotent request
/// goes out once more, on a new connection.
#[tokio::test(flavor = "current_thread")]
async fn an_idempotent_request_on_a_connection_closed_while_idle_goes_out_again_on_a_new_one() {
    let up = ClosingUpstream::start();
    let pool = up.pool_with_one_idle_connection().await;
    up.close_first_connection();
    let resp = match send(&pool, up.request(Method::DELETE, "/second")).await {
        Ok(r) => r,
        Err(Failure::Connect(e)) => panic!("connect: {e}"),
        Err(Failure::Http(e)) => panic!("not sent again: {e}"),
    };
    assert_eq!(resp.status(), http::StatusCode::OK);
    let heads = up.finish();
    let want = [(1, "GET /first HTTP/1.1"), (2, "DELETE /second HTTP/1.1")];
    assert_eq!(heads, want.map(|(c, l)| (c, l.to_string())));
}

/// The same race with a POST: the upstream may have read it, and a proxy
/// must not repeat a request that is not idempotent (RFC 9110 §9.2.2), so
/// the caller gets the error and no second connection is opened.
#[tokio::test(flavor = "current_thread")]
async fn a_post_on_a_connection_closed_while_idle_is_never_sent_twice() {
    let up = ClosingUpstream::start();
    let pool = up.pool_with_one_idle_connection().await;
    up.close_first_connection();
    match send(&pool, up.request(Method::POST, "/second")).await {
        Err(Failure::Http(e)) => assert!(e.is_incomplete_message(), "{e}"),
        Err(Failure::Connect(e)) => panic!("connect: {e}"),
        Ok(r) => panic!("a POST was sent again: {}", r.status()),
    }
    assert_eq!(up.finish(), [(1, "GET /first HTTP/1.1".to_string())]);
}

/// The other side of the race: the connection's task was woken by the FIN
/// but has not run when the request is queued on its sender. It then sees
/// the close before taking the request and hands it back unsent: any
/// method, a POST here, goes out once more on a new connection. The order
/// is forced: the sending task is woken by a byte on a socket of its own
/// that arrives before the FIN, so the runtime runs it first.
#[tokio::test(flavor = "current_thread")]
async fn a_request_handed_back_unsent_goes_out_once_on_a_new_connection() {
    use std::io::Write;
    let up = ClosingUpstream::start();
    let pool = std::sync::Arc::new(up.pool_with_one_idle_connection().await);
    let trigger = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut poke = std::net::TcpStream::connect(trigger.local_addr().unwrap()).unwrap();
    let (mut woken, _) = trigger.accept().await.unwrap();
    let request = up.request(Method::POST, "/second");
    let sender_pool = pool.clone();
    let sending = tokio::spawn(async move {
        let mut byte = [0u8; 1];
        woken.read_exact(&mut byte).await.unwrap();
        match send(&sender_pool, request).await {
            Ok(r) => Ok(r.status()),
            Err(Failure::Connect(e)) => Err(format!("connect: {e}")),
            Err(Failure::Http(e)) => Err(format!("not sent again: {e}")),
        }
    });
    // The task waits on its socket before anything happens.
    tokio::task::yield_now().await;
    poke.write_all(b"!").unwrap();
    up.close_first_connection();
    assert_eq!(sending.await.unwrap(), Ok(http::StatusCode::OK));
    let heads = up.finish();
    let want = [(1, "GET /first HTTP/1.1"), (2, "POST /second HTTP/1.1")];
    assert_eq!(heads, want.map(|(c, l)| (c, l.to_string())));
}

/// Only a close before any answer is retried: a reused connection that
/// answers an idempotent request with something that is not HTTP has read
/// that request, and the caller gets the error.
#[tokio::test]
async fn a_garbled_answer_on_a_reused_connection_is_not_retried() {
    let answers: Vec<&'static [u8]> = vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        b"NOT HTTP AT ALL\r\n\r\n",
    ];
    let (authority, mut heads) = upstream(answers).await;
    let pool = Pool::new(authority.clone());
    let request = |path: &str| {
        Request::get(path)
            .header("host", authority.as_str())
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let Ok(first) = send(&pool, request("/first")).await else {
        panic!("the first request fails");
    };
    first.into_body().collect().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(pool.idle_count(), 1);
    match send(&pool, request("/second")).await {
        Err(Failure::Http(e)) => assert!(e.is_parse(), "{e}"),
        Err(Failure::Connect(e)) => panic!("connect: {e}"),
        Ok(r) => panic!("a garbled answer became {}", r.status()),
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut seen = Vec::new();
    while let Ok(head) = heads.try_recv() {
        seen.push(head.lines().next().unwrap_or("").to_string());
    }
    assert_eq!(seen, ["GET /first HTTP/1.1", "GET /second HTTP/1.1"]);
}
