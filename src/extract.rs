//! Request extractors: the calling tenant key ([`Principal`]) and the
//! platform admin ([`PlatformAdmin`]). They also apply the tenant's status,
//! the `X-Tenant-ID` check and the per-tenant rate limit.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use askpanel_actors::domain::KeyId;

use crate::auth::{Principal, bearer};
use crate::error::ApiError;
use crate::limits::effective_limits;
use crate::state::AppState;
use crate::store::TenantStatus;

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("app state missing")))
}

/// Resolves a tenant key to its principal: live key, active tenant.
pub async fn principal_for_key(state: &AppState, key: &str) -> Result<Principal, ApiError> {
    if state.auth.is_admin_key(key) {
        return Err(ApiError::Forbidden("the platform admin key cannot use tenant routes".into()));
    }
    let record = state
        .auth
        .key_by_plain(state.store.as_ref(), key)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?;
    if record.revoked_at.is_some() {
        return Err(ApiError::Unauthorized("this API key was revoked".into()));
    }
    principal_for_key_id(state, record.tenant_id, record.id, record.role).await
}

/// [`principal_for_key`] for a request: an address that failed too often
/// this minute is refused before an uncached key is looked up, and every
/// unknown or revoked key counts as a failure of its address.
pub async fn authenticate(state: &AppState, req: &HttpRequest, key: &str) -> Result<Principal, ApiError> {
    let address = req.peer_addr().map(|a| a.ip());
    let per_minute = state.settings.auth.failed_auth_per_minute;
    if let Some(address) = address
        && !state.auth.is_cached(key)
    {
        state.auth_failures.check(address, per_minute).map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    }
    let result = principal_for_key(state, key).await;
    if let (Err(ApiError::Unauthorized(_)), Some(address)) = (&result, address) {
        state.auth_failures.failed(address);
    }
    result
}

/// The principal of a key known by id (WebSocket tokens carry the id).
pub async fn principal_for_key_id(
    state: &AppState,
    tenant_id: askpanel_actors::domain::TenantId,
    key_id: KeyId,
    role: crate::store::Role,
) -> Result<Principal, ApiError> {
    let tenant = state
        .auth
        .tenant(state.store.as_ref(), tenant_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown tenant".into()))?;
    if tenant.status == TenantStatus::Suspended {
        return Err(ApiError::TenantSuspended);
    }
    Ok(Principal { tenant, key_id, role })
}

/// Applies `X-Tenant-ID` (slug or id) and the rate limit to a principal;
/// with several nodes the rate is counted across them (in Redis).
pub async fn admit(state: &AppState, req: &HttpRequest, principal: &Principal) -> Result<(), ApiError> {
    if let Some(header) = req.headers().get("x-tenant-id") {
        let claimed = header.to_str().map_err(|_| ApiError::TenantMismatch)?.trim();
        let matches = claimed == principal.tenant.slug
            || claimed.parse::<uuid::Uuid>().is_ok_and(|id| id == principal.tenant.id.0);
        if !matches {
            return Err(ApiError::TenantMismatch);
        }
    }
    let limits = effective_limits(&state.settings, &principal.tenant);
    let shared = match &state.cluster {
        Some(cluster) => cluster.rate_check(principal.tenant.id, limits.requests_per_minute).await,
        None => None,
    };
    // Without Redis (or when it cannot answer), each node counts on its own.
    let verdict = shared.unwrap_or_else(|| state.limiter.check(principal.tenant.id, limits.requests_per_minute));
    verdict.map_err(|retry_after| ApiError::RateLimited { retry_after })
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let header = req.headers().get("authorization").and_then(|h| h.to_str().ok());
            let key = bearer(header)
                .ok_or_else(|| ApiError::Unauthorized("missing or malformed Authorization: Bearer header".into()))?;
            let principal = authenticate(&state, &req, key).await?;
            admit(&state, &req, &principal).await?;
            tracing::Span::current().record("tenant_id", tracing::field::display(principal.tenant.id));
            Ok(principal)
        })
    }
}

/// The platform admin (the configured admin key).
pub struct PlatformAdmin;

impl FromRequest for PlatformAdmin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let header = req.headers().get("authorization").and_then(|h| h.to_str().ok());
            let key = bearer(header)
                .ok_or_else(|| ApiError::Unauthorized("missing or malformed Authorization: Bearer header".into()))?;
            if state.auth.is_admin_key(key) {
                return Ok(PlatformAdmin);
            }
            match state.auth.key_by_plain(state.store.as_ref(), key).await? {
                Some(_) => Err(ApiError::Forbidden("only the platform admin key can use /v1/admin".into())),
                None => Err(ApiError::Unauthorized("unknown API key".into())),
            }
        })
    }
}
