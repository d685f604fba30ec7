//! The proxy: [`server`] accepts connections (TCP or rustls), [`handler`]
//! runs the pipeline per request, [`upstream`] forwards with a pooled client,
//! [`respond`] turns errors into the dialect's bodies, [`context`] gathers
//! condition keys.

/// `AsyncWrite` for an IO wrapper that only watches reads: every write
/// goes straight to its `inner` field.
macro_rules! delegate_async_write {
    ($wrapper:ident) => {
        impl<I: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<I> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                self.inner.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_flush(cx)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
    };
}

mod audit;
pub mod body;
mod builtin;
mod builtin_iam;
pub mod context;
pub mod firstline;
pub mod framing;
pub mod handler;
pub mod hygiene;
pub mod outgoing;
pub mod ownership;
pub mod pool;
mod record;
pub mod request_id;
pub mod respond;
pub mod server;
#[cfg(test)]
pub(crate) mod test_gateway;
pub mod upstream;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use http::uri::Authority;
use http_body_util::combinators::BoxBody;

use crate::config::Config;
use crate::decision_log::DecisionLog;
use crate::identity::NonceStore;
use crate::metrics::Metrics;
use crate::snapshot::SnapshotHolder;

/// Errors of a response body (a failed or timed-out upstream stream).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body type of the gateway.
pub type Body = BoxBody<Bytes, BoxError>;

/// Shared state of a running gateway.
pub struct Gateway {
    pub config: Config,
    pub snapshots: Arc<SnapshotHolder>,
    pub upstreams: upstream::Upstreams,
    /// Shared by every worker: a nonce seen by one is seen by all.
    pub nonces: Arc<NonceStore>,
    pub metrics: Metrics,
    pub decision_log: DecisionLog,
    /// Request-body bytes held in memory, across all requests.
    pub body_budget: body::BodyBudget,
    /// Who owns which resource, with which tags: made by traffic, outlives
    /// snapshots (`crate::state`).
    pub resources: Arc<crate::state::ResourceState>,
    /// `[nonce_store] url`: the fleet's replay store, used instead of
    /// `nonces` when configured.
    pub shared_nonces: Option<Arc<crate::identity::RedisNonceStore>>,
    /// What decided requests needed, per principal (`GET /-/learned`).
    pub observed: Arc<crate::learn::Observed>,
    /// Temporary keys and tokens issued by the built-in IAM (`crate::huawei_iam`):
    /// made by traffic, outlive snapshots.
    pub sessions: Arc<crate::huawei_iam::sessions::SessionStore>,
    /// The console's ring of recent decisions (`[console] recent`; `None` when 0).
    pub console: Option<Arc<crate::console::Console>>,
    /// `[otel]`: a span per request (`None`: no span is ever made).
    #[cfg(feature = "otel")]
    pub otel: Option<Arc<crate::otel::Traces>>,
}

impl Gateway {
    /// A gateway for `config`: upstreams by name, the replay store and the
    /// body budget sized from `[limits]`.
    pub fn new(
        config: Config,
        snapshots: Arc<SnapshotHolder>,
        targets: HashMap<String, Authority>,
        metrics: Metrics,
        decision_log: DecisionLog,
    ) -> Gateway {
        let limits = &config.limits;
        let resources = Arc::new(crate::state::ResourceState::new(
            limits.resource_state_capacity,
        ));
        crate::reload::seed_resources(&resources, &snapshots.load());
        Gateway {
            upstreams: upstream::Upstreams::new(
                targets,
                limits.upstream_timeout,
                limits.upstream_body_timeout,
            ),
            nonces: Arc::new(NonceStore::new(
                limits.nonce_capacity,
                crate::identity::MAX_CLOCK_SKEW.unsigned_abs(),
            )),
            body_budget: body::BodyBudget::new(limits.max_body_bytes_in_flight),
            resources,
            shared_nonces: config.nonce_store.as_ref().map(|s| {
                Arc::new(crate::identity::RedisNonceStore::new(
                    &s.url,
                    crate::identity::MAX_CLOCK_SKEW.unsigned_abs(),
                    s.timeout,
                ))
            }),
            sessions: Arc::new(crate::huawei_iam::sessions::SessionStore::new(
                crate::huawei_iam::SESSION_CAPACITY,
            )),
            console: crate::console::Console::new(config.console_recent),
            #[cfg(feature = "otel")]
            otel: start_traces(&config),
            config,
            snapshots,
            metrics,
            decision_log,
            observed: Arc::default(),
        }
    }

    /// The gateway of one more per-core worker: everything shared (snapshots,
    /// replay store, body budget, resource state, metrics, decision log)
    /// except the upstream pool, whose connections belong to the runtime
    /// that opened them.
    pub fn for_worker(&self) -> Gateway {
        Gateway {
            config: self.config.clone(),
            snapshots: self.snapshots.clone(),
            upstreams: self.upstreams.fresh_pool(),
            nonces: self.nonces.clone(),
            metrics: self.metrics.clone(),
            decision_log: self.decision_log.clone(),
            body_budget: self.body_budget.clone(),
            resources: self.resources.clone(),
            shared_nonces: self.shared_nonces.clone(),
            observed: self.observed.clone(),
            sessions: self.sessions.clone(),
            console: self.console.clone(),
            #[cfg(feature = "otel")]
            otel: self.otel.clone(),
        }
    }

    /// The replay store ACS3 nonces are checked against: the shared one
    /// when configured, else the process's own.
    pub fn replay(&self) -> crate::identity::Replay<'_> {
        match &self.shared_nonces {
            Some(shared) => crate::identity::Replay::Shared(shared),
            None => crate::identity::Replay::Local(&self.nonces),
        }
    }

    /// Whether a request's full record is built: the decision log or the
    /// console's ring needs it (else only metrics are kept, cheaply).
    pub fn detailed(&self) -> bool {
        // A span carries the resource and the deciding reason.
        #[cfg(feature = "otel")]
        if self.otel.is_some() {
            return true;
        }
        self.decision_log.is_enabled() || self.console.is_some()
    }

    /// The limits a request body is read under.
    pub fn body_limits(&self) -> body::BodyLimits {
        body::BodyLimits {
            max_bytes: self.config.limits.max_body_bytes,
            timeout: self.config.limits.body_read_timeout,
        }
    }
}

/// `[otel]`'s trace pipeline, started on the current runtime. The config
/// was validated, so a failure here is unexpected: logged, and the gateway
/// serves without traces rather than not at all.
#[cfg(feature = "otel")]
fn start_traces(config: &Config) -> Option<Arc<crate::otel::Traces>> {
    let otel = config.otel.as_ref()?;
    crate::otel::Traces::start(otel)
        .map_err(|e| tracing::error!(error = %e, "otel: traces not started"))
        .ok()
}
