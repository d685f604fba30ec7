//! Building a [`RouteTable`] from parsed route files: check what the files
//! mean and compile the router.
//!
//! Every problem is collected as a [`Diagnostic`] with its file and place
//! (line:column for TOML syntax, a pointer such as `/route/12/actions/0` for
//! errors of meaning), and all of them are reported at once: unknown methods,
//! bad path templates, invalid or unknown action names, a resource type the
//! route's actions do not support, an id parameter missing from the path,
//! duplicate routes (also across files, also mapped vs unmapped), and two
//! clouds claiming the same first path segment.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::check::{parse_method, parse_resource_template, valid_action_name, valid_service_name};
use super::file::{self, RouteEntry, ServiceFile, UnmappedEntry};
use super::template::{self, Template};
use super::{Action, MethodEntry, Route, RouteTable, Service, Target, UnmappedRoute};
use crate::cloud::Cloud;
use crate::diag::{self, Diagnostic, Place};

impl RouteTable {
    /// Build from already-parsed files (path used for diagnostics).
    pub fn from_files(
        files: Vec<(PathBuf, ServiceFile)>,
    ) -> Result<(RouteTable, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut builder = Builder::default();
        for (path, file) in files {
            builder.add_file(&path, file);
        }
        builder.finish()
    }
}

/// Accumulates services, router entries and diagnostics file by file.
#[derive(Default)]
struct Builder {
    services: Vec<Service>,
    router: matchit::Router<usize>,
    paths: Vec<Vec<MethodEntry>>,
    by_template: HashMap<String, usize>,
    /// (path index, method) → (`file#/route/3`, unmapped?) of the first definition.
    origins: HashMap<(usize, http::Method), (String, bool)>,
    actions: HashMap<String, (usize, usize)>,
    prefixes: HashMap<String, (Cloud, String)>,
    reported_prefixes: HashSet<(String, usize)>,
    statics: HashSet<String>,
    diags: Vec<Diagnostic>,
}

/// One route of a file on its way into the table.
struct Registration<'a> {
    file: &'a Path,
    place: String,
    method: &'a str,
    path: &'a str,
    target: Target,
}

impl Builder {
    fn error(&mut self, file: &Path, place: impl Into<String>, message: impl Into<String>) {
        let place = Place::Pointer(place.into());
        self.diags.push(Diagnostic::error(file, place, message));
    }

    fn add_file(&mut self, file: &Path, source: ServiceFile) {
        if !valid_service_name(&source.service) {
            self.error(
                file,
                "/service",
                format!("invalid service name {:?}", source.service),
            );
        }
        if self.services.iter().any(|s| s.name == source.service) {
            self.error(
                file,
                "/service",
                format!("service {:?} is defined twice", source.service),
            );
        }
        let template_parts = parse_resource_template(&source.resource).unwrap_or_else(|why| {
            self.error(file, "/resource", why);
            Vec::new()
        });
        let index = self.services.len();
        let actions = self.add_actions(file, index, &source);
        self.services.push(Service {
            name: source.service.clone(),
            cloud: source.cloud,
            upstream: source.upstream.clone(),
            resource_template: source.resource.clone(),
            param_keys: source.param_keys.clone(),
            actions,
            routes: Vec::new(),
            unmapped: Vec::new(),
            template_parts,
        });
        for (i, route) in source.routes.iter().enumerate() {
            self.add_route(file, index, i, route);
        }
        for (i, entry) in source.unmapped.iter().enumerate() {
            self.add_unmapped(file, index, i, entry);
        }
        self.check_param_keys(file, index);
    }

    fn add_actions(&mut self, file: &Path, service: usize, source: &ServiceFile) -> Vec<Action> {
        let mut actions: Vec<Action> = Vec::new();
        for (i, entry) in source.actions.iter().enumerate() {
            let place = format!("/action/{i}/name");
            let key = entry.name.to_lowercase();
            if !valid_action_name(&entry.name) {
                self.error(
                    file,
                    &place,
                    format!("invalid action name {:?}", entry.name),
                );
            }
            if actions.iter().any(|a| a.key == key) {
                self.error(
                    file,
                    &place,
                    format!("action {:?} is defined twice", entry.name),
                );
            } else if let Some((other, _)) = self.actions.get(&key) {
                let message = format!(
                    "action {:?} is also defined by service {}",
                    entry.name, self.services[*other].name
                );
                self.diags
                    .push(Diagnostic::warning(file, Place::Pointer(place), message));
            } else {
                self.actions.insert(key.clone(), (service, actions.len()));
            }
            actions.push(Action {
                name: entry.name.clone(),
                key,
                description: entry.description.clone(),
                access: entry.access.clone(),
                resource_types: entry.resource_types.clone(),
                condition_keys: entry.condition_keys.clone(),
            });
        }
        actions
    }

    fn add_route(&mut self, file: &Path, service: usize, i: usize, entry: &RouteEntry) {
        let place = format!("/route/{i}");
        let target = Target::Mapped(self.services[service].routes.len());
        let registration = Registration {
            file,
            place: place.clone(),
            method: &entry.method,
            path: &entry.path,
            target,
        };
        // Actions and resource are checked even when the route cannot be
        // entered (a duplicate, a bad method), so every error shows at once.
        let actions = self.resolve_actions(file, &place, service, &entry.actions);
        if let Ok(template) = template::parse(&entry.path) {
            self.check_resource(file, &place, service, entry, &actions, &template);
        }
        let Some((method, _)) = self.register(service, registration) else {
            return;
        };
        let takes_body = entry.body.unwrap_or(file::body_by_method(method.as_str()));
        self.services[service].routes.push(Route {
            method,
            path: entry.path.clone(),
            actions,
            resource: entry.resource.clone(),
            operation: entry.operation.clone(),
            takes_body,
        });
    }

    fn add_unmapped(&mut self, file: &Path, service: usize, i: usize, entry: &UnmappedEntry) {
        let target = Target::Unmapped(self.services[service].unmapped.len());
        let place = format!("/unmapped/{i}");
        let registration = Registration {
            file,
            place,
            method: &entry.method,
            path: &entry.path,
            target,
        };
        if let Some((method, _)) = self.register(service, registration) {
            let takes_body = entry.body.unwrap_or(file::body_by_method(method.as_str()));
            self.services[service].unmapped.push(UnmappedRoute {
                method,
                path: entry.path.clone(),
                operation: entry.operation.clone(),
                takes_body,
            });
        }
    }

    /// Check method and path, then enter the route into the router and the
    /// method table; `None` (with an error recorded) when it cannot be.
    fn register(
        &mut self,
        service: usize,
        r: Registration<'_>,
    ) -> Option<(http::Method, Template)> {
        let method = parse_method(r.method)
            .map_err(|why| self.error(r.file, format!("{}/method", r.place), why));
        let template = template::parse(r.path)
            .map_err(|why| self.error(r.file, format!("{}/path", r.place), why));
        let (method, template) = (method.ok()?, template.ok()?);
        self.check_prefix(r.file, &r.place, service, &template);
        let index = self.path_index(r.file, &r.place, &template)?;
        let unmapped = matches!(r.target, Target::Unmapped(_));
        if let Some((first, first_unmapped)) = self.origins.get(&(index, method.clone())) {
            let message = if unmapped == *first_unmapped {
                format!(
                    "duplicate route {method} {}: {first} already routes it",
                    r.path
                )
            } else {
                format!(
                    "{method} {} is both mapped and unmapped (see {first})",
                    r.path
                )
            };
            self.error(r.file, format!("{}/path", r.place), message);
            return None;
        }
        let origin = format!("{}#{}", r.file.display(), r.place);
        self.origins
            .insert((index, method.clone()), (origin, unmapped));
        let entry = MethodEntry {
            method: method.clone(),
            service,
            target: r.target,
            params: template.params.clone(),
        };
        self.paths[index].push(entry);
        Some((method, template))
    }

    /// The method table of a normalised template, inserting it when new.
    fn path_index(&mut self, file: &Path, place: &str, template: &Template) -> Option<usize> {
        if let Some(index) = self.by_template.get(&template.normalised) {
            return Some(*index);
        }
        let index = self.paths.len();
        if let Err(e) = self.router.insert(template.normalised.clone(), index) {
            self.error(
                file,
                format!("{place}/path"),
                format!("the router refuses this path: {e}"),
            );
            return None;
        }
        self.paths.push(Vec::new());
        self.by_template.insert(template.normalised.clone(), index);
        let statics = template
            .normalised
            .split('/')
            .filter(|s| !s.starts_with('{'));
        self.statics.extend(statics.map(str::to_string));
        Some(index)
    }

    /// Two clouds must not claim the same first segment (`/v1`).
    fn check_prefix(&mut self, file: &Path, place: &str, service: usize, template: &Template) {
        let Some(first) = &template.first_segment else {
            return;
        };
        let (cloud, name) = (
            self.services[service].cloud,
            self.services[service].name.clone(),
        );
        let (other_cloud, other) = self
            .prefixes
            .entry(first.clone())
            .or_insert((cloud, name))
            .clone();
        if other_cloud != cloud && self.reported_prefixes.insert((first.clone(), service)) {
            let message = format!("first segment /{first} is already claimed by service {other} of cloud {other_cloud}");
            self.error(file, format!("{place}/path"), message);
        }
    }

    fn resolve_actions(
        &mut self,
        file: &Path,
        place: &str,
        service: usize,
        names: &[String],
    ) -> Vec<usize> {
        if names.is_empty() {
            self.error(
                file,
                format!("{place}/actions"),
                "a route needs at least one action",
            );
        }
        let mut indices = Vec::new();
        for (j, name) in names.iter().enumerate() {
            let key = name.to_lowercase();
            match self.services[service]
                .actions
                .iter()
                .position(|a| a.key == key)
            {
                Some(index) => indices.push(index),
                None => self.error(
                    file,
                    format!("{place}/actions/{j}"),
                    format!("unknown action {name:?}"),
                ),
            }
        }
        indices
    }

    fn check_resource(
        &mut self,
        file: &Path,
        place: &str,
        service: usize,
        entry: &RouteEntry,
        actions: &[usize],
        template: &Template,
    ) {
        let Some(resource) = &entry.resource else {
            return;
        };
        let all = &self.services[service].actions;
        if !actions.is_empty()
            && !actions
                .iter()
                .any(|i| all[*i].resource_types.contains(&resource.kind))
        {
            let types: Vec<&str> = actions
                .iter()
                .flat_map(|i| all[*i].resource_types.iter().map(String::as_str))
                .collect();
            let message = format!(
                "resource type {:?} is not among the route's action types {types:?}",
                resource.kind
            );
            self.error(file, format!("{place}/resource/type"), message);
        }
        if let Some(id) = &resource.id {
            if !template.params.contains(id) {
                self.error(
                    file,
                    format!("{place}/resource/id"),
                    format!("id parameter {{{id}}} is not in the path"),
                );
            }
        }
    }

    /// Warn about a `param_keys` entry no route of the service has.
    fn check_param_keys(&mut self, file: &Path, service: usize) {
        let s = &self.services[service];
        let unused: Vec<String> = s
            .param_keys
            .keys()
            .filter(|k| {
                !s.routes
                    .iter()
                    .any(|r| r.path.contains(&format!("{{{k}}}")))
            })
            .cloned()
            .collect();
        for key in unused {
            let place = Place::Pointer(format!("/param_keys/{key}"));
            self.diags.push(Diagnostic::warning(
                file,
                place,
                format!("no route has a parameter {{{key}}}"),
            ));
        }
    }

    fn finish(self) -> Result<(RouteTable, Vec<Diagnostic>), Vec<Diagnostic>> {
        if diag::has_errors(&self.diags) {
            return Err(self.diags);
        }
        let prefixes = self
            .prefixes
            .into_iter()
            .map(|(k, (cloud, _))| (k, cloud))
            .collect();
        let table = RouteTable {
            services: self.services,
            router: self.router,
            paths: self.paths,
            actions: self.actions,
            prefixes,
            statics: self.statics,
        };
        Ok((table, self.diags))
    }
}
