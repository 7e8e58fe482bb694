//! The SQLite store: the embedded default. WAL mode; reads through a pool;
//! panel event-log writes through one writer task that owns one connection
//! and commits whatever accumulated meanwhile in one transaction (group
//! commit), each job inside its own savepoint so one bad job never fails the
//! others. An append is acknowledged only after its transaction commits.

use std::str::FromStr;
use std::time::Duration;

use askpanel_actors::domain::{ExpertId, KeyId, PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::ports::CreateOutcome;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{
    Branding, KeyRecord, PanelCursor, PanelSummary, Role, Store, StoreError, StoreResult, StoredEvent, TenantPatch, TenantRecord, TenantStatus, Tier, Usage, usage_deltas,
};
use crate::catalog::{Expert, ExpertScope};

/// Jobs the writer takes per transaction at most.
const MAX_BATCH: usize = 256;

enum WriteJob {
    /// Caps the database's size (`PRAGMA max_page_count` on the writer); `None` lifts the cap.
    LimitSize {
        max_bytes: Option<u64>,
        reply: oneshot::Sender<StoreResult<()>>,
    },
    Create {
        tenant: TenantId,
        panel: PanelId,
        event: Box<Event>,
        body: String,
        idempotency_key: Option<String>,
        reply: oneshot::Sender<StoreResult<CreateOutcome>>,
    },
    Append {
        tenant: TenantId,
        panel: PanelId,
        events: Vec<Event>,
        bodies: Vec<String>,
        status: PanelStatus,
        reply: oneshot::Sender<StoreResult<()>>,
    },
}

pub struct SqliteStore {
    pool: SqlitePool,
    writer: mpsc::Sender<WriteJob>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and runs the migrations.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("bad sqlite url: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(max_connections.max(2)).connect_with(options.clone()).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await.map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
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
        self.writer.send(job).await.map_err(|_| StoreError::Database("the event writer stopped".into()))
    }
}

/// The single writer: batches jobs into one transaction per round.
async fn run_writer(mut connection: SqliteConnection, mut jobs: mpsc::Receiver<WriteJob>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Settings first, outside any transaction.
        let mut index = 0;
        while index < batch.len() {
            if matches!(batch[index], WriteJob::LimitSize { .. }) {
                if let WriteJob::LimitSize { max_bytes, reply } = batch.remove(index) {
                    let _ = reply.send(limit_size(&mut connection, max_bytes).await);
                }
            } else {
                index += 1;
            }
        }
        if batch.is_empty() {
            continue;
        }
        let results = commit_batch(&mut connection, &mut batch).await;
        for (job, result) in batch.drain(..).zip(results) {
            match job {
                WriteJob::Create { reply, .. } => {
                    let _ = reply.send(result.map(|o| o.unwrap_or(CreateOutcome::Created)));
                }
                WriteJob::Append { reply, .. } => {
                    let _ = reply.send(result.map(|_| ()));
                }
                WriteJob::LimitSize { .. } => {}
            }
        }
    }
}

async fn limit_size(connection: &mut SqliteConnection, max_bytes: Option<u64>) -> StoreResult<()> {
    let page_size: i64 = sqlx::query("PRAGMA page_size").fetch_one(&mut *connection).await?.try_get(0)?;
    // SQLite's own ceiling when no cap is set.
    let pages = max_bytes.map_or(4_294_967_294, |b| (b / page_size.max(512) as u64).max(1));
    let sql = format!("PRAGMA max_page_count = {pages}");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *connection).await?;
    Ok(())
}

/// Runs a batch in one transaction, set-based: one statement per table for
/// the whole batch rather than several per job (each statement is a round trip
/// to sqlx's SQLite thread). If anything fails part-way the transaction rolls
/// back and each job runs alone, so a bad job only fails itself.
async fn commit_batch(connection: &mut SqliteConnection, batch: &mut [WriteJob]) -> Vec<StoreResult<Option<CreateOutcome>>> {
    match try_batch(connection, batch).await {
        Ok(results) => results,
        Err(error) => {
            tracing::warn!(%error, jobs = batch.len(), "batched commit failed; committing jobs one by one");
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
            let mut results = Vec::with_capacity(batch.len());
            for job in batch.iter() {
                results.push(single_job(connection, job).await);
            }
            results
        }
    }
}

/// One job in its own transaction (the slow path after a failed batch).
async fn single_job(connection: &mut SqliteConnection, job: &WriteJob) -> StoreResult<Option<CreateOutcome>> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *connection).await?;
    match run_job(connection, job).await {
        Ok(outcome) => {
            sqlx::query("COMMIT").execute(&mut *connection).await?;
            Ok(outcome)
        }
        Err(e) => {
            sqlx::query("ROLLBACK").execute(&mut *connection).await?;
            Err(e)
        }
    }
}

/// Rows per multi-row statement (SQLite allows 32766 bound values).
const ROWS_PER_STATEMENT: usize = 500;

struct EventRow<'a> {
    panel: Uuid,
    seq: i64,
    tenant: Uuid,
    kind: &'static str,
    body: &'a str,
}

struct HeadUpdate {
    head: i64,
    status: &'static str,
    at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

async fn try_batch(connection: &mut SqliteConnection, batch: &[WriteJob]) -> StoreResult<Vec<StoreResult<Option<CreateOutcome>>>> {
    use std::collections::{BTreeMap, HashMap};
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *connection).await?;

    // Heads of the panels appended to, read once.
    let mut heads: HashMap<Uuid, (Uuid, i64)> = HashMap::new();
    let appended: Vec<Uuid> = {
        let mut ids: Vec<Uuid> = batch.iter().filter_map(|j| if let WriteJob::Append { panel, .. } = j { Some(panel.0) } else { None }).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    for chunk in appended.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT id, tenant_id, head_seq FROM panels WHERE id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *connection).await? {
            heads.insert(row.try_get("id")?, (row.try_get("tenant_id")?, row.try_get("head_seq")?));
        }
    }

    let mut results = Vec::with_capacity(batch.len());
    let mut new_panels: Vec<(&Event, TenantId, PanelId)> = Vec::new();
    let mut rows: Vec<EventRow> = Vec::new();
    let mut updates: BTreeMap<Uuid, HeadUpdate> = BTreeMap::new();
    let mut usage: BTreeMap<(Uuid, String), Usage> = BTreeMap::new();
    let mut keys_seen: HashMap<(Uuid, &str), PanelId> = HashMap::new();
    let mut keys_new: Vec<(Uuid, &str, Uuid, DateTime<Utc>)> = Vec::new();
    let mut keys_expired: Vec<(Uuid, &str)> = Vec::new();
    let mut add_usage = |tenant: TenantId, events: &[Event]| {
        for (month, u) in usage_deltas(events) {
            let total = usage.entry((tenant.0, month)).or_default();
            total.panels_created += u.panels_created;
            total.panels_completed += u.panels_completed;
            total.turns += u.turns;
            total.tokens_in += u.tokens_in;
            total.tokens_out += u.tokens_out;
        }
    };
    for job in batch {
        match job {
            WriteJob::Create { tenant, panel, event, body, idempotency_key, .. } => {
                if let Some(key) = idempotency_key.as_deref() {
                    if let Some(existing) = keys_seen.get(&(tenant.0, key)) {
                        results.push(Ok(Some(CreateOutcome::Existing(*existing))));
                        continue;
                    }
                    let row = sqlx::query("SELECT panel_id, created_at FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
                        .bind(tenant.0)
                        .bind(key)
                        .fetch_optional(&mut *connection)
                        .await?;
                    if let Some(row) = row {
                        let created: DateTime<Utc> = row.try_get("created_at")?;
                        if super::idempotency_key_live(created) {
                            let existing = PanelId(row.try_get("panel_id")?);
                            keys_seen.insert((tenant.0, key), existing);
                            results.push(Ok(Some(CreateOutcome::Existing(existing))));
                            continue;
                        }
                        keys_expired.push((tenant.0, key));
                    }
                    keys_seen.insert((tenant.0, key), *panel);
                    keys_new.push((tenant.0, key, panel.0, event.ts));
                }
                if !matches!(event.data, EventData::PanelCreated { .. }) || event.seq != 1 || heads.contains_key(&panel.0) {
                    results.push(Err(StoreError::LogConflict("a panel's first event must be panel_created with seq 1".into())));
                    continue;
                }
                heads.insert(panel.0, (tenant.0, 1));
                new_panels.push((event, *tenant, *panel));
                rows.push(EventRow { panel: panel.0, seq: 1, tenant: tenant.0, kind: event.data.kind(), body });
                add_usage(*tenant, std::slice::from_ref(event));
                results.push(Ok(Some(CreateOutcome::Created)));
            }
            WriteJob::LimitSize { .. } => results.push(Ok(None)),
            WriteJob::Append { tenant, panel, events, bodies, status, .. } => {
                let (Some(first), Some(last)) = (events.first(), events.last()) else {
                    results.push(Ok(None));
                    continue;
                };
                let head = match heads.get(&panel.0) {
                    Some((owner, head)) if *owner == tenant.0 => *head,
                    _ => {
                        results.push(Err(StoreError::NotFound));
                        continue;
                    }
                };
                let gapless = first.seq == head as u64 + 1 && events.windows(2).all(|w| w[1].seq == w[0].seq + 1);
                if !gapless {
                    results.push(Err(StoreError::LogConflict(format!("seq {} does not follow head {head}", first.seq))));
                    continue;
                }
                for (event, body) in events.iter().zip(bodies) {
                    rows.push(EventRow { panel: panel.0, seq: event.seq as i64, tenant: tenant.0, kind: event.data.kind(), body });
                }
                heads.insert(panel.0, (tenant.0, last.seq as i64));
                let completed_at = status.is_terminal().then_some(last.ts);
                updates.insert(panel.0, HeadUpdate { head: last.seq as i64, status: status.as_str(), at: last.ts, completed_at });
                add_usage(*tenant, events);
                results.push(Ok(None));
            }
        }
    }

    for (tenant, key) in &keys_expired {
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2").bind(*tenant).bind(*key).execute(&mut *connection).await?;
    }
    for chunk in keys_new.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO idempotency_keys (tenant_id, key, panel_id, created_at) ");
        query.push_values(chunk, |mut row, (tenant, key, panel, at)| {
            row.push_bind(*tenant).push_bind(*key).push_bind(*panel).push_bind(*at);
        });
        query.build().execute(&mut *connection).await?;
    }
    for chunk in new_panels.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO panels (id, tenant_id, created_by, query, panel_type, status, head_seq, created_at, updated_at) ");
        query.push_values(chunk, |mut row, (event, tenant, panel)| {
            if let EventData::PanelCreated { panel: view, .. } = &event.data {
                row.push_bind(panel.0)
                    .push_bind(tenant.0)
                    .push_bind(view.created_by.clone())
                    .push_bind(view.query.clone())
                    .push_bind(view.panel_type.as_str())
                    .push_bind(view.status.as_str())
                    .push_bind(1i64)
                    .push_bind(event.ts)
                    .push_bind(event.ts);
            }
        });
        query.build().execute(&mut *connection).await?;
    }
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO panel_events (panel_id, seq, tenant_id, kind, body) ");
        query.push_values(chunk, |mut row, e| {
            row.push_bind(e.panel).push_bind(e.seq).push_bind(e.tenant).push_bind(e.kind).push_bind(e.body);
        });
        query.build().execute(&mut *connection).await?;
    }
    let updates: Vec<(Uuid, HeadUpdate)> = updates.into_iter().collect();
    for chunk in updates.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "UPDATE panels SET head_seq = v.column2, status = v.column3, updated_at = v.column4, completed_at = COALESCE(panels.completed_at, v.column5) FROM (",
        );
        query.push_values(chunk, |mut row, (id, u)| {
            row.push_bind(*id).push_bind(u.head).push_bind(u.status).push_bind(u.at).push_bind(u.completed_at);
        });
        query.push(") AS v WHERE panels.id = v.column1");
        query.build().execute(&mut *connection).await?;
    }
    let usage: Vec<((Uuid, String), Usage)> = usage.into_iter().collect();
    for chunk in usage.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO usage (tenant_id, month, panels_created, panels_completed, turns, tokens_in, tokens_out) ");
        query.push_values(chunk, |mut row, ((tenant, month), u)| {
            row.push_bind(*tenant)
                .push_bind(month.clone())
                .push_bind(u.panels_created as i64)
                .push_bind(u.panels_completed as i64)
                .push_bind(u.turns as i64)
                .push_bind(u.tokens_in as i64)
                .push_bind(u.tokens_out as i64);
        });
        query.push(
            " ON CONFLICT (tenant_id, month) DO UPDATE SET panels_created = panels_created + excluded.panels_created, \
             panels_completed = panels_completed + excluded.panels_completed, turns = turns + excluded.turns, \
             tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out",
        );
        query.build().execute(&mut *connection).await?;
    }
    sqlx::query("COMMIT").execute(&mut *connection).await?;
    Ok(results)
}

async fn run_job(connection: &mut SqliteConnection, job: &WriteJob) -> StoreResult<Option<CreateOutcome>> {
    match job {
        WriteJob::LimitSize { .. } => Ok(None),
        WriteJob::Create { tenant, panel, event, body, idempotency_key, .. } => {
            if let Some(key) = idempotency_key {
                let existing = sqlx::query("SELECT panel_id, created_at FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
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
                "INSERT INTO panels (id, tenant_id, created_by, query, panel_type, status, head_seq, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
            )
            .bind(panel.0)
            .bind(tenant.0)
            .bind(&view.created_by)
            .bind(&view.query)
            .bind(view.panel_type.as_str())
            .bind(view.status.as_str())
            .bind(event.ts)
            .execute(&mut *connection)
            .await?;
            insert_event(connection, *tenant, *panel, event, body).await?;
            add_usage(connection, *tenant, std::slice::from_ref(event)).await?;
            Ok(Some(CreateOutcome::Created))
        }
        WriteJob::Append { tenant, panel, events, bodies, status, .. } => {
            let Some(first) = events.first() else { return Ok(None) };
            let row = sqlx::query("SELECT tenant_id, head_seq FROM panels WHERE id = $1").bind(panel.0).fetch_optional(&mut *connection).await?;
            let Some(row) = row else { return Err(StoreError::NotFound) };
            let owner: Uuid = row.try_get("tenant_id")?;
            let head: i64 = row.try_get("head_seq")?;
            if owner != tenant.0 {
                return Err(StoreError::NotFound);
            }
            if first.seq != head as u64 + 1 {
                return Err(StoreError::LogConflict(format!("seq {} does not follow head {head}", first.seq)));
            }
            for (event, body) in events.iter().zip(bodies) {
                insert_event(connection, *tenant, *panel, event, body).await?;
            }
            let last = events.last().unwrap_or(first);
            let completed_at = status.is_terminal().then_some(last.ts);
            sqlx::query("UPDATE panels SET head_seq = $1, status = $2, updated_at = $3, completed_at = COALESCE(completed_at, $4) WHERE id = $5")
                .bind(last.seq as i64)
                .bind(status.as_str())
                .bind(last.ts)
                .bind(completed_at)
                .bind(panel.0)
                .execute(&mut *connection)
                .await?;
            add_usage(connection, *tenant, events).await?;
            Ok(None)
        }
    }
}

async fn insert_event(connection: &mut SqliteConnection, tenant: TenantId, panel: PanelId, event: &Event, body: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO panel_events (panel_id, seq, tenant_id, kind, body) VALUES ($1, $2, $3, $4, $5)")
        .bind(panel.0)
        .bind(event.seq as i64)
        .bind(tenant.0)
        .bind(event.data.kind())
        .bind(body)
        .execute(&mut *connection)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(m) => StoreError::LogConflict(m),
            other => other,
        })?;
    Ok(())
}

async fn add_usage(connection: &mut SqliteConnection, tenant: TenantId, events: &[Event]) -> StoreResult<()> {
    for (month, u) in usage_deltas(events) {
        sqlx::query(
            "INSERT INTO usage (tenant_id, month, panels_created, panels_completed, turns, tokens_in, tokens_out) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, month) DO UPDATE SET panels_created = panels_created + excluded.panels_created, \
             panels_completed = panels_completed + excluded.panels_completed, turns = turns + excluded.turns, \
             tokens_in = tokens_in + excluded.tokens_in, tokens_out = tokens_out + excluded.tokens_out",
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

fn parse<T: FromStr<Err = String>>(value: &str) -> StoreResult<T> {
    value.parse().map_err(StoreError::Corrupt)
}

fn tenant_from(row: &SqliteRow) -> StoreResult<TenantRecord> {
    Ok(TenantRecord {
        id: TenantId(row.try_get("id")?),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        tier: parse::<Tier>(&row.try_get::<String, _>("tier")?)?,
        status: match row.try_get::<String, _>("status")?.as_str() {
            "suspended" => TenantStatus::Suspended,
            _ => TenantStatus::Active,
        },
        limits: serde_json::from_str(&row.try_get::<String, _>("limits")?)?,
        branding: serde_json::from_str::<Branding>(&row.try_get::<String, _>("branding")?)?,
        created_at: row.try_get("created_at")?,
    })
}

fn key_from(row: &SqliteRow) -> StoreResult<KeyRecord> {
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

fn panel_from(row: &SqliteRow) -> StoreResult<PanelSummary> {
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

fn expert_from(row: &SqliteRow) -> StoreResult<Expert> {
    let mut expert: Expert = serde_json::from_str(&row.try_get::<String, _>("body")?)?;
    expert.scope = ExpertScope::Tenant;
    expert.tenant_id = Some(TenantId(row.try_get("tenant_id")?));
    Ok(expert)
}

const TENANT_COLUMNS: &str = "id, slug, name, tier, status, limits, branding, created_at";
const KEY_COLUMNS: &str = "id, tenant_id, role, name, prefix, created_at, revoked_at";
const PANEL_COLUMNS: &str = "id, tenant_id, created_by, query, panel_type, status, head_seq, created_at, updated_at, completed_at";

#[async_trait]
impl Store for SqliteStore {
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
        let mut tx = self.write_tx().await?;
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
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
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(&self.pool).await?.as_ref().map(key_from).transpose()
    }

    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, hash: &str) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_key(&mut tx, tenant, key, hash).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_keys(&self, tenant: TenantId) -> StoreResult<Vec<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).fetch_all(&self.pool).await?.iter().map(key_from).collect()
    }

    async fn get_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<Option<KeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).bind(key.0).fetch_optional(&self.pool).await?.as_ref().map(key_from).transpose()
    }

    async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE tenant_id = $2 AND id = $3")
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
        sqlx::query("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 ORDER BY id").bind(tenant.0).fetch_all(&self.pool).await?.iter().map(expert_from).collect()
    }

    async fn get_expert(&self, tenant: TenantId, id: ExpertId) -> StoreResult<Option<Expert>> {
        sqlx::query("SELECT tenant_id, body FROM experts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(expert_from)
            .transpose()
    }

    async fn list_panels(&self, tenant: TenantId, status: Option<PanelStatus>, limit: u32, cursor: Option<PanelCursor>) -> StoreResult<Vec<PanelSummary>> {
        let sql = format!("SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(status.map(|s| s.as_str()))
            .bind(cursor.map(|c| c.0.0))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(panel_from)
            .collect()
    }

    async fn idempotent_panel(&self, tenant: TenantId, key: &str) -> StoreResult<Option<PanelId>> {
        let row = sqlx::query("SELECT panel_id, created_at FROM idempotency_keys WHERE tenant_id = $1 AND key = $2").bind(tenant.0).bind(key).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let created: DateTime<Utc> = row.try_get("created_at")?;
        Ok((super::idempotency_key_live(created)).then(|| row.try_get("panel_id").map(PanelId)).transpose()?)
    }

    async fn get_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Option<PanelSummary>> {
        let sql = format!("SELECT {PANEL_COLUMNS} FROM panels WHERE tenant_id = $1 AND id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.0).bind(panel.0).fetch_optional(&self.pool).await?.as_ref().map(panel_from).transpose()
    }

    async fn events_page(&self, tenant: TenantId, panel: PanelId, after: u64, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query("SELECT seq, kind, body FROM panel_events WHERE tenant_id = $1 AND panel_id = $2 AND seq > $3 ORDER BY seq LIMIT $4")
            .bind(tenant.0)
            .bind(panel.0)
            .bind(after.min(i64::MAX as u64) as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(StoredEvent { seq: r.try_get::<i64, _>("seq")? as u64, kind: r.try_get("kind")?, body: r.try_get("body")? })).collect()
    }

    async fn usage(&self, tenant: TenantId, month: &str) -> StoreResult<Usage> {
        let row = sqlx::query("SELECT panels_created, panels_completed, turns, tokens_in, tokens_out FROM usage WHERE tenant_id = $1 AND month = $2")
            .bind(tenant.0)
            .bind(month)
            .fetch_optional(&self.pool)
            .await?;
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
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM panels GROUP BY status").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((parse(&r.try_get::<String, _>("status")?)?, r.try_get::<i64, _>("n")? as u64))).collect()
    }

    async fn count_active_panels(&self, tenant: TenantId) -> StoreResult<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM panels WHERE tenant_id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')")
            .bind(tenant.0)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    /// A single SQLite node has no leases: every write is its own.
    async fn claim_panel(&self, _tenant: TenantId, _panel: PanelId) -> StoreResult<u64> {
        Ok(0)
    }

    async fn create_panel(&self, tenant: TenantId, panel: PanelId, event: &Event, idempotency_key: Option<&str>, _epoch: u64) -> StoreResult<CreateOutcome> {
        let (reply, answer) = oneshot::channel();
        let body = serde_json::to_string(event)?;
        let idempotency_key = idempotency_key.map(str::to_string);
        self.write(WriteJob::Create { tenant, panel, event: Box::new(event.clone()), body, idempotency_key, reply }).await?;
        answer.await.map_err(|_| StoreError::Database("the event writer stopped".into()))?
    }

    async fn append_events(&self, tenant: TenantId, panel: PanelId, events: &[Event], status: PanelStatus, _epoch: u64) -> StoreResult<()> {
        let bodies = events.iter().map(serde_json::to_string).collect::<Result<Vec<_>, _>>()?;
        let (reply, answer) = oneshot::channel();
        self.write(WriteJob::Append { tenant, panel, events: events.to_vec(), bodies, status, reply }).await?;
        answer.await.map_err(|_| StoreError::Database("the event writer stopped".into()))?
    }

    async fn limit_size(&self, max_bytes: Option<u64>) -> StoreResult<()> {
        let (reply, answer) = oneshot::channel();
        self.write(WriteJob::LimitSize { max_bytes, reply }).await?;
        answer.await.map_err(|_| StoreError::Database("the event writer stopped".into()))?
    }

    async fn load_events(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<Event>> {
        let rows = sqlx::query("SELECT body FROM panel_events WHERE tenant_id = $1 AND panel_id = $2 ORDER BY seq").bind(tenant.0).bind(panel.0).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(serde_json::from_str(&r.try_get::<String, _>("body")?)?)).collect()
    }

    async fn unfinished_panels(&self) -> StoreResult<Vec<(TenantId, PanelId)>> {
        let rows = sqlx::query("SELECT tenant_id, id FROM panels WHERE status NOT IN ('completed', 'failed', 'cancelled') ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((TenantId(r.try_get("tenant_id")?), PanelId(r.try_get("id")?)))).collect()
    }
}

async fn insert_key(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, tenant: TenantId, key: &KeyRecord, hash: &str) -> StoreResult<()> {
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
