//! Notifications, jobs and webhooks on SQLite: reads on the pool, writes
//! holding the write lock from the start; one process, so claims need no
//! row locks (the write lock serialises them).

use askpanel_actors::domain::{PanelId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::SqliteStore;
use crate::store::StoreResult;
use crate::store::notify::{Claim, notify_store};

impl SqliteStore {
    async fn notify_read_tx(&self, _tenant: TenantId) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    async fn notify_write_tx(&self, _tenant: TenantId) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.write_tx().await
    }
}

notify_store!(SqliteStore, sqlx::Sqlite, notify_read_tx, notify_write_tx, crate::store::sqlite::notify::cross);
crate::store::webhooks::webhook_store!(
    SqliteStore,
    notify_read_tx,
    notify_write_tx,
    crate::store::sqlite::notify::cross
);
crate::store::admin::admin_store!(
    SqliteStore,
    notify_read_tx,
    notify_write_tx,
    "SELECT content_type, bytes FROM tenant_logos WHERE sha256 = $1 LIMIT 1",
    "SELECT branding FROM tenants WHERE id = $1"
);

pub(crate) mod cross {
    use super::*;

    pub async fn unannounced_panels(store: &SqliteStore, limit: u32) -> StoreResult<Vec<(TenantId, PanelId, u64)>> {
        let rows = sqlx::query(
            "SELECT tenant_id, id, announced_seq FROM panels WHERE announce_done = 0 \
             AND (announced_seq < head_seq OR status IN ('completed', 'failed', 'cancelled')) \
             ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
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
        store: &SqliteStore,
        sql: &'static str,
        now: DateTime<Utc>,
        lease_s: u32,
        limit: u32,
    ) -> StoreResult<Vec<Claim>> {
        let mut tx = store.write_tx().await?;
        let rows = sqlx::query(sql)
            .bind(now + chrono::Duration::seconds(i64::from(lease_s)))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|r| {
                Ok(Claim {
                    tenant: TenantId(r.try_get("tenant_id")?),
                    id: r.try_get("id")?,
                    attempts: r.try_get::<i64, _>("attempts")?.max(0) as u32,
                })
            })
            .collect()
    }

    pub async fn claim_jobs(
        store: &SqliteStore,
        now: DateTime<Utc>,
        lease_s: u32,
        limit: u32,
    ) -> StoreResult<Vec<Claim>> {
        claim(
            store,
            "UPDATE jobs SET lease_until = $1, attempts = attempts + 1 WHERE id IN (\
             SELECT id FROM jobs WHERE done_at IS NULL AND due_at <= $2 AND (lease_until IS NULL OR lease_until < $2) \
             ORDER BY due_at LIMIT $3) RETURNING tenant_id, id, attempts",
            now,
            lease_s,
            limit,
        )
        .await
    }

    pub async fn claim_deliveries(
        store: &SqliteStore,
        now: DateTime<Utc>,
        lease_s: u32,
        limit: u32,
    ) -> StoreResult<Vec<Claim>> {
        claim(
            store,
            "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1, \
             first_attempt_at = COALESCE(first_attempt_at, $2) WHERE id IN (\
             SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
             AND (lease_until IS NULL OR lease_until < $2) ORDER BY next_attempt_at LIMIT $3) \
             RETURNING tenant_id, id, attempts",
            now,
            lease_s,
            limit,
        )
        .await
    }

    pub async fn purge_notify(
        store: &SqliteStore,
        jobs_before: DateTime<Utc>,
        notifications_before: DateTime<Utc>,
        deliveries_before: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut tx = store.write_tx().await?;
        let mut gone = sqlx::query("DELETE FROM jobs WHERE done_at IS NOT NULL AND done_at < $1")
            .bind(jobs_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        gone += sqlx::query("DELETE FROM notifications WHERE created_at < $1")
            .bind(notifications_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        gone += sqlx::query(
            "DELETE FROM webhook_attempts WHERE delivery_id IN \
             (SELECT id FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending')",
        )
        .bind(deliveries_before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        gone += sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending'")
            .bind(deliveries_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(gone)
    }
}
