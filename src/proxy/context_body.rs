//! Strict reading of the JSON request body for condition keys: serde
//! visitors that, unlike `serde_json::Value` (last wins), notice a member
//! given twice. Only what feeds keys is held (`tags`,
//! `enterprise_project_id`); every other member is skipped unread.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::BodyFields;

/// The top-level object (anything else is an error).
pub(super) struct TopLevel(pub(super) BodyFields);

/// `tags` in either shape, its keys unique.
struct Tags(Vec<(String, String)>);

/// One `{"key": …, "value": …}` of the array shape.
struct Tag(Option<(String, String)>);

/// Tag keys and values as text: strings as they are, anything else as JSON.
fn text(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// Adds a tag, refusing a key already present (the clouds refuse it too).
fn push_unique<E: de::Error>(
    out: &mut Vec<(String, String)>,
    seen: &mut HashSet<String>,
    (key, value): (String, String),
) -> Result<(), E> {
    if !seen.insert(key.clone()) {
        return Err(E::custom(format!("tag key `{key}` is repeated")));
    }
    out.push((key, value));
    Ok(())
}

/// Reads a member once; a second occurrence is an error.
fn once<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::custom(format!("member `{name}` is repeated")));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut tags: Option<Tags> = None;
        let mut ep: Option<Option<String>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "tags" => once(&mut map, &mut tags, "tags")?,
                "enterprise_project_id" => once(&mut map, &mut ep, "enterprise_project_id")?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(TopLevel(BodyFields {
            tags: tags.map(|t| t.0).unwrap_or_default(),
            enterprise_project_id: ep.flatten(),
        }))
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TagsVisitor)
    }
}

struct TagsVisitor;

impl<'de> Visitor<'de> for TagsVisitor {
    type Value = Tags;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tags as an array of {key, value} or an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
        Ok(Tags(Vec::new()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
        let (mut out, mut seen) = (Vec::new(), HashSet::new());
        while let Some(Tag(tag)) = seq.next_element::<Tag>()? {
            if let Some(tag) = tag {
                push_unique(&mut out, &mut seen, tag)?;
            }
        }
        Ok(Tags(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
        let (mut out, mut seen) = (Vec::new(), HashSet::new());
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            push_unique(&mut out, &mut seen, (key, text(&value)))?;
        }
        // Sorted, as the object shape was read before (serde_json's map).
        out.sort();
        Ok(Tags(out))
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TagVisitor)
    }
}

struct TagVisitor;

impl<'de> Visitor<'de> for TagVisitor {
    type Value = Tag;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tag object {\"key\": …, \"value\": …}")
    }

    /// A tag without `key` carries nothing the policy could see; skipped.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tag, A::Error> {
        let mut key: Option<Value> = None;
        let mut value: Option<Value> = None;
        while let Some(name) = map.next_key::<String>()? {
            match name.as_str() {
                "key" => once(&mut map, &mut key, "key")?,
                "value" => once(&mut map, &mut value, "value")?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Tag(key.map(|k| {
            (text(&k), value.as_ref().map(text).unwrap_or_default())
        })))
    }
}
