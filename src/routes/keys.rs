//! `/v1/keys` (admin) and `/v1/ws-tokens`.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use askpanel_actors::domain::KeyId;
use chrono::Utc;
use serde_json::json;

use super::{JsonBody, OptionalJsonBody, path_id};
use crate::audit;
use crate::auth::{Principal, generate_key, hash_key, key_prefix};
use crate::cluster::Control;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{KeyRecord, Role};
use crate::validation::Body;

pub async fn create_key(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let mut body = Body::new(body.into_inner())?;
    let role: Option<Role> = body.required("role");
    let name: Option<String> = body.required("name");
    if name.as_ref().is_some_and(|n| n.trim().is_empty() || n.chars().count() > 100) {
        body.invalid("name", "must be 1 to 100 characters");
    }
    body.finish()?;
    let (Some(role), Some(name)) = (role, name) else { unreachable!("required fields were checked") };
    let plain = generate_key();
    let key = KeyRecord {
        id: KeyId::new(),
        tenant_id: principal.tenant_id(),
        role,
        name: name.trim().to_string(),
        prefix: key_prefix(&plain),
        created_at: Utc::now(),
        revoked_at: None,
        last_used_at: None,
    };
    state.store.create_key(principal.tenant_id(), &key, &hash_key(&plain)).await?;
    let detail = json!({"role": key.role, "name": key.name});
    let target = audit::target("key", key.id);
    audit::record(
        &state,
        principal.tenant_id(),
        audit::actor(&principal),
        "key.created",
        target,
        audit::address(&req),
        detail,
    )
    .await;
    Ok(HttpResponse::Created()
        .json(json!({"id": key.id, "key": plain, "role": key.role, "name": key.name, "created_at": key.created_at})))
}

pub async fn list_keys(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let keys = state.store.list_keys(principal.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(json!({"items": keys})))
}

pub async fn revoke_key(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let key = KeyId(path_id(&id)?);
    if !state.store.revoke_key(principal.tenant_id(), key).await? {
        return Err(ApiError::NotFound);
    }
    let target = audit::target("key", key);
    audit::record(
        &state,
        principal.tenant_id(),
        audit::actor(&principal),
        "key.revoked",
        target,
        audit::address(&req),
        json!({}),
    )
    .await;
    let closed = state.tenants.key_revoked(key);
    // The other nodes forget the key and close its sockets too.
    state.tell_nodes(Control::KeyRevoked { key_id: key }).await;
    tracing::info!(tenant_id = %principal.tenant_id(), key_id = %key, closed, "api key revoked");
    Ok(HttpResponse::NoContent().finish())
}

pub async fn ws_token(
    principal: Principal,
    state: web::Data<AppState>,
    body: OptionalJsonBody,
) -> Result<HttpResponse, ApiError> {
    // No fields are defined: an empty body or `{}`; anything else is a 422 as everywhere.
    if let Some(value) = body.0 {
        Body::new(value)?.finish()?;
    }
    let ttl = Duration::from_secs(state.settings.auth.ws_token_ttl_s.clamp(10, 86_400));
    let (token, expires_at) = state.auth.issue_ws_token(&principal, ttl);
    Ok(HttpResponse::Ok().json(json!({"token": token, "expires_at": expires_at})))
}
