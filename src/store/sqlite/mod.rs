//! The SQLite store: the embedded default. WAL mode; reads through a pool;
//! panel event-log writes through one writer task ([`writer`]) that commits
//! whatever accumulated meanwhile in one transaction (group commit). Rows map
//! to records through [`super::rows`], shared with PostgreSQL.

mod accounts;
mod audit;
mod connection;
mod documents;
mod notify;
mod records;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use askpanel_actors::domain::{ExpertId, KeyId, PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, SealedEvent};
use askpanel_actors::ports::{CreateOptions, CreateOutcome};
use async_trait::async_trait;
use chrono::Utc;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use self::writer::{WriteJob, run_writer};
use super::rows::{
    self, EVENTS_PAGE, EventRow, ExpertRow, IDEMPOTENCY_KEY, IdempotencyRow, KEY_COLUMNS, KeyRow, PANEL_COLUMNS,
    PanelRefRow, PanelRow, StatusCountRow, TENANT_COLUMNS, TenantRow, USAGE, UsageRow,
};
use super::{
    KeyRecord, PanelCursor, PanelSummary, Store, StoreError, StoreResult, StoredEvent, TenantPatch, TenantRecord, Usage,
};
use crate::catalog::Expert;

pub struct SqliteStore {
    pool: SqlitePool,
    writer: mpsc::Sender<WriteJob>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(StoreError::BadUrl)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Reads through a memory map rather than a read() per page (the
            // full-text index is read heavily while documents are indexed).
            .pragma("mmap_size", "268435456");
        let pool =
            SqlitePoolOptions::new().max_connections(max_connections.max(2)).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.map_err(StoreError::Migration)?;
        let connection = SqliteConnection::connect_with(&options).await?;
        let (writer, jobs) = mpsc::channel(4096);
        tokio::spawn(run_writer(connection, jobs));
        Ok(SqliteStore { pool, writer })
    }

    /// A write transaction that takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred one that reads first cannot upgrade while the event writer
    /// holds the lock and fails with SQLITE_BUSY instead of waiting.
    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn write(&self, job: WriteJob) -> StoreResult<()> {
        self.writer.send(job).await.map_err(|_| StoreError::WriterStopped)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get("value")))
    }

    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        self.get_setting(key).await?.ok_or(StoreError::NotFound)
    }

    async fn count_tenants(&self) -> StoreResult<u64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM tenants").fetch_one(&self.pool).await?.try_get::<i64, _>("n")? as u64)
    }

    async fn create_tenant(
        &self,
        tenant: &TenantRecord,
        admin_key: &KeyRecord,
        admin_key_hash: &str,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO tenants (id, slug, name, tier, status, limits, branding, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(tenant.id.0)
            .bind(&tenant.slug)
            .bind(&tenant.name)
            .bind(tenant.tier.as_str())
            .bind(tenant.status.as_str())
            .bind(serde_json::to_string(&tenant.limits)?)
            .bind(serde_json::to_string(&tenant.branding)?)
            .bind(tenant.created_at)
            .execute(&mut *tx)
            .await?;
        insert_key(&mut tx, tenant.id, admin_key, admin_key_hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created_at, id");
        rows::all(sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql)).fetch_all(&self.pool).await?)
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<TenantRecord>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        rows::one(sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql)).bind(id.0).fetch_optional(&self.pool).await?)
    }

    async fn get_tenant_by_slug(&self, slug: &str) -> StoreResult<Option<TenantRecord>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1");
        rows::one(sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql)).bind(slug).fetch_optional(&self.pool).await?)
    }

    async fn update_tenant(&self, id: TenantId, patch: &TenantPatch) -> StoreResult<Option<TenantRecord>> {
        let mut tx = self.write_tx().await?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let Some(mut tenant) = rows::one::<_, TenantRecord>(
            sqlx::query_as::<_, TenantRow>(AssertSqlSafe(sql)).bind(id.0).fetch_optional(&mut *tx).await?,
        )?
        else {
            return Ok(None);
        };
        patch.apply_to(&mut tenant);
        sqlx::query("UPDATE tenants SET status = $1, tier = $2, limits = $3, branding = $4 WHERE id = $5")
            .bind(tenant.status.as_str())
            .bind(tenant.tier.as_str())
            .bind(serde_json::to_string(&tenant.limits)?)
            .bind(serde_json::to_string(&tenant.branding)?)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(tenant))
    }

    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1");
        rows::one(sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await?)
    }

    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, hash: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_key(&mut tx, tenant, key, hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self, tenant: TenantId) -> StoreResult<Vec<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id");
        rows::all(sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql)).bind(tenant.0).fetch_all(&self.pool).await?)
    }

    async fn get_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<Option<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        rows::one(
            sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(key.0)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3")
                .bind(Utc::now())
                .bind(tenant.0)
                .bind(key.0)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn create_expert(&self, tenant: TenantId, expert: &Expert) -> StoreResult<()> {
        sqlx::query("INSERT INTO experts (id, tenant_id, body, created_at) VALUES ($1, $2, $3, $4)")
            .bind(expert.id.0)
            .bind(tenant.0)
            .bind(serde_json::to_string(expert)?)
            .bind(Utc::now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_experts(&self, tenant: TenantId) -> StoreResult<Vec<Expert>> {
        rows::all(
            sqlx::query_as::<_, ExpertRow>("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 ORDER BY id")
                .bind(tenant.0)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn get_expert(&self, tenant: TenantId, id: ExpertId) -> StoreResult<Option<Expert>> {
        rows::one(
            sqlx::query_as::<_, ExpertRow>("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn list_panels(
        &self,
        tenant: TenantId,
        status: Option<PanelStatus>,
        limit: u32,
        cursor: Option<PanelCursor>,
    ) -> StoreResult<Vec<PanelSummary>> {
        let sql = format!(
            "SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let query = sqlx::query_as::<_, PanelRow>(AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(status.map(|s| s.as_str()))
            .bind(cursor.map(|c| c.0.0))
            .bind(i64::from(limit));
        rows::all(query.fetch_all(&self.pool).await?)
    }

    async fn idempotent_panel(&self, tenant: TenantId, key: &str) -> StoreResult<Option<(PanelId, Option<String>)>> {
        let row = sqlx::query_as::<_, IdempotencyRow>(IDEMPOTENCY_KEY)
            .bind(tenant.0)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.and_then(|r| r.live_panel().map(|panel| (panel, r.request_hash))))
    }

    async fn get_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Option<PanelSummary>> {
        let sql = format!("SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND id = $2");
        rows::one(
            sqlx::query_as::<_, PanelRow>(AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(panel.0)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn events_page(
        &self,
        tenant: TenantId,
        panel: PanelId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        let query = sqlx::query_as::<_, EventRow>(EVENTS_PAGE)
            .bind(tenant.0)
            .bind(panel.0)
            .bind(after.min(i64::MAX as u64) as i64)
            .bind(i64::from(limit));
        Ok(query.fetch_all(&self.pool).await?.into_iter().map(StoredEvent::from).collect())
    }

    async fn usage(&self, tenant: TenantId, month: &str) -> StoreResult<Usage> {
        let row = sqlx::query_as::<_, UsageRow>(USAGE).bind(tenant.0).bind(month).fetch_optional(&self.pool).await?;
        Ok(row.map(Usage::from).unwrap_or_default())
    }

    async fn panel_counts(&self) -> StoreResult<Vec<(PanelStatus, u64)>> {
        rows::all(
            sqlx::query_as::<_, StatusCountRow>("SELECT status, COUNT(*) AS n FROM panels GROUP BY status")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// A single SQLite node has no leases: every write is its own.
    async fn claim_panel(&self, _tenant: TenantId, _panel: PanelId) -> StoreResult<u64> {
        Ok(0)
    }

    async fn create_panel(
        &self,
        tenant: TenantId,
        panel: PanelId,
        event: &SealedEvent,
        options: &CreateOptions,
        _epoch: u64,
    ) -> StoreResult<CreateOutcome> {
        let (reply, answer) = oneshot::channel();
        let body = event.json.clone();
        let idempotency_key = options.idempotency_key.clone();
        let request_hash = options.request_hash.clone();
        let quota = options.quota;
        self.write(WriteJob::Create {
            tenant,
            panel,
            event: Box::new(event.event.clone()),
            body,
            idempotency_key,
            request_hash,
            quota,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn append_events(
        &self,
        tenant: TenantId,
        panel: PanelId,
        events: &[SealedEvent],
        status: PanelStatus,
        _epoch: u64,
    ) -> StoreResult<()> {
        let bodies = events.iter().map(|sealed| sealed.json.clone()).collect();
        let events = events.iter().map(|sealed| sealed.event.clone()).collect();
        let (reply, answer) = oneshot::channel();
        self.write(WriteJob::Append { tenant, panel, events, bodies, status, reply }).await?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn limit_size(&self, max_bytes: Option<u64>) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.write(WriteJob::LimitSize { max_bytes, reply }).await?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn load_events(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query("SELECT body FROM panel_events WHERE tenant_id = $1 AND panel_id = $2 ORDER BY seq")
            .bind(tenant.0)
            .bind(panel.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?)).collect()
    }

    async fn unfinished_panels(&self) -> StoreResult<Vec<(TenantId, PanelId)>> {
        let rows = sqlx::query_as::<_, PanelRefRow>(
            "SELECT tenant_id, id FROM panels WHERE status NOT IN ('completed', 'failed', 'cancelled') ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tenant: TenantId,
    key: &KeyRecord,
    hash: &str,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO api_keys (id, tenant_id, role, name, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(key.id.0)
        .bind(tenant.0)
        .bind(key.role.as_str())
        .bind(&key.name)
        .bind(hash)
        .bind(&key.prefix)
        .bind(key.created_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
