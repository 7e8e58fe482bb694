//! The PostgreSQL store: production storage with row-level security. The
//! server connects as `askpanel_app` (see the migration); every tenant-scoped
//! unit of work runs in a transaction that first sets the tenant with
//! `set_config('app.tenant_id', $1, true)`, and still filters by tenant in
//! its SQL. Event-log writes go through one writer task per node that commits
//! batches in one transaction (each job in a savepoint), and refuses a write
//! whose lease epoch is not the panel's (fencing a stale owner).

use std::time::Duration;

use askpanel_actors::domain::{ExpertId, KeyId, PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::ports::CreateOutcome;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::{
    Branding, KeyRecord, PanelCursor, PanelSummary, Role, Store, StoreError, StoreResult, StoredEvent, TenantPatch, TenantRecord, TenantStatus, Tier, Usage, usage_deltas,
};
use crate::catalog::{Expert, ExpertScope};

const MAX_BATCH: usize = 256;

enum WriteJob {
    Create { tenant: TenantId, panel: PanelId, event: Box<Event>, body: String, idempotency_key: Option<String>, epoch: u64, reply: oneshot::Sender<StoreResult<CreateOutcome>> },
    Append { tenant: TenantId, panel: PanelId, events: Vec<Event>, bodies: Vec<String>, status: PanelStatus, epoch: u64, reply: oneshot::Sender<StoreResult<()>> },
}

impl WriteJob {
    fn tenant(&self) -> TenantId {
        match self {
            WriteJob::Create { tenant, .. } | WriteJob::Append { tenant, .. } => *tenant,
        }
    }
}

pub struct PgStore {
    pool: PgPool,
    writer: mpsc::Sender<WriteJob>,
}

/// Runs the migrations as the owner (`askpanel migrate`).
pub async fn migrate(owner_url: &str) -> StoreResult<()> {
    let mut connection = PgConnection::connect(owner_url).await?;
    sqlx::migrate!("./migrations/postgres").run(&mut connection).await.map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
    Ok(())
}

impl PgStore {
    /// Connects as the application role.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<PgStore> {
        let options: PgConnectOptions = url.parse().map_err(|e| StoreError::Database(format!("bad postgres url: {e}")))?;
        // A node that freezes mid-transaction (a stalled VM, SIGSTOP) must not
        // hold its row locks forever: the server ends such a session, and a
        // lock wait gives up, so another node can take its panels over.
        let options = options.options([("idle_in_transaction_session_timeout", "4s"), ("lock_timeout", "4s")]);
        let pool = PgPoolOptions::new().max_connections(max_connections.max(2)).acquire_timeout(Duration::from_secs(10)).connect_with(options.clone()).await?;
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
        self.writer.send(job).await.map_err(|_| StoreError::Database("the event writer stopped".into()))
    }
}

async fn set_tenant(connection: &mut PgConnection, tenant: TenantId) -> StoreResult<()> {
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)").bind(tenant.0.to_string()).execute(&mut *connection).await?;
    Ok(())
}

async fn run_writer(mut connection: PgConnection, mut jobs: mpsc::Receiver<WriteJob>, options: PgConnectOptions) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Jobs of one tenant together: the tenant is set once per group.
        batch.sort_by_key(|j| j.tenant().0);
        let results = commit_batch(&mut connection, &batch).await;
        let broken = results.iter().any(|r| matches!(r, Err(StoreError::Database(_))));
        for (job, result) in batch.drain(..).zip(results) {
            match job {
                WriteJob::Create { reply, .. } => {
                    let _ = reply.send(result.map(|o| o.unwrap_or(CreateOutcome::Created)));
                }
                WriteJob::Append { reply, .. } => {
                    let _ = reply.send(result.map(|_| ()));
                }
            }
        }
        if broken && connection.ping().await.is_err() {
            // The connection died (a restart of PostgreSQL): reconnect before the next batch.
            match PgConnection::connect_with(&options).await {
                Ok(fresh) => connection = fresh,
                Err(error) => tracing::warn!(%error, "event writer cannot reconnect yet"),
            }
        }
    }
}

async fn commit_batch(connection: &mut PgConnection, batch: &[WriteJob]) -> Vec<StoreResult<Option<CreateOutcome>>> {
    let fail_all = |e: &StoreError| batch.iter().map(|_| Err(StoreError::Database(e.to_string()))).collect::<Vec<_>>();
    if let Err(e) = sqlx::query("BEGIN").execute(&mut *connection).await {
        return fail_all(&e.into());
    }
    let mut results = Vec::with_capacity(batch.len());
    let mut current: Option<TenantId> = None;
    for job in batch {
        if current != Some(job.tenant()) {
            if let Err(e) = set_tenant(connection, job.tenant()).await {
                let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
                return fail_all(&e);
            }
            current = Some(job.tenant());
        }
        let outcome = async {
            sqlx::query("SAVEPOINT job").execute(&mut *connection).await?;
            let result = run_job(connection, job).await;
            if result.is_err() {
                sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *connection).await?;
            }
            sqlx::query("RELEASE SAVEPOINT job").execute(&mut *connection).await?;
            Ok::<_, StoreError>(result)
        }
        .await;
        match outcome {
            Ok(result) => results.push(result),
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
                return fail_all(&e);
            }
        }
    }
    if let Err(e) = sqlx::query("COMMIT").execute(&mut *connection).await {
        return fail_all(&e.into());
    }
    results
}

async fn run_job(connection: &mut PgConnection, job: &WriteJob) -> StoreResult<Option<CreateOutcome>> {
    match job {
        WriteJob::Create { tenant, panel, event, body, idempotency_key, epoch, .. } => {
            if let Some(key) = idempotency_key {
                let existing = sqlx::query("SELECT panel_id, created_at FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 FOR UPDATE")
                    .bind(tenant.0)
                    .bind(key)
                    .fetch_optional(&mut *connection)
                    .await?;
                if let Some(row) = existing {
                    let created: DateTime<Utc> = row.try_get("created_at")?;
                    if super::idempotency_key_live(created) {
                        return Ok(Some(CreateOutcome::Existing(PanelId(row.try_get("panel_id")?))));
                    }
                    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2").bind(tenant.0).bind(key).execute(&mut *connection).await?;
                }
                sqlx::query("INSERT INTO idempotency_keys (tenant_id, key, panel_id, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(tenant.0)
                    .bind(key)
                    .bind(panel.0)
                    .bind(event.ts)
                    .execute(&mut *connection)
                    .await?;
            }
            let EventData::PanelCreated { panel: view, .. } = &event.data else {
                return Err(StoreError::LogConflict("a panel's first event must be panel_created".into()));
            };
            sqlx::query(
                "INSERT INTO panels (id, tenant_id, created_by, query, panel_type, status, head_seq, owner_epoch, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $8)",
            )
            .bind(panel.0)
            .bind(tenant.0)
            .bind(&view.created_by)
            .bind(&view.query)
            .bind(view.panel_type.as_str())
            .bind(view.status.as_str())
            .bind(*epoch as i64)
            .bind(event.ts)
            .execute(&mut *connection)
            .await?;
            insert_events(connection, *tenant, *panel, std::slice::from_ref(event), std::slice::from_ref(body)).await?;
            add_usage(connection, *tenant, std::slice::from_ref(event)).await?;
            Ok(Some(CreateOutcome::Created))
        }
        WriteJob::Append { tenant, panel, events, bodies, status, epoch, .. } => {
            let (Some(first), Some(last)) = (events.first(), events.last()) else { return Ok(None) };
            let completed_at = status.is_terminal().then_some(last.ts);
            let updated = sqlx::query(
                "UPDATE panels SET head_seq = $1, status = $2, updated_at = $3, completed_at = COALESCE(completed_at, $4) \
                 WHERE id = $5 AND tenant_id = $6 AND head_seq = $7 AND owner_epoch = $8",
            )
            .bind(last.seq as i64)
            .bind(status.as_str())
            .bind(last.ts)
            .bind(completed_at)
            .bind(panel.0)
            .bind(tenant.0)
            .bind(first.seq as i64 - 1)
            .bind(*epoch as i64)
            .execute(&mut *connection)
            .await?;
            if updated.rows_affected() != 1 {
                let row =
                    sqlx::query("SELECT head_seq, owner_epoch FROM panels WHERE id = $1 AND tenant_id = $2").bind(panel.0).bind(tenant.0).fetch_optional(&mut *connection).await?;
                return Err(match row {
                    None => StoreError::NotFound,
                    Some(row) if row.try_get::<i64, _>("owner_epoch")? != *epoch as i64 => StoreError::Fenced,
                    Some(row) => StoreError::LogConflict(format!("seq {} does not follow head {}", first.seq, row.try_get::<i64, _>("head_seq")?)),
                });
            }
            insert_events(connection, *tenant, *panel, events, bodies).await?;
            add_usage(connection, *tenant, events).await?;
            Ok(None)
        }
    }
}

async fn insert_events(connection: &mut PgConnection, tenant: TenantId, panel: PanelId, events: &[Event], bodies: &[String]) -> StoreResult<()> {
    let mut query = sqlx::QueryBuilder::<Postgres>::new("INSERT INTO panel_events (panel_id, seq, tenant_id, kind, body) ");
    query.push_values(events.iter().zip(bodies), |mut row, (event, body)| {
        row.push_bind(panel.0).push_bind(event.seq as i64).push_bind(tenant.0).push_bind(event.data.kind()).push_bind(body.clone());
    });
    query.build().execute(&mut *connection).await.map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(m) => StoreError::LogConflict(m),
        other => other,
    })?;
    Ok(())
}

async fn add_usage(connection: &mut PgConnection, tenant: TenantId, events: &[Event]) -> StoreResult<()> {
    for (month, u) in usage_deltas(events) {
        sqlx::query(
            "INSERT INTO usage (tenant_id, month, panels_created, panels_completed, turns, tokens_in, tokens_out) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, month) DO UPDATE SET panels_created = usage.panels_created + excluded.panels_created, \
             panels_completed = usage.panels_completed + excluded.panels_completed, turns = usage.turns + excluded.turns, \
             tokens_in = usage.tokens_in + excluded.tokens_in, tokens_out = usage.tokens_out + excluded.tokens_out",
        )
        .bind(tenant.0)
        .bind(month)
        .bind(u.panels_created as i64)
        .bind(u.panels_completed as i64)
        .bind(u.turns as i64)
        .bind(u.tokens_in as i64)
        .bind(u.tokens_out as i64)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

fn parse<T: std::str::FromStr<Err = String>>(value: &str) -> StoreResult<T> {
    value.parse().map_err(StoreError::Corrupt)
}

fn tenant_from(row: &PgRow) -> StoreResult<TenantRecord> {
    Ok(TenantRecord {
        id: TenantId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        tier: parse::<Tier>(&row.try_get::<String, _>("tier")?)?,
        status: match row.try_get::<String, _>("status")?.as_str() {
            "suspended" => TenantStatus::Suspended,
            _ => TenantStatus::Active,
        },
        limits: serde_json::from_value(row.try_get::<serde_json::Value, _>("limits")?)?,
        branding: serde_json::from_value::<Branding>(row.try_get::<serde_json::Value, _>("branding")?)?,
        created_at: row.try_get("created_at")?,
    })
}

fn key_from(row: &PgRow) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        id: KeyId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        role: parse::<Role>(&row.try_get::<String, _>("role")?)?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn panel_from(row: &PgRow) -> StoreResult<PanelSummary> {
    Ok(PanelSummary {
        id: PanelId(row.try_get("id")?),
        tenant_id: TenantId(row.try_get("tenant_id")?),
        created_by: row.try_get("created_by")?,
        query: row.try_get("query")?,
        panel_type: parse(&row.try_get::<String, _>("panel_type")?)?,
        status: parse(&row.try_get::<String, _>("status")?)?,
        head_seq: row.try_get::<i64, _>("head_seq")? as u64,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        completed_at: row.try_get("completed_at")?,
    })
}

fn expert_from(row: &PgRow) -> StoreResult<Expert> {
    let mut expert: Expert = serde_json::from_str(&row.try_get::<String, _>("body")?)?;
    expert.scope = ExpertScope::Tenant;
    expert.tenant_id = Some(TenantId(row.try_get("tenant_id")?));
    Ok(expert)
}

const TENANT_COLUMNS: &str = "id, slug, name, tier, status, limits, branding, created_at";
const KEY_COLUMNS: &str = "id, tenant_id, role, name, prefix, created_at, revoked_at";
const PANEL_COLUMNS: &str = "id, tenant_id, created_by, query, panel_type, status, head_seq, created_at, updated_at, completed_at";

async fn insert_key(tx: &mut Transaction<'_, Postgres>, tenant: TenantId, key: &KeyRecord, hash: &str) -> StoreResult<()> {
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
        Ok(sqlx::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(&self.pool).await?.map(|r| r.get("value")))
    }

    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING").bind(key).bind(value).execute(&self.pool).await?;
        self.get_setting(key).await?.ok_or(StoreError::NotFound)
    }

    async fn count_tenants(&self) -> StoreResult<u64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM tenants").fetch_one(&self.pool).await?.try_get::<i64, _>("n")? as u64)
    }

    async fn create_tenant(&self, tenant: &TenantRecord, admin_key: &KeyRecord, admin_key_hash: &str) -> StoreResult<()> {
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
        sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?.iter().map(tenant_from).collect()
    }

    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<TenantRecord>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_optional(&self.pool).await?.as_ref().map(tenant_from).transpose()
    }

    async fn get_tenant_by_slug(&self, slug: &str) -> StoreResult<Option<TenantRecord>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(slug).fetch_optional(&self.pool).await?.as_ref().map(tenant_from).transpose()
    }

    async fn update_tenant(&self, id: TenantId, patch: &TenantPatch) -> StoreResult<Option<TenantRecord>> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1 FOR UPDATE");
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.0).fetch_optional(&mut *tx).await? else { return Ok(None) };
        let mut tenant = tenant_from(&row)?;
        if let Some(status) = patch.status {
            tenant.status = status;
        }
        if let Some(tier) = patch.tier {
            tenant.tier = tier;
        }
        if let Some(limits) = patch.limits {
            tenant.limits = limits;
        }
        if let Some(branding) = &patch.branding {
            tenant.branding = branding.clone();
        }
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
        sqlx::query("SELECT * FROM askpanel_find_key($1)").bind(hash).fetch_optional(&self.pool).await?.as_ref().map(key_from).transpose()
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
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(key_from).collect()
    }

    async fn get_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<Option<KeyRecord>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).bind(key.0).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        row.as_ref().map(key_from).transpose()
    }

    async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<bool> {
        let mut tx = self.tenant_tx(tenant).await?;
        let result = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3")
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
        let rows = sqlx::query("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 ORDER BY id").bind(tenant.0).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(expert_from).collect()
    }

    async fn get_expert(&self, tenant: TenantId, id: ExpertId) -> StoreResult<Option<Expert>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 AND id = $2").bind(tenant.0).bind(id.0).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        row.as_ref().map(expert_from).transpose()
    }

    async fn list_panels(&self, tenant: TenantId, status: Option<PanelStatus>, limit: u32, cursor: Option<PanelCursor>) -> StoreResult<Vec<PanelSummary>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let sql =
            format!("SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id < $3) ORDER BY id DESC LIMIT $4");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).bind(status.map(|s| s.as_str())).bind(cursor.map(|c| c.0.0)).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(panel_from).collect()
    }

    async fn idempotent_panel(&self, tenant: TenantId, key: &str) -> StoreResult<Option<PanelId>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query("SELECT panel_id, created_at FROM idempotency_keys WHERE tenant_id = $1 AND key = $2").bind(tenant.0).bind(key).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let created: DateTime<Utc> = row.try_get("created_at")?;
        Ok((super::idempotency_key_live(created)).then(|| row.try_get("panel_id").map(PanelId)).transpose()?)
    }

    async fn get_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Option<PanelSummary>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let sql = format!("SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).bind(panel.0).fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        row.as_ref().map(panel_from).transpose()
    }

    async fn events_page(&self, tenant: TenantId, panel: PanelId, after: u64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query("SELECT seq, kind, body FROM panel_events WHERE tenant_id = $1 AND panel_id = $2 AND seq > $3 ORDER BY seq LIMIT $4")
            .bind(tenant.0)
            .bind(panel.0)
            .bind(after.min(i64::MAX as u64) as i64)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(|r| Ok(StoredEvent { seq: r.try_get::<i64, _>("seq")? as u64, kind: r.try_get("kind")?, body: r.try_get("body")? })).collect()
    }

    async fn usage(&self, tenant: TenantId, month: &str) -> StoreResult<Usage> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row = sqlx::query("SELECT panels_created, panels_completed, turns, tokens_in, tokens_out FROM usage WHERE tenant_id = $1 AND month = $2")
            .bind(tenant.0)
            .bind(month)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(r) = row else { return Ok(Usage::default()) };
        let get = |c: &str| r.try_get::<i64, _>(c).map(|v| v as u64);
        Ok(Usage {
            panels_created: get("panels_created")?,
            panels_completed: get("panels_completed")?,
            turns: get("turns")?,
            tokens_in: get("tokens_in")?,
            tokens_out: get("tokens_out")?,
        })
    }

    async fn panel_counts(&self) -> StoreResult<Vec<(PanelStatus, u64)>> {
        let rows = sqlx::query("SELECT status, n FROM askpanel_panel_counts()").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((parse(&r.try_get::<String, _>("status")?)?, r.try_get::<i64, _>("n")? as u64))).collect()
    }

    async fn count_active_panels(&self, tenant: TenantId) -> StoreResult<u64> {
        let mut tx = self.tenant_tx(tenant).await?;
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM panels WHERE tenant_id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')").bind(tenant.0).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    async fn limit_size(&self, _max_bytes: Option<u64>) -> StoreResult<()> {
        Err(StoreError::Database("a size cap is set on the PostgreSQL server (quotas, tablespaces), not here".into()))
    }

    async fn create_panel(&self, tenant: TenantId, panel: PanelId, event: &Event, idempotency_key: Option<&str>, epoch: u64) -> StoreResult<CreateOutcome> {
        let (reply, answer) = oneshot::channel();
        let body = serde_json::to_string(event)?;
        let idempotency_key = idempotency_key.map(str::to_string);
        self.write(WriteJob::Create { tenant, panel, event: Box::new(event.clone()), body, idempotency_key, epoch, reply }).await?;
        answer.await.map_err(|_| StoreError::Database("the event writer stopped".into()))?
    }

    async fn append_events(&self, tenant: TenantId, panel: PanelId, events: &[Event], status: PanelStatus, epoch: u64) -> StoreResult<()> {
        let bodies = events.iter().map(serde_json::to_string).collect::<Result<Vec<_>, _>>()?;
        let (reply, answer) = oneshot::channel();
        self.write(WriteJob::Append { tenant, panel, events: events.to_vec(), bodies, status, epoch, reply }).await?;
        answer.await.map_err(|_| StoreError::Database("the event writer stopped".into()))?
    }

    async fn claim_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<u64> {
        let mut tx = self.tenant_tx(tenant).await?;
        let epoch: Option<i64> = sqlx::query_scalar("UPDATE panels SET owner_epoch = owner_epoch + 1 WHERE id = $1 AND tenant_id = $2 RETURNING owner_epoch")
            .bind(panel.0)
            .bind(tenant.0)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        epoch.map(|e| e as u64).ok_or(StoreError::NotFound)
    }

    async fn load_events(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<Event>> {
        let mut tx = self.tenant_tx(tenant).await?;
        let rows = sqlx::query("SELECT body FROM panel_events WHERE tenant_id = $1 AND panel_id = $2 ORDER BY seq").bind(tenant.0).bind(panel.0).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?)).collect()
    }

    async fn unfinished_panels(&self) -> StoreResult<Vec<(TenantId, PanelId)>> {
        let rows = sqlx::query("SELECT tenant_id, id FROM askpanel_unfinished_panels()").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((TenantId(r.try_get("tenant_id")?), PanelId(r.try_get("id")?)))).collect()
    }
}
