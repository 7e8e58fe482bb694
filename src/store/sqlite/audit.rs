//! The audit trail on SQLite (a trigger refuses updates).

use askpanel_actors::domain::TenantId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::SqliteStore;
use crate::store::StoreResult;
use crate::store::audit::{AuditBind, AuditEntry, AuditQuery, AuditRow, AuditStore, INSERT_AUDIT, list_sql};

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(INSERT_AUDIT)
            .bind(entry.id)
            .bind(entry.tenant_id.0)
            .bind(entry.at)
            .bind(&entry.actor.kind)
            .bind(&entry.actor.id)
            .bind(&entry.action)
            .bind(entry.target.as_ref().map(|t| t.kind.as_str()))
            .bind(entry.target.as_ref().map(|t| t.id.as_str()))
            .bind(entry.address.as_deref())
            .bind(entry.detail.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_audit(&self, tenant: TenantId, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        let (sql, binds) = list_sql(query);
        let mut q = sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql)).bind(tenant.0);
        for bind in binds {
            q = match bind {
                AuditBind::Text(v) => q.bind(v),
                AuditBind::Time(v) => q.bind(v),
                AuditBind::Uuid(v) => q.bind(v),
                AuditBind::Int(v) => q.bind(v),
            };
        }
        Ok(q.fetch_all(&self.pool).await?.into_iter().map(AuditEntry::from).collect())
    }

    async fn purge_audit(&self, tenant: TenantId, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE tenant_id = $1 AND at < $2")
            .bind(tenant.0)
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
