//! Recording a request: metrics and the decision-log line, exactly once per
//! request — also when the client goes away mid-request and the handler
//! future is dropped.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Response};

use crate::cloud::Cloud;
use crate::decision_log::{rfc3339_now, DecisionRecord};
use crate::proxy::{Body, Gateway};
use crate::snapshot::Snapshot;

/// What the pipeline learnt, for metrics, the decision log and headers.
#[derive(Default)]
pub(super) struct Record {
    pub(super) cloud: Option<Cloud>,
    pub(super) service: Option<String>,
    pub(super) action: Option<String>,
    pub(super) resource: String,
    pub(super) principal: String,
    pub(super) decision: Option<&'static str>,
    pub(super) deciding: String,
}

/// Records a request exactly once: in `finish`, or — when the client went
/// away and the handler future was dropped mid-request — on drop, with the
/// status 499 (client closed request), so no decision escapes the metrics
/// and the decision log.
pub(super) struct Recorder {
    pub(super) gw: Arc<Gateway>,
    pub(super) snap: Arc<Snapshot>,
    pub(super) request_id: String,
    pub(super) started: Instant,
    pub(super) rec: Record,
    pub(super) done: bool,
}

/// The status recorded for a request whose client disconnected first.
const CLIENT_CLOSED: u16 = 499;

impl Recorder {
    /// Metrics and the decision-log line.
    fn record(&mut self, status: u16) {
        self.done = true;
        let elapsed = self.started.elapsed();
        let rec = std::mem::take(&mut self.rec);
        let decision = rec.decision.unwrap_or("error");
        let service = rec.service.as_deref().unwrap_or("none");
        let action = rec.action.as_deref().unwrap_or("none");
        let metrics = &self.gw.metrics;
        metrics.observe_request(service, action, decision, status, elapsed.as_secs_f64());
        if rec.action.is_none() {
            return;
        }
        self.gw.decision_log.record(DecisionRecord {
            time: rfc3339_now(),
            request_id: self.request_id.clone(),
            principal: rec.principal,
            service: service.to_string(),
            action: action.to_string(),
            resource: rec.resource,
            decision: decision.to_string(),
            deciding: rec.deciding,
            snapshot: self.snap.digest.clone(),
            latency_us: elapsed.as_micros() as u64,
            status,
        });
    }

    /// Record, then set the request id and the debug headers.
    pub(super) fn finish(mut self, mut resp: Response<Body>) -> Response<Body> {
        let decision = self.rec.decision.unwrap_or("error");
        self.record(resp.status().as_u16());
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            headers.insert("x-request-id", v);
        }
        if self.gw.config.debug_headers {
            headers.insert("x-iamgate-decision", HeaderValue::from_static(decision));
            if let Ok(v) = HeaderValue::from_str(&self.snap.digest) {
                headers.insert("x-iamgate-snapshot", v);
            }
        }
        resp
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.done {
            self.record(CLIENT_CLOSED);
        }
    }
}
