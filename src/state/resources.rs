//! The store behind [`ResourceState`]: records per `(service, type, id)`,
//! one per owning account and region, behind one lock, bounded.
//!
//! Ids are compared exactly (case-sensitive, as the bundled mock and the
//! vendors' APIs are), but the map is keyed by the ASCII-lower-cased id so
//! that an id differing only in case from a known one is seen: on an
//! upstream that folds case it would reach the known resource under another
//! name, missing its tags, so [`Lookup::CaseVariant`] lets the handler
//! refuse it instead of guessing.
//!
//! Capacity: every record counts, seeds included. A create takes a
//! [`Reservation`] *before* the request is forwarded, so a full state
//! refuses the create (the handler answers 503) instead of letting the
//! upstream make a resource the gateway cannot track: such a resource would
//! carry no tags here, and a `Deny` on a resource tag would never fire for
//! it (fail open). Seeds are never refused: the file is the operator's.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde::Serialize;

use crate::directory::ResourceAttrs;

/// Which resource: service, resource type as the route file spells it
/// (`notebook`, `runtimes`), and the canonical id (see [`super::canonical_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ResourceKey {
    pub service: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// Who owns a record: the account, and the region the resource lives in
/// (Huawei: the project's region; Alibaba: the service's configured region).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub account: String,
    pub region: String,
}

/// Where a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `resources.toml`; replaced on every reload.
    File,
    /// A successful create, tag or update answer; survives reloads.
    Traffic,
}

/// What the state knows about a resource, for one caller.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The caller's account owns it (in this region): its attributes.
    Own(ResourceAttrs),
    /// Records exist for this id, none of the caller's account: answer as
    /// the cloud would (not found), never forward.
    Foreign { owner: String },
    /// No record with this exact id, but one that differs only in case.
    CaseVariant { known: String },
    /// Never seen (or the caller's own resource in another region).
    Unknown,
}

/// The state holds `capacity` records already.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the resource state is full ({capacity} resources): refusing a create it could not track")]
pub struct StateFull {
    pub capacity: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) id: String,
    pub(crate) owner: Owner,
    pub(crate) attrs: ResourceAttrs,
    pub(crate) origin: Origin,
}

/// (service, type, lower-cased id).
type MapKey = (String, String, String);

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) entries: HashMap<MapKey, Vec<Slot>>,
    pub(crate) count: usize,
    /// Creates in flight that hold a slot.
    pub(crate) reserved: usize,
}

/// The resource state: outside the snapshot, shared by every request.
#[derive(Debug)]
pub struct ResourceState {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) capacity: usize,
}

/// A slot taken for one create; dropping it unused gives the slot back.
#[derive(Debug)]
pub struct Reservation<'a> {
    state: &'a ResourceState,
    used: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.used {
            let mut inner = self.state.lock();
            inner.reserved = inner.reserved.saturating_sub(1);
        }
    }
}

fn map_key(key: &ResourceKey) -> MapKey {
    (
        key.service.clone(),
        key.kind.clone(),
        key.id.to_ascii_lowercase(),
    )
}

impl ResourceState {
    /// An empty state holding at most `capacity` records
    /// (`[limits] resource_state_capacity`).
    pub fn new(capacity: usize) -> Self {
        ResourceState {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// A poisoned lock is taken over: every write leaves the map whole.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many records the state holds.
    pub fn len(&self) -> usize {
        self.lock().count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What the state knows about `key` for a caller of `account` in `region`.
    pub fn lookup(&self, key: &ResourceKey, account: &str, region: &str) -> Lookup {
        let inner = self.lock();
        let Some(slots) = inner.entries.get(&map_key(key)) else {
            return Lookup::Unknown;
        };
        let mut exact = slots.iter().filter(|s| s.id == key.id).peekable();
        let Some(first) = exact.peek().copied() else {
            let known = slots.first().map(|s| s.id.clone()).unwrap_or_default();
            return Lookup::CaseVariant { known };
        };
        let mut owns_elsewhere = false;
        for slot in exact {
            if slot.owner.account == account {
                if slot.owner.region == region {
                    return Lookup::Own(slot.attrs.clone());
                }
                owns_elsewhere = true;
            }
        }
        if owns_elsewhere {
            Lookup::Unknown
        } else {
            Lookup::Foreign {
                owner: first.owner.account.clone(),
            }
        }
    }

    /// Take a slot for a create before forwarding it; `Err` when full.
    pub fn reserve(&self) -> Result<Reservation<'_>, StateFull> {
        let mut inner = self.lock();
        if inner.count + inner.reserved >= self.capacity {
            return Err(StateFull {
                capacity: self.capacity,
            });
        }
        inner.reserved += 1;
        Ok(Reservation {
            state: self,
            used: false,
        })
    }

    /// Record a resource the upstream created (its 2xx answer), in the slot
    /// reserved for it. A record of the same owner and id is replaced.
    pub fn record_created(
        &self,
        mut slot: Reservation<'_>,
        key: &ResourceKey,
        owner: Owner,
        attrs: ResourceAttrs,
    ) {
        slot.used = true;
        let mut inner = self.lock();
        inner.reserved = inner.reserved.saturating_sub(1);
        let slots = inner.entries.entry(map_key(key)).or_default();
        let fresh = Slot {
            id: key.id.clone(),
            owner,
            attrs,
            origin: Origin::Traffic,
        };
        match slots
            .iter_mut()
            .find(|s| s.id == fresh.id && s.owner == fresh.owner)
        {
            Some(old) => *old = fresh,
            None => {
                slots.push(fresh);
                inner.count += 1;
            }
        }
    }

    /// Apply `change` to the record of `owner`; `false` when there is none.
    /// A changed record becomes `Traffic`: it is newer than the file.
    fn change(&self, key: &ResourceKey, owner: &Owner, change: impl FnOnce(&mut Slot)) -> bool {
        let mut inner = self.lock();
        let Some(slots) = inner.entries.get_mut(&map_key(key)) else {
            return false;
        };
        match slots
            .iter_mut()
            .find(|s| s.id == key.id && s.owner == *owner)
        {
            Some(slot) => {
                change(slot);
                slot.origin = Origin::Traffic;
                true
            }
            None => false,
        }
    }

    /// A successful tag (`add`, last value of a key wins) or untag (`remove`,
    /// by key) answer.
    pub fn record_tags(
        &self,
        key: &ResourceKey,
        owner: &Owner,
        add: &[(String, String)],
        remove: &[String],
    ) -> bool {
        self.change(key, owner, |slot| {
            for k in remove {
                slot.attrs.tags.remove(k);
            }
            for (k, v) in add {
                slot.attrs.tags.insert(k.clone(), v.clone());
            }
        })
    }

    /// A successful update answer: when its body carried `tags`, they
    /// replace the resource's tags (an update states the whole set; the
    /// bundled mock stores the new set too).
    pub fn record_updated(
        &self,
        key: &ResourceKey,
        owner: &Owner,
        tags: Option<&[(String, String)]>,
    ) -> bool {
        self.change(key, owner, |slot| {
            if let Some(tags) = tags {
                slot.attrs.tags = tags.iter().cloned().collect::<BTreeMap<_, _>>();
            }
        })
    }

    /// A successful delete answer: forget the owner's record.
    pub fn record_deleted(&self, key: &ResourceKey, owner: &Owner) -> bool {
        let mut inner = self.lock();
        let mk = map_key(key);
        let Some(slots) = inner.entries.get_mut(&mk) else {
            return false;
        };
        let before = slots.len();
        slots.retain(|s| !(s.id == key.id && s.owner == *owner));
        let removed = before - slots.len();
        if slots.is_empty() {
            inner.entries.remove(&mk);
        }
        inner.count -= removed;
        removed > 0
    }
}
