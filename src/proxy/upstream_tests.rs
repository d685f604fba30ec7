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
