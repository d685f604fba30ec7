//! Test support: reads the vendors' signing vectors from the crate's copy
//! `tests/data/signing-vectors.txt` (never from outside the crate) and
//! rebuilds owned requests that the verifiers' tests turn into
//! [`HttpParts`]. A section starts at a `--- name ---` or `=== name ===`
//! marker (text after the closing marker is the section's one-line value);
//! a Huawei case starts at an `=== METHOD path … body=…` title line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http::{HeaderMap, HeaderName, HeaderValue};

use super::request::HttpParts;

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/signing-vectors.txt"
));

/// One case of the vector file: its title line and its named sections.
#[derive(Debug, Default)]
pub(crate) struct Vector {
    pub(crate) title: String,
    sections: Vec<(String, Vec<String>)>,
}

impl Vector {
    /// The text of section `name`, lines joined with `\n`.
    pub(crate) fn section(&self, name: &str) -> String {
        let (_, lines) = self
            .sections
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("vector `{}` lacks section `{name}`", self.title));
        let mut lines = lines.clone();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.join("\n")
    }

    /// The first line of section `name` (one-line sections may be followed
    /// by free-text notes in the file).
    pub(crate) fn line(&self, name: &str) -> String {
        self.section(name).lines().next().unwrap_or("").to_owned()
    }

    fn has(&self, name: &str) -> bool {
        self.sections.iter().any(|(n, _)| n == name)
    }
}

/// `(name, inline value)` if `line` is a section marker.
fn marker(line: &str) -> Option<(String, String)> {
    for fence in ["---", "==="] {
        if let Some(rest) = line.strip_prefix(&format!("{fence} ")) {
            if let Some((name, after)) = rest.split_once(&format!(" {fence}")) {
                return Some((name.to_owned(), after.trim().to_owned()));
            }
        }
    }
    None
}

/// All cases of the vector file, in order.
pub(crate) fn load() -> Vec<Vector> {
    let mut vectors: Vec<Vector> = Vec::new();
    for line in VECTORS.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((name, inline)) = marker(line) {
            if vectors.last().is_none_or(|v| v.has(&name)) {
                vectors.push(Vector::default());
            }
            let current = vectors.last_mut().unwrap();
            let lines = if inline.is_empty() {
                vec![]
            } else {
                vec![inline]
            };
            current.sections.push((name, lines));
        } else if let Some(title) = line.strip_prefix("=== ") {
            vectors.push(Vector {
                title: title.to_owned(),
                sections: Vec::new(),
            });
        } else if let Some((_, lines)) = vectors.last_mut().and_then(|v| v.sections.last_mut()) {
            lines.push(line.to_owned());
        }
    }
    vectors
}

/// The Huawei cases (those with a title line).
pub(crate) fn huawei() -> Vec<Vector> {
    load().into_iter().filter(|v| !v.title.is_empty()).collect()
}

/// The single ACS3 case.
pub(crate) fn acs3() -> Vector {
    let mut found: Vec<Vector> = load()
        .into_iter()
        .filter(|v| v.has("wire query (SDK urlencode)"))
        .collect();
    assert_eq!(found.len(), 1);
    found.remove(0)
}

/// The `name:value` lines of a canonical request (from line 4 to the blank line).
pub(crate) fn headers_from_canonical(canonical: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in canonical.lines().skip(3).take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

/// An owned request from which [`HttpParts`] borrow.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnedRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) authority: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl OwnedRequest {
    /// Borrowed view for the verifiers.
    pub(crate) fn parts(&self) -> HttpParts<'_> {
        HttpParts {
            method: &self.method,
            raw_path: &self.path,
            raw_query: self.query.as_deref(),
            authority: self.authority.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// Sets (replaces) header `name`.
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }

    /// Splits a wire URI (`/path?query`) into path and query.
    pub(crate) fn set_uri(&mut self, uri: &str) {
        match uri.split_once('?') {
            Some((path, query)) => {
                self.path = path.to_owned();
                self.query = Some(query.to_owned());
            }
            None => {
                self.path = uri.to_owned();
                self.query = None;
            }
        }
    }
}

#[test]
fn the_vector_file_has_three_huawei_cases_and_one_acs3_case() {
    let huawei = huawei();
    assert_eq!(huawei.len(), 3);
    for v in &huawei {
        assert!(v
            .section("canonical request")
            .starts_with(v.title.split(' ').next().unwrap()));
        assert!(!v.line("wire uri").is_empty());
    }
    assert!(acs3()
        .section("Authorization")
        .starts_with("ACS3-HMAC-SHA256 "));
}
