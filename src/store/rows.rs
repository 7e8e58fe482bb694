//! Rows as both backends return them, and their mapping to the domain
//! records: one `#[derive(FromRow)]` struct a shape, decoded the same way
//! from SQLite and PostgreSQL (`Json<T>` reads SQLite's JSON text and
//! PostgreSQL's JSONB alike). Text columns that name an enum are parsed
//! here, and a value that does not parse is a corrupt row.

use std::str::FromStr;

use askpanel_actors::domain::{KeyId, PanelId, PanelStatus, TenantId};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    Branding, KeyRecord, PanelSummary, StoreError, StoreResult, StoredEvent, TenantRecord, TenantStatus, Usage,
};
use crate::catalog::{Expert, ExpertScope};
use crate::configuration::LimitOverrides;

/// The columns a [`TenantRow`] reads.
pub const TENANT_COLUMNS: &str = "id, slug, name, tier, status, limits, branding, created_at";
/// The columns a [`KeyRow`] reads.
pub const KEY_COLUMNS: &str = "id, tenant_id, role, name, prefix, created_at, revoked_at, last_used_at";
/// The columns a [`PanelRow`] reads.
pub const PANEL_COLUMNS: &str =
    "id, tenant_id, created_by, query, panel_type, status, head_seq, created_at, updated_at, completed_at";

/// A page of a panel's events (`tenant_id = $1, panel_id = $2, seq > $3, LIMIT $4`).
pub const EVENTS_PAGE: &str = "SELECT seq, kind, body FROM panel_events WHERE tenant_id = $1 AND panel_id = $2 AND seq > $3 ORDER BY seq LIMIT $4";
/// A tenant's usage in a month (`tenant_id = $1, month = $2`).
pub const USAGE: &str = "SELECT panels_created, panels_completed, turns, tokens_in, tokens_out FROM usage WHERE tenant_id = $1 AND month = $2";
/// The panel an `Idempotency-Key` created (`tenant_id = $1, key = $2`).
pub const IDEMPOTENCY_KEY: &str =
    "SELECT panel_id, created_at, request_hash FROM idempotency_keys WHERE tenant_id = $1 AND key = $2";

fn parse<T: FromStr<Err = String>>(value: &str) -> StoreResult<T> {
    value.parse().map_err(StoreError::Corrupt)
}

#[derive(sqlx::FromRow)]
pub struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    tier: String,
    status: String,
    limits: Json<LimitOverrides>,
    branding: Json<Branding>,
    created_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for TenantRecord {
    type Error = StoreError;
    fn try_from(row: TenantRow) -> StoreResult<Self> {
        Ok(TenantRecord {
            id: TenantId(row.id),
            slug: row.slug,
            name: row.name,
            tier: parse(&row.tier)?,
            status: if row.status == "suspended" { TenantStatus::Suspended } else { TenantStatus::Active },
            limits: row.limits.0,
            branding: row.branding.0,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct KeyRow {
    id: Uuid,
    tenant_id: Uuid,
    role: String,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    /// Not in `askpanel_find_key`'s answer (authentication has no use for it).
    #[sqlx(default)]
    last_used_at: Option<DateTime<Utc>>,
}

impl TryFrom<KeyRow> for KeyRecord {
    type Error = StoreError;
    fn try_from(row: KeyRow) -> StoreResult<Self> {
        Ok(KeyRecord {
            id: KeyId(row.id),
            tenant_id: TenantId(row.tenant_id),
            role: parse(&row.role)?,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PanelRow {
    id: Uuid,
    tenant_id: Uuid,
    created_by: String,
    query: String,
    panel_type: String,
    status: String,
    head_seq: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl TryFrom<PanelRow> for PanelSummary {
    type Error = StoreError;
    fn try_from(row: PanelRow) -> StoreResult<Self> {
        Ok(PanelSummary {
            id: PanelId(row.id),
            tenant_id: TenantId(row.tenant_id),
            created_by: row.created_by,
            query: row.query,
            panel_type: parse(&row.panel_type)?,
            status: parse(&row.status)?,
            head_seq: row.head_seq as u64,
            created_at: row.created_at,
            updated_at: row.updated_at,
            completed_at: row.completed_at,
        })
    }
}

/// A tenant's own expert: the persona as JSON text.
#[derive(sqlx::FromRow)]
pub struct ExpertRow {
    tenant_id: Uuid,
    body: String,
}

impl TryFrom<ExpertRow> for Expert {
    type Error = StoreError;
    fn try_from(row: ExpertRow) -> StoreResult<Self> {
        let mut expert: Expert = serde_json::from_str(&row.body)?;
        expert.scope = ExpertScope::Tenant;
        expert.tenant_id = Some(TenantId(row.tenant_id));
        Ok(expert)
    }
}

#[derive(sqlx::FromRow)]
pub struct EventRow {
    seq: i64,
    kind: String,
    body: String,
}

impl From<EventRow> for StoredEvent {
    fn from(row: EventRow) -> Self {
        StoredEvent { seq: row.seq as u64, kind: row.kind, body: row.body }
    }
}

#[derive(sqlx::FromRow)]
pub struct UsageRow {
    panels_created: i64,
    panels_completed: i64,
    turns: i64,
    tokens_in: i64,
    tokens_out: i64,
}

impl From<UsageRow> for Usage {
    fn from(row: UsageRow) -> Self {
        Usage {
            panels_created: row.panels_created as u64,
            panels_completed: row.panels_completed as u64,
            turns: row.turns as u64,
            tokens_in: row.tokens_in as u64,
            tokens_out: row.tokens_out as u64,
        }
    }
}

/// Panels per status (`status, n`).
#[derive(sqlx::FromRow)]
pub struct StatusCountRow {
    status: String,
    n: i64,
}

impl TryFrom<StatusCountRow> for (PanelStatus, u64) {
    type Error = StoreError;
    fn try_from(row: StatusCountRow) -> StoreResult<Self> {
        Ok((parse(&row.status)?, row.n as u64))
    }
}

/// A panel named with its tenant (`tenant_id, id`).
#[derive(sqlx::FromRow)]
pub struct PanelRefRow {
    tenant_id: Uuid,
    id: Uuid,
}

impl From<PanelRefRow> for (TenantId, PanelId) {
    fn from(row: PanelRefRow) -> Self {
        (TenantId(row.tenant_id), PanelId(row.id))
    }
}

/// The panel an `Idempotency-Key` created, and when (`panel_id, created_at`).
#[derive(sqlx::FromRow)]
pub struct IdempotencyRow {
    pub panel_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The digest of the first request (absent for keys stored before it was kept).
    pub request_hash: Option<String>,
}

impl IdempotencyRow {
    /// The panel, while the key still holds (24 h).
    pub fn live_panel(&self) -> Option<PanelId> {
        super::idempotency_key_live(self.created_at).then_some(PanelId(self.panel_id))
    }
}

/// Maps each row to its record, stopping at the first corrupt one.
pub fn all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

/// Maps a row that may be missing.
pub fn one<R, T: TryFrom<R, Error = StoreError>>(row: Option<R>) -> StoreResult<Option<T>> {
    row.map(T::try_from).transpose()
}
