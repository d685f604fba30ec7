//! Helpers shared by the integration tests: repository paths, fixture
//! tables copied from the source documents, the route table, concrete paths.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use iamgate::routes::RouteTable;

/// A path inside the repository.
pub fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The rows of `tests/data/<dir>/<name>`, header skipped, cells split at tabs.
pub fn fixture(dir: &str, name: &str) -> Vec<Vec<String>> {
    let path = manifest("tests/data").join(dir).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = text.lines().skip(1).filter(|l| !l.is_empty());
    rows.map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The repository's route files, loaded.
pub fn route_table() -> RouteTable {
    match RouteTable::load_dir(&manifest("routes")) {
        Ok((table, _warnings)) => table,
        Err(diags) => panic!("route files do not load: {diags:#?}"),
    }
}

/// A concrete path for a template: each `{name}` becomes `value(name)`.
pub fn instantiate(template: &str, value: impl Fn(&str) -> String) -> String {
    let segments =
        template.split('/').map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => value(name),
                None => s.to_string(),
            },
        );
    segments.collect::<Vec<_>>().join("/")
}

/// The action names a route requires, as the catalog spells them.
pub fn action_names<'a>(
    service: &'a iamgate::routes::Service,
    route: &iamgate::routes::Route,
) -> Vec<&'a str> {
    route
        .actions
        .iter()
        .map(|i| service.actions[*i].name.as_str())
        .collect()
}
