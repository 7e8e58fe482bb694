//! Single sign-on routes (`docs/accounts.md`): `/v1/auth/providers` says
//! how a tenant's people sign in; `/v1/auth/oidc/start` sends the browser
//! to the identity provider and `/v1/auth/oidc/callback` brings it back
//! signed in (or to the sign-in page with the reason).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::flows::{self, Client};
use crate::accounts::oidc::{self, PENDING_COOKIE, PENDING_TTL_S};
use crate::accounts::{cookie_value, normalize_email, session_cookie};
use crate::audit;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::TenantStatus;
use crate::store::accounts::UserStatus;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProvidersQuery {
    tenant: Option<String>,
}

/// `GET /v1/auth/providers?tenant=slug`: the ways this tenant's people sign in.
pub async fn providers(state: web::Data<AppState>, query: web::Query<ProvidersQuery>) -> HttpResponse {
    let oidc = match (&state.oidc, &query.tenant) {
        (Some(oidc), Some(slug)) => oidc.serves(slug.trim()),
        _ => false,
    };
    HttpResponse::Ok().json(json!({"password": true, "oidc": oidc}))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    tenant: String,
    login_hint: Option<String>,
}

fn pending_cookie(value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(v) => {
            format!("{PENDING_COOKIE}={v}; Path=/v1/auth/oidc; Max-Age={PENDING_TTL_S}; HttpOnly; SameSite=Lax{secure}")
        }
        None => format!("{PENDING_COOKIE}=; Path=/v1/auth/oidc; Max-Age=0; HttpOnly; SameSite=Lax{secure}"),
    }
}

/// The callback's address: under `accounts.public_url` (required with an
/// issuer), never built from a request's headers.
fn callback_url(state: &AppState) -> String {
    format!("{}/v1/auth/oidc/callback", state.settings.accounts.public_url.trim_end_matches('/'))
}

/// `GET /v1/auth/oidc/start?tenant=slug&login_hint=`: 302 to the provider.
pub async fn start(state: web::Data<AppState>, query: web::Query<StartQuery>) -> Result<HttpResponse, ApiError> {
    let oidc = state.oidc.clone().ok_or_else(|| ApiError::NotFound)?;
    let slug = query.tenant.trim();
    let tenant = state
        .store
        .get_tenant_by_slug(slug)
        .await?
        .filter(|t| t.status == TenantStatus::Active && oidc.serves(slug))
        .ok_or_else(|| ApiError::field("tenant", "this organisation does not sign in with single sign-on"))?;
    let hint = query.login_hint.as_deref().and_then(|h| normalize_email(h).ok());
    let (url, pending) = oidc
        .start(tenant.id.0, &callback_url(&state), hint.as_deref())
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let sealed = oidc::seal(&pending, |data| state.auth.seal("oidc", data));
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, url))
        .insert_header((header::SET_COOKIE, pending_cookie(Some(&sealed), state.settings.accounts.secure_cookies)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Back to the page: signed in, or at sign-in with why not.
fn back(state: &AppState, error: Option<&str>, session: Option<String>) -> HttpResponse {
    let secure = state.settings.accounts.secure_cookies;
    let location = match error {
        Some(code) => format!("/#/sign-in?sso_error={code}"),
        None => "/#/".to_string(),
    };
    let mut response = HttpResponse::Found();
    response
        .insert_header((header::LOCATION, location))
        .append_header((header::SET_COOKIE, pending_cookie(None, secure)))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cookie) = session {
        let max_age = state.settings.accounts.session_ttl_s;
        response.append_header((header::SET_COOKIE, session_cookie(Some(&cookie), max_age, secure)));
    }
    response.finish()
}

/// `GET /v1/auth/oidc/callback?code=&state=`.
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let oidc = state.oidc.clone().ok_or_else(|| ApiError::NotFound)?;
    let client = Client::of(&req);
    if query.error.is_some() {
        return Ok(back(&state, Some("cancelled"), None));
    }
    let raw = req
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|h| h.to_str().ok())
        .find_map(|h| cookie_value(h, PENDING_COOKIE).map(str::to_string));
    let now = chrono::Utc::now().timestamp();
    let pending = raw.and_then(|raw| oidc::open(&raw, |data, tag| state.auth.unseal("oidc", data, tag), now));
    // The state must be the one this browser started with: no planted sign-ins.
    let (Some(pending), Some(code)) = (pending.filter(|p| Some(&p.s) == query.state.as_ref()), &query.code) else {
        return Ok(back(&state, Some("expired"), None));
    };
    let identity = match oidc.finish(&pending, code).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(%error, "a single sign-on could not be finished");
            return Ok(back(&state, Some("provider"), None));
        }
    };
    let tenant_id = askpanel_actors::domain::TenantId(pending.t);
    let Some(tenant) = state.store.get_tenant(tenant_id).await?.filter(|t| t.status == TenantStatus::Active) else {
        return Ok(back(&state, Some("expired"), None));
    };
    let mut user = state.store.find_user_by_subject(tenant.id, &identity.subject).await?;
    if user.is_none()
        && let Some(email) = identity.verified_email.as_deref().and_then(|e| normalize_email(e).ok())
    {
        user = state.store.find_user_by_email(tenant.id, &email).await?.filter(|u| u.sso_subject.is_none());
    }
    let Some(user) = user.filter(|u| u.status != UserStatus::Removed) else {
        let detail = json!({"method": "oidc", "reason": "no_account", "email": identity.verified_email});
        flows::record(&state, tenant.id, audit::anonymous(), "auth.sign_in_failed", None, &client, detail).await;
        return Ok(back(&state, Some("no_account"), None));
    };
    let bound = user.sso_subject.is_none();
    if bound {
        state.store.set_sso_subject(tenant.id, user.id, &identity.subject).await?;
    }
    if user.status == UserStatus::Invited {
        let detail = json!({"method": "oidc"});
        flows::record(&state, tenant.id, audit::user(user.id), "user.joined", Some(user.id), &client, detail).await;
    }
    state.store.signin_succeeded(tenant.id, user.id, chrono::Utc::now()).await?;
    let user = state.store.get_user(tenant.id, user.id).await?.ok_or(ApiError::NotFound)?;
    let signed = flows::start_session(&state, tenant, user, &client).await?;
    let detail = json!({"method": "oidc", "session": signed.session.id, "identity_bound": bound});
    flows::record(
        &state,
        signed.tenant.id,
        audit::user(signed.user.id),
        "auth.signed_in",
        Some(signed.user.id),
        &client,
        detail,
    )
    .await;
    Ok(back(&state, None, Some(signed.cookie)))
}
