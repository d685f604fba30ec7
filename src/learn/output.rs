//! Writing what `learn` found: one JSON policy file per principal under
//! `<out>/<cloud>/identity/`, a `learned-summary.json`, and — when a base
//! policy tree is given — a complete tree `iamgate check`, `serve` and
//! `replay` load: the base copied, the learned policies added, and each
//! learned user's attachments in `accounts.toml` replaced by its learned
//! policy alone (groups dropped), so the tree grants exactly what was seen.

use std::path::{Path, PathBuf};

use super::engine::{Learned, LearnedPolicy};

/// The file a learned policy is written to, relative to the tree's root.
pub fn policy_path(p: &LearnedPolicy) -> PathBuf {
    PathBuf::from(p.cloud.as_str())
        .join("identity")
        .join(format!("{}.json", p.name))
}

/// Write the policies (and the base tree first, when given). Returns notes
/// for the summary: users the base `accounts.toml` does not have.
pub fn write_tree(
    learned: &Learned,
    out: &Path,
    base: Option<&Path>,
) -> Result<Vec<String>, String> {
    let err = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    let mut notes = Vec::new();
    if let Some(base) = base {
        refuse_inside(base, out)?;
        copy_dir(base, out).map_err(|e| format!("copying {}: {e}", base.display()))?;
    }
    for p in &learned.policies {
        let path = out.join(policy_path(p));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
        }
        let text = serde_json::to_string_pretty(&p.document).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| err(&path, e))?;
    }
    if base.is_some() {
        let accounts = out.join("accounts.toml");
        let text = std::fs::read_to_string(&accounts).map_err(|e| err(&accounts, e))?;
        let (text, missing) = attach(&text, &learned.policies)?;
        std::fs::write(&accounts, text).map_err(|e| err(&accounts, e))?;
        notes.extend(missing.into_iter().map(|u| {
            format!("{u} is not a user of the base accounts.toml: its policy is written but attached to no one")
        }));
    }
    let summary = out.join("learned-summary.json");
    let json = serde_json::to_string_pretty(learned).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| err(out, e))?;
    std::fs::write(&summary, json + "\n").map_err(|e| err(&summary, e))?;
    Ok(notes)
}

/// The output tree must not be the base tree or inside it: the copy would
/// overwrite the base, or copy itself into itself.
fn refuse_inside(base: &Path, out: &Path) -> Result<(), String> {
    let base = base
        .canonicalize()
        .map_err(|e| format!("{}: {e}", base.display()))?;
    // `out` may not exist yet: its nearest existing ancestor decides.
    let mut probe = out.to_path_buf();
    let existing = loop {
        if let Ok(c) = probe.canonicalize() {
            break Some(c);
        }
        if !probe.pop() || probe.as_os_str().is_empty() {
            break std::env::current_dir().ok();
        }
    };
    match existing {
        Some(o) if o.starts_with(&base) => Err(format!(
            "--out {} is inside --policies {}: write the learned tree elsewhere",
            out.display(),
            base.display()
        )),
        _ => Ok(()),
    }
}

/// `accounts.toml` with each learned user attached to its learned policy
/// only; also the principals no user entry matched.
fn attach(text: &str, policies: &[LearnedPolicy]) -> Result<(String, Vec<String>), String> {
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| format!("accounts.toml: {e}"))?;
    let mut missing = Vec::new();
    for p in policies {
        if !attach_one(&mut doc, p) {
            missing.push(p.principal.clone());
        }
    }
    let text = toml::to_string(&doc).map_err(|e| format!("accounts.toml: {e}"))?;
    let header = "# Written by `iamgate learn`: learned users hold their learned policy only.\n";
    Ok((format!("{header}{text}"), missing))
}

fn attach_one(doc: &mut toml::Table, p: &LearnedPolicy) -> bool {
    let Some(toml::Value::Array(accounts)) = doc.get_mut("account") else {
        return false;
    };
    let account = accounts
        .iter_mut()
        .filter_map(toml::Value::as_table_mut)
        .find(|a| a.get("id").and_then(toml::Value::as_str) == Some(&p.account));
    let Some(toml::Value::Array(users)) = account.and_then(|a| a.get_mut("user")) else {
        return false;
    };
    let user = users
        .iter_mut()
        .filter_map(toml::Value::as_table_mut)
        .find(|u| u.get("name").and_then(toml::Value::as_str) == Some(&p.user));
    let Some(user) = user else { return false };
    user.remove("groups");
    let name = toml::Value::String(p.name.clone());
    user.insert("policies".into(), toml::Value::Array(vec![name]));
    true
}

/// Copy a folder recursively (files keep their permissions: a
/// credentials file stays private).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The human summary: per principal its file, actions and resources.
pub fn render_summary(learned: &Learned, notes: &[String]) -> String {
    let mut s = String::new();
    let requests: usize = learned.policies.iter().map(|p| p.requests).sum();
    s += &format!(
        "learned {} polic{} from {requests} request(s)\n",
        learned.policies.len(),
        if learned.policies.len() == 1 {
            "y"
        } else {
            "ies"
        }
    );
    for p in &learned.policies {
        s += &format!(
            "\n{}\n  policy:    {}\n",
            p.principal,
            policy_path(p).display()
        );
        s += &format!("  requests:  {} ({} denied)\n", p.requests, p.denied);
        s += &format!("  actions:   {}\n", p.actions.join(", "));
        s += &format!("  resources: {}\n", p.resources.join(", "));
    }
    if !learned.roots.is_empty() {
        s += &format!(
            "\nnot learned (account roots: identity policies do not restrict them): {}\n",
            learned.roots.join(", ")
        );
    }
    if !learned.unknown.is_empty() {
        s += &format!(
            "\nnot learned (unknown principals): {}\n",
            learned.unknown.join(", ")
        );
    }
    for n in notes {
        s += &format!("note: {n}\n");
    }
    s
}
