//! Seeding the resource state from `resources.toml`, whose entries are keyed
//! by literal URN/ARN: each is parsed with its service's resource template
//! (`modelarts:{region}:{account}:{type}:{id}`,
//! `acs:agentrun:{region}:{account}:{type}/{id}`) into a key and an owner.
//!
//! Types are matched against the service's known types, longest first,
//! because an Alibaba type may itself hold `/` and `*`
//! (`workspaces/*/flows`). Reseeding replaces every `File` record and keeps
//! `Traffic` ones; where both describe the same resource of the same owner
//! the traffic record wins, being what the gateway saw last.

use std::collections::BTreeSet;

use super::canonical_id;
use super::resources::{Origin, Owner, ResourceKey, ResourceState, Slot};
use crate::directory::{Directory, ResourceAttrs};
use crate::routes::{RouteTable, Service};

/// A piece of a resource template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'t> {
    Text(&'t str),
    Region,
    Account,
    Type,
    Id,
}

/// Split `modelarts:{region}:{account}:{type}:{id}` at its placeholders.
fn parts(template: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        if open > 0 {
            out.push(Part::Text(&rest[..open]));
        }
        out.push(match &rest[open + 1..close] {
            "region" => Part::Region,
            "account" => Part::Account,
            "type" => Part::Type,
            "id" => Part::Id,
            _ => Part::Text(&rest[open..=close]),
        });
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    out
}

/// What a URN/ARN says: type, region, account, id.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) kind: String,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) id: String,
}

/// Parse `urn` with the service's template; `types` longest first.
pub(crate) fn parse_urn(template: &str, types: &[String], urn: &str) -> Option<Parsed> {
    let parts = parts(template);
    let mut out = Parsed::default();
    matches(&parts, types, urn, &mut out).then_some(out)
}

/// Match `input` against `parts`, filling `out`; backtracks over types only.
fn matches(parts: &[Part<'_>], types: &[String], input: &str, out: &mut Parsed) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return input.is_empty();
    };
    let next_text = match rest.first() {
        Some(Part::Text(t)) => Some(*t),
        _ => None,
    };
    match first {
        Part::Text(t) => input
            .strip_prefix(t)
            .is_some_and(|tail| matches(rest, types, tail, out)),
        Part::Type => types.iter().any(|t| {
            input.strip_prefix(t.as_str()).is_some_and(|tail| {
                out.kind = t.clone();
                matches(rest, types, tail, out)
            })
        }),
        Part::Region | Part::Account | Part::Id => {
            let end = match next_text {
                Some(t) => match input.find(t) {
                    Some(end) => end,
                    None => return false,
                },
                None if rest.is_empty() => input.len(),
                None => return false,
            };
            let value = input[..end].to_string();
            match first {
                Part::Region => out.region = value,
                Part::Account => out.account = value,
                _ => out.id = value,
            }
            matches(rest, types, &input[end..], out)
        }
    }
}

/// Every resource type a service names (catalog and routes), longest first.
pub(crate) fn known_types(service: &Service) -> Vec<String> {
    let mut types: BTreeSet<String> = service
        .actions
        .iter()
        .flat_map(|a| a.resource_types.iter().cloned())
        .collect();
    types.extend(
        service
            .routes
            .iter()
            .filter_map(|r| r.resource.as_ref().map(|x| x.kind.clone())),
    );
    let mut types: Vec<String> = types.into_iter().collect();
    types.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    types
}

/// The key and owner of one `resources.toml` URN, by the first service whose
/// template parses it with a canonical id.
pub(crate) fn key_of(routes: &RouteTable, urn: &str) -> Option<(ResourceKey, Owner)> {
    routes.services().iter().find_map(|service| {
        let parsed = parse_urn(&service.resource_template, &known_types(service), urn)?;
        let id = canonical_id(&parsed.id).ok()?;
        if parsed.account.is_empty() || parsed.region.is_empty() {
            return None;
        }
        let key = ResourceKey {
            service: service.name.clone(),
            kind: parsed.kind,
            id: id.to_string(),
        };
        Some((key, owner(parsed.account, parsed.region)))
    })
}

fn owner(account: String, region: String) -> Owner {
    Owner { account, region }
}

impl ResourceState {
    /// Replace every `File` record with the entries of `resources.toml`
    /// (start-up and every successful reload). Returns the URNs no service
    /// template parses, or whose id is not canonical, for a warning.
    pub fn seed_from_files(&self, routes: &RouteTable, directory: &Directory) -> Vec<String> {
        let mut skipped = Vec::new();
        let mut seeds = Vec::new();
        for (urn, attrs) in &directory.resources {
            match key_of(routes, urn) {
                Some((key, owner)) => seeds.push((key, owner, attrs.clone())),
                None => skipped.push(urn.clone()),
            }
        }
        skipped.sort();
        self.replace_file_records(seeds);
        skipped
    }

    fn replace_file_records(&self, seeds: Vec<(ResourceKey, Owner, ResourceAttrs)>) {
        let mut inner = self.lock();
        let mut removed = 0;
        inner.entries.retain(|_, slots| {
            let before = slots.len();
            slots.retain(|s| s.origin == Origin::Traffic);
            removed += before - slots.len();
            !slots.is_empty()
        });
        inner.count -= removed;
        for (key, owner, attrs) in seeds {
            let mk = (key.service, key.kind, key.id.to_ascii_lowercase());
            let slots = inner.entries.entry(mk).or_default();
            if slots.iter().any(|s| s.id == key.id && s.owner == owner) {
                continue;
            }
            slots.push(Slot {
                id: key.id,
                owner,
                attrs,
                origin: Origin::File,
            });
            inner.count += 1;
        }
    }
}
