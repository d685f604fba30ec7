//! Forwarding to the upstream: a pooled hyper-util client, the request the
//! engine allowed (path as authorised, headers from [`super::outgoing`],
//! the body bytes that were authorised), the response streamed back with
//! hop-by-hop headers stripped and a deadline on the whole body. Nothing is
//! sent without a `Permit`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HeaderMap;
use http::uri::{Authority, Uri};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::metrics::Metrics;
use crate::policy::Permit;
use crate::proxy::outgoing::strip_hop_by_hop;
use crate::proxy::respond::GatewayError;
use crate::proxy::{Body, BoxError};

/// Named upstreams (resolved addresses) and the shared connection pool.
pub struct Upstreams {
    client: Client<HttpConnector, Full<Bytes>>,
    targets: HashMap<String, Authority>,
    /// Until the response head arrives.
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

impl Upstreams {
    pub fn new(
        targets: HashMap<String, Authority>,
        timeout: Duration,
        body_timeout: Duration,
    ) -> Upstreams {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Upstreams {
            client,
            targets,
            timeout,
            body_timeout,
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
        let authority = self.targets.get(upstream).ok_or_else(|| {
            GatewayError::UpstreamUnavailable(format!("no upstream `{upstream}`"))
        })?;
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query(out.path_and_query)
            .build()
            .map_err(|e| GatewayError::BadRequest(format!("cannot forward this target: {e}")))?;
        let mut req = Request::builder()
            .method(out.method.clone())
            .uri(uri)
            .body(Full::new(out.body))
            .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
        *req.headers_mut() = out.headers;
        let started = Instant::now();
        let sent = tokio::time::timeout(self.timeout, self.client.request(req)).await;
        metrics.observe_upstream(upstream, started.elapsed().as_secs_f64());
        let resp = match sent {
            Err(_) => {
                metrics.upstream_error(upstream, "timeout");
                return Err(GatewayError::UpstreamTimeout);
            }
            Ok(Err(e)) => {
                metrics.upstream_error(upstream, if e.is_connect() { "connect" } else { "other" });
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
