//! The on-disk shape of `policies/accounts.toml`, `policies/credentials.toml`
//! and `policies/resources.toml`: serde mirrors with no logic. Unknown keys
//! are errors.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::cloud::Cloud;
pub use crate::directory::inline::{Inline, InlinePolicy};

/// A user's tags, key → value, in key order (a TOML table: each key once).
/// A slice rather than a `BTreeMap`: a map's first node has room for
/// eleven entries (half a KiB), and a user mostly has one or two tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(Box<[(String, String)]>);

impl Tags {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl FromIterator<(String, String)> for Tags {
    /// Sorted by key; a repeated key keeps its last value.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Tags {
        let map: BTreeMap<String, String> = pairs.into_iter().collect();
        Tags(map.into_iter().collect())
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
        Ok(BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

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
    /// `audit`: this account's denials are forwarded and recorded only
    /// (overrides the config's global and per-service modes).
    #[serde(default)]
    pub enforce: Option<crate::config::Enforce>,
    /// Alibaba RAM roles of the account.
    #[serde(default, rename = "role")]
    pub roles: Vec<RoleEntry>,
    /// Huawei agencies of the account (`directory::agencies`).
    #[serde(default, rename = "agency")]
    pub agencies: Vec<AgencyEntry>,
}

/// An Alibaba RAM role: who may assume it (the trust policy, as the console
/// shows it), what its sessions may do, and how long a session may last.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    /// Role name; unique in the account ignoring case, as RAM compares it.
    pub name: String,
    /// Role id (`AssumedRoleUser.AssumedRoleId` prefix); defaults to a digest of the ARN.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The trust policy JSON (`Principal` with `RAM` and/or `Service`).
    pub trust_policy: String,
    /// Identity policies attached to the role, in order.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Longest session in seconds (RAM: 3600 … 43200, default 3600).
    #[serde(default)]
    pub max_session_duration: Option<u32>,
}

/// A Huawei agency: delegated to another account or to a cloud service,
/// with identity policies attached and a maximum session duration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyEntry {
    pub name: String,
    /// The account (domain) id the agency is delegated to.
    #[serde(default)]
    pub delegated_account: Option<String>,
    /// The cloud service the agency is delegated to (`op_svc_modelarts`).
    #[serde(default)]
    pub delegated_service: Option<String>,
    /// Identity policies attached to the agency, in order.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Maximum session duration in seconds (default 3600).
    #[serde(default)]
    pub duration: Option<u32>,
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
    /// Shared with the principal built from it (a reload copies no tags).
    pub tags: Arc<Tags>,
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
    /// Huawei console passwords, for `POST /v3/auth/tokens` (built-in IAM).
    #[serde(default, rename = "password")]
    pub passwords: Vec<PasswordEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordEntry {
    pub account: String,
    /// Absent → the account's root identity.
    #[serde(default)]
    pub user: Option<String>,
    pub password: String,
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_from_a_table_are_in_key_order_once_each() {
        #[derive(Deserialize)]
        struct Holder {
            tags: Tags,
        }
        let h: Holder =
            toml::from_str("tags = { team = \"cv\", env = \"prod\", a = \"1\" }").unwrap();
        let pairs: Vec<_> = h.tags.iter().collect();
        assert_eq!(pairs, [("a", "1"), ("env", "prod"), ("team", "cv")]);
        let again: Tags = [("k", "1"), ("k", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(again.iter().collect::<Vec<_>>(), [("k", "2")]);
        assert_eq!(Tags::default().iter().count(), 0);
    }
}
