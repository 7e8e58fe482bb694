//! `GET /v1/usage` (the tenant's, by month or by day and panel type) and
//! `GET /v1/panels/{id}/usage` (one panel's spend): docs/administration.md.

use actix_web::{HttpResponse, web};
use askpanel_actors::domain::PanelId;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use super::{panel_span, path_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::month_of;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    month: Option<String>,
    from: Option<String>,
    to: Option<String>,
    panel_type: Option<String>,
}

/// `GET /v1/usage?month=YYYY-MM` (the month's figures, as the limits count
/// them) or `?from=&to=[&panel_type=]` (by day and panel type, see
/// docs/administration.md).
pub async fn usage(
    principal: Principal,
    state: web::Data<AppState>,
    query: Result<web::Query<UsageQuery>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let query = query.map_err(|e| ApiError::field("query", e.to_string()))?.into_inner();
    let ranged = query.from.is_some() || query.to.is_some() || query.panel_type.is_some();
    if ranged && query.month.is_some() {
        return Err(ApiError::field("month", "give either `month` or a range (`from`, `to`), not both"));
    }
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
    let tenant = principal.tenant_id();
    let this_month = state.store.usage(tenant, &month).await?;
    let mut month_json = json!(this_month);
    month_json["month"] = json!(month);
    if !ranged {
        return Ok(HttpResponse::Ok().json(month_json));
    }
    let range = crate::usage::Range::of(query.from.as_deref(), query.to.as_deref(), Utc::now().date_naive())
        .map_err(|(field, why)| ApiError::field(field, why))?;
    let panel_type = match query.panel_type.as_deref() {
        Some(t) => {
            Some(t.parse::<askpanel_actors::domain::PanelType>().map_err(|e| ApiError::field("panel_type", &e))?)
        }
        None => None,
    };
    let rows = state.store.usage_days(tenant, range.from, range.to).await?;
    let report = crate::usage::report(range, panel_type.map(|t| t.as_str()), &rows);
    let limits = crate::limits::effective_limits(&state.settings, &principal.tenant);
    let mut out = json!(report);
    out["this_month"] = month_json;
    out["limits"] = json!({
        "max_panels_per_month": limits.max_panels_per_month,
        "tokens_per_month": limits.tokens_per_month,
        "max_concurrent_panels": limits.max_concurrent_panels,
    });
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /v1/panels/{id}/usage`: what the panel spent (docs/administration.md).
pub async fn panel_usage(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let panel = panel_span(PanelId(path_id(&id)?));
    let tenant = principal.tenant_id();
    let view = crate::panels::get(&state, tenant, panel, crate::panels::Read::Committed).await?;
    let events = state.store.load_events(tenant, panel).await?;
    Ok(HttpResponse::Ok().json(crate::usage::panel_usage(&view, &events, chrono::Utc::now())))
}
