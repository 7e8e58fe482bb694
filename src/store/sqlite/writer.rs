//! The SQLite event writer: one task owns one connection and commits
//! whatever accumulated meanwhile in one transaction (group commit), set-based
//! (one statement per table for the whole batch). If the batch fails
//! part-way it rolls back and each job runs alone, so one bad job never fails
//! the others. An append is acknowledged only after its transaction commits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use askpanel_actors::domain::{PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::ports::{CreateOutcome, Quotas};
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::connection::{active_panels, add_usage, insert_event, limit_size, month_usage};
use crate::store::rows::{IDEMPOTENCY_KEY, IdempotencyRow};
use crate::store::{StoreError, StoreResult, Usage, month_of, quota_refusal, usage_deltas};

/// An idempotency key to insert: tenant, key, panel, when, request digest.
type NewKeyRow<'a> = (Uuid, &'a str, Uuid, DateTime<Utc>, Option<&'a str>);

/// Jobs the writer takes per transaction at most.
const MAX_BATCH: usize = 256;

pub(super) enum WriteJob {
    /// Caps the database's size (`PRAGMA max_page_count` on the writer); `None` lifts the cap.
    LimitSize { max_bytes: Option<u64>, reply: oneshot::Sender<StoreResult<()>> },
    Create {
        tenant: TenantId,
        panel: PanelId,
        event: Box<Event>,
        body: Arc<str>,
        idempotency_key: Option<String>,
        request_hash: Option<String>,
        quota: Option<Quotas>,
        reply: oneshot::Sender<StoreResult<CreateOutcome>>,
    },
    Append {
        tenant: TenantId,
        panel: PanelId,
        events: Vec<Event>,
        bodies: Vec<Arc<str>>,
        status: PanelStatus,
        reply: oneshot::Sender<StoreResult<()>>,
    },
}

/// The single writer: batches jobs into one transaction per round.
pub(super) async fn run_writer(mut connection: SqliteConnection, mut jobs: mpsc::Receiver<WriteJob>) {
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

/// Runs a batch in one transaction, set-based: one statement per table for
/// the whole batch rather than several per job (each statement is a round trip
/// to sqlx's SQLite thread). If anything fails part-way the transaction rolls
/// back and each job runs alone, so a bad job only fails itself.
async fn commit_batch(
    connection: &mut SqliteConnection,
    batch: &mut [WriteJob],
) -> Vec<StoreResult<Option<CreateOutcome>>> {
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

struct NewEventRow<'a> {
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

async fn try_batch(
    connection: &mut SqliteConnection,
    batch: &[WriteJob],
) -> StoreResult<Vec<StoreResult<Option<CreateOutcome>>>> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *connection).await?;

    // Heads of the panels appended to, read once.
    let mut heads: HashMap<Uuid, (Uuid, i64)> = HashMap::new();
    let appended: Vec<Uuid> = {
        let mut ids: Vec<Uuid> = batch
            .iter()
            .filter_map(|j| if let WriteJob::Append { panel, .. } = j { Some(panel.0) } else { None })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    for chunk in appended.chunks(ROWS_PER_STATEMENT) {
        let mut query =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT id, tenant_id, head_seq FROM panels WHERE id IN (");
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
    let mut rows: Vec<NewEventRow> = Vec::new();
    let mut updates: BTreeMap<Uuid, HeadUpdate> = BTreeMap::new();
    let mut usage: BTreeMap<(Uuid, String), Usage> = BTreeMap::new();
    let mut keys_seen: HashMap<(Uuid, &str), PanelId> = HashMap::new();
    let mut keys_new: Vec<NewKeyRow> = Vec::new();
    // Quotas: each tenant-month's stored (panels, tokens), and the creates accepted in this batch.
    let mut stored_usage: HashMap<(Uuid, String), (u64, u64)> = HashMap::new();
    let mut created_now: HashMap<(Uuid, String), u64> = HashMap::new();
    let mut stored_active: HashMap<Uuid, u64> = HashMap::new();
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
            WriteJob::Create { tenant, panel, event, body, idempotency_key, request_hash, quota, .. } => {
                // The month's quotas, counting the creates accepted earlier in this batch.
                if let Some(quota) = quota {
                    let month = month_of(event.ts);
                    let counted = (tenant.0, month);
                    let (panels, tokens) = match stored_usage.get(&counted) {
                        Some(stored) => *stored,
                        None => {
                            let stored = month_usage(connection, *tenant, &counted.1).await?;
                            stored_usage.insert(counted.clone(), stored);
                            stored
                        }
                    };
                    let active = match stored_active.get(&tenant.0) {
                        Some(active) => *active,
                        None => {
                            let active = active_panels(connection, *tenant).await?;
                            stored_active.insert(tenant.0, active);
                            active
                        }
                    };
                    let pending = created_now.get(&counted).copied().unwrap_or(0);
                    let pending_active: u64 =
                        created_now.iter().filter(|((t, _), _)| *t == tenant.0).map(|(_, n)| *n).sum();
                    if let Some(why) = quota_refusal(quota, active + pending_active, panels + pending, tokens) {
                        results.push(Err(StoreError::LimitExceeded(why)));
                        continue;
                    }
                    *created_now.entry(counted).or_insert(0) += 1;
                }
                if let Some(key) = idempotency_key.as_deref() {
                    if let Some(existing) = keys_seen.get(&(tenant.0, key)) {
                        results.push(Ok(Some(CreateOutcome::Existing(*existing))));
                        continue;
                    }
                    let row = sqlx::query_as::<_, IdempotencyRow>(IDEMPOTENCY_KEY)
                        .bind(tenant.0)
                        .bind(key)
                        .fetch_optional(&mut *connection)
                        .await?;
                    if let Some(row) = row {
                        if let Some(existing) = row.live_panel() {
                            keys_seen.insert((tenant.0, key), existing);
                            results.push(Ok(Some(CreateOutcome::Existing(existing))));
                            continue;
                        }
                        keys_expired.push((tenant.0, key));
                    }
                    keys_seen.insert((tenant.0, key), *panel);
                    keys_new.push((tenant.0, key, panel.0, event.ts, request_hash.as_deref()));
                }
                if !matches!(event.data, EventData::PanelCreated { .. })
                    || event.seq != 1
                    || heads.contains_key(&panel.0)
                {
                    results.push(Err(StoreError::LogConflict(
                        "a panel's first event must be panel_created with seq 1".into(),
                    )));
                    continue;
                }
                heads.insert(panel.0, (tenant.0, 1));
                new_panels.push((event, *tenant, *panel));
                rows.push(NewEventRow { panel: panel.0, seq: 1, tenant: tenant.0, kind: event.data.kind(), body });
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
                    results
                        .push(Err(StoreError::LogConflict(format!("seq {} does not follow head {head}", first.seq))));
                    continue;
                }
                for (event, body) in events.iter().zip(bodies) {
                    rows.push(NewEventRow {
                        panel: panel.0,
                        seq: event.seq as i64,
                        tenant: tenant.0,
                        kind: event.data.kind(),
                        body,
                    });
                }
                heads.insert(panel.0, (tenant.0, last.seq as i64));
                let completed_at = status.is_terminal().then_some(last.ts);
                updates.insert(
                    panel.0,
                    HeadUpdate { head: last.seq as i64, status: status.as_str(), at: last.ts, completed_at },
                );
                add_usage(*tenant, events);
                results.push(Ok(None));
            }
        }
    }

    for (tenant, key) in &keys_expired {
        sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2")
            .bind(*tenant)
            .bind(*key)
            .execute(&mut *connection)
            .await?;
    }
    for chunk in keys_new.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO idempotency_keys (tenant_id, key, panel_id, created_at, request_hash) ",
        );
        query.push_values(chunk, |mut row, (tenant, key, panel, at, hash)| {
            row.push_bind(*tenant).push_bind(*key).push_bind(*panel).push_bind(*at).push_bind(*hash);
        });
        query.build().execute(&mut *connection).await?;
    }
    for chunk in new_panels.chunks(ROWS_PER_STATEMENT) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO panels (id, tenant_id, created_by, query, panel_type, status, head_seq, created_at, updated_at) ",
        );
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
        let mut query =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO panel_events (panel_id, seq, tenant_id, kind, body) ");
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
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO usage (tenant_id, month, panels_created, panels_completed, turns, tokens_in, tokens_out) ",
        );
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
        WriteJob::Create { tenant, panel, event, body, idempotency_key, request_hash, quota, .. } => {
            if let Some(quota) = quota {
                let (panels, tokens) = month_usage(connection, *tenant, &month_of(event.ts)).await?;
                let active = active_panels(connection, *tenant).await?;
                if let Some(why) = quota_refusal(quota, active, panels, tokens) {
                    return Err(StoreError::LimitExceeded(why));
                }
            }
            if let Some(key) = idempotency_key {
                let existing = sqlx::query_as::<_, IdempotencyRow>(IDEMPOTENCY_KEY)
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
            let row = sqlx::query("SELECT tenant_id, head_seq FROM panels WHERE id = $1")
                .bind(panel.0)
                .fetch_optional(&mut *connection)
                .await?;
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
