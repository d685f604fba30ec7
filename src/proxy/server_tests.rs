//! Tests of the accept path over real sockets on 127.0.0.1:0: requests on
//! a kept-alive connection, the idle timeout measured from the last
//! request, the refusal of a line that is not HTTP, and connection errors
//! counted by kind.

use std::collections::HashMap;
use std::path::Path;

use tokio::io::AsyncReadExt;

use super::*;
use crate::decision_log::DecisionLog;
use crate::proxy::test_gateway;

/// A gateway over the repository's routes and sample policies, with these
/// idle and header timeouts; nothing is forwarded (the routes tried 404).
fn gateway(dir: &Path, idle: Duration, header: Duration) -> Arc<Gateway> {
    gateway_to(dir, idle, header, HashMap::new())
}

fn gateway_to(
    dir: &Path,
    idle: Duration,
    header: Duration,
    upstreams: HashMap<String, http::uri::Authority>,
) -> Arc<Gateway> {
    let mut config = test_gateway::sample_config(dir, "");
    config.limits.idle_timeout = idle;
    config.limits.header_read_timeout = header;
    test_gateway::gateway_with(config, upstreams, DecisionLog::disabled())
}

/// Serve `gw` on 127.0.0.1:0 until the returned sender is dropped.
async fn start(gw: Arc<Gateway>) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let slots = connection_slots(&gw.config.limits);
    let shutdown = async move {
        let _ = stopped.await;
    };
    let grace = Duration::from_secs(1);
    tokio::spawn(serve_gateway(listener, None, gw, slots, shutdown, grace));
    (addr, stop)
}

/// One response: the head, then `content-length` bytes of body.
async fn response(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "closed mid-head: {}", String::from_utf8_lossy(&got));
        got.push(byte[0]);
    }
    let head = String::from_utf8(got).unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_string)
        })
        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).await.unwrap();
    head + &String::from_utf8(body).unwrap()
}

/// Reads until the peer closes; the time it took.
async fn closed_after(s: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest));
    let _ = read.await.expect("the gateway closes the connection");
    started.elapsed()
}

const GET: &[u8] = b"GET /v1/p-acme-cn4/nothing HTTP/1.1\r\nhost: gw.test\r\n\r\n";

fn protocol_errors(gw: &Gateway, kind: &str) -> bool {
    let line = format!("iamgate_protocol_errors_total{{kind=\"{kind}\"}} 1");
    gw.metrics.render().contains(&line)
}

#[tokio::test]
async fn a_connection_stays_open_while_used_and_closes_once_idle() {
    let dir = tempfile::tempdir().unwrap();
    let idle = Duration::from_millis(1000);
    let gw = gateway(dir.path(), idle, Duration::from_secs(10));
    let (addr, _stop) = start(gw).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Three requests 700 ms apart: longer than `idle` in all, never idle that long.
    for i in 0..3 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
        s.write_all(GET).await.unwrap();
        let answer = response(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    }
    let after = closed_after(&mut s).await;
    assert!(
        after >= Duration::from_millis(900),
        "closed too soon: {after:?}"
    );
    // Checked every idle/4: noticed within 1.25 s (a check every 4 s would
    // notice it only 2.6 s after the last request).
    assert!(
        after < Duration::from_millis(2000),
        "closed too late: {after:?}"
    );
}

#[tokio::test]
async fn a_first_line_that_is_not_http_is_refused_in_both_shapes_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), Duration::from_secs(10), Duration::from_secs(10));
    let (addr, _stop) = start(gw.clone()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"HELLO THERE\r\n\r\n").await.unwrap();
    let answer = response(&mut s).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("connection: close\r\n"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error_code"], "APIGW.0201");
    assert_eq!(body["Code"], "InvalidParameter");
    assert_eq!(body["request_id"], body["RequestId"]);
    closed_after(&mut s).await;
    assert!(
        protocol_errors(&gw, "request_line"),
        "{}",
        gw.metrics.render()
    );
}

#[tokio::test]
async fn a_head_too_large_or_malformed_is_counted_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), Duration::from_secs(10), Duration::from_secs(10));
    let (addr, _stop) = start(gw.clone()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let big = format!(
        "GET / HTTP/1.1\r\nhost: gw.test\r\nx-big: {}\r\n\r\n",
        "a".repeat(max_buf_size(&gw.config.limits) + 1024)
    );
    let _ = s.write_all(big.as_bytes()).await;
    closed_after(&mut s).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: gw.test\r\nno colon here\r\n\r\n")
        .await
        .unwrap();
    closed_after(&mut s).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = gw.metrics.render();
    assert!(protocol_errors(&gw, "too_large"), "{text}");
    assert!(protocol_errors(&gw, "parse"), "{text}");
}

#[tokio::test]
async fn a_head_that_stalls_is_closed_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let header = Duration::from_millis(300);
    let gw = gateway(dir.path(), Duration::from_secs(30), header);
    let (addr, _stop) = start(gw.clone()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nhost: gw.test\r\n")
        .await
        .unwrap();
    let after = closed_after(&mut s).await;
    assert!(after < Duration::from_secs(5), "{after:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        protocol_errors(&gw, "header_timeout"),
        "{}",
        gw.metrics.render()
    );
}

#[test]
fn hypers_buffer_holds_the_largest_head_and_never_less_than_8_kib() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway(dir.path(), Duration::from_secs(10), Duration::from_secs(10));
    let mut limits = gw.config.limits.clone();
    limits.max_header_bytes = 64 * 1024;
    assert_eq!(max_buf_size(&limits), 64 * 1024);
    limits.max_header_bytes = 100;
    assert_eq!(max_buf_size(&limits), 8192);
}

#[tokio::test]
async fn a_request_in_flight_longer_than_idle_keeps_its_connection() {
    // An upstream that answers 1.6 s after each request.
    let slow = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = slow.local_addr().unwrap().to_string().parse().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut up, _) = slow.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while up.read(&mut buf).await.is_ok_and(|n| n > 0) {
                    tokio::time::sleep(Duration::from_millis(1600)).await;
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if up.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let upstreams = HashMap::from([("modelarts".to_string(), authority)]);
    let idle = Duration::from_millis(1000);
    let gw = gateway_to(dir.path(), idle, Duration::from_secs(10), upstreams);
    let (addr, _stop) = start(gw).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let list = b"GET /v1/p-acme-cn4/notebooks HTTP/1.1\r\nhost: gw.test\r\nx-auth-token: example-token-alice-not-real\r\n\r\n";
    s.write_all(list).await.unwrap();
    let answer = response(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Busy for 1.6 s, never idle: the connection is still open for more.
    s.write_all(GET).await.unwrap();
    let answer = response(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}
