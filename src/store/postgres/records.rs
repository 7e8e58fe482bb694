//! The decision record on PostgreSQL: panel search over `tsvector`s (GIN
//! index, `ts_rank`), lineage and share links, each under the tenant's
//! row-level security; the two reads that cross tenants go through owner-
//! rights functions (`askpanel_find_share`, `askpanel_unindexed_panels`).

use askpanel_actors::domain::lineage::Relation;
use askpanel_actors::domain::{PanelId, TenantId};
use async_trait::async_trait;
use chrono::Utc;
use sqlx::{AssertSqlSafe, Row};

use super::PgStore;
use crate::store::StoreResult;
use crate::store::records::{
    Bind, CHILDREN, CLAIM_INDEX, COUNT_LIVE_SHARES, ChildLink, ChildRow, Dialect, HitRow, INSERT_SHARE, IndexBatch,
    LINK_PARENT, LIST_SHARES, PanelHit, PanelSearch, REVOKE_SHARE, RecordStore, SHARE_COLUMNS, ShareId, ShareRecord,
    ShareRow, relation_name, search_sql,
};

#[async_trait]
impl RecordStore for PgStore {
    async fn search_panels(&self, tenant: TenantId, search: &PanelSearch) -> StoreResult<Vec<PanelHit>> {
        let (sql, binds) = search_sql(tenant, search, Dialect::Postgres);
        let mut query = sqlx::query_as::<_, HitRow>(AssertSqlSafe(sql));
        for bind in binds {
            query = match bind {
                Bind::Uuid(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
                Bind::Time(v) => query.bind(v),
                Bind::Int(v) => query.bind(v),
            };
        }
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.into_iter().map(PanelHit::try_from).collect()
    }

    async fn children(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<ChildLink>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query_as::<_, ChildRow>(CHILDREN).bind(tenant.0).bind(panel.0).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.into_iter().filter_map(ChildRow::into_link).collect())
    }

    async fn unindexed_panels(&self, limit: u32) -> StoreResult<Vec<(TenantId, PanelId, u64)>> {
        let rows = sqlx::query("SELECT tenant_id, id, indexed_seq FROM askpanel_unindexed_panels($1)")
            .bind(limit as i32)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    TenantId(r.try_get("tenant_id")?),
                    PanelId(r.try_get("id")?),
                    r.try_get::<i64, _>("indexed_seq")?.max(0) as u64,
                ))
            })
            .collect()
    }

    async fn index_panel(&self, tenant: TenantId, panel: PanelId, batch: &IndexBatch) -> StoreResult<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        for text in &batch.texts {
            sqlx::query(
                "INSERT INTO panel_texts (tenant_id, panel_id, seq, kind, tsv) VALUES ($1, $2, $3, $4, to_tsvector('english', $5)) \
                 ON CONFLICT (panel_id, seq, kind) DO NOTHING",
            )
            .bind(tenant.0)
            .bind(panel.0)
            .bind(text.seq as i64)
            .bind(text.kind)
            .bind(&text.text)
            .execute(&mut *tx)
            .await?;
        }
        for expert in &batch.experts {
            sqlx::query(
                "INSERT INTO panel_experts (tenant_id, panel_id, expert_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(tenant.0)
            .bind(panel.0)
            .bind(expert.0)
            .execute(&mut *tx)
            .await?;
        }
        // The claim last: the panel's row is held only for this update and
        // the commit (the writers update that row on every append). Another
        // indexer that moved the panel on first makes this one write nothing.
        let moved = sqlx::query(CLAIM_INDEX)
            .bind(batch.to_seq as i64)
            .bind(panel.0)
            .bind(tenant.0)
            .bind(batch.from_seq as i64)
            .bind(batch.parent.map(|(p, _)| p.0))
            .bind(batch.parent.map(|(_, r)| relation_name(r)))
            .execute(&mut *tx)
            .await?;
        if moved.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn link_parent(
        &self,
        tenant: TenantId,
        panel: PanelId,
        parent: PanelId,
        relation: Relation,
    ) -> StoreResult<()> {
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query(LINK_PARENT)
            .bind(parent.0)
            .bind(relation_name(relation))
            .bind(panel.0)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_share(&self, share: &ShareRecord, token_hash: &str, max_live: u32) -> StoreResult<bool> {
        let mut tx = self.tenant_tx(share.tenant_id).await?;
        // The panel's row serialises concurrent creates, so the count holds.
        sqlx::query("SELECT 1 FROM panels WHERE id = $1 AND tenant_id = $2 FOR NO KEY UPDATE")
            .bind(share.panel_id.0)
            .bind(share.tenant_id.0)
            .fetch_optional(&mut *tx)
            .await?;
        let live: i64 = sqlx::query_scalar(COUNT_LIVE_SHARES)
            .bind(share.tenant_id.0)
            .bind(share.panel_id.0)
            .bind(Utc::now())
            .fetch_one(&mut *tx)
            .await?;
        if live >= i64::from(max_live) {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(INSERT_SHARE)
            .bind(share.id.0)
            .bind(share.tenant_id.0)
            .bind(share.panel_id.0)
            .bind(token_hash)
            .bind(&share.label)
            .bind(&share.created_by)
            .bind(share.created_at)
            .bind(share.expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_shares(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<ShareRecord>> {
        let sql = LIST_SHARES;
        let mut tx = self.tenant_tx(tenant).await?;
        let rows =
            sqlx::query_as::<_, ShareRow>(AssertSqlSafe(sql)).bind(tenant.0).bind(panel.0).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(ShareRecord::from).collect())
    }

    async fn revoke_share(&self, tenant: TenantId, panel: PanelId, share: ShareId) -> StoreResult<Option<ShareRecord>> {
        let sql = REVOKE_SHARE;
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query_as::<_, ShareRow>(AssertSqlSafe(sql))
            .bind(Utc::now())
            .bind(tenant.0)
            .bind(panel.0)
            .bind(share.0)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.map(ShareRecord::from))
    }

    async fn find_share(&self, token_hash: &str) -> StoreResult<Option<ShareRecord>> {
        let sql = format!("SELECT {SHARE_COLUMNS} FROM askpanel_find_share($1)");
        let row = sqlx::query_as::<_, ShareRow>(AssertSqlSafe(sql)).bind(token_hash).fetch_optional(&self.pool).await?;
        Ok(row.map(ShareRecord::from))
    }
}
