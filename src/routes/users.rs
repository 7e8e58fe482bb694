//! People in a tenant: `/v1/users` and `/v1/invitations` (admins), `/v1/me`
//! (the caller), and `/v1/admin/tenants/{id}/users` (the platform admin
//! creates a tenant's first admin). See `docs/accounts.md`.

use actix_web::{HttpRequest, HttpResponse, web};
use askpanel_actors::domain::{TenantId, UserId};
use chrono::Utc;
use serde_json::{Value, json};

use super::auth::user_json;
use super::{JsonBody, path_id};
use crate::accounts::flows::{self, Client, Invitation, Link};
use crate::accounts::{check_password, normalize_email};
use crate::audit;
use crate::auth::Principal;
use crate::cluster::Control;
use crate::error::ApiError;
use crate::extract::PlatformAdmin;
use crate::state::AppState;
use crate::store::accounts::{TokenKind, UserPatch, UserRecord, UserStatus};
use crate::store::{Role, TenantRecord};
use crate::validation::Body;

/// Where the page is, for links shown to an admin: `accounts.public_url`,
/// else the address this request came to.
fn base_url(state: &AppState, req: &HttpRequest) -> String {
    if !state.settings.accounts.public_url.is_empty() {
        return state.settings.accounts.public_url.clone();
    }
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// A link as shown to whoever asked for it: the URL only when no email carried it.
fn link_json(link: &Link) -> Value {
    json!({
        "user": user_json(&link.user),
        "expires_at": link.token.expires_at,
        "emailed": link.emailed,
        "link": (!link.emailed).then_some(&link.url),
    })
}

fn parse_invitation(body: Value) -> Result<Invitation, ApiError> {
    let mut body = Body::new(body)?;
    let email: Option<String> = body.required("email");
    let role: Option<Role> = body.required("role");
    let name: Option<String> = body.optional("name");
    if email.as_deref().is_some_and(|e| normalize_email(e).is_err()) {
        body.invalid("email", "must be an email address (name@domain)");
    }
    if name.as_ref().is_some_and(|n| n.chars().count() > crate::accounts::NAME_MAX) {
        body.invalid("name", format!("must be at most {} characters", crate::accounts::NAME_MAX));
    }
    body.finish()?;
    let (Some(email), Some(role)) = (email, role) else { unreachable!("required fields were checked") };
    Ok(Invitation { email, name, role })
}

/// `POST /v1/invitations` `{email, role, name?}` (admin).
pub async fn invite(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let invitation = parse_invitation(body.into_inner())?;
    let base = base_url(&state, &req);
    let link =
        flows::invite(&state, audit::actor(&principal), &principal.tenant, &invitation, &Client::of(&req), &base)
            .await?;
    Ok(HttpResponse::Created().json(link_json(&link)))
}

/// `GET /v1/invitations` (admin): invited people who have not joined yet.
pub async fn list_invitations(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let now = Utc::now();
    let items: Vec<Value> = state
        .store
        .pending_invitations(principal.tenant_id())
        .await?
        .iter()
        .map(|(user, token)| {
            let expires_at = token.as_ref().map(|t| t.expires_at);
            json!({
                "user": user_json(user),
                "expires_at": expires_at,
                "expired": expires_at.is_none_or(|at| at <= now),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// `DELETE /v1/invitations/{user_id}` (admin): the link stops working.
pub async fn revoke_invitation(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let tenant = principal.tenant_id();
    let user = UserId(path_id(&id)?);
    let found = state.store.get_user(tenant, user).await?.filter(|u| u.status == UserStatus::Invited);
    let Some(found) = found else { return Err(ApiError::NotFound) };
    state.store.void_tokens(tenant, user, TokenKind::Invitation).await?;
    let patch = UserPatch { status: Some(UserStatus::Removed), ..UserPatch::default() };
    state.store.update_user(tenant, user, &patch).await?;
    let detail = json!({"email": found.email});
    flows::record(
        &state,
        tenant,
        audit::actor(&principal),
        "user.invitation_revoked",
        Some(user),
        &Client::of(&req),
        detail,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/users` (admin).
pub async fn list_users(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let users = state.store.list_users(principal.tenant_id()).await?;
    let items: Vec<Value> = users.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

async fn find_user(state: &AppState, tenant: TenantId, raw: &str) -> Result<UserRecord, ApiError> {
    let id = UserId(path_id(raw)?);
    state.store.get_user(tenant, id).await?.ok_or(ApiError::NotFound)
}

/// `GET /v1/users/{id}` (admin, or the person themselves).
pub async fn get_user(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = find_user(&state, principal.tenant_id(), &id).await?;
    if principal.user_id() != Some(user.id) {
        principal.require(Role::Admin)?;
    }
    Ok(HttpResponse::Ok().json(user_json(&user)))
}

/// Refuses a change that would leave the tenant with no active admin person.
async fn keep_an_admin(state: &AppState, user: &UserRecord, losing: bool) -> Result<(), ApiError> {
    if losing
        && user.role == Role::Admin
        && user.status == UserStatus::Active
        && state.store.count_active_admins(user.tenant_id).await? <= 1
    {
        return Err(ApiError::Conflict("the tenant's last admin cannot be demoted or removed".into()));
    }
    Ok(())
}

/// `PATCH /v1/users/{id}` `{name?, role?}` (admin).
pub async fn update_user(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let tenant = principal.tenant_id();
    let user = find_user(&state, tenant, &id).await?;
    let mut body = Body::new(body.into_inner())?;
    let name: Option<String> = body.optional("name");
    let role: Option<Role> = body.optional("role");
    if name.as_ref().is_some_and(|n| n.trim().is_empty() || n.chars().count() > crate::accounts::NAME_MAX) {
        body.invalid("name", format!("must be 1 to {} characters", crate::accounts::NAME_MAX));
    }
    body.finish()?;
    if user.status == UserStatus::Removed {
        return Err(ApiError::Conflict("this person was removed; invite them again".into()));
    }
    keep_an_admin(&state, &user, role.is_some_and(|r| r != Role::Admin)).await?;
    let patch = UserPatch { name: name.map(|n| n.trim().to_string()), role, status: None };
    let updated = state.store.update_user(tenant, user.id, &patch).await?.ok_or(ApiError::NotFound)?;
    if updated.role != user.role {
        let detail = json!({"from": user.role, "to": updated.role});
        let client = Client::of(&req);
        flows::record(&state, tenant, audit::actor(&principal), "user.role_changed", Some(user.id), &client, detail)
            .await;
        state.tenants.user_changed(user.id);
        state.tell_nodes(Control::UserChanged { user_id: user.id }).await;
    }
    Ok(HttpResponse::Ok().json(user_json(&updated)))
}

/// `DELETE /v1/users/{id}` (admin): the person can no longer sign in; their
/// sessions end at once and their open streams close.
pub async fn remove_user(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let tenant = principal.tenant_id();
    let user = find_user(&state, tenant, &id).await?;
    if user.status == UserStatus::Removed {
        return Err(ApiError::NotFound);
    }
    keep_an_admin(&state, &user, true).await?;
    let patch = UserPatch { status: Some(UserStatus::Removed), ..UserPatch::default() };
    state.store.update_user(tenant, user.id, &patch).await?;
    state.store.void_tokens(tenant, user.id, TokenKind::Invitation).await?;
    state.store.void_tokens(tenant, user.id, TokenKind::Reset).await?;
    let ended = flows::end_sessions(&state, tenant, user.id, None).await;
    let detail = json!({"email": user.email, "sessions_ended": ended});
    flows::record(&state, tenant, audit::actor(&principal), "user.removed", Some(user.id), &Client::of(&req), detail)
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/users/{id}/password-reset` (admin): a reset link for the person
/// (emailed, or shown here when no mail is configured).
pub async fn issue_reset(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Admin)?;
    let user = find_user(&state, principal.tenant_id(), &id).await?;
    if user.status != UserStatus::Active {
        return Err(ApiError::Conflict("only an active account's password can be reset".into()));
    }
    let ttl = state.settings.accounts.reset_ttl_s;
    let base = base_url(&state, &req);
    let link = flows::issue_link(&state, &principal.tenant, user, TokenKind::Reset, ttl, &base).await?;
    let detail = json!({"emailed": link.emailed});
    let client = Client::of(&req);
    flows::record(
        &state,
        principal.tenant_id(),
        audit::actor(&principal),
        "user.password_reset_issued",
        Some(link.user.id),
        &client,
        detail,
    )
    .await;
    Ok(HttpResponse::Created().json(link_json(&link)))
}

/// `GET /v1/me`: who the caller is (a key or a person).
pub async fn me(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let tenant = json!({"id": principal.tenant.id, "slug": principal.tenant.slug, "name": principal.tenant.name});
    let body = match principal.user_id() {
        Some(user) => {
            let user = state.store.get_user(principal.tenant_id(), user).await?.ok_or(ApiError::NotFound)?;
            json!({"kind": "user", "role": principal.role, "tenant": tenant, "user": user_json(&user)})
        }
        None => json!({"kind": "key", "role": principal.role, "tenant": tenant, "key_id": principal.key_id()}),
    };
    Ok(HttpResponse::Ok().json(body))
}

fn require_person(principal: &Principal) -> Result<UserId, ApiError> {
    principal.user_id().ok_or_else(|| ApiError::BadRequest("this is for a signed-in person, not an API key".into()))
}

/// `PATCH /v1/me` `{name}`.
pub async fn update_me(
    principal: Principal,
    state: web::Data<AppState>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let user = require_person(&principal)?;
    let mut body = Body::new(body.into_inner())?;
    let name: Option<String> = body.required("name");
    if name.as_ref().is_some_and(|n| n.trim().is_empty() || n.chars().count() > crate::accounts::NAME_MAX) {
        body.invalid("name", format!("must be 1 to {} characters", crate::accounts::NAME_MAX));
    }
    body.finish()?;
    let patch = UserPatch { name: name.map(|n| n.trim().to_string()), ..UserPatch::default() };
    let updated = state.store.update_user(principal.tenant_id(), user, &patch).await?.ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(user_json(&updated)))
}

/// `POST /v1/me/password` `{current_password, new_password}`: the person's
/// other sessions end.
pub async fn change_password(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let user_id = require_person(&principal)?;
    let mut body = Body::new(body.into_inner())?;
    let current: Option<String> = body.required("current_password");
    let new: Option<String> = body.required("new_password");
    body.finish()?;
    let (Some(current), Some(new)) = (current, new) else { unreachable!("required fields were checked") };
    let tenant = principal.tenant_id();
    let user = state.store.get_user(tenant, user_id).await?.ok_or(ApiError::NotFound)?;
    check_password(&new, &user.email).map_err(|why| ApiError::field("new_password", why))?;
    // The current password is guessed no more freely here than at sign-in.
    let client = Client::of(&req);
    if !flows::check_password_of(&state, &principal.tenant, &user, &current, &client, "wrong_current_password").await? {
        return Err(ApiError::field("current_password", "is not the current password"));
    }
    let hash = state.passwords.hash(&new).await?;
    state.store.set_password(tenant, user_id, &hash).await?;
    state.store.void_tokens(tenant, user_id, TokenKind::Reset).await?;
    // The person's other sessions end, and their sockets and streams close, on every node.
    let others = state.store.list_sessions(tenant, user_id, Utc::now()).await?;
    let mut ended = 0;
    for other in others.iter().filter(|s| Some(s.id) != principal.session_id()) {
        ended += flows::end_sessions(&state, tenant, user_id, Some(other.id)).await;
    }
    // Any beyond the listed ones end in the database too.
    ended += state.store.revoke_user_sessions(tenant, user_id, principal.session_id()).await?;
    let detail = json!({"other_sessions_ended": ended});
    flows::record(
        &state,
        tenant,
        audit::actor(&principal),
        "auth.password_changed",
        Some(user_id),
        &Client::of(&req),
        detail,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/me/sessions`: the person's live sessions (`current` marks this one).
pub async fn my_sessions(principal: Principal, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = require_person(&principal)?;
    let sessions = state.store.list_sessions(principal.tenant_id(), user, Utc::now()).await?;
    let items: Vec<Value> = sessions
        .iter()
        .map(|s| {
            let mut item = serde_json::to_value(s).unwrap_or_default();
            item["current"] = json!(Some(s.id) == principal.session_id());
            item
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({"items": items})))
}

/// `POST /v1/admin/tenants/{id}/users` `{email, role, name?, password?}`
/// (platform admin): a tenant's first admin (or anyone). With a password
/// the account is active at once; without, it is an invitation.
pub async fn platform_create_user(
    _: PlatformAdmin,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let tenant: TenantRecord = state.store.get_tenant(TenantId(path_id(&id)?)).await?.ok_or(ApiError::NotFound)?;
    let mut value = body.into_inner();
    let password = match value.as_object_mut().and_then(|o| o.remove("password")) {
        None => None,
        Some(Value::String(p)) => Some(p),
        Some(_) => return Err(ApiError::field("password", "must be a string")),
    };
    let invitation = parse_invitation(value)?;
    let client = Client::of(&req);
    let Some(password) = password else {
        let base = base_url(&state, &req);
        let link = flows::invite(&state, audit::platform(), &tenant, &invitation, &client, &base).await?;
        return Ok(HttpResponse::Created().json(link_json(&link)));
    };
    let user = flows::add_user(&state, audit::platform(), &tenant, &invitation, &password, &client).await?;
    Ok(HttpResponse::Created().json(json!({"user": user_json(&user), "emailed": false, "link": null})))
}
