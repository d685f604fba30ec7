//! Policy documents: JSON exactly as the cloud consoles show them, parsed
//! into compiled statements. Parsing reports every problem at once — syntax
//! errors with line:column, errors of meaning with a JSON pointer such as
//! `/Statement/1/Condition/IpAddress/g:SourceIp`. The JSON is read strictly:
//! a key repeated in one object is a syntax-level error (line:column).

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::policy::condition::{self, Condition};
use crate::policy::glob::{Glob, Texts};
use crate::policy::statement::{ActionSet, Effect, Policy, ResourceSet, Statement};
use crate::policy::strict_json;

/// Parse one policy document. `file` is only used to place diagnostics.
pub fn parse_policy(
    file: &Path,
    name: &str,
    cloud: Cloud,
    source: &str,
) -> Result<Policy, Vec<Diagnostic>> {
    parse_policy_in(file, name, cloud, source, &mut Texts::default())
}

/// [`parse_policy`], the patterns' texts shared through `texts` (one load
/// passes the same to every file).
pub fn parse_policy_in(
    file: &Path,
    name: &str,
    cloud: Cloud,
    source: &str,
    texts: &mut Texts,
) -> Result<Policy, Vec<Diagnostic>> {
    // Strict: a key repeated in one object is an error, never last-wins.
    let value: Value = strict_json::from_str(source).map_err(|e| {
        vec![Diagnostic::error(
            file,
            Place::Line {
                line: e.line(),
                column: e.column(),
            },
            strict_json::message(&e),
        )]
    })?;
    let mut p = Parser {
        file,
        cloud,
        errors: Vec::new(),
        texts,
    };
    let statements = p.document(&value);
    if p.errors.is_empty() {
        Ok(Policy {
            name: name.into(),
            cloud,
            statements,
        })
    } else {
        Err(p.errors)
    }
}

struct Parser<'a> {
    file: &'a Path,
    cloud: Cloud,
    errors: Vec<Diagnostic>,
    texts: &'a mut Texts,
}

/// Escape a key for a JSON pointer (RFC 6901).
fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Parser<'_> {
    fn error(&mut self, pointer: &str, message: impl Into<String>) {
        self.errors.push(Diagnostic::error(
            self.file,
            Place::Pointer(pointer.to_string()),
            message,
        ));
    }

    fn document(&mut self, value: &Value) -> Vec<Statement> {
        let Some(obj) = value.as_object() else {
            self.error("", "a policy must be a JSON object");
            return Vec::new();
        };
        self.unknown_fields(obj, "", &["Version", "Statement"]);
        let want = self.cloud.policy_version();
        match obj.get("Version") {
            Some(Value::String(v)) if v == want => {}
            Some(v) => self.error(
                "/Version",
                format!(
                    "Version must be \"{want}\" in {} policies, found {v}",
                    self.cloud
                ),
            ),
            None => self.error("", format!("missing Version (must be \"{want}\")")),
        }
        let list: Vec<&Value> = match obj.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v @ Value::Object(_)) if self.cloud == Cloud::Huawei => vec![v],
            Some(_) => {
                self.error("/Statement", "Statement must be an array of statements");
                return Vec::new();
            }
            None => {
                self.error("", "missing Statement");
                return Vec::new();
            }
        };
        if list.is_empty() {
            self.error("/Statement", "Statement must not be empty");
        }
        let mut statements: Vec<Statement> = list
            .iter()
            .enumerate()
            .filter_map(|(i, s)| self.statement(i, s))
            .collect();
        // A compiled policy lives as long as its snapshot: no spare capacity
        // (`collect` over a filter grows by doubling; 10,000 policies of 5
        // statements kept room for 8 each).
        statements.shrink_to_fit();
        statements
    }

    fn unknown_fields(&mut self, obj: &Map<String, Value>, at: &str, known: &[&str]) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            let hint = if key == "Principal" {
                " (Principal is only valid in trust policies)"
            } else {
                ""
            };
            self.error(
                &format!("{at}/{}", esc(key)),
                format!("unknown field `{key}`{hint}"),
            );
        }
    }

    fn statement(&mut self, index: usize, value: &Value) -> Option<Statement> {
        let at = format!("/Statement/{index}");
        let Some(obj) = value.as_object() else {
            self.error(&at, "a statement must be a JSON object");
            return None;
        };
        let before = self.errors.len();
        self.unknown_fields(
            obj,
            &at,
            &[
                "Sid",
                "Effect",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
            ],
        );
        let sid = match obj.get("Sid") {
            None => None,
            Some(Value::String(s)) => Some(Arc::from(s.as_str())),
            Some(_) => {
                self.error(&format!("{at}/Sid"), "Sid must be a string");
                None
            }
        };
        let effect = self.effect(obj, &at);
        let actions = self.actions(obj, &at);
        let resources = self.resources(obj, &at);
        let conditions = match obj.get("Condition") {
            Some(c) => self.conditions(c, &format!("{at}/Condition")),
            None => Vec::new(),
        };
        if self.errors.len() > before {
            return None;
        }
        Some(Statement {
            index,
            sid,
            effect: effect?,
            actions: actions?,
            resources: resources?,
            conditions,
        })
    }

    fn effect(&mut self, obj: &Map<String, Value>, at: &str) -> Option<Effect> {
        match obj.get("Effect") {
            Some(Value::String(s)) if s == "Allow" => Some(Effect::Allow),
            Some(Value::String(s)) if s == "Deny" => Some(Effect::Deny),
            Some(v) => {
                self.error(
                    &format!("{at}/Effect"),
                    format!("Effect must be \"Allow\" or \"Deny\", found {v}"),
                );
                None
            }
            None => {
                self.error(at, "missing Effect");
                None
            }
        }
    }

    /// A string or a non-empty array of strings.
    fn string_list(&mut self, value: &Value, at: &str) -> Option<Vec<String>> {
        let items: Vec<&Value> = match value {
            Value::String(_) => vec![value],
            Value::Array(a) if a.is_empty() => {
                self.error(at, "the list must not be empty");
                return None;
            }
            Value::Array(a) => a.iter().collect(),
            _ => {
                self.error(at, "expected a string or an array of strings");
                return None;
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) if !s.trim().is_empty() => out.push(s.to_string()),
                _ => self.error(&format!("{at}/{i}"), "expected a non-empty string"),
            }
        }
        (out.len() == items.len()).then_some(out)
    }

    fn actions(&mut self, obj: &Map<String, Value>, at: &str) -> Option<ActionSet> {
        let (field, value) = match (obj.get("Action"), obj.get("NotAction")) {
            (Some(_), Some(_)) => {
                self.error(
                    at,
                    "a statement takes exactly one of Action and NotAction, not both",
                );
                return None;
            }
            (None, None) => {
                self.error(at, "missing Action (or NotAction)");
                return None;
            }
            (Some(v), None) => ("Action", v),
            (None, Some(v)) => ("NotAction", v),
        };
        let at = format!("{at}/{field}");
        let list = self.string_list(value, &at)?;
        for (i, a) in list.iter().enumerate() {
            if a != "*" && (!a.contains(':') || a.contains(char::is_whitespace)) {
                self.error(
                    &format!("{at}/{i}"),
                    format!("`{a}` is not an action (expected service:…)"),
                );
            }
        }
        let globs = list
            .iter()
            .map(|a| Glob::new_in(&a.to_lowercase(), self.texts))
            .collect();
        let set = if field == "Action" {
            ActionSet::Action(globs)
        } else {
            ActionSet::NotAction(globs)
        };
        Some(set)
    }

    fn resources(&mut self, obj: &Map<String, Value>, at: &str) -> Option<ResourceSet> {
        let (field, value) = match (obj.get("Resource"), obj.get("NotResource")) {
            (Some(_), Some(_)) => {
                self.error(
                    at,
                    "a statement takes at most one of Resource and NotResource",
                );
                return None;
            }
            (None, None) if self.cloud == Cloud::Huawei => {
                return Some(ResourceSet::Resource(vec![Glob::Any]))
            }
            (None, None) => {
                self.error(at, "missing Resource (or NotResource)");
                return None;
            }
            (Some(v), None) => ("Resource", v),
            (None, Some(v)) => ("NotResource", v),
        };
        let at = format!("{at}/{field}");
        // Any non-empty string is a pattern: both dialects glob over the
        // whole name (`modelarts:*`, `acs:agentrun:*`), so there is no shape
        // to enforce here. `iamgate check` warns on a pattern that can match
        // no resource of the catalog (check/resource_patterns.rs).
        let list = self.string_list(value, &at)?;
        let globs = list.iter().map(|r| Glob::new_in(r, self.texts)).collect();
        Some(if field == "Resource" {
            ResourceSet::Resource(globs)
        } else {
            ResourceSet::NotResource(globs)
        })
    }

    fn conditions(&mut self, value: &Value, at: &str) -> Vec<Condition> {
        let Some(ops) = value.as_object() else {
            self.error(at, "Condition must be an object of operators");
            return Vec::new();
        };
        if ops.is_empty() {
            self.error(at, "Condition must not be empty");
        }
        let mut out = Vec::new();
        for (op, keys) in ops {
            let op_at = format!("{at}/{}", esc(op));
            let spec = match condition::parse_operator(self.cloud, op) {
                Ok(spec) => spec,
                Err(e) => {
                    self.error(&op_at, e);
                    continue;
                }
            };
            let Some(keys) = keys.as_object().filter(|k| !k.is_empty()) else {
                self.error(
                    &op_at,
                    "an operator takes a non-empty object of condition keys",
                );
                continue;
            };
            for (key, values) in keys {
                let key_at = format!("{op_at}/{}", esc(key));
                let Some(values) = self.condition_values(values, &key_at) else {
                    continue;
                };
                match condition::build(&spec, op, key, &values) {
                    Ok(c) => out.push(c),
                    Err(e) => self.error(&key_at, e),
                }
            }
        }
        // The first push makes room for four; most statements have one.
        out.shrink_to_fit();
        out
    }

    /// Scalars (string, number, bool) or a non-empty array of them, as text.
    fn condition_values(&mut self, value: &Value, at: &str) -> Option<Vec<String>> {
        let scalar = |v: &Value| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let items: Vec<&Value> = match value {
            Value::Array(a) if a.is_empty() => {
                self.error(at, "the list of values must not be empty");
                return None;
            }
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        let out: Vec<String> = items.iter().filter_map(|v| scalar(v)).collect();
        if out.len() != items.len() {
            self.error(at, "condition values must be strings, numbers or booleans");
            return None;
        }
        Some(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "document_tests.rs"]
mod tests;
