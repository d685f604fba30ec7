//! Path rules + `RouteTable::lookup` over the repository's real route files.
//!
//! Input: first line = method bytes, the rest = the raw path (with an
//! optional `?query`, dropped as the handler's `uri.path()` would). Never a
//! panic; a path that routes (mapped or unmapped) is never ambiguous, and a
//! matched route's decoded parameters never hold a `/`.
#![no_main]

use std::sync::OnceLock;

use iamgate::routes::{RouteError, RouteTable};
use libfuzzer_sys::fuzz_target;

/// The real route files, loaded once per process.
fn table() -> &'static RouteTable {
    static TABLE: OnceLock<RouteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../routes");
        match RouteTable::load_dir(std::path::Path::new(dir)) {
            Ok((table, _warnings)) => table,
            Err(diags) => panic!("the repository's route files do not load: {diags:?}"),
        }
    })
}

/// Substrings no routed path may hold (checked case-insensitively).
const AMBIGUOUS: [&str; 4] = ["//", "/./", "/../", "%2f"];

fn assert_unambiguous(path: &str) {
    let lower = path.to_ascii_lowercase();
    for bad in AMBIGUOUS {
        assert!(
            !lower.contains(bad),
            "routed an ambiguous path {path:?} ({bad})"
        );
    }
    assert!(
        !lower.ends_with("/.") && !lower.ends_with("/.."),
        "routed a dot segment {path:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let (method, rest) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"GET"[..], data),
    };
    let Ok(method) = http::Method::from_bytes(method) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let path = text.split('?').next().unwrap_or("");
    let table = table();
    let _ = table.cloud_for_path(path);
    match table.lookup(&method, path) {
        Ok(m) => {
            assert_unambiguous(path);
            assert_eq!(m.route.method, method, "a route of another method matched");
            for (name, value) in &m.params {
                assert!(
                    !value.contains('/'),
                    "param {name} = {value:?} holds a '/' ({path:?})"
                );
                assert!(!value.is_empty(), "param {name} is empty ({path:?})");
            }
            for action in m.actions() {
                let resource = m.resource_for(action, "cn-north-4", "acct");
                assert!(!resource.is_empty());
            }
            // Routing is a pure function of (method, path).
            let again = table.lookup(&method, path).map(|m| m.params);
            assert_eq!(again.as_ref().ok(), Some(&m.params));
        }
        Err(RouteError::Unmapped { .. }) => assert_unambiguous(path),
        Err(RouteError::BadPath(why)) => assert!(!why.is_empty()),
        Err(RouteError::NotFound) => {}
    }
});
