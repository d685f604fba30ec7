//! Route files and the route table: `routes/<service>.toml` → [`RouteTable`].
//!
//! A request's method and raw path are checked against the strict path rules
//! ([`path`]), then routed with matchit on the raw path. The router holds
//! normalised templates (parameters renamed by position, see [`template`]);
//! each path keeps a small method table whose entries remember the route's own
//! parameter names. A match yields the service, the route (and so its
//! actions) and the percent-decoded parameters; [`RouteMatch::resource_for`]
//! turns them into a resource name. Unmapped SDK operations match too, and come
//! back as [`RouteError::Unmapped`] so no parameter route can capture them.

mod build;
pub mod canonical;
mod check;
pub mod file;
mod load;
pub use load::CompiledRoutes;
mod path;
mod template;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::cloud::Cloud;

/// One service of the table: its catalog and routes, validated.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub cloud: Cloud,
    pub upstream: String,
    /// Resource name template, e.g. `modelarts:{region}:{account}:{type}:{id}`.
    pub resource_template: String,
    /// Path parameter → condition key it feeds.
    pub param_keys: BTreeMap<String, String>,
    pub actions: Vec<Action>,
    pub routes: Vec<Route>,
    pub unmapped: Vec<UnmappedRoute>,
    /// `resource_template` split at its placeholders.
    template_parts: Vec<Part>,
}

/// A piece of a resource name template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Region,
    Account,
    Type,
    Id,
}

/// One action of a service's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    /// Lower-cased name, for matching.
    pub key: String,
    pub description: Option<String>,
    pub access: Option<String>,
    pub resource_types: Vec<String>,
    pub condition_keys: Vec<String>,
}

/// A mapped REST route.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: http::Method,
    pub path: String,
    /// Indexes into the service's `actions`; all must be allowed.
    pub actions: Vec<usize>,
    pub resource: Option<file::ResourceEntry>,
    pub operation: Option<String>,
    /// The operation carries a request body (else a body is refused, 400).
    pub takes_body: bool,
}

/// An SDK operation with no action in the catalog.
#[derive(Debug, Clone)]
pub struct UnmappedRoute {
    pub method: http::Method,
    pub path: String,
    pub operation: String,
    /// The operation carries a request body (else a body is refused, 400).
    pub takes_body: bool,
}

/// The routing table of every loaded service.
#[derive(Debug, Clone)]
pub struct RouteTable {
    services: Vec<Service>,
    /// Normalised template → index into `paths`.
    router: matchit::Router<usize>,
    paths: Vec<Vec<MethodEntry>>,
    /// Lower-cased action name → (service, action) index.
    actions: HashMap<String, (usize, usize)>,
    /// Static first segment of route paths (`v1`) → cloud.
    prefixes: HashMap<String, Cloud>,
    /// Every static segment of every route template.
    statics: HashSet<String>,
}

/// What one method of one path leads to.
#[derive(Debug, Clone)]
struct MethodEntry {
    method: http::Method,
    service: usize,
    target: Target,
    /// Parameter names as this route's template writes them, in path order.
    params: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Mapped(usize),
    Unmapped(usize),
}

/// The path parameters of a match: (name as written in the route's
/// template, percent-decoded value), in path order. Names are borrowed from
/// the table, values from the request path unless decoding changed them.
pub type Params<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// A routed request.
#[derive(Debug, Clone)]
pub struct RouteMatch<'a> {
    pub service: &'a Service,
    pub route: &'a Route,
    pub params: Params<'a>,
}

/// A routed request: a mapped route, or an SDK operation with no action.
#[derive(Debug, Clone)]
pub enum Routed<'a> {
    Mapped(RouteMatch<'a>),
    Unmapped(UnmappedMatch<'a>),
}

/// A request for a known SDK operation that the catalog maps to no action.
#[derive(Debug, Clone)]
pub struct UnmappedMatch<'a> {
    pub service: &'a Service,
    pub route: &'a UnmappedRoute,
    pub params: Params<'a>,
}

impl<'a> Routed<'a> {
    pub fn service(&self) -> &'a Service {
        match self {
            Routed::Mapped(m) => m.service,
            Routed::Unmapped(u) => u.service,
        }
    }

    /// Whether the operation carries a request body.
    pub fn takes_body(&self) -> bool {
        match self {
            Routed::Mapped(m) => m.route.takes_body,
            Routed::Unmapped(u) => u.route.takes_body,
        }
    }

    /// The decoded `{project_id}` of the path, if the route has one.
    pub fn project_id(&self) -> Option<&str> {
        match self {
            Routed::Mapped(m) => m.param("project_id"),
            Routed::Unmapped(u) => u.param("project_id"),
        }
    }
}

impl UnmappedMatch<'_> {
    /// The decoded value of a path parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }
}

/// The decoded value of the parameter `name`.
fn param<'p>(params: &'p Params<'_>, name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_ref())
}

/// Why a request has no route.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RouteError {
    /// 400: an ambiguous path (never cleaned up); the message says what was wrong.
    #[error("ambiguous path: {0}")]
    BadPath(String),
    /// 404: no route for this method and path.
    #[error("no route")]
    NotFound,
    /// 404 with its own reason: the SDK operation is known but the catalog maps it to no action.
    #[error("operation {operation} of {service} is known but has no action in the catalog")]
    Unmapped { service: String, operation: String },
}

impl RouteTable {
    /// Route a request: strict path rules first, then the router, then the
    /// method table.
    ///
    /// matchit 0.8.6 backtracks: when a static child fails further down, it
    /// retries a parameter sibling, so `/v2/p/workflows/overview/executions`
    /// resolves to `workflows/{workflow_id}/executions` with
    /// `workflow_id = "overview"`. That template is the only one the path fits,
    /// so the route is right (pinned by a test). What would be wrong is a
    /// percent-escape steering a path away from the route its decoded form
    /// takes (`notebooks/fl%61vors` → `{id}` instead of `flavors`): such a
    /// path is refused as ambiguous.
    ///
    /// The match borrows from the table and from `raw_path`.
    pub fn lookup<'a>(
        &'a self,
        method: &http::Method,
        raw_path: &'a str,
    ) -> Result<RouteMatch<'a>, RouteError> {
        match self.route(method, raw_path)? {
            Routed::Mapped(m) => Ok(m),
            Routed::Unmapped(u) => Err(RouteError::Unmapped {
                service: u.service.name.clone(),
                operation: u.route.operation.clone(),
            }),
        }
    }

    /// Like [`RouteTable::lookup`], but an unmapped SDK operation comes back
    /// with its parameters (the proxy checks `{project_id}` of an operation
    /// forwarded under `unmapped = "forward"` like any other).
    pub fn route<'a>(
        &'a self,
        method: &http::Method,
        raw_path: &'a str,
    ) -> Result<Routed<'a>, RouteError> {
        let checked = path::check(raw_path).map_err(RouteError::BadPath)?;
        let matched = self.router.at(raw_path).map_err(|_| RouteError::NotFound)?;
        let entry = self
            .entry(*matched.value, method)
            .ok_or(RouteError::NotFound)?;
        let values = matched.params.iter().map(|(_, value)| value);
        let (params, reroute) = self.decode_params(entry, values, checked.has_escapes);
        if reroute {
            self.check_decoded_route(method, raw_path, entry)?;
        }
        for (name, value) in &params {
            canonical::canonical_id(value)
                .map_err(|why| RouteError::BadPath(format!("parameter {{{name}}}: {why}")))?;
        }
        let service = &self.services[entry.service];
        Ok(match entry.target {
            Target::Mapped(index) => Routed::Mapped(RouteMatch {
                service,
                route: &service.routes[index],
                params,
            }),
            Target::Unmapped(index) => Routed::Unmapped(UnmappedMatch {
                service,
                route: &service.unmapped[index],
                params,
            }),
        })
    }

    /// The method table entry of a routed path.
    fn entry(&self, path_index: usize, method: &http::Method) -> Option<&MethodEntry> {
        self.paths[path_index].iter().find(|e| e.method == *method)
    }

    /// Name and decode the parameter values; `true` when a decoded value
    /// equals a static segment of some route, so that the decoded path might
    /// route elsewhere (only then is it routed again).
    fn decode_params<'a>(
        &self,
        entry: &'a MethodEntry,
        values: impl Iterator<Item = &'a str>,
        has_escapes: bool,
    ) -> (Params<'a>, bool) {
        let mut params = Params::with_capacity(entry.params.len());
        let mut reroute = false;
        for (name, value) in entry.params.iter().zip(values) {
            let value = if has_escapes && value.contains('%') {
                let decoded = path::decode(value);
                reroute |= self.statics.contains(decoded.as_ref());
                decoded
            } else {
                Cow::Borrowed(value)
            };
            params.push((name.as_str(), value));
        }
        (params, reroute)
    }

    /// Refuse a path whose percent-decoded form routes elsewhere.
    fn check_decoded_route(
        &self,
        method: &http::Method,
        raw_path: &str,
        entry: &MethodEntry,
    ) -> Result<(), RouteError> {
        let decoded = path::decode(raw_path);
        let other = self.router.at(&decoded).ok();
        match other.and_then(|m| self.entry(*m.value, method)) {
            Some(other) if !std::ptr::eq(other, entry) => Err(RouteError::BadPath(format!(
                "percent-encoding changes which route {raw_path:?} takes"
            ))),
            _ => Ok(()),
        }
    }

    /// The cloud whose route paths share this path's first segment (`/v1`,
    /// `/v2` → Huawei), for errors before a route matched.
    pub fn cloud_for_path(&self, raw_path: &str) -> Option<Cloud> {
        let first = raw_path.strip_prefix('/')?.split('/').next()?;
        self.prefixes.get(first).copied()
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Case-insensitive lookup of an action across all services.
    pub fn action(&self, name: &str) -> Option<&Action> {
        let (service, action) = self.actions.get(&name.to_lowercase())?;
        Some(&self.services[*service].actions[*action])
    }

    /// Mapped plus unmapped routes of every service.
    pub fn route_count(&self) -> usize {
        self.services
            .iter()
            .map(|s| s.routes.len() + s.unmapped.len())
            .sum()
    }
}

impl<'a> RouteMatch<'a> {
    /// The decoded value of a path parameter, by the name this route gives it.
    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.params, name)
    }

    /// The actions the route requires (all must be allowed).
    pub fn actions(&self) -> impl Iterator<Item = &'a Action> + '_ {
        let service = self.service;
        self.route.actions.iter().map(move |i| &service.actions[*i])
    }

    /// Resource name for one of the route's actions: `*` if the action has no
    /// resource type; else the service template with `{type}` = the route's
    /// resource type if the action supports it and `{id}` = the decoded id
    /// param (`*` when the route names none). An action that does not support
    /// the route's type gets its first type and id `*`: the route's id is an
    /// id of another type.
    pub fn resource_for(&self, action: &Action, region: &str, account: &str) -> String {
        let Some(first_type) = action.resource_types.first() else {
            return "*".to_string();
        };
        let resource = self.route.resource.as_ref();
        let (kind, id) = match resource {
            Some(r) if action.resource_types.contains(&r.kind) => {
                let id = r.id.as_deref().and_then(|name| self.param(name));
                (r.kind.as_str(), id.unwrap_or("*"))
            }
            _ => (first_type.as_str(), "*"),
        };
        let mut out = String::with_capacity(64);
        for part in &self.service.template_parts {
            out.push_str(match part {
                Part::Text(text) => text,
                Part::Region => region,
                Part::Account => account,
                Part::Type => kind,
                Part::Id => id,
            });
        }
        out
    }
}
