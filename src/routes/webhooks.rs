//! A tenant's webhook endpoints (admin, `docs/webhooks.md`): `/v1/webhooks`,
//! their secrets, test messages, delivery logs and redelivery.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{JsonBody, path_id};
use crate::audit;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Role;
use crate::store::webhooks::{DeliveryRecord, DeliveryStatus, EndpointPatch, EndpointRecord, EndpointStatus};
use crate::validation::Body;
use crate::webhooks::{self, DESCRIPTION_MAX, EVENT_TYPES, TEST_EVENT, WebhookEvent};

fn endpoint_json(endpoint: &EndpointRecord) -> Value {
    json!(endpoint)
}

/// An endpoint with its secret (shown when it is created or rotated).
fn with_secret(endpoint: &EndpointRecord) -> Value {
    let mut body = endpoint_json(endpoint);
    body["secret"] = json!(endpoint.secret);
    body
}

fn delivery_json(delivery: &DeliveryRecord) -> Value {
    let mut body = json!(delivery);
    body["message_id"] = json!(webhooks::message_id(delivery.id));
    body
}

/// The fields of a create or patch body, checked.
struct Fields {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    enabled: Option<bool>,
}

/// Reads `url`, `events` and `description` (`url` and `events` required
/// when creating) and, for a patch, `enabled`.
fn parse_fields(state: &AppState, value: Value, creating: bool) -> Result<Fields, ApiError> {
    let mut body = Body::new(value)?;
    let (url, events): (Option<String>, Option<Vec<String>>) = if creating {
        (body.required("url"), body.required("events"))
    } else {
        (body.optional("url"), body.optional("events"))
    };
    let description: Option<String> = body.optional("description");
    let enabled: Option<bool> = if creating { None } else { body.optional("enabled") };
    if let Some(url) = &url
        && let Err(why) = webhooks::check_url(url.trim(), state.settings.webhooks.allow_private_targets)
    {
        body.invalid("url", why);
    }
    if let Some(events) = &events
        && let Err(why) = webhooks::check_events(events)
    {
        body.invalid("events", why);
    }
    if description.as_ref().is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        body.invalid("description", format!("must be at most {DESCRIPTION_MAX} characters"));
    }
    body.finish()?;
    Ok(Fields {
        url: url.map(|u| u.trim().to_string()),
        events,
        description: description.map(|d| d.trim().to_string()),
        enabled,
    })
}

async fn record(
    state: &AppState,
    principal: &Principal,
    req: &HttpRequest,
    action: &str,
    id: uuid::Uuid,
    detail: Value,
) {
    audit::record(
        state,
        principal.tenant_id(),
        audit::actor(principal),
        action,
        audit::target("webhook", id),
        audit::address(req),
        detail,
    )
    .await;
}

/// `GET /v1/webhooks/event-types` (admin) -> `{items: [{type, description}]}`.
pub async fn event_types(principal: Principal) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let items: Vec<Value> = EVENT_TYPES.iter().map(|(t, d)| json!({"type": t, "description": d})).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// `POST /v1/webhooks` (admin) `{url, events, description?}` -> 201 the endpoint with its `secret`.
pub async fn create(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let Fields { url, events, description, .. } = parse_fields(&state, body.into_inner(), true)?;
    let (Some(url), Some(events)) = (url, events) else { unreachable!("required fields were checked") };
    let now = Utc::now();
    let endpoint = EndpointRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: principal.tenant_id(),
        url,
        description: description.unwrap_or_default(),
        events,
        secret: webhooks::generate_secret(),
        previous_secret: None,
        previous_until: None,
        status: EndpointStatus::Enabled,
        disabled_reason: None,
        failing_since: None,
        consecutive_failures: 0,
        created_at: now,
        updated_at: now,
    };
    state.store.create_endpoint(&endpoint).await?;
    record(
        &state,
        &principal,
        &req,
        "webhook.created",
        endpoint.id,
        json!({"url": endpoint.url, "events": endpoint.events}),
    )
    .await;
    Ok(HttpResponse::Created().json(with_secret(&endpoint)))
}

/// `GET /v1/webhooks` (admin) -> `{items}` (no secrets).
pub async fn list(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let items: Vec<Value> =
        state.store.list_endpoints(principal.tenant_id()).await?.iter().map(endpoint_json).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

async fn find(state: &AppState, principal: &Principal, id: &str) -> Result<EndpointRecord, ApiError> {
    let id = path_id(id)?;
    state.store.get_endpoint(principal.tenant_id(), id).await?.ok_or(ApiError::NotFound)
}

/// `GET /v1/webhooks/{id}` (admin).
pub async fn get(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    Ok(HttpResponse::Ok().json(endpoint_json(&find(&state, &principal, &id).await?)))
}

/// `PATCH /v1/webhooks/{id}` (admin) `{url?, events?, description?, enabled?}`.
/// Enabling clears the failure record; disabling fails the pending deliveries.
pub async fn update(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let current = find(&state, &principal, &id).await?;
    let Fields { url, events, description, enabled } = parse_fields(&state, body.into_inner(), false)?;
    let patch = EndpointPatch { url, description, events, enabled, secret: None };
    let updated = state
        .store
        .update_endpoint(principal.tenant_id(), current.id, &patch, Utc::now())
        .await?
        .ok_or(ApiError::NotFound)?;
    let action = match (current.status, updated.status) {
        (EndpointStatus::Disabled, EndpointStatus::Enabled) => "webhook.enabled",
        (EndpointStatus::Enabled, EndpointStatus::Disabled) => "webhook.disabled",
        _ => "webhook.updated",
    };
    record(&state, &principal, &req, action, updated.id, json!({"url": updated.url, "events": updated.events})).await;
    if updated.status == EndpointStatus::Enabled {
        state.notify_wake.deliveries.notify_one();
    }
    Ok(HttpResponse::Ok().json(endpoint_json(&updated)))
}

/// `DELETE /v1/webhooks/{id}` (admin) -> 204; its log goes with it.
pub async fn delete(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let endpoint = find(&state, &principal, &id).await?;
    if !state.store.delete_endpoint(principal.tenant_id(), endpoint.id).await? {
        return Err(ApiError::NotFound);
    }
    record(&state, &principal, &req, "webhook.deleted", endpoint.id, json!({"url": endpoint.url})).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/webhooks/{id}/rotate-secret` (admin) -> the endpoint with its
/// new `secret`; the old one still signs (a second signature) for a day.
pub async fn rotate_secret(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let endpoint = find(&state, &principal, &id).await?;
    let patch = EndpointPatch { secret: Some(webhooks::generate_secret()), ..EndpointPatch::default() };
    let updated = state
        .store
        .update_endpoint(principal.tenant_id(), endpoint.id, &patch, Utc::now())
        .await?
        .ok_or(ApiError::NotFound)?;
    record(&state, &principal, &req, "webhook.secret_rotated", updated.id, json!({})).await;
    Ok(HttpResponse::Ok().json(with_secret(&updated)))
}

/// `POST /v1/webhooks/{id}/test` (admin) -> 202 the delivery of a `webhook.test` message.
pub async fn test(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let endpoint = find(&state, &principal, &id).await?;
    if endpoint.status == EndpointStatus::Disabled {
        return Err(ApiError::Conflict("the endpoint is disabled; enable it first".into()));
    }
    let now = Utc::now();
    let event = WebhookEvent {
        event_type: TEST_EVENT,
        panel: None,
        at: now,
        data: json!({"endpoint_id": endpoint.id, "message": "a test message from askpanel"}),
    };
    let delivery = state.store.enqueue_delivery(principal.tenant_id(), endpoint.id, &event, now).await?;
    state.notify_wake.deliveries.notify_one();
    Ok(HttpResponse::Accepted().json(delivery_json(&delivery)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /v1/webhooks/{id}/deliveries?status&limit&cursor` (admin) -> `{items, next_cursor}`, newest first.
pub async fn deliveries(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    params: web::Query<DeliveryParams>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let endpoint = find(&state, &principal, &id).await?;
    let mut fields = std::collections::BTreeMap::new();
    let (limit, before) = super::page_params(params.limit, params.cursor.as_deref(), 50, 200, &mut fields);
    let status = match params.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => match s.parse::<DeliveryStatus>() {
            Ok(status) => Some(status),
            Err(_) => {
                fields.insert("status".to_string(), "must be pending, delivered or failed".to_string());
                None
            }
        },
        None => None,
    };
    if !fields.is_empty() {
        return Err(ApiError::Validation { message: "the delivery query is not valid".into(), fields });
    }
    let mut items = state.store.list_deliveries(principal.tenant_id(), endpoint.id, status, before, limit + 1).await?;
    let next_cursor = super::next_page(&mut items, limit, |d| d.id);
    let items: Vec<Value> = items.iter().map(delivery_json).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}

async fn find_delivery(
    state: &AppState,
    principal: &Principal,
    endpoint: &str,
    delivery: &str,
) -> Result<(EndpointRecord, DeliveryRecord), ApiError> {
    let endpoint = find(state, principal, endpoint).await?;
    let id = path_id(delivery)?;
    let delivery = state
        .store
        .get_delivery(principal.tenant_id(), id)
        .await?
        .filter(|d| d.endpoint_id == endpoint.id)
        .ok_or(ApiError::NotFound)?;
    Ok((endpoint, delivery))
}

/// `GET /v1/webhooks/{id}/deliveries/{delivery_id}` (admin) -> the delivery
/// with its `payload` and `attempts`.
pub async fn delivery(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let (_, delivery) = find_delivery(&state, &principal, &path.0, &path.1).await?;
    let attempts = state.store.delivery_attempts(principal.tenant_id(), delivery.id).await?;
    let mut body = delivery_json(&delivery);
    body["payload"] = serde_json::from_str(&delivery.payload).unwrap_or(Value::Null);
    body["attempts_log"] = json!(attempts);
    Ok(HttpResponse::Ok().json(body))
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver` (admin) ->
/// 202 the delivery, pending again (the same message id).
pub async fn redeliver(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let (endpoint, delivery) = find_delivery(&state, &principal, &path.0, &path.1).await?;
    if endpoint.status == EndpointStatus::Disabled {
        return Err(ApiError::Conflict("the endpoint is disabled; enable it first".into()));
    }
    if delivery.status == DeliveryStatus::Pending {
        return Err(ApiError::Conflict("the delivery is still pending; it is being tried".into()));
    }
    let again = state
        .store
        .redeliver(principal.tenant_id(), delivery.id, Utc::now())
        .await?
        .ok_or_else(|| ApiError::Conflict("the delivery is still pending; it is being tried".into()))?;
    record(
        &state,
        &principal,
        &req,
        "webhook.redelivered",
        endpoint.id,
        json!({"delivery_id": delivery.id, "event_type": delivery.event_type}),
    )
    .await;
    state.notify_wake.deliveries.notify_one();
    Ok(HttpResponse::Accepted().json(delivery_json(&again)))
}
