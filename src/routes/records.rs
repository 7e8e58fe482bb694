//! The decision record's routes (`docs/records.md`): reports, share links
//! and what they open, follow-ups and re-runs.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askpanel_actors::domain::PanelId;
use serde::Deserialize;
use serde_json::json;

use super::panels::{EventsQuery, Viewer, events_response};
use super::{JsonBody, OptionalJsonBody, panel_span, path_id};
use crate::auth::Principal;
use crate::cluster::Control;
use crate::error::ApiError;
use crate::records::{self, Format, lineage, shares};
use crate::state::AppState;
use crate::store::Role;
use crate::store::records::ShareId;
use crate::validation::Body;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    format: Option<String>,
    download: Option<String>,
}

impl ReportQuery {
    fn parts(&self) -> Result<(Format, bool), ApiError> {
        let download = matches!(self.download.as_deref(), Some("1" | "true" | "yes"));
        Ok((Format::parse(self.format.as_deref())?, download))
    }
}

/// `GET /v1/panels/{id}/report?format=json|md|html|pdf`
pub async fn report(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let panel = panel_span(PanelId(path_id(&id)?));
    let (format, download) = query.parts()?;
    let report = records::report(&state, principal.tenant_id(), panel).await?;
    records::respond(report, format, download).await
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            Ok(Some(v.to_str().map_err(|_| ApiError::field("Idempotency-Key", "must be visible ASCII"))?.to_string()))
        }
    }
}

fn created(panel: &askpanel_actors::panel::view::PanelView, existing: bool) -> HttpResponse {
    let mut response = if existing { HttpResponse::Ok() } else { HttpResponse::Created() };
    response.insert_header((header::LOCATION, format!("/v1/panels/{}", panel.id))).json(panel)
}

/// `POST /v1/panels/{id}/follow-up`
pub async fn follow_up(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let parent = panel_span(PanelId(path_id(&id)?));
    let key = idempotency_key(&req)?;
    let (panel, existing) = lineage::follow_up(&state, &principal, parent, body.into_inner(), key).await?;
    Ok(created(&panel, existing))
}

/// `POST /v1/panels/{id}/rerun`
pub async fn rerun(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
    body: OptionalJsonBody,
) -> Result<HttpResponse, ApiError> {
    let parent = panel_span(PanelId(path_id(&id)?));
    let key = idempotency_key(&req)?;
    let mut body = Body::new(body.0.unwrap_or_else(|| json!({})))?;
    let seed: Option<u64> = body.optional("seed");
    body.finish()?;
    let (panel, existing) = lineage::rerun(&state, &principal, parent, seed, key).await?;
    Ok(created(&panel, existing))
}

/// `POST /v1/panels/{id}/shares` (moderator)
pub async fn create_share(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
    body: OptionalJsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Moderator)?;
    let panel = panel_span(PanelId(path_id(&id)?));
    let mut body = Body::new(body.0.unwrap_or_else(|| json!({})))?;
    let expires_in_s: Option<u64> = body.optional("expires_in_s");
    let label: Option<String> = body.optional("label");
    body.finish()?;
    let tenant = principal.tenant_id();
    if state.store.get_panel(tenant, panel).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let share = shares::new_share(&state, tenant, panel, principal.holder().to_string(), expires_in_s, label)?;
    let token = shares::new_token();
    let max = state.settings.records.max_shares_per_panel;
    if !state.store.create_share(&share, &crate::auth::hash_key(&token), max).await? {
        return Err(ApiError::LimitExceeded(format!("at most {max} live share links per panel")));
    }
    tracing::info!(tenant_id = %tenant, panel_id = %panel, share_id = %share.id.0, "share link created");
    let detail = json!({"panel_id": panel, "expires_at": share.expires_at, "label": share.label});
    let target = crate::audit::target("share", share.id.0);
    crate::audit::record(
        &state,
        tenant,
        crate::audit::actor(&principal),
        "share.created",
        target,
        crate::audit::address(&req),
        detail,
    )
    .await;
    let mut body = serde_json::to_value(&share).map_err(|e| ApiError::Internal(e.into()))?;
    body["url"] = json!(format!("/#/shared/{token}"));
    body["token"] = json!(token);
    Ok(HttpResponse::Created().json(body))
}

/// `GET /v1/panels/{id}/shares` (moderator)
pub async fn list_shares(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Moderator)?;
    let panel = panel_span(PanelId(path_id(&id)?));
    let tenant = principal.tenant_id();
    if state.store.get_panel(tenant, panel).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let items = state.store.list_shares(tenant, panel).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// `DELETE /v1/panels/{id}/shares/{share_id}` (moderator): the link stops
/// working and its open streams end, on every node.
pub async fn revoke_share(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Moderator)?;
    let panel = panel_span(PanelId(path_id(&path.0)?));
    let share = ShareId(path_id(&path.1)?);
    let tenant = principal.tenant_id();
    if state.store.revoke_share(tenant, panel, share).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let detail = json!({"panel_id": panel});
    let target = crate::audit::target("share", share.0);
    crate::audit::record(
        &state,
        tenant,
        crate::audit::actor(&principal),
        "share.revoked",
        target,
        crate::audit::address(&req),
        detail,
    )
    .await;
    let closed = state.tenants.share_revoked(share);
    state.tell_nodes(Control::ShareRevoked { share_id: share.0 }).await;
    tracing::info!(tenant_id = %tenant, panel_id = %panel, share_id = %share.0, closed, "share link revoked");
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/shared/{token}`: the panel the link opens, redacted.
pub async fn shared_panel(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let share = shares::open(&state, &req, &token).await?;
    panel_span(share.panel_id);
    let view = crate::panels::get(&state, share.tenant_id, share.panel_id, crate::panels::Read::Committed).await?;
    let panel = shares::redact_panel(serde_json::to_value(&*view).map_err(|e| ApiError::Internal(e.into()))?);
    let branding = state.auth.tenant(state.store.as_ref(), share.tenant_id).await?.map(|t| t.branding);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .json(json!({"panel": panel, "expires_at": share.expires_at, "branding": branding})))
}

/// `GET /v1/shared/{token}/report?format=`
pub async fn shared_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let share = shares::open(&state, &req, &token).await?;
    panel_span(share.panel_id);
    let (format, download) = query.parts()?;
    let report = records::report(&state, share.tenant_id, share.panel_id).await?;
    records::respond(report, format, download).await
}

/// `GET /v1/shared/{token}/events`: JSON or Server-Sent Events, redacted.
pub async fn shared_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let share = shares::open(&state, &req, &token).await?;
    panel_span(share.panel_id);
    let viewer =
        Viewer::Share { id: share.id, expires_at: share.expires_at, token_hash: crate::auth::hash_key(&token) };
    events_response(&state, share.tenant_id, share.panel_id, &query, &req, viewer).await
}
