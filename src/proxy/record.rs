//! Recording a request: metrics and the decision-log line, exactly once per
//! request — also when the client goes away mid-request and the handler
//! future is dropped, and also for requests refused before any decision
//! (400, 401, 404, 413: every request gets a line).
//!
//! The pipeline fills a [`Record`] as it learns things, through small
//! setters; [`Recorder`] turns it into a [`DecisionRecord`] at the end.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response};

use crate::cloud::Cloud;
use crate::decision_log::{
    redact_query, rfc3339_now, ActionRecord, ContextValues, DecisionRecord, ErrorRecord,
    SCHEMA_VERSION,
};
use crate::identity::Authenticated;
use crate::policy::{evaluate, Context, Decision, Denial, Permit, Subject};
use crate::proxy::respond::{reason_summary, GatewayError};
use crate::proxy::{Body, Gateway};
use crate::snapshot::Snapshot;

/// What the pipeline learnt, for metrics, the decision log and headers.
#[derive(Default)]
pub(super) struct Record {
    /// Whether a decision-log line will be written: without one, only what
    /// metrics and headers need is kept (no copies of the request, no
    /// context values, no reason texts).
    pub(super) detailed: bool,
    pub(super) cloud: Option<Cloud>,
    pub(super) service: Option<String>,
    /// The first action (the denied one on a denial), for metrics.
    pub(super) action: Option<String>,
    pub(super) resource: String,
    /// The principal URN, `""` until authenticated.
    pub(super) principal: String,
    pub(super) decision: Option<&'static str>,
    pub(super) deciding: String,
    pub(super) request: RequestLine,
    pub(super) source_ip: Option<IpAddr>,
    pub(super) access_key_id: Option<String>,
    pub(super) auth: Option<&'static str>,
    pub(super) operation: Option<String>,
    pub(super) actions: Vec<ActionRecord>,
    pub(super) context: ContextValues,
    pub(super) error: Option<ErrorRecord>,
}

/// What arrived, before anything was decided.
#[derive(Default)]
pub(super) struct RequestLine {
    method: String,
    path: String,
    query: Option<String>,
    peer: Option<IpAddr>,
    tls: bool,
}

/// Access key ids longer than this are cut: a claimed id is client input.
const MAX_KEY_ID: usize = 128;

impl Record {
    /// The request as received and the credentials it claims (scheme and
    /// access key id, read from the headers — never the token or signature).
    /// Call first, before anything can refuse the request.
    pub(super) fn set_request(&mut self, parts: &Parts, peer: IpAddr, tls: bool) {
        if !self.detailed {
            return;
        }
        self.request = RequestLine {
            method: parts.method.as_str().to_string(),
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(redact_query),
            peer: Some(peer),
            tls,
        };
        (self.auth, self.access_key_id) = claimed_credentials(&parts.headers);
    }

    /// `g:SourceIp` as the context computes it (trusted proxies applied).
    pub(super) fn set_source_ip(&mut self, ip: IpAddr) {
        self.source_ip = Some(ip);
    }

    /// The SDK operation of the matched (or unmapped) route.
    pub(super) fn set_operation(&mut self, operation: Option<&str>) {
        if !self.detailed {
            return;
        }
        self.operation = operation.map(str::to_string);
    }

    /// The authenticated principal and the key it signed with.
    pub(super) fn set_authenticated(&mut self, who: &Authenticated) {
        // Also for the debug headers, which name the principal.
        self.principal = who.principal.urn.clone();
        if !self.detailed {
            return;
        }
        match &who.access_key {
            Some(ak) => self.access_key_id = Some(ak.clone()),
            None => self.auth = Some("token"),
        }
    }

    /// Every action's decision, with the condition keys each one read. Call
    /// right after `policy::authorize` with its inputs and result, and before
    /// any `explain::trace` of the same contexts (a trace reads every key of
    /// every statement). On a denial the engine returns only the denied
    /// decision; the actions allowed before it are evaluated again here (pure
    /// and cheap) to log their reasons, and those after it are `not_evaluated`.
    pub(super) fn note_authorization(
        &mut self,
        subject: &Subject,
        needs: &[(String, String, Context)],
        result: &Result<Permit, Box<Denial>>,
    ) {
        if !self.detailed {
            self.note_decision(result);
            return;
        }
        let decisions: Vec<Option<Decision>> = match result {
            Ok(permit) => permit
                .grants()
                .iter()
                .map(|g| Some(g.decision.clone()))
                .collect(),
            Err(denial) => {
                let denied_at = needs.iter().position(|n| n.0 == denial.action);
                let denied_at = denied_at.unwrap_or(needs.len());
                needs
                    .iter()
                    .enumerate()
                    .map(|(i, (action, resource, ctx))| match i.cmp(&denied_at) {
                        Ordering::Less => Some(evaluate(subject, action, resource, ctx)),
                        Ordering::Equal => Some(denial.decision.clone()),
                        Ordering::Greater => None,
                    })
                    .collect()
            }
        };
        self.actions = action_records(needs, decisions, &mut self.context);
        let deciding = match result {
            Ok(permit) => permit
                .grants()
                .first()
                .map(|g| (&g.action, &g.resource, &g.decision)),
            Err(d) => Some((&d.action, &d.resource, &d.decision)),
        };
        if let Some((action, resource, decision)) = deciding {
            self.action = Some(action.clone());
            self.resource = resource.clone();
            self.decision = Some(decision.kind.as_str());
            self.deciding = reason_summary(&decision.reason);
        }
    }

    /// The deciding action and its decision kind alone (for metrics).
    fn note_decision(&mut self, result: &Result<Permit, Box<Denial>>) {
        let deciding = match result {
            Ok(permit) => permit.grants().first().map(|g| (&g.action, &g.decision)),
            Err(d) => Some((&d.action, &d.decision)),
        };
        if let Some((action, decision)) = deciding {
            self.action = Some(action.clone());
            self.decision = Some(decision.kind.as_str());
        }
    }

    /// The refusal or failure that ended the request.
    pub(super) fn set_error(&mut self, e: &GatewayError) {
        if !self.detailed {
            return;
        }
        self.error = Some(error_record(e));
    }
}

/// Records a request exactly once: in `finish`, or — when the client went
/// away and the handler future was dropped mid-request — on drop, with the
/// status 499 (client closed request), so no request escapes the metrics
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
        #[cfg(feature = "otel")]
        if self.trace(&rec, status, elapsed) {
            return;
        }
        if !self.gw.detailed() {
            return;
        }
        let line = DecisionRecord {
            schema: SCHEMA_VERSION,
            time: rfc3339_now(),
            request_id: self.request_id.clone(),
            method: rec.request.method,
            path: rec.request.path,
            query: rec.request.query,
            source_ip: rec.source_ip.or(rec.request.peer).map(|ip| ip.to_string()),
            peer: rec.request.peer.map(|ip| ip.to_string()),
            tls: rec.request.tls,
            access_key_id: rec.access_key_id,
            principal: Some(rec.principal).filter(|p| !p.is_empty()),
            auth: rec.auth,
            service: rec.service,
            operation: rec.operation,
            actions: rec.actions,
            context: rec.context,
            decision: decision.to_string(),
            deciding: rec.deciding,
            error: rec.error,
            status,
            latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            snapshot: self.snap.digest.clone(),
        };
        // The console's ring keeps the very record the log writes.
        match &self.gw.console {
            Some(console) if self.gw.decision_log.is_enabled() => {
                self.gw.decision_log.record(line.clone());
                console.push(line);
            }
            Some(console) => console.push(line),
            None => self.gw.decision_log.record(line),
        }
    }

    /// The request's span, when `[otel]` is on; true when nothing else
    /// needs the full record (no decision log, no console ring).
    #[cfg(feature = "otel")]
    fn trace(&self, rec: &Record, status: u16, elapsed: std::time::Duration) -> bool {
        let Some(traces) = &self.gw.otel else {
            return false;
        };
        traces.span(crate::otel::RequestSpan {
            service: rec.service.as_deref(),
            action: rec.action.as_deref(),
            resource: &rec.resource,
            principal: &rec.principal,
            decision: rec.decision.unwrap_or("error"),
            deciding: &rec.deciding,
            status,
            request_id: &self.request_id,
            snapshot: &self.snap.digest,
            elapsed,
        });
        !self.gw.decision_log.is_enabled() && self.gw.console.is_none()
    }

    /// Record, then set the request id and the debug headers.
    pub(super) fn finish(mut self, mut resp: Response<Body>) -> Response<Body> {
        let decision = self.rec.decision.unwrap_or("error");
        // A role session: its assumed-role ARN (the decision log has it as `principal`).
        let principal = &self.rec.principal;
        let session = principal
            .contains(":assumed-role/")
            .then(|| principal.clone());
        // Names the caller (an agency session too) on the debug headers.
        let principal = match self.gw.config.debug_headers {
            true => self.rec.principal.clone(),
            false => String::new(),
        };
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
            if let Some(v) = session.and_then(|s| HeaderValue::from_str(&s).ok()) {
                headers.insert("x-iamgate-session", v);
            }
            if let Ok(v) = HeaderValue::from_str(&principal) {
                if !principal.is_empty() {
                    headers.insert("x-iamgate-principal", v);
                }
            }
        }
        resp
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.done {
            self.rec.error.get_or_insert_with(|| ErrorRecord {
                code: "client_closed",
                kind: None,
                message: "the client closed the connection first".to_string(),
            });
            self.record(CLIENT_CLOSED);
        }
    }
}

/// One entry per needed action. Keys read go to the line's `context` (the
/// first value seen); an action that saw another value for a key keeps it in
/// its own `context`.
fn action_records(
    needs: &[(String, String, Context)],
    decisions: Vec<Option<Decision>>,
    top: &mut ContextValues,
) -> Vec<ActionRecord> {
    needs
        .iter()
        .zip(decisions)
        .map(|((action, resource, ctx), decision)| {
            let mut own = ContextValues::new();
            if decision.is_some() {
                for (key, values) in ctx.read_keys() {
                    match top.get(&key) {
                        None => {
                            top.insert(key, values);
                        }
                        Some(seen) if *seen != values => {
                            own.insert(key, values);
                        }
                        Some(_) => {}
                    }
                }
            }
            ActionRecord {
                action: action.clone(),
                resource: resource.clone(),
                decision: decision
                    .as_ref()
                    .map_or("not_evaluated", |d| d.kind.as_str()),
                reason: decision.map(|d| d.reason),
                context: own,
            }
        })
        .collect()
}

/// The scheme and access key id the request claims, from its headers:
/// `Authorization` names a signature scheme (and the key id after
/// `Access=` or `Credential=`); without it, `X-Auth-Token` means a token.
fn claimed_credentials(headers: &HeaderMap) -> (Option<&'static str>, Option<String>) {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        let token = headers.contains_key("x-auth-token");
        return (token.then_some("token"), None);
    };
    let value = String::from_utf8_lossy(value.as_bytes());
    let (scheme, field) = if value.starts_with("SDK-HMAC-SHA256") {
        ("sdk-hmac", "Access=")
    } else if value.starts_with("ACS3-HMAC-SHA256") {
        ("acs3", "Credential=")
    } else {
        return (Some("other"), None);
    };
    let key = value
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix(field));
    let key = key
        .filter(|k| !k.is_empty())
        .map(|k| k.chars().take(MAX_KEY_ID).collect());
    (Some(scheme), key)
}

/// A stable code, a finer kind and the client's message for an error.
fn error_record(e: &GatewayError) -> ErrorRecord {
    use GatewayError as E;
    let (code, kind) = match e {
        E::BadRequest(_) => ("bad_request", None),
        E::BadFraming(_) => ("bad_request", Some("framing")),
        E::BodyTimeout(_) => ("body_timeout", None),
        E::Busy(_) => ("busy", None),
        E::BodyTooLarge { .. } => ("too_large", None),
        E::NotFound => ("not_found", None),
        E::ResourceNotFound(_) => ("not_found", Some("foreign_resource")),
        E::Unmapped { .. } => ("unmapped", None),
        E::Auth(a) => ("unauthenticated", Some(a.kind())),
        E::Project { .. } => ("project", None),
        E::Denied(d) => ("denied", Some(d.denial.decision.kind.as_str())),
        E::UpstreamUnavailable(_) => ("upstream_unavailable", None),
        E::UpstreamTimeout => ("upstream_timeout", None),
        // The STS code as the open `kind`; the closed `code` as for any refusal.
        E::Service { status, code, .. } => match super::respond::service_label(*status) {
            "implicit_deny" => ("denied", Some(*code)),
            label => (label, Some(*code)),
        },
    };
    ErrorRecord {
        code,
        kind,
        message: e.to_string(),
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
