//! Storage: every SQL query lives below this module, behind the [`Store`]
//! trait, and every tenant-scoped function takes the tenant. [`sqlite`] is
//! the embedded default, [`postgres`] the production store; both map their
//! rows to records through [`rows`]. [`event_log`] adapts a store to the
//! engine's event-log port.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod documents;
pub mod event_log;
pub mod notify;
pub mod postgres;
pub mod records;
mod rows;
pub mod sqlite;
pub mod webhooks;

use std::collections::BTreeMap;
use std::sync::Arc;

use askpanel_actors::domain::{ExpertId, KeyId, PanelId, PanelStatus, PanelType, TenantId};
use askpanel_actors::event::{Event, EventData, SealedEvent};
use askpanel_actors::ports::{CreateOptions, CreateOutcome, Quotas};
use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::catalog::Expert;
use crate::configuration::LimitOverrides;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (slug taken...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A panel log write that does not continue the log (another writer, or a stale one).
    #[error("event log conflict: {0}")]
    LogConflict(String),
    #[error("not found")]
    NotFound,
    /// A monthly quota checked with a panel's creation is reached.
    #[error("{0}")]
    LimitExceeded(String),
    /// The writer's lease epoch is older than the panel's: another node owns it now.
    #[error("stale owner: the panel belongs to a newer lease")]
    Fenced,
    /// The database failed or could not be reached. Shared: one failed
    /// transaction fails every job of the writer's batch with it.
    #[error("database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),
    /// The event writer task ended (the store is shutting down).
    #[error("database error: the event writer stopped")]
    WriterStopped,
    #[error("bad database url: {0}")]
    BadUrl(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// Something this backend does not do.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A stored value that does not read back (bad JSON, an unknown enum name).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(db.message().to_string()),
            // A column that does not decode (JSON that does not parse into its type) is a corrupt row.
            sqlx::Error::ColumnDecode { .. } => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Database(Arc::new(e)),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// API key roles, each able to do what the ones below it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "member" => Ok(Role::Member),
            "moderator" => Ok(Role::Moderator),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("unknown role `{s}`")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Starter,
    Professional,
    Enterprise,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Starter => "starter",
            Tier::Professional => "professional",
            Tier::Enterprise => "enterprise",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| format!("unknown tier `{s}`"))
    }
}

/// What the web page shows for a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    pub display_name: String,
    pub primary_color: String,
    /// Accents beside the primary colour; the primary serves when unset.
    #[serde(default)]
    pub secondary_color: Option<String>,
    pub logo_url: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TenantRecord {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub tier: Tier,
    pub status: TenantStatus,
    pub limits: LimitOverrides,
    pub branding: Branding,
    pub created_at: DateTime<Utc>,
}

/// A change to a tenant; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TenantPatch {
    pub status: Option<TenantStatus>,
    pub tier: Option<Tier>,
    pub limits: Option<LimitOverrides>,
    pub branding: Option<Branding>,
}

impl TenantPatch {
    /// Changes the record's fields this patch names.
    pub fn apply_to(&self, tenant: &mut TenantRecord) {
        if let Some(status) = self.status {
            tenant.status = status;
        }
        if let Some(tier) = self.tier {
            tenant.tier = tier;
        }
        if let Some(limits) = self.limits {
            tenant.limits = limits;
        }
        if let Some(branding) = &self.branding {
            tenant.branding = branding.clone();
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KeyRecord {
    pub id: KeyId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub role: Role,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key last authenticated a request (written at most once a minute per node).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A panel as listed (`GET /v1/panels` items).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelSummary {
    pub id: PanelId,
    pub tenant_id: TenantId,
    pub created_by: String,
    pub query: String,
    pub panel_type: PanelType,
    pub status: PanelStatus,
    pub head_seq: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// An event as stored: its seq and the JSON of the whole event.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub seq: u64,
    pub kind: String,
    /// `{"seq", "ts", "kind", "data"}` as written.
    pub body: String,
}

/// `GET /v1/usage` figures for one month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub panels_created: u64,
    pub panels_completed: u64,
    pub turns: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
}

/// The statuses of a panel that is not finished (it counts towards `max_concurrent_panels`).
pub const UNFINISHED: &str = "status NOT IN ('completed', 'failed', 'cancelled')";

/// Why a tenant may not create another panel, given its unfinished panels
/// and the month's panels and tokens so far; `None` when it may.
pub fn quota_refusal(quota: &Quotas, active: u64, panels: u64, tokens: u64) -> Option<String> {
    if active >= quota.max_concurrent {
        return Some(format!("at most {} concurrent panels", quota.max_concurrent));
    }
    if panels >= quota.max_panels {
        return Some(format!("this tenant's limit of {} panels a month is reached", quota.max_panels));
    }
    if tokens >= quota.max_tokens {
        return Some(format!("this tenant's budget of {} tokens a month is spent", quota.max_tokens));
    }
    None
}

/// What a batch of events adds to each month's usage.
pub fn usage_deltas<'a>(events: impl IntoIterator<Item = &'a Event>) -> BTreeMap<String, Usage> {
    let mut months: BTreeMap<String, Usage> = BTreeMap::new();
    for event in events {
        let usage = months.entry(month_of(event.ts)).or_default();
        match &event.data {
            EventData::PanelCreated { .. } => usage.panels_created += 1,
            EventData::PanelCompleted { tokens_in, tokens_out, .. } => {
                usage.panels_completed += 1;
                usage.tokens_in += tokens_in;
                usage.tokens_out += tokens_out;
            }
            EventData::TurnCompleted { tokens_in, tokens_out, .. } => {
                usage.turns += 1;
                usage.tokens_in += tokens_in;
                usage.tokens_out += tokens_out;
            }
            EventData::DraftUpdated { tokens_in, tokens_out, .. }
            | EventData::RoundStarted { tokens_in, tokens_out, .. }
            | EventData::FeedbackUpdated { tokens_in, tokens_out, .. } => {
                usage.tokens_in += tokens_in;
                usage.tokens_out += tokens_out;
            }
            _ => {}
        }
    }
    months.retain(|_, u| *u != Usage::default());
    months
}

/// Whether an `Idempotency-Key` recorded at `created` still holds (24 h).
pub fn idempotency_key_live(created: DateTime<Utc>) -> bool {
    Utc::now() - created < chrono::Duration::hours(24)
}

/// `YYYY-MM` of a timestamp.
pub fn month_of(ts: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", ts.year(), ts.month())
}

/// Where a page of panels continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanelCursor(pub PanelId);

#[async_trait]
pub trait Store:
    documents::DocumentStore
    + records::RecordStore
    + audit::AuditStore
    + accounts::UserStore
    + accounts::SessionStore
    + notify::NotifyStore
    + webhooks::WebhookStore
    + admin::AdminStore
    + Send
    + Sync
    + 'static
{
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;

    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets a setting unless it exists; returns the value in force.
    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String>;

    // Platform level: tenants.
    async fn count_tenants(&self) -> StoreResult<u64>;
    async fn create_tenant(
        &self,
        tenant: &TenantRecord,
        admin_key: &KeyRecord,
        admin_key_hash: &str,
    ) -> StoreResult<()>;
    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>>;
    async fn get_tenant(&self, id: TenantId) -> StoreResult<Option<TenantRecord>>;
    async fn get_tenant_by_slug(&self, slug: &str) -> StoreResult<Option<TenantRecord>>;
    async fn update_tenant(&self, id: TenantId, patch: &TenantPatch) -> StoreResult<Option<TenantRecord>>;

    // Keys. Lookup by hash is how authentication finds a key's tenant.
    async fn find_key_by_hash(&self, hash: &str) -> StoreResult<Option<KeyRecord>>;
    async fn create_key(&self, tenant: TenantId, key: &KeyRecord, hash: &str) -> StoreResult<()>;
    async fn list_keys(&self, tenant: TenantId) -> StoreResult<Vec<KeyRecord>>;
    async fn get_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<Option<KeyRecord>>;
    /// Returns false when the tenant has no such key; revoking twice keeps the first time.
    async fn revoke_key(&self, tenant: TenantId, key: KeyId) -> StoreResult<bool>;

    // Tenant-private experts.
    async fn create_expert(&self, tenant: TenantId, expert: &Expert) -> StoreResult<()>;
    async fn list_experts(&self, tenant: TenantId) -> StoreResult<Vec<Expert>>;
    async fn get_expert(&self, tenant: TenantId, id: ExpertId) -> StoreResult<Option<Expert>>;

    // Panels.
    async fn list_panels(
        &self,
        tenant: TenantId,
        status: Option<PanelStatus>,
        limit: u32,
        cursor: Option<PanelCursor>,
    ) -> StoreResult<Vec<PanelSummary>>;
    async fn get_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Option<PanelSummary>>;
    async fn events_page(
        &self,
        tenant: TenantId,
        panel: PanelId,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>>;
    async fn usage(&self, tenant: TenantId, month: &str) -> StoreResult<Usage>;
    /// Panels per status across tenants (metrics).
    async fn panel_counts(&self) -> StoreResult<Vec<(PanelStatus, u64)>>;

    /// Caps how large the database may grow (`None` lifts the cap). When it
    /// is full, writes fail, panels pause until there is room, and nothing
    /// acknowledged is lost.
    async fn limit_size(&self, max_bytes: Option<u64>) -> StoreResult<()>;

    /// The panel an `Idempotency-Key` of the tenant created in the last 24 h.
    /// The live panel of an idempotency key, with the digest of its first request.
    async fn idempotent_panel(&self, tenant: TenantId, key: &str) -> StoreResult<Option<(PanelId, Option<String>)>>;

    // The event log. `epoch` is the writer's lease epoch (fencing token; 0
    // on a single node): a write under an older epoch than the panel's is refused.
    async fn create_panel(
        &self,
        tenant: TenantId,
        panel: PanelId,
        event: &SealedEvent,
        options: &CreateOptions,
        epoch: u64,
    ) -> StoreResult<CreateOutcome>;
    async fn append_events(
        &self,
        tenant: TenantId,
        panel: PanelId,
        events: &[SealedEvent],
        status: PanelStatus,
        epoch: u64,
    ) -> StoreResult<()>;
    /// Takes over a panel: raises its lease epoch by one and returns it; a
    /// writer still holding an older epoch is fenced from then on.
    async fn claim_panel(&self, tenant: TenantId, panel: PanelId) -> StoreResult<u64>;
    async fn load_events(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<Event>>;
    async fn unfinished_panels(&self) -> StoreResult<Vec<(TenantId, PanelId)>>;
}
