//! A tenant's administration in storage: its settings for experts (hidden,
//! preferred), changes to its own experts, the defaults of its new panels,
//! its usage by day, its logo and its keys' last use. The statements are
//! the same on both backends ([`admin_store!`]).

use askpanel_actors::domain::{ExpertId, KeyId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{Branding, StoreResult};
use crate::catalog::Expert;
use crate::usage::Figures;

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
    /// The tenant's usage rows from `from` to `to` (inclusive): (day, panel type, figures).
    async fn usage_days(&self, tenant: TenantId, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<UsageDay>>;
    /// Changes the tenant's branding as stored now, and its stored logo with
    /// it, in one transaction: (before, after), `None` without the tenant.
    async fn change_branding(
        &self,
        tenant: TenantId,
        edit: &BrandingEdit,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Branding, Branding)>>;
    /// A logo by its hash, whichever tenant it is (the hash is the capability).
    async fn logo_by_hash(&self, sha256: &str) -> StoreResult<Option<Logo>>;
    /// Records that a key was used at `at` (later uses only move it forward).
    async fn touch_key(&self, tenant: TenantId, key: KeyId, at: DateTime<Utc>) -> StoreResult<()>;
}

/// One stored day of usage for one panel type.
pub type UsageDay = (NaiveDate, String, Figures);

/// A tenant's logo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logo {
    /// Lower-case hex SHA-256 of the bytes: the name it is served by.
    pub sha256: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Where a stored logo is served.
pub fn logo_path(sha256: &str) -> String {
    format!("/v1/logos/{sha256}")
}

/// A change to a tenant's branding; `None` keeps a part.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrandingEdit {
    pub display_name: Option<String>,
    pub primary_color: Option<String>,
    pub secondary_color: Option<Option<String>>,
    pub logo: Option<LogoEdit>,
}

/// A change to the logo.
#[derive(Clone, Debug, PartialEq)]
pub enum LogoEdit {
    /// Store this image and show it (the stored one before goes).
    Upload(Logo),
    /// Show the image at this address (the stored one goes).
    Url(String),
    /// No logo (the stored one goes).
    Clear,
}

impl BrandingEdit {
    /// The branding after the change.
    pub fn apply(&self, mut branding: Branding) -> Branding {
        if let Some(name) = &self.display_name {
            branding.display_name = name.clone();
        }
        if let Some(color) = &self.primary_color {
            branding.primary_color = color.clone();
        }
        if let Some(color) = &self.secondary_color {
            branding.secondary_color = color.clone();
        }
        match &self.logo {
            Some(LogoEdit::Upload(logo)) => branding.logo_url = Some(logo_path(&logo.sha256)),
            Some(LogoEdit::Url(url)) => branding.logo_url = Some(url.clone()),
            Some(LogoEdit::Clear) => branding.logo_url = None,
            None => {}
        }
        branding
    }
}

/// The figures of a `usage_daily` row, in its column order from `panels_created`.
pub fn figures_of(row: (i64, i64, i64, i64, i64, i64)) -> Figures {
    let n = |v: i64| v.max(0) as u64;
    Figures {
        panels_created: n(row.0),
        panels_completed: n(row.1),
        turns: n(row.2),
        tokens_in: n(row.3),
        tokens_out: n(row.4),
        duration_ms: n(row.5),
    }
}

/// Writes [`AdminStore`] for a backend: `$read` and `$write` are methods of
/// the store giving a transaction for a tenant; `$logo_by_hash` reads a
/// logo by its hash (`$1`) across tenants, on `self.pool`; `$branding`
/// reads a tenant's branding (`$1`) for a change (locking its row).
macro_rules! admin_store {
    ($store:ty, $read:ident, $write:ident, $logo_by_hash:literal, $branding:literal) => {
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

            async fn usage_days(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                from: chrono::NaiveDate,
                to: chrono::NaiveDate,
            ) -> $crate::store::StoreResult<Vec<$crate::store::admin::UsageDay>> {
                let mut tx = self.$read(tenant).await?;
                let rows: Vec<(String, String, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
                    "SELECT day, panel_type, panels_created, panels_completed, turns, tokens_in, tokens_out, duration_ms \
                     FROM usage_daily WHERE tenant_id = $1 AND day >= $2 AND day <= $3 ORDER BY day, panel_type LIMIT 10000",
                )
                .bind(tenant.0)
                .bind(from.to_string())
                .bind(to.to_string())
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.into_iter()
                    .map(|(day, kind, a, b, c, d, e, f)| {
                        let day = day.parse().map_err(|_| $crate::store::StoreError::Corrupt(format!("usage day `{day}`")))?;
                        Ok((day, kind, $crate::store::admin::figures_of((a, b, c, d, e, f))))
                    })
                    .collect()
            }

            async fn change_branding(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                edit: &$crate::store::admin::BrandingEdit,
                now: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<Option<($crate::store::Branding, $crate::store::Branding)>> {
                let mut tx = self.$write(tenant).await?;
                let stored: Option<sqlx::types::Json<$crate::store::Branding>> =
                    sqlx::query_scalar($branding).bind(tenant.0).fetch_optional(&mut *tx).await?;
                let Some(sqlx::types::Json(before)) = stored else { return Ok(None) };
                let after = edit.apply(before.clone());
                match &edit.logo {
                    Some($crate::store::admin::LogoEdit::Upload(logo)) => {
                        sqlx::query(
                            "INSERT INTO tenant_logos (tenant_id, sha256, content_type, bytes, updated_at) VALUES ($1, $2, $3, $4, $5) \
                             ON CONFLICT (tenant_id) DO UPDATE SET sha256 = excluded.sha256, content_type = excluded.content_type, \
                             bytes = excluded.bytes, updated_at = excluded.updated_at",
                        )
                        .bind(tenant.0)
                        .bind(&logo.sha256)
                        .bind(&logo.content_type)
                        .bind(&logo.bytes)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Some(_) => {
                        sqlx::query("DELETE FROM tenant_logos WHERE tenant_id = $1").bind(tenant.0).execute(&mut *tx).await?;
                    }
                    None => {}
                }
                if after != before {
                    sqlx::query("UPDATE tenants SET branding = $1 WHERE id = $2")
                        .bind(sqlx::types::Json(&after))
                        .bind(tenant.0)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(Some((before, after)))
            }

            async fn logo_by_hash(&self, sha256: &str) -> $crate::store::StoreResult<Option<$crate::store::admin::Logo>> {
                let row: Option<(String, Vec<u8>)> =
                    sqlx::query_as($logo_by_hash).bind(sha256).fetch_optional(&self.pool).await?;
                Ok(row.map(|(content_type, bytes)| $crate::store::admin::Logo {
                    sha256: sha256.to_string(),
                    content_type,
                    bytes,
                }))
            }

            async fn touch_key(
                &self,
                tenant: askpanel_actors::domain::TenantId,
                key: askpanel_actors::domain::KeyId,
                at: chrono::DateTime<chrono::Utc>,
            ) -> $crate::store::StoreResult<()> {
                let mut tx = self.$write(tenant).await?;
                sqlx::query(
                    "UPDATE api_keys SET last_used_at = $1 WHERE tenant_id = $2 AND id = $3 \
                     AND (last_used_at IS NULL OR last_used_at < $1)",
                )
                .bind(at)
                .bind(tenant.0)
                .bind(key.0)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}

pub(crate) use admin_store;

#[cfg(test)]
mod tests {
    use super::*;

    fn branding() -> Branding {
        Branding {
            display_name: "Acme".into(),
            primary_color: "#112233".into(),
            secondary_color: Some("#445566".into()),
            logo_url: Some("/v1/logos/aa".into()),
        }
    }

    #[test]
    fn an_edit_changes_what_it_names_and_keeps_the_rest() {
        let logo = Logo { sha256: "bb".into(), content_type: "image/png".into(), bytes: vec![1] };
        let table: Vec<(BrandingEdit, Branding)> = vec![
            (BrandingEdit::default(), branding()),
            (
                BrandingEdit { display_name: Some("Acme Health".into()), ..BrandingEdit::default() },
                Branding { display_name: "Acme Health".into(), ..branding() },
            ),
            (
                BrandingEdit { secondary_color: Some(None), ..BrandingEdit::default() },
                Branding { secondary_color: None, ..branding() },
            ),
            (
                BrandingEdit { logo: Some(LogoEdit::Upload(logo)), ..BrandingEdit::default() },
                Branding { logo_url: Some("/v1/logos/bb".into()), ..branding() },
            ),
            (
                BrandingEdit { logo: Some(LogoEdit::Url("https://x.test/a.png".into())), ..BrandingEdit::default() },
                Branding { logo_url: Some("https://x.test/a.png".into()), ..branding() },
            ),
            (
                BrandingEdit {
                    logo: Some(LogoEdit::Clear),
                    primary_color: Some("#000000".into()),
                    ..BrandingEdit::default()
                },
                Branding { logo_url: None, primary_color: "#000000".into(), ..branding() },
            ),
        ];
        for (edit, expected) in table {
            assert_eq!(edit.apply(branding()), expected, "{edit:?}");
        }
    }
}
