//! Inline identity policies: a policy written in place on a user or group
//! of `accounts.toml` instead of in a file of its own, so a generated
//! scenario does not have to invent policy names.
//!
//! Two spellings of the same document: the console's JSON pasted into a
//! TOML string (`policy = '''{"Version": "5.0", …}'''`), or the document as
//! a TOML table (`policy = { Version = "5.0", Statement = [ … ] }`). Either
//! is parsed exactly as a policy file is (same grammar, strict JSON, every
//! error), with errors placed at the field in `accounts.toml`. An identity
//! has one `policy`, or several in `inline_policies = [ … ]`, or both; they
//! apply after its named `policies`. The field type is reusable by any
//! identity (roles next).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;

use crate::cloud::Cloud;
use crate::diag::{Diagnostic, Place};
use crate::directory::build::{Builder, IdentityAt, Listed};
use crate::directory::policies::PolicyKind;
use crate::policy::{parse_policy, Policy};

/// One inline identity policy, as written in `accounts.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum InlinePolicy {
    /// Console JSON inside a TOML string.
    Json(String),
    /// The same document as a TOML table.
    Table(toml::Table),
}

/// The inline policies of one identity: its `policy` and `inline_policies`.
pub struct Inline<'a> {
    pub policy: Option<&'a InlinePolicy>,
    pub inline_policies: &'a [InlinePolicy],
}

impl Inline<'_> {
    /// (field under the identity and its index, the policy), in the order they apply.
    fn entries(&self) -> impl Iterator<Item = ((&'static str, Option<usize>), &InlinePolicy)> {
        let one = self.policy.map(|p| (("policy", None), p));
        let many = self
            .inline_policies
            .iter()
            .enumerate()
            .map(|(i, p)| (("inline_policies", Some(i)), p));
        one.into_iter().chain(many)
    }

    fn is_empty(&self) -> bool {
        self.policy.is_none() && self.inline_policies.is_empty()
    }
}

/// The name an inline policy carries in decisions and deny messages:
/// `inline/<account>/<user|group>/<name>/<n>` (no policy file stem can
/// hold a `/`, so it never collides with a named policy).
pub fn inline_name(owner: &str, n: usize) -> String {
    format!("inline/{owner}/{n}")
}

impl Builder<'_> {
    /// Compile the inline policies of identity `who` (errors placed under
    /// it), named after `owner` (`<account>/<user|group>/<name>`);
    /// appends them to `listed` for [`Builder::identity_set`].
    pub(super) fn inline_policies<'a>(
        &mut self,
        cloud: Cloud,
        owner: impl FnOnce() -> String,
        inline: Inline<'_>,
        who: IdentityAt<'a>,
        listed: &mut Vec<Listed<'a>>,
    ) {
        if inline.is_empty() {
            return;
        }
        let owner = owner();
        for (n, ((field, i), policy)) in inline.entries().enumerate() {
            let at = who.at(field, i);
            let name = inline_name(&owner, n);
            // A policy that does not compile is reported once, here; it is
            // left out so no "unknown policy" follows from it.
            if let Some(p) = self.compile_inline(cloud, &name, policy, &at.to_string()) {
                self.inline.insert(name.clone(), Arc::new(p));
                listed.push(Listed {
                    name: Cow::Owned(name),
                    at,
                });
            }
        }
    }

    fn compile_inline(
        &mut self,
        cloud: Cloud,
        name: &str,
        policy: &InlinePolicy,
        place: &str,
    ) -> Option<Policy> {
        let text = match policy {
            InlinePolicy::Json(text) => text.clone(),
            InlinePolicy::Table(table) => match serde_json::to_string(table) {
                Ok(text) => text,
                Err(e) => {
                    self.error(
                        "accounts.toml",
                        place.to_string(),
                        format!("inline policy: {e}"),
                    );
                    return None;
                }
            },
        };
        let file = self.file("accounts.toml");
        match parse_policy(&file, name, cloud, &text) {
            Ok(p) => Some(p),
            Err(diags) => {
                let placed = diags.into_iter().map(|d| place_under(d, place));
                self.diags.extend(placed);
                None
            }
        }
    }

    /// An identity policy by name: an inline one of this file, else the store's.
    pub(super) fn identity_policy(&self, cloud: Cloud, name: &str) -> Result<Arc<Policy>, String> {
        match self.inline.get(name) {
            Some(p) => Ok(p.clone()),
            None => self.store.get(cloud, PolicyKind::Identity, name),
        }
    }
}

/// A diagnostic of the inline document, moved to its field in `accounts.toml`.
fn place_under(d: Diagnostic, place: &str) -> Diagnostic {
    let (place, message) = match d.place {
        Place::Pointer(p) => (format!("{place}{p}"), d.message),
        Place::Line { line, column } => (
            place.to_string(),
            format!(
                "{} (line {line}, column {column} of the inline JSON)",
                d.message
            ),
        ),
        Place::File => (place.to_string(), d.message),
    };
    Diagnostic {
        place: Place::Pointer(place),
        message: format!("inline policy: {message}"),
        ..d
    }
}

#[cfg(test)]
#[path = "inline_tests.rs"]
mod tests;
