//! `/v1/auth/*`: people sign in and out, ask for a password reset, and use
//! one-time links (invitations, resets). See `docs/accounts.md`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{JsonBody, OptionalJsonBody};
use crate::accounts::flows::{self, Client, Signed};
use crate::accounts::session_cookie;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::accounts::{TokenKind, UserRecord};
use crate::validation::Body;

/// The user as the API shows it.
pub fn user_json(user: &UserRecord) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "status": user.status,
        "sso": user.sso_subject.is_some(),
        "locked_until": user.locked_until,
        "created_at": user.created_at,
        "last_sign_in_at": user.last_sign_in_at,
    })
}

fn tenant_brief(tenant: &crate::store::TenantRecord) -> Value {
    json!({"id": tenant.id, "slug": tenant.slug, "name": tenant.name})
}

/// A new session's answer: who is signed in, the CSRF token, and the cookie.
fn signed_response(state: &AppState, signed: &Signed) -> HttpResponse {
    let max_age = (signed.session.expires_at - signed.session.created_at).num_seconds().max(0) as u64;
    HttpResponse::Ok()
        .insert_header((
            header::SET_COOKIE,
            session_cookie(Some(&signed.cookie), max_age, state.settings.accounts.secure_cookies),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "user": user_json(&signed.user),
            "tenant": tenant_brief(&signed.tenant),
            "csrf_token": signed.csrf_token,
            "expires_at": signed.session.expires_at,
        }))
}

fn text_field(body: &mut Body, name: &'static str, max: usize) -> Option<String> {
    let value: Option<String> = body.required(name);
    if value.as_ref().is_some_and(|v| v.is_empty() || v.chars().count() > max) {
        body.invalid(name, format!("must be 1 to {max} characters"));
    }
    value
}

/// `POST /v1/auth/sign-in` `{tenant, email, password}`.
pub async fn sign_in(state: web::Data<AppState>, req: HttpRequest, body: JsonBody) -> Result<HttpResponse, ApiError> {
    let mut body = Body::new(body.into_inner())?;
    let tenant = text_field(&mut body, "tenant", 100);
    let email = text_field(&mut body, "email", crate::accounts::EMAIL_MAX);
    let password = text_field(&mut body, "password", crate::accounts::PASSWORD_MAX);
    body.finish()?;
    let (Some(tenant), Some(email), Some(password)) = (tenant, email, password) else {
        unreachable!("required fields were checked")
    };
    let signed = flows::sign_in(&state, &Client::of(&req), &tenant, &email, &password).await?;
    Ok(signed_response(&state, &signed))
}

/// `GET /v1/auth/session`: the signed-in person, and the CSRF token the page sends back.
pub async fn session(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (Some(user), Some(session)) = (principal.user_id(), principal.session_id()) else {
        return Err(ApiError::Unauthorized("not signed in (an API key has no session)".into()));
    };
    let (session, user) = state
        .store
        .find_session(principal.tenant_id(), session, None, chrono::Utc::now())
        .await?
        .filter(|(_, u)| u.id == user)
        .ok_or_else(|| ApiError::Unauthorized("this session has ended; sign in again".into()))?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(json!({
        "user": user_json(&user),
        "tenant": tenant_brief(&principal.tenant),
        "csrf_token": state.auth.csrf_token(session.id),
        "expires_at": session.expires_at,
    })))
}

/// `POST /v1/auth/sign-out` `{everywhere?}`: ends this session (or all of the person's).
pub async fn sign_out(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: OptionalJsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut everywhere = false;
    if let Some(value) = body.0 {
        let mut body = Body::new(value)?;
        everywhere = body.optional("everywhere").unwrap_or(false);
        body.finish()?;
    }
    let (Some(user), Some(session)) = (principal.user_id(), principal.session_id()) else {
        return Err(ApiError::BadRequest("an API key does not sign out; revoke it instead".into()));
    };
    let ended = flows::end_sessions(&state, principal.tenant_id(), user, (!everywhere).then_some(session)).await;
    let action = if everywhere { "auth.signed_out_everywhere" } else { "auth.signed_out" };
    flows::record(
        &state,
        principal.tenant_id(),
        crate::audit::actor(&principal),
        action,
        Some(user),
        &Client::of(&req),
        json!({"sessions_ended": ended}),
    )
    .await;
    Ok(HttpResponse::NoContent()
        .insert_header((header::SET_COOKIE, session_cookie(None, 0, state.settings.accounts.secure_cookies)))
        .finish())
}

/// `POST /v1/auth/password-reset` `{tenant, email}`: always 202.
pub async fn request_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut body = Body::new(body.into_inner())?;
    let tenant = text_field(&mut body, "tenant", 100);
    let email = text_field(&mut body, "email", crate::accounts::EMAIL_MAX);
    body.finish()?;
    let (Some(tenant), Some(email)) = (tenant, email) else { unreachable!("required fields were checked") };
    flows::request_reset(&state, &Client::of(&req), &tenant, &email).await?;
    Ok(HttpResponse::Accepted().json(json!({
        "status": "accepted",
        "message": "if the address has an account there, a link to choose a new password is on its way",
    })))
}

fn token_field(body: &mut Body) -> Option<String> {
    text_field(body, "token", 200)
}

/// `POST /v1/auth/links/inspect` `{token}`: what a one-time link is for, without using it.
pub async fn inspect_link(state: web::Data<AppState>, body: JsonBody) -> Result<HttpResponse, ApiError> {
    let mut body = Body::new(body.into_inner())?;
    let token = token_field(&mut body);
    body.finish()?;
    let (tenant, user, token) = flows::inspect(&state, &token.unwrap_or_default()).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(json!({
        "kind": token.kind,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "tenant": tenant_brief(&tenant),
        "expires_at": token.expires_at,
    })))
}

/// `POST /v1/auth/links/redeem` `{token, password, name?}`: sets the
/// password; an invitation signs the person in (200 with the session),
/// a reset answers 204 and signs them out everywhere.
pub async fn redeem_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut body = Body::new(body.into_inner())?;
    let token = token_field(&mut body);
    let password: Option<String> = body.required("password");
    let name: Option<String> = body.optional("name");
    if name.as_ref().is_some_and(|n| n.chars().count() > crate::accounts::NAME_MAX) {
        body.invalid("name", format!("must be at most {} characters", crate::accounts::NAME_MAX));
    }
    body.finish()?;
    let (Some(token), Some(password)) = (token, password) else { unreachable!("required fields were checked") };
    match flows::redeem(&state, &Client::of(&req), &token, &password, name.as_deref()).await? {
        (TokenKind::Invitation, Some(signed)) => Ok(signed_response(&state, &signed)),
        _ => Ok(HttpResponse::NoContent().finish()),
    }
}
