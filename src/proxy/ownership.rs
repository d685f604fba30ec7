//! The resource state in the pipeline: who owns the resource a request
//! addresses, which attributes its condition keys come from, and what the
//! upstream's answer changes.
//!
//! Before the decision: a resource another account owns is answered 404 in
//! the caller's dialect and never forwarded (each cloud scopes resources by
//! account; a 403 would confirm the id exists elsewhere); an id known only
//! in another case is refused (400); the caller's own resource lends its
//! tags, enterprise project and keys to the context. A create takes a slot
//! in the bounded state before it is forwarded, so a resource the gateway
//! could not track (and whose tags a `Deny` could therefore never see) is
//! never created. After a 2xx answer the state records the create (its id
//! from the answer), the tags, the update or the delete.

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};

use crate::cloud::Cloud;
use crate::directory::ResourceAttrs;
use crate::proxy::context::BodyFields;
use crate::proxy::respond::GatewayError;
use crate::proxy::{Body, BoxError};
use crate::routes::RouteMatch;
use crate::state::{
    addressed, created_id, effect_of, Effect, Lookup, Owner, Reservation, ResourceKey,
    ResourceState,
};

/// Largest create answer buffered to read the new resource's id.
const MAX_CREATE_ANSWER: usize = 1024 * 1024;

/// The resource a request addresses, as the state knows it.
pub struct Addressed {
    pub owner: Owner,
    pub key: Option<ResourceKey>,
    /// The caller's own resource's attributes (tags, enterprise project, keys).
    pub attrs: Option<ResourceAttrs>,
}

/// Look the addressed resource up for the caller's account.
pub fn resolve(
    state: &ResourceState,
    route: &RouteMatch<'_>,
    account: &str,
    region: &str,
) -> Result<Addressed, GatewayError> {
    let owner = Owner {
        account: account.to_string(),
        region: region.to_string(),
    };
    let key = addressed(route).map_err(|e| GatewayError::BadRequest(e.to_string()))?;
    let attrs = match key.as_ref().map(|k| (k, state.lookup(k, account, region))) {
        None | Some((_, Lookup::Unknown)) => None,
        Some((_, Lookup::Own(attrs))) => Some(attrs),
        // A name (`{pool_name}`, `{template_name}`) is chosen by each account
        // in its own namespace: another account's `pool-gpu` is not this
        // caller's, whose own may simply be unknown here.
        Some((_, Lookup::Foreign { .. })) if addressed_by_name(route) => None,
        Some((k, Lookup::Foreign { .. })) => {
            return Err(GatewayError::ResourceNotFound(format!(
                "{} {}",
                k.kind, k.id
            )))
        }
        Some((k, Lookup::CaseVariant { known })) => {
            return Err(GatewayError::BadRequest(format!(
                "resource id {} differs only in case from the known {known}",
                k.id
            )))
        }
    };
    Ok(Addressed { owner, key, attrs })
}

/// Whether the route addresses its resource by a name the caller chose
/// rather than by an id the cloud issued.
fn addressed_by_name(route: &RouteMatch<'_>) -> bool {
    let id = route.route.resource.as_ref().and_then(|r| r.id.as_deref());
    id.is_some_and(|p| p == "name" || p.ends_with("_name"))
}

/// A create takes a slot in the state before it is forwarded.
pub fn reserve<'s>(
    state: &'s ResourceState,
    route: &RouteMatch<'_>,
) -> Result<Option<Reservation<'s>>, GatewayError> {
    match effect_of(route) {
        Effect::Create { .. } => state
            .reserve()
            .map(Some)
            .map_err(|_| GatewayError::Busy("the resource state is full")),
        _ => Ok(None),
    }
}

/// Apply a 2xx answer to the state; a create's answer is buffered (it names
/// the new id) and handed on unchanged.
pub async fn record(
    state: &ResourceState,
    route: &RouteMatch<'_>,
    target: &Addressed,
    slot: Option<Reservation<'_>>,
    body: &BodyFields,
    resp: Response<Body>,
) -> Result<Response<Body>, GatewayError> {
    if !resp.status().is_success() {
        return Ok(resp);
    }
    let Some(slot) = slot else {
        state.record_answer(route, &target.owner, &body.tags);
        return Ok(resp);
    };
    let Effect::Create { kind, item_param } = effect_of(route) else {
        return Ok(resp);
    };
    let (head, answer) = resp.into_parts();
    let bytes = read_answer(answer).await?;
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    match created_id(route.service.cloud, &json, item_param) {
        Some(id) => {
            let key = ResourceKey {
                service: route.service.name.clone(),
                kind: kind.to_string(),
                id,
            };
            let attrs = ResourceAttrs {
                tags: body.tags.iter().cloned().collect(),
                enterprise_project_id: body.enterprise_project_id.clone(),
                ..ResourceAttrs::default()
            };
            state.record_created(slot, &key, target.owner.clone(), attrs);
        }
        None => tracing::warn!(
            service = %route.service.name, kind,
            "a create answer named no id the gateway could read: the resource is not tracked"
        ),
    }
    Ok(Response::from_parts(head, full(bytes)))
}

/// The whole (bounded) create answer.
async fn read_answer(mut answer: Body) -> Result<Bytes, GatewayError> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = answer.frame().await {
        let frame =
            frame.map_err(|e| GatewayError::UpstreamUnavailable(format!("create answer: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_CREATE_ANSWER {
                return Err(GatewayError::UpstreamUnavailable(
                    "create answer too large".into(),
                ));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes)
        .map_err(|never| -> BoxError { match never {} })
        .boxed()
}

/// The region a resource of this route lives in, for ownership records.
pub fn region_of<'a>(
    cloud: Cloud,
    project_region: Option<&'a str>,
    configured: Option<&'a str>,
) -> &'a str {
    match cloud {
        Cloud::Huawei => project_region.unwrap_or("*"),
        Cloud::Aliyun => configured.unwrap_or("*"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "ownership_tests.rs"]
mod tests;
