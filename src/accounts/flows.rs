//! The account flows the routes run: password sign-in (with the per-address
//! limit and the per-account lockout), sessions, invitations, password
//! resets and their one-time links. Each security-relevant step is written
//! to the audit trail.

use std::net::IpAddr;

use askpanel_actors::domain::{TenantId, UserId};
use chrono::Utc;
use serde_json::json;

use super::{Opaque, check_password, lockout, normalize_email, page_link};
use crate::audit;
use crate::error::ApiError;
use crate::mail::Mail;
use crate::state::AppState;
use crate::store::accounts::{SessionId, SessionRecord, TokenKind, TokenRecord, UserRecord, UserStatus};
use crate::store::audit::AuditActor;
use crate::store::{Role, TenantRecord, TenantStatus};

/// Where a request came from.
#[derive(Clone, Debug, Default)]
pub struct Client {
    pub address: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl Client {
    pub fn of(req: &actix_web::HttpRequest) -> Self {
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .map(|ua| ua.chars().take(200).collect());
        Self { address: req.peer_addr().map(|a| a.ip()), user_agent }
    }

    fn address_text(&self) -> Option<String> {
        self.address.map(|a| a.to_string())
    }
}

/// A new session: the cookie's value (shown once) and its CSRF token.
#[derive(Clone, Debug)]
pub struct Signed {
    pub tenant: TenantRecord,
    pub user: UserRecord,
    pub session: SessionRecord,
    pub cookie: String,
    pub csrf_token: String,
}

/// A new one-time link.
#[derive(Clone, Debug)]
pub struct Link {
    pub user: UserRecord,
    pub token: TokenRecord,
    pub url: String,
    /// Whether it went out by email (else the caller shows it).
    pub emailed: bool,
}

const WRONG: &str = "wrong email or password";

/// Refuses an address that failed too often this minute.
fn address_check(state: &AppState, client: &Client) -> Result<(), ApiError> {
    match client.address {
        Some(address) => state
            .signin_failures
            .check(address, state.settings.accounts.failures_per_address_per_minute)
            .map_err(|retry_after| ApiError::RateLimited { retry_after }),
        None => Ok(()),
    }
}

fn address_failed(state: &AppState, client: &Client) {
    if let Some(address) = client.address {
        state.signin_failures.failed(address);
    }
}

/// An active tenant by slug, or `None` (unknown and suspended alike).
async fn active_tenant(state: &AppState, slug: &str) -> Result<Option<TenantRecord>, ApiError> {
    let slug = slug.trim();
    if slug.is_empty() || slug.len() > 100 {
        return Ok(None);
    }
    Ok(state.store.get_tenant_by_slug(slug).await?.filter(|t| t.status == TenantStatus::Active))
}

/// Password sign-in to a tenant (by slug).
pub async fn sign_in(
    state: &AppState,
    client: &Client,
    tenant: &str,
    email: &str,
    password: &str,
) -> Result<Signed, ApiError> {
    address_check(state, client)?;
    let tenant = active_tenant(state, tenant).await?;
    let email = normalize_email(email).ok();
    let user = match (&tenant, &email) {
        (Some(t), Some(e)) => state.store.find_user_by_email(t.id, e).await?,
        _ => None,
    };
    let (Some(tenant), Some(user)) = (tenant, user.filter(|u| u.status == UserStatus::Active)) else {
        // The same work as a real check, so the time taken says nothing.
        state.passwords.verify(password, None).await?;
        address_failed(state, client);
        return Err(ApiError::Unauthorized(WRONG.into()));
    };
    if !check_password_of(state, &tenant, &user, password, client, "wrong_password").await? {
        return Err(ApiError::Unauthorized(WRONG.into()));
    }
    let signed = start_session(state, tenant, user, client).await?;
    let detail = json!({"method": "password", "session": signed.session.id});
    record(
        state,
        signed.tenant.id,
        audit::user(signed.user.id),
        "auth.signed_in",
        Some(signed.user.id),
        client,
        detail,
    )
    .await;
    Ok(signed)
}

/// How long an attempt holds its account (attempts on one account never run side by side).
const ATTEMPT_HOLD_S: i64 = 10;

/// Checks a person's password as one attempt on their account: refused
/// with 429 while the account is locked (or another attempt is running),
/// counted, and locked with backoff after too many failures; a failure
/// counts against the address too and is recorded with `reason`.
pub async fn check_password_of(
    state: &AppState,
    tenant: &TenantRecord,
    user: &UserRecord,
    password: &str,
    client: &Client,
    reason: &str,
) -> Result<bool, ApiError> {
    let now = Utc::now();
    let hold = now + chrono::Duration::seconds(ATTEMPT_HOLD_S);
    let Some(failures) = state.store.claim_signin(tenant.id, user.id, now, hold).await? else {
        address_failed(state, client);
        let current = state.store.get_user(tenant.id, user.id).await?;
        let until = current.and_then(|u| u.locked_until).filter(|until| *until > now).unwrap_or(hold);
        let detail = json!({"reason": "locked", "locked_until": until});
        record(state, tenant.id, audit::user(user.id), "auth.sign_in_failed", Some(user.id), client, detail).await;
        return Err(ApiError::RateLimited { retry_after: (until - now).num_seconds().max(1) as u64 });
    };
    let verified = state.passwords.verify(password, user.password_hash.as_deref()).await;
    let verified = match verified {
        Ok(verified) => verified,
        Err(busy) => {
            // Not an attempt after all: the hold is lifted and the count kept as it was.
            state.store.lock_user(tenant.id, user.id, None).await?;
            return Err(busy.into());
        }
    };
    if verified {
        state.store.signin_succeeded(tenant.id, user.id, now).await?;
        return Ok(true);
    }
    address_failed(state, client);
    let locked = lockout(failures, &state.settings.accounts).map(|d| now + d);
    state.store.lock_user(tenant.id, user.id, locked).await?;
    let detail = json!({"reason": reason, "failures": failures, "locked_until": locked});
    record(state, tenant.id, audit::user(user.id), "auth.sign_in_failed", Some(user.id), client, detail).await;
    Ok(false)
}

/// Opens a session for a user who has proven who they are.
pub async fn start_session(
    state: &AppState,
    tenant: TenantRecord,
    user: UserRecord,
    client: &Client,
) -> Result<Signed, ApiError> {
    let now = Utc::now();
    let id = SessionId(uuid::Uuid::now_v7());
    let opaque = Opaque::new(tenant.id, id.0);
    let ttl = chrono::Duration::seconds(state.settings.accounts.session_ttl_s.clamp(60, 31_536_000) as i64);
    let session = SessionRecord {
        id,
        tenant_id: tenant.id,
        user_id: user.id,
        created_at: now,
        expires_at: now + ttl,
        address: client.address_text(),
        user_agent: client.user_agent.clone(),
        revoked_at: None,
    };
    state.store.create_session(&session, &opaque.hash()).await?;
    let csrf_token = state.auth.csrf_token(id);
    Ok(Signed { tenant, user, session, cookie: opaque.to_string(), csrf_token })
}

/// Ends one session (`Some`) or all of a user's, on every node.
pub async fn end_sessions(state: &AppState, tenant: TenantId, user: UserId, session: Option<SessionId>) -> u64 {
    let ended = match session {
        Some(id) => state.store.revoke_session(tenant, user, id).await.map(u64::from),
        None => state.store.revoke_user_sessions(tenant, user, None).await,
    };
    let ended = ended.unwrap_or_else(|error| {
        tracing::error!(%tenant, %user, %error, "sessions could not be ended");
        0
    });
    state.tenants.sessions_ended(user, session);
    state.tell_nodes(crate::cluster::Control::SessionsEnded { user_id: user, session_id: session.map(|s| s.0) }).await;
    ended
}

/// Whom to invite.
#[derive(Clone, Debug)]
pub struct Invitation {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
}

/// Invites someone by email (or invites again: a new link, the old one void).
pub async fn invite(
    state: &AppState,
    by: AuditActor,
    tenant: &TenantRecord,
    invitation: &Invitation,
    client: &Client,
    base: &str,
) -> Result<Link, ApiError> {
    let role = invitation.role;
    let email = normalize_email(&invitation.email).map_err(|why| ApiError::field("email", why))?;
    let name = invitation
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(""));
    let name: String = name.chars().take(super::NAME_MAX).collect();
    let user = match state.store.find_user_by_email(tenant.id, &email).await? {
        Some(existing) if existing.status == UserStatus::Active => {
            return Err(ApiError::Conflict(format!("{email} is already a member")));
        }
        Some(existing) => {
            state.store.reinvite_user(tenant.id, existing.id, &name, role).await?;
            state.store.get_user(tenant.id, existing.id).await?.ok_or(ApiError::NotFound)?
        }
        None => {
            let user = UserRecord {
                id: UserId::new(),
                tenant_id: tenant.id,
                email: email.clone(),
                name,
                role,
                status: UserStatus::Invited,
                password_hash: None,
                sso_subject: None,
                failed_signins: 0,
                locked_until: None,
                created_at: Utc::now(),
                last_sign_in_at: None,
            };
            state.store.create_user(&user).await?;
            user
        }
    };
    let ttl = state.settings.accounts.invitation_ttl_s;
    let link = issue_link(state, tenant, user, TokenKind::Invitation, ttl, base).await?;
    let detail = json!({"email": link.user.email, "role": link.user.role, "emailed": link.emailed});
    record(state, tenant.id, by, "user.invited", Some(link.user.id), client, detail).await;
    Ok(link)
}

/// Adds an active account with a password (the platform admin's way to
/// give a tenant its first admin).
pub async fn add_user(
    state: &AppState,
    by: AuditActor,
    tenant: &TenantRecord,
    invitation: &Invitation,
    password: &str,
    client: &Client,
) -> Result<UserRecord, ApiError> {
    let email = normalize_email(&invitation.email).map_err(|why| ApiError::field("email", why))?;
    check_password(password, &email).map_err(|why| ApiError::field("password", why))?;
    if state.store.find_user_by_email(tenant.id, &email).await?.is_some() {
        return Err(ApiError::Conflict(format!("{email} already has an account (or an invitation) here")));
    }
    let name = invitation.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let user = UserRecord {
        id: UserId::new(),
        tenant_id: tenant.id,
        name: name.unwrap_or_else(|| email.split('@').next().unwrap_or("")).chars().take(super::NAME_MAX).collect(),
        email,
        role: invitation.role,
        status: UserStatus::Active,
        password_hash: Some(state.passwords.hash(password).await?),
        sso_subject: None,
        failed_signins: 0,
        locked_until: None,
        created_at: Utc::now(),
        last_sign_in_at: None,
    };
    state.store.create_user(&user).await?;
    let detail = json!({"email": user.email, "role": user.role});
    record(state, tenant.id, by, "user.created", Some(user.id), client, detail).await;
    Ok(user)
}

/// A new one-time link for a user, emailed when mail is configured.
pub async fn issue_link(
    state: &AppState,
    tenant: &TenantRecord,
    user: UserRecord,
    kind: TokenKind,
    ttl_s: u64,
    base: &str,
) -> Result<Link, ApiError> {
    issue_link_mailed(state, tenant, user, kind, ttl_s, base, true).await
}

/// [`issue_link`], the mail waited for (the answer says whether it went)
/// or sent in the background (`wait` false: the answer takes no longer
/// whether or not there is anyone to mail).
async fn issue_link_mailed(
    state: &AppState,
    tenant: &TenantRecord,
    user: UserRecord,
    kind: TokenKind,
    ttl_s: u64,
    base: &str,
    wait: bool,
) -> Result<Link, ApiError> {
    let now = Utc::now();
    let token = TokenRecord {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant.id,
        user_id: user.id,
        kind,
        created_at: now,
        expires_at: now + chrono::Duration::seconds(ttl_s.clamp(60, 31_536_000) as i64),
        used_at: None,
    };
    let opaque = Opaque::new(tenant.id, token.id);
    state.store.create_token(&token, &opaque.hash()).await?;
    let (route, subject, text) = match kind {
        TokenKind::Invitation => (
            "invitation",
            format!("You are invited to {} on askpanel", tenant.name),
            "accept the invitation and choose a password",
        ),
        TokenKind::Reset => {
            ("reset", format!("Reset your askpanel password for {}", tenant.name), "choose a new password")
        }
    };
    let url = page_link(base, route, &opaque);
    let mut emailed = false;
    if state.mailer.enabled() {
        let body = format!(
            "Hello {},\n\nOpen this link to {text}:\n\n{url}\n\nIt works once and until {} (UTC).\nIf you did not expect this message, ignore it.\n",
            user.name,
            token.expires_at.format("%Y-%m-%d %H:%M")
        );
        let mail = Mail { to: user.email.clone(), subject, text: body };
        if wait {
            match state.mailer.send(&mail).await {
                Ok(()) => emailed = true,
                Err(error) => tracing::warn!(tenant_id = %tenant.id, %error, "a one-time link could not be emailed"),
            }
        } else {
            state.mailer.send_later(mail);
            emailed = true;
        }
    }
    Ok(Link { user, token, url, emailed })
}

/// Someone forgot their password: a reset link goes to the address if it
/// has an active account. The answer is the same either way.
pub async fn request_reset(state: &AppState, client: &Client, tenant: &str, email: &str) -> Result<(), ApiError> {
    // Every request counts against the address (apart from sign-in failures):
    // the limit bounds the mail it can cause.
    if let Some(address) = client.address {
        let per_minute = state.settings.accounts.failures_per_address_per_minute;
        state.reset_requests.check(address, per_minute).map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        state.reset_requests.failed(address);
    }
    let (Some(tenant), Ok(email)) = (active_tenant(state, tenant).await?, normalize_email(email)) else {
        return Ok(());
    };
    let Some(user) =
        state.store.find_user_by_email(tenant.id, &email).await?.filter(|u| u.status == UserStatus::Active)
    else {
        return Ok(());
    };
    if !state.mailer.enabled() {
        tracing::info!(tenant_id = %tenant.id, "a password reset was asked for, but no mail server is configured");
        return Ok(());
    }
    let user_id = user.id;
    let base = state.settings.accounts.public_url.clone();
    let ttl = state.settings.accounts.reset_ttl_s;
    // Mailed in the background: how long the answer takes says nothing of the address.
    let link = issue_link_mailed(state, &tenant, user, TokenKind::Reset, ttl, &base, false).await?;
    let detail = json!({"emailed": link.emailed});
    record(state, tenant.id, audit::user(user_id), "auth.password_reset_requested", Some(user_id), client, detail)
        .await;
    Ok(())
}

/// What a one-time link is, for the page to show before it is used.
pub async fn inspect(state: &AppState, raw: &str) -> Result<(TenantRecord, UserRecord, TokenRecord), ApiError> {
    let gone = || ApiError::NotFound;
    let opaque = Opaque::parse(raw).ok_or_else(gone)?;
    let token = state.store.find_token(opaque.tenant, opaque.id, &opaque.hash(), Utc::now()).await?.ok_or_else(gone)?;
    let tenant = state.store.get_tenant(opaque.tenant).await?.filter(|t| t.status == TenantStatus::Active);
    let user = state.store.get_user(opaque.tenant, token.user_id).await?.filter(|u| u.status != UserStatus::Removed);
    match (tenant, user) {
        (Some(tenant), Some(user)) => Ok((tenant, user, token)),
        _ => Err(gone()),
    }
}

/// Uses a one-time link: sets the password; an invitation also signs the
/// person in, a reset signs them out everywhere.
pub async fn redeem(
    state: &AppState,
    client: &Client,
    raw: &str,
    password: &str,
    name: Option<&str>,
) -> Result<(TokenKind, Option<Signed>), ApiError> {
    address_check(state, client)?;
    let (tenant, user, _) = match inspect(state, raw).await {
        Ok(found) => found,
        Err(error) => {
            address_failed(state, client);
            return Err(error);
        }
    };
    check_password(password, &user.email).map_err(|why| ApiError::field("password", why))?;
    let hash = state.passwords.hash(password).await?;
    let opaque = Opaque::parse(raw).ok_or(ApiError::NotFound)?;
    // The token is used up here, once: a second use (or a race) finds nothing.
    let redeemed = state
        .store
        .redeem_token(tenant.id, opaque.id, &opaque.hash(), &hash, Utc::now())
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut user = redeemed.user;
    if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
        let patch = crate::store::accounts::UserPatch {
            name: Some(name.chars().take(super::NAME_MAX).collect()),
            ..Default::default()
        };
        user = state.store.update_user(tenant.id, user.id, &patch).await?.unwrap_or(user);
    }
    match redeemed.token.kind {
        TokenKind::Invitation => {
            record(state, tenant.id, audit::user(user.id), "user.joined", Some(user.id), client, json!({})).await;
            state.store.signin_succeeded(tenant.id, user.id, Utc::now()).await?;
            let signed = start_session(state, tenant, user, client).await?;
            Ok((TokenKind::Invitation, Some(signed)))
        }
        TokenKind::Reset => {
            state.tenants.sessions_ended(user.id, None);
            state.tell_nodes(crate::cluster::Control::SessionsEnded { user_id: user.id, session_id: None }).await;
            let detail = json!({"sessions_ended": redeemed.sessions_revoked});
            record(state, tenant.id, audit::user(user.id), "auth.password_reset", Some(user.id), client, detail).await;
            Ok((TokenKind::Reset, None))
        }
    }
}

/// Appends to the audit trail with the user as the target.
pub async fn record(
    state: &AppState,
    tenant: TenantId,
    actor: AuditActor,
    action: &str,
    target: Option<UserId>,
    client: &Client,
    detail: serde_json::Value,
) {
    let target = target.and_then(|id| audit::target("user", id));
    audit::record(state, tenant, actor, action, target, client.address_text(), detail).await;
}
