//! Notifications, jobs and webhooks in storage (`docs/notifications.md`,
//! `docs/webhooks.md`). Every statement names the tenant; the work that
//! crosses tenants (finding panels to announce, claiming due jobs and
//! deliveries, retention) is per backend, everything else is written once
//! ([`notify_store!`]).

use askpanel_actors::domain::{PanelId, TenantId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{StoreError, StoreResult};
pub use crate::notify::FanOut;
use crate::notify::{MailJob, Notice, Notification, NotificationKind, Preferences, Reminder};
use crate::webhooks::{DisableRule, WebhookEvent};

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
}

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

/// Where a webhook endpoint stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Enabled,
    Disabled,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EndpointRecord {
    pub id: Uuid,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    #[serde(skip)]
    pub secret: String,
    #[serde(skip)]
    pub previous_secret: Option<String>,
    #[serde(skip)]
    pub previous_until: Option<DateTime<Utc>>,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EndpointRecord {
    /// The secrets a delivery is signed with now.
    pub fn secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_until)
            && until > now
        {
            secrets.push(previous);
        }
        secrets
    }
}

#[derive(Clone, Debug, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    /// `Some(true)` enables (and clears the failure record), `Some(false)` disables.
    pub enabled: Option<bool>,
    /// A new secret; the old one stays valid for a day.
    pub secret: Option<String>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(format!("unknown delivery status `{s}`")),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryRecord {
    pub id: Uuid,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub endpoint_id: Uuid,
    pub event_type: String,
    pub panel_id: Option<PanelId>,
    #[serde(skip)]
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// `attempts` when the current run of retries began (a redelivery starts one).
    #[serde(skip)]
    pub retry_from: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<u32>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttemptRecord {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub duration_ms: u32,
    pub error: Option<String>,
}

/// What one attempt gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub duration_ms: u32,
    pub error: Option<String>,
    /// Success (a 2xx answer).
    pub ok: bool,
    /// When to try again after a failure; `None` gives the delivery up.
    pub retry_at: Option<DateTime<Utc>>,
}

/// What recording an attempt did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    /// The endpoint was disabled by this failure.
    pub disabled: bool,
    /// The notifications that tell the admins (to push).
    pub notifications: Vec<Notification>,
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

    // Webhook endpoints.
    async fn create_endpoint(&self, endpoint: &EndpointRecord) -> StoreResult<()>;
    async fn list_endpoints(&self, tenant: TenantId) -> StoreResult<Vec<EndpointRecord>>;
    async fn get_endpoint(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<EndpointRecord>>;
    async fn update_endpoint(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: &EndpointPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EndpointRecord>>;
    async fn delete_endpoint(&self, tenant: TenantId, id: Uuid) -> StoreResult<bool>;

    // Deliveries.
    /// Queues a message for one endpoint (the test message).
    async fn enqueue_delivery(
        &self,
        tenant: TenantId,
        endpoint: Uuid,
        event: &WebhookEvent,
        now: DateTime<Utc>,
    ) -> StoreResult<DeliveryRecord>;
    /// Claims due deliveries across tenants (each for `lease_s`).
    async fn claim_deliveries(&self, now: DateTime<Utc>, lease_s: u32, limit: u32) -> StoreResult<Vec<Claim>>;
    async fn get_delivery(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<DeliveryRecord>>;
    /// Records a claimed delivery's attempt, and what follows from it for
    /// its endpoint; `None` when the claim was lost.
    async fn record_attempt(
        &self,
        claim: &Claim,
        attempt: &Attempt,
        rule: &DisableRule,
        fan_out: &FanOut,
    ) -> StoreResult<Option<Recorded>>;
    /// An endpoint's deliveries, newest first.
    async fn list_deliveries(
        &self,
        tenant: TenantId,
        endpoint: Uuid,
        status: Option<DeliveryStatus>,
        before: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>>;
    async fn delivery_attempts(&self, tenant: TenantId, delivery: Uuid) -> StoreResult<Vec<AttemptRecord>>;
    /// Sends a finished delivery again (the same message id): it is pending
    /// again, due now, with its retry period starting over.
    async fn redeliver(
        &self,
        tenant: TenantId,
        delivery: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeliveryRecord>>;

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

pub const ENDPOINT_COLUMNS: &str = "id, tenant_id, url, description, events, secret, previous_secret, previous_until, \
     status, disabled_reason, failing_since, consecutive_failures, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub struct EndpointRow {
    id: Uuid,
    tenant_id: Uuid,
    url: String,
    description: String,
    events: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<DateTime<Utc>>,
    status: String,
    disabled_reason: Option<String>,
    failing_since: Option<DateTime<Utc>>,
    consecutive_failures: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<EndpointRow> for EndpointRecord {
    type Error = StoreError;
    fn try_from(row: EndpointRow) -> StoreResult<Self> {
        Ok(EndpointRecord {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            url: row.url,
            description: row.description,
            events: serde_json::from_str(&row.events)
                .map_err(|e| StoreError::Corrupt(format!("endpoint events: {e}")))?,
            secret: row.secret,
            previous_secret: row.previous_secret,
            previous_until: row.previous_until,
            status: match row.status.as_str() {
                "enabled" => EndpointStatus::Enabled,
                "disabled" => EndpointStatus::Disabled,
                other => return Err(StoreError::Corrupt(format!("endpoint status `{other}`"))),
            },
            disabled_reason: row.disabled_reason,
            failing_since: row.failing_since,
            consecutive_failures: row.consecutive_failures.max(0) as u32,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub const DELIVERY_COLUMNS: &str = "id, tenant_id, endpoint_id, event_type, panel_id, payload, created_at, status, \
     attempts, retry_from, next_attempt_at, first_attempt_at, last_status, last_error, last_duration_ms, finished_at";

#[derive(sqlx::FromRow)]
pub struct DeliveryRow {
    id: Uuid,
    tenant_id: Uuid,
    endpoint_id: Uuid,
    event_type: String,
    panel_id: Option<Uuid>,
    payload: String,
    created_at: DateTime<Utc>,
    status: String,
    attempts: i32,
    retry_from: i32,
    next_attempt_at: DateTime<Utc>,
    first_attempt_at: Option<DateTime<Utc>>,
    last_status: Option<i32>,
    last_error: Option<String>,
    last_duration_ms: Option<i32>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<DeliveryRow> for DeliveryRecord {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> StoreResult<Self> {
        let status: DeliveryStatus = row.status.parse().map_err(StoreError::Corrupt)?;
        Ok(DeliveryRecord {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            endpoint_id: row.endpoint_id,
            event_type: row.event_type,
            panel_id: row.panel_id.map(PanelId),
            payload: row.payload,
            created_at: row.created_at,
            status,
            attempts: row.attempts.max(0) as u32,
            retry_from: row.retry_from.max(0) as u32,
            next_attempt_at: (status == DeliveryStatus::Pending).then_some(row.next_attempt_at),
            first_attempt_at: row.first_attempt_at,
            last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: row.last_error,
            last_duration_ms: row.last_duration_ms.map(|d| d.max(0) as u32),
            finished_at: row.finished_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AttemptRow {
    at: DateTime<Utc>,
    status_code: Option<i32>,
    duration_ms: i32,
    error: Option<String>,
}

impl From<AttemptRow> for AttemptRecord {
    fn from(row: AttemptRow) -> Self {
        AttemptRecord {
            at: row.at,
            status_code: row.status_code.and_then(|s| u16::try_from(s).ok()),
            duration_ms: row.duration_ms.max(0) as u32,
            error: row.error,
        }
    }
}

pub fn collect<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

/// The most endpoints a tenant may have.
pub const MAX_ENDPOINTS_PER_TENANT: usize = 20;
