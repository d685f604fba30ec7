//! Reading a request body into memory, bounded three ways: per request
//! (`max_body_bytes`, 413), in time (`body_read_timeout`, 408: a client
//! cannot hold a body slot by trickling bytes) and across the gateway (a
//! budget of body bytes held at once, 503 when spent). The budget is taken
//! before the bytes arrive — all of `Content-Length` up front, chunked
//! bodies frame by frame — and given back when the [`Body`] is dropped, i.e.
//! once the request has been forwarded or refused. Only authenticated
//! requests get here (the handler checks credentials from the headers
//! first), so an anonymous client cannot make the gateway buffer anything.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::proxy::handler::RequestBody;
use crate::proxy::respond::GatewayError;

/// The gateway-wide budget of request-body bytes held in memory.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
}

impl BodyBudget {
    /// A budget of `bytes` (at most `u32::MAX` per acquisition).
    pub fn new(bytes: usize) -> BodyBudget {
        BodyBudget {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Bytes not held by any request right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    fn take(&self, n: usize) -> Result<Option<OwnedSemaphorePermit>, GatewayError> {
        if n == 0 {
            return Ok(None);
        }
        let n = u32::try_from(n).map_err(|_| GatewayError::Busy("request body budget"))?;
        self.bytes
            .clone()
            .try_acquire_many_owned(n)
            .map(Some)
            .map_err(|_| GatewayError::Busy("too many request bodies in memory"))
    }
}

/// A request body in memory and its share of the budget.
#[derive(Debug, Default)]
pub struct Body {
    pub bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

/// The limits a body is read under.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// Read the whole body under `limits`, holding its bytes against `budget`.
pub async fn read<B: RequestBody>(
    body: B,
    parts: &Parts,
    limits: BodyLimits,
    budget: &BodyBudget,
) -> Result<Body, GatewayError> {
    let too_large = GatewayError::BodyTooLarge {
        limit: limits.max_bytes,
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .map(|v| v.to_str().ok().and_then(|s| s.parse::<u64>().ok()));
    let declared = match declared {
        Some(None) => return Err(GatewayError::BadFraming("invalid Content-Length".into())),
        Some(Some(n)) if n > limits.max_bytes as u64 => return Err(too_large),
        Some(Some(n)) => Some(n as usize),
        None => None,
    };
    let mut held = budget.take(declared.unwrap_or(0))?;
    let collect = collect(body, declared, limits.max_bytes, budget, &mut held);
    match tokio::time::timeout(limits.timeout, collect).await {
        Ok(Ok(bytes)) => Ok(Body { bytes, _held: held }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(GatewayError::BodyTimeout(limits.timeout.as_millis())),
    }
}

/// Collect frames; without a declared length, take budget per frame.
async fn collect<B: RequestBody>(
    body: B,
    declared: Option<usize>,
    max: usize,
    budget: &BodyBudget,
    held: &mut Option<OwnedSemaphorePermit>,
) -> Result<Bytes, GatewayError> {
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
    let mut body = std::pin::pin!(body);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let e: Box<dyn std::error::Error + Send + Sync> = e.into();
            GatewayError::BadFraming(format!("cannot read the request body: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing the gateway forwards
        };
        if buf.len() + data.len() > max {
            return Err(GatewayError::BodyTooLarge { limit: max });
        }
        if declared.is_none() {
            match (held.as_mut(), budget.take(data.len())?) {
                (Some(h), Some(more)) => h.merge(more),
                (None, more) => *held = more,
                (Some(_), None) => {}
            }
        }
        buf.extend_from_slice(&data);
    }
    if declared.is_some_and(|n| n != buf.len()) {
        return Err(GatewayError::BadFraming(
            "the body length differs from Content-Length".into(),
        ));
    }
    Ok(buf.freeze())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::future::Future;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::post("/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    const LIMITS: BodyLimits = BodyLimits {
        max_bytes: 16,
        timeout: Duration::from_millis(200),
    };

    #[tokio::test]
    async fn reads_and_gives_the_budget_back_on_drop() {
        let budget = BodyBudget::new(100);
        let body = Full::new(Bytes::from_static(b"hello"));
        let got = read(body, &parts(&[("content-length", "5")]), LIMITS, &budget)
            .await
            .unwrap();
        assert_eq!(&got.bytes[..], b"hello");
        assert_eq!(budget.available(), 95);
        drop(got);
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn a_spent_budget_refuses_with_busy() {
        let budget = BodyBudget::new(8);
        let body = Full::new(Bytes::from_static(b"0123456789"));
        let err = read(body, &parts(&[("content-length", "10")]), LIMITS, &budget).await;
        assert!(matches!(err, Err(GatewayError::Busy(_))), "{err:?}");
        let chunked = Full::new(Bytes::from_static(b"0123456789"));
        let err = read(chunked, &parts(&[]), LIMITS, &budget).await;
        assert!(matches!(err, Err(GatewayError::Busy(_))), "{err:?}");
        assert_eq!(budget.available(), 8, "nothing held after a refusal");
    }

    #[tokio::test]
    async fn oversize_and_lying_lengths_are_refused() {
        let budget = BodyBudget::new(100);
        let big = Full::new(Bytes::from_static(b"0123456789abcdefXYZ"));
        let err = read(big, &parts(&[]), LIMITS, &budget).await;
        assert!(matches!(err, Err(GatewayError::BodyTooLarge { .. })));
        let declared = read(
            Full::new(Bytes::new()),
            &parts(&[("content-length", "17")]),
            LIMITS,
            &budget,
        )
        .await;
        assert!(matches!(declared, Err(GatewayError::BodyTooLarge { .. })));
        let short = Full::new(Bytes::from_static(b"abc"));
        let err = read(short, &parts(&[("content-length", "4")]), LIMITS, &budget).await;
        assert!(matches!(err, Err(GatewayError::BadFraming(_))));
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_limit_is_read_declared_or_in_frames() {
        let budget = BodyBudget::new(100);
        let sixteen = Bytes::from_static(b"0123456789abcdef");
        let cl = read(
            Full::new(sixteen.clone()),
            &parts(&[("content-length", "16")]),
            LIMITS,
            &budget,
        )
        .await
        .unwrap();
        assert_eq!(cl.bytes, sixteen);
        drop(cl);
        let frames = Frames(vec![sixteen.slice(..10), sixteen.slice(10..)]);
        let chunked = read(frames, &parts(&[]), LIMITS, &budget).await.unwrap();
        assert_eq!(chunked.bytes, sixteen);
        assert_eq!(budget.available(), 84, "each frame's bytes are held");
        drop(chunked);
        assert_eq!(budget.available(), 100);
        // One byte more, in frames: refused when the frame that crosses arrives.
        let over = Frames(vec![sixteen.clone(), Bytes::from_static(b"!")]);
        let err = read(over, &parts(&[]), LIMITS, &budget).await;
        assert!(
            matches!(err, Err(GatewayError::BodyTooLarge { limit: 16 })),
            "{err:?}"
        );
        assert_eq!(budget.available(), 100);
    }

    /// Data frames, one per poll.
    struct Frames(Vec<Bytes>);

    impl hyper::body::Body for Frames {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            let next = (!self.0.is_empty()).then(|| self.0.remove(0));
            std::task::Poll::Ready(next.map(|b| Ok(hyper::body::Frame::data(b))))
        }
    }

    #[tokio::test]
    async fn a_trickling_body_times_out() {
        let budget = BodyBudget::new(100);
        let trickle = Trickle {
            sent: false,
            stall: Box::pin(tokio::time::sleep(Duration::from_secs(60))),
        };
        let err = read(trickle, &parts(&[]), LIMITS, &budget).await;
        assert!(
            matches!(err, Err(GatewayError::BodyTimeout(200))),
            "{err:?}"
        );
        assert_eq!(budget.available(), 100);
    }

    /// One byte, then nothing for a minute.
    struct Trickle {
        sent: bool,
        stall: std::pin::Pin<Box<tokio::time::Sleep>>,
    }

    impl hyper::body::Body for Trickle {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
            if !self.sent {
                self.sent = true;
                let frame = hyper::body::Frame::data(Bytes::from_static(b"a"));
                return std::task::Poll::Ready(Some(Ok(frame)));
            }
            self.stall.as_mut().poll(cx).map(|()| None)
        }
    }
}
