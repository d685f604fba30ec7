//! The gateway the proxy's unit tests run against: the repository's routes
//! and sample policies, upstreams on a port nobody listens on (127.0.0.1:9)
//! unless a test names its own, no file written outside the test's folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use http::uri::Authority;

use super::Gateway;
use crate::config::Config;
use crate::decision_log::DecisionLog;
use crate::metrics::Metrics;
use crate::snapshot::{Snapshot, SnapshotHolder};

/// Write `dir/iamgate.toml` over the sample tree (`extra` is top-level
/// TOML) and load it.
pub(crate) fn sample_config(dir: &Path, extra: &str) -> Config {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config_path = dir.join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n{extra}\n[upstreams]\nmodelarts = \"http://127.0.0.1:9\"\nagentrun = \"http://127.0.0.1:9\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        repo.join("routes"),
        repo.join("policies"),
    );
    std::fs::write(&config_path, text).unwrap();
    Config::load(&config_path).unwrap()
}

/// A gateway on `config`'s snapshot, forwarding to `upstreams`.
pub(crate) fn gateway_with(
    config: Config,
    upstreams: HashMap<String, Authority>,
    log: DecisionLog,
) -> Arc<Gateway> {
    let snapshot = Snapshot::load(&config).unwrap();
    let snapshots = Arc::new(SnapshotHolder::new(snapshot));
    Arc::new(Gateway::new(
        config,
        snapshots,
        upstreams,
        Metrics::new(),
        log,
    ))
}
