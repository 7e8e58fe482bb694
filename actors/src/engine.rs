//! The engine: the facade the server and the CLI use. It owns the arbiter
//! pool and one [`TenantSupervisor`] per tenant, and routes every call through
//! the tenant's supervisor to the panel's actor.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use thiserror::Error;

use crate::domain::{PanelId, SimulationConfig, TenantId};
use crate::model::ExpertModel;
use crate::panel::messages::{GetSnapshot, PanelCommand, PanelError};
use crate::panel::new::{NewPanel, ValidationErrors, build_panel};
use crate::panel::state::PanelState;
use crate::panel::view::PanelView;
use crate::ports::{CreateOptions, EventLog, EventPublisher, LogError};
use crate::supervisor::{CreatePanel, CreatedPanel, GetSupervisorStats, RecoverPanel, ShutdownPanels, SupervisorStats, TenantPolicy, TenantSupervisor, UpdatePolicy};

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("panel not found")]
    NotFound,
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    #[error("the tenant is suspended")]
    Suspended,
    #[error(transparent)]
    Panel(#[from] PanelError),
    #[error(transparent)]
    Log(#[from] LogError),
    /// The panel exists but is not running here (finished, or owned elsewhere).
    #[error("the panel is not running")]
    NotRunning,
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Tunables of the engine.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Arbiters (threads) for actors; 0 runs everything on the caller's arbiter.
    pub arbiters: usize,
    pub panel_mailbox: usize,
    pub supervisor_mailbox: usize,
    /// Crashes without progress before a panel is given up as failed.
    pub max_restarts: u32,
    pub restart_backoff: Duration,
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
    pub log: Arc<dyn EventLog>,
    pub publisher: Arc<dyn EventPublisher>,
    pub model: Arc<dyn ExpertModel>,
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

    pub fn for_key(&self, key: u128) -> ArbiterHandle {
        let folded = (key as u64) ^ ((key >> 64) as u64);
        self.handles[(folded % self.handles.len() as u64) as usize].clone()
    }

    pub fn size(&self) -> usize {
        self.handles.len()
    }

    fn stop(&self) {
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
    pub tenant_id: TenantId,
    pub addr: Addr<crate::panel::actor::PanelActor>,
    /// Replaced by the actor after every commit; reads never wait for the actor.
    pub view: tokio::sync::watch::Receiver<Arc<PanelView>>,
}

struct EngineInner {
    deps: Arc<PanelDeps>,
    pool: Arc<ArbiterPool>,
    supervisors: DashMap<TenantId, Addr<TenantSupervisor>>,
    running: Arc<RunningPanels>,
}

/// The deliberation engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl Engine {
    /// Starts the engine's arbiters. Must run inside an actix system.
    pub fn new(deps: PanelDeps) -> Self {
        let pool = Arc::new(ArbiterPool::new(deps.settings.arbiters));
        Self { inner: Arc::new(EngineInner { deps: Arc::new(deps), pool, supervisors: DashMap::new(), running: Arc::new(DashMap::new()) }) }
    }

    pub fn model(&self) -> &Arc<dyn ExpertModel> {
        &self.inner.deps.model
    }

    pub fn log(&self) -> &Arc<dyn EventLog> {
        &self.inner.deps.log
    }

    fn timeout(&self) -> Duration {
        self.inner.deps.settings.call_timeout
    }

    /// The tenant's supervisor, started on first use. A given policy replaces the current one.
    pub fn supervisor(&self, tenant_id: TenantId, policy: Option<TenantPolicy>) -> Addr<TenantSupervisor> {
        let inner = &self.inner;
        // The entry guard is not held across an await: starting an actor only queues it.
        let mut created = false;
        let addr = inner
            .supervisors
            .entry(tenant_id)
            .or_insert_with(|| {
                created = true;
                let (deps, pool, running) = (inner.deps.clone(), inner.pool.clone(), inner.running.clone());
                let policy = policy.unwrap_or_default();
                let arbiter = inner.pool.for_key(tenant_id.0.as_u128());
                TenantSupervisor::start_in_arbiter(&arbiter, move |_| TenantSupervisor::new(tenant_id, policy, deps, pool, running))
            })
            .clone();
        if let (false, Some(policy)) = (created, policy) {
            // A policy change is rare and small; the supervisor's mailbox is large.
            addr.do_send(UpdatePolicy { policy });
        }
        addr
    }

    /// Validates, creates and starts a panel.
    pub async fn create_panel(&self, policy: TenantPolicy, request: NewPanel, options: CreateOptions) -> Result<CreatedPanel, EngineError> {
        let tenant_id = request.tenant_id;
        let (view, setup) = build_panel(request, PanelId::new())?;
        let supervisor = self.supervisor(tenant_id, Some(policy));
        let msg = CreatePanel { tenant_id, view: Box::new(view), setup: Box::new(setup), options };
        let created = supervisor.send(msg).timeout(self.timeout()).await.map_err(|e| EngineError::Unavailable(e.to_string()))??;
        match created.existing {
            None => Ok(created),
            Some(existing) => Ok(CreatedPanel { panel: self.panel_view(tenant_id, existing).await?, existing: Some(existing) }),
        }
    }

    async fn locate(&self, tenant_id: TenantId, panel_id: PanelId) -> Result<Option<Addr<crate::panel::actor::PanelActor>>, EngineError> {
        // The guard is dropped before anything awaits.
        let found = self.inner.running.get(&panel_id).filter(|entry| entry.tenant_id == tenant_id).map(|entry| entry.addr.clone());
        Ok(found.filter(|addr| addr.connected()))
    }

    /// Sends a command to a running panel; replies once its events are durable.
    pub async fn command(&self, command: PanelCommand) -> Result<(), EngineError> {
        let actor = self.locate(command.tenant_id, command.panel_id).await?.ok_or(EngineError::NotRunning)?;
        actor.send(command).timeout(self.timeout()).await.map_err(|e| EngineError::Unavailable(e.to_string()))??;
        Ok(())
    }

    /// The live snapshot of a panel running here.
    pub async fn snapshot(&self, tenant_id: TenantId, panel_id: PanelId) -> Result<Option<PanelView>, EngineError> {
        let Some(actor) = self.locate(tenant_id, panel_id).await? else { return Ok(None) };
        match actor.send(GetSnapshot { tenant_id, panel_id }).timeout(self.timeout()).await {
            Ok(result) => Ok(Some(result?)),
            // It stopped between the lookup and the call: read the log instead.
            Err(MailboxError::Closed) => Ok(None),
            Err(e) => Err(EngineError::Unavailable(e.to_string())),
        }
    }

    /// The view of a panel running here as of its last durable event,
    /// without asking its actor (the text of a turn in progress is not in it).
    pub fn durable_snapshot(&self, tenant_id: TenantId, panel_id: PanelId) -> Option<Arc<PanelView>> {
        let entry = self.inner.running.get(&panel_id).filter(|entry| entry.tenant_id == tenant_id)?;
        let view = entry.view.borrow().clone();
        Some(view)
    }

    /// A panel's view: live when it runs here, else rebuilt from its log.
    pub async fn panel_view(&self, tenant_id: TenantId, panel_id: PanelId) -> Result<PanelView, EngineError> {
        if let Some(view) = self.snapshot(tenant_id, panel_id).await? {
            return Ok(view);
        }
        let events = self.inner.deps.log.load(tenant_id, panel_id).await?;
        if events.is_empty() {
            return Err(EngineError::NotFound);
        }
        let state = PanelState::from_events(&events).map_err(|e| EngineError::Unavailable(e.to_string()))?;
        if state.view.tenant_id != tenant_id {
            return Err(EngineError::NotFound);
        }
        Ok(state.view)
    }

    /// Restarts a panel from its log on this node (recovery, takeover).
    pub async fn recover_panel(&self, tenant_id: TenantId, panel_id: PanelId, policy: TenantPolicy) -> Result<(), EngineError> {
        let supervisor = self.supervisor(tenant_id, Some(policy));
        supervisor.send(RecoverPanel { tenant_id, panel_id }).timeout(self.timeout()).await.map_err(|e| EngineError::Unavailable(e.to_string()))?
    }

    /// Restarts every unfinished panel of the log; returns how many.
    pub async fn recover_all(&self, policy_for: impl Fn(TenantId) -> TenantPolicy) -> Result<usize, EngineError> {
        let unfinished = self.inner.deps.log.unfinished().await?;
        for (tenant_id, panel_id) in &unfinished {
            self.recover_panel(*tenant_id, *panel_id, policy_for(*tenant_id)).await?;
        }
        Ok(unfinished.len())
    }

    /// Applies a tenant's new limits or status (suspension pauses its panels).
    pub fn update_policy(&self, tenant_id: TenantId, policy: TenantPolicy) {
        if let Some(supervisor) = self.inner.supervisors.get(&tenant_id).map(|s| s.clone()) {
            supervisor.do_send(UpdatePolicy { policy });
        }
    }

    /// Stops a panel here without writing (its lease was lost: another node owns it).
    pub fn relinquish(&self, panel_id: PanelId) {
        let found = self.inner.running.get(&panel_id).map(|entry| entry.addr.clone());
        if let Some(actor) = found {
            // One message per lost lease: bounded.
            actor.do_send(crate::panel::messages::Relinquish);
        }
    }

    /// Whether a panel's actor runs on this node.
    pub fn is_running_here(&self, panel_id: PanelId) -> bool {
        self.inner.running.get(&panel_id).is_some_and(|entry| entry.addr.connected())
    }

    /// Pauses (or resumes) a tenant's panels for its monthly token budget.
    pub fn set_budget_exhausted(&self, tenant_id: TenantId, exhausted: bool) {
        if let Some(supervisor) = self.inner.supervisors.get(&tenant_id).map(|s| s.clone()) {
            supervisor.do_send(crate::supervisor::SetBudgetExhausted { exhausted });
        }
    }

    /// Tenants with a supervisor on this node (they have, or had, running panels).
    pub fn active_tenants(&self) -> Vec<TenantId> {
        self.inner.supervisors.iter().map(|s| *s.key()).collect()
    }

    pub async fn tenant_stats(&self, tenant_id: TenantId) -> Option<SupervisorStats> {
        let supervisor = self.inner.supervisors.get(&tenant_id).map(|s| s.clone())?;
        supervisor.send(GetSupervisorStats).timeout(self.timeout()).await.ok()
    }

    /// Running panel actors across all tenants.
    pub async fn running_panels(&self) -> usize {
        let supervisors: Vec<_> = self.inner.supervisors.iter().map(|s| s.value().clone()).collect();
        let mut total = 0;
        for supervisor in supervisors {
            if let Ok(stats) = supervisor.send(GetSupervisorStats).timeout(self.timeout()).await {
                total += stats.running;
            }
        }
        total
    }

    /// Stops every panel (checkpointing turns in flight) and the arbiters.
    pub async fn shutdown(&self, grace: Duration) {
        let supervisors: Vec<_> = self.inner.supervisors.iter().map(|s| s.value().clone()).collect();
        let waits = supervisors.into_iter().map(|s| async move {
            let _ = s.send(ShutdownPanels).await;
        });
        if tokio::time::timeout(grace, futures::future::join_all(waits)).await.is_err() {
            tracing::warn!("some panels did not stop within the grace period");
        }
        self.inner.pool.stop();
    }
}
