//! Webhook endpoints and deliveries in storage (`docs/webhooks.md`). Every
//! statement names the tenant; claiming due deliveries across tenants is
//! per backend, everything else is written once ([`webhook_store!`]).

use askpanel_actors::domain::{PanelId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::notify::{Claim, FanOut};
use super::{StoreError, StoreResult};
use crate::notify::rules::Notification;
use crate::webhooks::rules::{DisableRule, WebhookEvent};

mod imp;
pub(crate) use imp::webhook_store;

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
pub trait WebhookStore: Send + Sync {
    // Endpoints.
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
}

/// The most endpoints a tenant may have.
pub const MAX_ENDPOINTS_PER_TENANT: usize = 20;

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
