//! iamgate: a reverse proxy that enforces cloud IAM in front of mock cloud APIs.
//!
//! Crate map (see ARCHITECTURE.md for the invariants):
//! - [`cloud`]: the two dialects (Huawei, Alibaba) and what each fixes.
//! - [`diag`]: load-time diagnostics with file and place.
//! - [`config`]: `iamgate.toml` → validated [`config::Config`].
//! - [`routes`]: route files → [`routes::RouteTable`] (matchit), strict path rules.
//! - [`policy`]: pure policy engine: parse (all errors) → compile → evaluate → `Decision`.
//! - [`directory`]: accounts, org trees, users, groups, credentials and resources files.
//! - [`identity`]: SDK-HMAC-SHA256, ACS3-HMAC-SHA256 and token verification.
//! - [`snapshot`]: the one immutable snapshot behind one `ArcSwap`; [`reload`] is its only writer.
//! - [`state`]: state made by traffic that outlives a snapshot: the resource state (owners, tags).
//! - [`proxy`]: server, request pipeline, upstream client, error bodies.
//! - [`admin`], [`metrics`], [`decision_log`]: what operators see.
//! - [`mock`]: the bundled mock cloud upstream.
//! - [`check`], [`explain`]: `iamgate check` (validate every file) and `iamgate explain` (offline decisions).
//! - [`serve`]: `iamgate serve` wiring.
//! - [`access_diff`]: which (principal, action) pairs gained or lost access between two snapshots.

pub mod accept;
pub mod access_diff;
pub mod admin;
pub mod check;
pub mod cloud;
pub mod coalesce;
pub mod config;
pub mod decision_log;
pub mod diag;
pub mod directory;
pub mod explain;
pub mod identity;
pub mod metrics;
pub mod mock;
pub mod policy;
pub mod proxy;
pub mod reload;
pub mod routes;
pub mod serve;
pub mod signals;
pub mod snapshot;
pub mod state;
pub mod watch;
