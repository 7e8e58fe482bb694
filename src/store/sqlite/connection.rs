//! The statements the SQLite writer runs on its connection for one event
//! or one tenant (size cap, event rows, usage, quota reads), beside the
//! batching in [`super::writer`].

use askpanel_actors::domain::{PanelId, TenantId};
use askpanel_actors::event::Event;
use sqlx::{Row, SqliteConnection};

use crate::store::{StoreError, StoreResult, UNFINISHED, usage_deltas};

pub(super) async fn limit_size(connection: &mut SqliteConnection, max_bytes: Option<u64>) -> StoreResult<()> {
    let page_size: i64 = sqlx::query("PRAGMA page_size").fetch_one(&mut *connection).await?.try_get(0)?;
    // SQLite's own ceiling when no cap is set.
    let pages = max_bytes.map_or(4_294_967_294, |b| (b / page_size.max(512) as u64).max(1));
    let sql = format!("PRAGMA max_page_count = {pages}");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *connection).await?;
    Ok(())
}

pub(super) async fn insert_event(
    connection: &mut SqliteConnection,
    tenant: TenantId,
    panel: PanelId,
    event: &Event,
    body: &str,
) -> StoreResult<()> {
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

pub(super) async fn add_usage(
    connection: &mut SqliteConnection,
    tenant: TenantId,
    events: &[Event],
) -> StoreResult<()> {
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

/// A tenant's (panels created, tokens spent) in a month, as stored.
pub(super) async fn month_usage(
    connection: &mut SqliteConnection,
    tenant: TenantId,
    month: &str,
) -> StoreResult<(u64, u64)> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT panels_created, tokens_in + tokens_out FROM usage WHERE tenant_id = $1 AND month = $2")
            .bind(tenant.0)
            .bind(month)
            .fetch_optional(&mut *connection)
            .await?;
    Ok(row.map_or((0, 0), |(panels, tokens)| (panels.max(0) as u64, tokens.max(0) as u64)))
}

/// A tenant's unfinished panels, as stored.
pub(super) async fn active_panels(connection: &mut SqliteConnection, tenant: TenantId) -> StoreResult<u64> {
    let active: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM panels WHERE tenant_id = $1 AND {UNFINISHED}"
    )))
    .bind(tenant.0)
    .fetch_one(&mut *connection)
    .await?;
    Ok(active.max(0) as u64)
}
