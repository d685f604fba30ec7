//! The scanner behind [`super::FramingTap`]: an incremental HTTP/1 request
//! parser fed the bytes of each read, whatever their boundaries.
//!
//! It mirrors what hyper does with the same bytes — httparse for heads
//! (hyper's own parser, same default configuration), `Transfer-Encoding`
//! before `Content-Length` for the body, and hyper's chunked grammar (size,
//! spaces, `;` extensions, CRLF, data, CRLF, last chunk, trailers) — so both
//! agree where each request starts. Where hyper would fail, the scanner
//! gives up too (hyper closes the connection anyway). Cost: heads and
//! chunk-size lines are looked at byte by byte, body data is skipped by
//! count and never copied; a head is copied only when it spans reads, into
//! a buffer the connection keeps.

use std::mem::MaybeUninit;

use super::{Framing, Violation};

/// hyper's limit on header lines (`DEFAULT_MAX_HEADERS`); a head with more
/// is refused by hyper, and given up here.
const MAX_HEADERS: usize = 100;

/// Where the scanner is in the byte stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Reading a request head (or the empty lines before one).
    Head,
    /// Skipping a `Content-Length` body: bytes left.
    Length(u64),
    /// Walking a chunked body.
    Chunked(Chunk),
    /// HTTP/2, or stopped at a violation.
    Off,
}

/// hyper's chunked decoder states (`proto::h1::decode::ChunkedState`).
#[derive(Debug, Clone, Copy)]
enum Chunk {
    Start,
    Size(u64),
    SizeLws(u64),
    Extension(u64),
    SizeLf(u64),
    Data(u64),
    DataCr,
    DataLf,
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

/// The line endings of the head being read.
#[derive(Debug, Default)]
struct Lines {
    /// Past the empty lines a client may send before a request line.
    started: bool,
    /// The previous byte was a CR.
    cr: bool,
    /// Nothing but a CR since the last LF (the line may be the empty one).
    empty: bool,
    /// The first bare LF or CR.
    bad: Option<Violation>,
}

impl Lines {
    /// Look at `data` (the head continues there); the length up to and
    /// including the empty line that ends the head, once it came.
    fn scan(&mut self, data: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < data.len() {
            // Runs of ordinary bytes are skipped in one tight loop.
            let run = data[i..].iter().position(|b| matches!(b, b'\r' | b'\n'));
            let at = run.map_or(data.len(), |n| i + n);
            if at > i {
                self.ordinary();
            }
            let b = *data.get(at)?;
            if b == b'\r' {
                if self.cr {
                    self.bad.get_or_insert(Violation::BareCr);
                }
                self.cr = true;
            } else {
                if !self.cr {
                    self.bad.get_or_insert(Violation::BareLf);
                }
                if self.empty {
                    return Some(at + 1);
                }
                self.cr = false;
                self.empty = true;
            }
            i = at + 1;
        }
        None
    }

    /// A byte that is neither CR nor LF.
    fn ordinary(&mut self) {
        if self.cr {
            self.bad.get_or_insert(Violation::BareCr);
        }
        self.cr = false;
        self.empty = false;
    }
}

/// The body a judged head announces.
enum Body {
    None,
    Length(u64),
    Chunked,
}

/// The incremental parser of one connection's inbound bytes.
pub(crate) struct Scanner {
    framing: Framing,
    state: State,
    lines: Lines,
    /// The part of a head seen in earlier reads.
    carry: Vec<u8>,
    max_head: usize,
    /// Index of the request whose head comes next.
    index: u64,
}

impl Scanner {
    pub(crate) fn new(framing: Framing, max_head: usize) -> Scanner {
        Scanner {
            framing,
            state: State::Head,
            lines: Lines::default(),
            carry: Vec::new(),
            max_head,
            index: 0,
        }
    }

    /// Take the bytes of one read.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            data = match self.state {
                State::Head => self.head(data),
                State::Length(left) => {
                    let n = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Length(left)
                    };
                    &data[n..]
                }
                State::Chunked(chunk) => self.chunked(chunk, data),
                State::Off => return,
            };
        }
    }

    /// Stop at a violation: request `self.index` and all later are refused.
    fn stop(&mut self, why: Violation) {
        self.framing.refuse(self.index, why);
        self.state = State::Off;
        self.carry = Vec::new();
    }

    fn head<'a>(&mut self, mut data: &'a [u8]) -> &'a [u8] {
        if !self.lines.started {
            // httparse skips empty lines before the request line.
            let skip = data.iter().take_while(|b| matches!(b, b'\r' | b'\n'));
            data = &data[skip.count()..];
            if data.is_empty() {
                return data;
            }
            self.lines.started = true;
        }
        let end = self.lines.scan(data);
        if self.carry.len() + end.unwrap_or(data.len()) > self.max_head {
            self.stop(Violation::HeadTooLarge);
            return &[];
        }
        let Some(end) = end else {
            self.carry.extend_from_slice(data);
            return &[];
        };
        let judged = self.judge_head(&data[..end]);
        self.follow(judged);
        &data[end..]
    }

    /// Judge the head that ends with `tail` (after what `carry` holds).
    fn judge_head(&mut self, tail: &[u8]) -> Result<Option<Body>, Violation> {
        // A bare CR or LF is named even where httparse would also fail.
        let judged = match std::mem::take(&mut self.lines).bad {
            Some(why) => Err(why),
            None if self.carry.is_empty() => judge(tail, self.index),
            None => {
                self.carry.extend_from_slice(tail);
                judge(&self.carry, self.index)
            }
        };
        self.carry.clear();
        judged
    }

    /// Record a judged head's verdict and go on to its body.
    fn follow(&mut self, judged: Result<Option<Body>, Violation>) {
        match judged {
            Ok(Some(body)) => {
                self.framing.passed(self.index);
                self.index += 1;
                self.state = match body {
                    Body::None | Body::Length(0) => State::Head,
                    Body::Length(n) => State::Length(n),
                    Body::Chunked => State::Chunked(Chunk::Start),
                };
            }
            Ok(None) => {
                self.framing.turn_off();
                self.state = State::Off;
            }
            Err(why) => self.stop(why),
        }
    }

    fn chunked<'a>(&mut self, mut chunk: Chunk, data: &'a [u8]) -> &'a [u8] {
        let mut i = 0;
        while i < data.len() {
            if let Chunk::Data(left) = chunk {
                let n = (data.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                i += n;
                let left = left - n as u64;
                chunk = if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data(left)
                };
                continue;
            }
            let byte = data[i];
            i += 1;
            match step(chunk, byte) {
                Ok(Some(next)) => chunk = next,
                Ok(None) => {
                    self.state = State::Head;
                    return &data[i..];
                }
                Err(()) => {
                    self.stop(Violation::BadChunk);
                    return &[];
                }
            }
        }
        self.state = State::Chunked(chunk);
        &[]
    }
}

/// One byte of chunked framing outside chunk data: the next state, `None`
/// at the end of the body, `Err` where hyper's decoder fails.
fn step(chunk: Chunk, b: u8) -> Result<Option<Chunk>, ()> {
    use Chunk::*;
    let hex = (b as char).to_digit(16).map(u64::from);
    Ok(Some(match (chunk, b) {
        (Start, _) => Size(hex.ok_or(())?),
        (Size(n), _) if hex.is_some() => {
            let more = n
                .checked_mul(16)
                .zip(hex)
                .and_then(|(n, h)| n.checked_add(h));
            Size(more.ok_or(())?)
        }
        (Size(n) | SizeLws(n), b' ' | b'\t') => SizeLws(n),
        (Size(n) | SizeLws(n), b';') => Extension(n),
        (Size(n) | SizeLws(n) | Extension(n), b'\r') => SizeLf(n),
        (Extension(_), b'\n') => return Err(()),
        (Extension(n), _) => Extension(n),
        (SizeLf(0), b'\n') => EndCr,
        (SizeLf(n), b'\n') => Data(n),
        (DataCr, b'\r') => DataLf,
        (DataLf, b'\n') => Start,
        (EndCr, b'\r') => EndLf,
        (Trailer, b'\r') => TrailerLf,
        (EndCr | Trailer, _) => Trailer,
        (TrailerLf, b'\n') => EndCr,
        (EndLf, b'\n') => return Ok(None),
        _ => return Err(()),
    }))
}

/// Judge one complete head: the body it announces, `None` for the HTTP/2
/// preface (first request only), or the violation.
fn judge(head: &[u8], index: u64) -> Result<Option<Body>, Violation> {
    if index == 0 && head.starts_with(b"PRI * HTTP/2.0\r\n") {
        return Ok(None);
    }
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(head, &mut headers) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        _ => return Err(Violation::Unparseable),
    }
    body_of(req.version, req.headers).map(Some)
}

/// The body framing of a parsed head, as hyper reads it, refusing what
/// hyper would normalise.
fn body_of(version: Option<u8>, headers: &[httparse::Header<'_>]) -> Result<Body, Violation> {
    let (mut te, mut chunked, mut lengths, mut length) = (false, false, 0u32, 0u64);
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            te = true;
            chunked = is_chunked(h.value);
        } else if h.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            length = decimal(h.value).ok_or(Violation::BadCl)?;
        }
    }
    match (te, lengths) {
        (true, 1..) => Err(Violation::TeWithCl),
        (_, 2..) => Err(Violation::RepeatedCl),
        // hyper refuses these itself; the scan cannot follow them anyway.
        (true, _) if !chunked || version != Some(1) => Err(Violation::TeNotChunked),
        (true, _) => Ok(Body::Chunked),
        (false, 1) => Ok(Body::Length(length)),
        (false, _) => Ok(Body::None),
    }
}

/// hyper's test: the last coding of the (last) `Transfer-Encoding` is `chunked`.
fn is_chunked(value: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(value) else {
        return false;
    };
    s.rsplit(',')
        .next()
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
}

/// A `Content-Length` value: ASCII digits only, no overflow (as hyper).
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, b| {
        let d = u64::from(b.checked_sub(b'0').filter(|d| *d < 10)?);
        n.checked_mul(10)?.checked_add(d)
    })
}
