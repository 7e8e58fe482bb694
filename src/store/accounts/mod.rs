//! People's storage (`docs/accounts.md`): users, their sign-in sessions and
//! the one-time tokens of invitations and password resets. Every statement
//! names the tenant. The statements are the same on both backends, so the
//! implementation is written once ([`user_store!`], [`session_store!`]) and each backend
//! supplies its transactions (PostgreSQL's are scoped to the tenant for
//! row-level security; SQLite's writes take the write lock at once).

use askpanel_actors::domain::{TenantId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Role, StoreError, StoreResult};

/// Where an account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited; no password set yet.
    Invited,
    Active,
    /// Removed by an admin: cannot sign in; kept for the record.
    Removed,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Removed => "removed",
        }
    }
}

impl std::str::FromStr for UserStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "invited" => Ok(UserStatus::Invited),
            "active" => Ok(UserStatus::Active),
            "removed" => Ok(UserStatus::Removed),
            _ => Err(format!("unknown user status `{s}`")),
        }
    }
}

/// A person with an account in a tenant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserRecord {
    pub id: UserId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    /// Lower-cased.
    pub email: String,
    pub name: String,
    pub role: Role,
    pub status: UserStatus,
    /// The argon2id PHC string; `None` until a password is set.
    #[serde(skip)]
    pub password_hash: Option<String>,
    /// `issuer|subject` of a single sign-on identity bound to the account.
    #[serde(skip)]
    pub sso_subject: Option<String>,
    /// Consecutive failed password sign-ins.
    #[serde(skip)]
    pub failed_signins: u32,
    /// Sign-in is refused until then (lockout with backoff).
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// A sign-in session's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A signed-in browser (or client): the cookie carries its id and secret.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRecord {
    pub id: SessionId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a one-time token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Sets the first password of an invited user.
    Invitation,
    /// Sets a new password.
    Reset,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Invitation => "invitation",
            TokenKind::Reset => "reset",
        }
    }
}

impl std::str::FromStr for TokenKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "invitation" => Ok(TokenKind::Invitation),
            "reset" => Ok(TokenKind::Reset),
            _ => Err(format!("unknown token kind `{s}`")),
        }
    }
}

/// A one-time token (the link carries its id and secret).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenRecord {
    pub id: Uuid,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub kind: TokenKind,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub status: Option<UserStatus>,
}

/// What using a one-time token did.
#[derive(Clone, Debug, PartialEq)]
pub struct Redeemed {
    pub token: TokenRecord,
    pub user: UserRecord,
    /// Sessions of the user revoked with it (a reset signs out everywhere).
    pub sessions_revoked: u64,
}

pub const USER_COLUMNS: &str = "id, tenant_id, email, name, role, status, password_hash, sso_subject, \
     failed_signins, locked_until, created_at, last_sign_in_at";
pub const SESSION_COLUMNS: &str = "id, tenant_id, user_id, created_at, expires_at, address, user_agent, revoked_at";
pub const TOKEN_COLUMNS: &str = "id, tenant_id, user_id, kind, created_at, expires_at, used_at";

pub const INSERT_USER: &str = "INSERT INTO users (id, tenant_id, email, name, role, status, password_hash, \
     sso_subject, failed_signins, locked_until, created_at, last_sign_in_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, NULL, $9, NULL)";
pub const INSERT_SESSION: &str = "INSERT INTO user_sessions (id, tenant_id, user_id, token_hash, created_at, \
     expires_at, address, user_agent, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL)";
pub const INSERT_TOKEN: &str = "INSERT INTO user_tokens (id, tenant_id, user_id, kind, token_hash, created_at, \
     expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)";

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: Uuid,
    tenant_id: Uuid,
    email: String,
    name: String,
    role: String,
    status: String,
    password_hash: Option<String>,
    sso_subject: Option<String>,
    failed_signins: i32,
    locked_until: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    last_sign_in_at: Option<DateTime<Utc>>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;
    fn try_from(row: UserRow) -> StoreResult<Self> {
        Ok(UserRecord {
            id: UserId(row.id),
            tenant_id: TenantId(row.tenant_id),
            email: row.email,
            name: row.name,
            role: row.role.parse().map_err(StoreError::Corrupt)?,
            status: row.status.parse().map_err(StoreError::Corrupt)?,
            password_hash: row.password_hash,
            sso_subject: row.sso_subject,
            failed_signins: row.failed_signins.max(0) as u32,
            locked_until: row.locked_until,
            created_at: row.created_at,
            last_sign_in_at: row.last_sign_in_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    address: Option<String>,
    user_agent: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<SessionRow> for SessionRecord {
    fn from(row: SessionRow) -> Self {
        SessionRecord {
            id: SessionId(row.id),
            tenant_id: TenantId(row.tenant_id),
            user_id: UserId(row.user_id),
            created_at: row.created_at,
            expires_at: row.expires_at,
            address: row.address,
            user_agent: row.user_agent,
            revoked_at: row.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct TokenRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    kind: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;
    fn try_from(row: TokenRow) -> StoreResult<Self> {
        Ok(TokenRecord {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            user_id: UserId(row.user_id),
            kind: row.kind.parse().map_err(StoreError::Corrupt)?,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
        })
    }
}

pub fn users(rows: Vec<UserRow>) -> StoreResult<Vec<UserRecord>> {
    rows.into_iter().map(UserRecord::try_from).collect()
}

pub fn user(row: Option<UserRow>) -> StoreResult<Option<UserRecord>> {
    row.map(UserRecord::try_from).transpose()
}

mod sessions;
mod users;
pub(crate) use sessions::session_store;
pub(crate) use users::user_store;

#[async_trait]
/// Users: accounts, roles, passwords and sign-in failures.
pub trait UserStore: Send + Sync {
    /// Adds a user; a taken email (in the tenant) is a conflict.
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn get_user(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_email(&self, tenant: TenantId, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn find_user_by_subject(&self, tenant: TenantId, subject: &str) -> StoreResult<Option<UserRecord>>;
    /// The tenant's users, oldest first (removed ones included).
    async fn list_users(&self, tenant: TenantId) -> StoreResult<Vec<UserRecord>>;
    async fn update_user(&self, tenant: TenantId, id: UserId, patch: &UserPatch) -> StoreResult<Option<UserRecord>>;
    /// Re-invites a removed or invited user with a new name and role.
    async fn reinvite_user(&self, tenant: TenantId, id: UserId, name: &str, role: Role) -> StoreResult<()>;
    /// Sets (or clears) the password and makes an invited account active.
    async fn set_password(&self, tenant: TenantId, id: UserId, hash: &str) -> StoreResult<()>;
    /// Binds a single sign-on identity to the account (an invited one becomes
    /// active, and its invitation links stop working).
    async fn set_sso_subject(&self, tenant: TenantId, id: UserId, subject: &str) -> StoreResult<()>;
    /// Active admins of the tenant (the last one may not be demoted or removed).
    async fn count_active_admins(&self, tenant: TenantId) -> StoreResult<u64>;
    /// Claims a password attempt, atomically: unless the account is locked
    /// (or another attempt is in flight), counts it as a failure until it
    /// succeeds and holds the account until `hold_until` meanwhile, so that
    /// attempts on one account never run side by side. Returns the
    /// consecutive failures counting this attempt, or `None` when locked.
    async fn claim_signin(
        &self,
        tenant: TenantId,
        id: UserId,
        now: DateTime<Utc>,
        hold_until: DateTime<Utc>,
    ) -> StoreResult<Option<u32>>;
    /// Sets (or lifts, with `None`) the lock after a failed attempt.
    async fn lock_user(&self, tenant: TenantId, id: UserId, until: Option<DateTime<Utc>>) -> StoreResult<()>;
    /// A successful sign-in: failures reset, the lock lifted, the time kept.
    async fn signin_succeeded(&self, tenant: TenantId, id: UserId, at: DateTime<Utc>) -> StoreResult<()>;
}

#[async_trait]
/// Sign-in sessions and one-time tokens.
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &SessionRecord, token_hash: &str) -> StoreResult<()>;
    /// A live session with this id (and secret, when given), and its user (active).
    async fn find_session(
        &self,
        tenant: TenantId,
        id: SessionId,
        token_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(SessionRecord, UserRecord)>>;
    /// The user's live sessions, newest first.
    async fn list_sessions(
        &self,
        tenant: TenantId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionRecord>>;
    /// Ends one session of a user; `false` when it was not live.
    async fn revoke_session(&self, tenant: TenantId, user: UserId, id: SessionId) -> StoreResult<bool>;
    /// Ends every live session of a user but `keep`; returns how many.
    async fn revoke_user_sessions(&self, tenant: TenantId, user: UserId, keep: Option<SessionId>) -> StoreResult<u64>;

    /// Adds a one-time token; the user's earlier unused tokens of its kind stop working.
    async fn create_token(&self, token: &TokenRecord, token_hash: &str) -> StoreResult<()>;
    /// An unused, unexpired token with this id and secret.
    async fn find_token(
        &self,
        tenant: TenantId,
        id: Uuid,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<TokenRecord>>;
    /// Uses a token once, atomically: sets the password (an invited user
    /// becomes active, the lockout lifts) and, for a reset, ends the user's
    /// sessions. `None` when the token is unknown, used, expired, or its
    /// user was removed.
    async fn redeem_token(
        &self,
        tenant: TenantId,
        id: Uuid,
        token_hash: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Redeemed>>;
    /// Makes the user's unused tokens of a kind unusable; returns how many.
    async fn void_tokens(&self, tenant: TenantId, user: UserId, kind: TokenKind) -> StoreResult<u64>;
    /// Invited users and their newest invitation token.
    async fn pending_invitations(&self, tenant: TenantId) -> StoreResult<Vec<(UserRecord, Option<TokenRecord>)>>;
}

/// Ends a user's live sessions but one (`$3`, nil for none) at `$4`.
pub const REVOKE_USER_SESSIONS: &str = "UPDATE user_sessions SET revoked_at = $4 \
     WHERE tenant_id = $1 AND user_id = $2 AND id <> $3 AND revoked_at IS NULL";
/// Makes a user's unused tokens of a kind (`$3`) unusable at `$4`.
pub const VOID_TOKENS: &str = "UPDATE user_tokens SET used_at = $4 \
     WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 AND used_at IS NULL";
