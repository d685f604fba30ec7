//! Reading a keep-alive connection's bytes through `FramingTap` against the
//! baseline of reading the same bytes without it: the cost of checking the
//! raw HTTP/1 framing. The stream is 100 pipelined requests as SDKs send
//! them: signed GETs, POSTs with a 1 KiB JSON body, chunked uploads of
//! 16 KiB; reads of 8 KiB, hyper's usual first buffer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iamgate::proxy::framing::FramingTap;
use tokio::io::{AsyncRead, AsyncReadExt};

const HEADERS: &str = "Host: modelarts.cn-north-4.example.com\r\n\
User-Agent: huaweicloud-usdk-python/3.0\r\n\
Accept: application/json\r\n\
Content-Type: application/json\r\n\
X-Project-Id: 0123456789abcdef0123456789abcdef\r\n\
X-Sdk-Date: 20260101T120000Z\r\n\
Authorization: SDK-HMAC-SHA256 Access=ABCDEFGHIJKLMNOPQRST, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n";

fn stream() -> Vec<u8> {
    let json = format!("{{\"name\":\"{}\"}}", "n".repeat(1010));
    let chunk = "c".repeat(4096);
    let mut out = Vec::new();
    for i in 0..100 {
        let path = "/v1/0123456789abcdef0123456789abcdef/notebooks";
        let request = match i % 3 {
            0 => format!("GET {path}/nb-{i} HTTP/1.1\r\n{HEADERS}\r\n"),
            1 => format!(
                "POST {path} HTTP/1.1\r\n{HEADERS}Content-Length: {}\r\n\r\n{json}",
                json.len()
            ),
            _ => {
                let chunks = format!("1000\r\n{chunk}\r\n").repeat(4);
                format!("PUT {path}/nb-{i} HTTP/1.1\r\n{HEADERS}Transfer-Encoding: chunked\r\n\r\n{chunks}0\r\n\r\n")
            }
        };
        out.extend_from_slice(request.as_bytes());
    }
    out
}

/// Read everything in 8 KiB reads; the bytes read.
fn drain<R: AsyncRead + Unpin>(rt: &tokio::runtime::Runtime, mut io: R) -> usize {
    rt.block_on(async {
        let mut buf = [0u8; 8192];
        let mut total = 0;
        loop {
            match io.read(&mut buf).await.unwrap() {
                0 => return total,
                n => total += black_box(&buf[..n]).len(),
            }
        }
    })
}

fn bench_tap(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let bytes = stream();
    let mut g = c.benchmark_group("framing/100_requests");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("iamgate_tap", |b| {
        b.iter(|| {
            let (tap, framing) = FramingTap::new(&bytes[..], 65536);
            let n = drain(&rt, tap);
            assert_eq!(framing.violation(99), None);
            n
        })
    });
    g.bench_function("baseline_no_tap", |b| b.iter(|| drain(&rt, &bytes[..])));
    g.finish();
}

criterion_group!(benches, bench_tap);
criterion_main!(benches);
