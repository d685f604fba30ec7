//! The `resources.toml` lint over a copy of the sample tree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use super::*;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A sample policy tree with these `resources.toml` entries in `tmp`.
fn tree(tmp: &Path, entries: &[&str]) -> std::path::PathBuf {
    let policies = tmp.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for file in ["accounts.toml", "credentials.toml"] {
        std::fs::copy(
            Path::new(REPO).join("policies").join(file),
            policies.join(file),
        )
        .unwrap();
    }
    crate::directory::policies::FOLDERS
        .iter()
        .for_each(|(_, _, folder)| {
            let from = Path::new(REPO).join("policies").join(folder);
            std::fs::create_dir_all(policies.join(folder)).unwrap();
            for e in std::fs::read_dir(&from).unwrap() {
                let e = e.unwrap().path();
                std::fs::copy(&e, policies.join(folder).join(e.file_name().unwrap())).unwrap();
            }
        });
    let text: String = entries
        .iter()
        .map(|u| format!("[[resource]]\nurn = \"{u}\"\n"))
        .collect();
    std::fs::write(policies.join("resources.toml"), text).unwrap();
    policies
}

/// Warnings for these `resources.toml` entries next to the sample accounts.
fn warnings(entries: &[&str]) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    let policies = tree(tmp.path(), entries);
    let snap = Snapshot::load_dirs(&Path::new(REPO).join("routes"), &policies, None).unwrap();
    let regions: BTreeMap<String, String> = [("agentrun".into(), "cn-hangzhou".into())].into();
    unknown_parts(&snap, &policies, Some(&regions))
        .iter()
        .map(|d| {
            assert!(d.warning);
            format!("{} {}", d.location().rsplit('#').next().unwrap(), d.message)
        })
        .collect()
}

#[test]
fn known_entries_are_quiet() {
    let w = warnings(&[
        "modelarts:cn-north-4:acme0001:notebook:nb-1",
        "modelarts:cn-north-4:solo0002:pool:p",
        "acs:agentrun:cn-hangzhou:1234567890123456:templates/t1",
    ]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn an_unknown_account_is_named() {
    let w = warnings(&["modelarts:cn-north-4:acme0009:notebook:nb-1"]);
    assert_eq!(
        w,
        ["/resource/0/urn `modelarts:cn-north-4:acme0009:notebook:nb-1`: account `acme0009` is not an [[account]] of accounts.toml"]
    );
}

#[test]
fn a_region_without_a_project_of_the_account_is_named() {
    let w = warnings(&["x", "modelarts:cn-south-1:acme0001:notebook:nb-1"]);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].starts_with("/resource/0/urn `x` fits no service's resource template"),
        "{w:?}"
    );
    assert_eq!(
        w[1],
        "/resource/1/urn `modelarts:cn-south-1:acme0001:notebook:nb-1`: account `acme0001` has no project in region `cn-south-1` (its projects: p-acme-cn4 in cn-north-4)"
    );
}

#[test]
fn an_unknown_type_lists_the_known_ones() {
    let w = warnings(&["modelarts:cn-north-4:acme0001:notebok:nb-1"]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("names no resource type the modelarts catalog knows"),
        "{w:?}"
    );
    assert!(w[0].contains("notebook"), "{w:?}");
}

#[test]
fn alibaba_entries_check_the_configured_region_and_the_accounts_cloud() {
    let w = warnings(&[
        "acs:agentrun:cn-beijing:1234567890123456:templates/t1",
        "acs:agentrun:cn-hangzhou:acme0001:templates/t1",
    ]);
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("region `cn-beijing` is not the agentrun region `cn-hangzhou`"),
        "{w:?}"
    );
    assert!(
        w[1].contains(
            "account `acme0001` is a huawei account, but the agentrun service is on aliyun"
        ),
        "{w:?}"
    );
}

#[test]
fn iamgate_check_reports_them_as_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let policies = tree(tmp.path(), &["modelarts:cn-north-4:acme0009:notebook:nb-1"]);
    let config = tmp.path().join("iamgate.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nroutes = {:?}\npolicies = {:?}\n[upstreams]\nmodelarts = \"builtin:mock\"\nagentrun = \"builtin:mock\"\n[regions]\nagentrun = \"cn-hangzhou\"\n",
        Path::new(REPO).join("routes"),
        policies
    );
    std::fs::write(&config, text).unwrap();
    let report = crate::check::check(&config);
    assert!(report.ok(), "{:?}", report.diagnostics);
    let found: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.file.ends_with("resources.toml"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].warning && found[0].message.contains("acme0009"));
}
