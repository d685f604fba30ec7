//! OpenTelemetry traces (cargo feature `otel`): one span per request, made
//! when the request's record is finished, with the decision as attributes.
//! Spans are queued without blocking (a full queue drops them) and a batch
//! task on the main runtime POSTs them as OTLP/HTTP JSON to `[otel]
//! endpoint`; a failed export is counted and logged, never retried into the
//! request path. Without `[otel]` nothing here is created: the request path
//! pays one `Option` check.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Span as _, SpanKind, Status, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use crate::otel_config::OtelConfig;

/// Bound on one export (connect included).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The span name of a request no action was found for.
const NO_ACTION: &str = "iamgate.request";

/// A running trace pipeline: the tracer requests use and its provider.
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    failures: Arc<AtomicU64>,
}

/// What one request's span says, borrowed from its finished record.
pub struct RequestSpan<'a> {
    pub service: Option<&'a str>,
    pub action: Option<&'a str>,
    pub resource: &'a str,
    pub principal: &'a str,
    pub decision: &'a str,
    pub deciding: &'a str,
    pub status: u16,
    pub request_id: &'a str,
    pub snapshot: &'a str,
    /// Since the request arrived: the span ends now and starts this long ago.
    pub elapsed: Duration,
}

impl Traces {
    /// Build the exporter and start its batch task. Call inside the tokio
    /// runtime that outlives the gateway (the task is spawned on it).
    pub fn start(config: &OtelConfig) -> Result<Arc<Traces>, String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(config.traces_url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("otel exporter: {e}"))?;
        let failures = Arc::new(AtomicU64::new(0));
        let exporter = Counted {
            inner: exporter,
            failures: failures.clone(),
            url: config.traces_url.clone(),
        };
        let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
        let resource = Resource::builder_empty()
            .with_service_name(config.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("iamgate");
        Ok(Arc::new(Traces {
            provider,
            tracer,
            failures,
        }))
    }

    /// Make and end one request's span. Never blocks: the span is queued
    /// for the batch task (or dropped when the queue is full).
    pub fn span(&self, s: RequestSpan<'_>) {
        let end = SystemTime::now();
        let start = end.checked_sub(s.elapsed).unwrap_or(end);
        let name = s.action.unwrap_or(NO_ACTION).to_string();
        let mut attributes = vec![
            KeyValue::new("iamgate.decision", s.decision.to_string()),
            KeyValue::new("http.response.status_code", i64::from(s.status)),
            KeyValue::new("iamgate.request_id", s.request_id.to_string()),
            KeyValue::new("iamgate.snapshot", s.snapshot.to_string()),
        ];
        let optional = [
            ("iamgate.service", s.service.unwrap_or("")),
            ("iamgate.action", s.action.unwrap_or("")),
            ("iamgate.resource", s.resource),
            ("iamgate.principal", s.principal),
            ("iamgate.deciding", s.deciding),
        ];
        for (key, value) in optional.into_iter().filter(|(_, v)| !v.is_empty()) {
            attributes.push(KeyValue::new(key, value.to_string()));
        }
        let mut span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_start_time(start)
            .with_attributes(attributes)
            .start(&self.tracer);
        // A gateway failure (5xx) is an error span; a denial is a decision.
        if s.status >= 500 {
            span.set_status(Status::error(format!("status {}", s.status)));
        }
        span.end_with_timestamp(end);
    }

    /// Exports that failed since the start.
    pub fn export_failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Export what is queued and stop the batch task. The SDK waits for
    /// the task on the calling thread, so this runs on a blocking thread
    /// while the runtime (one worker in the per-core model) drives it.
    pub async fn shutdown(&self) {
        let provider = self.provider.clone();
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "otel: shutdown"),
            Err(e) => tracing::warn!(error = %e, "otel: shutdown task"),
        }
    }
}

/// The OTLP exporter, with failures counted and logged.
#[derive(Debug)]
struct Counted {
    inner: opentelemetry_otlp::SpanExporter,
    failures: Arc<AtomicU64>,
    url: String,
}

impl SpanExporter for Counted {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(url = %self.url, spans, failures, error = %e, "otel: span export failed; spans dropped");
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn span(traces: &Traces) {
        traces.span(RequestSpan {
            service: Some("modelarts"),
            action: Some("modelarts:notebook:list"),
            resource: "modelarts:cn-north-4:p:notebook:*",
            principal: "iam::acme:user:alice",
            decision: "allow",
            deciding: "allowed by a statement",
            status: 200,
            request_id: "r-1",
            snapshot: "sha256:0",
            elapsed: Duration::from_millis(3),
        });
    }

    // One worker, as the main runtime of the per-core model: shutdown must
    // not wait for the batch task on the thread that has to run it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_collector_that_is_down_is_counted_and_shutdown_returns() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let config = OtelConfig {
            traces_url: format!("http://127.0.0.1:{port}/v1/traces"),
            service_name: "iamgate".into(),
        };
        let traces = Traces::start(&config).unwrap();
        span(&traces);
        span(&traces);
        assert_eq!(
            traces.export_failures(),
            0,
            "nothing is sent on the request path"
        );
        let done = tokio::time::timeout(Duration::from_secs(20), traces.shutdown()).await;
        assert!(done.is_ok(), "shutdown hung");
        assert_eq!(traces.export_failures(), 1, "one batch, one failed export");
    }
}
