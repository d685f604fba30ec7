//! The request context: condition keys and their values for one request.
//!
//! Key names are case-insensitive, but tag keys inside them are compared as
//! written: `g:ResourceTag/Team` is stored as `g:resourcetag/Team`.
//!
//! A context remembers which keys were looked up ([`Context::read_keys`]), so
//! the decision log can record the keys a decision actually read.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use smallvec::{smallvec, SmallVec};

/// foldhash: a fraction of SipHash's cost on these short keys, and still
/// seeded per process (tag keys in a request body are client input). Most
/// keys hold one value, kept inline: the gateway fills in ~15 keys a
/// request, and a `Vec` each was one allocation more per key.
type Values = HashMap<Cow<'static, str>, KeyValues, foldhash::fast::RandomState>;
type KeyValues = SmallVec<[String; 1]>;

/// Condition key → values. A single-valued key holds one value; multi-valued
/// keys (`g:TagKeys`, `g:CalledVia`) hold any number, possibly none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: Values,
    reads: ReadKeys,
}

/// The normalised keys looked up through [`Context::get`]. A `Mutex` rather
/// than a `Cell` keeps `Context` `Sync`; it is never contended (one request,
/// one thread at a time). Not part of equality: two contexts with the same
/// values are the same context whatever was read from them. `ignored`: the
/// caller will never ask ([`Context::forget_reads`]).
#[derive(Debug, Default)]
struct ReadKeys {
    keys: Mutex<BTreeSet<String>>,
    ignored: bool,
}

impl ReadKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clone for ReadKeys {
    fn clone(&self) -> Self {
        ReadKeys {
            keys: Mutex::new(self.lock().clone()),
            ignored: self.ignored,
        }
    }
}

impl PartialEq for ReadKeys {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ReadKeys {}

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

    /// An empty context with room for `n` keys (no rehashing while the
    /// gateway fills in its ~20 keys).
    pub fn with_capacity(n: usize) -> Self {
        Context {
            values: Values::with_capacity_and_hasher(n, Default::default()),
            reads: ReadKeys::default(),
        }
    }

    /// Do not remember lookups: nobody will ask for [`Context::read_keys`]
    /// (no decision-log line will be written for this request).
    pub fn forget_reads(&mut self) {
        self.reads.ignored = true;
    }

    /// Set a single-valued key (replacing any earlier value).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values
            .insert(Cow::Owned(normalize_key(key)), smallvec![value.into()]);
    }

    /// Set a multi-valued key (an empty list is present but empty).
    pub fn set_multi(&mut self, key: &str, values: Vec<String>) {
        let values = KeyValues::from_vec(values);
        self.values.insert(Cow::Owned(normalize_key(key)), values);
    }

    /// Set a single-valued key whose name is already normalised (lower-case
    /// up to the first `/`): the gateway's own keys, without an allocation
    /// for the name.
    pub fn set_normalized(&mut self, key: &'static str, value: impl Into<String>) {
        debug_assert_eq!(normalize_key(key), key);
        self.values
            .insert(Cow::Borrowed(key), smallvec![value.into()]);
    }

    /// [`Context::set_multi`] for an already normalised name.
    pub fn set_multi_normalized(&mut self, key: &'static str, values: Vec<String>) {
        debug_assert_eq!(normalize_key(key), key);
        self.values
            .insert(Cow::Borrowed(key), KeyValues::from_vec(values));
    }

    pub fn remove(&mut self, key: &str) {
        self.values.remove(normalize_key(key).as_str());
    }

    /// Values of an already normalised key; `None` when the key is absent.
    /// The lookup is remembered (see [`Context::read_keys`]).
    pub fn get(&self, normalized_key: &str) -> Option<&[String]> {
        if !self.reads.ignored {
            let mut reads = self.reads.lock();
            if !reads.contains(normalized_key) {
                reads.insert(normalized_key.to_string());
            }
        }
        self.values.get(normalized_key).map(|v| v.as_slice())
    }

    /// Every key looked up so far, sorted, with its values (`None`: the key
    /// was read and is absent — also a fact a decision depended on).
    pub fn read_keys(&self) -> Vec<(String, Option<Vec<String>>)> {
        let reads = self.reads.lock();
        reads
            .iter()
            .map(|k| (k.clone(), self.values.get(k.as_str()).map(|v| v.to_vec())))
            .collect()
    }

    /// Every key and its values, sorted, for explanations.
    pub fn entries(&self) -> Vec<(&str, &[String])> {
        let mut all: Vec<_> = self
            .values
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_slice()))
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

    #[test]
    fn a_context_told_to_forget_reads_remembers_none_and_answers_the_same() {
        let mut c = Context::new();
        c.set("g:SourceIp", "10.0.0.1");
        c.forget_reads();
        assert_eq!(c.get("g:sourceip"), Some(&["10.0.0.1".to_string()][..]));
        assert_eq!(c.get("g:mfapresent"), None);
        assert!(c.read_keys().is_empty());
        assert!(c.clone().read_keys().is_empty());
    }

    #[test]
    fn lookups_are_remembered_with_their_values_absent_ones_too() {
        let mut c = Context::new();
        c.set("g:SourceIp", "10.0.0.1");
        c.set("g:UserName", "alice");
        assert!(c.read_keys().is_empty());
        c.get("g:sourceip");
        c.get("g:mfapresent");
        c.get("g:sourceip");
        let copy = c.clone();
        assert_eq!(
            copy.read_keys(),
            vec![
                ("g:mfapresent".to_string(), None),
                ("g:sourceip".to_string(), Some(vec!["10.0.0.1".to_string()])),
            ]
        );
        assert_eq!(
            copy,
            Context {
                reads: ReadKeys::default(),
                ..c.clone()
            }
        );
    }

    #[test]
    fn every_setter_stores_and_remove_forgets() {
        let mut c = Context::with_capacity(4);
        c.set_multi("G:TagKeys", vec!["a".into(), "b".into()]);
        c.set_multi("g:CalledVia", Vec::new());
        c.set_normalized("g:sourceip", "10.0.0.1");
        c.set_multi_normalized("g:requesttag/Env", vec!["dev".into()]);
        c.set("g:UserName", "alice");
        c.set("g:UserName", "bob");
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            c.entries(),
            vec![
                ("g:calledvia", &s(&[])[..]),
                ("g:requesttag/Env", &s(&["dev"])[..]),
                ("g:sourceip", &s(&["10.0.0.1"])[..]),
                ("g:tagkeys", &s(&["a", "b"])[..]),
                ("g:username", &s(&["bob"])[..]),
            ]
        );
        c.remove("G:UserName");
        assert_eq!(c.get("g:username"), None);
        assert_eq!(c.get("g:calledvia"), Some(&[][..]));
        assert_eq!(c.entries().len(), 4);
    }
}
