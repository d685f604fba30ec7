//! The first line of a connection, checked before hyper sees it.
//!
//! hyper waits for a request line to end with a version: an HTTP/0.9 line
//! (`GET /path\r\n`) or garbage (a TLS ClientHello on the plain port) would
//! hold the connection until the header timeout, unanswered and uncounted.
//! So the gateway reads the first line itself, refuses anything that is not
//! `METHOD SP target SP HTTP/1.x CRLF` (or the HTTP/2 preface) with a 400
//! at once — as soon as a byte shows it cannot be one — and hands the bytes
//! it read to hyper through [`Prefixed`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// What the first bytes of a connection are.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstLine {
    /// A well-formed HTTP/1 request line or the HTTP/2 preface; the bytes
    /// read so far (the line and whatever followed it).
    Http(Bytes),
    /// Not HTTP/1.x or HTTP/2: why.
    Refused(&'static str),
    /// The peer closed (or sent nothing) before a line ended.
    Closed,
}

/// Read until the first line ends (or cannot be a request line), at most
/// `max` bytes.
pub async fn read_first_line<I: AsyncRead + Unpin>(
    io: &mut I,
    max: usize,
) -> io::Result<FirstLine> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        let checked = buf.len();
        if io.read_buf(&mut buf).await? == 0 {
            return Ok(FirstLine::Closed);
        }
        let newline = buf[checked..].iter().position(|b| *b == b'\n');
        let end = newline.map_or(buf.len(), |i| checked + i);
        if let Some(why) = implausible(&buf[..end]) {
            return Ok(FirstLine::Refused(why));
        }
        if let Some(i) = newline {
            let line = &buf[..checked + i];
            return Ok(match judge(line) {
                Some(why) => FirstLine::Refused(why),
                None => FirstLine::Http(buf.freeze()),
            });
        }
        if buf.len() > max {
            return Ok(FirstLine::Refused("request line too long"));
        }
    }
}

/// A reason the bytes before the first LF cannot start a request line.
fn implausible(head: &[u8]) -> Option<&'static str> {
    // A CR is only allowed right before the LF that has not arrived yet.
    let body = head.strip_suffix(b"\r").unwrap_or(head);
    if body.first().is_some_and(|b| !is_tchar(*b)) {
        return Some("not an HTTP request");
    }
    body.iter()
        .any(|b| !(0x20..0x7f).contains(b))
        .then_some("control or non-ASCII byte in the request line")
}

/// A reason a complete first line (without its LF) is refused.
fn judge(line: &[u8]) -> Option<&'static str> {
    let Some(line) = line.strip_suffix(b"\r") else {
        return Some("the request line must end with CRLF");
    };
    if line == b"PRI * HTTP/2.0" {
        return None;
    }
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Some("the request line is not METHOD target HTTP/1.x");
    };
    if method.is_empty() || !method.iter().all(|b| is_tchar(*b)) || target.is_empty() {
        return Some("the request line is not METHOD target HTTP/1.x");
    }
    match version {
        b"HTTP/1.1" | b"HTTP/1.0" => None,
        _ => Some("unsupported HTTP version"),
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An IO whose first reads return `prefix`, then the inner stream's bytes.
pub struct Prefixed<I> {
    prefix: Bytes,
    inner: I,
}

impl<I> Prefixed<I> {
    pub fn new(prefix: Bytes, inner: I) -> Prefixed<I> {
        Prefixed { prefix, inner }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.has_remaining() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

delegate_async_write!(Prefixed);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWrite, AsyncWriteExt};

    async fn first(bytes: &[u8]) -> FirstLine {
        let mut io = bytes;
        read_first_line(&mut io, 64).await.unwrap()
    }

    #[tokio::test]
    async fn http1_request_lines_and_the_h2_preface_pass() {
        let get = b"GET /v1/p/notebooks HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(first(get).await, FirstLine::Http(Bytes::from_static(get)));
        assert!(matches!(
            first(b"POST /x HTTP/1.0\r\n").await,
            FirstLine::Http(_)
        ));
        let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
        assert!(matches!(first(preface).await, FirstLine::Http(_)));
    }

    #[tokio::test]
    async fn everything_else_is_refused_at_once() {
        for bad in [
            &b"GET /v1/p/notebooks\r\n"[..],
            b"HELLO\r\n\r\n",
            b"GET /x HTTP/1.1\n",
            b"GET /x HTTP/2.0\r\n",
            b"GET  /x HTTP/1.1\r\n",
            b"G\x00T /x HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b" GET /x HTTP/1.1\r\n",
            b"GET /\x7fx HTTP/1.1\r\n",
        ] {
            assert!(matches!(first(bad).await, FirstLine::Refused(_)), "{bad:?}");
        }
        let long = [b'a'; 100];
        assert_eq!(
            first(&long).await,
            FirstLine::Refused("request line too long")
        );
        assert_eq!(first(b"GET /x HT").await, FirstLine::Closed);
    }

    /// The first line read in two pieces: the reader returns `a`, then `b`.
    async fn first_in_two(a: &'static [u8], b: &'static [u8]) -> FirstLine {
        let mut io = AsyncReadExt::chain(a, b);
        read_first_line(&mut io, 64).await.unwrap()
    }

    #[tokio::test]
    async fn a_line_that_arrives_in_pieces_is_judged_whole() {
        let line = first_in_two(b"GET /x", b" HTTP/1.1\r\n\x00\x01").await;
        assert_eq!(
            line,
            FirstLine::Http(Bytes::from_static(b"GET /x HTTP/1.1\r\n\x00\x01")),
            "bytes after the line are not the line's"
        );
        let cr_first = first_in_two(b"GET /x HTTP/1.1\r", b"\nHost: x\r\n").await;
        assert!(matches!(cr_first, FirstLine::Http(_)));
        for (a, b) in [
            (&b"GET /x"[..], &b" HT\x00TP/1.1\r\n"[..]),
            (b"GET /x", b" HTTP/1.1\x00"),
            (b"GET /x HTTP/1.1", b"\n"),
            (b"GET /x", b" HTTP/3\r\n"),
        ] {
            let why = first_in_two(a, b).await;
            assert!(matches!(why, FirstLine::Refused(_)), "{a:?} {b:?}: {why:?}");
        }
    }

    #[tokio::test]
    async fn method_and_target_are_checked() {
        for bad in [
            &b"G(T /x HTTP/1.1\r\n"[..],
            b"GET  HTTP/1.1\r\n",
            b"GET\r\n",
            b"GET /x HTTP/1.1 \r\n",
        ] {
            assert!(matches!(first(bad).await, FirstLine::Refused(_)), "{bad:?}");
        }
        for good in [&b"M-SEARCH * HTTP/1.1\r\n"[..], b"A /x HTTP/1.0\r\n"] {
            assert!(matches!(first(good).await, FirstLine::Http(_)), "{good:?}");
        }
    }

    #[tokio::test]
    async fn a_line_of_exactly_max_bytes_may_still_end() {
        let line = [b'a'; 64];
        assert_eq!(first(&line).await, FirstLine::Closed);
        let longer = [b'a'; 65];
        assert_eq!(
            first(&longer).await,
            FirstLine::Refused("request line too long")
        );
    }

    /// A writer without vectored writes (the trait's default answer).
    struct Scalar;

    impl AsyncWrite for Scalar {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn prefixed_fills_small_buffers_and_passes_writes_through() {
        let mut io = Prefixed::new(Bytes::from_static(b"abcdef"), &b"gh"[..]);
        let mut two = [0u8; 2];
        io.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        let mut rest = Vec::new();
        io.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"cdefgh");

        let (near, mut far) = tokio::io::duplex(64);
        let mut io = Prefixed::new(Bytes::new(), tokio::io::BufWriter::new(near));
        io.write_all(b"one").await.unwrap();
        let slices = [io::IoSlice::new(b" two")];
        assert_eq!(io.write_vectored(&slices).await.unwrap(), 4);
        io.flush().await.unwrap();
        // Bounded waits: a write path that drops data must fail, not hang.
        let wait = std::time::Duration::from_secs(5);
        let mut got = [0u8; 7];
        let read = tokio::time::timeout(wait, far.read_exact(&mut got)).await;
        read.expect("flush reaches the peer").unwrap();
        assert_eq!(&got, b"one two");
        // The inner stream's own answer, whichever it is.
        assert!(io.is_write_vectored());
        assert!(!Prefixed::new(Bytes::new(), Scalar).is_write_vectored());
        io.shutdown().await.unwrap();
        let mut end = Vec::new();
        let read = tokio::time::timeout(wait, far.read_to_end(&mut end)).await;
        read.expect("shutdown reaches the peer").unwrap();
        assert!(end.is_empty(), "shutdown reaches the peer");
    }

    #[tokio::test]
    async fn prefixed_replays_the_prefix_first() {
        let mut io = Prefixed::new(Bytes::from_static(b"abc"), &b"def"[..]);
        let mut out = String::new();
        io.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "abcdef");
    }
}
