//! `/v1/documents`: the tenant's document library (see docs/documents.md).
//! Uploads come as `multipart/form-data` (a `file` part, an optional
//! `title` part) or as JSON text; both are bounded by the tenant's
//! `max_document_mb` while they arrive, within `documents.upload_timeout_s`,
//! at most `documents.max_concurrent_uploads` at once on a node.

use std::time::Duration;

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askpanel_actors::evidence::DocumentId;
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::{is_json_content_type, read_bounded};
use super::path_id;
use crate::auth::Principal;
use crate::documents::Upload;
use crate::documents::extract::Format;
use crate::error::ApiError;
use crate::limits::effective_limits;
use crate::state::AppState;
use crate::store::Role;
use crate::store::documents::DocumentStatus;
use crate::validation::parse_json_strict;

/// The longest search query, in characters.
const QUERY_MAX_CHARS: usize = 500;
/// The most document ids a search may name.
const SEARCH_MAX_DOCUMENTS: usize = 100;

pub async fn upload(
    req: HttpRequest,
    principal: Principal,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Member)?;
    let limits = effective_limits(&state.settings, &principal.tenant);
    let max = state.library.max_upload_bytes(&limits);
    let timeout = Duration::from_secs(state.settings.documents.upload_timeout_s.max(1));
    // Each upload is held in memory while it arrives: a bounded number at once.
    let _permit = state.library.upload_permit()?;
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let multipart = content_type.starts_with("multipart/form-data");
    if !multipart && !is_json_content_type(&content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let read = async {
        // Room for the multipart framing and title, or for JSON's escapes.
        let allowed = if multipart { max + FRAMING_BYTES } else { max.saturating_mul(2) + FRAMING_BYTES };
        let bytes = read_bounded(&req, payload, allowed).await.map_err(|e| match e {
            ApiError::PayloadTooLarge(_) => ApiError::PayloadTooLarge(max),
            other => other,
        })?;
        if multipart {
            let stream = futures::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(bytes) });
            read_multipart(Multipart::new(req.headers(), stream), max).await
        } else {
            read_json(&bytes, max).await
        }
    };
    let upload =
        tokio::time::timeout(timeout, read).await.map_err(|_| ApiError::RequestTimeout(timeout.as_secs()))??;
    let document =
        state.library.upload(principal.tenant_id(), &principal.holder().to_string(), &limits, upload).await?;
    let detail =
        serde_json::json!({"title": document.title, "bytes": document.bytes, "media_type": document.media_type});
    let target = crate::audit::target("document", document.id.0);
    let address = crate::audit::address(&req);
    crate::audit::record(
        &state,
        principal.tenant_id(),
        crate::audit::actor(&principal),
        "document.uploaded",
        target,
        address,
        detail,
    )
    .await;
    Ok(HttpResponse::Accepted().json(document))
}

/// Bytes of a multipart body beyond its file: boundaries, part headers, a title.
const FRAMING_BYTES: usize = 64 * 1024;

/// A multipart upload: the `file` part (its type from its `Content-Type`,
/// else its name) and an optional `title` part; other parts are refused.
async fn read_multipart(mut form: Multipart, max: usize) -> Result<Upload, ApiError> {
    let mut file: Option<(Option<String>, Format, Vec<u8>)> = None;
    let mut title: Option<String> = None;
    while let Some(mut field) = form.try_next().await.map_err(bad_form)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" if file.is_none() => {
                let filename = field.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_string);
                let declared = field.content_type().map(|m| m.essence_str().to_string());
                let format = declared
                    .as_deref()
                    .filter(|m| *m != "application/octet-stream")
                    .and_then(Format::from_media_type)
                    .or_else(|| filename.as_deref().and_then(Format::from_filename))
                    .ok_or_else(unsupported_type)?;
                let bytes = read_field(&mut field, max).await?;
                file = Some((filename, format, bytes));
            }
            "title" if title.is_none() => {
                let bytes =
                    read_field(&mut field, 4 * crate::documents::TITLE_MAX_CHARS).await.map_err(|e| match e {
                        ApiError::PayloadTooLarge(_) => ApiError::field("title", "is too long"),
                        other => other,
                    })?;
                title = Some(String::from_utf8(bytes).map_err(|_| ApiError::field("title", "must be UTF-8 text"))?);
            }
            "file" | "title" => return Err(ApiError::field(&name, "appears more than once")),
            other => {
                let other = other.chars().take(40).collect::<String>();
                return Err(ApiError::field(&other, "unknown part: send `file` and optionally `title`"));
            }
        }
    }
    let (filename, format, bytes) = file.ok_or_else(|| ApiError::field("file", "is required"))?;
    Ok(Upload { title, filename, format, bytes })
}

async fn read_field(field: &mut actix_multipart::Field, max: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(bad_form)?;
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn bad_form(e: actix_multipart::MultipartError) -> ApiError {
    ApiError::BadRequest(format!("the multipart body could not be read: {e}"))
}

fn unsupported_type() -> ApiError {
    ApiError::Validation {
        message: "file: unsupported type; send PDF, Markdown, plain text or HTML".into(),
        fields: [("file".to_string(), "unsupported type: send .pdf, .md, .txt or .html".to_string())].into(),
    }
}

/// A JSON upload: `{"title", "text", "format"}`.
async fn read_json(bytes: &[u8], max: usize) -> Result<Upload, ApiError> {
    let value = parse_json_strict(bytes).map_err(|e| match e {
        crate::validation::StrictJsonError::Duplicate(key) => ApiError::field(&key, "appears more than once"),
        crate::validation::StrictJsonError::Invalid(e) => {
            ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
        }
    })?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::BadRequest("the body must be a JSON object".into()));
    };
    let text = match object.remove("text") {
        Some(Value::String(text)) => text,
        Some(_) => return Err(ApiError::field("text", "must be a string")),
        None => return Err(ApiError::field("text", "is required")),
    };
    let title = match object.remove("title") {
        Some(Value::String(title)) => Some(title),
        None | Some(Value::Null) => None,
        Some(_) => return Err(ApiError::field("title", "must be a string")),
    };
    let format = match object.remove("format") {
        Some(Value::String(name)) => {
            Format::from_name(&name).ok_or_else(|| ApiError::field("format", "must be text, markdown or html"))?
        }
        None | Some(Value::Null) => Format::Text,
        Some(_) => return Err(ApiError::field("format", "must be text, markdown or html")),
    };
    if let Some(key) = object.keys().next() {
        return Err(ApiError::field(key, "unknown field"));
    }
    if text.len() > max {
        return Err(ApiError::PayloadTooLarge(max));
    }
    Ok(Upload { title, filename: None, format, bytes: text.into_bytes() })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    principal: Principal,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 100"));
    }
    let status = match query.status.as_deref() {
        Some(s) => Some(
            s.parse::<DocumentStatus>()
                .map_err(|_| ApiError::field("status", "must be pending, extracting, ready or failed"))?,
        ),
        None => None,
    };
    let cursor = match query.cursor.as_deref() {
        Some(c) => Some(DocumentId(c.parse().map_err(|_| ApiError::field("cursor", "is not a cursor"))?)),
        None => None,
    };
    let tenant = principal.tenant_id();
    let mut items = state.store.list_documents(tenant, status, limit + 1, cursor).await?;
    let next_cursor = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        items.last().map(|d| d.id.to_string())
    });
    let usage = state.store.library_usage(tenant).await?;
    let limits = effective_limits(&state.settings, &principal.tenant);
    Ok(HttpResponse::Ok().json(json!({
        "items": items,
        "next_cursor": next_cursor.flatten(),
        "storage": {
            "used_bytes": usage.bytes,
            "limit_bytes": u64::from(limits.max_storage_mb) * 1024 * 1024,
            "documents": usage.documents,
            "max_documents": limits.max_documents,
            "max_document_bytes": state.library.max_upload_bytes(&limits),
        },
    })))
}

pub async fn get(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = DocumentId(path_id(&path)?);
    let document = state.store.get_document(principal.tenant_id(), id).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(document))
}

pub async fn delete(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Member)?;
    let id = DocumentId(path_id(&path)?);
    if !state.store.delete_document(principal.tenant_id(), id).await? {
        return Err(ApiError::NotFound);
    }
    let target = crate::audit::target("document", id.0);
    let address = crate::audit::address(&req);
    let actor = crate::audit::actor(&principal);
    crate::audit::record(
        &state,
        principal.tenant_id(),
        actor,
        "document.deleted",
        target,
        address,
        serde_json::json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PassagesQuery {
    after: Option<u32>,
    limit: Option<u32>,
}

pub async fn passages(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PassagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = DocumentId(path_id(&path)?);
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 200"));
    }
    let tenant = principal.tenant_id();
    state.store.get_document(tenant, id).await?.ok_or(ApiError::NotFound)?;
    let mut items = state.store.passages(tenant, id, query.after.unwrap_or(0), limit + 1).await?;
    let next_cursor = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        items.last().map(|p| p.n)
    });
    Ok(HttpResponse::Ok().json(json!({ "items": items, "next_cursor": next_cursor.flatten() })))
}

pub async fn passage(
    principal: Principal,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, n) = path.into_inner();
    let id = DocumentId(path_id(&id)?);
    let n: u32 = n.parse().map_err(|_| ApiError::NotFound)?;
    let passage = state.store.passage(principal.tenant_id(), id, n).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(passage))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<u32>,
    documents: Option<String>,
}

pub async fn search(
    principal: Principal,
    state: web::Data<AppState>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.q.as_deref().map(str::trim).unwrap_or("");
    if q.is_empty() {
        return Err(ApiError::field("q", "is required"));
    }
    if q.chars().count() > QUERY_MAX_CHARS {
        return Err(ApiError::field("q", format!("at most {QUERY_MAX_CHARS} characters")));
    }
    let limit = query.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 50"));
    }
    let documents = match query.documents.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(list) => {
            let ids: Result<Vec<DocumentId>, _> = list.split(',').map(|s| s.trim().parse().map(DocumentId)).collect();
            let ids = ids.map_err(|_| ApiError::field("documents", "must be comma-separated document ids"))?;
            if ids.len() > SEARCH_MAX_DOCUMENTS {
                return Err(ApiError::field("documents", format!("at most {SEARCH_MAX_DOCUMENTS} ids")));
            }
            Some(ids)
        }
        None => None,
    };
    let hits = state.library.search(principal.tenant_id(), q, documents, limit).await?;
    Ok(HttpResponse::Ok().json(json!({ "items": hits })))
}
