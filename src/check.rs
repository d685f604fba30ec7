//! `iamgate check`: validate every file the gateway would load — config,
//! routes, policies, accounts, credentials, resources — through the same load
//! path as start-up and reload ([`Snapshot::load`]), then add lint warnings
//! that only `check` reports: a credentials file readable by group or others,
//! a condition on a key the catalog says an action does not support, and
//! Huawei SCPs written against the older SCP rules (huawei-iam.md rule 7).
//! Errors fail the check; warnings never do. Like `nginx -t`, for CI.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cloud::Cloud;
use crate::config::Config;
use crate::diag::{self, Diagnostic, Place};
use crate::directory::policies::{PolicyKind, FOLDERS};
use crate::policy::condition;
use crate::policy::document::ActionSet;
use crate::policy::{parse_policy, Policy};
use crate::routes::{Action, RouteTable};
use crate::snapshot::Snapshot;

/// What `iamgate check` found: every diagnostic and the one-line summary.
#[derive(Debug)]
pub struct CheckReport {
    pub diagnostics: Vec<Diagnostic>,
    pub summary: String,
}

impl CheckReport {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| !d.warning).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.warning).count()
    }

    /// True when nothing but warnings was found.
    pub fn ok(&self) -> bool {
        !diag::has_errors(&self.diagnostics)
    }
}

/// Run `iamgate check`: diagnostics on stderr, the summary on stdout.
/// Returns the process exit code: 1 on any error, else 0.
pub fn run(config_path: &Path) -> u8 {
    let report = check(config_path);
    for d in &report.diagnostics {
        eprintln!("{d}");
    }
    println!("{}", report.summary);
    if report.ok() {
        0
    } else {
        1
    }
}

/// Validate everything the config names; never stops at the first problem.
pub fn check(config_path: &Path) -> CheckReport {
    let mut diags = Vec::new();
    let (routes_dir, policies_dir, loaded) = match Config::load(config_path) {
        Ok(config) => {
            check_tls(&config, &mut diags);
            let loaded = Snapshot::load(&config);
            (config.routes_dir, config.policies_dir, loaded)
        }
        Err(errors) => {
            diags.extend(errors);
            let (routes, policies) = lenient_dirs(config_path);
            let loaded = Snapshot::load_dirs(&routes, &policies, None);
            (routes, policies, loaded)
        }
    };
    let (snapshot, fallback_routes) = match loaded {
        Ok(snap) => {
            diags.extend(snap.warnings.iter().cloned());
            (Some(snap), None)
        }
        Err(errors) => {
            diags.extend(errors);
            (None, RouteTable::load_dir(&routes_dir).ok().map(|(t, _)| t))
        }
    };
    let routes = snapshot
        .as_ref()
        .map(|s| &s.routes)
        .or(fallback_routes.as_ref());
    diags.extend(lint(&policies_dir, routes));
    for d in diags.iter_mut().filter(|d| d.hint.is_none()) {
        d.hint = hint_for(d);
    }
    let summary = summary(&diags, snapshot.as_ref());
    CheckReport {
        diagnostics: diags,
        summary,
    }
}

/// Every lint `check` adds on top of the load path.
pub fn lint(policies_dir: &Path, routes: Option<&RouteTable>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    out.extend(credentials_mode(&policies_dir.join("credentials.toml")));
    for (cloud, kind, path, text) in policy_files(policies_dir) {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        if let (Some(routes), Ok(policy)) = (routes, parse_policy(&path, &name, cloud, &text)) {
            out.extend(unsupported_condition_keys(&path, &policy, routes));
        }
        if cloud == Cloud::Huawei && kind == PolicyKind::Org {
            if let Ok(doc) = serde_json::from_str::<Value>(&text) {
                out.extend(older_scp_rules(&path, &doc));
            }
        }
    }
    out
}

/// A hint for the common load errors whose module gave none.
fn hint_for(d: &Diagnostic) -> Option<String> {
    let m = d.message.as_str();
    let hint = if m.starts_with("invalid JSON") {
        "fix the JSON syntax at this line and column (a trailing comma or a missing quote is common)"
            .to_string()
    } else if m.starts_with("unknown field `") {
        "remove the key or fix its spelling: unknown keys are errors".to_string()
    } else if m.starts_with("unknown operator") {
        let cloud = cloud_of_file(&d.file);
        format!(
            "{cloud} operators: {}",
            condition::operator_names(cloud).join(", ")
        )
    } else if m.starts_with("Version must be") {
        "Huawei IAM v5 policies declare \"5.0\", Alibaba RAM policies \"1\"; the folder names the cloud"
            .to_string()
    } else if m.starts_with("unknown action") {
        "define it as an [[action]] of the route file, or fix the name".to_string()
    } else if m.starts_with("unknown huawei") || m.starts_with("unknown aliyun") {
        "a policy's name is its file stem under policies/<cloud>/identity/ (SCPs: huawei/scp/, control policies: aliyun/control/)"
            .to_string()
    } else if m.contains("is not an IP address or CIDR") {
        "use an address such as 10.0.0.1 or a CIDR such as 10.0.0.0/8".to_string()
    } else {
        return None;
    };
    Some(hint)
}

/// The cloud a policy file belongs to, by its folder.
fn cloud_of_file(path: &Path) -> Cloud {
    let aliyun = path.components().any(|c| c.as_os_str() == "aliyun");
    if aliyun {
        Cloud::Aliyun
    } else {
        Cloud::Huawei
    }
}

fn summary(diags: &[Diagnostic], snapshot: Option<&Snapshot>) -> String {
    let errors = diags.iter().filter(|d| !d.warning).count();
    let warnings = diags.len() - errors;
    match snapshot {
        Some(s) if errors == 0 => {
            let mut line = format!(
                "ok: {} routes, {} policies, {} principals (snapshot {})",
                s.routes.route_count(),
                s.policy_count(),
                s.principal_count(),
                s.digest
            );
            if warnings > 0 {
                line.push_str(&format!(", {}", count(warnings, "warning")));
            }
            line
        }
        _ => format!(
            "{}, {}",
            count(errors.max(1), "error"),
            count(warnings, "warning")
        ),
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The TLS certificate and key load, as `serve` would load them.
fn check_tls(config: &Config, diags: &mut Vec<Diagnostic>) {
    if let Some(tls) = &config.tls {
        if let Err(e) = crate::proxy::server::tls_acceptor(tls) {
            let place = Place::Pointer("/tls".into());
            diags.push(Diagnostic::error(&config.path, place, e));
        }
    }
}

/// The routes and policies folders of a config that did not validate: read
/// what it says leniently so their files are still checked.
fn lenient_dirs(config_path: &Path) -> (PathBuf, PathBuf) {
    let base = config_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let table = std::fs::read_to_string(config_path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .unwrap_or_default();
    let dir = |key: &str| {
        let name = table.get(key).and_then(|v| v.as_str()).unwrap_or(key);
        base.join(name)
    };
    (dir("routes"), dir("policies"))
}

/// (a) Secrets must not be readable by group or others.
#[cfg(unix)]
fn credentials_mode(path: &Path) -> Option<Diagnostic> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        let msg = format!(
            "credentials file is readable by group or others (mode {mode:04o}); secrets should be private to the gateway user"
        );
        Diagnostic::warning(path, Place::File, msg)
            .with_hint(format!("chmod 600 {}", path.display()))
    })
}

#[cfg(not(unix))]
fn credentials_mode(_path: &Path) -> Option<Diagnostic> {
    None
}

/// Every policy file with its cloud and kind; unreadable files are skipped
/// (the load path already reported them).
fn policy_files(dir: &Path) -> Vec<(Cloud, PolicyKind, PathBuf, String)> {
    let mut out = Vec::new();
    for &(cloud, kind, folder) in FOLDERS {
        let Ok(entries) = std::fs::read_dir(dir.join(folder)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((cloud, kind, path, text));
            }
        }
    }
    out
}

/// Escape a key for a JSON pointer (RFC 6901).
fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// What the catalog knows about one action.
struct CatalogEntry<'a> {
    action: &'a Action,
    /// The service's catalog lists condition keys for at least one action
    /// (a catalog that lists none documents nothing to check against).
    documented: bool,
    /// Keys the gateway supplies from path parameters of this service.
    param_keys: Vec<String>,
}

fn catalog(routes: &RouteTable) -> HashMap<String, CatalogEntry<'_>> {
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
fn unsupported_condition_keys(
    path: &Path,
    policy: &Policy,
    routes: &RouteTable,
) -> Vec<Diagnostic> {
    let catalog = catalog(routes);
    let mut out = Vec::new();
    for st in &policy.statements {
        if !matches!(st.actions, ActionSet::Action(_)) {
            continue;
        }
        let named: Vec<&CatalogEntry<'_>> = st
            .action_text
            .iter()
            .filter(|a| !a.contains(['*', '?']))
            .filter_map(|a| catalog.get(&a.to_lowercase()))
            .filter(|e| e.documented)
            .collect();
        for c in st.conditions.iter().filter(|c| is_checked_key(&c.key)) {
            let missing: Vec<&str> = named
                .iter()
                .filter(|e| !supports(e, &c.key))
                .map(|e| e.action.name.as_str())
                .collect();
            if missing.is_empty() {
                continue;
            }
            let at = format!(
                "/Statement/{}/Condition/{}/{}",
                st.index,
                esc(&c.operator),
                esc(&c.key)
            );
            let msg = format!(
                "condition key `{}` is not supported by {} (the route catalog's condition keys); the condition sees an absent key",
                c.key,
                missing.join(", ")
            );
            let hint = "check the action's condition keys in the route file, or drop the condition";
            out.push(Diagnostic::warning(path, Place::Pointer(at), msg).with_hint(hint));
        }
    }
    out
}

/// The statements of a policy document (a lone object counts as one).
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}

/// (c) Huawei SCPs under the older SCP rules: Allow only on `Resource: "*"`,
/// no Condition on an Allow, wildcards only at the end of an action.
fn older_scp_rules(path: &Path, doc: &Value) -> Vec<Diagnostic> {
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
        for (field, place, action) in action_strings(st) {
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

/// (field, pointer below the statement, action) of every Action/NotAction string.
fn action_strings(st: &Value) -> Vec<(&'static str, String, &str)> {
    let mut out = Vec::new();
    for field in ["Action", "NotAction"] {
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
    fn checked_keys() {
        assert!(is_checked_key("g:ResourceTag/team"));
        assert!(is_checked_key("g:EnterpriseProjectId"));
        assert!(is_checked_key("modelarts:poolType"));
        assert!(!is_checked_key("g:SourceIp"));
        assert!(!is_checked_key("acs:CurrentTime"));
    }
}
