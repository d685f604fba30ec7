#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use tokio::io::AsyncReadExt;

use super::*;

const MAX: usize = 8192;

/// Feed `stream` in pieces of the given sizes (the rest at the end).
fn scan_in(stream: &[u8], sizes: &[usize]) -> Framing {
    let framing = Framing::new();
    let mut scanner = Scanner::new(framing.clone(), MAX);
    let mut rest = stream;
    for size in sizes {
        let (piece, tail) = rest.split_at((*size).min(rest.len()));
        scanner.feed(piece);
        rest = tail;
    }
    scanner.feed(rest);
    framing
}

fn verdicts(framing: &Framing, n: u64) -> Vec<Option<&'static str>> {
    (0..n).map(|i| framing.violation(i)).collect()
}

fn scan(stream: &[u8], n: u64) -> Vec<Option<&'static str>> {
    verdicts(&scan_in(stream, &[]), n)
}

const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: gw\r\n\r\n";
const POST_CL: &[u8] = b"POST /b HTTP/1.1\r\nHost: gw\r\nContent-Length: 11\r\n\r\nGET /x HT\r\n";
const POST_CHUNKED: &[u8] = b"POST /c HTTP/1.1\r\nHost: gw\r\ntransfer-encoding: chunked\r\n\r\n\
5;name=\"v\"\r\nGET /\r\n1a \t;e\r\nTransfer-Encoding: x\r\n\r\n12\r\n\
0\r\nX-Trailer: 1\r\nOther: 2\r\n\r\n";
const POST_EMPTY_CHUNKED: &[u8] =
    b"POST /d HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";

fn valid_sequence() -> Vec<u8> {
    [GET, POST_CL, POST_CHUNKED, b"\r\n", POST_EMPTY_CHUNKED, GET].concat()
}

#[test]
fn a_valid_keep_alive_sequence_has_no_violation() {
    assert_eq!(scan(&valid_sequence(), 5), vec![None; 5]);
}

#[test]
fn a_request_the_tap_never_saw_is_refused() {
    let v = scan(&valid_sequence(), 6);
    assert_eq!(v[5], Some(UNSEEN), "only five heads were sent");
    let half = &GET[..GET.len() - 1];
    assert_eq!(scan(half, 1), vec![Some(UNSEEN)]);
}

fn with_header(lines: &str) -> Vec<u8> {
    format!("POST /p HTTP/1.1\r\nHost: gw\r\n{lines}\r\n").into_bytes()
}

#[test]
fn each_violation_is_named_and_later_requests_follow() {
    let cases: &[(Vec<u8>, Violation)] = &[
        (
            with_header("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"),
            Violation::TeWithCl,
        ),
        (
            with_header("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"),
            Violation::TeWithCl,
        ),
        (
            with_header("Content-Length: 4\r\nContent-Length: 4\r\n"),
            Violation::RepeatedCl,
        ),
        (with_header("Content-Length: +4\r\n"), Violation::BadCl),
        // `:` is the byte after `9`: a digit test of `<= 9 + 1` would read it as 10.
        (with_header("Content-Length: 1:\r\n"), Violation::BadCl),
        (
            with_header("Transfer-Encoding: chunked, gzip\r\n"),
            Violation::TeNotChunked,
        ),
        (
            b"POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            Violation::TeNotChunked,
        ),
        (
            b"GET /p HTTP/1.1\r\nHost: gw\nX-Auth-Token: t\r\n\r\n".to_vec(),
            Violation::BareLf,
        ),
        (
            b"GET /p HTTP/1.1\r\nHost: gw\r\n\n".to_vec(),
            Violation::BareLf,
        ),
        (
            b"GET /p HTTP/1.1\r\nHost: gw\rX: 1\r\n\r\n".to_vec(),
            Violation::BareCr,
        ),
        (
            b"GET /p HTTP/1.1\r\nHost : gw\r\n\r\n".to_vec(),
            Violation::Unparseable,
        ),
    ];
    for (head, why) in cases {
        let stream = [GET, head, GET].concat();
        let v = scan(&stream, 3);
        let text = String::from_utf8_lossy(head);
        assert_eq!(v[0], None, "{text}");
        assert_eq!(v[1], Some(why.text()), "{text}");
        assert_eq!(v[2], Some(AFTER_VIOLATION), "{text}");
    }
}

#[test]
fn a_bare_cr_is_named_before_the_parse() {
    let v = scan(b"GET /p HTTP/1.1\r\nHost: gw\r\r\n\r\n", 1);
    assert_eq!(v[0], Some(Violation::BareCr.text()));
}

#[test]
fn bad_chunk_framing_stops_the_scan() {
    for body in [
        &b"zz\r\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhelloX0\r\n\r\n",
        b"5\nhello\n0\n\n",
        b"5;a\nhello\r\n0\r\n\r\n",
        // A LF inside an extension, in a body that would otherwise end
        // well: read on past it, the body would end before the next head.
        b"1;a\n\r\nX\r\n0\r\n\r\n",
        b"5 5\r\nhello\r\n0\r\n\r\n",
        b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    ] {
        let head = with_header("Transfer-Encoding: chunked\r\n");
        let stream = [&head, body, GET].concat();
        let v = scan(&stream, 2);
        assert_eq!(v[0], None);
        assert_eq!(v[1], Some(Violation::BadChunk.text()), "{body:?}");
    }
}

#[test]
fn a_head_larger_than_hyper_accepts_stops_the_scan() {
    let big = format!("GET /p HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(MAX));
    let mut sizes = vec![1000; MAX / 1000 + 2];
    sizes.push(1);
    let v = verdicts(&scan_in(big.as_bytes(), &sizes), 1);
    assert_eq!(v[0], Some(Violation::HeadTooLarge.text()));
}

/// A head of exactly `len` bytes (`len` > 40).
fn head_of(len: usize) -> Vec<u8> {
    let fixed = "GET /p HTTP/1.1\r\nX-Big: \r\n\r\n".len();
    let head = format!(
        "GET /p HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(len - fixed)
    );
    assert_eq!(head.len(), len);
    head.into_bytes()
}

#[test]
fn a_head_of_exactly_max_bytes_passes_whole_or_in_pieces() {
    // hyper parses what its buffer holds before it checks the size, so a
    // head of exactly its buffer's size is served.
    for sizes in [&[][..], &[1000; MAX / 1000 + 1][..], &[MAX - 1][..]] {
        let at_max = [head_of(MAX), GET.to_vec()].concat();
        assert_eq!(
            verdicts(&scan_in(&at_max, sizes), 2),
            vec![None, None],
            "pieces {sizes:?}"
        );
        let over = head_of(MAX + 1);
        assert_eq!(
            verdicts(&scan_in(&over, sizes), 1),
            vec![Some(Violation::HeadTooLarge.text())],
            "pieces {sizes:?}"
        );
    }
}

#[test]
fn each_violation_has_its_own_text_and_code() {
    let texts: std::collections::HashSet<_> = Violation::ALL.iter().map(|v| v.text()).collect();
    assert_eq!(texts.len(), Violation::ALL.len(), "{texts:?}");
    for (i, v) in Violation::ALL.iter().enumerate() {
        assert_eq!(*v as usize, i, "the verdict is stored as this index");
        assert!(v.text().len() > 20, "{v:?}: {}", v.text());
        assert_ne!(v.text(), AFTER_VIOLATION);
        assert_ne!(v.text(), UNSEEN);
    }
    assert_eq!(
        Violation::TeWithCl.text(),
        "Transfer-Encoding and Content-Length together"
    );
}

#[test]
fn the_http2_preface_turns_the_tap_off() {
    let h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00";
    assert_eq!(scan(h2, 3), vec![None; 3]);
    // Only as the first thing on the connection.
    let later = [GET, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"].concat();
    assert_eq!(scan(&later, 2)[1], Some(Violation::Unparseable.text()));
}

#[test]
fn every_split_point_gives_the_same_verdicts() {
    let bad = with_header("Content-Length: 3\r\nContent-Length: 3\r\n");
    let stream = [valid_sequence(), bad, GET.to_vec()].concat();
    let whole = scan(&stream, 7);
    assert_eq!(whole[..5], [None; 5]);
    assert_eq!(whole[5], Some(Violation::RepeatedCl.text()));
    for at in 0..stream.len() {
        assert_eq!(
            verdicts(&scan_in(&stream, &[at]), 7),
            whole,
            "split at {at}"
        );
    }
}

#[tokio::test]
async fn the_tap_passes_bytes_through_and_judges_them() {
    let stream = [
        GET,
        &with_header("Content-Length: 1\r\nContent-Length: 1\r\n"),
    ]
    .concat();
    let (mut tap, framing) = FramingTap::new(&stream[..], MAX);
    let mut out = Vec::new();
    tap.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, stream);
    assert_eq!(framing.violation(0), None);
    assert_eq!(framing.violation(1), Some(Violation::RepeatedCl.text()));
}

proptest! {
    #[test]
    fn read_sizes_do_not_change_verdicts(
        sizes in proptest::collection::vec(1usize..40, 0..60),
        bad_at in 0usize..4,
    ) {
        let mut requests = vec![GET.to_vec(), POST_CL.to_vec(), POST_CHUNKED.to_vec(), GET.to_vec()];
        requests.insert(bad_at, b"GET /p HTTP/1.1\r\nHost: gw\nA: 1\r\n\r\n".to_vec());
        let stream = requests.concat();
        let whole = scan(&stream, 6);
        prop_assert_eq!(whole[bad_at], Some(Violation::BareLf.text()));
        prop_assert_eq!(verdicts(&scan_in(&stream, &sizes), 6), whole);
    }
}

/// Serve `stream` with hyper itself behind the tap, written in pieces of
/// `piece` bytes; each response body is the verdict the service saw.
async fn served(stream: Vec<u8>, piece: usize) -> Vec<String> {
    use std::sync::atomic::AtomicU64;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::io::AsyncWriteExt;

    let (client, server) = tokio::io::duplex(1 << 16);
    let (tap, framing) = FramingTap::new(server, MAX);
    let count = Arc::new(AtomicU64::new(0));
    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let verdict = framing.violation(count.fetch_add(1, Ordering::Relaxed));
        async move {
            // Read the body as the gateway does, so hyper reads on.
            req.into_body().collect().await?;
            let text = Bytes::from_static(verdict.unwrap_or("ok").as_bytes());
            Ok::<_, hyper::Error>(hyper::Response::new(Full::new(text)))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tap), svc);
    let server = tokio::spawn(conn);
    let (mut rd, mut wr) = tokio::io::split(client);
    for part in stream.chunks(piece) {
        wr.write_all(part).await.unwrap();
        tokio::task::yield_now().await;
    }
    wr.shutdown().await.unwrap();
    let mut out = Vec::new();
    let read = rd.read_to_end(&mut out);
    tokio::time::timeout(std::time::Duration::from_secs(5), read)
        .await
        .unwrap()
        .unwrap();
    let _ = server.await;
    let out = String::from_utf8(out).unwrap();
    let responses = out.split("HTTP/1.1 ").skip(1);
    responses
        .map(|r| r.split_once("\r\n\r\n").unwrap().1.to_string())
        .collect()
}

#[tokio::test]
async fn hyper_and_the_tap_agree_on_every_request_of_a_keep_alive_connection() {
    for piece in [1, 3, 7, 64, 1 << 16] {
        let verdicts = served(valid_sequence(), piece).await;
        assert_eq!(verdicts, vec!["ok"; 5], "pieces of {piece}");
    }
}

#[tokio::test]
async fn empty_lines_before_a_request_line_are_skipped_bare_lf_included() {
    // httparse skips `\r\n` and `\n` before a request line; they are not
    // part of the head, so a bare LF there is no violation.
    let stream = [b"\n", GET, b"\n\r\n", GET, b"\r\n\n", POST_CL].concat();
    assert_eq!(scan(&stream, 3), vec![None; 3]);
    for piece in [1, 1 << 16] {
        assert_eq!(served(stream.clone(), piece).await, ["ok"; 3]);
    }
}

#[tokio::test]
async fn hyper_serves_the_refused_request_with_its_verdict() {
    let bad = b"GET /p HTTP/1.1\r\nHost: gw\nA: 1\r\n\r\n";
    let stream = [valid_sequence(), bad.to_vec()].concat();
    let verdicts = served(stream, 5).await;
    assert_eq!(verdicts[..5], ["ok"; 5]);
    assert_eq!(verdicts[5], Violation::BareLf.text());
    // hyper drops the Content-Length and decodes chunked; the tap saw both.
    let te_cl = with_header("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n");
    let stream = [GET, &te_cl, b"5\r\nhello\r\n0\r\n\r\n"].concat();
    let verdicts = served(stream, 1 << 16).await;
    assert_eq!(verdicts, ["ok", Violation::TeWithCl.text()]);
}
