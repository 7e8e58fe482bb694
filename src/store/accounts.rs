//! People's storage (`docs/accounts.md`): users, their sign-in sessions and
//! the one-time tokens of invitations and password resets. Every statement
//! names the tenant. The statements are the same on both backends, so the
//! implementation is written once ([`account_store!`]) and each backend
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

#[async_trait]
pub trait AccountStore: Send + Sync {
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
    /// Binds a single sign-on identity to the account.
    async fn set_sso_subject(&self, tenant: TenantId, id: UserId, subject: &str) -> StoreResult<()>;
    /// Active admins of the tenant (the last one may not be demoted or removed).
    async fn count_active_admins(&self, tenant: TenantId) -> StoreResult<u64>;
    /// Counts a failed password sign-in; returns the consecutive failures now.
    async fn signin_failed(&self, tenant: TenantId, id: UserId) -> StoreResult<u32>;
    async fn lock_user(&self, tenant: TenantId, id: UserId, until: DateTime<Utc>) -> StoreResult<()>;
    /// A successful sign-in: failures reset, the lock lifted, the time kept.
    async fn signin_succeeded(&self, tenant: TenantId, id: UserId, at: DateTime<Utc>) -> StoreResult<()>;

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

/// Writes [`AccountStore`] for a backend: `$read` and `$write` are methods
/// of the store giving a transaction for a tenant.
macro_rules! account_store {
    ($store:ty, $read:ident, $write:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::accounts::AccountStore for $store {
            async fn create_user(&self, user: &$crate::store::accounts::UserRecord) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(user.tenant_id).await?;
                sqlx::query($crate::store::accounts::INSERT_USER)
                    .bind(user.id.0)
                    .bind(user.tenant_id.0)
                    .bind(&user.email)
                    .bind(&user.name)
                    .bind(user.role.as_str())
                    .bind(user.status.as_str())
                    .bind(user.password_hash.as_deref())
                    .bind(user.sso_subject.as_deref())
                    .bind(user.created_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_user(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
            ) -> $crate::store::StoreResult<Option<$crate::store::accounts::UserRecord>> {
                let sql = format!(
                    "SELECT {} FROM users WHERE tenant_id = $1 AND id = $2",
                    $crate::store::accounts::USER_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let row = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::accounts::user(row)
            }

            async fn find_user_by_email(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                email: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::accounts::UserRecord>> {
                let sql = format!(
                    "SELECT {} FROM users WHERE tenant_id = $1 AND email = $2",
                    $crate::store::accounts::USER_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let row = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(email)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::accounts::user(row)
            }

            async fn find_user_by_subject(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                subject: &str,
            ) -> $crate::store::StoreResult<Option<$crate::store::accounts::UserRecord>> {
                let sql = format!(
                    "SELECT {} FROM users WHERE tenant_id = $1 AND sso_subject = $2",
                    $crate::store::accounts::USER_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let row = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(subject)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::accounts::user(row)
            }

            async fn list_users(
                &self,
                tenant: askpanel_actors::domain::TenantId,
            ) -> $crate::store::StoreResult<Vec<$crate::store::accounts::UserRecord>> {
                let sql = format!(
                    "SELECT {} FROM users WHERE tenant_id = $1 ORDER BY created_at, id",
                    $crate::store::accounts::USER_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let rows = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::accounts::users(rows)
            }

            async fn update_user(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                patch: &$crate::store::accounts::UserPatch,
            ) -> $crate::store::StoreResult<Option<$crate::store::accounts::UserRecord>> {
                let sql = format!(
                    "UPDATE users SET name = COALESCE($3, name), role = COALESCE($4, role), \
                     status = COALESCE($5, status) WHERE tenant_id = $1 AND id = $2 RETURNING {}",
                    $crate::store::accounts::USER_COLUMNS
                );
                let mut tx = self.$write(tenant).await?;
                let row = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id.0)
                    .bind(patch.name.as_deref())
                    .bind(patch.role.map(|r| r.as_str()))
                    .bind(patch.status.map(|s| s.as_str()))
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                $crate::store::accounts::user(row)
            }

            async fn reinvite_user(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                name: &str,
                role: $crate::store::Role,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query(
                    "UPDATE users SET name = $3, role = $4, status = 'invited', password_hash = NULL, \
                     sso_subject = NULL, failed_signins = 0, locked_until = NULL \
                     WHERE tenant_id = $1 AND id = $2 AND status <> 'active'",
                )
                .bind(tenant.0)
                .bind(id.0)
                .bind(name)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_password(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                hash: &str,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query(
                    "UPDATE users SET password_hash = $3, failed_signins = 0, locked_until = NULL, \
                     status = CASE status WHEN 'invited' THEN 'active' ELSE status END \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id.0)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_sso_subject(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                subject: &str,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query(
                    "UPDATE users SET sso_subject = $3, \
                     status = CASE status WHEN 'invited' THEN 'active' ELSE status END \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id.0)
                .bind(subject)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn count_active_admins(
                &self,
                tenant: askpanel_actors::domain::TenantId,
            ) -> $crate::store::StoreResult<u64> {
                let mut tx = self.$read(tenant).await?;
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND role = 'admin' AND status = 'active'",
                )
                .bind(tenant.0)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(n.max(0) as u64)
            }

            async fn signin_failed(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
            ) -> $crate::store::StoreResult<u32> {
                let mut tx = self.$write(tenant).await?;
                let n: i32 = sqlx::query_scalar(
                    "UPDATE users SET failed_signins = failed_signins + 1 WHERE tenant_id = $1 AND id = $2 \
                     RETURNING failed_signins",
                )
                .bind(tenant.0)
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(n.max(0) as u32)
            }

            async fn lock_user(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query("UPDATE users SET locked_until = $3 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(id.0)
                    .bind(until)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn signin_succeeded(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query(
                    "UPDATE users SET failed_signins = 0, locked_until = NULL, last_sign_in_at = $3 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id.0)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_session(
                &self,
                session: &$crate::store::accounts::SessionRecord,
                token_hash: &str,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(session.tenant_id).await?;
                sqlx::query($crate::store::accounts::INSERT_SESSION)
                    .bind(session.id.0)
                    .bind(session.tenant_id.0)
                    .bind(session.user_id.0)
                    .bind(token_hash)
                    .bind(session.created_at)
                    .bind(session.expires_at)
                    .bind(session.address.as_deref())
                    .bind(session.user_agent.as_deref())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn find_session(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: $crate::store::accounts::SessionId,
                token_hash: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<
                Option<($crate::store::accounts::SessionRecord, $crate::store::accounts::UserRecord)>,
            > {
                let sql = format!(
                    "SELECT {} FROM user_sessions WHERE tenant_id = $1 AND id = $2 \
                     AND ($3 IS NULL OR token_hash = $3) AND revoked_at IS NULL AND expires_at > $4",
                    $crate::store::accounts::SESSION_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let session = sqlx::query_as::<_, $crate::store::accounts::SessionRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id.0)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(session) = session.map($crate::store::accounts::SessionRecord::from) else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let sql = format!(
                    "SELECT {} FROM users WHERE tenant_id = $1 AND id = $2 AND status = 'active'",
                    $crate::store::accounts::USER_COLUMNS
                );
                let user = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(session.user_id.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok($crate::store::accounts::user(user)?.map(|user| (session, user)))
            }

            async fn list_sessions(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Vec<$crate::store::accounts::SessionRecord>> {
                let sql = format!(
                    "SELECT {} FROM user_sessions WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL \
                     AND expires_at > $3 ORDER BY created_at DESC LIMIT 100",
                    $crate::store::accounts::SESSION_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let rows = sqlx::query_as::<_, $crate::store::accounts::SessionRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(user.0)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(rows.into_iter().map($crate::store::accounts::SessionRecord::from).collect())
            }

            async fn revoke_session(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                id: $crate::store::accounts::SessionId,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.$write(tenant).await?;
                let done = sqlx::query(
                    "UPDATE user_sessions SET revoked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND id = $3 \
                     AND revoked_at IS NULL",
                )
                .bind(tenant.0)
                .bind(user.0)
                .bind(id.0)
                .bind(chrono::Utc::now())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_user_sessions(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                keep: Option<$crate::store::accounts::SessionId>,
            ) -> $crate::store::StoreResult<u64> {
                let mut tx = self.$write(tenant).await?;
                let done = sqlx::query($crate::store::accounts::REVOKE_USER_SESSIONS)
                    .bind(tenant.0)
                    .bind(user.0)
                    .bind(keep.map(|k| k.0).unwrap_or(uuid::Uuid::nil()))
                    .bind(chrono::Utc::now())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn create_token(
                &self,
                token: &$crate::store::accounts::TokenRecord,
                token_hash: &str,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(token.tenant_id).await?;
                sqlx::query($crate::store::accounts::VOID_TOKENS)
                    .bind(token.tenant_id.0)
                    .bind(token.user_id.0)
                    .bind(token.kind.as_str())
                    .bind(token.created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query($crate::store::accounts::INSERT_TOKEN)
                    .bind(token.id)
                    .bind(token.tenant_id.0)
                    .bind(token.user_id.0)
                    .bind(token.kind.as_str())
                    .bind(token_hash)
                    .bind(token.created_at)
                    .bind(token.expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn find_token(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
                token_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::accounts::TokenRecord>> {
                let sql = format!(
                    "SELECT {} FROM user_tokens WHERE tenant_id = $1 AND id = $2 AND token_hash = $3 \
                     AND used_at IS NULL AND expires_at > $4",
                    $crate::store::accounts::TOKEN_COLUMNS
                );
                let mut tx = self.$read(tenant).await?;
                let row = sqlx::query_as::<_, $crate::store::accounts::TokenRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.map($crate::store::accounts::TokenRecord::try_from).transpose()
            }

            async fn redeem_token(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: uuid::Uuid,
                token_hash: &str,
                password_hash: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<$crate::store::accounts::Redeemed>> {
                let mut tx = self.$write(tenant).await?;
                let sql = format!(
                    "UPDATE user_tokens SET used_at = $4 WHERE tenant_id = $1 AND id = $2 AND token_hash = $3 \
                     AND used_at IS NULL AND expires_at > $4 RETURNING {}",
                    $crate::store::accounts::TOKEN_COLUMNS
                );
                let token = sqlx::query_as::<_, $crate::store::accounts::TokenRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(id)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(token) = token.map($crate::store::accounts::TokenRecord::try_from).transpose()? else {
                    return Ok(None);
                };
                let sql = format!(
                    "UPDATE users SET password_hash = $3, failed_signins = 0, locked_until = NULL, \
                     status = CASE status WHEN 'invited' THEN 'active' ELSE status END \
                     WHERE tenant_id = $1 AND id = $2 AND status <> 'removed' RETURNING {}",
                    $crate::store::accounts::USER_COLUMNS
                );
                let user = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(token.user_id.0)
                    .bind(password_hash)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(user) = $crate::store::accounts::user(user)? else {
                    // The user was removed since: the token is not used up by trying.
                    return Ok(None);
                };
                let sessions_revoked = if token.kind == $crate::store::accounts::TokenKind::Reset {
                    sqlx::query($crate::store::accounts::REVOKE_USER_SESSIONS)
                        .bind(tenant.0)
                        .bind(user.id.0)
                        .bind(uuid::Uuid::nil())
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                } else {
                    0
                };
                tx.commit().await?;
                Ok(Some($crate::store::accounts::Redeemed { token, user, sessions_revoked }))
            }

            async fn void_tokens(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                user: askpanel_actors::domain::UserId,
                kind: $crate::store::accounts::TokenKind,
            ) -> $crate::store::StoreResult<u64> {
                let mut tx = self.$write(tenant).await?;
                let done = sqlx::query($crate::store::accounts::VOID_TOKENS)
                    .bind(tenant.0)
                    .bind(user.0)
                    .bind(kind.as_str())
                    .bind(chrono::Utc::now())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn pending_invitations(
                &self,
                tenant: askpanel_actors::domain::TenantId,
            ) -> $crate::store::StoreResult<
                Vec<($crate::store::accounts::UserRecord, Option<$crate::store::accounts::TokenRecord>)>,
            > {
                let mut tx = self.$read(tenant).await?;
                let sql = format!(
                    "SELECT {} FROM users WHERE tenant_id = $1 AND status = 'invited' ORDER BY created_at, id LIMIT 1000",
                    $crate::store::accounts::USER_COLUMNS
                );
                let users = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .fetch_all(&mut *tx)
                    .await?;
                let sql = format!(
                    "SELECT {} FROM user_tokens WHERE tenant_id = $1 AND kind = 'invitation' AND used_at IS NULL",
                    $crate::store::accounts::TOKEN_COLUMNS
                );
                let tokens = sqlx::query_as::<_, $crate::store::accounts::TokenRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let tokens = tokens
                    .into_iter()
                    .map($crate::store::accounts::TokenRecord::try_from)
                    .collect::<$crate::store::StoreResult<Vec<_>>>()?;
                let mut out = Vec::with_capacity(users.len());
                for user in $crate::store::accounts::users(users)? {
                    let token = tokens.iter().filter(|t| t.user_id == user.id).max_by_key(|t| t.created_at).cloned();
                    out.push((user, token));
                }
                Ok(out)
            }
        }
    };
}
pub(crate) use account_store;

/// Ends a user's live sessions but one (`$3`, nil for none) at `$4`.
pub const REVOKE_USER_SESSIONS: &str = "UPDATE user_sessions SET revoked_at = $4 \
     WHERE tenant_id = $1 AND user_id = $2 AND id <> $3 AND revoked_at IS NULL";
/// Makes a user's unused tokens of a kind (`$3`) unusable at `$4`.
pub const VOID_TOKENS: &str = "UPDATE user_tokens SET used_at = $4 \
     WHERE tenant_id = $1 AND user_id = $2 AND kind = $3 AND used_at IS NULL";
