//! The request pipeline, in the order of DESIGN.md: one snapshot → wire
//! framing (the tap's verdict) → head hygiene → strict path + route →
//! framing → credentials from the headers → bounded body → signature →
//! project → context → evaluate → record → forward or reject. Each step
//! may end the request with a `GatewayError`; only a `Permit` reaches
//! `forward`, and what goes upstream is built from what was evaluated
//! (`outgoing`).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Request, Response, Version};
use serde::Serialize;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::config::UnmappedPolicy;
use crate::directory::Project;
use crate::huawei_iam::identify;
use crate::identity::{AuthError, Authenticated, HttpParts};
use crate::policy::explain::{trace, Outcome};
use crate::policy::{Denial, Permit};
use crate::proxy::context::{
    add_resource_keys, base_context, body_fields, source_ip, RequestFacts,
};
use crate::proxy::outgoing::{upstream_headers, Origin};
use crate::proxy::record::{Record, Recorder};
use crate::proxy::respond::{reason_summary, DenialDetails, GatewayError};
use crate::proxy::upstream::Outgoing;
use crate::proxy::{audit, body, builtin_iam, hygiene, ownership, Body, Gateway};
use crate::routes::{RouteError, RouteMatch, Routed};
use crate::snapshot::Snapshot;

/// A request body the pipeline can read: hyper's `Incoming` on the wire,
/// `Full<Bytes>` in in-memory tests.
pub trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send
{
}
impl<B> RequestBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
{
}

/// The connection a request arrived on.
#[derive(Debug, Clone, Copy)]
pub struct Connection {
    pub peer: IpAddr,
    pub tls: bool,
    /// Why the raw HTTP/1 framing of this request is refused (seen on the
    /// wire by [`crate::proxy::framing`], where hyper would normalise it).
    pub framing: Option<&'static str>,
}

/// Handle one request end to end.
pub async fn handle<B: RequestBody>(
    gw: Arc<Gateway>,
    req: Request<B>,
    conn: Connection,
) -> Response<Body> {
    let snap = gw.snapshots.load();
    let (mut parts, body) = req.into_parts();
    // Headers named by `Connection` are hop-by-hop: gone before anything reads them.
    hygiene::strip_connection_named(&mut parts.headers);
    let mut rec = Record {
        detailed: gw.detailed(),
        cloud: snap.routes.cloud_for_path(parts.uri.path()),
        ..Record::default()
    };
    rec.set_request(&parts, conn.peer, conn.tls);
    rec.set_source_ip(source_ip(
        conn.peer,
        &parts.headers,
        &gw.config.trusted_proxies,
    ));
    let mut recorder = Recorder {
        started: Instant::now(),
        request_id: crate::proxy::request_id::next(),
        gw: gw.clone(),
        snap: snap.clone(),
        rec,
        done: false,
    };
    let request_id = recorder.request_id.clone();
    let request = Incoming {
        parts: &parts,
        conn,
        request_id: &request_id,
    };
    let result = pipeline(&gw, &snap, request, body, &mut recorder.rec).await;
    let response = match result {
        Ok(resp) => resp,
        Err(e) => {
            let rec = &mut recorder.rec;
            rec.decision = rec.decision.or(Some(e.decision_label()));
            rec.set_error(&e);
            let close = e.closes_connection() && parts.version < Version::HTTP_2;
            let mut resp = e.into_response(rec.cloud, &request_id);
            if close {
                resp.headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    };
    recorder.finish(response)
}

/// The request as received, and where it came from.
#[derive(Clone, Copy)]
struct Incoming<'a> {
    parts: &'a Parts,
    conn: Connection,
    request_id: &'a str,
}

impl<'a> Incoming<'a> {
    fn http(&self, body: &'a [u8]) -> HttpParts<'a> {
        HttpParts {
            method: self.parts.method.as_str(),
            raw_path: self.parts.uri.path(),
            raw_query: self.parts.uri.query(),
            authority: self.parts.uri.authority().map(|a| a.as_str()),
            headers: &self.parts.headers,
            body,
        }
    }
}

/// The pipeline of DESIGN.md. Everything that needs only the head runs
/// before a body byte is buffered: hygiene, route, framing, credentials.
async fn pipeline<B: RequestBody>(
    gw: &Gateway,
    snap: &Snapshot,
    req: Incoming<'_>,
    body: B,
    rec: &mut Record,
) -> Result<Response<Body>, GatewayError> {
    if let Some(why) = req.conn.framing {
        return Err(GatewayError::BadFraming(why.into()));
    }
    let parts = req.parts;
    let host = hygiene::check_head(parts)?;
    let routed = route(gw, snap, parts, rec)?;
    hygiene::check_body_allowed(parts, routed.takes_body(), body.is_end_stream())?;
    if let Some(call) = builtin_iam::call_for(gw, snap, &routed, parts, req.conn, req.request_id) {
        return builtin_iam::serve(call, body, rec).await;
    }
    let now = OffsetDateTime::now_utc();
    let cloud = rec.cloud.unwrap_or(Cloud::Huawei);
    // Knows the temporary keys and tokens the built-in IAM issued.
    let credential = identify(&gw.sessions, &snap.directory, cloud, &req.http(&[]), now)
        .map_err(|e| auth_failed(gw, rec, e))?;
    let body = body::read(body, parts, gw.body_limits(), &gw.body_budget).await?;
    let who = credential
        .verify_replay(&req.http(&body.bytes), now, gw.replay())
        .await
        .map_err(|e| auth_failed(gw, rec, e))?;
    rec.set_authenticated(&who);
    let project = project_of(snap, routed.project_id(), &who, parts)?;
    let sent = Sent {
        req,
        host: &host,
        who: &who,
        body: &body.bytes,
    };
    match routed {
        Routed::Mapped(route) if route.service.upstream == crate::sts::BUILTIN_UPSTREAM => {
            let call = super::builtin::BuiltinCall {
                parts,
                peer: req.conn.peer,
                tls: req.conn.tls,
                who: &who,
                body: &body.bytes,
                request_id: req.request_id,
                now,
            };
            super::builtin::serve_sts(&gw.config, snap, &route, call, rec)
        }
        Routed::Mapped(route) => {
            decide_and_forward(gw, snap, &route, project, sent, now, rec).await
        }
        Routed::Unmapped(op) => {
            tracing::warn!(request_id = %req.request_id, operation = %op.route.operation, principal = %who.principal.urn, "forwarding an unmapped operation without a policy decision (unmapped = \"forward\")");
            rec.decision = Some("unmapped");
            let permit = Permit::for_unmapped_operation_by_configuration();
            forward(gw, &permit, &op.service.upstream, sent).await
        }
    }
}

/// A mapped route: ownership, context, decision, then forward and record
/// what the answer changed.
async fn decide_and_forward(
    gw: &Gateway,
    snap: &Snapshot,
    route: &RouteMatch<'_>,
    project: Option<&Project>,
    sent: Sent<'_>,
    now: OffsetDateTime,
    rec: &mut Record,
) -> Result<Response<Body>, GatewayError> {
    let (parts, who) = (sent.req.parts, sent.who);
    let configured = gw.config.region(&route.service.name);
    let region = ownership::region_of(
        route.service.cloud,
        project.map(|p| p.region.as_str()),
        configured,
    );
    let target = ownership::resolve(&gw.resources, route, &who.principal.account_id, region)?;
    let facts = RequestFacts {
        peer: source_ip(
            sent.req.conn.peer,
            &parts.headers,
            &gw.config.trusted_proxies,
        ),
        tls: sent.req.conn.tls,
        now,
        headers: &parts.headers,
        body: sent.body,
        raw_query: parts.uri.query(),
    };
    let authz_started = Instant::now();
    let result = authorize(snap, route, who, project, &target, &facts, rec);
    gw.metrics
        .observe_authz(&route.service.name, authz_started.elapsed().as_secs_f64());
    audit::observe(gw, rec);
    let (permit, audited) = match result {
        Err(GatewayError::Denied(d)) if audit::applies(gw, snap, route, who) => {
            audit::let_through(rec, &d)
        }
        other => (other?, None),
    };
    let slot = ownership::reserve(&gw.resources, route)?;
    let body = sent.body;
    let resp = forward(gw, &permit, &route.service.upstream, sent).await?;
    // The body parsed once already for the context; it cannot fail here.
    let fields = body_fields(body).unwrap_or_default();
    let resp = ownership::record(&gw.resources, route, &target, slot, &fields, resp).await?;
    Ok(audit::header(gw, resp, audited))
}

/// What an allowed request sends upstream.
#[derive(Clone, Copy)]
struct Sent<'a> {
    req: Incoming<'a>,
    host: &'a str,
    who: &'a Authenticated,
    body: &'a Bytes,
}

/// Build the upstream request from what was evaluated and send it.
async fn forward(
    gw: &Gateway,
    permit: &Permit,
    upstream: &str,
    sent: Sent<'_>,
) -> Result<Response<Body>, GatewayError> {
    let parts = sent.req.parts;
    let origin = Origin {
        peer: sent.req.conn.peer,
        tls: sent.req.conn.tls,
        host: sent.host,
        account: &sent.who.principal.account_id,
        request_id: sent.req.request_id,
        trusted_proxies: &gw.config.trusted_proxies,
    };
    let out = Outgoing {
        method: &parts.method,
        path_and_query: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        headers: upstream_headers(&parts.headers, &parts.method, sent.body.len(), &origin),
        body: sent.body.clone(),
    };
    gw.upstreams
        .forward(permit, upstream, out, &gw.metrics)
        .await
}

pub(super) fn auth_failed(gw: &Gateway, rec: &Record, e: AuthError) -> GatewayError {
    gw.metrics
        .auth_failure(rec.service.as_deref().unwrap_or("none"), e.kind());
    GatewayError::Auth(e)
}

/// Route the request; an unmapped SDK operation is refused (404) unless the
/// operator chose `unmapped = "forward"`.
fn route<'a>(
    gw: &Gateway,
    snap: &'a Snapshot,
    parts: &'a Parts,
    rec: &mut Record,
) -> Result<Routed<'a>, GatewayError> {
    let routed = snap
        .routes
        .route(&parts.method, parts.uri.path())
        .map_err(|e| match e {
            RouteError::BadPath(why) => GatewayError::BadRequest(format!("ambiguous path: {why}")),
            _ => GatewayError::NotFound,
        })?;
    let service = routed.service();
    rec.cloud = Some(service.cloud);
    rec.service = Some(service.name.clone());
    rec.set_operation(match &routed {
        Routed::Mapped(m) => m.route.operation.as_deref(),
        Routed::Unmapped(u) => Some(u.route.operation.as_str()),
    });
    match routed {
        Routed::Unmapped(op) if gw.config.unmapped != UnmappedPolicy::Forward => {
            Err(GatewayError::Unmapped {
                service: op.service.name.clone(),
                operation: op.route.operation.clone(),
            })
        }
        routed => Ok(routed),
    }
}

/// Huawei: `{project_id}` must be a project of the caller's account, and a
/// signed `X-Project-Id` must name the same project.
fn project_of<'s>(
    snap: &'s Snapshot,
    project_id: Option<&str>,
    who: &Authenticated,
    parts: &Parts,
) -> Result<Option<&'s Project>, GatewayError> {
    let Some(id) = project_id else {
        return Ok(None);
    };
    let denied = |why: &str| GatewayError::Project {
        project: id.to_string(),
        why: why.to_string(),
    };
    let project = snap
        .directory
        .projects
        .get(id)
        .ok_or_else(|| denied("unknown project"))?;
    if project.account_id != who.principal.account_id {
        return Err(denied(
            "the project does not belong to the caller's account",
        ));
    }
    if let Some(h) = parts.headers.get("x-project-id") {
        if h.as_bytes() != id.as_bytes() {
            return Err(denied(
                "X-Project-Id does not match the project in the path",
            ));
        }
    }
    Ok(Some(project))
}

/// Context + evaluation of every action the route needs.
#[allow(clippy::too_many_arguments)] // the pipeline's facts, each from its own stage
fn authorize(
    snap: &Snapshot,
    route: &RouteMatch<'_>,
    who: &Authenticated,
    project: Option<&Project>,
    target: &ownership::Addressed,
    facts: &RequestFacts<'_>,
    rec: &mut Record,
) -> Result<Permit, GatewayError> {
    let cloud = route.service.cloud;
    let region = target.owner.region.as_str();
    // A body or query the policy cannot read unambiguously is refused.
    let mut base = base_context(cloud, who, route, project, facts)
        .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    if !rec.detailed {
        base.forget_reads();
    }
    // A body that names a role also needs ram:PassRole on it.
    let passes = crate::sts::pass_role::needs(&snap.directory, route, who, facts.body, &base)?;
    let count = route.route.actions.len();
    let mut base = Some(base);
    let mut needs: Vec<_> = route
        .actions()
        .enumerate()
        .map(|(i, a)| {
            let resource = route.resource_for(a, region, &who.principal.account_id);
            // Most routes need one action: the last one takes the base context.
            let mut ctx = match i + 1 == count {
                true => base.take().unwrap_or_default(),
                false => base.clone().unwrap_or_default(),
            };
            // The addressed resource's keys apply to the actions on its type.
            let on_target = target
                .key
                .as_ref()
                .is_some_and(|k| a.resource_types.contains(&k.kind));
            add_resource_keys(&mut ctx, cloud, target.attrs.as_ref().filter(|_| on_target));
            (a.name.clone(), resource, ctx)
        })
        .collect();
    needs.extend(passes);
    let result = crate::policy::authorize(&who.principal.subject, &needs);
    rec.note_authorization(&who.principal.subject, &needs, &result);
    result.map_err(|denial| {
        let ctx = needs.iter().find(|n| n.0 == denial.action).map(|n| &n.2);
        denied(snap, who, *denial, ctx)
    })
}

/// What a denial's body explains (base64 of this JSON in the body).
#[derive(Serialize)]
struct Explanation<'a> {
    action: &'a str,
    decision: &'static str,
    principal: &'a str,
    reason: &'a crate::policy::Reason,
    resource: &'a str,
    snapshot: &'a str,
    statements: &'a [crate::policy::explain::StatementTrace],
    summary: String,
}

/// The denial body's details, with the JSON explanation (base64 in the body).
pub(super) fn denied(
    snap: &Snapshot,
    who: &Authenticated,
    denial: Denial,
    ctx: Option<&crate::policy::Context>,
) -> GatewayError {
    let p = &who.principal;
    let failed: Vec<_> = ctx
        .map(|c| trace(&p.subject, &denial.action, &denial.resource, c))
        .unwrap_or_default()
        .into_iter()
        .filter(|t| {
            matches!(
                t.outcome,
                Outcome::ConditionFailed { .. } | Outcome::Matched
            )
        })
        .collect();
    let explanation = Explanation {
        action: &denial.action,
        decision: denial.decision.kind.as_str(),
        principal: &p.urn,
        reason: &denial.decision.reason,
        resource: &denial.resource,
        snapshot: &snap.digest,
        statements: &failed,
        summary: reason_summary(&denial.decision.reason),
    };
    // Serializing borrowed strings and derived types cannot fail.
    let explanation = serde_json::to_string(&explanation).unwrap_or_default();
    GatewayError::Denied(Box::new(DenialDetails {
        principal_urn: p.urn.clone(),
        principal_display: p.display_name().to_string(),
        account_id: p.account_id.to_string(),
        is_root: p.is_root(),
        explanation,
        denial,
    }))
}
