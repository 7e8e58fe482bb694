//! `/v1/experts`: the platform catalog plus the tenant's private experts;
//! admins edit and delete (or archive) their own, and hide or prefer any
//! (`docs/experts.md`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use askpanel_actors::domain::{ExpertId, TenantId};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{JsonBody, path_id};
use crate::auth::Principal;
use crate::catalog::{Expert, ExpertScope};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Role;
use crate::store::admin::ExpertSetting;
use crate::validation::Body;

pub fn expert_json(expert: &Expert) -> Value {
    json!({
        "id": expert.id,
        "name": expert.name,
        "title": expert.title,
        "domain": expert.domain,
        "persona": expert.persona,
        "background": expert.background,
        "weighs": expert.weighs,
        "sceptical_of": expert.sceptical_of,
        "tags": expert.tags,
        "scope": expert.scope,
        "model": expert.model,
        "archived": expert.archived,
    })
}

/// An expert as this tenant sees it: with its setting.
fn expert_for(expert: &Expert, settings: &HashMap<ExpertId, ExpertSetting>) -> Value {
    let mut body = expert_json(expert);
    let setting = settings.get(&expert.id).copied().unwrap_or_default();
    body["hidden"] = json!(setting.hidden);
    body["preferred"] = json!(setting.preferred);
    body
}

async fn settings_of(state: &AppState, tenant: TenantId) -> Result<HashMap<ExpertId, ExpertSetting>, ApiError> {
    Ok(state.store.expert_settings(tenant).await?.into_iter().collect())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpertQuery {
    q: Option<String>,
    domain: Option<String>,
    limit: Option<u32>,
    /// Also the experts the tenant hid and its archived ones.
    include_hidden: Option<bool>,
}

pub async fn list_experts(
    principal: Principal,
    state: web::Data<AppState>,
    query: web::Query<ExpertQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 200"));
    }
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 500) {
        return Err(ApiError::field("q", "at most 500 characters"));
    }
    let own = state.store.list_experts(principal.tenant_id()).await?;
    let settings = settings_of(&state, principal.tenant_id()).await?;
    let mut candidates = state.catalog.with(&own);
    if !query.include_hidden.unwrap_or(false) {
        let hidden: HashSet<ExpertId> = settings.iter().filter(|(_, s)| s.hidden).map(|(id, _)| *id).collect();
        candidates = candidates.without(&hidden);
    }
    if let Some(domain) = query.domain.as_deref().filter(|d| !d.is_empty()) {
        candidates = candidates.in_domain(domain);
    }
    let items: Vec<Value> = match query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => candidates
            .rank(q)
            .into_iter()
            .filter(|(_, score)| *score > 0.0)
            .take(limit as usize)
            .map(|(e, score)| {
                let mut v = expert_for(e, &settings);
                v["score"] = json!((score * 1000.0).round() / 1000.0);
                v
            })
            .collect(),
        None => candidates.experts.iter().take(limit as usize).map(|e| expert_for(e, &settings)).collect(),
    };
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

pub async fn get_expert(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ExpertId(path_id(&id)?);
    let expert = find(&state, principal.tenant_id(), id).await?;
    let settings = settings_of(&state, principal.tenant_id()).await?;
    Ok(HttpResponse::Ok().json(expert_for(&expert, &settings)))
}

/// A platform expert or one of the tenant's own.
async fn find(state: &AppState, tenant: TenantId, id: ExpertId) -> Result<Expert, ApiError> {
    match state.catalog.get(id) {
        Some(e) => Ok(e.clone()),
        None => state.store.get_expert(tenant, id).await?.ok_or(ApiError::NotFound),
    }
}

fn text_field(body: &mut Body, name: &'static str, value: &Option<String>, max: usize) {
    if value.as_ref().is_some_and(|v| v.trim().is_empty() || v.chars().count() > max) {
        body.invalid(name, format!("must be 1 to {max} characters"));
    }
}

fn optional_text(body: &mut Body, name: &'static str, value: &Option<String>, max: usize) {
    if value.as_ref().is_some_and(|v| v.chars().count() > max) {
        body.invalid(name, format!("must be at most {max} characters"));
    }
}

/// The content fields of an expert body (create: `name`, `domain` and
/// `persona` required; patch: all optional).
#[derive(Default)]
struct Content {
    name: Option<String>,
    domain: Option<String>,
    persona: Option<String>,
    title: Option<String>,
    background: Option<String>,
    weighs: Option<Vec<String>>,
    sceptical_of: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    concerns: Option<Vec<String>>,
    model: Option<String>,
}

impl Content {
    fn read(body: &mut Body, creating: bool) -> Content {
        let (name, domain, persona) = if creating {
            (body.required("name"), body.required("domain"), body.required("persona"))
        } else {
            (body.optional("name"), body.optional("domain"), body.optional("persona"))
        };
        let content = Content {
            name,
            domain,
            persona,
            title: body.optional("title"),
            background: body.optional("background"),
            weighs: body.optional("weighs"),
            sceptical_of: body.optional("sceptical_of"),
            tags: body.optional("tags"),
            concerns: body.optional("concerns"),
            model: body.optional("model"),
        };
        text_field(body, "name", &content.name, 200);
        text_field(body, "domain", &content.domain, 60);
        text_field(body, "persona", &content.persona, 4000);
        // A title and a background may be cleared (sent empty).
        optional_text(body, "title", &content.title, 200);
        optional_text(body, "background", &content.background, 2000);
        text_field(body, "model", &content.model, 200);
        for (name, list, max_items, max_chars) in [
            ("tags", &content.tags, 30, 60),
            ("concerns", &content.concerns, 30, 200),
            ("weighs", &content.weighs, 10, 200),
            ("sceptical_of", &content.sceptical_of, 10, 200),
        ] {
            if list.as_ref().is_some_and(|t| {
                t.len() > max_items || t.iter().any(|x| x.trim().is_empty() || x.chars().count() > max_chars)
            }) {
                body.invalid(name, format!("at most {max_items} items of 1 to {max_chars} characters"));
            }
        }
        content
    }

    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.domain.is_none()
            && self.persona.is_none()
            && self.title.is_none()
            && self.background.is_none()
            && self.weighs.is_none()
            && self.sceptical_of.is_none()
            && self.tags.is_none()
            && self.concerns.is_none()
            && self.model.is_none()
    }

    /// Applies what the body names to an expert.
    fn apply(self, expert: &mut Expert) {
        let trim = |list: Vec<String>| list.into_iter().map(|t| t.trim().to_string()).collect::<Vec<_>>();
        if let Some(name) = self.name {
            expert.name = name.trim().to_string();
        }
        if let Some(domain) = self.domain {
            expert.domain = domain.trim().to_lowercase().replace(' ', "_");
        }
        if let Some(persona) = self.persona {
            expert.persona = persona.trim().into();
        }
        if let Some(title) = self.title {
            expert.title = title.trim().to_string();
        }
        if let Some(background) = self.background {
            expert.background = background.trim().to_string();
        }
        if let Some(weighs) = self.weighs {
            expert.weighs = trim(weighs);
        }
        if let Some(sceptical_of) = self.sceptical_of {
            expert.sceptical_of = trim(sceptical_of);
        }
        if let Some(tags) = self.tags {
            expert.tags = tags.into_iter().map(|t| t.trim().to_lowercase()).collect();
        }
        if let Some(concerns) = self.concerns {
            expert.concerns = trim(concerns).into();
        }
        if self.model.is_some() {
            expert.model = self.model;
        }
    }
}

async fn record(
    state: &AppState,
    principal: &Principal,
    req: &HttpRequest,
    action: &str,
    expert: &Expert,
    detail: Value,
) {
    crate::audit::record(
        state,
        principal.tenant_id(),
        crate::audit::actor(principal),
        action,
        crate::audit::target("expert", expert.id),
        crate::audit::address(req),
        detail,
    )
    .await;
}

pub async fn create_expert(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let mut body = Body::new(body.into_inner())?;
    let content = Content::read(&mut body, true);
    body.finish()?;
    let mut expert = Expert {
        id: ExpertId::new(),
        name: String::new(),
        title: String::new(),
        domain: String::new(),
        persona: "".into(),
        background: String::new(),
        weighs: Vec::new(),
        sceptical_of: Vec::new(),
        tags: Arc::from([]),
        concerns: Arc::from([]),
        stubbornness: 0.4,
        optimism: 0.0,
        model: None,
        scope: ExpertScope::Tenant,
        tenant_id: Some(principal.tenant_id()),
        archived: false,
    };
    content.apply(&mut expert);
    state.store.create_expert(principal.tenant_id(), &expert).await?;
    let detail = json!({"name": expert.name, "domain": expert.domain});
    record(&state, &principal, &req, "expert.created", &expert, detail).await;
    Ok(HttpResponse::Created().json(expert_json(&expert)))
}

/// `PATCH /v1/experts/{id}` (admin): the tenant's own experts take every
/// content field; any expert takes `hidden` and `preferred`.
pub async fn update_expert(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let tenant = principal.tenant_id();
    let mut expert = find(&state, tenant, ExpertId(path_id(&id)?)).await?;
    let mut body = Body::new(body.into_inner())?;
    let content = Content::read(&mut body, false);
    let hidden: Option<bool> = body.optional("hidden");
    let preferred: Option<bool> = body.optional("preferred");
    if expert.scope == ExpertScope::Platform && !content.is_empty() {
        body.invalid("body", "a platform expert is not edited: hide it, or create your own expert");
    }
    if expert.archived && !content.is_empty() {
        body.invalid("body", "an archived expert is not edited");
    }
    let current = settings_of(&state, tenant).await?.get(&expert.id).copied().unwrap_or_default();
    // Hiding drops a preference; preferring what stays hidden is refused.
    if preferred == Some(true) && hidden.unwrap_or(current.hidden) {
        body.invalid("preferred", "a hidden expert cannot be preferred (unhide it first)");
    }
    body.finish()?;
    if !content.is_empty() {
        let before = expert_json(&expert);
        content.apply(&mut expert);
        if !state.store.update_expert(tenant, &expert).await? {
            return Err(ApiError::NotFound);
        }
        let changed: Vec<&str> =
            ["name", "title", "domain", "persona", "background", "weighs", "sceptical_of", "tags", "model"]
                .into_iter()
                .filter(|f| before[*f] != expert_json(&expert)[*f])
                .collect();
        record(&state, &principal, &req, "expert.updated", &expert, json!({"fields": changed})).await;
    }
    if hidden.is_some() || preferred.is_some() {
        let mut setting = current;
        setting.hidden = hidden.unwrap_or(setting.hidden);
        setting.preferred = preferred.unwrap_or(setting.preferred);
        // Hiding an expert drops its preference.
        if hidden == Some(true) {
            setting.preferred = false;
        }
        state.store.set_expert_setting(tenant, expert.id, setting, Utc::now()).await?;
        let detail = json!({"hidden": setting.hidden, "preferred": setting.preferred});
        record(&state, &principal, &req, "expert.settings_changed", &expert, detail).await;
    }
    let settings = settings_of(&state, tenant).await?;
    Ok(HttpResponse::Ok().json(expert_for(&expert, &settings)))
}

/// `DELETE /v1/experts/{id}` (admin, the tenant's own experts): 204 when no
/// panel seated it; else it is archived (kept for those panels' record,
/// never seated again) and the answer is 200 with it.
pub async fn delete_expert(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let tenant = principal.tenant_id();
    let mut expert = find(&state, tenant, ExpertId(path_id(&id)?)).await?;
    if expert.scope == ExpertScope::Platform {
        return Err(ApiError::Conflict("a platform expert is not deleted: hide it instead".into()));
    }
    if state.store.expert_seated(tenant, expert.id).await? {
        expert.archived = true;
        if !state.store.update_expert(tenant, &expert).await? {
            return Err(ApiError::NotFound);
        }
        record(&state, &principal, &req, "expert.archived", &expert, json!({"name": expert.name})).await;
        let settings = settings_of(&state, tenant).await?;
        return Ok(HttpResponse::Ok().json(expert_for(&expert, &settings)));
    }
    if !state.store.delete_expert(tenant, expert.id).await? {
        return Err(ApiError::NotFound);
    }
    record(&state, &principal, &req, "expert.deleted", &expert, json!({"name": expert.name})).await;
    Ok(HttpResponse::NoContent().finish())
}
