//! `/v1/experts`: the platform catalog plus the tenant's private experts.

use actix_web::{HttpResponse, web};
use askpanel_actors::domain::ExpertId;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{JsonBody, path_id};
use crate::auth::Principal;
use crate::catalog::{Expert, ExpertScope};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Role;
use crate::validation::Body;

pub fn expert_json(expert: &Expert) -> Value {
    json!({
        "id": expert.id,
        "name": expert.name,
        "title": expert.title,
        "domain": expert.domain,
        "persona": expert.persona,
        "tags": expert.tags,
        "scope": expert.scope,
        "model": expert.model,
    })
}

#[derive(Deserialize)]
pub struct ExpertQuery {
    q: Option<String>,
    domain: Option<String>,
    limit: Option<u32>,
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
    let mut candidates = state.catalog.with(&own);
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
                let mut v = expert_json(e);
                v["score"] = json!((score * 1000.0).round() / 1000.0);
                v
            })
            .collect(),
        None => candidates.experts.iter().take(limit as usize).map(|e| expert_json(e)).collect(),
    };
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

pub async fn get_expert(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = ExpertId(path_id(&id)?);
    let expert = match state.catalog.get(id) {
        Some(e) => e.clone(),
        None => state.store.get_expert(principal.tenant_id(), id).await?.ok_or(ApiError::NotFound)?,
    };
    Ok(HttpResponse::Ok().json(expert_json(&expert)))
}

fn text_field(body: &mut Body, name: &'static str, value: &Option<String>, max: usize) {
    if value.as_ref().is_some_and(|v| v.trim().is_empty() || v.chars().count() > max) {
        body.invalid(name, format!("must be 1 to {max} characters"));
    }
}

pub async fn create_expert(
    principal: Principal,
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let mut body = Body::new(body.into_inner())?;
    let name: Option<String> = body.required("name");
    let domain: Option<String> = body.required("domain");
    let persona: Option<String> = body.required("persona");
    let title: Option<String> = body.optional("title");
    let tags: Option<Vec<String>> = body.optional("tags");
    let concerns: Option<Vec<String>> = body.optional("concerns");
    let model: Option<String> = body.optional("model");
    text_field(&mut body, "name", &name, 200);
    text_field(&mut body, "domain", &domain, 60);
    text_field(&mut body, "persona", &persona, 4000);
    text_field(&mut body, "title", &title, 200);
    text_field(&mut body, "model", &model, 200);
    if tags.as_ref().is_some_and(|t| t.len() > 30 || t.iter().any(|x| x.trim().is_empty() || x.chars().count() > 60)) {
        body.invalid("tags", "at most 30 tags of 1 to 60 characters");
    }
    if concerns
        .as_ref()
        .is_some_and(|t| t.len() > 30 || t.iter().any(|x| x.trim().is_empty() || x.chars().count() > 200))
    {
        body.invalid("concerns", "at most 30 concerns of 1 to 200 characters");
    }
    body.finish()?;
    let (Some(name), Some(domain), Some(persona)) = (name, domain, persona) else {
        unreachable!("required fields were checked")
    };
    let expert = Expert {
        id: ExpertId::new(),
        name: name.trim().to_string(),
        title: title.unwrap_or_default().trim().to_string(),
        domain: domain.trim().to_lowercase().replace(' ', "_"),
        persona: persona.trim().to_string(),
        tags: tags.unwrap_or_default().into_iter().map(|t| t.trim().to_lowercase()).collect(),
        concerns: concerns.unwrap_or_default(),
        stubbornness: 0.4,
        optimism: 0.0,
        model,
        scope: ExpertScope::Tenant,
        tenant_id: Some(principal.tenant_id()),
    };
    state.store.create_expert(principal.tenant_id(), &expert).await?;
    let detail = serde_json::json!({"name": expert.name, "domain": expert.domain});
    let target = crate::audit::target("expert", expert.id);
    let address = crate::audit::address(&req);
    crate::audit::record(
        &state,
        principal.tenant_id(),
        crate::audit::actor(&principal),
        "expert.created",
        target,
        address,
        detail,
    )
    .await;
    Ok(HttpResponse::Created().json(expert_json(&expert)))
}
