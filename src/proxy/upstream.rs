//! Forwarding to the upstream: keep-alive connections per worker
//! ([`super::pool`]), the request the engine allowed (path as authorised,
//! headers from [`super::outgoing`], the body bytes that were authorised),
//! the response streamed back with hop-by-hop headers stripped and a
//! deadline on the whole body. Nothing is sent without a `Permit`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HeaderMap;
use http::uri::Authority;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};

use crate::metrics::Metrics;
use crate::policy::Permit;
use crate::proxy::outgoing::strip_hop_by_hop;
use crate::proxy::pool::{ConnectError, Pool};
use crate::proxy::respond::GatewayError;
use crate::proxy::{Body, BoxError};

/// Named upstreams, each with this worker's connections to it.
pub struct Upstreams {
    pools: HashMap<String, Arc<Pool>>,
    /// Until the response head arrives (connecting included).
    timeout: Duration,
    /// Until the whole response body has been streamed back.
    body_timeout: Duration,
}

/// The request the engine allowed, as it goes upstream.
pub struct Outgoing<'a> {
    pub method: &'a Method,
    /// Path and query exactly as received and authorised.
    pub path_and_query: &'a str,
    /// From [`super::outgoing::upstream_headers`].
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why the upstream did not answer: a metric label and the client's error.
enum Failure {
    Connect(ConnectError),
    Http(hyper::Error),
}

impl Upstreams {
    pub fn new(
        targets: HashMap<String, Authority>,
        timeout: Duration,
        body_timeout: Duration,
    ) -> Upstreams {
        Upstreams {
            pools: targets
                .into_iter()
                .map(|(name, authority)| (name, Arc::new(Pool::new(authority))))
                .collect(),
            timeout,
            body_timeout,
        }
    }

    /// The same upstreams with connections of their own (see
    /// `Gateway::for_worker`).
    pub fn fresh_pool(&self) -> Upstreams {
        Upstreams {
            pools: self
                .pools
                .iter()
                .map(|(name, p)| (name.clone(), Arc::new(Pool::new(p.authority().clone()))))
                .collect(),
            timeout: self.timeout,
            body_timeout: self.body_timeout,
        }
    }

    /// Send the allowed request to `upstream`.
    pub async fn forward(
        &self,
        _permit: &Permit,
        upstream: &str,
        out: Outgoing<'_>,
        metrics: &Metrics,
    ) -> Result<Response<Body>, GatewayError> {
        let pool = self.pools.get(upstream).ok_or_else(|| {
            GatewayError::UpstreamUnavailable(format!("no upstream `{upstream}`"))
        })?;
        let mut req = Request::builder()
            .method(out.method.clone())
            .uri(out.path_and_query)
            .body(Full::new(out.body))
            .map_err(|e| GatewayError::BadRequest(format!("cannot forward this target: {e}")))?;
        *req.headers_mut() = out.headers;
        let started = Instant::now();
        let sent = tokio::time::timeout(self.timeout, send(pool, req)).await;
        metrics.observe_upstream(upstream, started.elapsed().as_secs_f64());
        let resp = match sent {
            Err(_) => {
                metrics.upstream_error(upstream, "timeout");
                return Err(GatewayError::UpstreamTimeout);
            }
            Ok(Err(Failure::Connect(e))) => {
                metrics.upstream_error(upstream, "connect");
                return Err(GatewayError::UpstreamUnavailable(e.to_string()));
            }
            Ok(Err(Failure::Http(e))) => {
                metrics.upstream_error(upstream, "other");
                return Err(GatewayError::UpstreamUnavailable(e.to_string()));
            }
            Ok(Ok(r)) => r,
        };
        let (mut head, incoming) = resp.into_parts();
        strip_hop_by_hop(&mut head.headers);
        head.headers.remove("x-request-id");
        let body = Deadline {
            inner: incoming,
            deadline: Box::pin(tokio::time::sleep(self.body_timeout)),
        };
        Ok(Response::from_parts(head, body.boxed()))
    }
}

/// Send on a pooled connection. The upstream may close a connection while
/// it waits in the pool, and its FIN may still be unread when a request
/// checks the connection out (the connection's task has not run since).
/// hyper then either hands the request back unsent — it goes out once more
/// on a new connection — or writes it and finds the connection closed
/// before any answer. The upstream may have read that one, so it goes out
/// again only when its method is idempotent (RFC 9110 §9.2.2: a proxy must
/// not retry any other); anything else is a 502. One retry at most, and
/// only for a reused connection: a new one that fails is the upstream's
/// answer.
async fn send(pool: &Pool, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, Failure> {
    let (mut sender, reused) = match pool.checkout() {
        Some(s) => (s, true),
        None => (pool.connect().await.map_err(Failure::Connect)?, false),
    };
    let again = (reused && req.method().is_idempotent()).then(|| copy(&req));
    let resp = match sender.try_send_request(req).await {
        Ok(resp) => resp,
        Err(mut e) => {
            let retry = match (reused, e.take_message(), again) {
                (true, Some(unsent), _) => unsent,
                (true, None, Some(req)) if e.error().is_incomplete_message() => req,
                _ => return Err(Failure::Http(e.into_error())),
            };
            sender = pool.connect().await.map_err(Failure::Connect)?;
            sender.send_request(retry).await.map_err(Failure::Http)?
        }
    };
    pool.checkin(sender);
    Ok(resp)
}

/// The same request again (the body's bytes are shared, not copied).
fn copy(req: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut again = Request::new(req.body().clone());
    *again.method_mut() = req.method().clone();
    *again.uri_mut() = req.uri().clone();
    *again.version_mut() = req.version();
    *again.headers_mut() = req.headers().clone();
    again
}

/// An upstream response body that fails once its deadline passes, so a
/// stalled upstream cannot hold a client connection for ever.
struct Deadline {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for Deadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(BoxError::from)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err("upstream response body timed out".into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "upstream_tests.rs"]
mod tests;
