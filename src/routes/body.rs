//! Request bodies, read strictly: `Content-Type: application/json` (415
//! otherwise), at most `server.max_body_bytes` (413), the whole body within
//! `server.body_timeout_s` (408: a body that drips in does not hold a
//! connection for ever), valid JSON (400), and no key twice in any object
//! (422: `{"role":"viewer","role":"admin"}` is not read as the last one).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use futures::StreamExt;
use serde_json::Value;

use crate::error::ApiError;
use crate::validation::{StrictJsonError, parse_json_strict};

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
    match parse_json_strict(&bytes) {
        Ok(value) => Ok(Some(value)),
        Err(StrictJsonError::Duplicate(key)) => Err(ApiError::Validation {
            message: format!("{key}: appears more than once"),
            fields: BTreeMap::from([(key, "appears more than once".to_string())]),
        }),
        Err(StrictJsonError::Invalid(error)) => {
            Err(ApiError::BadRequest(format!("the body is not valid JSON: {error}")))
        }
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

/// The whole body, at most `allowed` bytes. A body a little over is read to
/// its end and dropped, so that the client (which is still sending) reads
/// the 413 rather than a reset connection; one declared far larger is
/// refused at once.
pub async fn read_bounded(
    req: &HttpRequest,
    mut payload: actix_web::web::Payload,
    allowed: usize,
) -> Result<bytes::Bytes, ApiError> {
    let drain_up_to = allowed.saturating_mul(4);
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > drain_up_to) {
        return Err(ApiError::PayloadTooLarge(allowed));
    }
    let mut bytes = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        seen += chunk.len();
        if seen > drain_up_to {
            break;
        }
        if seen <= allowed {
            bytes.extend_from_slice(&chunk);
        }
    }
    if seen > allowed {
        return Err(ApiError::PayloadTooLarge(allowed));
    }
    Ok(bytes.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

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
