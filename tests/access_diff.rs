//! The access diff where operators see it: a reload records it on
//! `/-/snapshot`, counts it in `iamgate_reload_access_changes_total`; and
//! `iamgate diff OLD NEW` prints it with exit 0 (no change) or 3 (changed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use iamgate::admin::{Admin, Guard};
use iamgate::config::Config;
use iamgate::metrics::Metrics;
use iamgate::reload::{ReloadOutcome, Reloader};
use iamgate::snapshot::{Snapshot, SnapshotHolder};
use iamgate::state::ResourceState;
use serde_json::Value;

/// A temp folder with a config and a copy of the sample policies.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let policies = tmp.path().join("policies");
    common::copy_tree(&common::manifest("policies"), &policies);
    let config = tmp.path().join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n[upstreams]\nmodelarts = \"http://127.0.0.1:9\"\nagentrun = \"http://127.0.0.1:9\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        common::manifest("routes"),
        policies,
    );
    std::fs::write(&config, text).unwrap();
    (tmp, config)
}

/// Give the group `notebook-readers` notebook deletion too.
fn widen_readers(policies: &Path) {
    let path = policies.join("huawei/identity/NotebookReadOnly.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let wider = text.replace(
        "\"modelarts:notebook:list\",",
        "\"modelarts:notebook:list\", \"modelarts:notebook:delete\",",
    );
    assert_ne!(text, wider);
    std::fs::write(&path, wider).unwrap();
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

#[tokio::test]
async fn a_reload_records_the_access_diff_on_snapshot_and_in_metrics() {
    let (tmp, config_path) = workdir();
    let config = Config::load(&config_path).unwrap();
    let holder = Arc::new(SnapshotHolder::new(Snapshot::load(&config).unwrap()));
    let metrics = Metrics::new();
    let resources = Arc::new(ResourceState::new(100));
    let reloader = Arc::new(Reloader::new(
        config.clone(),
        holder.clone(),
        metrics.clone(),
        resources.clone(),
    ));
    let admin = Admin {
        holder: holder.clone(),
        metrics: metrics.clone(),
        reloader: reloader.clone(),
        ready: true.into(),
        guard: Guard::Loopback,
        resources,
        observed: Arc::default(),
        console: None,
    };
    assert!(admin.snapshot_json()["access_diff"].is_null());
    widen_readers(&tmp.path().join("policies"));
    assert!(matches!(
        reloader.reload("test").await,
        ReloadOutcome::Loaded(_)
    ));
    let doc = admin.snapshot_json();
    let diff = &doc["access_diff"];
    assert_eq!(diff["gained"], 1, "{doc:#}");
    assert_eq!(diff["lost"], 0);
    assert_eq!(diff["complete"], true);
    assert_eq!(
        diff["changes"][0],
        serde_json::json!({"principal": "iam::acme0001:user:reader", "action": "modelarts:notebook:delete", "change": "gained"})
    );
    let text = metrics.render();
    let gained = r#"iamgate_reload_access_changes_total{change="gained"}"#;
    let lost = r#"iamgate_reload_access_changes_total{change="lost"}"#;
    assert_eq!(sample(&text, gained), Some(1.0), "{text}");
    assert_eq!(sample(&text, lost), Some(0.0));
    // Back to the original: the same pair is lost; the counters add up.
    let path = tmp
        .path()
        .join("policies/huawei/identity/NotebookReadOnly.json");
    std::fs::copy(
        common::manifest("policies/huawei/identity/NotebookReadOnly.json"),
        path,
    )
    .unwrap();
    assert!(matches!(
        reloader.reload("test").await,
        ReloadOutcome::Loaded(_)
    ));
    assert_eq!(admin.snapshot_json()["access_diff"]["lost"], 1);
    let text = metrics.render();
    assert_eq!(sample(&text, gained), Some(1.0));
    assert_eq!(sample(&text, lost), Some(1.0));
}

/// Run `iamgate diff <args>` at the repository root.
fn diff(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("diff")
        .args(args)
        .current_dir(common::manifest(""))
        .env("IAMGATE_LOG", "warn")
        .output()
        .expect("run iamgate");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn iamgate_diff_exits_0_without_changes_and_3_with_them() {
    let (tmp, _) = workdir();
    let new = tmp.path().join("policies");
    let (code, out, err) = diff(&["policies", new.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("0 gained, 0 lost over "), "{out}");
    widen_readers(&new);
    let (code, out, err) = diff(&["policies", new.to_str().unwrap()]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.starts_with("+ iam::acme0001:user:reader modelarts:notebook:delete\n1 gained, 0 lost"),
        "{out}"
    );
    let (code, out, _) = diff(&["--json", "policies", new.to_str().unwrap()]);
    assert_eq!(code, 3);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["gained"], 1);
    assert_eq!(v["changes"][0]["change"], "gained");
}

#[test]
fn iamgate_diff_reports_load_errors_of_either_tree_with_exit_1() {
    let (tmp, _) = workdir();
    let new = tmp.path().join("policies");
    std::fs::write(new.join("huawei/identity/Broken.json"), "{").unwrap();
    let (code, out, err) = diff(&["policies", new.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("new tree: ") && err.contains("Broken.json"),
        "{err}"
    );
    let (code, _, err) = diff(&["policies", "/nonexistent-policies"]);
    assert_eq!(code, 1);
    assert!(err.contains("new tree: "), "{err}");
}
