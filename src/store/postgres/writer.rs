//! The PostgreSQL event writer: one task per node commits whatever
//! accumulated meanwhile in one transaction, jobs of one tenant together (the
//! tenant is set once per group), each job in a savepoint; it refuses a write
//! whose lease epoch is not the panel's (fencing a stale owner), and
//! reconnects when PostgreSQL restarted.

use std::sync::Arc;

use askpanel_actors::domain::{PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::ports::{CreateOutcome, Quotas};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Row};
use tokio::sync::{mpsc, oneshot};

use super::set_tenant;
use crate::store::rows::{IDEMPOTENCY_KEY, IdempotencyRow};
use crate::store::{StoreError, StoreResult, UNFINISHED, month_of, quota_refusal, usage_deltas};

/// Jobs the writer takes per transaction at most.
const MAX_BATCH: usize = 256;

pub(super) enum WriteJob {
    Create {
        tenant: TenantId,
        panel: PanelId,
        event: Box<Event>,
        body: Arc<str>,
        idempotency_key: Option<String>,
        request_hash: Option<String>,
        quota: Option<Quotas>,
        epoch: u64,
        reply: oneshot::Sender<StoreResult<CreateOutcome>>,
    },
    Append {
        tenant: TenantId,
        panel: PanelId,
        events: Vec<Event>,
        bodies: Vec<Arc<str>>,
        status: PanelStatus,
        epoch: u64,
        reply: oneshot::Sender<StoreResult<()>>,
    },
}

impl WriteJob {
    fn tenant(&self) -> TenantId {
        match self {
            WriteJob::Create { tenant, .. } | WriteJob::Append { tenant, .. } => *tenant,
        }
    }
}

pub(super) async fn run_writer(
    mut connection: PgConnection,
    mut jobs: mpsc::Receiver<WriteJob>,
    options: PgConnectOptions,
) {
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
    match try_commit(connection, batch).await {
        Ok(results) => results,
        Err(error) => {
            // The transaction is lost: every job of the batch fails with the same error.
            let error = Arc::new(error);
            batch.iter().map(|_| Err(StoreError::Database(error.clone()))).collect()
        }
    }
}

/// Commits a batch, each job in a savepoint so that one job's own failure
/// fails only that job; `Err` when the transaction itself failed.
async fn try_commit(
    connection: &mut PgConnection,
    batch: &[WriteJob],
) -> Result<Vec<StoreResult<Option<CreateOutcome>>>, sqlx::Error> {
    sqlx::query("BEGIN").execute(&mut *connection).await?;
    let mut results = Vec::with_capacity(batch.len());
    let mut current: Option<TenantId> = None;
    for job in batch {
        let outcome = async {
            if current != Some(job.tenant()) {
                set_tenant(connection, job.tenant()).await?;
                current = Some(job.tenant());
            }
            sqlx::query("SAVEPOINT job").execute(&mut *connection).await?;
            let result = run_job(connection, job).await;
            if result.is_err() {
                sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut *connection).await?;
            }
            sqlx::query("RELEASE SAVEPOINT job").execute(&mut *connection).await?;
            Ok::<_, sqlx::Error>(result)
        }
        .await;
        match outcome {
            Ok(result) => results.push(result),
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
                return Err(e);
            }
        }
    }
    sqlx::query("COMMIT").execute(&mut *connection).await?;
    Ok(results)
}

async fn run_job(connection: &mut PgConnection, job: &WriteJob) -> StoreResult<Option<CreateOutcome>> {
    match job {
        WriteJob::Create { tenant, panel, event, body, idempotency_key, request_hash, quota, epoch, .. } => {
            if let Some(quota) = quota {
                check_quota(connection, *tenant, &month_of(event.ts), quota).await?;
            }
            if let Some(key) = idempotency_key {
                let locked = format!("{IDEMPOTENCY_KEY} FOR UPDATE");
                let existing = sqlx::query_as::<_, IdempotencyRow>(AssertSqlSafe(locked))
                    .bind(tenant.0)
                    .bind(key)
                    .fetch_optional(&mut *connection)
                    .await?;
                if let Some(row) = existing {
                    if let Some(panel) = row.live_panel() {
                        return Ok(Some(CreateOutcome::Existing(panel)));
                    }
                    sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
                        .bind(tenant.0)
                        .bind(key)
                        .execute(&mut *connection)
                        .await?;
                }
                sqlx::query(
                    "INSERT INTO idempotency_keys (tenant_id, key, panel_id, created_at, request_hash) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(tenant.0)
                .bind(key)
                .bind(panel.0)
                .bind(event.ts)
                .bind(request_hash)
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
                let row = sqlx::query("SELECT head_seq, owner_epoch FROM panels WHERE id = $1 AND tenant_id = $2")
                    .bind(panel.0)
                    .bind(tenant.0)
                    .fetch_optional(&mut *connection)
                    .await?;
                return Err(match row {
                    None => StoreError::NotFound,
                    Some(row) if row.try_get::<i64, _>("owner_epoch")? != *epoch as i64 => StoreError::Fenced,
                    Some(row) => StoreError::LogConflict(format!(
                        "seq {} does not follow head {}",
                        first.seq,
                        row.try_get::<i64, _>("head_seq")?
                    )),
                });
            }
            insert_events(connection, *tenant, *panel, events, bodies).await?;
            add_usage(connection, *tenant, events).await?;
            Ok(None)
        }
    }
}

async fn insert_events(
    connection: &mut PgConnection,
    tenant: TenantId,
    panel: PanelId,
    events: &[Event],
    bodies: &[Arc<str>],
) -> StoreResult<()> {
    let mut query =
        sqlx::QueryBuilder::<Postgres>::new("INSERT INTO panel_events (panel_id, seq, tenant_id, kind, body) ");
    query.push_values(events.iter().zip(bodies), |mut row, (event, body)| {
        row.push_bind(panel.0)
            .push_bind(event.seq as i64)
            .push_bind(tenant.0)
            .push_bind(event.data.kind())
            .push_bind(&**body);
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

/// Checks a tenant's quotas with the tenant's row and the month's usage row
/// locked (the latter made first if need be), so that creates on every node
/// pass one at a time: each sees the panels the others created.
///
/// `FOR NO KEY UPDATE`, not `FOR UPDATE`: it serialises the creates just the
/// same but lets rows that merely reference the tenant be inserted (their
/// foreign-key check takes `FOR KEY SHARE`). With `FOR UPDATE`, the
/// announcer (notifications and daily usage inserted, then the panel's row
/// claimed) and this writer (a panel's row updated by an append, then the
/// tenant's row locked by a create in the same batch) deadlocked, and the
/// whole batch failed as 503s.
async fn check_quota(connection: &mut PgConnection, tenant: TenantId, month: &str, quota: &Quotas) -> StoreResult<()> {
    sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
        .bind(tenant.0)
        .execute(&mut *connection)
        .await?;
    let active: i64 =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM panels WHERE tenant_id = $1 AND {UNFINISHED}")))
            .bind(tenant.0)
            .fetch_one(&mut *connection)
            .await?;
    sqlx::query("INSERT INTO usage (tenant_id, month) VALUES ($1, $2) ON CONFLICT (tenant_id, month) DO NOTHING")
        .bind(tenant.0)
        .bind(month)
        .execute(&mut *connection)
        .await?;
    let (panels, tokens): (i64, i64) = sqlx::query_as(
        "SELECT panels_created, tokens_in + tokens_out FROM usage WHERE tenant_id = $1 AND month = $2 FOR UPDATE",
    )
    .bind(tenant.0)
    .bind(month)
    .fetch_one(&mut *connection)
    .await?;
    match quota_refusal(quota, active.max(0) as u64, panels.max(0) as u64, tokens.max(0) as u64) {
        Some(why) => Err(StoreError::LimitExceeded(why)),
        None => Ok(()),
    }
}
