//! Request extractors: the caller in a tenant ([`Principal`]: an API key in
//! `Authorization: Bearer`, or a person's session cookie, which must carry
//! the CSRF token on every state-changing request) and the platform admin
//! ([`PlatformAdmin`]). They also apply the tenant's status, the
//! `X-Tenant-ID` check and the per-tenant rate limit.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};

use crate::accounts::{CSRF_HEADER, Opaque, SESSION_COOKIE, cookie_value};
use crate::auth::{Credential, Principal, WsClaims, bearer};
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
    let principal =
        principal_for(state, record.tenant_id, Credential::Key(record.id), record.role, record.name).await?;
    if state.auth.key_use_due(record.id) {
        // Off the request's path: the answer does not wait for the write.
        let (store, tenant, key) = (state.store.clone(), record.tenant_id, record.id);
        tokio::spawn(async move {
            if let Err(e) = store.touch_key(tenant, key, chrono::Utc::now()).await {
                tracing::debug!(tenant_id = %tenant, error = %e, "a key's last use was not recorded");
            }
        });
    }
    Ok(principal)
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

/// The principal of a credential in a tenant, if the tenant is active.
pub async fn principal_for(
    state: &AppState,
    tenant_id: askpanel_actors::domain::TenantId,
    credential: Credential,
    role: crate::store::Role,
    name: String,
) -> Result<Principal, ApiError> {
    let tenant = state
        .auth
        .tenant(state.store.as_ref(), tenant_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown tenant".into()))?;
    if tenant.status == TenantStatus::Suspended {
        return Err(ApiError::TenantSuspended);
    }
    Ok(Principal { tenant, credential, role, name })
}

/// The principal a WebSocket token names, if its key or session is still live.
pub async fn principal_for_ws_claims(state: &AppState, claims: &WsClaims) -> Result<Principal, ApiError> {
    match (claims.k, claims.u, claims.s) {
        (Some(key_id), _, _) => {
            // A revoked key's tokens stop working at once.
            let key = state
                .store
                .get_key(claims.t, key_id)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?;
            if key.revoked_at.is_some() {
                return Err(ApiError::Unauthorized("this API key was revoked".into()));
            }
            principal_for(state, claims.t, Credential::Key(key_id), key.role, key.name).await
        }
        (None, Some(user), Some(session)) => {
            // So do a signed-out session's, and the user's role is read again.
            let (_, record) = state
                .store
                .find_session(claims.t, session, None, chrono::Utc::now())
                .await?
                .filter(|(s, _)| s.user_id == user)
                .ok_or_else(|| ApiError::Unauthorized("this session has ended; sign in again".into()))?;
            principal_for(state, claims.t, Credential::Session { user, session }, record.role, record.name).await
        }
        _ => Err(ApiError::Unauthorized("invalid or expired WebSocket token".into())),
    }
}

/// The principal of a session cookie: a live session of an active user in
/// an active tenant. A cookie that names no live session counts as a failed
/// authentication of the address.
pub async fn authenticate_cookie(state: &AppState, req: &HttpRequest, raw: &str) -> Result<Principal, ApiError> {
    let ended = || ApiError::Unauthorized("not signed in, or the session has ended".into());
    let address = req.peer_addr().map(|a| a.ip());
    let Some(cookie) = Opaque::parse(raw) else {
        if let Some(address) = address {
            state.auth_failures.failed(address);
        }
        return Err(ended());
    };
    if let Some(address) = address {
        state
            .auth_failures
            .check(address, state.settings.auth.failed_auth_per_minute)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    }
    let Some((session, user)) = state.auth.session(state.store.as_ref(), &cookie).await? else {
        if let Some(address) = address {
            state.auth_failures.failed(address);
        }
        return Err(ended());
    };
    let credential = Credential::Session { user: user.id, session: session.id };
    principal_for(state, cookie.tenant, credential, user.role, user.name).await
}

/// The session cookie of a request, if it has one.
pub fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(actix_web::http::header::COOKIE)
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| cookie_value(h, SESSION_COOKIE).map(str::to_string))
        .filter(|v| !v.is_empty())
}

/// Refuses a state-changing request made with a session cookie that does
/// not carry the session's CSRF token in `X-CSRF-Token`.
pub fn check_csrf(state: &AppState, req: &HttpRequest, principal: &Principal) -> Result<(), ApiError> {
    let Some(session) = principal.session_id() else { return Ok(()) };
    if req.method().is_safe() {
        return Ok(());
    }
    let token = req.headers().get(CSRF_HEADER).and_then(|h| h.to_str().ok()).unwrap_or("");
    if state.auth.csrf_ok(session, token) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "missing or wrong X-CSRF-Token: requests signed in with the cookie must carry the session's token".into(),
        ))
    }
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
            // A key wins over a cookie: it is not sent by the browser on its own.
            let principal = match (bearer(header), session_cookie(&req)) {
                (Some(key), _) => authenticate(&state, &req, key).await?,
                (None, Some(cookie)) => {
                    let principal = authenticate_cookie(&state, &req, &cookie).await?;
                    check_csrf(&state, &req, &principal)?;
                    principal
                }
                (None, None) => {
                    return Err(ApiError::Unauthorized(
                        "sign in, or send an API key in an Authorization: Bearer header".into(),
                    ));
                }
            };
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
