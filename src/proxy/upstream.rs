//! Forwarding to the upstream: a pooled hyper-util client, hop-by-hop
//! headers stripped both ways, the path forwarded exactly as authorised,
//! the response streamed back. Nothing is sent without a `Permit`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, Uri};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::metrics::Metrics;
use crate::policy::Permit;
use crate::proxy::respond::GatewayError;
use crate::proxy::Body;

/// Named upstreams (resolved addresses) and the shared connection pool.
pub struct Upstreams {
    client: Client<HttpConnector, Full<Bytes>>,
    targets: HashMap<String, Authority>,
    timeout: Duration,
}

/// Headers that describe one connection, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Remove hop-by-hop headers, including any the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

impl Upstreams {
    pub fn new(targets: HashMap<String, Authority>, timeout: Duration) -> Upstreams {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Upstreams {
            client,
            targets,
            timeout,
        }
    }

    /// Send the request (head as received, body as received) to `upstream`.
    pub async fn forward(
        &self,
        _permit: &Permit,
        upstream: &str,
        parts: &Parts,
        body: Bytes,
        request_id: &str,
        metrics: &Metrics,
    ) -> Result<Response<Body>, GatewayError> {
        let authority = self.targets.get(upstream).ok_or_else(|| {
            GatewayError::UpstreamUnavailable(format!("no upstream `{upstream}`"))
        })?;
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority.clone())
            .path_and_query(path)
            .build()
            .map_err(|e| GatewayError::BadRequest(format!("cannot forward this target: {e}")))?;
        let mut req = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .body(Full::new(body))
            .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
        *req.headers_mut() = parts.headers.clone();
        strip_hop_by_hop(req.headers_mut());
        if let Ok(v) = HeaderValue::from_str(request_id) {
            req.headers_mut().insert("x-request-id", v);
        }
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
        Ok(Response::from_parts(head, incoming.boxed()))
    }
}
