//! The mock's memory: items per account and concrete collection path, and
//! the log of every request it served.
//!
//! Items are keyed by the caller's account (the `X-Iamgate-Account` header
//! the gateway sets, `""` when absent) and the request's own collection
//! path, so `/v2/p1/workflows/w1/executions` and
//! `/v2/p1/workflows/w2/executions` are two collections, and account B never
//! sees, by list or by id, an item account A created: AgentRun paths carry
//! no account, so without this a runtime id would be global. A poisoned lock is taken over: the data is plain JSON
//! and stays consistent whatever a panicking writer left behind.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use http::HeaderMap;
use serde::Serialize;
use serde_json::{Map, Value};

/// (account, concrete collection path).
type Scope = (String, String);

fn scope(account: &str, path: &str) -> Scope {
    (account.to_string(), path.to_string())
}

/// Items of every concrete collection of every account, in creation order.
#[derive(Debug, Default)]
pub(crate) struct Store {
    collections: Mutex<HashMap<Scope, Vec<(String, Value)>>>,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, HashMap<Scope, Vec<(String, Value)>>> {
        self.collections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Store a new item; `false` when the id is taken.
    pub(crate) fn insert(&self, account: &str, path: &str, id: &str, item: Value) -> bool {
        let mut all = self.lock();
        let items = all.entry(scope(account, path)).or_default();
        if items.iter().any(|(k, _)| k == id) {
            return false;
        }
        items.push((id.to_string(), item));
        true
    }

    /// Every item of the collection at `path`.
    pub(crate) fn list(&self, account: &str, path: &str) -> Vec<Value> {
        self.lock()
            .get(&scope(account, path))
            .map(|items| items.iter().map(|(_, v)| v.clone()).collect())
            .unwrap_or_default()
    }

    pub(crate) fn get(&self, account: &str, path: &str, id: &str) -> Option<Value> {
        let all = self.lock();
        let items = all.get(&scope(account, path))?;
        items.iter().find(|(k, _)| k == id).map(|(_, v)| v.clone())
    }

    /// Merge `patch` into the item, let `fix` restore what must not change
    /// (its id keys), and return the result.
    pub(crate) fn update(
        &self,
        account: &str,
        path: &str,
        id: &str,
        patch: Value,
        fix: impl FnOnce(&mut Map<String, Value>),
    ) -> Option<Value> {
        let mut all = self.lock();
        let (_, item) = all
            .get_mut(&scope(account, path))?
            .iter_mut()
            .find(|(k, _)| k == id)?;
        merge(item, patch);
        if let Value::Object(map) = item {
            fix(map);
        }
        Some(item.clone())
    }

    pub(crate) fn remove(&self, account: &str, path: &str, id: &str) -> Option<Value> {
        let mut all = self.lock();
        let items = all.get_mut(&scope(account, path))?;
        let at = items.iter().position(|(k, _)| k == id)?;
        Some(items.remove(at).1)
    }
}

/// Deep merge of objects; any other value replaces the old one.
fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, value) in new {
                match old.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        old.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

/// What the log shows instead of a credential.
pub(crate) const REDACTED: &str = "<redacted>";

/// Headers that carry a credential: the unauthenticated `GET /-/requests`
/// must not hand them out (a captured signature replays for 15 minutes).
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-auth-token",
    "x-security-token",
    "x-acs-security-token",
    "x-subject-token",
];

/// Whether a (lower-cased) header name carries a credential: the list
/// above, or any name mentioning a signature (a signature *nonce* is not
/// one, and tests need to see it).
pub(crate) fn is_credential(name: &str) -> bool {
    CREDENTIAL_HEADERS.contains(&name) || (name.contains("signature") && !name.ends_with("nonce"))
}

/// One request as the mock saw it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`; empty when there was none.
    pub query: String,
    /// Header names lower-cased; repeated headers joined with `", "`;
    /// credentials replaced by [`REDACTED`], one per value.
    pub headers: BTreeMap<String, String>,
    pub body_len: usize,
}

/// The log behind `GET /-/requests`: the most recent requests only, so a
/// mock under load keeps bounded memory (tests read a handful at a time).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    requests: Mutex<VecDeque<Logged>>,
}

/// One request as the log keeps it: every header line in one buffer
/// (`name: value\n`, credentials already replaced by [`REDACTED`]), made
/// into a [`RecordedRequest`] only when the log is read. The mock records
/// every request it serves; two allocations and a map insert per header
/// made each header an upstream receives cost the mock as much as the
/// rest of its request, which charged whoever adds headers (the gateway's
/// `Forwarded`, `X-Request-Id`, …) far more than parsing them costs a real
/// service.
#[derive(Debug)]
pub(crate) struct Logged {
    method: String,
    path: String,
    query: String,
    headers: String,
    body_len: usize,
}

impl Logged {
    pub(crate) fn new(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body_len: usize,
    ) -> Logged {
        let size = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 3);
        let mut lines = String::with_capacity(size.sum());
        for (name, value) in headers {
            // `HeaderName`s are lower-case already; a value holds no `\n`.
            lines.push_str(name.as_str());
            lines.push_str(": ");
            match is_credential(name.as_str()) {
                true => lines.push_str(REDACTED),
                false => lines.push_str(&String::from_utf8_lossy(value.as_bytes())),
            }
            lines.push('\n');
        }
        Logged {
            method: method.to_string(),
            path: path.to_string(),
            query: query.unwrap_or_default().to_string(),
            headers: lines,
            body_len,
        }
    }

    /// Repeated headers joined with `", "` in the order received.
    fn recorded(&self) -> RecordedRequest {
        let mut headers = BTreeMap::<String, String>::new();
        for (name, value) in self.headers.lines().filter_map(|l| l.split_once(": ")) {
            headers
                .entry(name.to_string())
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(value);
                })
                .or_insert_with(|| value.to_string());
        }
        RecordedRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            headers,
            body_len: self.body_len,
        }
    }
}

/// How many requests the log keeps; older ones are forgotten first.
pub(crate) const LOG_CAPACITY: usize = 10_000;

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Logged>> {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn record(&self, request: Logged) {
        let mut log = self.lock();
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(request);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.lock().iter().map(Logged::recorded).collect()
    }

    /// Forget everything; returns how many requests were dropped.
    pub(crate) fn clear(&self) -> usize {
        let mut log = self.lock();
        let n = log.len();
        log.clear();
        n
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn crud_per_concrete_path() {
        let store = Store::default();
        assert!(store.insert("", "/w/1/e", "a", json!({"id": "a"})));
        assert!(!store.insert("", "/w/1/e", "a", json!({})));
        assert!(store.insert("", "/w/2/e", "a", json!({"id": "a2"})));
        assert_eq!(store.list("", "/w/1/e"), vec![json!({"id": "a"})]);
        assert_eq!(store.get("", "/w/2/e", "a"), Some(json!({"id": "a2"})));
        assert_eq!(store.remove("", "/w/1/e", "a"), Some(json!({"id": "a"})));
        assert_eq!(store.get("", "/w/1/e", "a"), None);
        assert!(store.list("", "/w/1/e").is_empty());
    }

    #[test]
    fn accounts_never_see_each_others_items() {
        let store = Store::default();
        assert!(store.insert("A", "/c", "x", json!({"owner": "A"})));
        assert!(store.insert("B", "/c", "x", json!({"owner": "B"})));
        assert_eq!(store.get("B", "/c", "x"), Some(json!({"owner": "B"})));
        assert_eq!(store.list("A", "/c"), vec![json!({"owner": "A"})]);
        assert!(store.list("", "/c").is_empty());
        assert!(store.update("C", "/c", "x", json!({}), |_| {}).is_none());
        assert_eq!(store.remove("B", "/c", "x"), Some(json!({"owner": "B"})));
        assert_eq!(store.get("A", "/c", "x"), Some(json!({"owner": "A"})));
        assert_eq!(store.remove("B", "/c", "x"), None);
    }

    #[test]
    fn update_merges_deeply_and_keeps_ids() {
        let store = Store::default();
        store.insert("", "/c", "a", json!({"id": "a", "spec": {"x": 1, "y": 2}}));
        let updated = store
            .update("", "/c", "a", json!({"id": "b", "spec": {"y": 3}}), |m| {
                m.insert("id".into(), json!("a"));
            })
            .unwrap();
        assert_eq!(updated, json!({"id": "a", "spec": {"x": 1, "y": 3}}));
        assert!(store.update("", "/c", "zz", json!({}), |_| {}).is_none());
    }

    #[test]
    fn recorder_keeps_only_the_most_recent_requests() {
        let r = Recorder::default();
        for i in 0..LOG_CAPACITY + 5 {
            r.record(Logged::new(
                "GET",
                &format!("/{i}"),
                None,
                &HeaderMap::new(),
                0,
            ));
        }
        let all = r.all();
        assert_eq!(all.len(), LOG_CAPACITY);
        assert_eq!(all[0].path, "/5");
    }

    #[test]
    fn credential_headers_are_recognised() {
        for name in [
            "authorization",
            "x-auth-token",
            "x-security-token",
            "x-acs-security-token",
            "x-subject-token",
            "x-acs-signature",
            "x-amz-signature",
        ] {
            assert!(is_credential(name), "{name}");
        }
        for name in [
            "x-acs-signature-nonce",
            "x-sdk-date",
            "content-type",
            "host",
        ] {
            assert!(!is_credential(name), "{name}");
        }
    }

    #[test]
    fn recorder_records_and_clears() {
        let rec = Recorder::default();
        rec.record(Logged::new("GET", "/x", None, &HeaderMap::new(), 0));
        assert_eq!(rec.all().len(), 1);
        assert_eq!(rec.clear(), 1);
        assert!(rec.all().is_empty());
    }
}
