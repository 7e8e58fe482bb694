//! `GET /v1/audit` (admin): the tenant's audit trail, newest first, with
//! filters and a cursor (docs/audit.md).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Role;
use crate::store::audit::AuditQuery;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    action: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    principal: Principal,
    state: web::Data<AppState>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let mut fields = std::collections::BTreeMap::new();
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let (limit, before) = super::page_params(params.limit, params.cursor.as_deref(), 50, 200, &mut fields);
    let mut query = AuditQuery { limit: limit + 1, before, ..AuditQuery::default() };
    for (field, value, slot) in [
        ("action", text(&params.action), &mut query.action),
        ("actor", text(&params.actor), &mut query.actor_id),
        ("target", text(&params.target), &mut query.target_id),
    ] {
        if let Some(value) = value {
            if value.len() > 100 {
                fields.insert(field.to_string(), "at most 100 characters".to_string());
            }
            *slot = Some(value);
        }
    }
    for (field, raw, end) in [("from", text(&params.from), false), ("to", text(&params.to), true)] {
        let Some(raw) = raw else { continue };
        match super::panels::parse_date(&raw, end) {
            Ok(at) if field == "from" => query.from = Some(at),
            Ok(at) => query.to = Some(at),
            Err(why) => {
                fields.insert(field.to_string(), why);
            }
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation { message: "the audit query is not valid".into(), fields });
    }
    let mut items = state.store.list_audit(principal.tenant_id(), &query).await?;
    let next_cursor = super::next_page(&mut items, limit, |e| e.id);
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}
