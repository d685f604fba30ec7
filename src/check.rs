//! `iamgate check`: validate every file the gateway would load — config,
//! routes, policies, accounts, credentials, resources — through the same load
//! path as start-up and reload ([`Snapshot::load`]), then add lint warnings
//! that only `check` reports: a credentials file readable by group or others,
//! a condition on a key the catalog says an action does not support, Huawei
//! SCPs written against the older SCP rules (huawei-iam.md rule 7),
//! resource patterns that can match no resource of the catalog, and
//! `resources.toml` entries whose account, region, project or type nothing
//! knows.
//! Errors fail the check; warnings never do. Like `nginx -t`, for CI.

mod lints;
mod resource_entries;
mod resource_patterns;

use std::path::{Path, PathBuf};

use crate::cloud::Cloud;
use crate::config::Config;
use crate::diag::{self, Diagnostic, Place};
use crate::directory::policies::{PolicyKind, FOLDERS};
use crate::policy::condition;
use crate::policy::{parse_policy, strict_json};
use crate::routes::RouteTable;
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
    let (routes_dir, policies_dir, loaded, regions) = match Config::load(config_path) {
        Ok(config) => {
            check_tls(&config, &mut diags);
            let loaded = Snapshot::load(&config);
            (
                config.routes_dir,
                config.policies_dir,
                loaded,
                Some(config.regions),
            )
        }
        Err(errors) => {
            diags.extend(errors);
            let (routes, policies) = lenient_dirs(config_path);
            let loaded = Snapshot::load_dirs(&routes, &policies, None);
            (routes, policies, loaded, None)
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
        .map(|s| &*s.routes)
        .or(fallback_routes.as_ref());
    diags.extend(lint(&policies_dir, routes));
    if let Some(snap) = &snapshot {
        diags.extend(resource_entries::unknown_parts(
            snap,
            &policies_dir,
            regions.as_ref(),
        ));
    }
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
    let catalog = routes.map(lints::catalog);
    let services = routes.map(resource_patterns::service_types);
    for (cloud, kind, path, text) in policy_files(policies_dir) {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(doc) = strict_json::from_str(&text) else {
            continue; // the load path reported the syntax error
        };
        if cloud == Cloud::Huawei && kind == PolicyKind::Org {
            out.extend(lints::older_scp_rules(&path, &doc));
        }
        // The catalog lints judge only a policy that loads.
        let Ok(policy) = parse_policy(&path, &name, cloud, &text) else {
            continue;
        };
        if let Some(catalog) = &catalog {
            out.extend(lints::unsupported_condition_keys(&path, &policy, catalog));
        }
        if let Some(services) = &services {
            out.extend(resource_patterns::unmatched_resource_patterns(
                &path, cloud, &doc, services,
            ));
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
    } else if m.starts_with("duplicate key") {
        "merge the two members into one: a repeated key is refused, since keeping only one would silently drop the other"
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
