//! RAM role trust policies: the console's JSON (`Version` "1", statements
//! with `Principal: {"RAM": [...], "Service": [...]}`, `Action`
//! `sts:AssumeRole`, optional `Condition`), compiled once at load and asked
//! one question: does it admit this caller? Everything but `Principal` is
//! the identity-policy grammar, so the statement part reuses the policy
//! parser (with `Resource: "*"` standing in, a trust policy names none) and
//! conditions behave exactly as they do in identity policies.

use std::path::Path;

use serde_json::Value;

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::policy::statement::{Effect, Statement};
use crate::policy::{parse_policy, strict_json, Context};

/// A principal a trust statement names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trusted {
    /// `acs:ram::<account>:root`: any RAM user or role of that account.
    Account(String),
    /// `acs:ram::<account>:user/<name>`.
    User { account: String, name: String },
    /// `acs:ram::<account>:role/<name>` (role chaining); name lower-cased.
    Role { account: String, name: String },
    /// A cloud service, `<code>.aliyuncs.com`.
    Service(String),
}

/// Who asks to assume a role.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    User {
        account: &'a str,
        name: &'a str,
    },
    /// A role session (role chaining).
    Role {
        account: &'a str,
        name: &'a str,
    },
    Service(&'a str),
}

/// A compiled trust policy: each statement with the principals it names.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    pub statements: Vec<(Statement, Vec<Trusted>)>,
}

impl Trusted {
    fn admits(&self, caller: Caller<'_>) -> bool {
        match (self, caller) {
            (Trusted::Account(a), Caller::User { account, .. } | Caller::Role { account, .. }) => {
                a == account
            }
            (
                Trusted::User {
                    account: a,
                    name: n,
                },
                Caller::User { account, name },
            ) => a == account && n == name,
            (
                Trusted::Role {
                    account: a,
                    name: n,
                },
                Caller::Role { account, name },
            ) => a == account && n.eq_ignore_ascii_case(name),
            (Trusted::Service(s), Caller::Service(name)) => s.eq_ignore_ascii_case(name),
            _ => false,
        }
    }
}

impl TrustPolicy {
    /// Whether `caller` may `sts:AssumeRole` under `ctx`: an explicit deny
    /// wins, else some allowing statement must name the caller.
    pub fn admits(&self, caller: Caller<'_>, ctx: &Context) -> bool {
        let applies = |(st, principals): &&(Statement, Vec<Trusted>)| {
            st.matches_action("sts:assumerole")
                && principals.iter().any(|p| p.admits(caller))
                && st.conditions.iter().all(|c| c.holds(ctx))
        };
        let matching: Vec<_> = self.statements.iter().filter(applies).collect();
        let any = |effect: Effect| matching.iter().any(|(st, _)| st.effect == effect);
        any(Effect::Allow) && !any(Effect::Deny)
    }

    /// The services the allowing statements name.
    pub fn services(&self) -> impl Iterator<Item = &str> {
        self.statements
            .iter()
            .filter(|(st, _)| st.effect == Effect::Allow)
            .flat_map(|(_, ps)| ps.iter())
            .filter_map(|p| match p {
                Trusted::Service(s) => Some(s.as_str()),
                _ => None,
            })
    }

    /// True when no allowing statement names any principal for `sts:AssumeRole`.
    pub fn admits_no_one(&self) -> bool {
        !self.statements.iter().any(|(st, ps)| {
            st.effect == Effect::Allow && st.matches_action("sts:assumerole") && !ps.is_empty()
        })
    }
}

/// Parse a trust policy; errors point into the role entry (`at`) of `file`.
pub fn parse_trust_policy(
    file: &Path,
    at: &str,
    text: &str,
) -> Result<TrustPolicy, Vec<Diagnostic>> {
    let err = |pointer: String, msg: String| Diagnostic::error(file, Place::Pointer(pointer), msg);
    let mut value: Value = strict_json::from_str(text)
        .map_err(|e| vec![err(format!("{at}/trust_policy"), strict_json::message(&e))])?;
    let statements = match value.get_mut("Statement").and_then(Value::as_array_mut) {
        Some(s) => s,
        None => {
            return Err(vec![err(
                format!("{at}/trust_policy"),
                "no Statement list".into(),
            )])
        }
    };
    let principals = take_principals(statements, at, &err)?;
    let doc = value.to_string();
    let policy = parse_policy(file, "trust policy", Cloud::Aliyun, &doc).map_err(|errs| {
        errs.into_iter()
            .map(|d| err(format!("{at}/trust_policy"), d.message))
            .collect::<Vec<_>>()
    })?;
    Ok(TrustPolicy {
        statements: policy.statements.into_iter().zip(principals).collect(),
    })
}

/// Remove each statement's `Principal` (compiled) and stand `Resource: "*"`
/// in, so that the rest parses as an identity policy.
fn take_principals(
    statements: &mut [Value],
    at: &str,
    err: &dyn Fn(String, String) -> Diagnostic,
) -> Result<Vec<Vec<Trusted>>, Vec<Diagnostic>> {
    let mut principals = Vec::new();
    let mut errors = Vec::new();
    for (i, st) in statements.iter_mut().enumerate() {
        let here = format!("{at}/trust_policy/Statement/{i}");
        let Some(obj) = st.as_object_mut() else {
            errors.push(err(here, "a statement must be an object".into()));
            continue;
        };
        match obj.remove("Principal").map(|p| principal_list(&p)) {
            Some(Ok(list)) => principals.push(list),
            Some(Err(msg)) => errors.push(err(format!("{here}/Principal"), msg)),
            None => errors.push(err(
                here.clone(),
                "a trust statement needs a Principal".into(),
            )),
        }
        if obj.contains_key("Resource") || obj.contains_key("NotResource") {
            errors.push(err(here, "a trust policy names no Resource".into()));
        }
        obj.insert("Resource".into(), Value::String("*".into()));
    }
    match errors.is_empty() {
        true => Ok(principals),
        false => Err(errors),
    }
}

/// `{"RAM": …, "Service": …}`, each a string or a list of strings.
fn principal_list(p: &Value) -> Result<Vec<Trusted>, String> {
    let obj = p
        .as_object()
        .ok_or("Principal must be an object: {\"RAM\": …} or {\"Service\": …}")?;
    let mut out = Vec::new();
    for (kind, values) in obj {
        let values: Vec<&str> = match values {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => {
                return Err(format!(
                    "Principal.{kind} must be a string or a list of strings"
                ))
            }
        };
        for v in values {
            out.push(match kind.as_str() {
                "RAM" => ram_principal(v)?,
                "Service" => service_principal(v)?,
                other => {
                    return Err(format!(
                        "unsupported principal type `{other}` (expected RAM or Service)"
                    ))
                }
            });
        }
    }
    Ok(out)
}

/// `acs:ram::<account>:root`, `…:user/<name>`, `…:role/<name>`.
fn ram_principal(v: &str) -> Result<Trusted, String> {
    let bad = || {
        format!("unknown RAM principal `{v}` (expected acs:ram::<account>:root, …:user/<name> or …:role/<name>)")
    };
    let rest = v.strip_prefix("acs:ram::").ok_or_else(bad)?;
    let (account, what) = rest.split_once(':').ok_or_else(bad)?;
    if account.is_empty() || account.contains('*') {
        return Err(bad());
    }
    let account = account.to_string();
    match what.split_once('/') {
        None if what == "root" => Ok(Trusted::Account(account)),
        Some(("user", name)) if valid_name(name) => Ok(Trusted::User {
            account,
            name: name.to_string(),
        }),
        Some(("role", name)) if valid_name(name) => Ok(Trusted::Role {
            account,
            name: name.to_ascii_lowercase(),
        }),
        _ => Err(bad()),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['*', '?', '/', ':'])
}

/// `<code>.aliyuncs.com` (RAM writes trusted services this way).
fn service_principal(v: &str) -> Result<Trusted, String> {
    let ok = v
        .strip_suffix(".aliyuncs.com")
        .is_some_and(|code| !code.is_empty() && !code.contains(['*', '/', ':']));
    match ok {
        true => Ok(Trusted::Service(v.to_ascii_lowercase())),
        false => Err(format!(
            "unknown service principal `{v}` (expected <service>.aliyuncs.com)"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "trust_tests.rs"]
mod tests;
