//! Route files, `accounts.toml`, `credentials.toml` and `resources.toml`
//! from arbitrary text, loaded the way start-up loads them: from a
//! directory (a per-process temp dir under `/dev/shm`, the sample policy
//! JSON files copied in). Never a panic; every error names a file of that
//! directory, and a line:column place lies inside the text it points into.
//!
//! Input: first byte chooses the file (0 route file, 1 accounts, 2
//! credentials, 3 resources, modulo 4), the rest is its text.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use iamgate::diag::{Diagnostic, Place};
use iamgate::directory;
use iamgate::routes::RouteTable;
use libfuzzer_sys::fuzz_target;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
const TOML_FILES: [&str; 3] = ["accounts.toml", "credentials.toml", "resources.toml"];

/// `<tmp>/routes` (empty) and `<tmp>/policies` (a copy of the samples).
struct Dirs {
    routes: PathBuf,
    policies: PathBuf,
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn dirs() -> &'static Dirs {
    static DIRS: OnceLock<Dirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!("iamgate-fuzz-config-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dirs = Dirs {
            routes: root.join("routes"),
            policies: root.join("policies"),
        };
        let made = std::fs::create_dir_all(&dirs.routes)
            .and_then(|()| copy_tree(Path::new(POLICIES), &dirs.policies));
        if let Err(e) = made {
            panic!("cannot prepare {}: {e}", root.display());
        }
        dirs
    })
}

/// Every diagnostic names a file under `dir`; one placed in `fuzzed` by
/// line:column points inside `text`; a pointer is a JSON pointer.
fn check_places(diags: &[Diagnostic], dir: &Path, fuzzed: &Path, text: &str) {
    for d in diags {
        assert!(
            d.file.starts_with(dir),
            "{d}: names a file outside {}",
            dir.display()
        );
        assert!(!d.message.is_empty(), "{d}: no message");
        match &d.place {
            Place::Line { line, column } => {
                assert!(*line >= 1 && *column >= 1, "{d}: place 0");
                if d.file == fuzzed {
                    assert!(*line <= text.split('\n').count(), "{d}: line past the end");
                }
            }
            Place::Pointer(p) => assert!(p.is_empty() || p.starts_with('/'), "{d}: bad pointer"),
            Place::File => {}
        }
    }
}

fn route_file(text: &str) {
    let d = dirs();
    let file = d.routes.join("fuzz.toml");
    if std::fs::write(&file, text).is_err() {
        return;
    }
    match RouteTable::load_dir(&d.routes) {
        Ok((table, warnings)) => {
            check_places(&warnings, &d.routes, &file, text);
            let _ = table.lookup(&http::Method::GET, "/v1/p/notebooks");
        }
        Err(diags) => {
            assert!(diags.iter().any(|d| !d.warning), "Err without an error");
            check_places(&diags, &d.routes, &file, text);
        }
    }
}

fn directory_file(name: &str, text: &str) {
    let d = dirs();
    let file = d.policies.join(name);
    let original = Path::new(POLICIES).join(name);
    if std::fs::write(&file, text).is_err() {
        return;
    }
    let mut sources = Vec::new();
    let result = directory::load(&d.policies, &mut sources);
    // Put the sample back so the next input changes one file only.
    if std::fs::copy(&original, &file).is_err() {
        let _ = std::fs::write(&file, "");
    }
    match result {
        Ok((_, warnings)) => check_places(&warnings, &d.policies, &file, text),
        Err(diags) => {
            assert!(diags.iter().any(|d| !d.warning), "Err without an error");
            check_places(&diags, &d.policies, &file, text);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match choice % 4 {
        0 => route_file(text),
        n => directory_file(TOML_FILES[usize::from(n) - 1], text),
    }
});
