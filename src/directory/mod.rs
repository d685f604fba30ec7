//! Accounts, organisation trees, users, groups, credentials and resources:
//! loaded from `policies/`, validated (every error with its place) and
//! compiled into principals that each carry their policy `Subject`.

pub mod agencies;
pub mod build;
pub mod cache;
pub mod files;
pub mod inline;
mod keys;
mod org;
pub mod policies;
pub mod roles;
pub mod trust;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::cloud::Cloud;
use crate::policy::Subject;

pub use build::{load, load_reusing};
pub use policies::PolicyStore;
pub use roles::Role;

/// A user of an account.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub id: String,
    pub tags: Arc<files::Tags>,
}

/// An authenticated caller: a user, or the account's root identity.
#[derive(Debug)]
pub struct Principal {
    pub cloud: Cloud,
    pub account_id: Arc<str>,
    pub account_name: Arc<str>,
    /// `None` for the account root identity.
    pub user: Option<User>,
    /// `iam::<account>:user:<name>` / `iam::<account>:root` (Huawei),
    /// `acs:ram::<account>:user/<name>` / `acs:ram::<account>:root` (Alibaba).
    pub urn: String,
    /// `<org>/<root>/<ou>/…/<account>` when the account is in an organisation.
    pub org_path: Option<String>,
    pub subject: Arc<Subject>,
}

impl Principal {
    pub fn is_root(&self) -> bool {
        self.user.is_none()
    }

    /// The user name, or `root`.
    pub fn display_name(&self) -> &str {
        self.user.as_ref().map_or("root", |u| u.name.as_str())
    }
}

/// A Huawei project: the `{project_id}` of a path, bound to an account and region.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub name: String,
    pub region: String,
    pub account_id: Arc<str>,
}

pub struct AccessKey {
    pub secret: Vec<u8>,
    pub principal: Arc<Principal>,
}

/// Never print a secret.
impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("secret", &"<redacted>")
            .field("principal", &self.principal.urn)
            .finish()
    }
}

#[derive(Debug)]
pub struct Token {
    pub principal: Arc<Principal>,
    pub expires_at: OffsetDateTime,
    /// As written in the file, for the error message.
    pub expires_text: String,
    pub mfa: bool,
}

/// Attributes of an existing resource.
#[derive(Debug, Clone, Default)]
pub struct ResourceAttrs {
    pub tags: BTreeMap<String, String>,
    pub enterprise_project_id: Option<String>,
    pub keys: BTreeMap<String, String>,
}

/// Everything about identities and resources, compiled.
#[derive(Default)]
pub struct Directory {
    /// (account id, user name or `None` for root) → principal.
    pub principals: HashMap<(String, Option<String>), Arc<Principal>, foldhash::fast::RandomState>,
    pub projects: HashMap<String, Project>,
    pub access_keys: HashMap<String, AccessKey>,
    pub tokens: HashMap<String, Token>,
    pub resources: HashMap<String, ResourceAttrs>,
    pub policy_count: usize,
    /// Accounts with their own `enforce` mode (accounts.toml), by id.
    pub account_enforce: HashMap<String, crate::config::Enforce>,
    /// (account id, lower-cased role name) → RAM role.
    pub roles: HashMap<(String, String), Arc<Role>>,
    /// (account id, lower-cased agency name) → agency (Huawei).
    pub agencies: HashMap<(String, String), Arc<agencies::Agency>>,
    /// (account id, user name or `None` for root) → password (Huawei, built-in IAM).
    pub passwords: HashMap<(String, Option<String>), String>,
    /// What this directory was compiled from (policy files, TOML tables,
    /// identity sets), by path and content digest: the next reload reuses
    /// what did not change.
    pub compiled: cache::Compiled,
}

impl Directory {
    pub fn principal(&self, account: &str, user: Option<&str>) -> Option<&Arc<Principal>> {
        self.principals
            .get(&(account.to_string(), user.map(str::to_string)))
    }

    /// A RAM role by account and name (names ignore case).
    pub fn role(&self, account: &str, name: &str) -> Option<&Arc<Role>> {
        self.roles
            .get(&(account.to_string(), name.to_ascii_lowercase()))
    }

    /// Find a user by name across accounts (for `iamgate explain --user`);
    /// `account` narrows the search.
    pub fn find_user(&self, name: &str, account: Option<&str>) -> Vec<&Arc<Principal>> {
        let mut found: Vec<_> = self
            .principals
            .iter()
            .filter(|((acc, user), _)| {
                user.as_deref() == Some(name) && account.is_none_or(|a| a == acc)
            })
            .map(|(_, p)| p)
            .collect();
        found.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        found
    }

    /// An agency of `account` by name, ignoring case.
    pub fn agency(&self, account: &str, name: &str) -> Option<&Arc<agencies::Agency>> {
        self.agencies.get(&agencies::agency_key(account, name))
    }

    /// Agencies named `name` (ignoring case) across accounts, for
    /// `iamgate explain --agency`; `account` narrows the search.
    pub fn find_agency(&self, name: &str, account: Option<&str>) -> Vec<&Arc<agencies::Agency>> {
        let lower = name.to_lowercase();
        let mut found: Vec<_> = self
            .agencies
            .iter()
            .filter(|((acc, n), _)| *n == lower && account.is_none_or(|a| a == acc))
            .map(|(_, a)| a)
            .collect();
        found.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        found
    }
}

/// Counts only: the maps hold secrets (access keys) and bearer tokens.
impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("principals", &self.principals.len())
            .field("projects", &self.projects.len())
            .field("access_keys", &self.access_keys.len())
            .field("tokens", &self.tokens.len())
            .field("resources", &self.resources.len())
            .field("policy_count", &self.policy_count)
            .field("roles", &self.roles.len())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets_or_tokens() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let (d, _) = load(&dir, &mut Vec::new()).unwrap();
        let text = format!("{d:?} {:?}", d.access_keys.values().collect::<Vec<_>>());
        assert!(!text.contains("alice-example-secret-not-real"), "{text}");
        assert!(!text.contains("example-token-alice-not-real"), "{text}");
        assert!(text.contains("<redacted>"));
    }
}
