//! Request bodies, read strictly: `Content-Type: application/json` (415
//! otherwise), at most `server.max_body_bytes` (413), the whole body within
//! `server.body_timeout_s` (408: a body that drips in does not hold a
//! connection for ever), valid JSON (400), and no key twice in any object
//! (422: `{"role":"viewer","role":"admin"}` is not read as the last one).

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures::StreamExt;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The limits of request bodies, shared with every route.
#[derive(Clone, Copy, Debug)]
pub struct BodyRules {
    /// The largest body, in bytes.
    pub max_bytes: usize,
    /// How long the whole body may take to arrive.
    pub timeout: Duration,
}

/// A JSON request body (its fields are then checked by [`crate::validation::Body`]).
#[derive(Debug)]
pub struct JsonBody(Value);

impl JsonBody {
    /// The JSON value.
    pub fn into_inner(self) -> Value {
        self.0
    }
}

/// A body that may be absent: `None` for an empty body, else a [`JsonBody`].
#[derive(Debug)]
pub struct OptionalJsonBody(pub Option<Value>);

/// Whether a `Content-Type` names JSON (`application/json`, or `application/*+json`).
pub fn is_json_content_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a whole body under the rules; `None` when it is empty.
async fn read(req: HttpRequest, mut payload: Payload) -> Result<Option<Value>, ApiError> {
    let rules = req
        .app_data::<BodyRules>()
        .copied()
        .unwrap_or(BodyRules { max_bytes: 65_536, timeout: Duration::from_secs(10) });
    let collect = async {
        let mut bytes = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
            if bytes.len() + chunk.len() > rules.max_bytes {
                return Err(ApiError::PayloadTooLarge(rules.max_bytes));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    let bytes = tokio::time::timeout(rules.timeout, collect)
        .await
        .map_err(|_| ApiError::RequestTimeout(rules.timeout.as_secs()))??;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json_content_type);
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_strict(&bytes).map(Some)
}

/// Parses JSON, refusing a key that appears twice in one object.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let strict = Strict::deserialize(&mut deserializer).and_then(|strict| deserializer.end().map(|()| strict));
    match strict {
        Ok(Strict(value)) => Ok(value),
        Err(error) => match duplicate_key(&error) {
            Some(key) => Err(ApiError::Validation {
                message: format!("{key}: appears more than once"),
                fields: BTreeMap::from([(key, "appears more than once".to_string())]),
            }),
            None => Err(ApiError::BadRequest(format!("the body is not valid JSON: {error}"))),
        },
    }
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

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            match read(req, payload).await? {
                Some(value) => Ok(JsonBody(value)),
                None => Err(ApiError::BadRequest("the request needs a JSON body".into())),
            }
        })
    }
}

impl FromRequest for OptionalJsonBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move { read(req, payload).await.map(OptionalJsonBody) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_read_strictly() {
        let valid = parse_strict(br#"{"a": {"b": [1, {"c": 2}]}, "d": null}"#).unwrap();
        assert_eq!(valid["a"]["b"][1]["c"], 2);
        let table: &[(&[u8], &str)] = &[
            (br#"{"role": "viewer", "name": "x", "role": "admin"}"#, "role"),
            (br#"{"a": {"b": 1, "b": 2}}"#, "b"),
            (br#"[{"k": 1, "k": 1}]"#, "k"),
        ];
        for (body, key) in table {
            match parse_strict(body) {
                Err(ApiError::Validation { fields, .. }) => assert!(fields.contains_key(*key), "{fields:?}"),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
        assert!(matches!(parse_strict(b"{\"a\": 1} trailing"), Err(ApiError::BadRequest(_))));
        assert!(matches!(parse_strict(b"{\"a\": "), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn json_content_types() {
        for (value, json) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/x-www-form-urlencoded", false),
            ("", false),
        ] {
            assert_eq!(is_json_content_type(value), json, "{value}");
        }
    }
}
