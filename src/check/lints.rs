//! The lints only `iamgate check` reports, on top of the load path: a
//! condition on a key the route catalog says a named action does not support
//! (huawei-iam.md, "Reading table 1"), and Huawei SCPs written with what the
//! older SCP rules forbid (huawei-iam.md, evaluation rule 7). Both are
//! warnings: the gateway accepts these policies.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::diag::{Diagnostic, Place};
use crate::policy::condition::Condition;
use crate::policy::glob::Glob;
use crate::policy::statement::ActionSet;
use crate::policy::Policy;
use crate::routes::{Action, RouteTable};

/// Escape a key for a JSON pointer (RFC 6901).
fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// What the catalog knows about one action.
pub(super) struct CatalogEntry<'a> {
    action: &'a Action,
    /// The service's catalog lists condition keys for at least one action
    /// (a catalog that lists none documents nothing to check against).
    documented: bool,
    /// Keys the gateway supplies from path parameters of this service.
    param_keys: Vec<String>,
}

/// Lower-cased action name → what the catalog says about it.
pub(super) type Catalog<'a> = HashMap<String, CatalogEntry<'a>>;

pub(super) fn catalog(routes: &RouteTable) -> Catalog<'_> {
    let mut out = HashMap::new();
    for s in routes.services() {
        let documented = s.actions.iter().any(|a| !a.condition_keys.is_empty());
        let param_keys: Vec<String> = s.param_keys.values().map(|k| k.to_lowercase()).collect();
        for a in &s.actions {
            let entry = CatalogEntry {
                action: a,
                documented,
                param_keys: param_keys.clone(),
            };
            out.entry(a.key.clone()).or_insert(entry);
        }
    }
    out
}

/// Keys the lint looks at: resource tags, the enterprise project and service
/// keys. Every other global key (`g:*`, `acs:*`) applies to every action.
fn is_checked_key(key: &str) -> bool {
    let lower = key.to_lowercase();
    let Some((prefix, name)) = lower.split_once(':') else {
        return false;
    };
    match prefix {
        "g" | "acs" => name.starts_with("resourcetag/") || name == "enterpriseprojectid",
        _ => true,
    }
}

/// True when the catalog entry lists `key` (tag keys match `<tag-key>`).
fn supports(entry: &CatalogEntry<'_>, key: &str) -> bool {
    let lower = key.to_lowercase();
    if entry.param_keys.contains(&lower) {
        return true;
    }
    // The gateway supplies the enterprise project from the request on
    // creates (and from the resource state otherwise).
    if lower == "g:enterpriseprojectid" && crate::proxy::context::is_create(&entry.action.name) {
        return true;
    }
    entry.action.condition_keys.iter().any(|k| {
        let k = k.to_lowercase();
        match (k.split_once('/'), lower.split_once('/')) {
            (Some((kn, _)), Some((ln, _))) => kn == ln,
            _ => k == lower,
        }
    })
}

/// (b) A condition on a key that a named action does not support sees an
/// absent key. Action patterns are skipped (too broad to judge).
pub(super) fn unsupported_condition_keys(
    path: &Path,
    policy: &Policy,
    catalog: &Catalog<'_>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for st in &policy.statements {
        let ActionSet::Action(patterns) = &st.actions else {
            continue;
        };
        // Named actions: the patterns without a wildcard (lower-cased
        // when compiled, as the catalog's names are).
        let named: Vec<&CatalogEntry<'_>> = patterns
            .iter()
            .filter_map(|g| match g {
                Glob::Exact(action) => catalog.get(&**action),
                _ => None,
            })
            .filter(|e| e.documented)
            .collect();
        for c in st.conditions.iter().filter(|c| is_checked_key(&c.key)) {
            let missing: Vec<&str> = named
                .iter()
                .filter(|e| !supports(e, &c.key))
                .map(|e| e.action.name.as_str())
                .collect();
            if !missing.is_empty() {
                out.push(key_warning(path, st.index, c, &missing));
            }
        }
    }
    out
}

fn key_warning(path: &Path, index: usize, c: &Condition, missing: &[&str]) -> Diagnostic {
    let at = format!(
        "/Statement/{index}/Condition/{}/{}",
        esc(&c.operator),
        esc(&c.key)
    );
    let msg = format!(
        "condition key `{}` is not supported by {} (the route catalog's condition keys); the condition sees an absent key",
        c.key,
        missing.join(", ")
    );
    let hint = "check the action's condition keys in the route file, or drop the condition";
    Diagnostic::warning(path, Place::Pointer(at), msg).with_hint(hint)
}

/// The statements of a policy document (a lone object counts as one).
pub(super) fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// (c) Huawei SCPs under the older SCP rules: Allow only on `Resource: "*"`,
/// no Condition on an Allow, wildcards only at the end of an action.
pub(super) fn older_scp_rules(path: &Path, doc: &Value) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let hint = "the older SCP grammar does not support this; keep it only if every account uses the newer SCP rules";
    let mut warn = |at: String, msg: String| {
        out.push(Diagnostic::warning(path, Place::Pointer(at), msg).with_hint(hint));
    };
    for (i, st) in statements(doc).into_iter().enumerate() {
        let at = format!("/Statement/{i}");
        let allow = st.get("Effect").and_then(Value::as_str) == Some("Allow");
        if allow {
            if let Some(field) = non_star_resource(st) {
                let msg = format!("an Allow in an SCP with a {field} other than \"*\"");
                warn(format!("{at}/{field}"), msg);
            }
            if st.get("Condition").is_some() {
                warn(
                    format!("{at}/Condition"),
                    "a Condition on an Allow in an SCP".into(),
                );
            }
        }
        for (field, place, action) in field_strings(st, &["Action", "NotAction"]) {
            if inner_wildcard(action) {
                let msg = format!(
                    "{field} `{action}` has a wildcard that is not at the end of the action"
                );
                warn(format!("{at}/{place}"), msg);
            }
        }
    }
    out
}

/// `Resource` when it is anything but `"*"` / `["*"]`; `NotResource` always.
fn non_star_resource(st: &Value) -> Option<&'static str> {
    if st.get("NotResource").is_some() {
        return Some("NotResource");
    }
    let star = |v: &Value| v.as_str() == Some("*");
    match st.get("Resource") {
        None => None,
        Some(Value::Array(items)) if items.iter().all(star) => None,
        Some(v) if star(v) => None,
        Some(_) => Some("Resource"),
    }
}

/// (field, pointer below the statement, text) of every string of the named
/// list fields (`Action`/`NotAction`, `Resource`/`NotResource`).
pub(super) fn field_strings<'a>(
    st: &'a Value,
    fields: &[&'static str],
) -> Vec<(&'static str, String, &'a str)> {
    let mut out = Vec::new();
    for &field in fields {
        match st.get(field) {
            Some(Value::String(s)) => out.push((field, field.to_string(), s.as_str())),
            Some(Value::Array(items)) => {
                for (j, item) in items.iter().enumerate() {
                    if let Some(s) = item.as_str() {
                        out.push((field, format!("{field}/{j}"), s));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A `*` or `?` anywhere but as one final `*`.
fn inner_wildcard(action: &str) -> bool {
    let body = action.strip_suffix('*').unwrap_or(action);
    body.contains(['*', '?'])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_only_at_the_end() {
        assert!(!inner_wildcard("*"));
        assert!(!inner_wildcard("modelarts:notebook:*"));
        assert!(!inner_wildcard("modelarts:notebook:get"));
        assert!(inner_wildcard("modelarts:*:get"));
        assert!(inner_wildcard("modelarts:notebook:ge?"));
    }

    #[test]
    fn older_scp_rules_are_warnings_with_places() {
        let doc: Value = serde_json::from_str(
            r#"{"Version":"5.0","Statement":[
                {"Effect":"Allow","Action":["modelarts:*:get"],"Resource":"modelarts:*:*:notebook:*",
                 "Condition":{"StringEquals":{"g:UserName":"a"}}},
                {"Effect":"Deny","Action":"modelarts:pool:delete","Resource":"modelarts:*:*:pool:p1"},
                {"Effect":"Allow","Action":"*","Resource":["*"]}]}"#,
        )
        .unwrap();
        let d = older_scp_rules(Path::new("s.json"), &doc);
        let places: Vec<String> = d.iter().map(|d| d.location()).collect();
        assert_eq!(
            places,
            [
                "s.json#/Statement/0/Resource",
                "s.json#/Statement/0/Condition",
                "s.json#/Statement/0/Action/0"
            ]
        );
        assert!(d.iter().all(|d| d.warning && d.hint.is_some()));
    }

    #[test]
    fn a_condition_key_an_action_named_in_any_case_does_not_support_is_a_warning() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("routes");
        let (routes, _) = RouteTable::load_dir(&dir).unwrap();
        let catalog = catalog(&routes);
        let policy = crate::policy::parse_policy(
            Path::new("p.json"),
            "p",
            crate::cloud::Cloud::Huawei,
            r#"{"Version":"5.0","Statement":[
                {"Effect":"Allow","Action":["ModelArts:Notebook:List","modelarts:notebook:get","modelarts:*:delete"],
                 "Resource":"*","Condition":{"StringEquals":{"g:ResourceTag/team":"a"}}},
                {"Effect":"Allow","NotAction":["modelarts:notebook:get"],"Resource":"*",
                 "Condition":{"StringEquals":{"g:ResourceTag/team":"a"}}}]}"#,
        )
        .unwrap();
        let d = unsupported_condition_keys(Path::new("p.json"), &policy, &catalog);
        // `get` supports resource tags, the pattern is too broad to judge,
        // NotAction is skipped: only `list`, named in another case.
        let [w] = &d[..] else { panic!("{d:?}") };
        assert!(w.warning);
        assert_eq!(
            w.location(),
            "p.json#/Statement/0/Condition/StringEquals/g:ResourceTag~1team"
        );
        assert!(
            w.message
                .contains("not supported by modelarts:notebook:list ("),
            "{}",
            w.message
        );
    }

    #[test]
    fn checked_keys() {
        assert!(is_checked_key("g:ResourceTag/team"));
        assert!(is_checked_key("g:EnterpriseProjectId"));
        assert!(is_checked_key("modelarts:poolType"));
        assert!(!is_checked_key("g:SourceIp"));
        assert!(!is_checked_key("acs:CurrentTime"));
    }
}
