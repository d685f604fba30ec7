//! Seeding the mock from `resources.toml`: every resource declared there
//! exists in the mock from the start, under the id its URN/ARN names, in its
//! account's collection — so an allowed `GET` of a declared notebook answers
//! 200 with the item, as the real cloud would, instead of the mock's 404.
//!
//! A URN is parsed with its service's resource template (as the resource
//! state does); its item route is the service's `GET` route on that resource
//! type whose last segment is the id parameter
//! (`/v1/{project_id}/notebooks/{id}`). `{project_id}` becomes every project
//! of the URN's account in the URN's region (Huawei); a route with any other
//! parameter (a parent's id) cannot be placed and is skipped.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::directory::Directory;
use crate::routes::{RouteTable, Service};
use crate::state::key_of;

/// Characters escaped in a path segment (everything but unreserved and
/// sub-delimiters would be ambiguous after `/`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// One item to create in the mock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The owner account (the gateway's `X-Iamgate-Account`).
    pub account: String,
    /// The concrete item path, id percent-encoded (`/v1/p-acme-cn4/notebooks/nb-blue`).
    pub item_path: String,
}

/// The seeds of every `resources.toml` entry that can be placed, sorted,
/// and the URNs that cannot (no template parses them, no `GET` item route
/// for their type, or no project of their account in their region).
pub fn seeds(routes: &RouteTable, directory: &Directory) -> (Vec<Seed>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut urns: Vec<&String> = directory.resources.keys().collect();
    urns.sort();
    for urn in urns {
        let placed = place(routes, directory, urn);
        if placed.is_empty() {
            skipped.push(urn.clone());
        }
        out.extend(placed);
    }
    (out, skipped)
}

/// Every concrete item path of one URN.
fn place(routes: &RouteTable, directory: &Directory, urn: &str) -> Vec<Seed> {
    let Some((key, owner)) = key_of(routes, urn) else {
        return Vec::new();
    };
    let Some(template) = routes
        .service(&key.service)
        .and_then(|s| item_template(s, &key.kind))
    else {
        return Vec::new();
    };
    let mut projects: Vec<&str> = directory
        .projects
        .values()
        .filter(|p| *p.account_id == *owner.account && p.region == owner.region)
        .map(|p| p.id.as_str())
        .collect();
    projects.sort_unstable();
    let id = utf8_percent_encode(&key.id, SEGMENT).to_string();
    let fill = |project: Option<&str>| {
        fill_template(template, &id, project).map(|item_path| Seed {
            account: owner.account.clone(),
            item_path,
        })
    };
    if template.contains("{project_id}") {
        projects.into_iter().filter_map(|p| fill(Some(p))).collect()
    } else {
        fill(None).into_iter().collect()
    }
}

/// The path of the service's `GET` route on one item of `kind`.
fn item_template<'s>(service: &'s Service, kind: &str) -> Option<&'s str> {
    service
        .routes
        .iter()
        .find(|r| {
            r.method == http::Method::GET
                && r.resource.as_ref().is_some_and(|res| {
                    res.kind == kind
                        && res
                            .id
                            .as_ref()
                            .is_some_and(|id| r.path.ends_with(&format!("/{{{id}}}")))
                })
        })
        .map(|r| r.path.as_str())
}

/// The template with its last segment = `id` and `{project_id}` = the
/// project; `None` when another parameter is left.
fn fill_template(template: &str, id: &str, project: Option<&str>) -> Option<String> {
    let (parent, _) = template.rsplit_once('/')?;
    let mut out = String::with_capacity(template.len() + id.len());
    for segment in parent.split('/').skip(1) {
        out.push('/');
        match (segment, project) {
            ("{project_id}", Some(p)) => out.push_str(p),
            (s, _) if s.starts_with('{') => return None,
            (s, _) => out.push_str(s),
        }
    }
    out.push('/');
    out.push_str(id);
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_project_and_id_only() {
        let t = "/v1/{project_id}/notebooks/{id}";
        assert_eq!(
            fill_template(t, "nb-1", Some("p1")).as_deref(),
            Some("/v1/p1/notebooks/nb-1")
        );
        assert_eq!(fill_template(t, "nb-1", None), None);
        assert_eq!(
            fill_template("/2025-09-10/templates/{template_name}", "t1", None).as_deref(),
            Some("/2025-09-10/templates/t1")
        );
        assert_eq!(
            fill_template(
                "/v2/{project_id}/workflows/{workflow_id}/executions/{id}",
                "e",
                Some("p")
            ),
            None
        );
    }

    #[test]
    fn the_sample_resources_are_placed_in_their_accounts_project() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let snap = crate::snapshot::Snapshot::load_dirs(
            &root.join("routes"),
            &root.join("policies"),
            None,
        )
        .unwrap();
        let (seeds, skipped) = seeds(&snap.routes, &snap.directory);
        assert!(skipped.is_empty(), "{skipped:?}");
        let paths: Vec<&str> = seeds.iter().map(|s| s.item_path.as_str()).collect();
        assert!(
            paths.contains(&"/v1/p-acme-cn4/notebooks/nb-blue"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"/v1/p-acme-cn4/notebooks/nb-red"),
            "{paths:?}"
        );
        assert!(seeds.iter().all(|s| s.account == "acme0001"));
    }
}
