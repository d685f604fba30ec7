//! The raw HTTP/1 framing hyper hides, seen on the way in.
//!
//! hyper normalises some framing before the handler sees a request: with
//! `Transfer-Encoding: chunked` and `Content-Length` it drops the length and
//! decodes chunked, of two equal `Content-Length` headers it keeps one, and
//! its parser accepts a bare LF as a line ending. A gateway that must forward
//! exactly the request it evaluated has to refuse those (a front proxy may
//! have framed the same bytes differently), so [`FramingTap`] sits between
//! the socket and hyper and parses the inbound byte stream itself: request
//! heads, then each body by its framing (skipped by count, or walked chunk
//! by chunk), so it stays in step with hyper request after request on a
//! keep-alive connection, pipelining included. Parsing happens inside
//! `poll_read`, on the bytes just read, so by the time hyper hands request
//! N to the service its head has been judged; the service asks the shared
//! [`Framing`] handle for request N's verdict.
//!
//! The first violation ends the scan: every later request on the connection
//! is a violation too (the handler refuses the first one with
//! `Connection: close`, so none is ever served). That keeps the handle at a
//! few atomics however long the connection lives — there are no per-request
//! records to drop. HTTP/2 (the connection preface) turns the tap off.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

#[path = "framing_scan.rs"]
mod scan;

pub(crate) use scan::Scanner;

/// Why a request's framing is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Violation {
    TeWithCl,
    RepeatedCl,
    BadCl,
    TeNotChunked,
    BareLf,
    BareCr,
    Unparseable,
    HeadTooLarge,
    BadChunk,
}

impl Violation {
    const ALL: [Violation; 9] = [
        Violation::TeWithCl,
        Violation::RepeatedCl,
        Violation::BadCl,
        Violation::TeNotChunked,
        Violation::BareLf,
        Violation::BareCr,
        Violation::Unparseable,
        Violation::HeadTooLarge,
        Violation::BadChunk,
    ];

    /// The message of the 400 answer.
    pub fn text(self) -> &'static str {
        match self {
            Violation::TeWithCl => "Transfer-Encoding and Content-Length together",
            Violation::RepeatedCl => "more than one Content-Length header",
            Violation::BadCl => "a Content-Length that is not a decimal number",
            Violation::TeNotChunked => "a Transfer-Encoding other than chunked",
            Violation::BareLf => "a line of the request head ends with a bare LF",
            Violation::BareCr => "a bare CR in the request head",
            Violation::Unparseable => "the request head cannot be parsed",
            Violation::HeadTooLarge => "the request head is too large",
            Violation::BadChunk => "malformed chunked framing in an earlier request body",
        }
    }
}

/// Answer for every request after the first violation on a connection.
const AFTER_VIOLATION: &str = "an earlier request on this connection broke the HTTP/1 framing";
/// Answer for a request whose head the tap never saw (it would be out of
/// step with hyper: refuse rather than trust it).
const UNSEEN: &str = "the request head was not seen by the framing check";

/// The verdicts of one connection, shared by the tap and the service.
#[derive(Debug)]
struct Verdicts {
    /// Number of request heads judged so far.
    seen: AtomicU64,
    /// Index of the first refused request (`u64::MAX`: none).
    bad_from: AtomicU64,
    /// Its [`Violation`], as `u8`.
    why: AtomicU8,
    /// HTTP/2: nothing to check.
    off: AtomicBool,
}

/// A cheap shared handle on one connection's framing verdicts.
#[derive(Debug, Clone)]
pub struct Framing(Arc<Verdicts>);

impl Framing {
    fn new() -> Framing {
        Framing(Arc::new(Verdicts {
            seen: AtomicU64::new(0),
            bad_from: AtomicU64::new(u64::MAX),
            why: AtomicU8::new(0),
            off: AtomicBool::new(false),
        }))
    }

    /// Why request `request_index` (0, 1, 2, … on the connection, in the
    /// order hyper serves HTTP/1 requests) must be refused, if it must.
    pub fn violation(&self, request_index: u64) -> Option<&'static str> {
        let v = &self.0;
        if v.off.load(Ordering::Acquire) {
            return None;
        }
        let seen = v.seen.load(Ordering::Acquire);
        let bad_from = v.bad_from.load(Ordering::Acquire);
        if request_index == bad_from {
            let why = Violation::ALL.get(usize::from(v.why.load(Ordering::Acquire)));
            return Some(why.map_or(AFTER_VIOLATION, |w| w.text()));
        }
        if request_index > bad_from {
            return Some(AFTER_VIOLATION);
        }
        (request_index >= seen).then_some(UNSEEN)
    }

    /// Request `index`'s head was judged fine.
    fn passed(&self, index: u64) {
        self.0.seen.store(index + 1, Ordering::Release);
    }

    /// Request `index` (and every later one) is refused for `why`.
    fn refuse(&self, index: u64, why: Violation) {
        self.0.why.store(why as u8, Ordering::Release);
        self.0.bad_from.store(index, Ordering::Release);
    }

    /// The connection speaks HTTP/2.
    fn turn_off(&self) {
        self.0.off.store(true, Ordering::Release);
    }
}

/// An IO that shows every byte hyper reads to a [`Scanner`].
pub struct FramingTap<I> {
    inner: I,
    scanner: Scanner,
}

impl<I> FramingTap<I> {
    /// Wrap `inner`; `max_head` is the largest request head hyper accepts
    /// (its read buffer size). The handle answers for this connection.
    pub fn new(inner: I, max_head: usize) -> (FramingTap<I>, Framing) {
        let framing = Framing::new();
        let scanner = Scanner::new(framing.clone(), max_head);
        (FramingTap { inner, scanner }, framing)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FramingTap<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.scanner.feed(&buf.filled()[before..]);
        }
        result
    }
}

delegate_async_write!(FramingTap);

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
