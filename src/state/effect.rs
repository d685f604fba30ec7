//! What a routed request does to the resource state once the upstream
//! answers 2xx, derived from the route files alone (no per-route table to
//! keep in sync):
//!
//! - **Create**: a `POST` on a path `P` ending in a static segment, where the
//!   same service has an item route `P/{x}` whose resource is `{type, id = x}`
//!   (and the `POST`'s own resource, if any, has that type). The new id comes
//!   from the upstream's answer ([`created_id`]).
//! - **Delete** / **Update**: `DELETE` / `PUT` / `PATCH` on a path whose last
//!   segment is the route's resource id parameter (`…/notebooks/{id}`), not a
//!   sub-resource of it (`…/executions/{execution_id}` changes a workflow's
//!   execution, not the workflow).
//! - **Tag** / **Untag**: ModelArts' `…/{resource_id}/tags/create` and
//!   `…/tags/delete` on a route naming the resource id. AgentRun has no tag
//!   operation of its own (Alibaba tags through the Tag service, not routed).

use serde_json::Value;

use super::resources::ResourceKey;
use crate::cloud::Cloud;
use crate::routes::canonical::{canonical_id, Ambiguous};
use crate::routes::RouteMatch;

/// What a successful answer to this route changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<'m> {
    None,
    /// A new resource of `kind`; the item route addresses it by `item_param`.
    Create {
        kind: &'m str,
        item_param: &'m str,
    },
    Update {
        kind: &'m str,
        id: &'m str,
    },
    Tag {
        kind: &'m str,
        id: &'m str,
    },
    Untag {
        kind: &'m str,
        id: &'m str,
    },
    Delete {
        kind: &'m str,
        id: &'m str,
    },
}

/// The effect of a routed request (pure; see the module comment for rules).
pub fn effect_of<'m>(route: &'m RouteMatch<'_>) -> Effect<'m> {
    let r = route.route;
    let path = r.path.as_str();
    let last = path.rsplit('/').next().unwrap_or_default();
    if r.method == http::Method::POST && !last.starts_with('{') {
        if let Some(create) = create_of(route) {
            return create;
        }
    }
    let Some((kind, param)) = r
        .resource
        .as_ref()
        .and_then(|res| Some((res.kind.as_str(), res.id.as_deref()?)))
    else {
        return Effect::None;
    };
    let Some(id) = route.param(param) else {
        return Effect::None;
    };
    if path.ends_with("/tags/create") {
        return Effect::Tag { kind, id };
    }
    if path.ends_with("/tags/delete") {
        return Effect::Untag { kind, id };
    }
    if last.strip_prefix('{').and_then(|l| l.strip_suffix('}')) != Some(param) {
        return Effect::None;
    }
    match r.method {
        http::Method::DELETE => Effect::Delete { kind, id },
        http::Method::PUT | http::Method::PATCH => Effect::Update { kind, id },
        _ => Effect::None,
    }
}

/// A `POST P` with an item route `P/{x}` of the same type.
fn create_of<'m>(route: &'m RouteMatch<'_>) -> Option<Effect<'m>> {
    let path = route.route.path.as_str();
    let own_kind = route.route.resource.as_ref().map(|r| r.kind.as_str());
    route.service.routes.iter().find_map(|item| {
        let tail = item.path.strip_prefix(path)?.strip_prefix("/{")?;
        let param = tail.strip_suffix('}')?;
        let res = item.resource.as_ref()?;
        let kind_fits = own_kind.is_none_or(|k| k == res.kind);
        (res.id.as_deref() == Some(param) && kind_fits && !param.contains('/')).then_some(
            Effect::Create {
                kind: res.kind.as_str(),
                item_param: param,
            },
        )
    })
}

/// The resource a route addresses by id (its `resource.id` parameter), with
/// the id canonicalised: `Ok(None)` when the route names no id, `Err` (the
/// handler answers 400) when the id cannot be canonicalised.
pub fn addressed(route: &RouteMatch<'_>) -> Result<Option<ResourceKey>, Ambiguous> {
    let Some(res) = route.route.resource.as_ref() else {
        return Ok(None);
    };
    let Some(raw) = res.id.as_deref().and_then(|p| route.param(p)) else {
        return Ok(None);
    };
    Ok(Some(ResourceKey {
        service: route.service.name.clone(),
        kind: res.kind.clone(),
        id: canonical_id(raw)?.to_string(),
    }))
}

/// The id of a created resource in the upstream's JSON answer, canonical or
/// `None`. Shapes: Huawei puts the item at the top (`<item_param>` such as
/// `workflow_id`, else `id` / `metadata.id`; by name: `metadata.name`,
/// `name`); Alibaba wraps it in `data` (`data.<itemParam>` such as
/// `agentRuntimeId` / `templateName`, else `data.id` for id-addressed items).
pub fn created_id(cloud: Cloud, response: &Value, item_param: &str) -> Option<String> {
    let by_name = item_param.ends_with("_name");
    let path: &[&[&str]] = match (cloud, by_name) {
        (Cloud::Huawei, true) => &[&[item_param], &["metadata", "name"], &["name"]],
        (Cloud::Huawei, false) => &[&[item_param], &["id"], &["metadata", "id"]],
        (Cloud::Aliyun, true) => &[&["data", "{camel}"], &["data", "name"]],
        (Cloud::Aliyun, false) => &[&["data", "{camel}"], &["data", "id"]],
    };
    let camel = camel(item_param);
    path.iter().find_map(|keys| {
        let mut at = response;
        for key in *keys {
            let key = if *key == "{camel}" {
                camel.as_str()
            } else {
                key
            };
            at = at.get(key)?;
        }
        let id = at.as_str()?;
        canonical_id(id).ok().map(str::to_string)
    })
}

/// `agent_runtime_id` → `agentRuntimeId`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}
