//! The request pipeline, in the order of DESIGN.md: one snapshot → strict
//! path + route → bounded body → authenticate → project → context →
//! evaluate → record → forward or reject. Each step may end the request
//! with a `GatewayError`; only a `Permit` reaches `forward`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use serde_json::json;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::config::UnmappedPolicy;
use crate::directory::Project;
use crate::identity::{authenticate, Authenticated, HttpParts};
use crate::policy::explain::{trace, Outcome};
use crate::policy::{Decision, Denial, Grant, Permit};
use crate::proxy::context::{add_resource_keys, base_context, source_ip, RequestFacts};
use crate::proxy::record::{Record, Recorder};
use crate::proxy::respond::{reason_summary, DenialDetails, GatewayError};
use crate::proxy::{Body, Gateway};
use crate::routes::{RouteError, RouteMatch};
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
}

/// Handle one request end to end.
pub async fn handle<B: RequestBody>(
    gw: Arc<Gateway>,
    req: Request<B>,
    conn: Connection,
) -> Response<Body> {
    let snap = gw.snapshots.load();
    let (parts, body) = req.into_parts();
    let rec = Record {
        cloud: snap.routes.cloud_for_path(parts.uri.path()),
        ..Record::default()
    };
    let mut recorder = Recorder {
        started: Instant::now(),
        request_id: uuid::Uuid::new_v4().simple().to_string(),
        gw: gw.clone(),
        snap: snap.clone(),
        rec,
        done: false,
    };
    let request_id = recorder.request_id.clone();
    let result = pipeline(
        &gw,
        &snap,
        &parts,
        body,
        conn,
        &request_id,
        &mut recorder.rec,
    )
    .await;
    let response = match result {
        Ok(resp) => resp,
        Err(e) => {
            let rec = &mut recorder.rec;
            rec.decision = rec.decision.or(Some(e.decision_label()));
            e.into_response(rec.cloud, &request_id)
        }
    };
    recorder.finish(response)
}

async fn pipeline<B: RequestBody>(
    gw: &Gateway,
    snap: &Snapshot,
    parts: &Parts,
    body: B,
    conn: Connection,
    request_id: &str,
    rec: &mut Record,
) -> Result<Response<Body>, GatewayError> {
    check_authority(parts)?;
    let routed = route(gw, snap, parts, rec)?;
    let body = read_body(body, parts, gw.config.limits.max_body_bytes).await?;
    let now = OffsetDateTime::now_utc();
    let http = HttpParts {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query(),
        authority: parts.uri.authority().map(|a| a.as_str()),
        headers: &parts.headers,
        body: &body,
    };
    let cloud = rec.cloud.unwrap_or(Cloud::Huawei);
    let who = authenticate(&snap.directory, cloud, &http, now, &gw.nonces).map_err(|e| {
        gw.metrics
            .auth_failure(rec.service.as_deref().unwrap_or("none"), e.kind());
        GatewayError::Auth(e)
    })?;
    rec.principal = who.principal.urn.clone();
    let (upstream, permit) = match routed {
        Routed::Mapped(route) => {
            let project = project_of(snap, &route, &who, parts)?;
            let facts = RequestFacts {
                peer: source_ip(conn.peer, &parts.headers, &gw.config.trusted_proxies),
                tls: conn.tls,
                now,
                headers: &parts.headers,
                body: &body,
                raw_query: parts.uri.query(),
            };
            let authz_started = Instant::now();
            let result = authorize(gw, snap, &route, &who, project, &facts, rec);
            gw.metrics
                .observe_authz(&route.service.name, authz_started.elapsed().as_secs_f64());
            (route.service.upstream.clone(), result?)
        }
        Routed::UnmappedForward {
            upstream,
            operation,
        } => {
            tracing::warn!(%request_id, operation, principal = %who.principal.urn, "forwarding an unmapped operation without a policy decision (unmapped = \"forward\")");
            rec.decision = Some("unmapped");
            (upstream, Permit::for_unmapped_operation_by_configuration())
        }
    };
    gw.upstreams
        .forward(&permit, &upstream, parts, body, request_id, &gw.metrics)
        .await
}

/// An absolute-form target must name the same authority as Host.
fn check_authority(parts: &Parts) -> Result<(), GatewayError> {
    let (Some(target), Some(host)) = (parts.uri.authority(), parts.headers.get(http::header::HOST))
    else {
        return Ok(());
    };
    if host
        .to_str()
        .is_ok_and(|h| h.eq_ignore_ascii_case(target.as_str()))
    {
        Ok(())
    } else {
        Err(GatewayError::BadRequest(
            "the request target's authority disagrees with Host".into(),
        ))
    }
}

enum Routed<'a> {
    Mapped(RouteMatch<'a>),
    UnmappedForward { upstream: String, operation: String },
}

fn route<'a>(
    gw: &Gateway,
    snap: &'a Snapshot,
    parts: &Parts,
    rec: &mut Record,
) -> Result<Routed<'a>, GatewayError> {
    match snap.routes.lookup(&parts.method, parts.uri.path()) {
        Ok(m) => {
            rec.cloud = Some(m.service.cloud);
            rec.service = Some(m.service.name.clone());
            Ok(Routed::Mapped(m))
        }
        Err(RouteError::BadPath(why)) => {
            Err(GatewayError::BadRequest(format!("ambiguous path: {why}")))
        }
        Err(RouteError::NotFound) => Err(GatewayError::NotFound),
        Err(RouteError::Unmapped { service, operation }) => {
            let svc = snap.routes.service(&service);
            rec.cloud = svc.map(|s| s.cloud).or(rec.cloud);
            rec.service = Some(service.clone());
            match (gw.config.unmapped, svc) {
                (UnmappedPolicy::Forward, Some(s)) => Ok(Routed::UnmappedForward {
                    upstream: s.upstream.clone(),
                    operation,
                }),
                _ => Err(GatewayError::Unmapped { service, operation }),
            }
        }
    }
}

async fn read_body<B: RequestBody>(
    body: B,
    parts: &Parts,
    limit: usize,
) -> Result<Bytes, GatewayError> {
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(GatewayError::BodyTooLarge { limit })
        }
        Err(e) => Err(GatewayError::BadRequest(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

/// Huawei: `{project_id}` must be a project of the caller's account, and a
/// signed `X-Project-Id` must name the same project.
fn project_of<'s>(
    snap: &'s Snapshot,
    route: &RouteMatch<'_>,
    who: &Authenticated,
    parts: &Parts,
) -> Result<Option<&'s Project>, GatewayError> {
    let Some(id) = route.param("project_id") else {
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
fn authorize(
    gw: &Gateway,
    snap: &Snapshot,
    route: &RouteMatch<'_>,
    who: &Authenticated,
    project: Option<&Project>,
    facts: &RequestFacts<'_>,
    rec: &mut Record,
) -> Result<Permit, GatewayError> {
    let cloud = route.service.cloud;
    let region = match cloud {
        Cloud::Huawei => project.map_or("*", |p| p.region.as_str()),
        Cloud::Aliyun => gw.config.region(&route.service.name).unwrap_or("*"),
    };
    // A body or query the policy cannot read unambiguously is refused.
    let base = base_context(cloud, who, route, project, facts)
        .map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let needs: Vec<_> = route
        .actions()
        .map(|a| {
            let resource = route.resource_for(a, region, &who.principal.account_id);
            let mut ctx = base.clone();
            add_resource_keys(&mut ctx, cloud, snap.directory.resources.get(&resource));
            (a.name.clone(), resource, ctx)
        })
        .collect();
    let result = crate::policy::authorize(&who.principal.subject, &needs);
    match result {
        Ok(permit) => {
            if let Some(Grant {
                action,
                resource,
                decision,
            }) = permit.grants().first()
            {
                note(rec, action, resource, decision);
            }
            Ok(permit)
        }
        Err(denial) => {
            note(rec, &denial.action, &denial.resource, &denial.decision);
            let ctx = needs.iter().find(|n| n.0 == denial.action).map(|n| &n.2);
            Err(denied(snap, who, *denial, ctx))
        }
    }
}

fn note(rec: &mut Record, action: &str, resource: &str, decision: &Decision) {
    rec.action = Some(action.to_string());
    rec.resource = resource.to_string();
    rec.decision = Some(decision.kind.as_str());
    rec.deciding = reason_summary(&decision.reason);
}

/// The denial body's details, with the JSON explanation (base64 in the body).
fn denied(
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
    let explanation = json!({
        "action": denial.action,
        "resource": denial.resource,
        "principal": p.urn,
        "decision": denial.decision.kind,
        "reason": denial.decision.reason,
        "summary": reason_summary(&denial.decision.reason),
        "statements": failed,
        "snapshot": snap.digest,
    });
    GatewayError::Denied(Box::new(DenialDetails {
        principal_urn: p.urn.clone(),
        principal_display: p.display_name().to_string(),
        account_id: p.account_id.to_string(),
        is_root: p.is_root(),
        explanation,
        denial,
    }))
}
