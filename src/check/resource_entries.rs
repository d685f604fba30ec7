//! The `resources.toml` lint: an entry whose URN/ARN names an account,
//! region, project or resource type nothing else knows. Such an entry
//! loads (it is only attributes), but no request ever reaches it, so a
//! policy tested against its tags silently never matches.
//!
//! For each entry: a service whose resource template's fixed prefix
//! (`modelarts:`, `acs:agentrun:`) starts the URN must exist; the type must
//! be one of that service's catalog or route types; the account must be an
//! `[[account]]` of the service's cloud; on Huawei the account must have a
//! project in the URN's region (requests reach a region only through a
//! project), on Alibaba the region must be the service's `[regions]` entry.
//! Every finding is a warning with the entry's place.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::directory::files::ResourcesFile;
use crate::routes::Service;
use crate::snapshot::Snapshot;
use crate::state::{known_types, parse_urn};

/// Warnings for the entries of `policies_dir/resources.toml`.
/// `regions`: the config's `[regions]` (Alibaba service → region), if known.
pub fn unknown_parts(
    snap: &Snapshot,
    policies_dir: &Path,
    regions: Option<&BTreeMap<String, String>>,
) -> Vec<Diagnostic> {
    let path = policies_dir.join("resources.toml");
    let Some(file) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| toml::from_str::<ResourcesFile>(&t).ok())
    else {
        return Vec::new(); // missing, or the load path reported it
    };
    let mut out = Vec::new();
    for (i, entry) in file.resources.iter().enumerate() {
        let place = Place::Pointer(format!("/resource/{i}/urn"));
        for message in problems(snap, regions, &entry.urn) {
            out.push(Diagnostic::warning(&path, place.clone(), message));
        }
    }
    out
}

/// What is unknown about one URN (empty when all is known).
fn problems(snap: &Snapshot, regions: Option<&BTreeMap<String, String>>, urn: &str) -> Vec<String> {
    let services = snap.routes.services();
    let Some(service) = services.iter().find(|s| urn.starts_with(fixed_prefix(s))) else {
        let templates: Vec<&str> = services
            .iter()
            .map(|s| s.resource_template.as_str())
            .collect();
        return vec![format!(
            "`{urn}` fits no service's resource template ({}); no request will ever reach it",
            templates.join(", ")
        )];
    };
    let types = known_types(service);
    let Some(parsed) = parse_urn(&service.resource_template, &types, urn) else {
        let mut listed: Vec<&str> = types.iter().map(String::as_str).collect();
        listed.sort_unstable();
        return vec![format!(
            "`{urn}` names no resource type the {} catalog knows (its types: {}; template {})",
            service.name,
            listed.join(", "),
            service.resource_template
        )];
    };
    let mut out = Vec::new();
    match snap.directory.principal(&parsed.account, None) {
        None => out.push(format!(
            "`{urn}`: account `{}` is not an [[account]] of accounts.toml",
            parsed.account
        )),
        Some(root) if root.cloud != service.cloud => out.push(format!(
            "`{urn}`: account `{}` is a {} account, but the {} service is on {}",
            parsed.account, root.cloud, service.name, service.cloud
        )),
        Some(_) => out.extend(region_problem(
            snap,
            regions,
            service,
            &parsed.account,
            &parsed.region,
            urn,
        )),
    }
    out
}

/// Huawei: the account has a project in the region; Alibaba: the region is
/// the service's configured one.
fn region_problem(
    snap: &Snapshot,
    regions: Option<&BTreeMap<String, String>>,
    service: &Service,
    account: &str,
    region: &str,
    urn: &str,
) -> Option<String> {
    match service.cloud {
        Cloud::Huawei => {
            let projects: BTreeSet<(&str, &str)> = snap
                .directory
                .projects
                .values()
                .filter(|p| &*p.account_id == account)
                .map(|p| (p.region.as_str(), p.id.as_str()))
                .collect();
            if projects.iter().any(|(r, _)| *r == region) {
                return None;
            }
            let have: Vec<String> = projects
                .iter()
                .map(|(r, id)| format!("{id} in {r}"))
                .collect();
            Some(format!(
                "`{urn}`: account `{account}` has no project in region `{region}` (its projects: {})",
                if have.is_empty() { "none".to_string() } else { have.join(", ") }
            ))
        }
        Cloud::Aliyun => {
            let configured = regions?.get(&service.name)?;
            (configured != region).then(|| {
                format!(
                    "`{urn}`: region `{region}` is not the {} region `{configured}` ([regions] in the config)",
                    service.name
                )
            })
        }
    }
}

/// The template's text before its first placeholder (`acs:agentrun:`).
fn fixed_prefix(service: &Service) -> &str {
    let t = &service.resource_template;
    t.find('{').map_or(t.as_str(), |i| &t[..i])
}

#[cfg(test)]
#[path = "resource_entries_tests.rs"]
mod tests;
