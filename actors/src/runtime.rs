//! What the engine's parts share, below all of them: the engine's errors
//! and settings, the ports every panel actor needs ([`PanelDeps`]), the
//! arbiter pool, and the index of running panels. The engine facade, the
//! supervisors and the panel actors all import from here; nothing here
//! imports them.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use thiserror::Error;

use crate::domain::{PanelId, SimulationConfig, TenantId};
use crate::model::ExpertModel;
use crate::panel::messages::{GetSnapshot, PanelCommand, PanelError, Relinquish};
use crate::panel::new::ValidationErrors;
use crate::panel::view::PanelView;
use crate::ports::{EventLog, EventPublisher, LogError};

/// Why the engine refused or failed a call.
#[derive(Debug, Error)]
pub enum EngineError {
    /// No such panel for this tenant.
    #[error("panel not found")]
    NotFound,
    /// The new panel's request is invalid (the `fields` of a 422).
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// A tenant limit would be exceeded.
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// The tenant is suspended.
    #[error("the tenant is suspended")]
    Suspended,
    /// The panel refused the command.
    #[error(transparent)]
    Panel(#[from] PanelError),
    /// The event log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The panel exists but is not running here (finished, or owned elsewhere).
    #[error("the panel is not running")]
    NotRunning,
    /// The engine cannot answer now (timeout, shutting down, an unreadable log).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Tunables of the engine.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Arbiters (threads) for actors; 0 runs everything on the caller's arbiter.
    pub arbiters: usize,
    /// Capacity of each panel actor's mailbox.
    pub panel_mailbox: usize,
    /// Capacity of each tenant supervisor's mailbox.
    pub supervisor_mailbox: usize,
    /// Crashes without progress before a panel is given up as failed.
    pub max_restarts: u32,
    /// The wait before the first restart of a crashed panel; it doubles with each crash.
    pub restart_backoff: Duration,
    /// The longest wait between restarts.
    pub restart_backoff_max: Duration,
    /// The simulation of panels that carry none.
    pub default_simulation: SimulationConfig,
    /// How long a call waits for an actor's answer.
    pub call_timeout: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            arbiters: std::thread::available_parallelism().map_or(2, |n| n.get()),
            panel_mailbox: 64,
            supervisor_mailbox: 1024,
            max_restarts: 5,
            restart_backoff: Duration::from_millis(200),
            restart_backoff_max: Duration::from_secs(30),
            default_simulation: SimulationConfig::default(),
            call_timeout: Duration::from_secs(10),
        }
    }
}

/// What every panel actor needs.
pub struct PanelDeps {
    /// The durable event log.
    pub log: Arc<dyn EventLog>,
    /// The fan-out of events and token deltas.
    pub publisher: Arc<dyn EventPublisher>,
    /// The backend of every AI member.
    pub model: Arc<dyn ExpertModel>,
    /// The tenants' documents, for panels that deliberate over some.
    pub evidence: Arc<dyn crate::evidence::Evidence>,
    /// The engine's tunables.
    pub settings: EngineSettings,
}

/// The threads actors run on, chosen by hashing a key so that one busy tenant
/// or panel does not serialise everything on one thread.
pub struct ArbiterPool {
    arbiters: Vec<Arbiter>,
    handles: Vec<ArbiterHandle>,
}

impl ArbiterPool {
    /// `size` new arbiters, or the current one when `size` is 0.
    pub fn new(size: usize) -> Self {
        if size == 0 {
            return Self { arbiters: Vec::new(), handles: vec![Arbiter::current()] };
        }
        let arbiters: Vec<Arbiter> = (0..size).map(|_| Arbiter::new()).collect();
        let handles = arbiters.iter().map(Arbiter::handle).collect();
        Self { arbiters, handles }
    }

    /// The arbiter for a key (a tenant or panel id), the same one every time.
    pub fn for_key(&self, key: u128) -> ArbiterHandle {
        let folded = (key as u64) ^ ((key >> 64) as u64);
        self.handles[(folded % self.handles.len() as u64) as usize].clone()
    }

    /// How many arbiters there are.
    pub fn size(&self) -> usize {
        self.handles.len()
    }

    pub(crate) fn stop(&self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}

/// Running panel actors by id: a read index the supervisors keep, so routing
/// a call to a panel does not need a hop through its supervisor.
pub type RunningPanels = DashMap<PanelId, RunningPanel>;

/// A running panel: its actor, and the latest durable view it published.
#[derive(Clone)]
pub struct RunningPanel {
    /// The panel's tenant.
    pub tenant_id: TenantId,
    /// The actor's command inbox (each command names its tenant: the actor checks it).
    pub commands: Recipient<PanelCommand>,
    /// The actor's snapshot inbox.
    pub snapshots: Recipient<GetSnapshot>,
    /// The actor's relinquish inbox.
    pub relinquish: Recipient<Relinquish>,
    /// Replaced by the actor after every commit; reads never wait for the actor.
    pub view: tokio::sync::watch::Receiver<Arc<PanelView>>,
}

/// What the platform allows a tenant, as far as the engine enforces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TenantPolicy {
    /// The most panels that may run at once.
    pub max_concurrent_panels: u32,
    /// A suspended tenant's panels are paused and it cannot create more.
    pub suspended: bool,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        Self { max_concurrent_panels: 1_000_000, suspended: false }
    }
}

/// What a supervisor did, for tests and the admin view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SupervisorStats {
    /// Panels with a live actor now.
    pub running: usize,
    /// Panel actors started (new, recovered or restarted).
    pub started: u64,
    /// Restarts after a crash.
    pub restarts: u64,
    /// Panels failed after too many crashes without progress.
    pub gave_up: u64,
    /// Panels that completed.
    pub completed: u64,
    /// Panels that were cancelled.
    pub cancelled: u64,
    /// Panels that failed (those given up on included).
    pub failed: u64,
}
