//! A person's notifications (`docs/notifications.md`): `/v1/notifications`
//! (the list, read marks) and `/v1/notifications/preferences`. They belong to
//! people: an API key is told to sign in.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use askpanel_actors::domain::UserId;
use serde::Deserialize;
use serde_json::json;

use super::{JsonBody, path_id};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

/// The person behind the request.
fn person(principal: &Principal) -> Result<UserId, ApiError> {
    principal
        .user_id()
        .ok_or_else(|| ApiError::Forbidden("notifications belong to people: sign in to read yours".into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    unread: Option<bool>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/notifications?unread&limit&cursor` -> `{items, next_cursor, unread}`, newest first.
pub async fn list(
    principal: Principal,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let user = person(&principal)?;
    let mut fields = BTreeMap::new();
    let (limit, before) = super::page_params(params.limit, params.cursor.as_deref(), 30, 100, &mut fields);
    if !fields.is_empty() {
        return Err(ApiError::Validation { message: "the notification query is not valid".into(), fields });
    }
    let tenant = principal.tenant_id();
    let mut items =
        state.store.list_notifications(tenant, user, params.unread.unwrap_or(false), before, limit + 1).await?;
    let next_cursor = super::next_page(&mut items, limit, |n| n.id);
    let unread = state.store.count_unread(tenant, user).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor, "unread": unread})))
}

/// `POST /v1/notifications/{id}/read` -> the notification, read.
pub async fn read_one(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = person(&principal)?;
    let id = path_id(&id)?;
    let tenant = principal.tenant_id();
    state.store.mark_read(tenant, user, Some(id), chrono::Utc::now()).await?;
    let found = state.store.get_notification(tenant, user, id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(found))
}

/// `POST /v1/notifications/read-all` -> `{marked}`.
pub async fn read_all(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = person(&principal)?;
    let marked = state.store.mark_read(principal.tenant_id(), user, None, chrono::Utc::now()).await?;
    Ok(HttpResponse::Ok().json(json!({"marked": marked})))
}

fn preferences_json(state: &AppState, prefs: &crate::notify::Preferences) -> serde_json::Value {
    let mut body = prefs.to_json();
    body["email_available"] = json!(state.mailer.enabled());
    body
}

/// `GET /v1/notifications/preferences` -> `{kinds: {kind: {in_app, email}}, email_available}`.
pub async fn get_preferences(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = person(&principal)?;
    let prefs = state.store.get_preferences(principal.tenant_id(), user).await?;
    Ok(HttpResponse::Ok().json(preferences_json(&state, &prefs)))
}

/// `PATCH /v1/notifications/preferences` `{kinds: {kind: {in_app?, email?}}}` -> the preferences.
pub async fn update_preferences(
    principal: Principal,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let user = person(&principal)?;
    let tenant = principal.tenant_id();
    let mut prefs = state.store.get_preferences(tenant, user).await?;
    prefs.apply(&body.into_inner()).map_err(|(field, why)| ApiError::field(&field, why))?;
    state.store.set_preferences(tenant, user, &prefs).await?;
    Ok(HttpResponse::Ok().json(preferences_json(&state, &prefs)))
}
