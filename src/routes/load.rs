//! Reading a route directory: every `*.toml` file in name order, each read
//! and parsed on its own so that one broken file does not hide the errors of
//! the others; then [`RouteTable::from_files`] checks what they mean.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::file::ServiceFile;
use super::RouteTable;
use crate::diag::{self, Diagnostic, Place};
use crate::directory::cache::{CompiledPolicies, Sources};

impl RouteTable {
    /// Load every `*.toml` file in `dir` (sorted). Ok carries warnings; Err
    /// carries every error found (with file + place).
    pub fn load_dir(dir: &Path) -> Result<(RouteTable, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let files = read_dir(dir, &mut diags)?;
        compile(files, diags)
    }

    /// [`RouteTable::load_dir`] for a reload: when every route file has the
    /// very bytes `previous` compiled (same names, same SHA-256), its table
    /// and warnings are reused instead of parsing the files again. The
    /// digests are of the bytes read here, so the snapshot digest describes
    /// exactly what is enforced (no second read that could see a newer file).
    pub fn load_dir_reusing(
        dir: &Path,
        previous: Option<&CompiledRoutes>,
    ) -> Result<CompiledRoutes, Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let read = read_dir(dir, &mut diags)?;
        let files: Sources = read
            .iter()
            .map(|(path, text)| {
                (
                    path.as_path().into(),
                    CompiledPolicies::digest(text.as_bytes()),
                )
            })
            .collect();
        let unchanged = |p: &&CompiledRoutes| p.files == files && !diag::has_errors(&diags);
        if let Some(previous) = previous.filter(unchanged) {
            return Ok(CompiledRoutes {
                files,
                table: previous.table.clone(),
                warnings: previous.warnings.clone(),
            });
        }
        let (table, warnings) = compile(read, diags)?;
        Ok(CompiledRoutes {
            files,
            table: Arc::new(table),
            warnings,
        })
    }
}

/// The route table one load compiled, with the files it was compiled from
/// and its warnings: the next load starts from it.
#[derive(Debug, Clone)]
pub struct CompiledRoutes {
    /// (path, SHA-256) of every route file, in name order.
    pub files: Sources,
    pub table: Arc<RouteTable>,
    pub warnings: Vec<Diagnostic>,
}

/// Parse every file read (one broken file does not hide the errors of the
/// others), then check what they mean together.
fn compile(
    read: Vec<(PathBuf, String)>,
    mut diags: Vec<Diagnostic>,
) -> Result<(RouteTable, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut files = Vec::new();
    for (path, source) in read {
        match toml::from_str::<ServiceFile>(&source) {
            Ok(file) => files.push((path, file)),
            Err(e) => diags.push(diag::from_toml_error(&path, &source, &e)),
        }
    }
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

/// Read the `*.toml` files of `dir`, in name order (a file that cannot be
/// read is an error in `diags`).
fn read_dir(
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Result<Vec<(PathBuf, String)>, Vec<Diagnostic>> {
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
        files.push((path, source));
    }
    Ok(files)
}
