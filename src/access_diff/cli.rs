//! `iamgate diff OLD_DIR NEW_DIR`: the access diff of two policy trees,
//! offline, for a review or CI before a policy change is merged. Both trees
//! load with the same routes (`--routes`, else the config's) through the
//! start-up load path; the Alibaba regions come from the config when it
//! exists. Exit status: 0 nothing changed, 3 some access changed, 1 a tree
//! or the config did not load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::snapshot::Snapshot;

use super::{diff, AccessDiff, Change, Limits};

/// What `iamgate diff` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub old: PathBuf,
    pub new: PathBuf,
    pub routes: Option<PathBuf>,
    pub json: bool,
    pub limits: Limits,
}

/// Exit status when access changed (as `iamgate replay` uses it).
pub const CHANGED: u8 = 3;

/// Run the diff, print it, return the exit status.
pub fn run(opts: &Options) -> u8 {
    let result =
        load_both(opts).map(|(old, new, regions)| diff(&old, &new, &regions, &opts.limits));
    let d = match result {
        Ok(d) => d,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            return 1;
        }
    };
    if opts.json {
        match serde_json::to_string_pretty(&d) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("iamgate: {e}");
                return 1;
            }
        }
    } else {
        print!("{}", render_text(&d));
    }
    if d.is_empty() {
        0
    } else {
        CHANGED
    }
}

type Loaded = (Snapshot, Snapshot, BTreeMap<String, String>);

/// Both snapshots and the regions; every load error of both trees.
fn load_both(opts: &Options) -> Result<Loaded, Vec<String>> {
    let config = optional_config(&opts.config)?;
    let routes = match (&opts.routes, &config) {
        (Some(r), _) => r.clone(),
        (None, Some(c)) => c.routes_dir.clone(),
        (None, None) => PathBuf::from("routes"),
    };
    let regions = config.map(|c| c.regions).unwrap_or_default();
    let old = Snapshot::load_dirs(&routes, &opts.old, None);
    let new = Snapshot::load_dirs(&routes, &opts.new, None);
    match (old, new) {
        (Ok(old), Ok(new)) => Ok((old, new, regions)),
        (old, new) => {
            let mut errors: Vec<String> = Vec::new();
            for (label, result) in [("old", old.err()), ("new", new.err())] {
                for d in result.unwrap_or_default() {
                    errors.push(format!("{label} tree: {d}"));
                }
            }
            Err(errors)
        }
    }
}

/// The config when its file exists (a missing file is fine: defaults).
fn optional_config(path: &Path) -> Result<Option<Config>, Vec<String>> {
    if !path.exists() {
        return Ok(None);
    }
    Config::load(path)
        .map(Some)
        .map_err(|ds| ds.iter().map(ToString::to_string).collect())
}

/// `+ principal action` per gained pair, `- …` per lost one, then a summary.
pub fn render_text(d: &AccessDiff) -> String {
    let mut out = String::new();
    for c in &d.changes {
        let sign = match c.change {
            Change::Gained => '+',
            Change::Lost => '-',
        };
        out.push_str(&format!("{sign} {} {}\n", c.principal, c.action));
    }
    if d.omitted > 0 {
        out.push_str(&format!("… {} more change(s) not listed\n", d.omitted));
    }
    out.push_str(&format!(
        "{} gained, {} lost over {} of {} (principal, action) pairs",
        d.gained, d.lost, d.pairs_compared, d.pairs_total
    ));
    if !d.complete {
        out.push_str(" (stopped early: the counts are a lower bound)");
    }
    out.push('\n');
    out
}
