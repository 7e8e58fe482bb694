//! `ApiError`: every failure at the HTTP edge, mapped to API.md's error body
//! `{"error": {"code", "message", "fields"?}}`. 500 bodies never leak internals.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askpanel_actors::engine::EngineError;
use askpanel_actors::panel::messages::PanelError;
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("the X-Tenant-ID header names another tenant than the key's")]
    TenantMismatch,
    #[error("the tenant is suspended")]
    TenantSuspended,
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Validation { message: String, fields: BTreeMap<String, String> },
    #[error("{0}")]
    LimitExceeded(String),
    #[error("too many requests; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    BadRequest(String),
    #[error("the request body must be JSON: send it with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("the request body did not arrive within {0} s")]
    RequestTimeout(u64),
    /// An `Idempotency-Key` used before with another body.
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn field(field: &str, why: impl Into<String>) -> ApiError {
        let why = why.into();
        ApiError::Validation { message: format!("{field}: {why}"), fields: BTreeMap::from([(field.to_string(), why)]) }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::TenantMismatch => "tenant_mismatch",
            ApiError::TenantSuspended => "tenant_suspended",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::Validation { .. } => "validation_failed",
            ApiError::LimitExceeded(_) => "limit_exceeded",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The message a person reads (never internals).
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "an internal error occurred; it has been logged".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::TenantMismatch | ApiError::TenantSuspended => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::LimitExceeded(_) | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let mut body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        if let ApiError::Validation { fields, .. } = self {
            body["error"]["fields"] = json!(fields);
        }
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::RateLimited { retry_after } = self {
            response.insert_header(("Retry-After", retry_after.to_string()));
        }
        if matches!(self, ApiError::Unauthorized(_)) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::LimitExceeded(m) => ApiError::LimitExceeded(m),
            e @ (StoreError::Database(_) | StoreError::WriterStopped) => {
                tracing::error!(error = %e, "database error");
                ApiError::Unavailable("the database is unavailable".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<PanelError> for ApiError {
    fn from(e: PanelError) -> Self {
        match e {
            PanelError::NotFound => ApiError::NotFound,
            PanelError::Forbidden(m) => ApiError::Forbidden(m),
            PanelError::Conflict(m) => ApiError::Conflict(m),
            PanelError::Invalid { field, message } => ApiError::field(&field, message),
            PanelError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound => ApiError::NotFound,
            EngineError::Validation(v) => ApiError::Validation { message: v.to_string(), fields: v.0 },
            EngineError::LimitExceeded(m) => ApiError::LimitExceeded(m),
            EngineError::Suspended => ApiError::TenantSuspended,
            EngineError::Panel(p) => p.into(),
            EngineError::Log(l) => {
                tracing::error!(error = %l, "event log error");
                ApiError::Unavailable("the event log is unavailable".into())
            }
            EngineError::NotRunning => ApiError::Conflict("the panel is not running".into()),
            EngineError::Unavailable(m) => ApiError::Unavailable(m),
        }
    }
}
