//! The engine's event-log port over a [`Store`].

use std::sync::Arc;

use askpanel_actors::domain::{PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, SealedEvent};
use askpanel_actors::ports::{CreateOptions, CreateOutcome, EventLog, LogError};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{Store, StoreError};

/// Lease epochs of the panels this node owns (kept by the cluster's lease manager).
pub type Epochs = dashmap::DashMap<PanelId, u64>;

/// Panel ownership across nodes (Redis leases), when there are several nodes.
pub trait Leases: Send + Sync + 'static {
    /// Takes the lease of a panel about to be created.
    fn acquire_new(&self, panel: PanelId) -> BoxFuture<'static, Result<(), String>>;
    /// Gives the lease of an ended panel back.
    fn release(&self, panel: PanelId);
}

pub struct StoreEventLog {
    store: Arc<dyn Store>,
    epochs: Arc<Epochs>,
    leases: Option<Arc<dyn Leases>>,
}

/// The epoch a panel created under a lease starts with.
pub const FIRST_EPOCH: u64 = 1;

impl StoreEventLog {
    pub fn new(store: Arc<dyn Store>, epochs: Arc<Epochs>, leases: Option<Arc<dyn Leases>>) -> Self {
        Self { store, epochs, leases }
    }

    fn epoch(&self, panel: PanelId) -> u64 {
        self.epochs.get(&panel).map_or(0, |e| *e)
    }
}

fn log_error(e: StoreError) -> LogError {
    match e {
        StoreError::LogConflict(m) | StoreError::Conflict(m) => LogError::Conflict(m),
        StoreError::NotFound => LogError::NotFound,
        StoreError::Fenced => LogError::Fenced,
        StoreError::LimitExceeded(m) => LogError::LimitExceeded(m),
        other => LogError::Storage(other.to_string()),
    }
}

impl EventLog for StoreEventLog {
    fn create(
        &self,
        tenant: TenantId,
        panel: PanelId,
        event: SealedEvent,
        options: CreateOptions,
    ) -> BoxFuture<'static, Result<CreateOutcome, LogError>> {
        let (store, epochs, leases) = (self.store.clone(), self.epochs.clone(), self.leases.clone());
        async move {
            let epoch = match &leases {
                None => 0,
                Some(leases) => {
                    leases
                        .acquire_new(panel)
                        .await
                        .map_err(|e| LogError::Storage(format!("cannot take the new panel's lease: {e}")))?;
                    epochs.insert(panel, FIRST_EPOCH);
                    FIRST_EPOCH
                }
            };
            let outcome = store.create_panel(tenant, panel, &event, &options, epoch).await.map_err(log_error);
            if !matches!(outcome, Ok(CreateOutcome::Created))
                && let Some(leases) = &leases
            {
                epochs.remove(&panel);
                leases.release(panel);
            }
            outcome
        }
        .boxed()
    }

    fn append(
        &self,
        tenant: TenantId,
        panel: PanelId,
        events: Vec<SealedEvent>,
        status: PanelStatus,
    ) -> BoxFuture<'static, Result<(), LogError>> {
        let (store, epoch, epochs, leases) =
            (self.store.clone(), self.epoch(panel), self.epochs.clone(), self.leases.clone());
        async move {
            let appended = store.append_events(tenant, panel, &events, status, epoch).await.map_err(log_error);
            if matches!(appended, Err(LogError::Fenced)) {
                // Another node claimed the panel: stop renewing a lease for a
                // panel this node no longer runs, so that whoever holds the
                // newest claim (or takes it over next) is not locked out.
                if epochs.remove_if(&panel, |_, e| *e == epoch).is_some()
                    && let Some(leases) = &leases
                {
                    leases.release(panel);
                }
            }
            appended?;
            if status.is_terminal() {
                // The panel ended: its lease is free (and nothing will take it over).
                epochs.remove(&panel);
                if let Some(leases) = leases {
                    leases.release(panel);
                }
            }
            Ok(())
        }
        .boxed()
    }

    fn load(&self, tenant: TenantId, panel: PanelId) -> BoxFuture<'static, Result<Vec<Event>, LogError>> {
        let store = self.store.clone();
        async move { store.load_events(tenant, panel).await.map_err(log_error) }.boxed()
    }

    fn unfinished(&self) -> BoxFuture<'static, Result<Vec<(TenantId, PanelId)>, LogError>> {
        let store = self.store.clone();
        async move { store.unfinished_panels().await.map_err(log_error) }.boxed()
    }
}
