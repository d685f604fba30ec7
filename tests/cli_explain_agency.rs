//! `iamgate explain --agency NAME [--session S]`: the decision for a session
//! of a Huawei agency, offline, against the repository's sample tree — the
//! agency's policies, bounded by the SCPs above the agency's account.
//! Exit codes as for `--user`: 0 allowed, 2 denied, 1 usage error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn explain(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iamgate"))
        .arg("explain")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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
fn an_agency_session_may_list_notebooks_with_the_agency_policy() {
    let (code, out, err) = explain(&[
        "--agency",
        "SOLO_NOTEBOOK_READER",
        "--method",
        "GET",
        "--path",
        "/v1/p-acme-cn4/notebooks",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("decision: allow\n"), "{out}");
    assert!(
        out.contains("principal: sts::acme0001:assumed-agency:solo_notebook_reader/explain"),
        "{out}"
    );
    assert!(
        out.contains("because: NotebookReadOnly#0 (ReadNotebooks)"),
        "{out}"
    );
}

#[test]
fn an_agency_session_is_denied_what_its_policies_do_not_allow() {
    let (code, out, err) = explain(&[
        "--agency",
        "solo_notebook_reader",
        "--session",
        "ci-7",
        "--method",
        "POST",
        "--path",
        "/v1/p-acme-cn4/notebooks",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("decision: implicit deny\n"), "{out}");
    assert!(
        out.contains("principal: sts::acme0001:assumed-agency:solo_notebook_reader/ci-7"),
        "{out}"
    );
}

#[test]
fn the_scps_above_the_agency_account_bound_its_sessions() {
    let (code, out, err) = explain(&[
        "--agency",
        "modelarts_agency",
        "--method",
        "DELETE",
        "--path",
        "/v2/p-acme-cn4/pools/p1",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.starts_with("decision: explicit deny\n"), "{out}");
    assert!(
        out.contains(
            "because: DenyPoolDelete#0 (ProtectResourcePools) at organisation level 1 (ou-prod)"
        ),
        "{out}"
    );
}

#[test]
fn an_unknown_agency_is_a_usage_error() {
    let (code, out, err) = explain(&["--agency", "nope", "--action", "modelarts:notebook:list"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no agency `nope`"), "{err}");
}
