//! Strict JSON for policy documents: like `serde_json::from_str::<Value>`,
//! but a key repeated in one object is an error. serde_json's `Value` keeps
//! the last of two `"Condition"` members silently, so an `Allow` whose first
//! condition was dropped would load and grant more than it says; the clouds'
//! consoles refuse such documents, and so do we.
//!
//! The document is built by a [`DeserializeSeed`] that knows the JSON
//! pointer of the value it reads, so the error names the object
//! (`/Statement/0`) and, through serde_json, the line and column of the
//! repeated key.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parse one JSON document, refusing repeated keys at any depth. The error
/// carries serde_json's line and column; see [`message`] for its text.
pub fn from_str(source: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(source);
    let value = ValueSeed { at: "" }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The error's text without serde_json's " at line L column C" suffix (the
/// diagnostic shows the place itself): `duplicate key …` for a repeated key,
/// `invalid JSON: …` for everything else.
pub fn message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let text = full.strip_suffix(&suffix).unwrap_or(&full);
    if e.classify() == serde_json::error::Category::Data && text.starts_with(DUPLICATE) {
        text.to_string()
    } else {
        format!("invalid JSON: {full}")
    }
}

const DUPLICATE: &str = "duplicate key";

/// Escape a key for a JSON pointer (RFC 6901).
fn esc(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Reads one value; `at` is its JSON pointer (`""` for the document).
struct ValueSeed<'p> {
    at: &'p str,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let at = format!("{}/{}", self.at, items.len());
            match seq.next_element_seed(ValueSeed { at: &at })? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let object = if self.at.is_empty() {
                    "the document"
                } else {
                    self.at
                };
                return Err(de::Error::custom(format!(
                    "{DUPLICATE} `{key}` in {object}"
                )));
            }
            let at = format!("{}/{}", self.at, esc(&key));
            let value = map.next_value_seed(ValueSeed { at: &at })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_repeated_key_is_an_error_with_its_object_and_place() {
        let e = from_str("{\"a\": {\"b\": 1,\n  \"b\": 2}}").unwrap_err();
        assert_eq!(message(&e), "duplicate key `b` in /a");
        assert_eq!((e.line(), e.column()), (2, 5));
        let e = from_str(r#"{"x":1,"x":1}"#).unwrap_err();
        assert!(message(&e).contains("`x` in the document"), "{e}");
        let e = from_str(r#"[{}, {"a~/b":[{"k":1,"k":1}]}]"#).unwrap_err();
        assert!(message(&e).contains("in /1/a~0~1b/0"), "{e}");
    }

    #[test]
    fn syntax_errors_and_trailing_text_stay_json_errors() {
        let e = from_str("{\"a\": [,]}").unwrap_err();
        assert!(message(&e).starts_with("invalid JSON: "), "{}", message(&e));
        assert!(from_str("{} x").is_err());
        assert!(from_str("{\"a\":1}  \n").is_ok());
    }

    #[test]
    fn any_error_but_a_repeated_key_is_invalid_json() {
        // A data error that is not ours (here from a typed parse) keeps the
        // "invalid JSON" prefix: only the duplicate-key text goes out bare.
        let e = serde_json::from_str::<u8>("\"x\"").unwrap_err();
        assert_eq!(e.classify(), serde_json::error::Category::Data);
        assert!(
            message(&e).starts_with("invalid JSON: invalid type"),
            "{}",
            message(&e)
        );
    }

    #[test]
    fn a_value_a_json_document_cannot_hold_is_refused_by_name() {
        // serde_json never offers bytes, but another deserializer may: the
        // error says what was expected.
        let bytes = serde::de::value::BytesDeserializer::<serde::de::value::Error>::new(b"ab");
        let e = ValueSeed { at: "" }.deserialize(bytes).unwrap_err();
        assert!(e.to_string().ends_with("expected any JSON value"), "{e}");
    }

    #[test]
    fn an_owned_string_is_kept() {
        // serde_json lends its strings (`visit_str`); a deserializer that
        // hands over an owned one reaches `visit_string`.
        let owned =
            serde::de::value::StringDeserializer::<serde::de::value::Error>::new("x/y".to_string());
        let v = ValueSeed { at: "" }.deserialize(owned).unwrap();
        assert_eq!(v, Value::String("x/y".into()));
    }

    proptest! {
        /// Without repeated keys it is exactly serde_json's `Value`.
        #[test]
        fn agrees_with_serde_json(v in arb_json()) {
            let text = serde_json::to_string(&v).unwrap();
            prop_assert_eq!(from_str(&text).unwrap(), serde_json::from_str::<Value>(&text).unwrap());
        }
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            any::<u64>().prop_map(|n| Value::Number(n.into())),
            (-1e9f64..1e9).prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z~/]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
