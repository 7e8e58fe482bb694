//! Strict reading of JSON request bodies field by field, so that a 422 names
//! every bad field (`fields`) and unknown fields are refused, not ignored.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
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
}
