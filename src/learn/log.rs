//! Reading a decision log back (`docs/decision-log.md`, schema 1) for the
//! least-privilege tools. The writer's types only serialize; this is the
//! reader's mirror, lenient as the schema asks: unknown fields are ignored,
//! and only the fields `learn`, `replay` and `coverage` use are read.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::Deserialize;

use crate::cloud::Cloud;

/// Condition key → values, `None` when the key was read and absent.
pub type LoggedContext = BTreeMap<String, Option<Vec<String>>>;

/// One decision-log line, as the tools need it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogLine {
    pub schema: u32,
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub actions: Vec<LogAction>,
    #[serde(default)]
    pub context: LoggedContext,
    pub decision: String,
    #[serde(default)]
    pub status: u16,
}

/// One entry of a line's `actions`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogAction {
    pub action: String,
    pub resource: String,
    pub decision: String,
    /// The engine's reason as written (compared as JSON, never interpreted).
    #[serde(default)]
    pub reason: Option<serde_json::Value>,
    #[serde(default)]
    pub context: LoggedContext,
}

/// The decisions a policy made (as opposed to refusals before any decision
/// and `unmapped` forwards): the lines the tools learn from and replay.
pub const DECIDED: &[&str] = &["allow", "explicit_deny", "implicit_deny", "audit_deny"];

impl LogLine {
    /// A policy decision was made for an authenticated principal.
    pub fn is_decided(&self) -> bool {
        self.principal.is_some() && !self.actions.is_empty() && DECIDED.contains(&&*self.decision)
    }

    /// Whether the gateway let the request through because a policy allowed it.
    pub fn was_allowed(&self) -> bool {
        self.decision == "allow"
    }

    /// The effective context of action `i`: the line's overlaid with its own.
    pub fn context_of(&self, i: usize) -> LoggedContext {
        let mut ctx = self.context.clone();
        if let Some(a) = self.actions.get(i) {
            ctx.extend(a.context.clone());
        }
        ctx
    }
}

/// Lines read, and the lines that could not be (1-based numbers, why).
#[derive(Debug, Default)]
pub struct Log {
    pub lines: Vec<LogLine>,
    pub skipped: Vec<(usize, String)>,
}

/// Read every line; a line that is not a schema-1 record is skipped and
/// reported (a log cut mid-line by a crash must not hide the rest).
pub fn read_log(reader: impl BufRead) -> std::io::Result<Log> {
    let mut log = Log::default();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<LogLine>(&line) {
            Ok(l) if l.schema == 1 => log.lines.push(l),
            Ok(l) => log
                .skipped
                .push((i + 1, format!("schema {} is not supported", l.schema))),
            Err(e) => log.skipped.push((i + 1, e.to_string())),
        }
    }
    Ok(log)
}

/// Open `path` (`-` is stdin) and read it.
pub fn read_log_path(path: &std::path::Path) -> Result<Log, String> {
    let result = if path.as_os_str() == "-" {
        read_log(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        read_log(std::io::BufReader::new(file))
    };
    result.map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A principal URN split into (cloud, account, user); `user` is `None` for
/// the account root. `None` when the URN is not one iamgate writes.
pub fn parse_principal(urn: &str) -> Option<(Cloud, String, Option<String>)> {
    if let Some(rest) = urn.strip_prefix("iam::") {
        let (account, who) = rest.split_once(':')?;
        let user = match who {
            "root" => None,
            _ => Some(who.strip_prefix("user:")?.to_string()),
        };
        return Some((Cloud::Huawei, account.to_string(), user));
    }
    let rest = urn.strip_prefix("acs:ram::")?;
    let (account, who) = rest.split_once(':')?;
    let user = match who {
        "root" => None,
        _ => Some(who.strip_prefix("user/")?.to_string()),
    };
    Some((Cloud::Aliyun, account.to_string(), user))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn principals_of_both_clouds_parse() {
        assert_eq!(
            parse_principal("iam::acme0001:user:alice"),
            Some((Cloud::Huawei, "acme0001".into(), Some("alice".into())))
        );
        assert_eq!(
            parse_principal("iam::acme0001:root"),
            Some((Cloud::Huawei, "acme0001".into(), None))
        );
        assert_eq!(
            parse_principal("acs:ram::123:user/runner"),
            Some((Cloud::Aliyun, "123".into(), Some("runner".into())))
        );
        assert_eq!(parse_principal("acs:ram::123:root").unwrap().2, None);
        assert_eq!(parse_principal("iam::a:group:x"), None);
        assert_eq!(parse_principal("nonsense"), None);
    }

    #[test]
    fn bad_lines_are_skipped_and_counted_and_unknown_fields_ignored() {
        let text = concat!(
            r#"{"schema":1,"principal":"iam::a:user:u","decision":"allow","new_field":1,"actions":[{"action":"s:x:get","resource":"r","decision":"allow","reason":null,"context":{}}]}"#,
            "\n\n{not json\n",
            r#"{"schema":2,"decision":"allow"}"#,
            "\n"
        );
        let log = read_log(text.as_bytes()).unwrap();
        assert_eq!(log.lines.len(), 1);
        assert!(log.lines[0].is_decided());
        assert_eq!(log.skipped.iter().map(|s| s.0).collect::<Vec<_>>(), [3, 4]);
    }
}
