//! Reading a route directory: every `*.toml` file in name order, each read
//! and parsed on its own so that one broken file does not hide the errors of
//! the others; then [`RouteTable::from_files`] checks what they mean.

use std::path::{Path, PathBuf};

use super::file::ServiceFile;
use super::RouteTable;
use crate::diag::{self, Diagnostic, Place};

impl RouteTable {
    /// Load every `*.toml` file in `dir` (sorted). Ok carries warnings; Err
    /// carries every error found (with file + place).
    pub fn load_dir(dir: &Path) -> Result<(RouteTable, Vec<Diagnostic>), Vec<Diagnostic>> {
        RouteTable::load_dir_collecting(dir, &mut Vec::new())
    }

    /// [`RouteTable::load_dir`], also handing every file's (path, bytes) to
    /// `sources` at the moment it is read, so the snapshot digest describes
    /// exactly what was compiled (no second read that could see a newer file).
    pub fn load_dir_collecting(
        dir: &Path,
        sources: &mut Vec<(PathBuf, Vec<u8>)>,
    ) -> Result<(RouteTable, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let files = read_dir(dir, &mut diags, sources)?;
        match RouteTable::from_files(files) {
            Ok((table, warnings)) if !diag::has_errors(&diags) => {
                diags.extend(warnings);
                Ok((table, diags))
            }
            Ok((_, more)) | Err(more) => {
                diags.extend(more);
                Err(diags)
            }
        }
    }
}

/// Read and parse the `*.toml` files of `dir`, in name order.
fn read_dir(
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
    sources: &mut Vec<(PathBuf, Vec<u8>)>,
) -> Result<Vec<(PathBuf, ServiceFile)>, Vec<Diagnostic>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![Diagnostic::error(
            dir,
            Place::File,
            format!("cannot read the route directory: {e}"),
        )]
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml") && p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        diags.push(Diagnostic::warning(
            dir,
            Place::File,
            "no route files (*.toml)",
        ));
    }
    let mut files = Vec::new();
    for path in paths {
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(e) => {
                diags.push(Diagnostic::error(
                    &path,
                    Place::File,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        sources.push((path.clone(), source.clone().into_bytes()));
        match toml::from_str::<ServiceFile>(&source) {
            Ok(file) => files.push((path, file)),
            Err(e) => diags.push(diag::from_toml_error(&path, &source, &e)),
        }
    }
    Ok(files)
}
