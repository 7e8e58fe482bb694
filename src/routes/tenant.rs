//! `/v1/tenant` and `/v1/usage`: the caller's own tenant.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::JsonBody;
use super::admin::tenant_json;
use crate::auth::Principal;
use crate::cluster::Control;
use crate::error::ApiError;
use crate::panels::defaults::PanelDefaults;
use crate::state::AppState;
use crate::store::{Branding, Role, TenantPatch, month_of};
use crate::validation::Body;

pub async fn get_tenant(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut body = tenant_json(&state, &principal.tenant);
    // Who is asking: the web page shows moderator controls and "your turn" from this.
    body["caller"] = match (principal.key_id(), principal.user_id()) {
        (Some(key), _) => serde_json::json!({"key_id": key, "role": principal.role}),
        (None, user) => serde_json::json!({"user_id": user, "role": principal.role}),
    };
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrandingPatch {
    display_name: Option<String>,
    primary_color: Option<String>,
    logo_url: Option<Option<String>>,
}

fn valid_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

pub async fn update_tenant(
    principal: Principal,
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let mut body = Body::new(body.into_inner())?;
    let patch: Option<BrandingPatch> = body.optional("branding");
    let mut branding: Branding = principal.tenant.branding.clone();
    if let Some(p) = patch {
        if let Some(name) = p.display_name {
            if name.trim().is_empty() || name.chars().count() > 100 {
                body.invalid("branding.display_name", "must be 1 to 100 characters");
            }
            branding.display_name = name.trim().to_string();
        }
        if let Some(color) = p.primary_color {
            if !valid_color(&color) {
                body.invalid("branding.primary_color", "must be a #rrggbb colour");
            }
            branding.primary_color = color;
        }
        if let Some(logo) = p.logo_url {
            if logo.as_ref().is_some_and(|u| !(u.starts_with("https://") || u.starts_with("/")) || u.len() > 500) {
                body.invalid("branding.logo_url", "must be an https:// URL or a path, at most 500 characters");
            }
            branding.logo_url = logo;
        }
    }
    body.finish()?;
    let id = principal.tenant_id();
    let tenant = state
        .store
        .update_tenant(id, &TenantPatch { branding: Some(branding), ..TenantPatch::default() })
        .await?
        .ok_or(ApiError::NotFound)?;
    state.auth.invalidate_tenant(id);
    state.tell_nodes(Control::TenantChanged { tenant_id: id }).await;
    let detail = serde_json::json!({"branding": tenant.branding});
    let target = crate::audit::target("tenant", id);
    let address = crate::audit::address(&req);
    crate::audit::record(
        &state,
        id,
        crate::audit::actor(&principal),
        "tenant.branding_changed",
        target,
        address,
        detail,
    )
    .await;
    Ok(HttpResponse::Ok().json(tenant_json(&state, &tenant)))
}

#[derive(Deserialize)]
pub struct UsageQuery {
    month: Option<String>,
}

pub async fn usage(
    principal: Principal,
    state: web::Data<AppState>,
    query: web::Query<UsageQuery>,
) -> Result<HttpResponse, ApiError> {
    let month = match &query.month {
        Some(m) => {
            let valid = m.len() == 7 && chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").is_ok();
            if !valid {
                return Err(ApiError::field("month", "must be YYYY-MM"));
            }
            m.clone()
        }
        None => month_of(Utc::now()),
    };
    let usage = state.store.usage(principal.tenant_id(), &month).await?;
    let mut out = json!(usage);
    out["month"] = json!(month);
    Ok(HttpResponse::Ok().json(out))
}

async fn defaults_of(state: &AppState, tenant: askpanel_actors::domain::TenantId) -> Result<PanelDefaults, ApiError> {
    Ok(state.store.tenant_defaults(tenant).await?.map(|s| PanelDefaults::parse_stored(&s)).unwrap_or_default())
}

/// `GET /v1/tenant/defaults` -> the defaults of the tenant's new panels.
pub async fn get_defaults(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(defaults_of(&state, principal.tenant_id()).await?))
}

/// `PUT /v1/tenant/defaults` (admin) `{panel_type?, max_rounds?,
/// consensus_method?, human_turn_timeout_s?}`: the whole set.
pub async fn put_defaults(
    principal: Principal,
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let defaults = PanelDefaults::parse(body.into_inner())?;
    let text = serde_json::to_string(&defaults).map_err(|e| ApiError::Internal(e.into()))?;
    state.store.set_tenant_defaults(principal.tenant_id(), &text, Utc::now()).await?;
    crate::audit::record(
        &state,
        principal.tenant_id(),
        crate::audit::actor(&principal),
        "tenant.defaults_changed",
        crate::audit::target("tenant", principal.tenant_id()),
        crate::audit::address(&req),
        json!(defaults),
    )
    .await;
    Ok(HttpResponse::Ok().json(defaults))
}
