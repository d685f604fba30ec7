//! `iamgate learn --conditions`: narrow each learned statement with the
//! condition values the requests showed. The log records the keys the
//! original decisions read; a key becomes a `StringEquals` condition on a
//! (action, resource) pair when every request of that pair had a single
//! value for it, allowing exactly the values seen. Only keys that name a
//! tag or the enterprise project qualify: time, addresses and booleans
//! would pin a policy to one moment, one client or one transport.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::log::LoggedContext;

/// Condition key → the values it may take.
pub(super) type Conditions = BTreeMap<String, BTreeSet<String>>;

/// What the requests of one pair agreed on for a key.
#[derive(Debug, Clone)]
enum Agree {
    Values(BTreeSet<String>),
    /// Absent, multi-valued or not in every request: no condition.
    Mixed,
}

/// Per (action, resource): per key, what its requests showed.
#[derive(Debug, Clone, Default)]
pub(super) struct PairContexts(BTreeMap<(String, String), BTreeMap<String, Agree>>);

/// Keys a learned condition may name.
fn eligible(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["resourcetag/", "principaltag/", "requesttag/"]
        .iter()
        .any(|t| k.contains(t))
        || k.ends_with(":enterpriseprojectid")
}

fn single(values: &Option<Vec<String>>) -> Option<&String> {
    match values.as_deref() {
        Some([one]) => Some(one),
        _ => None,
    }
}

impl PairContexts {
    /// One request of the pair with its effective context.
    pub(super) fn observe(&mut self, action: &str, resource: &str, ctx: &LoggedContext) {
        let key = (action.to_string(), resource.to_string());
        let Some(seen) = self.0.get_mut(&key) else {
            let first = ctx
                .iter()
                .filter(|(k, _)| eligible(k))
                .map(|(k, v)| match single(v) {
                    Some(one) => (k.clone(), Agree::Values(BTreeSet::from([one.clone()]))),
                    None => (k.clone(), Agree::Mixed),
                })
                .collect();
            self.0.insert(key, first);
            return;
        };
        for (k, agree) in seen.iter_mut() {
            match (agree, ctx.get(k).and_then(single)) {
                (Agree::Values(values), Some(one)) => {
                    values.insert(one.clone());
                }
                (agree, _) => *agree = Agree::Mixed,
            }
        }
        // A key this request read that earlier ones did not: not in every request.
        for k in ctx.keys().filter(|k| eligible(k)) {
            seen.entry(k.clone()).or_insert(Agree::Mixed);
        }
    }

    /// The conditions of a pair (empty when none qualify).
    pub(super) fn conditions(&self, action: &str, resource: &str) -> Conditions {
        let key = (action.to_string(), resource.to_string());
        let Some(seen) = self.0.get(&key) else {
            return Conditions::new();
        };
        seen.iter()
            .filter_map(|(k, a)| match a {
                Agree::Values(v) => Some((k.clone(), v.clone())),
                Agree::Mixed => None,
            })
            .collect()
    }
}

/// `{"StringEquals": {key: [values]}}`, or `None` for no conditions.
pub(super) fn condition_json(c: &Conditions) -> Option<Value> {
    if c.is_empty() {
        return None;
    }
    let keys: serde_json::Map<String, Value> = c
        .iter()
        .map(|(k, v)| (k.clone(), json!(v.iter().collect::<Vec<_>>())))
        .collect();
    Some(json!({ "StringEquals": keys }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, Option<&[&str]>)]) -> LoggedContext {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.map(|v| v.iter().map(|s| s.to_string()).collect()),
                )
            })
            .collect()
    }

    #[test]
    fn a_key_becomes_a_condition_only_when_every_request_had_one_value() {
        let mut p = PairContexts::default();
        let tag: &[&str] = &["blue"];
        p.observe(
            "a",
            "r",
            &ctx(&[
                ("g:resourcetag/team", Some(tag)),
                ("g:sourceip", Some(&["10.0.0.1"])),
                ("g:resourcetag/env", Some(&["dev"])),
            ]),
        );
        p.observe(
            "a",
            "r",
            &ctx(&[
                ("g:resourcetag/team", Some(&["red"])),
                ("g:resourcetag/env", None),
                ("g:principaltag/x", Some(&["1"])),
            ]),
        );
        let c = p.conditions("a", "r");
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(
            c["g:resourcetag/team"],
            BTreeSet::from(["blue".to_string(), "red".to_string()])
        );
        assert!(p.conditions("a", "other").is_empty());
        assert_eq!(
            condition_json(&c).unwrap(),
            json!({"StringEquals": {"g:resourcetag/team": ["blue", "red"]}})
        );
        assert_eq!(condition_json(&Conditions::new()), None);
    }
}
