//! [`super::SessionStore`] written once for both backends.

/// Writes [`super::SessionStore`] for a backend: `$read` and `$write` are methods
/// of the store giving a transaction for a tenant.
macro_rules! session_store {
    ($store:ty, $read:ident, $write:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::accounts::SessionStore for $store {
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
                     WHERE tenant_id = $1 AND id = $2 AND status <> 'removed' \
                     AND ($4 = 'reset' OR status = 'invited') RETURNING {}",
                    $crate::store::accounts::USER_COLUMNS
                );
                let user = sqlx::query_as::<_, $crate::store::accounts::UserRow>(sqlx::AssertSqlSafe(sql))
                    .bind(tenant.0)
                    .bind(token.user_id.0)
                    .bind(password_hash)
                    .bind(token.kind.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(user) = $crate::store::accounts::user(user)? else {
                    // The user was removed since (or, for an invitation, joined another
                    // way): nothing is committed, and the token is not used up by trying.
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
pub(crate) use session_store;
