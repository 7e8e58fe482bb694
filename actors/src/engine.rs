//! The engine: the facade the server and the CLI use. It owns the arbiter
//! pool and one [`TenantSupervisor`] per tenant, and routes every call through
//! the tenant's supervisor to the panel's actor.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;

use crate::domain::{PanelId, TenantId};
use crate::model::ExpertModel;
use crate::panel::messages::{GetSnapshot, PanelCommand, Relinquish};
use crate::panel::new::{NewPanel, build_panel};
use crate::panel::state::PanelState;
use crate::panel::view::PanelView;
use crate::ports::{CreateOptions, EventLog};
pub use crate::runtime::{ArbiterPool, EngineError, EngineSettings, PanelDeps, RunningPanel, RunningPanels};
use crate::supervisor::{
    CreatePanel, CreatedPanel, GetSupervisorStats, RecoverPanel, ShutdownPanels, SupervisorStats, TenantPolicy,
    TenantSupervisor, UpdatePolicy,
};

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
        Self {
            inner: Arc::new(EngineInner {
                deps: Arc::new(deps),
                pool,
                supervisors: DashMap::new(),
                running: Arc::new(DashMap::new()),
            }),
        }
    }

    /// The model backend behind every AI member.
    pub fn model(&self) -> &Arc<dyn ExpertModel> {
        &self.inner.deps.model
    }

    /// The durable event log the panels write to.
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
                TenantSupervisor::start_in_arbiter(&arbiter, move |_| {
                    TenantSupervisor::new(tenant_id, policy, deps, pool, running)
                })
            })
            .clone();
        if let (false, Some(policy)) = (created, policy) {
            // A policy change is rare and small; the supervisor's mailbox is large.
            addr.do_send(UpdatePolicy { policy });
        }
        addr
    }

    /// Validates, creates and starts a panel.
    pub async fn create_panel(
        &self,
        policy: TenantPolicy,
        request: NewPanel,
        options: CreateOptions,
    ) -> Result<CreatedPanel, EngineError> {
        let tenant_id = request.tenant_id;
        let (view, setup) = build_panel(request, PanelId::new())?;
        let supervisor = self.supervisor(tenant_id, Some(policy));
        let msg = CreatePanel { tenant_id, view: Box::new(view), setup: Box::new(setup), options };
        let created = supervisor
            .send(msg)
            .timeout(self.timeout())
            .await
            .map_err(|e| EngineError::Unavailable(e.to_string()))??;
        match created.existing {
            None => Ok(created),
            Some(existing) => {
                Ok(CreatedPanel { panel: self.panel_view(tenant_id, existing).await?, existing: Some(existing) })
            }
        }
    }

    /// The running panel, when it is this tenant's and its actor is alive.
    fn locate(&self, tenant_id: TenantId, panel_id: PanelId) -> Option<RunningPanel> {
        // The guard is dropped before anything awaits.
        let found =
            self.inner.running.get(&panel_id).filter(|entry| entry.tenant_id == tenant_id).map(|entry| entry.clone());
        found.filter(|panel| panel.commands.connected())
    }

    /// Sends a command to a running panel; replies once its events are durable.
    pub async fn command(&self, command: PanelCommand) -> Result<(), EngineError> {
        let actor = self.locate(command.tenant_id, command.panel_id).ok_or(EngineError::NotRunning)?.commands;
        actor.send(command).timeout(self.timeout()).await.map_err(|e| EngineError::Unavailable(e.to_string()))??;
        Ok(())
    }

    /// The live snapshot of a panel running here.
    pub async fn snapshot(&self, tenant_id: TenantId, panel_id: PanelId) -> Result<Option<PanelView>, EngineError> {
        let Some(panel) = self.locate(tenant_id, panel_id) else { return Ok(None) };
        match panel.snapshots.send(GetSnapshot { tenant_id, panel_id }).timeout(self.timeout()).await {
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
        Ok(Arc::unwrap_or_clone(state.view))
    }

    /// Restarts a panel from its log on this node (recovery, takeover).
    pub async fn recover_panel(
        &self,
        tenant_id: TenantId,
        panel_id: PanelId,
        policy: TenantPolicy,
    ) -> Result<(), EngineError> {
        let supervisor = self.supervisor(tenant_id, Some(policy));
        supervisor
            .send(RecoverPanel { tenant_id, panel_id })
            .timeout(self.timeout())
            .await
            .map_err(|e| EngineError::Unavailable(e.to_string()))?
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
        let found = self.inner.running.get(&panel_id).map(|entry| entry.relinquish.clone());
        if let Some(actor) = found {
            // One message per lost lease: bounded.
            actor.do_send(Relinquish);
        }
    }

    /// Whether a panel's actor runs on this node.
    pub fn is_running_here(&self, panel_id: PanelId) -> bool {
        self.inner.running.get(&panel_id).is_some_and(|entry| entry.commands.connected())
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

    /// What the tenant's supervisor has done; `None` without a supervisor or a timely answer.
    pub async fn tenant_stats(&self, tenant_id: TenantId) -> Option<SupervisorStats> {
        let supervisor = self.inner.supervisors.get(&tenant_id).map(|s| s.clone())?;
        supervisor.send(GetSupervisorStats).timeout(self.timeout()).await.ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Caller, PanelStatus, PanelType, SimulationConfig};
    use crate::event::ModeratorActionKind;
    use crate::model::simulated::SimulatedModel;
    use crate::panel::fixture;
    use crate::panel::messages::{Command, PanelError};
    use crate::supervisor::TenantPolicy;
    use crate::testing::{InMemoryEventLog, RecordingPublisher};

    #[actix::test]
    async fn a_command_that_reaches_the_actor_past_the_facade_is_still_checked_for_its_tenant() {
        let log = InMemoryEventLog::new();
        let settings = EngineSettings { arbiters: 0, ..EngineSettings::default() };
        let engine = Engine::new(PanelDeps {
            log: Arc::new(log),
            publisher: Arc::new(RecordingPublisher::new()),
            model: Arc::new(SimulatedModel::new()),
            evidence: std::sync::Arc::new(crate::evidence::NoEvidence),
            settings,
        });
        let tenant = TenantId::new();
        let mut request =
            fixture::request(PanelType::Structured, vec![fixture::ai("Ada"), fixture::ai("Bo"), fixture::ai("Cy")]);
        request.tenant_id = tenant;
        // Slow enough to be running when the command arrives.
        request.simulation =
            Some(SimulationConfig { seed: 5, pace_tokens_per_s: 5.0, turn_tokens: 50, ..SimulationConfig::default() });
        let id =
            engine.create_panel(TenantPolicy::default(), request, CreateOptions::default()).await.unwrap().panel.id;
        let inbox = engine.inner.running.get(&id).map(|entry| entry.commands.clone()).expect("the panel runs");
        let cancel = |tenant_id| PanelCommand {
            tenant_id,
            panel_id: id,
            caller: Caller::system("intruder"),
            command: Command::Moderate { action: ModeratorActionKind::Cancel, text: None },
        };
        assert_eq!(inbox.send(cancel(TenantId::new())).await.unwrap(), Err(PanelError::NotFound));
        assert!(!engine.panel_view(tenant, id).await.unwrap().status.is_terminal(), "the foreign cancel had no effect");
        inbox.send(cancel(tenant)).await.unwrap().unwrap();
        assert_eq!(engine.panel_view(tenant, id).await.unwrap().status, PanelStatus::Cancelled);
    }
}
