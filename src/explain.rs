//! `iamgate explain`: decide one request offline, like the clouds' policy
//! simulators, and show why. The request is either a method + path (routed
//! with the gateway's strict rules) or an action + resource. The condition
//! context is built as the gateway builds it (`proxy::context`): principal
//! keys, project and region, resource keys from resources.toml and the time;
//! connection keys (source IP, TLS, user agent, MFA) stay absent unless given
//! with `--context`. Every statement the engine sees is judged and shown.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::config::Config;
use crate::diag::Diagnostic;
use crate::directory::{Principal, Project};
use crate::identity::Authenticated;
use crate::policy::explain::{trace, Outcome, StatementTrace};
use crate::policy::{evaluate, Context, Decision, PolicySource, Reason};
use crate::proxy::context::{add_resource_keys, base_context, RequestFacts};
use crate::routes::{Route, RouteMatch, Service};
use crate::snapshot::Snapshot;

/// Who asks.
#[derive(Debug, Clone)]
pub enum Who {
    /// A user by name; the account narrows the search when the name is not unique.
    User {
        name: String,
        account: Option<String>,
    },
    /// The account's root identity.
    Root { account: String },
}

/// What is asked.
#[derive(Debug, Clone)]
pub enum Target {
    /// An HTTP request, routed as the gateway routes it (the path may carry a query).
    Route { method: String, path: String },
    /// One action on one resource (URN/ARN or `*`).
    Action { action: String, resource: String },
}

/// A `--context key=value` (or `key=["a","b"]` for a multi-valued key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextOverride {
    pub key: String,
    pub values: Vec<String>,
    pub multi: bool,
}

/// Everything `iamgate explain` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    /// Another policy tree instead of the config's.
    pub policies: Option<PathBuf>,
    /// Another route folder instead of the config's.
    pub routes: Option<PathBuf>,
    pub who: Who,
    pub target: Target,
    pub context: Vec<ContextOverride>,
    pub now: OffsetDateTime,
    pub json: bool,
}

/// Why no decision could be made (exit code 1).
#[derive(Debug)]
pub enum ExplainError {
    /// The files did not load; every diagnostic.
    Load(Vec<Diagnostic>),
    /// The question itself is wrong: unknown user, no route, bad method.
    Usage(String),
}

/// Why the whole request was decided as it was.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Why {
    Policy(Reason),
    /// The gateway refuses the project before any policy is evaluated.
    Project {
        #[serde(rename = "type")]
        kind: &'static str,
        project: String,
        why: String,
    },
}

/// The request as explain understood it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestLine {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// One (action, resource) the request needs, decided and traced.
#[derive(Debug, Clone, Serialize)]
pub struct RequestExplanation {
    pub action: String,
    pub resource: String,
    /// `allow`, `explicit_deny` or `implicit_deny`.
    pub decision: &'static str,
    pub reason: Reason,
    pub summary: String,
    pub context: BTreeMap<String, Vec<String>>,
    pub statements: Vec<StatementTrace>,
}

/// The answer, with every field `--json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// `allow` or `deny`.
    pub decision: &'static str,
    /// `allow`, `explicit_deny`, `implicit_deny` or `project_denied`.
    pub kind: &'static str,
    pub reason: Why,
    pub summary: String,
    pub principal: String,
    pub account: String,
    pub request: RequestLine,
    pub requests: Vec<RequestExplanation>,
    /// The context of the deciding request (every key used, normalised names).
    pub context: BTreeMap<String, Vec<String>>,
    /// Keys the gateway sets from the connection that explain leaves absent.
    pub unset_keys: Vec<String>,
    pub notes: Vec<String>,
    pub snapshot: String,
}

impl Explanation {
    pub fn is_allowed(&self) -> bool {
        self.decision == "allow"
    }
}

/// Parse `key=value`; a value that is a JSON array sets a multi-valued key.
pub fn parse_context(arg: &str) -> Result<ContextOverride, String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}`: expected key=value"))?;
    let key = key.trim();
    if key.is_empty() || !key.contains(':') {
        return Err(format!(
            "`{key}` is not a condition key (expected e.g. g:SourceIp)"
        ));
    }
    if !value.trim_start().starts_with('[') {
        return Ok(ContextOverride {
            key: key.to_string(),
            values: vec![value.to_string()],
            multi: false,
        });
    }
    let items: Vec<serde_json::Value> = serde_json::from_str(value)
        .map_err(|e| format!("`{value}` is not a JSON array of values: {e}"))?;
    let values = items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Ok(v.to_string()),
            other => Err(format!(
                "`{other}`: values must be strings, numbers or booleans"
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(ContextOverride {
        key: key.to_string(),
        values,
        multi: true,
    })
}

/// Parse `--now` (RFC 3339, e.g. `2026-01-01T00:00:00Z`).
pub fn parse_time(arg: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(arg, &Rfc3339)
        .map_err(|e| format!("`{arg}` is not an RFC 3339 time ({e})"))
}

/// Run `iamgate explain` and print the answer. Returns the exit code:
/// 0 allowed, 2 denied, 1 when no decision could be made.
pub fn run(opts: &Options) -> u8 {
    match explain(opts) {
        Ok(e) => {
            if opts.json {
                match serde_json::to_string_pretty(&e) {
                    Ok(text) => println!("{text}"),
                    Err(err) => {
                        eprintln!("iamgate explain: {err}");
                        return 1;
                    }
                }
            } else {
                print!("{}", render_text(&e));
            }
            if e.is_allowed() {
                0
            } else {
                2
            }
        }
        Err(ExplainError::Load(diags)) => {
            for d in &diags {
                eprintln!("{d}");
            }
            let errors = diags.iter().filter(|d| !d.warning).count();
            eprintln!("iamgate explain: {errors} error(s) loading the configuration (run `iamgate check`)");
            1
        }
        Err(ExplainError::Usage(msg)) => {
            eprintln!("iamgate explain: {msg}");
            1
        }
    }
}

/// Decide the request and explain every statement.
pub fn explain(opts: &Options) -> Result<Explanation, ExplainError> {
    let (snap, config) = load(opts)?;
    let principal = resolve(&snap, &opts.who)?;
    let asked = match &opts.target {
        Target::Route { method, path } => {
            route_request(&snap, config.as_ref(), &principal, method, path, opts.now)?
        }
        Target::Action { action, resource } => {
            action_request(&snap, &principal, action, resource, opts.now)?
        }
    };
    Ok(decide(&snap, &principal, asked, opts))
}

/// The snapshot (and the config when there is one): the config's trees, or
/// `--policies` / `--routes` instead. With `--policies` a missing config
/// file is fine.
fn load(opts: &Options) -> Result<(Snapshot, Option<Config>), ExplainError> {
    let config = if opts.policies.is_some() && !opts.config.exists() {
        None
    } else {
        Some(Config::load(&opts.config).map_err(ExplainError::Load)?)
    };
    let snap = match (&config, &opts.policies, &opts.routes) {
        (Some(c), None, None) => Snapshot::load(c),
        (c, policies, routes) => {
            let routes = routes
                .clone()
                .or_else(|| c.as_ref().map(|c| c.routes_dir.clone()))
                .unwrap_or_else(|| "routes".into());
            let policies = policies
                .clone()
                .or_else(|| c.as_ref().map(|c| c.policies_dir.clone()))
                .unwrap_or_else(|| "policies".into());
            Snapshot::load_dirs(&routes, &policies, None)
        }
    };
    Ok((snap.map_err(ExplainError::Load)?, config))
}

fn resolve(snap: &Snapshot, who: &Who) -> Result<Arc<Principal>, ExplainError> {
    let dir = &snap.directory;
    match who {
        Who::Root { account } => dir
            .principal(account, None)
            .cloned()
            .ok_or_else(|| ExplainError::Usage(format!("no account `{account}` in accounts.toml"))),
        Who::User { name, account } => {
            let found = dir.find_user(name, account.as_deref());
            match found.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(ExplainError::Usage(match account {
                    Some(a) => format!("no user `{name}` in account `{a}`"),
                    None => format!("no user `{name}` in accounts.toml"),
                })),
                many => {
                    let ids: Vec<&str> = many.iter().map(|p| &*p.account_id).collect();
                    Err(ExplainError::Usage(format!(
                        "user `{name}` exists in accounts {}: pass --account",
                        ids.join(", ")
                    )))
                }
            }
        }
    }
}

/// What the request needs, before any decision.
enum Asked {
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
fn connection_keys(cloud: Cloud) -> Vec<String> {
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
    let mut ctx = base_context(principal.cloud, &who, route, project, &facts);
    for key in connection_keys(principal.cloud) {
        ctx.remove(&key);
    }
    ctx
}

fn route_request(
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
            "{} is a {} principal but {m} {path} is a route of the {} service {}; the gateway would not find its credentials (401)",
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

fn action_request(
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

fn apply_overrides(ctx: &mut Context, overrides: &[ContextOverride]) {
    for o in overrides {
        if o.multi {
            ctx.set_multi(&o.key, o.values.clone());
        } else {
            ctx.set(&o.key, o.values.concat());
        }
    }
}

fn context_map(ctx: &Context) -> BTreeMap<String, Vec<String>> {
    ctx.entries()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
}

fn decide(snap: &Snapshot, principal: &Principal, asked: Asked, opts: &Options) -> Explanation {
    let given: Vec<String> = opts.context.iter().map(|o| o.key.to_lowercase()).collect();
    let unset_keys = connection_keys(principal.cloud)
        .into_iter()
        .filter(|k| !given.contains(&k.to_lowercase()))
        .collect();
    let mut e = Explanation {
        decision: "deny",
        kind: "project_denied",
        reason: Why::Policy(Reason::NoIdentityAllow),
        summary: String::new(),
        principal: principal.urn.clone(),
        account: principal.account_id.to_string(),
        request: RequestLine::default(),
        requests: Vec::new(),
        context: BTreeMap::new(),
        unset_keys,
        notes: Vec::new(),
        snapshot: snap.digest.clone(),
    };
    match asked {
        Asked::ProjectRefused { line, project, why } => {
            e.summary = format!("project {project}: {why} (the gateway answers 403)");
            e.reason = Why::Project {
                kind: "project",
                project,
                why,
            };
            e.request = line;
        }
        Asked::Needs { line, needs, notes } => {
            e.request = line;
            e.notes = notes;
            e.requests = needs
                .into_iter()
                .map(|(action, resource, mut ctx)| {
                    apply_overrides(&mut ctx, &opts.context);
                    judge(principal, action, resource, &ctx)
                })
                .collect();
            overall(&mut e);
        }
    }
    e
}

fn judge(
    principal: &Principal,
    action: String,
    resource: String,
    ctx: &Context,
) -> RequestExplanation {
    let decision: Decision = evaluate(&principal.subject, &action, &resource, ctx);
    RequestExplanation {
        statements: trace(&principal.subject, &action, &resource, ctx),
        decision: decision.kind.as_str(),
        summary: reason_text(&decision.reason),
        reason: decision.reason,
        context: context_map(ctx),
        action,
        resource,
    }
}

/// The request's decision: the first action not allowed, else an allow
/// (every action must be allowed, as `policy::authorize` requires).
fn overall(e: &mut Explanation) {
    let deciding = e
        .requests
        .iter()
        .find(|r| r.decision != "allow")
        .or_else(|| e.requests.first());
    let Some(r) = deciding else {
        e.kind = "implicit_deny";
        e.summary = "the route requires no action".into();
        return;
    };
    e.decision = if r.decision == "allow" {
        "allow"
    } else {
        "deny"
    };
    e.kind = r.decision;
    e.reason = Why::Policy(r.reason.clone());
    e.summary = r.summary.clone();
    e.context = r.context.clone();
}

/// The deciding reason in words.
pub fn reason_text(reason: &Reason) -> String {
    match reason {
        Reason::Statement(s) => s.to_string(),
        Reason::NoOrgAllow { level, node } => {
            format!("no policy attached at organisation level {level} ({node}) allows it")
        }
        Reason::NoIdentityAllow => "no identity-based policy allows it".into(),
        Reason::RootUser => "the account root identity (identity policies do not apply)".into(),
    }
}

fn kind_text(kind: &str) -> &'static str {
    match kind {
        "allow" => "allow",
        "explicit_deny" => "explicit deny",
        "implicit_deny" => "implicit deny",
        _ => "deny (project refused)",
    }
}

fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Matched => "matched".into(),
        Outcome::ActionNotMatched => "action not matched".into(),
        Outcome::ResourceNotMatched => "resource not matched".into(),
        Outcome::ConditionFailed {
            operator,
            key,
            request_values,
        } => {
            let values = match request_values.as_deref() {
                None => "key absent from the request".to_string(),
                Some([one]) => format!("request value {one:?}"),
                Some(many) => format!("request values {many:?}"),
            };
            format!("condition failed: {operator} {key}, {values}")
        }
    }
}

fn statement_text(t: &StatementTrace) -> String {
    let s = &t.statement;
    let place = match &s.source {
        PolicySource::Org { level, node } => format!("org level {level} ({node})"),
        PolicySource::Identity => "identity".to_string(),
    };
    let sid = s
        .sid
        .as_ref()
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    format!(
        "  [{place}] {}#{}{sid} {:?}: {}",
        s.policy,
        s.index,
        t.effect,
        outcome_text(&t.outcome)
    )
}

/// The human-readable report.
pub fn render_text(e: &Explanation) -> String {
    let mut out = Vec::new();
    out.push(format!("decision: {}", kind_text(e.kind)));
    out.push(format!("  because: {}", e.summary));
    out.push(format!(
        "principal: {} (account {})",
        e.principal, e.account
    ));
    out.push(format!("request: {}", request_text(&e.request)));
    for n in &e.notes {
        out.push(format!("note: {n}"));
    }
    for r in &e.requests {
        out.push(format!(
            "action {} on {}: {} ({})",
            r.action,
            r.resource,
            kind_text(r.decision),
            r.summary
        ));
    }
    if !e.context.is_empty() {
        out.push("context:".into());
        for (k, v) in &e.context {
            let shown = match v.as_slice() {
                [one] => format!("{one:?}"),
                many => format!("{many:?}"),
            };
            out.push(format!("  {k} = {shown}"));
        }
    }
    if !e.unset_keys.is_empty() {
        out.push(format!(
            "absent (give them with --context): {}",
            e.unset_keys.join(", ")
        ));
    }
    for r in &e.requests {
        out.push(format!("statements for {} on {}:", r.action, r.resource));
        out.extend(r.statements.iter().map(statement_text));
    }
    out.push(format!("snapshot: {}", e.snapshot));
    out.join("\n") + "\n"
}

fn request_text(r: &RequestLine) -> String {
    let mut parts = Vec::new();
    if let (Some(m), Some(p)) = (&r.method, &r.path) {
        parts.push(format!("{m} {p}"));
    }
    if let Some(s) = &r.service {
        parts.push(format!("service {s}"));
    }
    if let Some(o) = &r.operation {
        parts.push(format!("operation {o}"));
    }
    if let Some(p) = &r.project {
        parts.push(format!("project {p}"));
    }
    if let Some(reg) = &r.region {
        parts.push(format!("region {reg}"));
    }
    if parts.is_empty() {
        "action and resource as given".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn context_values_single_and_multi() {
        let one = parse_context("g:SourceIp=10.0.0.1").unwrap();
        assert_eq!(one.values, ["10.0.0.1"]);
        assert!(!one.multi);
        let many = parse_context(r#"g:TagKeys=["a","b",3]"#).unwrap();
        assert_eq!(many.values, ["a", "b", "3"]);
        assert!(many.multi);
        let empty = parse_context("g:TagKeys=[]").unwrap();
        assert!(empty.multi && empty.values.is_empty());
        assert!(parse_context("novalue").is_err());
        assert!(parse_context("nokey=1").is_err());
        assert!(parse_context("g:TagKeys=[oops").is_err());
    }

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

    #[test]
    fn times_parse_as_rfc3339() {
        assert!(parse_time("2026-01-01T00:00:00Z").is_ok());
        assert!(parse_time("yesterday").is_err());
    }
}
