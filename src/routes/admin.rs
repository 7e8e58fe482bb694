//! `/v1/admin/tenants`: the platform admin manages tenants.

use actix_web::{HttpResponse, web};
use askpanel_actors::domain::{KeyId, TenantId};
use chrono::Utc;
use serde_json::{Value, json};

use super::{JsonBody, path_id};
use crate::auth::{generate_key, hash_key, key_prefix};
use crate::cluster::Control;
use crate::configuration::LimitOverrides;
use crate::error::ApiError;
use crate::extract::PlatformAdmin;
use crate::limits::effective_limits;
use crate::state::AppState;
use crate::store::{Branding, KeyRecord, Role, TenantPatch, TenantRecord, TenantStatus, Tier};
use crate::validation::Body;

/// The tenant as the API shows it.
pub fn tenant_json(state: &AppState, tenant: &TenantRecord) -> Value {
    json!({
        "id": tenant.id,
        "slug": tenant.slug,
        "name": tenant.name,
        "tier": tenant.tier,
        "status": tenant.status,
        "limits": effective_limits(&state.settings, tenant),
        "limit_overrides": tenant.limits,
        "features": {
            "panel_types": ["structured", "open", "socratic", "adversarial", "delphi", "hybrid"],
            "consensus_methods": ["rand_ucla", "confidence_weighted", "majority"],
            "llm": state.model,
            "sse": true,
        },
        "branding": tenant.branding,
        "created_at": tenant.created_at,
    })
}

pub fn valid_slug(slug: &str) -> bool {
    let bytes = slug.as_bytes();
    (2..=63).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase() | bytes[0].is_ascii_digit()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !slug.ends_with('-')
}

/// Creates a tenant with its first admin key; returns the tenant and the plain key.
pub async fn create(
    state: &AppState,
    slug: &str,
    name: &str,
    tier: Tier,
    limits: LimitOverrides,
) -> Result<(TenantRecord, KeyRecord, String), ApiError> {
    let now = Utc::now();
    let tenant = TenantRecord {
        id: TenantId::new(),
        slug: slug.to_string(),
        name: name.to_string(),
        tier,
        status: TenantStatus::Active,
        limits,
        branding: Branding {
            display_name: name.to_string(),
            primary_color: "#2f5bea".into(),
            secondary_color: None,
            logo_url: None,
        },
        created_at: now,
    };
    let plain = generate_key();
    let key = KeyRecord {
        id: KeyId::new(),
        tenant_id: tenant.id,
        role: Role::Admin,
        name: "admin".into(),
        prefix: key_prefix(&plain),
        created_at: now,
        revoked_at: None,
        last_used_at: None,
    };
    state.store.create_tenant(&tenant, &key, &hash_key(&plain)).await.map_err(|e| match e {
        crate::store::StoreError::Conflict(_) => ApiError::Conflict(format!("the slug `{slug}` is taken")),
        other => other.into(),
    })?;
    Ok((tenant, key, plain))
}

pub async fn create_tenant(
    _: PlatformAdmin,
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut body = Body::new(body.into_inner())?;
    let slug: Option<String> = body.required("slug");
    let name: Option<String> = body.required("name");
    let tier: Option<Tier> = body.optional("tier");
    let limits: Option<LimitOverrides> = body.optional("limits");
    if slug.as_ref().is_some_and(|s| !valid_slug(s)) {
        body.invalid("slug", "2 to 63 lowercase letters, digits or hyphens, starting with a letter or digit");
    }
    if name.as_ref().is_some_and(|n| n.trim().is_empty() || n.chars().count() > 200) {
        body.invalid("name", "must be 1 to 200 characters");
    }
    body.finish()?;
    let (Some(slug), Some(name)) = (slug, name) else { unreachable!("required fields were checked") };
    let (tenant, key, plain) =
        create(&state, &slug, name.trim(), tier.unwrap_or(Tier::Starter), limits.unwrap_or_default()).await?;
    let detail = json!({"slug": tenant.slug, "tier": tenant.tier, "first_admin_key": key.id});
    let address = crate::audit::address(&req);
    let target = crate::audit::target("tenant", tenant.id);
    crate::audit::record(&state, tenant.id, crate::audit::platform(), "tenant.created", target, address, detail).await;
    let mut out = tenant_json(&state, &tenant);
    out["api_key"] = json!({"id": key.id, "key": plain, "role": "admin", "name": key.name});
    Ok(HttpResponse::Created().json(out))
}

pub async fn list_tenants(_: PlatformAdmin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tenants = state.store.list_tenants().await?;
    let items: Vec<Value> = tenants.iter().map(|t| tenant_json(&state, t)).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

pub async fn get_tenant(
    _: PlatformAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = TenantId(path_id(&id)?);
    let tenant = state.store.get_tenant(id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(tenant_json(&state, &tenant)))
}

pub async fn update_tenant(
    _: PlatformAdmin,
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: actix_web::HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let id = TenantId(path_id(&id)?);
    let mut body = Body::new(body.into_inner())?;
    let patch = TenantPatch {
        status: body.optional("status"),
        tier: body.optional("tier"),
        limits: body.optional("limits"),
        branding: None,
    };
    body.finish()?;
    let tenant = state.store.update_tenant(id, &patch).await?.ok_or(ApiError::NotFound)?;
    // Each change its own entry: status, tier and limits are read separately.
    let address = crate::audit::address(&req);
    for (action, changed, detail) in [
        ("tenant.status_changed", patch.status.is_some(), json!({"status": tenant.status})),
        ("tenant.tier_changed", patch.tier.is_some(), json!({"tier": tenant.tier})),
        ("tenant.limits_changed", patch.limits.is_some(), json!({"limits": tenant.limits})),
    ] {
        if changed {
            let target = crate::audit::target("tenant", id);
            crate::audit::record(&state, id, crate::audit::platform(), action, target, address.clone(), detail).await;
        }
    }
    state.tenants.apply(&tenant);
    state.tell_nodes(Control::TenantChanged { tenant_id: id }).await;
    Ok(HttpResponse::Ok().json(tenant_json(&state, &tenant)))
}
