//! The pure policy engine: parse policy documents (every error at once, with
//! its place) → compile them into action-indexed sets → evaluate a request
//! into a [`Decision`] that carries its reason. Nothing here does IO, reads a
//! clock or logs: time and every context value are inputs. This module never
//! imports tokio or hyper.

pub mod condition;
pub mod context;
pub mod decision;
pub mod document;
pub mod evaluate;
pub mod explain;
pub mod glob;
pub mod index;
pub mod statement;
pub mod strict_json;

pub use context::Context;
pub use decision::{
    Decision, DecisionKind, Denial, Grant, Permit, PolicySource, Reason, StatementRef,
};
pub use document::parse_policy;
pub use evaluate::{authorize, evaluate, OrgLevel, Subject};
pub use index::PolicySet;
pub use statement::{Effect, Policy};
