//! The on-disk shape of `routes/<service>.toml`: a plain serde mirror with no
//! logic. `RouteTable::build` turns it into validated, compiled routes.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::cloud::Cloud;

/// One route file: a cloud service, its action catalog and its REST routes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    /// Service name, e.g. `modelarts`; also the metrics label.
    pub service: String,
    /// Which cloud's grammar, resource names, signatures and error bodies apply.
    pub cloud: Cloud,
    /// Key into `[upstreams]` of iamgate.toml.
    pub upstream: String,
    /// Resource name template with `{region}`, `{account}`, `{type}`, `{id}`,
    /// e.g. `modelarts:{region}:{account}:{type}:{id}`.
    pub resource: String,
    /// Path parameters that also feed a condition key, e.g.
    /// `pool_name = "modelarts:poolId"`.
    #[serde(default)]
    pub param_keys: BTreeMap<String, String>,
    /// The action catalog (seed table 1 for ModelArts).
    #[serde(default, rename = "action")]
    pub actions: Vec<ActionEntry>,
    /// Mapped REST routes (seed table 2 for ModelArts).
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteEntry>,
    /// Operations of the official SDK that have no action in the catalog.
    #[serde(default, rename = "unmapped")]
    pub unmapped: Vec<UnmappedEntry>,
}

/// One action of the catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionEntry {
    /// Full action name, e.g. `modelarts:notebook:get`.
    pub name: String,
    /// What the vendor's documentation says the action grants.
    #[serde(default)]
    pub description: Option<String>,
    /// Access level: `List`, `Read`, `Write`, … (optional for clouds that do not publish one).
    #[serde(default)]
    pub access: Option<String>,
    /// Resource types the action supports; empty = only `Resource: "*"` covers it.
    #[serde(default)]
    pub resource_types: Vec<String>,
    /// Condition keys the action supports, as the catalog spells them
    /// (`g:ResourceTag/<tag-key>`).
    #[serde(default)]
    pub condition_keys: Vec<String>,
}

/// One mapped REST route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    pub method: String,
    /// Path template with `{param}` segments, exactly as the source spells it.
    pub path: String,
    /// Actions that must all be allowed.
    pub actions: Vec<String>,
    /// The resource the route acts on; absent when the action has no resource type.
    #[serde(default)]
    pub resource: Option<ResourceEntry>,
    /// The official SDK's operation name, when the SDK has exactly this route.
    #[serde(default)]
    pub operation: Option<String>,
    /// Whether the operation carries a request body; absent → by method
    /// (POST, PUT, PATCH do; GET, DELETE, HEAD and the rest do not).
    #[serde(default)]
    pub body: Option<bool>,
}

/// Which resource a route acts on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    /// Resource type as the catalog spells it (`notebook`, `trainJob`, `runtimes`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Path parameter holding the resource id; absent → `*`.
    #[serde(default)]
    pub id: Option<String>,
}

/// An SDK operation the catalog does not map to any action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnmappedEntry {
    pub method: String,
    pub path: String,
    /// The SDK operation name (`list_flavors`).
    pub operation: String,
    /// Whether the operation carries a request body; absent → by method.
    #[serde(default)]
    pub body: Option<bool>,
}

/// Whether a route of `method` carries a body when its file does not say.
pub fn body_by_method(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH")
}
