//! The request context: condition keys and their values for one request.
//!
//! Key names are case-insensitive, but tag keys inside them are compared as
//! written: `g:ResourceTag/Team` is stored as `g:resourcetag/Team`.

use std::collections::HashMap;

/// Condition key → values. A single-valued key holds one value; multi-valued
/// keys (`g:TagKeys`, `g:CalledVia`) hold any number, possibly none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

/// Lower-case the key name up to the first `/`, keep the rest as written.
pub fn normalize_key(key: &str) -> String {
    match key.split_once('/') {
        Some((name, rest)) => format!("{}/{}", name.to_ascii_lowercase(), rest),
        None => key.to_ascii_lowercase(),
    }
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Set a single-valued key (replacing any earlier value).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(normalize_key(key), vec![value.into()]);
    }

    /// Set a multi-valued key (an empty list is present but empty).
    pub fn set_multi(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(normalize_key(key), values);
    }

    pub fn remove(&mut self, key: &str) {
        self.values.remove(&normalize_key(key));
    }

    /// Values of an already normalised key; `None` when the key is absent.
    pub fn get(&self, normalized_key: &str) -> Option<&[String]> {
        self.values.get(normalized_key).map(Vec::as_slice)
    }

    /// Every key and its values, sorted, for explanations.
    pub fn entries(&self) -> Vec<(&str, &[String])> {
        let mut all: Vec<_> = self
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        all.sort();
        all
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn key_names_fold_case_but_tag_keys_do_not() {
        let mut c = Context::new();
        c.set("G:ResourceTag/Team", "blue");
        assert_eq!(c.get("g:resourcetag/Team"), Some(&["blue".to_string()][..]));
        assert_eq!(c.get("g:resourcetag/team"), None);
        assert_eq!(normalize_key("g:SourceIp"), "g:sourceip");
    }
}
