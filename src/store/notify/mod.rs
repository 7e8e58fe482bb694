//! Notifications and jobs in storage (`docs/notifications.md`); webhooks
//! are in [`super::webhooks`]. Every statement names the tenant; the work
//! that crosses tenants (finding panels to announce, claiming due jobs and
//! deliveries, retention) is per backend, everything else is written once
//! ([`notify_store!`]).

use askpanel_actors::domain::{PanelId, TenantId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{StoreError, StoreResult};
pub use crate::notify::rules::FanOut;
use crate::notify::rules::{MailJob, Notice, Notification, NotificationKind, Preferences, Reminder};
use crate::webhooks::rules::WebhookEvent;

mod imp;
pub(crate) use imp::notify_store;

/// A claimed piece of background work; `attempts` fences the claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub tenant: TenantId,
    pub id: Uuid,
    pub attempts: u32,
}

/// What one announcer step records, with its claim.
#[derive(Clone, Debug, Default)]
pub struct Announcement {
    pub from_seq: u64,
    pub to_seq: u64,
    pub follows: Vec<(Uuid, &'static str)>,
    pub notices: Vec<Notice>,
    pub reminders: Vec<Reminder>,
    pub webhooks: Vec<WebhookEvent>,
    /// What the events spent, by day, for the panel's type.
    pub usage: Vec<(chrono::NaiveDate, crate::usage::Figures)>,
    pub panel_type: &'static str,
}

/// Adds a day's figures for a panel type (`tenant_id, day, panel_type` and
/// the six figures, `$1` to `$9`).
pub const USAGE_DAILY_UPSERT: &str = "INSERT INTO usage_daily (tenant_id, day, panel_type, panels_created, \
     panels_completed, turns, tokens_in, tokens_out, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (tenant_id, day, panel_type) DO UPDATE SET \
     panels_created = usage_daily.panels_created + excluded.panels_created, \
     panels_completed = usage_daily.panels_completed + excluded.panels_completed, \
     turns = usage_daily.turns + excluded.turns, tokens_in = usage_daily.tokens_in + excluded.tokens_in, \
     tokens_out = usage_daily.tokens_out + excluded.tokens_out, duration_ms = usage_daily.duration_ms + excluded.duration_ms";

/// Deferred work.
#[derive(Clone, Debug, PartialEq)]
pub enum JobKind {
    Mail(MailJob),
    Reminder(Reminder),
}

impl JobKind {
    pub fn name(&self) -> &'static str {
        match self {
            JobKind::Mail(_) => "mail",
            JobKind::Reminder(_) => "reminder",
        }
    }

    pub fn payload(&self) -> String {
        match self {
            JobKind::Mail(mail) => serde_json::to_string(mail),
            JobKind::Reminder(reminder) => serde_json::to_string(reminder),
        }
        .expect("jobs serialise")
    }

    pub fn parse(kind: &str, payload: &str) -> StoreResult<JobKind> {
        let bad = |e: serde_json::Error| StoreError::Corrupt(format!("job payload: {e}"));
        match kind {
            "mail" => Ok(JobKind::Mail(serde_json::from_str(payload).map_err(bad)?)),
            "reminder" => Ok(JobKind::Reminder(serde_json::from_str(payload).map_err(bad)?)),
            other => Err(StoreError::Corrupt(format!("unknown job kind `{other}`"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub job: JobKind,
    pub due_at: DateTime<Utc>,
    pub attempts: u32,
    pub done_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait NotifyStore: Send + Sync {
    // The announcer.
    /// Panels with events not yet announced (or ended and not yet marked done).
    async fn unannounced_panels(&self, limit: u32) -> StoreResult<Vec<(TenantId, PanelId, u64)>>;
    /// Records what a step announces and moves the claim from `from_seq` to
    /// `to_seq`; `None` when another node moved it first (nothing is recorded).
    async fn announce(
        &self,
        tenant: TenantId,
        panel: PanelId,
        step: &Announcement,
        fan_out: &FanOut,
    ) -> StoreResult<Option<Vec<Notification>>>;

    // Notifications.
    /// Records notices (outside the announcer: reminders, webhook warnings).
    async fn add_notices(
        &self,
        tenant: TenantId,
        notices: &[Notice],
        fan_out: &FanOut,
    ) -> StoreResult<Vec<Notification>>;
    /// A person's notifications, newest first, before `before` (an id).
    async fn list_notifications(
        &self,
        tenant: TenantId,
        user: UserId,
        unread_only: bool,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<Notification>>;
    async fn count_unread(&self, tenant: TenantId, user: UserId) -> StoreResult<u64>;
    /// Marks one (or, with `None`, every) notification read; returns how many changed.
    async fn mark_read(&self, tenant: TenantId, user: UserId, id: Option<Uuid>, now: DateTime<Utc>)
    -> StoreResult<u64>;
    async fn get_notification(&self, tenant: TenantId, user: UserId, id: Uuid) -> StoreResult<Option<Notification>>;
    async fn get_preferences(&self, tenant: TenantId, user: UserId) -> StoreResult<Preferences>;
    async fn set_preferences(&self, tenant: TenantId, user: UserId, prefs: &Preferences) -> StoreResult<()>;

    // Jobs.
    /// Claims due jobs across tenants (each for `lease_s`).
    async fn claim_jobs(&self, now: DateTime<Utc>, lease_s: u32, limit: u32) -> StoreResult<Vec<Claim>>;
    async fn get_job(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<JobRecord>>;
    /// Ends a claimed job; false when the claim was lost.
    async fn finish_job(&self, claim: &Claim, outcome: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Puts a claimed job back for later.
    async fn retry_job(&self, claim: &Claim, due_at: DateTime<Utc>, error: &str) -> StoreResult<bool>;

    /// Retention: finished jobs, notifications and delivery logs older than the dates.
    async fn purge_notify(
        &self,
        jobs_before: DateTime<Utc>,
        notifications_before: DateTime<Utc>,
        deliveries_before: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

// Rows.

pub const NOTIFICATION_COLUMNS: &str = "id, tenant_id, user_id, kind, panel_id, title, body, data, created_at, read_at";

#[derive(sqlx::FromRow)]
pub struct NotificationRow {
    id: Uuid,
    tenant_id: Uuid,
    user_id: Uuid,
    kind: String,
    panel_id: Option<Uuid>,
    title: String,
    body: String,
    data: String,
    created_at: DateTime<Utc>,
    read_at: Option<DateTime<Utc>>,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = StoreError;
    fn try_from(row: NotificationRow) -> StoreResult<Self> {
        Ok(Notification {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            user_id: UserId(row.user_id),
            kind: row.kind.parse::<NotificationKind>().map_err(StoreError::Corrupt)?,
            panel_id: row.panel_id.map(PanelId),
            title: row.title,
            body: row.body,
            data: serde_json::from_str(&row.data).unwrap_or(Value::Null),
            created_at: row.created_at,
            read_at: row.read_at,
        })
    }
}

pub const JOB_COLUMNS: &str = "id, tenant_id, kind, payload, due_at, attempts, done_at";

#[derive(sqlx::FromRow)]
pub struct JobRow {
    id: Uuid,
    tenant_id: Uuid,
    kind: String,
    payload: String,
    due_at: DateTime<Utc>,
    attempts: i32,
    done_at: Option<DateTime<Utc>>,
}

impl TryFrom<JobRow> for JobRecord {
    type Error = StoreError;
    fn try_from(row: JobRow) -> StoreResult<Self> {
        Ok(JobRecord {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            job: JobKind::parse(&row.kind, &row.payload)?,
            due_at: row.due_at,
            attempts: row.attempts.max(0) as u32,
            done_at: row.done_at,
        })
    }
}

pub fn collect<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}
