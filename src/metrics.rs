//! Every Prometheus metric family iamgate exports, declared once, with help text.
//!
//! The families live on a private [`prometheus::Registry`] (never the global
//! default one) and are rendered in the text exposition format by
//! [`Metrics::render`] for the admin listener's `/metrics`. Labels are bounded:
//! `decision`, `reason`, `kind` and the status class are checked against fixed
//! sets and anything else is recorded as `"other"`, so a bug cannot explode
//! cardinality. `service`, `action` and `upstream` accept any string, but the
//! callers pass only names from the route catalog and the configuration (a
//! route's service or `"none"`, a catalog action or `"none"`, a configured
//! upstream name) — never a raw path, principal, or key id.

use std::sync::{Arc, Mutex};

use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Histogram buckets in seconds: fine enough to resolve tens of microseconds
/// (an authorization decision) and wide enough for a slow upstream.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Values accepted for the `decision` label of the request families.
const DECISIONS: &[&str] = &[
    "allow",
    "explicit_deny",
    "implicit_deny",
    "unauthenticated",
    "not_found",
    "bad_request",
    "unmapped",
    "wrong_project",
    "foreign_resource",
    "busy",
    "error",
    "audit_deny",
];

/// Values accepted for the `kind` label of `iamgate_protocol_errors_total`.
const PROTOCOL_ERROR_KINDS: &[&str] = &[
    "request_line",
    "parse",
    "too_large",
    "header_timeout",
    "idle",
    "tls_handshake",
    "h2",
    "incomplete",
];

/// Values accepted for the `reason` label of `iamgate_auth_failures_total`.
const AUTH_REASONS: &[&str] = &[
    "signature_mismatch",
    "unknown_key",
    "expired",
    "missing",
    "malformed",
    "unsupported",
    "nonce_reused",
    "nonce_store_full",
    "nonce_store_quota",
    "unsigned_payload",
    "token_expired",
    "token_unknown",
    "project",
    "nonce_store_unavailable",
];

/// Values accepted for the `listener` label of `iamgate_accept_errors_total`.
const LISTENERS: &[&str] = &["gateway", "admin", "mock"];

/// Values accepted for the `kind` label of `iamgate_upstream_errors_total`.
const UPSTREAM_ERROR_KINDS: &[&str] = &["connect", "timeout", "other"];

/// The label value used for anything outside an allowed set.
const OTHER: &str = "other";

/// A cheap, clonable handle to the process's metric families.
///
/// If the families could not be registered (only possible through a
/// programming error in this file, and covered by the unit tests) the handle
/// records nothing and renders an empty exposition rather than panicking.
#[derive(Clone)]
pub struct Metrics {
    families: Option<Arc<Families>>,
}

struct Families {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    authz_duration: HistogramVec,
    upstream_duration: HistogramVec,
    upstream_errors: IntCounterVec,
    auth_failures: IntCounterVec,
    nonce_store_rejections: IntCounterVec,
    reloads: IntCounterVec,
    snapshot_info: GaugeVec,
    snapshot_loaded: Gauge,
    snapshot_policies: IntGauge,
    snapshot_routes: IntGauge,
    snapshot_principals: IntGauge,
    decision_log_dropped: IntCounter,
    protocol_errors: IntCounterVec,
    decision_log_write_errors: IntCounter,
    ready: IntGauge,
    accept_errors: IntCounterVec,
    watch_errors: IntCounter,
    reload_access_changes: IntCounterVec,
    /// The digest currently exported by `iamgate_snapshot_info`. Held while
    /// swapping digests and while rendering, so a scrape sees exactly one.
    live_digest: Mutex<Option<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("registered", &self.families.is_some())
            .finish()
    }
}

impl Metrics {
    /// Declares and registers every family on a fresh private registry.
    pub fn new() -> Metrics {
        match Families::register() {
            Ok(families) => Metrics {
                families: Some(Arc::new(families)),
            },
            Err(err) => {
                tracing::error!(error = %err, "metric families could not be registered; metrics disabled");
                Metrics { families: None }
            }
        }
    }

    /// One finished request.
    ///
    /// `service`: the route's service or `"none"`; `action`: the catalog
    /// action or `"none"` (any string is accepted, so callers must pass only
    /// catalog names); `decision`: one of `allow`, `explicit_deny`,
    /// `implicit_deny`, `unauthenticated`, `not_found`, `bad_request`,
    /// `unmapped`, `error` (else `"other"`); `status`: the HTTP status,
    /// labelled as its class `"1xx"`..`"5xx"` (else `"other"`).
    pub fn observe_request(
        &self,
        service: &str,
        action: &str,
        decision: &str,
        status: u16,
        seconds: f64,
    ) {
        let Some(f) = &self.families else { return };
        let decision = bounded(decision, DECISIONS);
        inc(
            &f.requests,
            &[service, action, decision, status_class(status)],
        );
        observe(&f.request_duration, &[service, decision], seconds);
    }

    /// Time spent authenticating and authorizing one request.
    pub fn observe_authz(&self, service: &str, seconds: f64) {
        let Some(f) = &self.families else { return };
        observe(&f.authz_duration, &[service], seconds);
    }

    /// Time spent waiting on a configured upstream for one request.
    pub fn observe_upstream(&self, upstream: &str, seconds: f64) {
        let Some(f) = &self.families else { return };
        observe(&f.upstream_duration, &[upstream], seconds);
    }

    /// A failed upstream call; `kind` is `connect`, `timeout` or `other`.
    pub fn upstream_error(&self, upstream: &str, kind: &str) {
        let Some(f) = &self.families else { return };
        inc(
            &f.upstream_errors,
            &[upstream, bounded(kind, UPSTREAM_ERROR_KINDS)],
        );
    }

    /// A request rejected by authentication; `reason` is one of the bounded
    /// reasons (`signature_mismatch`, `unknown_key`, `expired`, `missing`,
    /// `malformed`, `unsupported`, `nonce_reused`, `token_expired`,
    /// `token_unknown`, `project`, `nonce_store_full`, `nonce_store_quota`,
    /// `unsigned_payload`, `nonce_store_unavailable`), anything else is
    /// counted as `"other"`. The `nonce_store_*` reasons also count in
    /// `iamgate_nonce_store_rejections_total`, so callers need one call.
    pub fn auth_failure(&self, service: &str, reason: &str) {
        let Some(f) = &self.families else { return };
        inc(&f.auth_failures, &[service, bounded(reason, AUTH_REASONS)]);
        match reason {
            "nonce_store_full" => inc(&f.nonce_store_rejections, &["full"]),
            "nonce_store_quota" => inc(&f.nonce_store_rejections, &["quota"]),
            "nonce_store_unavailable" => inc(&f.nonce_store_rejections, &["unavailable"]),
            _ => {}
        }
    }

    /// One reload attempt, successful or not.
    pub fn reload(&self, ok: bool) {
        let Some(f) = &self.families else { return };
        inc(&f.reloads, &[if ok { "success" } else { "failure" }]);
    }

    /// The access diff of a reload: pairs that gained and lost access.
    pub fn reload_access_changes(&self, gained: usize, lost: usize) {
        let Some(f) = &self.families else { return };
        for (change, n) in [("gained", gained), ("lost", lost)] {
            if let Ok(c) = f
                .reload_access_changes
                .get_metric_with_label_values(&[change])
            {
                c.inc_by(u64::try_from(n).unwrap_or(u64::MAX));
            }
        }
    }

    /// A new live snapshot. `iamgate_snapshot_info` keeps exactly one digest
    /// series: the previous digest's series is removed.
    pub fn snapshot_loaded(
        &self,
        digest: &str,
        loaded_at_unix: f64,
        policies: usize,
        routes: usize,
        principals: usize,
    ) {
        let Some(f) = &self.families else { return };
        let mut live = f.live_digest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = live.take() {
            if old != digest {
                // An error here only means the series was already gone.
                let _ = f.snapshot_info.remove_label_values(&[old.as_str()]);
            }
        }
        if let Ok(info) = f.snapshot_info.get_metric_with_label_values(&[digest]) {
            info.set(1.0);
        }
        *live = Some(digest.to_owned());
        f.snapshot_loaded.set(loaded_at_unix);
        f.snapshot_policies.set(saturating_i64(policies));
        f.snapshot_routes.set(saturating_i64(routes));
        f.snapshot_principals.set(saturating_i64(principals));
    }

    /// A decision-log line dropped because the writer could not keep up or
    /// failed.
    pub fn decision_log_dropped(&self) {
        let Some(f) = &self.families else { return };
        f.decision_log_dropped.inc();
    }

    /// A connection or request refused below the handler (by the request-line
    /// check, hyper's parser, a timeout or TLS); `kind` is one of the bounded
    /// kinds (`request_line`, `parse`, `too_large`, `header_timeout`, `idle`,
    /// `tls_handshake`, `h2`, `incomplete`), anything else `"other"`.
    pub fn protocol_error(&self, kind: &str) {
        let Some(f) = &self.families else { return };
        inc(&f.protocol_errors, &[bounded(kind, PROTOCOL_ERROR_KINDS)]);
    }

    /// A failed `accept` on `listener` (`gateway`, `admin`, `mock`, else
    /// `"other"`).
    pub fn accept_error(&self, listener: &str) {
        let Some(f) = &self.families else { return };
        inc(&f.accept_errors, &[bounded(listener, LISTENERS)]);
    }

    /// An error reported by the file watcher.
    pub fn watch_error(&self) {
        let Some(f) = &self.families else { return };
        f.watch_errors.inc();
    }

    /// A decision-log write (or reopen) failed; the writer retries.
    pub fn decision_log_write_error(&self) {
        let Some(f) = &self.families else { return };
        f.decision_log_write_errors.inc();
    }

    /// Whether the gateway is ready to serve (mirrors `/readyz`).
    pub fn set_ready(&self, ready: bool) {
        let Some(f) = &self.families else { return };
        f.ready.set(i64::from(ready));
    }

    /// Every family in the Prometheus text exposition format. Families with
    /// labels appear once they have at least one series.
    pub fn render(&self) -> String {
        let Some(f) = &self.families else {
            return String::new();
        };
        let gathered = {
            let _live = f.live_digest.lock().unwrap_or_else(|e| e.into_inner());
            f.registry.gather()
        };
        TextEncoder::new()
            .encode_to_string(&gathered)
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "metrics could not be encoded");
                String::new()
            })
    }
}

impl Families {
    fn register() -> prometheus::Result<Families> {
        let registry = Registry::new();
        let families = Families {
            requests: counter_vec(
                "iamgate_requests_total",
                "Finished requests by service, catalog action, decision and HTTP status class.",
                &["service", "action", "decision", "status"],
            )?,
            request_duration: histogram_vec(
                "iamgate_request_duration_seconds",
                "End-to-end request latency in seconds, by service and decision.",
                &["service", "decision"],
            )?,
            authz_duration: histogram_vec(
                "iamgate_authz_duration_seconds",
                "Time spent authenticating and authorizing a request, in seconds.",
                &["service"],
            )?,
            upstream_duration: histogram_vec(
                "iamgate_upstream_duration_seconds",
                "Time spent waiting on the upstream, in seconds.",
                &["upstream"],
            )?,
            upstream_errors: counter_vec(
                "iamgate_upstream_errors_total",
                "Failed upstream calls by upstream and kind (connect, timeout, other).",
                &["upstream", "kind"],
            )?,
            auth_failures: counter_vec(
                "iamgate_auth_failures_total",
                "Requests rejected by authentication, by service and reason.",
                &["service", "reason"],
            )?,
            nonce_store_rejections: counter_vec(
                "iamgate_nonce_store_rejections_total",
                "ACS3 requests refused (503) because the replay store was full, the access key held its nonce quota, or the shared store (Redis) was unavailable.",
                &["reason"],
            )?,
            reloads: counter_vec(
                "iamgate_reloads_total",
                "Snapshot reload attempts by result (success, failure).",
                &["result"],
            )?,
            snapshot_info: GaugeVec::new(
                Opts::new(
                    "iamgate_snapshot_info",
                    "The live snapshot's digest; always 1, one series at a time.",
                ),
                &["digest"],
            )?,
            snapshot_loaded: Gauge::new(
                "iamgate_snapshot_loaded_timestamp_seconds",
                "Unix time at which the live snapshot was loaded.",
            )?,
            snapshot_policies: IntGauge::new(
                "iamgate_snapshot_policies",
                "Policies in the live snapshot.",
            )?,
            snapshot_routes: IntGauge::new(
                "iamgate_snapshot_routes",
                "Routes in the live snapshot.",
            )?,
            snapshot_principals: IntGauge::new(
                "iamgate_snapshot_principals",
                "Principals in the live snapshot.",
            )?,
            decision_log_dropped: IntCounter::new(
                "iamgate_decision_log_dropped_total",
                "Decision-log lines dropped because the writer could not keep up or failed.",
            )?,
            protocol_errors: counter_vec(
                "iamgate_protocol_errors_total",
                "Connections or requests refused before the request pipeline (malformed request line or headers, oversize head, timeouts, TLS), by kind.",
                &["kind"],
            )?,
            decision_log_write_errors: IntCounter::new(
                "iamgate_decision_log_write_errors_total",
                "Failed decision-log writes or reopens (retried after a backoff).",
            )?,
            ready: IntGauge::new(
                "iamgate_ready",
                "1 when the gateway is ready to serve, else 0.",
            )?,
            accept_errors: counter_vec(
                "iamgate_accept_errors_total",
                "Failed accept calls (e.g. out of file descriptors), by listener.",
                &["listener"],
            )?,
            watch_errors: IntCounter::new(
                "iamgate_watch_errors_total",
                "Errors reported by the routes/policies file watcher.",
            )?,
            reload_access_changes: counter_vec(
                "iamgate_reload_access_changes_total",
                "(principal, catalog action) pairs that gained or lost access at reloads (change = gained, lost).",
                &["change"],
            )?,
            live_digest: Mutex::new(None),
            registry,
        };
        families.register_all()?;
        // Both results exist from the start so rate() works from the first reload.
        for result in ["success", "failure"] {
            families.reloads.get_metric_with_label_values(&[result])?;
        }
        for reason in ["full", "quota", "unavailable"] {
            families
                .nonce_store_rejections
                .get_metric_with_label_values(&[reason])?;
        }
        for listener in ["gateway", "admin"] {
            families
                .accept_errors
                .get_metric_with_label_values(&[listener])?;
        }
        for change in ["gained", "lost"] {
            families
                .reload_access_changes
                .get_metric_with_label_values(&[change])?;
        }
        Ok(families)
    }

    fn register_all(&self) -> prometheus::Result<()> {
        let r = &self.registry;
        r.register(Box::new(self.requests.clone()))?;
        r.register(Box::new(self.request_duration.clone()))?;
        r.register(Box::new(self.authz_duration.clone()))?;
        r.register(Box::new(self.upstream_duration.clone()))?;
        r.register(Box::new(self.upstream_errors.clone()))?;
        r.register(Box::new(self.protocol_errors.clone()))?;
        r.register(Box::new(self.auth_failures.clone()))?;
        r.register(Box::new(self.nonce_store_rejections.clone()))?;
        r.register(Box::new(self.reloads.clone()))?;
        r.register(Box::new(self.snapshot_info.clone()))?;
        r.register(Box::new(self.snapshot_loaded.clone()))?;
        r.register(Box::new(self.snapshot_policies.clone()))?;
        r.register(Box::new(self.snapshot_routes.clone()))?;
        r.register(Box::new(self.snapshot_principals.clone()))?;
        r.register(Box::new(self.decision_log_dropped.clone()))?;
        r.register(Box::new(self.decision_log_write_errors.clone()))?;
        r.register(Box::new(self.ready.clone()))?;
        r.register(Box::new(self.accept_errors.clone()))?;
        r.register(Box::new(self.watch_errors.clone()))?;
        r.register(Box::new(self.reload_access_changes.clone()))?;
        Ok(())
    }
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn histogram_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<HistogramVec> {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
}

/// Increments a series; a label-count mismatch (a bug) is ignored, not a panic.
fn inc(vec: &IntCounterVec, labels: &[&str]) {
    if let Ok(counter) = vec.get_metric_with_label_values(labels) {
        counter.inc();
    }
}

/// Observes into a series; a label-count mismatch (a bug) is ignored.
fn observe(vec: &HistogramVec, labels: &[&str], seconds: f64) {
    if let Ok(histogram) = vec.get_metric_with_label_values(labels) {
        histogram.observe(seconds);
    }
}

/// `value` if it is in `allowed`, else `"other"`.
fn bounded<'a>(value: &'a str, allowed: &[&str]) -> &'a str {
    if allowed.contains(&value) {
        value
    } else {
        OTHER
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => OTHER,
    }
}

fn saturating_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const FAMILIES: &[&str] = &[
        "iamgate_requests_total",
        "iamgate_request_duration_seconds",
        "iamgate_authz_duration_seconds",
        "iamgate_upstream_duration_seconds",
        "iamgate_upstream_errors_total",
        "iamgate_auth_failures_total",
        "iamgate_nonce_store_rejections_total",
        "iamgate_reloads_total",
        "iamgate_snapshot_info",
        "iamgate_snapshot_loaded_timestamp_seconds",
        "iamgate_snapshot_policies",
        "iamgate_snapshot_routes",
        "iamgate_snapshot_principals",
        "iamgate_decision_log_dropped_total",
        "iamgate_decision_log_write_errors_total",
        "iamgate_ready",
        "iamgate_accept_errors_total",
        "iamgate_watch_errors_total",
        "iamgate_reload_access_changes_total",
    ];

    fn exercised() -> Metrics {
        let m = Metrics::new();
        m.observe_request("ecs", "ecs:servers:list", "allow", 200, 0.002);
        m.observe_authz("ecs", 0.000_04);
        m.observe_upstream("mock", 0.001);
        m.upstream_error("mock", "timeout");
        m.auth_failure("ecs", "signature_mismatch");
        m.reload(true);
        m.snapshot_loaded("abc123", 1_700_000_000.0, 3, 10, 5);
        m.decision_log_dropped();
        m.decision_log_write_error();
        m.set_ready(true);
        m.accept_error("admin");
        m.watch_error();
        m
    }

    /// The value of the sample line that starts with `prefix` (name + labels).
    fn sample(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find(|line| line.starts_with(prefix) && line[prefix.len()..].starts_with(' '))
            .map(|line| line[prefix.len()..].trim().parse().unwrap())
    }

    #[test]
    fn families_register() {
        assert!(Families::register().is_ok());
        assert!(Metrics::new().families.is_some());
    }

    #[test]
    fn render_has_every_family_with_help() {
        let text = exercised().render();
        for name in FAMILIES {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name} in\n{text}"
            );
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "no TYPE for {name}"
            );
        }
    }

    #[test]
    fn counters_move() {
        let m = Metrics::new();
        let series = r#"iamgate_requests_total{action="ecs:servers:list",decision="allow",service="ecs",status="2xx"}"#;
        assert_eq!(sample(&m.render(), series), None);
        m.observe_request("ecs", "ecs:servers:list", "allow", 201, 0.001);
        m.observe_request("ecs", "ecs:servers:list", "allow", 204, 0.001);
        let text = m.render();
        assert_eq!(sample(&text, series), Some(2.0));
        assert_eq!(
            sample(&text, r#"iamgate_reloads_total{result="failure"}"#),
            Some(0.0)
        );
        m.reload(false);
        m.decision_log_dropped();
        m.decision_log_dropped();
        m.set_ready(true);
        let text = m.render();
        assert_eq!(
            sample(&text, r#"iamgate_reloads_total{result="failure"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "iamgate_decision_log_dropped_total"),
            Some(2.0)
        );
        assert_eq!(sample(&text, "iamgate_ready"), Some(1.0));
        m.set_ready(false);
        assert_eq!(sample(&m.render(), "iamgate_ready"), Some(0.0));
    }

    #[test]
    fn nonce_store_rejections_count_by_reason() {
        let m = Metrics::new();
        let full = r#"iamgate_nonce_store_rejections_total{reason="full"}"#;
        let quota = r#"iamgate_nonce_store_rejections_total{reason="quota"}"#;
        assert_eq!(sample(&m.render(), full), Some(0.0));
        m.auth_failure("fc", "nonce_store_quota");
        m.auth_failure("fc", "nonce_store_quota");
        m.auth_failure("fc", "nonce_reused");
        let text = m.render();
        assert_eq!(sample(&text, quota), Some(2.0));
        assert_eq!(sample(&text, full), Some(0.0));
        assert_eq!(
            sample(
                &text,
                r#"iamgate_auth_failures_total{reason="nonce_store_quota",service="fc"}"#
            ),
            Some(2.0)
        );
    }

    #[test]
    fn unknown_label_values_become_other() {
        let m = Metrics::new();
        m.observe_request("ecs", "none", "/v1/secret/path", 999, 0.001);
        m.auth_failure("ecs", "AKIDEXAMPLE");
        m.upstream_error("mock", "weird");
        let text = m.render();
        assert_eq!(
            sample(
                &text,
                r#"iamgate_requests_total{action="none",decision="other",service="ecs",status="other"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"iamgate_auth_failures_total{reason="other",service="ecs"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"iamgate_upstream_errors_total{kind="other",upstream="mock"}"#
            ),
            Some(1.0)
        );
        assert!(!text.contains("AKIDEXAMPLE"));
        assert!(!text.contains("/v1/secret/path"));
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(100), "1xx");
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(403), "4xx");
        assert_eq!(status_class(599), "5xx");
        assert_eq!(status_class(600), "other");
        assert_eq!(status_class(0), "other");
    }

    #[test]
    fn snapshot_info_keeps_one_digest() {
        let m = Metrics::new();
        m.snapshot_loaded("digest-one", 1.0, 1, 2, 3);
        m.snapshot_loaded("digest-two", 2.0, 4, 5, 6);
        let text = m.render();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("iamgate_snapshot_info{"))
            .collect();
        assert_eq!(series, [r#"iamgate_snapshot_info{digest="digest-two"} 1"#]);
        assert_eq!(
            sample(&text, "iamgate_snapshot_loaded_timestamp_seconds"),
            Some(2.0)
        );
        assert_eq!(sample(&text, "iamgate_snapshot_policies"), Some(4.0));
        assert_eq!(sample(&text, "iamgate_snapshot_routes"), Some(5.0));
        assert_eq!(sample(&text, "iamgate_snapshot_principals"), Some(6.0));
        // Reloading the same digest keeps its one series.
        m.snapshot_loaded("digest-two", 3.0, 4, 5, 6);
        let count = m
            .render()
            .lines()
            .filter(|l| l.starts_with("iamgate_snapshot_info{"))
            .count();
        assert_eq!(count, 1);
    }

    #[test]
    fn thirty_microseconds_resolve_between_buckets() {
        let m = Metrics::new();
        m.observe_authz("ecs", 0.000_03);
        let text = m.render();
        let bucket = |le: &str| {
            sample(
                &text,
                &format!(r#"iamgate_authz_duration_seconds_bucket{{service="ecs",le="{le}"}}"#),
            )
        };
        assert_eq!(bucket("0.000025"), Some(0.0));
        assert_eq!(bucket("0.00005"), Some(1.0));
        assert_eq!(bucket("0.00001"), Some(0.0));
        assert_eq!(bucket("+Inf"), Some(1.0));
    }
}
