//! The proxy: [`server`] accepts connections (TCP or rustls), [`handler`]
//! runs the pipeline per request, [`upstream`] forwards with a pooled client,
//! [`respond`] turns errors into the dialect's bodies, [`context`] gathers
//! condition keys.

pub mod context;
pub mod handler;
mod record;
pub mod respond;
pub mod server;
pub mod upstream;

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;

use crate::config::Config;
use crate::decision_log::DecisionLog;
use crate::identity::NonceStore;
use crate::metrics::Metrics;
use crate::snapshot::SnapshotHolder;

/// The response body type of the gateway.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// Shared state of a running gateway.
pub struct Gateway {
    pub config: Config,
    pub snapshots: Arc<SnapshotHolder>,
    pub upstreams: upstream::Upstreams,
    pub nonces: NonceStore,
    pub metrics: Metrics,
    pub decision_log: DecisionLog,
}
