//! Notifications, jobs and webhooks on PostgreSQL: every transaction scoped
//! to its tenant (row-level security); the work that crosses tenants goes
//! through the migration's security-definer functions, which claim rows with
//! `FOR UPDATE SKIP LOCKED` so that two nodes never hold the same job or
//! delivery.

use askpanel_actors::domain::{PanelId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::PgStore;
use crate::store::StoreResult;
use crate::store::notify::{Claim, notify_store};

impl PgStore {
    async fn notify_tx(&self, tenant: TenantId) -> StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.tenant_tx(tenant).await
    }
}

notify_store!(PgStore, sqlx::Postgres, notify_tx, notify_tx, crate::store::postgres::notify::cross);
crate::store::webhooks::webhook_store!(PgStore, notify_tx, notify_tx, crate::store::postgres::notify::cross);
crate::store::admin::admin_store!(
    PgStore,
    notify_tx,
    notify_tx,
    "SELECT content_type, bytes FROM askpanel_logo_by_hash($1)",
    "SELECT branding FROM tenants WHERE id = $1 FOR NO KEY UPDATE"
);

pub(crate) mod cross {
    use super::*;

    pub async fn unannounced_panels(store: &PgStore, limit: u32) -> StoreResult<Vec<(TenantId, PanelId, u64)>> {
        let rows = sqlx::query("SELECT tenant_id, id, announced_seq FROM askpanel_unannounced_panels($1)")
            .bind(limit as i32)
            .fetch_all(&store.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    TenantId(r.try_get("tenant_id")?),
                    PanelId(r.try_get("id")?),
                    r.try_get::<i64, _>("announced_seq")?.max(0) as u64,
                ))
            })
            .collect()
    }

    async fn claim(
        store: &PgStore,
        sql: &'static str,
        now: DateTime<Utc>,
        lease_s: u32,
        limit: u32,
    ) -> StoreResult<Vec<Claim>> {
        let rows = sqlx::query(sql).bind(now).bind(lease_s as i32).bind(limit as i32).fetch_all(&store.pool).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Claim {
                    tenant: TenantId(r.try_get("tenant_id")?),
                    id: r.try_get("id")?,
                    attempts: r.try_get::<i32, _>("attempts")?.max(0) as u32,
                })
            })
            .collect()
    }

    pub async fn claim_jobs(store: &PgStore, now: DateTime<Utc>, lease_s: u32, limit: u32) -> StoreResult<Vec<Claim>> {
        claim(store, "SELECT tenant_id, id, attempts FROM askpanel_claim_jobs($1, $2, $3)", now, lease_s, limit).await
    }

    pub async fn claim_deliveries(
        store: &PgStore,
        now: DateTime<Utc>,
        lease_s: u32,
        limit: u32,
    ) -> StoreResult<Vec<Claim>> {
        claim(store, "SELECT tenant_id, id, attempts FROM askpanel_claim_deliveries($1, $2, $3)", now, lease_s, limit)
            .await
    }

    pub async fn purge_notify(
        store: &PgStore,
        jobs_before: DateTime<Utc>,
        notifications_before: DateTime<Utc>,
        deliveries_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let gone: i64 = sqlx::query_scalar("SELECT askpanel_purge_notify($1, $2, $3)")
            .bind(jobs_before)
            .bind(notifications_before)
            .bind(deliveries_before)
            .fetch_one(&store.pool)
            .await?;
        Ok(gone.max(0) as u64)
    }
}
