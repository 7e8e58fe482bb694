//! [`super::UserStore`] written once for both backends.

/// Writes [`super::UserStore`] for a backend: `$read` and `$write` are methods
/// of the store giving a transaction for a tenant.
macro_rules! user_store {
    ($store:ty, $read:ident, $write:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::accounts::UserStore for $store {
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
                // An identity proven at the provider makes an invitation's link moot.
                sqlx::query($crate::store::accounts::VOID_TOKENS)
                    .bind(tenant.0)
                    .bind(id.0)
                    .bind("invitation")
                    .bind(chrono::Utc::now())
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

            async fn claim_signin(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                now: chrono::DateTime<chrono::Utc>,
                hold_until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<u32>> {
                let mut tx = self.$write(tenant).await?;
                let n: Option<i32> = sqlx::query_scalar(
                    "UPDATE users SET failed_signins = failed_signins + 1, locked_until = $4 \
                     WHERE tenant_id = $1 AND id = $2 AND (locked_until IS NULL OR locked_until <= $3) \
                     RETURNING failed_signins",
                )
                .bind(tenant.0)
                .bind(id.0)
                .bind(now)
                .bind(hold_until)
                .fetch_optional(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(n.map(|n| n.max(0) as u32))
            }

            async fn lock_user(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                id: askpanel_actors::domain::UserId,
                until: Option<chrono::DateTime<chrono::Utc>>,
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
        }
    };
}
pub(crate) use user_store;
