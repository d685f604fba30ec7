//! The bundled mock cloud upstream.

use std::path::Path;

/// Run the mock on its own (`iamgate mock`): bind `listen`, print
/// `listening on <addr>`, serve until SIGINT/SIGTERM.
pub async fn run_standalone(listen: &str, routes: &Path) -> Result<(), String> {
    Err(format!("mock not implemented yet ({listen}, {})", routes.display()))
}
