//! State that outlives a snapshot, made by traffic (DESIGN.md "State that
//! outlives a snapshot"). Today: the **resource state**, which account owns
//! each resource the gateway has seen and with which tags, enterprise
//! project and further keys. It is seeded from `resources.toml`
//! ([`ResourceState::seed_from_files`], at start-up and after every
//! successful reload) and changed by the 2xx answers to the requests the
//! gateway authorised ([`effect_of`] says which routes create, tag, update
//! or delete). Ownership and the resource condition keys come from here,
//! never from the client.
//!
//! It lives outside the snapshot so a reload keeps what traffic taught it,
//! is `Send + Sync` with its own lock, and is bounded
//! (`[limits] resource_state_capacity`). The policy engine never sees it:
//! the handler turns a [`Lookup`] into plain context keys.

mod effect;
#[cfg(test)]
mod effect_tests;
mod resources;
mod seed;
#[cfg(test)]
mod tests;

use serde_json::{json, Value};

use crate::routes::RouteMatch;

pub use crate::routes::canonical::{canonical_id, Ambiguous, MAX_ID_BYTES};
pub use effect::{addressed, created_id, effect_of, Effect};
pub use resources::{Lookup, Origin, Owner, Reservation, ResourceKey, ResourceState, StateFull};
pub(crate) use seed::{key_of, known_types, parse_urn};

/// The header the gateway sets on every forwarded request to the caller's
/// account id (any client copy is removed first); the bundled mock
/// namespaces its collections by it.
pub const ACCOUNT_HEADER: &str = "x-iamgate-account";

impl ResourceState {
    /// After the upstream answered 2xx to a request on an existing resource:
    /// apply its [`Effect`] to `owner`'s record. `body_tags` are the request
    /// body's tags: added by a tag answer, removed (by key) by an untag
    /// answer, and replacing the set on an update that carries any. Creates
    /// go through [`ResourceState::reserve`] and
    /// [`ResourceState::record_created`] instead. `false` when nothing changed
    /// (no effect, no record of `owner`, or an id that is not canonical).
    pub fn record_answer(
        &self,
        route: &RouteMatch<'_>,
        owner: &Owner,
        body_tags: &[(String, String)],
    ) -> bool {
        let Ok(Some(key)) = addressed(route) else {
            return false;
        };
        match effect_of(route) {
            Effect::Tag { .. } => self.record_tags(&key, owner, body_tags, &[]),
            Effect::Untag { .. } => {
                let keys: Vec<String> = body_tags.iter().map(|(k, _)| k.clone()).collect();
                self.record_tags(&key, owner, &[], &keys)
            }
            Effect::Update { .. } => {
                self.record_updated(&key, owner, (!body_tags.is_empty()).then_some(body_tags))
            }
            Effect::Delete { .. } => self.record_deleted(&key, owner),
            Effect::Create { .. } | Effect::None => false,
        }
    }

    /// `GET /-/resources` on the admin API: at most `limit` records, sorted
    /// by service, type, id and owner, with the totals.
    pub fn to_json(&self, limit: usize) -> Value {
        let inner = self.lock();
        let mut rows: Vec<_> = inner
            .entries
            .iter()
            .flat_map(|((service, kind, _), slots)| slots.iter().map(move |s| (service, kind, s)))
            .collect();
        rows.sort_by(|a, b| {
            (a.0, a.1, &a.2.id, &a.2.owner.account, &a.2.owner.region).cmp(&(
                b.0,
                b.1,
                &b.2.id,
                &b.2.owner.account,
                &b.2.owner.region,
            ))
        });
        let shown: Vec<Value> = rows
            .iter()
            .take(limit)
            .map(|(service, kind, s)| {
                json!({
                    "service": service,
                    "type": kind,
                    "id": s.id,
                    "owner": s.owner.account,
                    "region": s.owner.region,
                    "origin": s.origin,
                    "tags": s.attrs.tags,
                    "enterprise_project_id": s.attrs.enterprise_project_id,
                    "keys": s.attrs.keys,
                })
            })
            .collect();
        json!({
            "count": inner.count,
            "capacity": self.capacity,
            "reserved": inner.reserved,
            "truncated": rows.len() > limit,
            "resources": shown,
        })
    }
}
