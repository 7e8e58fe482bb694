//! A tenant's administration in storage: its settings for experts (hidden,
//! preferred), changes to its own experts, and the defaults of its new
//! panels. The statements are the same on both backends ([`admin_store!`]).

use askpanel_actors::domain::{ExpertId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::catalog::Expert;

/// A tenant's setting for one expert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpertSetting {
    pub hidden: bool,
    pub preferred: bool,
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    /// The tenant's settings, by expert.
    async fn expert_settings(&self, tenant: TenantId) -> StoreResult<Vec<(ExpertId, ExpertSetting)>>;
    /// Sets (or, with both off, clears) the tenant's setting for an expert.
    async fn set_expert_setting(
        &self,
        tenant: TenantId,
        expert: ExpertId,
        setting: ExpertSetting,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Rewrites one of the tenant's own experts; false when it has none by that id.
    async fn update_expert(&self, tenant: TenantId, expert: &Expert) -> StoreResult<bool>;
    /// Deletes one of the tenant's own experts (and its setting).
    async fn delete_expert(&self, tenant: TenantId, expert: ExpertId) -> StoreResult<bool>;
    /// Whether a panel of the tenant has seated the expert (as far as the
    /// search index has followed the panels).
    async fn expert_seated(&self, tenant: TenantId, expert: ExpertId) -> StoreResult<bool>;
    /// The defaults of the tenant's new panels (JSON), if it set any.
    async fn tenant_defaults(&self, tenant: TenantId) -> StoreResult<Option<String>>;
    async fn set_tenant_defaults(&self, tenant: TenantId, defaults: &str, now: DateTime<Utc>) -> StoreResult<()>;
}

/// Writes [`AdminStore`] for a backend: `$read` and `$write` are methods of
/// the store giving a transaction for a tenant.
macro_rules! admin_store {
    ($store:ty, $read:ident, $write:ident) => {
        #[async_trait::async_trait]
        impl $crate::store::admin::AdminStore for $store {
            async fn expert_settings(
                &self,
                tenant: askpanel_actors::domain::TenantId,
            ) -> $crate::store::StoreResult<
                Vec<(askpanel_actors::domain::ExpertId, $crate::store::admin::ExpertSetting)>,
            > {
                let mut tx = self.$read(tenant).await?;
                let rows: Vec<(uuid::Uuid, bool, bool)> = sqlx::query_as(
                    "SELECT expert_id, hidden, preferred FROM tenant_expert_settings WHERE tenant_id = $1 \
                     ORDER BY expert_id LIMIT 10000",
                )
                .bind(tenant.0)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, hidden, preferred)| {
                        (
                            askpanel_actors::domain::ExpertId(id),
                            $crate::store::admin::ExpertSetting { hidden, preferred },
                        )
                    })
                    .collect())
            }

            async fn set_expert_setting(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                expert: askpanel_actors::domain::ExpertId,
                setting: $crate::store::admin::ExpertSetting,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                if setting == $crate::store::admin::ExpertSetting::default() {
                    sqlx::query("DELETE FROM tenant_expert_settings WHERE tenant_id = $1 AND expert_id = $2")
                        .bind(tenant.0)
                        .bind(expert.0)
                        .execute(&mut *tx)
                        .await?;
                } else {
                    sqlx::query(
                        "INSERT INTO tenant_expert_settings (tenant_id, expert_id, hidden, preferred, updated_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, expert_id) DO UPDATE SET \
                         hidden = excluded.hidden, preferred = excluded.preferred, updated_at = excluded.updated_at",
                    )
                    .bind(tenant.0)
                    .bind(expert.0)
                    .bind(setting.hidden)
                    .bind(setting.preferred)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn update_expert(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                expert: &$crate::catalog::Expert,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.$write(tenant).await?;
                let done = sqlx::query("UPDATE experts SET body = $1 WHERE tenant_id = $2 AND id = $3")
                    .bind(serde_json::to_string(expert)?)
                    .bind(tenant.0)
                    .bind(expert.id.0)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_expert(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                expert: askpanel_actors::domain::ExpertId,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query("DELETE FROM tenant_expert_settings WHERE tenant_id = $1 AND expert_id = $2")
                    .bind(tenant.0)
                    .bind(expert.0)
                    .execute(&mut *tx)
                    .await?;
                let done = sqlx::query("DELETE FROM experts WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant.0)
                    .bind(expert.0)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            async fn expert_seated(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                expert: askpanel_actors::domain::ExpertId,
            ) -> $crate::store::StoreResult<bool> {
                let mut tx = self.$read(tenant).await?;
                let seated: Option<i32> =
                    sqlx::query_scalar("SELECT 1 FROM panel_experts WHERE tenant_id = $1 AND expert_id = $2 LIMIT 1")
                        .bind(tenant.0)
                        .bind(expert.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok(seated.is_some())
            }

            async fn tenant_defaults(
                &self,
                tenant: askpanel_actors::domain::TenantId,
            ) -> $crate::store::StoreResult<Option<String>> {
                let mut tx = self.$read(tenant).await?;
                let found: Option<String> =
                    sqlx::query_scalar("SELECT defaults FROM tenant_defaults WHERE tenant_id = $1")
                        .bind(tenant.0)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.commit().await?;
                Ok(found)
            }

            async fn set_tenant_defaults(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                defaults: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query(
                    "INSERT INTO tenant_defaults (tenant_id, defaults, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id) DO UPDATE SET defaults = excluded.defaults, updated_at = excluded.updated_at",
                )
                .bind(tenant.0)
                .bind(defaults)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use admin_store;
