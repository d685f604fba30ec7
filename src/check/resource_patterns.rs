//! The resource-pattern lint: a `Resource`/`NotResource` pattern that can
//! match no resource name the gateway ever evaluates. Any non-empty string
//! loads (both dialects glob over the whole name, `*` crossing `:` and `/`),
//! so a misspelt type or a missing `acs:` is only ever a warning, here.
//!
//! The rule, for one pattern of a policy of cloud C:
//! 1. a pattern that matches the literal `*` (`*` itself, `?`) is quiet: it
//!    covers the actions with no resource type, which are evaluated on `*`;
//! 2. a pattern that can match no name of C's shape (Huawei
//!    `*:*:*:*:*`, Alibaba `acs:*:*:*:*`) warns: it can match nothing at all;
//! 3. a pattern whose service part (`modelarts` in `modelarts:…`, `agentrun`
//!    in `acs:agentrun:…`; literal, compared ignoring case) names a service
//!    of the route catalog warns when it matches none of that service's
//!    resource types. Each type is the service template with `{type}` set
//!    and `{region}`, `{account}`, `{id}` as `*`. Patterns of services with
//!    no route file (the seed's `acs:log:…`, `fnf`, `ram`) and patterns with a
//!    wildcard in the service part are never judged by this step.
//!
//! "Matches" is [`glob::intersects`]: exact for two globs, so a warning is
//! never a false alarm. It is generous with wildcards: region, account and
//! id may be any string (ids can hold `:` and `/`), so a pattern ending in
//! `*` can usually spell a valid type itself; literal names are judged fully.

use std::path::Path;

use serde_json::Value;

use crate::check::lints::{field_strings, statements};
use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::policy::glob::{self, Glob};
use crate::routes::RouteTable;

/// The resource types of one service as template globs.
pub(super) struct ServiceTypes {
    cloud: Cloud,
    name: String,
    /// The service's template as written, for the hint.
    template: String,
    types: Vec<String>,
    globs: Vec<String>,
}

/// Every service of the route table with its resource types.
pub(super) fn service_types(routes: &RouteTable) -> Vec<ServiceTypes> {
    routes
        .services()
        .iter()
        .map(|s| {
            let mut types: Vec<String> = s
                .actions
                .iter()
                .flat_map(|a| a.resource_types.iter().cloned())
                .collect();
            types.sort();
            types.dedup();
            let globs = types
                .iter()
                .map(|t| template_glob(&s.resource_template, t))
                .collect();
            ServiceTypes {
                cloud: s.cloud,
                name: s.name.clone(),
                template: s.resource_template.clone(),
                types,
                globs,
            }
        })
        .collect()
}

/// `modelarts:{region}:{account}:{type}:{id}` with type `notebook` →
/// `modelarts:*:*:notebook:*`.
fn template_glob(template: &str, kind: &str) -> String {
    template
        .replace("{region}", "*")
        .replace("{account}", "*")
        .replace("{id}", "*")
        .replace("{type}", kind)
}

/// A glob of every resource name of the cloud's shape.
fn shape(cloud: Cloud) -> (&'static str, &'static str) {
    match cloud {
        Cloud::Huawei => ("*:*:*:*:*", "URN (service:region:account:type:id)"),
        Cloud::Aliyun => ("acs:*:*:*:*", "ARN (acs:service:region:account:resource)"),
    }
}

/// The literal service part of a pattern, if it has one.
fn service_part(cloud: Cloud, pattern: &str) -> Option<&str> {
    let rest = match cloud {
        Cloud::Huawei => pattern,
        Cloud::Aliyun => pattern.strip_prefix("acs:")?,
    };
    let (service, _) = rest.split_once(':')?;
    (!service.contains(['*', '?'])).then_some(service)
}

/// Why `pattern` can never match, or `None` when it can.
fn never_matches(cloud: Cloud, pattern: &str, services: &[ServiceTypes]) -> Option<String> {
    if Glob::new(pattern).matches("*") {
        return None;
    }
    let (shape_glob, shape_name) = shape(cloud);
    if !glob::intersects(pattern, shape_glob) {
        return Some(format!("can match no {cloud} {shape_name} and is not `*`"));
    }
    let named = service_part(cloud, pattern)?;
    let service = services
        .iter()
        .find(|s| s.cloud == cloud && s.name.eq_ignore_ascii_case(named))?;
    if service.globs.iter().any(|g| glob::intersects(pattern, g)) {
        return None;
    }
    Some(format!(
        "can match no resource of service `{}` (names `{}`, types: {})",
        service.name,
        service.template,
        service.types.join(", ")
    ))
}

/// (d) Resource and NotResource patterns that can match nothing the gateway
/// evaluates. `doc` is the policy's JSON (already loaded without error).
pub(super) fn unmatched_resource_patterns(
    path: &Path,
    cloud: Cloud,
    doc: &Value,
    services: &[ServiceTypes],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, st) in statements(doc).into_iter().enumerate() {
        for (field, place, pattern) in field_strings(st, &["Resource", "NotResource"]) {
            let Some(why) = never_matches(cloud, pattern, services) else {
                continue;
            };
            let effect = if field == "Resource" {
                "the statement never applies"
            } else {
                "it excludes nothing"
            };
            let msg = format!("{field} `{pattern}` {why}; {effect}");
            let hint = "patterns are case-sensitive and glob over the whole name; check the service, type and shape";
            let at = Place::Pointer(format!("/Statement/{i}/{place}"));
            out.push(Diagnostic::warning(path, at, msg).with_hint(hint));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn services() -> Vec<ServiceTypes> {
        let make = |cloud, name: &str, template: &str, types: &[&str]| ServiceTypes {
            cloud,
            name: name.into(),
            template: template.into(),
            types: types.iter().map(|t| t.to_string()).collect(),
            globs: types.iter().map(|t| template_glob(template, t)).collect(),
        };
        vec![
            make(
                Cloud::Huawei,
                "modelarts",
                "modelarts:{region}:{account}:{type}:{id}",
                &["notebook", "trainJob"],
            ),
            make(
                Cloud::Aliyun,
                "agentrun",
                "acs:agentrun:{region}:{account}:{type}/{id}",
                &["runtimes", "templates"],
            ),
        ]
    }

    #[test]
    fn template_globs() {
        let g = template_glob("acs:agentrun:{region}:{account}:{type}/{id}", "runtimes");
        assert_eq!(g, "acs:agentrun:*:*:runtimes/*");
    }

    #[test]
    fn patterns_that_can_match_are_quiet() {
        let s = services();
        for (cloud, p) in [
            (Cloud::Huawei, "*"),
            (Cloud::Huawei, "?"),
            (Cloud::Huawei, "modelarts:*"),
            (Cloud::Huawei, "modelarts:*:*:trainJob:job-?"),
            (Cloud::Huawei, "obs:*:*:bucket:b1"),
            (Cloud::Huawei, "*:*:*:notebook:nb1"),
            (Cloud::Aliyun, "acs:agentrun:*"),
            (Cloud::Aliyun, "acs:agentrun:cn-hangzhou:123:runtimes/r1"),
            (
                Cloud::Aliyun,
                "acs:log:*:*:project/*/logstore/aliyun-prom-*",
            ),
            (Cloud::Aliyun, "acs:fnf:*:*:flow/*"),
        ] {
            assert_eq!(never_matches(cloud, p, &s), None, "{p}");
        }
    }

    #[test]
    fn patterns_that_cannot_match_say_why() {
        let s = services();
        for (cloud, p, needle) in [
            (Cloud::Huawei, "nb-1", "no huawei URN"),
            (Cloud::Huawei, "modelarts:r:notebook:nb1", "no huawei URN"),
            (Cloud::Aliyun, "agentrun:*", "no aliyun ARN"),
            (
                Cloud::Huawei,
                "modelarts:r:a:notebok:nb1",
                "service `modelarts`",
            ),
            (
                Cloud::Huawei,
                "ModelArts:r:a:notebook:nb1",
                "service `modelarts`",
            ),
            (Cloud::Huawei, "modelarts:r:a:trainjob:j1", "trainJob"),
            (
                Cloud::Aliyun,
                "acs:agentrun:cn-hangzhou:123:runtime/r1",
                "runtimes, templates",
            ),
        ] {
            let why = never_matches(cloud, p, &s).unwrap_or_else(|| panic!("{p} is quiet"));
            assert!(why.contains(needle), "{p}: {why}");
        }
    }

    #[test]
    fn warnings_carry_the_field_and_place() {
        let doc: Value = serde_json::from_str(
            r#"{"Version":"5.0","Statement":[
                {"Effect":"Allow","Action":"*","Resource":["modelarts:*","modelarts:r:a:notebok:x"]},
                {"Effect":"Deny","Action":"*","NotResource":"nb1"}]}"#,
        )
        .unwrap();
        let d = unmatched_resource_patterns(Path::new("p.json"), Cloud::Huawei, &doc, &services());
        let places: Vec<String> = d.iter().map(|d| d.location()).collect();
        assert_eq!(
            places,
            [
                "p.json#/Statement/0/Resource/1",
                "p.json#/Statement/1/NotResource"
            ]
        );
        assert!(d[0].message.contains("never applies"), "{}", d[0].message);
        assert!(
            d[1].message.contains("excludes nothing"),
            "{}",
            d[1].message
        );
        assert!(d.iter().all(|d| d.warning && d.hint.is_some()));
    }
}
