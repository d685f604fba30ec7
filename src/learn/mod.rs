//! `iamgate learn`: from a decision log, the least-privilege identity
//! policy of every principal — exactly the (action, resource) pairs its
//! requests needed, in its cloud's dialect. [`engine::learn`] is the pure
//! core (lines in, policies out), [`log`] reads the log back and
//! [`output`] writes a tree `iamgate check` accepts plus a summary.
//! `replay` and `coverage` read logs through [`log`] too.

mod conditions;
pub mod engine;
pub mod log;
pub mod observed;
pub mod output;

use std::path::PathBuf;

pub use engine::{learn, learn_with, policy_name, LearnOptions, Learned, LearnedPolicy};
pub use log::{parse_principal, read_log, read_log_path, Log, LogAction, LogLine};
pub use observed::{LiveLearned, Observed};

/// Everything `iamgate learn` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The decision log (`-`: stdin).
    pub log: PathBuf,
    /// Where the policies (and the tree, with `base`) are written.
    pub out: PathBuf,
    /// A policy tree to copy into `out` with the learned users re-attached.
    pub base: Option<PathBuf>,
    /// Only this principal (URN).
    pub principal: Option<String>,
    /// Learn `StringEquals` conditions on tag and enterprise-project keys.
    pub conditions: bool,
    pub json: bool,
}

/// Run `iamgate learn`; the exit code: 0 written, 1 on any error.
pub fn run(opts: &Options) -> u8 {
    let log = match read_log_path(&opts.log) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("iamgate learn: {e}");
            return 1;
        }
    };
    for (n, why) in &log.skipped {
        eprintln!("{}:{n}: skipped: {why}", opts.log.display());
    }
    let mut learned = learn_with(
        &log.lines,
        LearnOptions {
            conditions: opts.conditions,
        },
    );
    if let Some(only) = &opts.principal {
        learned.policies.retain(|p| &p.principal == only);
        learned.roots.retain(|r| r == only);
        learned.unknown.retain(|r| r == only);
    }
    let notes = match output::write_tree(&learned, &opts.out, opts.base.as_deref()) {
        Ok(notes) => notes,
        Err(e) => {
            eprintln!("iamgate learn: {e}");
            return 1;
        }
    };
    if opts.json {
        match serde_json::to_string_pretty(&learned) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("iamgate learn: {e}");
                return 1;
            }
        }
        notes.iter().for_each(|n| eprintln!("note: {n}"));
    } else {
        print!("{}", output::render_summary(&learned, &notes));
    }
    0
}
