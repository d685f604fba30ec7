//! The on-disk shape of `policies/accounts.toml`, `policies/credentials.toml`
//! and `policies/resources.toml`: serde mirrors with no logic. Unknown keys
//! are errors.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cloud::Cloud;
pub use crate::directory::inline::{Inline, InlinePolicy};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AccountsFile {
    #[serde(default, rename = "organization")]
    pub organizations: Vec<OrganizationEntry>,
    #[serde(default, rename = "account")]
    pub accounts: Vec<AccountEntry>,
}

/// One organisation tree (Huawei Organizations, Alibaba Resource Directory).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationEntry {
    pub cloud: Cloud,
    pub id: String,
    /// The root node's id.
    pub root: String,
    /// Policies attached at the root; absent → the system full-access policy.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    #[serde(default, rename = "unit")]
    pub units: Vec<UnitEntry>,
}

/// An organisational unit (Huawei OU, Alibaba folder).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitEntry {
    pub id: String,
    /// The root or another unit.
    pub parent: String,
    #[serde(default)]
    pub policies: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// Account (domain) id, as it appears in URNs/ARNs.
    pub id: String,
    /// Account (domain) name.
    pub name: String,
    pub cloud: Cloud,
    /// Org node (root or unit) the account sits under; absent → no organisation.
    #[serde(default)]
    pub parent: Option<String>,
    /// Organisation policies attached to the account node itself.
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    #[serde(default, rename = "project")]
    pub projects: Vec<ProjectEntry>,
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupEntry>,
    #[serde(default, rename = "user")]
    pub users: Vec<UserEntry>,
}

/// A Huawei project: the `{project_id}` of ModelArts paths, bound to a region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectEntry {
    pub id: String,
    pub name: String,
    pub region: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub name: String,
    #[serde(default)]
    pub policies: Vec<String>,
    /// An inline identity policy (after the named ones).
    #[serde(default)]
    pub policy: Option<InlinePolicy>,
    /// More inline identity policies (after `policy`).
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicy>,
}

impl GroupEntry {
    pub fn inline(&self) -> Inline<'_> {
        Inline {
            policy: self.policy.as_ref(),
            inline_policies: &self.inline_policies,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub name: String,
    /// User id; defaults to the name.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// Identity policies attached to the user directly, in order.
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// An inline identity policy (after the named ones).
    #[serde(default)]
    pub policy: Option<InlinePolicy>,
    /// More inline identity policies (after `policy`).
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicy>,
}

impl UserEntry {
    pub fn inline(&self) -> Inline<'_> {
        Inline {
            policy: self.policy.as_ref(),
            inline_policies: &self.inline_policies,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CredentialsFile {
    #[serde(default, rename = "access_key")]
    pub access_keys: Vec<AccessKeyEntry>,
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyEntry {
    pub id: String,
    pub secret: String,
    pub account: String,
    /// Absent → the account's root identity.
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// The opaque token string the client sends as `X-Auth-Token`.
    pub token: String,
    pub account: String,
    #[serde(default)]
    pub user: Option<String>,
    /// RFC 3339 UTC.
    pub expires_at: String,
    #[serde(default)]
    pub mfa: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResourcesFile {
    #[serde(default, rename = "resource")]
    pub resources: Vec<ResourceEntry>,
}

/// Attributes of an existing resource, keyed by its literal URN/ARN.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    pub urn: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub enterprise_project_id: Option<String>,
    /// Further condition keys of the resource, e.g. `"modelarts:poolType" = "dedicated"`.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}
