//! The PostgreSQL store: production storage with row-level security. The
//! server connects as `askpanel_app` (see the migration); every tenant-scoped
//! unit of work runs in a transaction that first sets the tenant with
//! `set_config('app.tenant_id', $1, true)`, and still filters by tenant in
//! its SQL. Event-log writes go through one writer task per node
//! ([`writer`]). Rows map to records through [`super::rows`], shared with
//! SQLite.

mod accounts;
mod audit;
mod documents;
mod notify;
mod records;
mod writer;

use std::time::Duration;

use askpanel_actors::domain::{ExpertId, KeyId, PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, SealedEvent};
use askpanel_actors::ports::{CreateOptions, CreateOutcome};
use async_trait::async_trait;
use chrono::Utc;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Postgres, Row, Transaction};
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

pub struct PgStore {
    pool: PgPool,
    writer: mpsc::Sender<WriteJob>,
}

/// Runs the migrations as the owner (`askpanel migrate`).
pub async fn migrate(owner_url: &str) -> StoreResult<()> {
    let mut connection = PgConnection::connect(owner_url).await?;
    sqlx::migrate!("./migrations/postgres").run(&mut connection).await.map_err(StoreError::Migration)?;
    Ok(())
}

impl PgStore {
    /// Connects as the application role.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<PgStore> {
        let options: PgConnectOptions = url.parse().map_err(StoreError::BadUrl)?;
        // A node that freezes mid-transaction (a stalled VM, SIGSTOP) must not
        // hold its row locks forever: the server ends such a session, and a
        // lock wait gives up, so another node can take its panels over.
        let options = options.options([("idle_in_transaction_session_timeout", "4s"), ("lock_timeout", "4s")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        let connection = PgConnection::connect_with(&options).await?;
        let (writer, jobs) = mpsc::channel(4096);
        tokio::spawn(run_writer(connection, jobs, options));
        Ok(PgStore { pool, writer })
    }

    /// A transaction scoped to one tenant by row-level security.
    async fn tenant_tx(&self, tenant: TenantId) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        set_tenant(&mut tx, tenant).await?;
        Ok(tx)
    }

    async fn write(&self, job: WriteJob) -> StoreResult<()> {
        self.writer.send(job).await.map_err(|_| StoreError::WriterStopped)
    }
}

/// Scopes the current transaction to a tenant (row-level security).
async fn set_tenant(connection: &mut PgConnection, tenant: TenantId) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(tenant.0.to_string())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

async fn insert_key(
    tx: &mut Transaction<'_, Postgres>,
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

#[async_trait]
impl Store for PgStore {
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO tenants (id, slug, name, tier, status, limits, branding, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(tenant.id.0)
            .bind(&tenant.slug)
            .bind(&tenant.name)
            .bind(tenant.tier.as_str())
            .bind(tenant.status.as_str())
            .bind(serde_json::to_value(tenant.limits)?)
            .bind(serde_json::to_value(&tenant.branding)?)
            .bind(tenant.created_at)
            .execute(&mut *tx)
            .await?;
        set_tenant(&mut tx, tenant.id).await?;
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
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1 FOR NO KEY UPDATE");
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
            .bind(serde_json::to_value(tenant.limits)?)
            .bind(serde_json::to_value(&tenant.branding)?)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(tenant))
    }

    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<KeyRecord>> {
        // Authentication comes before any tenant is known: a narrow owner-rights function.
        rows::one(
            sqlx::query_as::<_, KeyRow>("SELECT * FROM askpanel_find_key($1)")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, hash: &str) -> StoreResult<()> {
        let mut tx = self.tenant_tx(tenant).await?;
        insert_key(&mut tx, tenant, key, hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self, tenant: TenantId) -> StoreResult<Vec<KeyRecord>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql)).bind(tenant.0).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows::all(rows)
    }

    async fn get_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<Option<KeyRecord>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        let row =
            sqlx::query_as::<_, KeyRow>(AssertSqlSafe(sql)).bind(tenant.0).bind(key.0).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        rows::one(row)
    }

    async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        let result =
            sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3")
                .bind(Utc::now())
                .bind(tenant.0)
                .bind(key.0)
                .execute(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(result.rows_affected() == 1)
    }

    async fn create_expert(&self, tenant: TenantId, expert: &Expert) -> StoreResult<()> {
        let mut tx = self.tenant_tx(tenant).await?;
        sqlx::query("INSERT INTO experts (id, tenant_id, body, created_at) VALUES ($1, $2, $3, $4)")
            .bind(expert.id.0)
            .bind(tenant.0)
            .bind(serde_json::to_string(expert)?)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_experts(&self, tenant: TenantId) -> StoreResult<Vec<Expert>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows =
            sqlx::query_as::<_, ExpertRow>("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 ORDER BY id")
                .bind(tenant.0)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        rows::all(rows)
    }

    async fn get_expert(&self, tenant: TenantId, id: ExpertId) -> StoreResult<Option<Expert>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row =
            sqlx::query_as::<_, ExpertRow>("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await?;
        tx.commit().await?;
        rows::one(row)
    }

    async fn list_panels(
        &self,
        tenant: TenantId,
        status: Option<PanelStatus>,
        limit: u32,
        cursor: Option<PanelCursor>,
    ) -> StoreResult<Vec<PanelSummary>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let sql = format!(
            "SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        let rows = sqlx::query_as::<_, PanelRow>(AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(status.map(|s| s.as_str()))
            .bind(cursor.map(|c| c.0.0))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows::all(rows)
    }

    async fn idempotent_panel(&self, tenant: TenantId, key: &str) -> StoreResult<Option<(PanelId, Option<String>)>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query_as::<_, IdempotencyRow>(IDEMPOTENCY_KEY)
            .bind(tenant.0)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.and_then(|r| r.live_panel().map(|panel| (panel, r.request_hash))))
    }

    async fn get_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Option<PanelSummary>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let sql = format!("SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query_as::<_, PanelRow>(AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(panel.0)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        rows::one(row)
    }

    async fn events_page(
        &self,
        tenant: TenantId,
        panel: PanelId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let query = sqlx::query_as::<_, EventRow>(EVENTS_PAGE)
            .bind(tenant.0)
            .bind(panel.0)
            .bind(after.min(i64::MAX as u64) as i64)
            .bind(i64::from(limit));
        let rows = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }

    async fn usage(&self, tenant: TenantId, month: &str) -> StoreResult<Usage> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query_as::<_, UsageRow>(USAGE).bind(tenant.0).bind(month).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.map(Usage::from).unwrap_or_default())
    }

    async fn panel_counts(&self) -> StoreResult<Vec<(PanelStatus, u64)>> {
        rows::all(
            sqlx::query_as::<_, StatusCountRow>("SELECT status, n FROM askpanel_panel_counts()")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn limit_size(&self, _max_bytes: Option<u64>) -> StoreResult<()> {
        Err(StoreError::Unsupported("a size cap is set on the PostgreSQL server (quotas, tablespaces), not here"))
    }

    async fn create_panel(
        &self,
        tenant: TenantId,
        panel: PanelId,
        event: &SealedEvent,
        options: &CreateOptions,
        epoch: u64,
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
            epoch,
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
        epoch: u64,
    ) -> StoreResult<()> {
        let bodies = events.iter().map(|sealed| sealed.json.clone()).collect();
        let events = events.iter().map(|sealed| sealed.event.clone()).collect();
        let (reply, answer) = oneshot::channel();
        self.write(WriteJob::Append { tenant, panel, events, bodies, status, epoch, reply }).await?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn claim_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<u64> {
        let mut tx = self.tenant_tx(tenant).await?;
        let epoch: Option<i64> = sqlx::query_scalar(
            "UPDATE panels SET owner_epoch = owner_epoch + 1 WHERE id = $1 AND tenant_id = $2 RETURNING owner_epoch",
        )
        .bind(panel.0)
        .bind(tenant.0)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        epoch.map(|e| e as u64).ok_or(StoreError::NotFound)
    }

    async fn load_events(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<Event>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query("SELECT body FROM panel_events WHERE tenant_id = $1 AND panel_id = $2 ORDER BY seq")
            .bind(tenant.0)
            .bind(panel.0)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?)).collect()
    }

    async fn unfinished_panels(&self) -> StoreResult<Vec<(TenantId, PanelId)>> {
        let rows = sqlx::query_as::<_, PanelRefRow>("SELECT tenant_id, id FROM askpanel_unfinished_panels()")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
