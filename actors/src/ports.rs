//! Ports: what the engine needs from the outside, as traits the server
//! implements (the SQLite/PostgreSQL event log, the in-process/Redis fan-out).
//! [`crate::testing`] has in-memory versions.

use futures::future::BoxFuture;
use thiserror::Error;

use crate::domain::{PanelId, PanelStatus, TenantId};
use crate::event::{Event, SealedEvent, TokenDelta};

/// Why the event log refused or failed a call.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum LogError {
    /// The seq is taken or does not follow the head: another writer got there first.
    #[error("event log conflict: {0}")]
    Conflict(String),
    /// A write under a lease that is no longer held.
    #[error("the panel is owned by another node (stale lease)")]
    Fenced,
    /// No such panel in the log.
    #[error("panel not found")]
    NotFound,
    /// A quota checked with the write is reached: nothing was written.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The storage failed; the write may be retried.
    #[error("storage error: {0}")]
    Storage(String),
}

/// Options for creating a panel.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// `Idempotency-Key`: a second create with the same key returns the first panel.
    pub idempotency_key: Option<String>,
    /// A digest of the request the key comes with, kept beside the key: the
    /// same key with another request is refused.
    pub request_hash: Option<String>,
    /// The tenant's quotas, checked in the same transaction as the write (so
    /// that simultaneous creates, on one node or several, cannot pass them together).
    pub quota: Option<Quotas>,
}

/// A tenant's quotas on creating a panel (the monthly ones as of the month
/// of its `panel_created` event).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quotas {
    /// Panels that may be unfinished at once.
    pub max_concurrent: u64,
    /// Panels the tenant may create in the month.
    pub max_panels: u64,
    /// Tokens the tenant may spend in the month; none left: no new panel.
    pub max_tokens: u64,
}

/// What creating a panel in the log did.
#[derive(Clone, Debug, PartialEq)]
pub enum CreateOutcome {
    /// A new panel was written.
    Created,
    /// The idempotency key was used before, for this panel.
    Existing(PanelId),
}

/// A panel's durable event log. Appends are all-or-nothing and durable when
/// the future resolves; a panel's events are appended in seq order by its
/// single writer.
pub trait EventLog: Send + Sync + 'static {
    /// Writes a new panel's `panel_created` event (seq 1).
    fn create(
        &self,
        tenant: TenantId,
        panel: PanelId,
        event: SealedEvent,
        options: CreateOptions,
    ) -> BoxFuture<'static, Result<CreateOutcome, LogError>>;

    /// Appends events that continue the panel's log without gaps; `status` is
    /// the panel's status once they apply (kept beside the log for listings).
    fn append(
        &self,
        tenant: TenantId,
        panel: PanelId,
        events: Vec<SealedEvent>,
        status: PanelStatus,
    ) -> BoxFuture<'static, Result<(), LogError>>;

    /// A panel's whole log, in seq order.
    fn load(&self, tenant: TenantId, panel: PanelId) -> BoxFuture<'static, Result<Vec<Event>, LogError>>;

    /// Panels whose log has no terminal event.
    fn unfinished(&self) -> BoxFuture<'static, Result<Vec<(TenantId, PanelId)>, LogError>>;
}

/// Fan-out of what a panel publishes, after its events are durable. Both
/// calls must not block: slow subscribers are the fan-out's problem.
pub trait EventPublisher: Send + Sync + 'static {
    /// Publishes a durable event to the panel's subscribers.
    fn publish_event(&self, tenant: TenantId, panel: PanelId, event: &SealedEvent);
    /// Publishes a live text delta of a turn (never persisted).
    fn publish_token(&self, tenant: TenantId, panel: PanelId, token: &TokenDelta);
}
