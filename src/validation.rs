//! Strict reading of JSON request bodies field by field, so that a 422 names
//! every bad field (`fields`) and unknown fields are refused, not ignored.

use std::collections::BTreeMap;

use std::fmt;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object being read; collects one error per bad field.
pub struct Body {
    object: Map<String, Value>,
    errors: BTreeMap<String, String>,
    known: Vec<&'static str>,
}

impl Body {
    /// The body must be a JSON object, with no NUL character in any string
    /// (PostgreSQL cannot store one, and no client needs one).
    pub fn new(value: Value) -> Result<Body, ApiError> {
        match value {
            Value::Object(object) => {
                if let Some((field, _)) = object.iter().find(|(k, v)| k.contains('\0') || has_nul(v)) {
                    let shown: String = field.chars().filter(|c| *c != '\0').take(64).collect();
                    return Err(ApiError::field(&shown, "must not contain NUL characters"));
                }
                Ok(Body { object, errors: BTreeMap::new(), known: Vec::new() })
            }
            _ => Err(ApiError::field("body", "must be a JSON object")),
        }
    }

    fn read<T: DeserializeOwned>(&mut self, name: &'static str) -> Option<T> {
        self.known.push(name);
        let value = self.object.get(name)?;
        if value.is_null() {
            return None;
        }
        match serde_json::from_value(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.insert(name.to_string(), describe(&e));
                None
            }
        }
    }

    /// A field that must be present and valid.
    pub fn required<T: DeserializeOwned>(&mut self, name: &'static str) -> Option<T> {
        let present = self.object.get(name).is_some_and(|v| !v.is_null());
        let value = self.read(name);
        if !present {
            self.errors.insert(name.to_string(), "is required".into());
        }
        value
    }

    /// A field that may be absent or null.
    pub fn optional<T: DeserializeOwned>(&mut self, name: &'static str) -> Option<T> {
        self.read(name)
    }

    /// Records an error found by the caller's own checks.
    pub fn invalid(&mut self, name: &str, why: impl Into<String>) {
        self.errors.entry(name.to_string()).or_insert_with(|| why.into());
    }

    /// Ends reading: unknown fields and collected errors become one 422.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self.object.keys().filter(|k| !self.known.contains(&k.as_str())).cloned().collect();
        for key in unknown {
            let shown: String = key.chars().take(64).collect();
            self.errors.insert(shown, "unknown field".into());
        }
        if self.errors.is_empty() {
            return Ok(());
        }
        let message = self.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; ");
        Err(ApiError::Validation { message, fields: self.errors })
    }
}

/// Whether any string inside a value holds a NUL character.
pub fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// A serde error without its line and column (the body is one value).
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Why JSON was refused by [`parse_json_strict`].
#[derive(Debug)]
pub enum StrictJsonError {
    /// A key appears twice in one object (it would otherwise be read as its last value).
    Duplicate(String),
    /// Not JSON.
    Invalid(serde_json::Error),
}

/// Parses JSON, refusing a key that appears twice in any object (HTTP
/// bodies and WebSocket frames alike).
pub fn parse_json_strict(bytes: &[u8]) -> Result<Value, StrictJsonError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let strict = Strict::deserialize(&mut deserializer).and_then(|strict| deserializer.end().map(|()| strict));
    strict.map(|Strict(value)| value).map_err(|error| match duplicate_key(&error) {
        Some(key) => StrictJsonError::Duplicate(key),
        None => StrictJsonError::Invalid(error),
    })
}

const DUPLICATE: &str = "duplicate key: ";

fn duplicate_key(error: &serde_json::Error) -> Option<String> {
    let text = error.to_string();
    let rest = text.strip_prefix(DUPLICATE)?;
    // serde_json appends " at line L column C".
    let key = rest.rsplit_once(" at line ").map_or(rest, |(key, _)| key);
    Some(key.chars().take(64).collect())
}

/// A JSON value whose objects have no repeated key.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
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

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_bad_field_is_named() {
        let mut body = Body::new(json!({"name": 3, "extra": true})).unwrap();
        let _: Option<String> = body.required("name");
        let _: Option<String> = body.required("role");
        let _: Option<u32> = body.optional("count");
        let Err(ApiError::Validation { fields, .. }) = body.finish() else { panic!() };
        assert_eq!(fields["name"], "invalid type: integer `3`, expected a string");
        assert_eq!(fields["role"], "is required");
        assert_eq!(fields["extra"], "unknown field");
        assert!(!fields.contains_key("count"));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        assert!(Body::new(json!([1, 2])).is_err());
    }

    #[test]
    fn json_is_read_strictly() {
        let valid = parse_json_strict(br#"{"a": {"b": [1, {"c": 2}]}, "d": null}"#).unwrap();
        assert_eq!(valid["a"]["b"][1]["c"], 2);
        let table: &[(&[u8], &str)] = &[
            (br#"{"role": "viewer", "name": "x", "role": "admin"}"#, "role"),
            (br#"{"a": {"b": 1, "b": 2}}"#, "b"),
            (br#"[{"k": 1, "k": 1}]"#, "k"),
        ];
        for (body, key) in table {
            match parse_json_strict(body) {
                Err(StrictJsonError::Duplicate(found)) => assert_eq!(found, *key),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        assert!(matches!(parse_json_strict(b"{\"a\": 1} trailing"), Err(StrictJsonError::Invalid(_))));
        assert!(matches!(parse_json_strict(b"{\"a\": "), Err(StrictJsonError::Invalid(_))));
    }
}
