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
//! - [`huawei_iam`]: the built-in Huawei IAM: temporary keys and tokens by agency, password or token.
//! - [`snapshot`]: the one immutable snapshot behind one `ArcSwap`; [`reload`] is its only writer.
//! - [`state`]: state made by traffic that outlives a snapshot: the resource state (owners, tags).
//! - [`proxy`]: server, request pipeline, upstream client, error bodies.
//! - [`admin`], [`metrics`], [`decision_log`]: what operators see.
//! - [`mock`]: the bundled mock cloud upstream.
//! - [`check`], [`explain`]: `iamgate check` (validate every file) and `iamgate explain` (offline decisions).
//! - [`serve`]: `iamgate serve` wiring; [`workers`]: per-core listeners and runtimes.
//! - [`learn`], [`replay`], [`coverage`]: the least-privilege workflow over decision logs.
//! - [`sts`]: the built-in Alibaba STS service (`AssumeRole`) and role sessions.
//! - [`console`]: the live console on the admin listener (`/ui`): recent decisions, live, explained.
//! - [`otel_config`], `otel` (cargo feature `otel`): a span per request, exported over OTLP/HTTP.
//! - [`access_diff`]: which (principal, action) pairs gained or lost access between two snapshots.

pub mod accept;
pub mod access_diff;
pub mod admin;
pub mod check;
pub mod cloud;
pub mod coalesce;
pub mod config;
pub mod console;
pub mod coverage;
pub mod decision_log;
pub mod diag;
pub mod directory;
pub mod explain;
pub mod huawei_iam;
pub mod identity;
pub mod learn;
pub mod memory;
pub mod metrics;
pub mod mock;
#[cfg(feature = "otel")]
pub mod otel;
pub mod otel_config;
pub mod policy;
pub mod proxy;
pub mod reload;
pub mod replay;
pub mod routes;
pub mod serve;
pub mod signals;
pub mod snapshot;
pub mod state;
pub mod sts;
pub mod watch;
pub mod workers;
