//! The offline request: route it (or take the action and resource as
//! given), check the project as the gateway does, and build each action's
//! condition context with the gateway's own `proxy::context` functions,
//! leaving out the connection keys explain cannot know.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{ExplainError, RequestLine};
use crate::cloud::Cloud;
use crate::config::Config;
use crate::directory::{Principal, Project};
use crate::identity::Authenticated;
use crate::policy::Context;
use crate::proxy::context::{add_resource_keys, base_context, RequestFacts};
use crate::routes::{Route, RouteMatch, Service};
use crate::snapshot::Snapshot;

/// What the request needs, before any decision.
pub(super) enum Asked {
    /// (action, resource, context) for every action, all to be allowed.
    Needs {
        line: RequestLine,
        needs: Vec<(String, String, Context)>,
        notes: Vec<String>,
    },
    /// The gateway refuses the project (403) before evaluating policies.
    ProjectRefused {
        line: RequestLine,
        project: String,
        why: String,
    },
}

/// Keys the gateway takes from the connection and the credential; explain
/// has neither, so they stay absent unless `--context` gives them.
pub(super) fn connection_keys(cloud: Cloud) -> Vec<String> {
    let g = match cloud {
        Cloud::Huawei => "g",
        Cloud::Aliyun => "acs",
    };
    let mut keys: Vec<String> = ["SourceIp", "SecureTransport", "UserAgent", "MFAPresent"]
        .iter()
        .map(|k| format!("{g}:{k}"))
        .collect();
    if cloud == Cloud::Aliyun {
        keys.push("acs:AccessId".into());
    }
    keys
}

/// The gateway's base context for this principal and route, minus the
/// connection keys explain does not know.
fn offline_context(
    principal: &Arc<Principal>,
    route: &RouteMatch<'_>,
    project: Option<&Project>,
    raw_query: Option<&str>,
    now: OffsetDateTime,
) -> Context {
    let who = Authenticated {
        principal: principal.clone(),
        access_key: None,
        mfa: false,
    };
    let headers = http::HeaderMap::new();
    let facts = RequestFacts {
        peer: std::net::IpAddr::from([0, 0, 0, 0]),
        tls: false,
        now,
        headers: &headers,
        body: b"",
        raw_query,
    };
    // No body offline; a query naming the enterprise project twice gives
    // none here, where the gateway would answer 400.
    let mut ctx = base_context(principal.cloud, &who, route, project, &facts).unwrap_or_default();
    for key in connection_keys(principal.cloud) {
        ctx.remove(&key);
    }
    ctx
}

pub(super) fn route_request(
    snap: &Snapshot,
    config: Option<&Config>,
    principal: &Arc<Principal>,
    method: &str,
    target: &str,
    now: OffsetDateTime,
) -> Result<Asked, ExplainError> {
    let usage = ExplainError::Usage;
    let m = http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| usage(format!("`{method}` is not an HTTP method")))?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let route = snap.routes.lookup(&m, path).map_err(|e| {
        usage(format!(
            "{m} {path}: {e} (the gateway refuses it before any policy)"
        ))
    })?;
    let service = route.service;
    if service.cloud != principal.cloud {
        return Err(usage(format!(
            "{} is a principal of the {} cloud, but {m} {path} is a route of the {} service {}; the gateway would not find its credentials (401)",
            principal.urn, principal.cloud, service.cloud, service.name
        )));
    }
    let mut line = RequestLine {
        method: Some(m.to_string()),
        path: Some(target.to_string()),
        service: Some(service.name.clone()),
        operation: route.route.operation.clone(),
        ..RequestLine::default()
    };
    let project = match project_of(snap, &route, principal) {
        Ok(p) => p,
        Err((project, why)) => {
            line.project = Some(project.clone());
            return Ok(Asked::ProjectRefused { line, project, why });
        }
    };
    let region = match service.cloud {
        Cloud::Huawei => project.map_or("*", |p| p.region.as_str()),
        Cloud::Aliyun => config.and_then(|c| c.region(&service.name)).unwrap_or("*"),
    };
    line.project = project.map(|p| p.id.clone());
    line.region = Some(region.to_string());
    let base = offline_context(principal, &route, project, query, now);
    let needs = route
        .actions()
        .map(|a| {
            let resource = route.resource_for(a, region, &principal.account_id);
            let mut ctx = base.clone();
            add_resource_keys(
                &mut ctx,
                service.cloud,
                snap.directory.resources.get(&resource),
            );
            (a.name.clone(), resource, ctx)
        })
        .collect();
    Ok(Asked::Needs {
        line,
        needs,
        notes: Vec::new(),
    })
}

/// `{project_id}` must be a project of the principal's account (as the
/// gateway checks it); Err carries (project, why not).
fn project_of<'s>(
    snap: &'s Snapshot,
    route: &RouteMatch<'_>,
    principal: &Principal,
) -> Result<Option<&'s Project>, (String, String)> {
    let Some(id) = route.param("project_id") else {
        return Ok(None);
    };
    let Some(project) = snap.directory.projects.get(id) else {
        return Err((id.to_string(), "unknown project".into()));
    };
    if project.account_id != principal.account_id {
        return Err((
            id.to_string(),
            format!(
                "the project belongs to account {}, not to the caller's account {}",
                project.account_id, principal.account_id
            ),
        ));
    }
    Ok(Some(project))
}

/// The service that defines `action`, else any service of the cloud: its
/// path-parameter keys are the only thing the base context reads from it.
fn service_for<'a>(snap: &'a Snapshot, cloud: Cloud, action: &str) -> Option<&'a Service> {
    let key = action.to_lowercase();
    let services = snap.routes.services();
    services
        .iter()
        .find(|s| s.cloud == cloud && s.actions.iter().any(|a| a.key == key))
        .or_else(|| services.iter().find(|s| s.cloud == cloud))
}

/// A Huawei project of the principal's account in `region`, if any.
fn project_in_region<'s>(
    snap: &'s Snapshot,
    principal: &Principal,
    region: &str,
) -> Option<&'s Project> {
    let mut found: Vec<&Project> = snap
        .directory
        .projects
        .values()
        .filter(|p| p.account_id == principal.account_id && p.region == region)
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    found.first().copied()
}

pub(super) fn action_request(
    snap: &Snapshot,
    principal: &Arc<Principal>,
    action: &str,
    resource: &str,
    now: OffsetDateTime,
) -> Result<Asked, ExplainError> {
    let cloud = principal.cloud;
    let service = service_for(snap, cloud, action).ok_or_else(|| {
        ExplainError::Usage(format!("no route file of the {cloud} cloud is loaded"))
    })?;
    let mut notes = Vec::new();
    if snap.routes.action(action).is_none() {
        notes.push(format!(
            "`{action}` is not in any route file's action catalog"
        ));
    }
    let no_route = Route {
        method: http::Method::GET,
        path: String::new(),
        actions: Vec::new(),
        resource: None,
        operation: None,
        takes_body: false,
    };
    let route = RouteMatch {
        service,
        route: &no_route,
        params: Vec::new(),
    };
    let region = resource_region(cloud, resource);
    let project = match (cloud, region) {
        (Cloud::Huawei, Some(r)) => project_in_region(snap, principal, r),
        _ => None,
    };
    let mut ctx = offline_context(principal, &route, project, None, now);
    if let (Cloud::Huawei, Some(r), None) = (cloud, region, project) {
        ctx.set("g:RequestedRegion", r);
    }
    add_resource_keys(&mut ctx, cloud, snap.directory.resources.get(resource));
    let line = RequestLine {
        service: Some(service.name.clone()).filter(|_| notes.is_empty()),
        project: project.map(|p| p.id.clone()),
        region: region.map(str::to_string),
        ..RequestLine::default()
    };
    let needs = vec![(action.to_string(), resource.to_string(), ctx)];
    Ok(Asked::Needs { line, needs, notes })
}

/// The region field of a URN (`svc:region:…`) or ARN (`acs:svc:region:…`),
/// when it names one region.
fn resource_region(cloud: Cloud, resource: &str) -> Option<&str> {
    let at = match cloud {
        Cloud::Huawei => 1,
        Cloud::Aliyun => 2,
    };
    resource
        .split(':')
        .nth(at)
        .filter(|r| !r.is_empty() && !r.contains(['*', '?']))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn regions_of_urns_and_arns() {
        assert_eq!(
            resource_region(Cloud::Huawei, "modelarts:cn-north-4:a:notebook:n"),
            Some("cn-north-4")
        );
        assert_eq!(resource_region(Cloud::Huawei, "*"), None);
        assert_eq!(
            resource_region(Cloud::Huawei, "modelarts:*:a:notebook:n"),
            None
        );
        assert_eq!(
            resource_region(Cloud::Aliyun, "acs:agentrun:cn-hangzhou:1:runtimes/x"),
            Some("cn-hangzhou")
        );
    }
}
