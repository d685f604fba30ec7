//! `iamgate explain`: decide one request offline, like the clouds' policy
//! simulators, and show why. The request is either a method + path (routed
//! with the gateway's strict rules) or an action + resource. The condition
//! context is built as the gateway builds it (`proxy::context`): principal
//! keys, project and region, resource keys from resources.toml and the time;
//! connection keys (source IP, TLS, user agent, MFA) stay absent unless given
//! with `--context`. Every statement the engine sees is judged and shown.

mod render;
mod request;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::config::Config;
use crate::diag::Diagnostic;
use crate::directory::Principal;
use crate::policy::explain::{trace, StatementTrace};
use crate::policy::{evaluate, Context, Decision, Reason};
use crate::snapshot::Snapshot;

pub use render::{reason_text, render_text};
use request::{action_request, connection_keys, route_request, Asked};

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
    /// A session of a RAM role (names ignore case), with an optional
    /// session policy (a JSON file); the account narrows the search.
    Role {
        name: String,
        account: Option<String>,
        session_policy: Option<std::path::PathBuf>,
    },
    /// A session of a Huawei agency; the account narrows the search.
    Agency {
        name: String,
        account: Option<String>,
        session: String,
    },
}

/// The session name `explain --role` gives its session.
pub const EXPLAIN_SESSION: &str = "iamgate-explain";

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
        Who::Role {
            name,
            account,
            session_policy,
        } => {
            let text = match session_policy {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    ExplainError::Usage(format!("cannot read {}: {e}", path.display()))
                })?),
                None => None,
            };
            resolve_role(snap, name, account.as_deref(), text.as_deref())
        }
        Who::Agency {
            name,
            account,
            session,
        } => match dir.find_agency(name, account.as_deref()).as_slice() {
            [one] => Ok(Arc::new(one.session_principal(session))),
            [] => Err(ExplainError::Usage(format!(
                "no agency `{name}` in accounts.toml"
            ))),
            many => {
                let ids: Vec<&str> = many.iter().map(|a| &*a.account_id).collect();
                Err(ExplainError::Usage(format!(
                    "agency `{name}` exists in accounts {}: pass --account",
                    ids.join(", ")
                )))
            }
        },
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

/// A session of role `name`, as `AssumeRole` would make it.
fn resolve_role(
    snap: &Snapshot,
    name: &str,
    account: Option<&str>,
    session_policy: Option<&str>,
) -> Result<Arc<Principal>, ExplainError> {
    let lower = name.to_ascii_lowercase();
    let mut found: Vec<_> = snap
        .directory
        .roles
        .iter()
        .filter(|((acc, n), _)| *n == lower && account.is_none_or(|a| a == acc))
        .map(|(_, r)| r)
        .collect();
    found.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    let role = match found.as_slice() {
        [one] => *one,
        [] => {
            return Err(ExplainError::Usage(format!(
                "no role `{name}` in accounts.toml"
            )))
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|r| &*r.account_id).collect();
            let m = format!(
                "role `{name}` exists in accounts {}: pass --account",
                ids.join(", ")
            );
            return Err(ExplainError::Usage(m));
        }
    };
    crate::sts::sessions::session_principal(role, EXPLAIN_SESSION, session_policy)
        .map(Arc::new)
        .ok_or_else(|| {
            ExplainError::Usage("the session policy does not parse as a RAM policy".into())
        })
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

/// An explanation with no decision yet: who, which snapshot, which keys
/// stay absent.
fn blank(snap: &Snapshot, principal: &Principal, opts: &Options) -> Explanation {
    let given: Vec<String> = opts.context.iter().map(|o| o.key.to_lowercase()).collect();
    let unset_keys = connection_keys(principal.cloud)
        .into_iter()
        .filter(|k| !given.contains(&k.to_lowercase()))
        .collect();
    Explanation {
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
    }
}

fn decide(snap: &Snapshot, principal: &Principal, asked: Asked, opts: &Options) -> Explanation {
    let mut e = blank(snap, principal, opts);
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
    fn times_parse_as_rfc3339() {
        assert!(parse_time("2026-01-01T00:00:00Z").is_ok());
        assert!(parse_time("yesterday").is_err());
    }
}
