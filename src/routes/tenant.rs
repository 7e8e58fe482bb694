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
use crate::store::admin::{BrandingEdit, Logo, LogoEdit};
use crate::store::{Branding, Role};
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
    #[serde(default, deserialize_with = "nullable")]
    secondary_color: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    logo_url: Option<Option<String>>,
}

/// A field that may be absent (`None`), null (`Some(None)`) or set.
fn nullable<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
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
    let current = &principal.tenant.branding;
    let mut edit = BrandingEdit::default();
    if let Some(p) = patch {
        if let Some(name) = p.display_name {
            if name.trim().is_empty() || name.chars().count() > 100 {
                body.invalid("branding.display_name", "must be 1 to 100 characters");
            }
            edit.display_name = Some(name.trim().to_string());
        }
        if let Some(color) = p.primary_color {
            if !valid_color(&color) {
                body.invalid("branding.primary_color", "must be a #rrggbb colour");
            }
            edit.primary_color = Some(color);
        }
        if let Some(color) = p.secondary_color {
            if color.as_deref().is_some_and(|c| !valid_color(c)) {
                body.invalid("branding.secondary_color", "must be a #rrggbb colour or null");
            }
            edit.secondary_color = Some(color.map(|c| c.to_ascii_lowercase()));
        }
        match p.logo_url {
            None => {}
            // The logo it has (the page sends the branding back as it read it).
            Some(url) if url == current.logo_url => {}
            Some(None) => edit.logo = Some(LogoEdit::Clear),
            Some(Some(url)) => match logo_url_refusal(&url) {
                Some(why) => body.invalid("branding.logo_url", why),
                None => edit.logo = Some(LogoEdit::Url(url)),
            },
        }
    }
    body.finish()?;
    change_branding(&state, &principal, &req, &edit, "tenant.branding_changed", |after| json!({"branding": after}))
        .await
}

/// Why a `logo_url` may not be set with `PATCH`, if it may not: it is an
/// `https://` URL, or a file the server serves (`/assets/...`); the
/// server's own logos are set by uploading (`PUT /v1/tenant/logo`).
pub fn logo_url_refusal(url: &str) -> Option<&'static str> {
    if url.starts_with("/v1/logos/") {
        return Some("upload the logo with PUT /v1/tenant/logo");
    }
    let clean = url.len() <= 500 && !url.contains(|c: char| c.is_whitespace() || matches!(c, '\\' | '"' | '<' | '>'));
    let https = url.strip_prefix("https://").is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    let asset = url.strip_prefix("/assets/").is_some_and(|rest| !rest.is_empty() && !rest.contains(".."));
    if !clean || !(https || asset) {
        return Some("must be an https:// URL or a /assets/ path, at most 500 characters");
    }
    None
}

/// The logo formats accepted, by `Content-Type`, with the signature their bytes open with.
const LOGO_TYPES: &[(&str, &[u8])] = &[
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF8"),
    ("image/webp", b"RIFF"),
];
/// The largest logo, in bytes.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// Whether `bytes` are an image of `content_type` (by its signature);
/// `Err` names what is wrong.
pub fn check_logo(content_type: &str, bytes: &[u8]) -> Result<&'static str, ApiError> {
    let kind = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let Some((name, signature)) = LOGO_TYPES.iter().find(|(t, _)| *t == kind) else {
        return Err(ApiError::UnsupportedMediaType);
    };
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_LOGO_BYTES));
    }
    let webp = *name != "image/webp" || bytes.get(8..12) == Some(b"WEBP".as_slice());
    if bytes.is_empty() || !bytes.starts_with(signature) || !webp {
        return Err(ApiError::field("logo", format!("the bytes are not a {name} image")));
    }
    Ok(name)
}

/// `PUT /v1/tenant/logo` (admin): the image is the body.
pub async fn put_logo(
    principal: Principal,
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let content_type =
        req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // The type first: a wrong one is refused before the body is read.
    check_logo(content_type, b"")
        .map(|_| ())
        .or_else(|e| if matches!(e, ApiError::UnsupportedMediaType) { Err(e) } else { Ok(()) })?;
    let timeout = std::time::Duration::from_secs(30);
    let bytes = tokio::time::timeout(timeout, super::body::read_bounded(&req, body, MAX_LOGO_BYTES))
        .await
        .map_err(|_| ApiError::RequestTimeout(timeout.as_secs()))??;
    let kind = check_logo(content_type, &bytes)?;
    let sha256 = {
        use sha2::Digest as _;
        sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let logo = Logo { sha256: sha256.clone(), content_type: kind.to_string(), bytes: bytes.to_vec() };
    let detail = json!({"logo": {"sha256": sha256, "content_type": kind, "bytes": logo.bytes.len()}});
    let edit = BrandingEdit { logo: Some(LogoEdit::Upload(logo)), ..BrandingEdit::default() };
    change_branding(&state, &principal, &req, &edit, "tenant.logo_changed", |_| detail).await
}

/// `DELETE /v1/tenant/logo` (admin).
pub async fn delete_logo(
    principal: Principal,
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let edit = BrandingEdit { logo: Some(LogoEdit::Clear), ..BrandingEdit::default() };
    change_branding(&state, &principal, &req, &edit, "tenant.logo_changed", |_| json!({"logo": null})).await
}

/// `GET /v1/logos/{sha256}` (no authentication).
pub async fn logo(state: web::Data<AppState>, hash: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let hash = hash.into_inner();
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(ApiError::NotFound);
    }
    let logo = state.store.logo_by_hash(&hash).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(logo.content_type)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"))
        .body(logo.bytes))
}

/// Changes the tenant's branding (from what is stored, with its logo, in
/// one transaction), tells the nodes and the audit log when it changed,
/// and answers with the tenant.
async fn change_branding(
    state: &AppState,
    principal: &Principal,
    req: &actix_web::HttpRequest,
    edit: &BrandingEdit,
    action: &str,
    detail: impl FnOnce(&Branding) -> serde_json::Value,
) -> Result<HttpResponse, ApiError> {
    let id = principal.tenant_id();
    let (before, after) = state.store.change_branding(id, edit, Utc::now()).await?.ok_or(ApiError::NotFound)?;
    let mut tenant = principal.tenant.clone();
    tenant.branding = after.clone();
    if before == after && !matches!(edit.logo, Some(LogoEdit::Upload(_))) {
        // Nothing changed: nothing to tell.
        return Ok(HttpResponse::Ok().json(tenant_json(state, &tenant)));
    }
    state.auth.invalidate_tenant(id);
    state.tell_nodes(Control::TenantChanged { tenant_id: id }).await;
    let target = crate::audit::target("tenant", id);
    let detail = detail(&after);
    crate::audit::record(state, id, crate::audit::actor(principal), action, target, crate::audit::address(req), detail)
        .await;
    Ok(HttpResponse::Ok().json(tenant_json(state, &tenant)))
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
