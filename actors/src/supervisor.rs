//! `TenantSupervisor`: one per tenant. It owns the tenant's running panel
//! actors, enforces `max_concurrent_panels`, pauses and resumes them when the
//! tenant is suspended or reactivated, and restarts a crashed panel from its
//! event log with exponential backoff. After `max_restarts` crashes without
//! progress it gives up and writes `panel_failed` itself (the crashed actor is
//! gone, so the panel still has a single writer).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::oneshot;

use crate::domain::{Caller, PanelId, PanelSetup, PauseReason, TenantId};
use crate::event::{Event, EventData, SealedEvent};
use crate::panel::actor::PanelActor;
use crate::panel::messages::{Command, ExitStatus, PanelCommand, PanelExited, Shutdown};
use crate::panel::state::PanelState;
use crate::panel::strategy::fnv1a;
use crate::panel::view::PanelView;
use crate::ports::{CreateOptions, CreateOutcome, LogError};
use crate::runtime::{ArbiterPool, EngineError, PanelDeps, RunningPanel, RunningPanels};
pub use crate::runtime::{SupervisorStats, TenantPolicy};

/// How long to wait before retrying when the storage is unavailable.
const STORAGE_RETRY: Duration = Duration::from_secs(2);

struct Supervised {
    addr: Option<Addr<PanelActor>>,
    /// Crashes since the panel last made progress.
    failures: u32,
}

/// Starts, watches and restarts one tenant's panel actors, and enforces the tenant's policy.
pub struct TenantSupervisor {
    tenant_id: TenantId,
    /// The parent of everything this actor logs: it carries the tenant.
    span: tracing::Span,
    policy: TenantPolicy,
    deps: Arc<PanelDeps>,
    pool: Arc<ArbiterPool>,
    panels: HashMap<PanelId, Supervised>,
    /// Slots taken by creations whose first event is being written.
    reserved: usize,
    stats: SupervisorStats,
    shutting_down: bool,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    /// The tenant spent its monthly token budget: its panels are paused.
    budget_exhausted: bool,
    /// The engine's index of running panels, kept up to date here.
    running: Arc<RunningPanels>,
}

impl TenantSupervisor {
    /// A supervisor for one tenant; it keeps its panels listed in `running`.
    pub fn new(
        tenant_id: TenantId,
        policy: TenantPolicy,
        deps: Arc<PanelDeps>,
        pool: Arc<ArbiterPool>,
        running: Arc<RunningPanels>,
    ) -> Self {
        Self {
            span: tracing::info_span!("tenant_supervisor", tenant_id = %tenant_id),
            tenant_id,
            policy,
            deps,
            pool,
            panels: HashMap::new(),
            reserved: 0,
            stats: SupervisorStats::default(),
            shutting_down: false,
            shutdown_waiters: Vec::new(),
            budget_exhausted: false,
            running,
        }
    }

    fn start_panel(&mut self, ctx: &mut Context<Self>, state: PanelState) -> Addr<PanelActor> {
        let panel_id = state.view.id;
        let pause_for_budget = self.budget_exhausted && state.status() != crate::domain::PanelStatus::Paused;
        let arbiter = self.pool.for_key(panel_id.0.as_u128());
        let (view_tx, view_rx) = tokio::sync::watch::channel(state.view.clone());
        let addr = PanelActor::start_on(&arbiter, state, self.deps.clone(), Some(ctx.address().recipient()), view_tx);
        self.stats.started += 1;
        let entry = self.panels.entry(panel_id).or_insert(Supervised { addr: None, failures: 0 });
        entry.addr = Some(addr.clone());
        self.running.insert(
            panel_id,
            RunningPanel {
                tenant_id: self.tenant_id,
                commands: addr.clone().recipient(),
                snapshots: addr.clone().recipient(),
                relinquish: addr.clone().recipient(),
                view: view_rx,
            },
        );
        if pause_for_budget {
            let msg = PanelCommand {
                tenant_id: self.tenant_id,
                panel_id,
                caller: Caller::system("platform"),
                command: Command::SystemPause { reason: PauseReason::TokenBudgetExhausted },
            };
            ctx.spawn(addr.send(msg).into_actor(self).map(|_, _, _| ()));
        }
        addr
    }

    fn backoff(&self, panel_id: PanelId, failures: u32) -> Duration {
        let settings = &self.deps.settings;
        let base = settings.restart_backoff.as_secs_f64() * 2f64.powi(failures.saturating_sub(1).min(16) as i32);
        let capped = base.min(settings.restart_backoff_max.as_secs_f64());
        // Deterministic jitter of up to +25% so panels that crashed together do not restart together.
        let mut key = panel_id.0.as_bytes().to_vec();
        key.extend_from_slice(&failures.to_le_bytes());
        let jitter = (fnv1a(&key) % 1000) as f64 / 1000.0 * 0.25;
        Duration::from_secs_f64(capped * (1.0 + jitter))
    }

    /// Loads a panel's log and starts its actor.
    fn restart(&mut self, ctx: &mut Context<Self>, panel_id: PanelId) {
        let load = self.deps.log.load(self.tenant_id, panel_id);
        ctx.spawn(load.into_actor(self).map(move |result, act, ctx| {
            if act.shutting_down {
                act.forget(panel_id);
                return;
            }
            let events = match result {
                Ok(events) => events,
                Err(LogError::Storage(error)) => {
                    // The storage is down: wait for it, without spending the restart budget.
                    tracing::warn!(parent: &act.span, %panel_id, %error, "cannot reload panel yet; storage unavailable");
                    ctx.run_later(STORAGE_RETRY, move |act, ctx| {
                        if act.panels.contains_key(&panel_id) && !act.shutting_down {
                            act.restart(ctx, panel_id);
                        }
                    });
                    return;
                }
                Err(error) => return act.on_crash(ctx, panel_id, format!("reload failed: {error}"), 0),
            };
            match PanelState::from_events(&events) {
                Ok(state) if state.status().is_terminal() => act.forget(panel_id),
                Ok(state) => {
                    act.stats.restarts += 1;
                    act.start_panel(ctx, state);
                }
                Err(error) => {
                    tracing::error!(parent: &act.span, %panel_id, %error, "cannot rebuild panel from its log");
                    act.on_crash(ctx, panel_id, format!("reload failed: {error}"), 0);
                }
            }
        }));
    }

    fn on_crash(&mut self, ctx: &mut Context<Self>, panel_id: PanelId, reason: String, turns_ended: u32) {
        let max = self.deps.settings.max_restarts;
        self.running.remove(&panel_id);
        let Some(entry) = self.panels.get_mut(&panel_id) else { return };
        entry.addr = None;
        if turns_ended > 0 {
            entry.failures = 0;
        }
        entry.failures += 1;
        let failures = entry.failures;
        if failures > max {
            tracing::error!(parent: &self.span, %panel_id, failures, %reason, "giving up on panel");
            self.stats.gave_up += 1;
            self.write_failure(ctx, panel_id, format!("gave up after {max} restarts: {reason}"));
            return;
        }
        let delay = self.backoff(panel_id, failures);
        tracing::warn!(parent: &self.span, %panel_id, failures, delay_ms = delay.as_millis() as u64, %reason, "restarting panel");
        ctx.run_later(delay, move |act, ctx| {
            if act.panels.contains_key(&panel_id) && !act.shutting_down {
                act.restart(ctx, panel_id);
            }
        });
    }

    /// Appends `panel_failed` for a panel whose actor is gone.
    fn write_failure(&mut self, ctx: &mut Context<Self>, panel_id: PanelId, error: String) {
        let (tenant_id, log, publisher) = (self.tenant_id, self.deps.log.clone(), self.deps.publisher.clone());
        let message = error.clone();
        let task = async move {
            let events = log.load(tenant_id, panel_id).await?;
            let head = events.last().map_or(0, |e| e.seq);
            if events.last().is_some_and(|e| e.data.is_terminal()) {
                return Ok(());
            }
            let event = Event { seq: head + 1, ts: Utc::now(), data: EventData::PanelFailed { error } };
            let event =
                SealedEvent::seal(event).map_err(|e| LogError::Conflict(format!("unserialisable event: {e}")))?;
            log.append(tenant_id, panel_id, vec![event.clone()], crate::domain::PanelStatus::Failed).await?;
            publisher.publish_event(tenant_id, panel_id, &event);
            Ok::<_, crate::ports::LogError>(())
        };
        ctx.spawn(task.into_actor(self).map(move |result, act, ctx| match result {
            Err(LogError::Storage(error)) if !act.shutting_down => {
                tracing::warn!(parent: &act.span, %panel_id, %error, "cannot record the panel's failure yet; retrying");
                let again = message.clone();
                ctx.run_later(STORAGE_RETRY, move |act, ctx| act.write_failure(ctx, panel_id, again));
            }
            result => {
                if let Err(error) = result {
                    tracing::error!(parent: &act.span, %panel_id, %error, "could not record the panel's failure; it will be retried at the next start");
                }
                act.stats.failed += 1;
                act.forget(panel_id);
            }
        }));
    }

    fn forget(&mut self, panel_id: PanelId) {
        self.panels.remove(&panel_id);
        self.running.remove(&panel_id);
        if self.shutting_down && self.panels.values().all(|p| p.addr.is_none()) {
            for waiter in self.shutdown_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    fn broadcast_command(&self, ctx: &mut Context<Self>, command: Command) {
        for (panel_id, supervised) in &self.panels {
            let Some(addr) = supervised.addr.clone() else { continue };
            let msg = PanelCommand {
                tenant_id: self.tenant_id,
                panel_id: *panel_id,
                caller: Caller::system("platform"),
                command: command.clone(),
            };
            let panel_id = *panel_id;
            ctx.spawn(addr.send(msg).into_actor(self).map(move |result, act, _| {
                if !matches!(result, Ok(Ok(()))) {
                    tracing::warn!(parent: &act.span, %panel_id, ?result, "platform command not applied");
                }
            }));
        }
    }
}

impl Actor for TenantSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.deps.settings.supervisor_mailbox);
    }
}

/// A panel created (or found again by its idempotency key).
#[derive(Clone, Debug)]
pub struct CreatedPanel {
    /// The panel of the `panel_created` event.
    pub panel: PanelView,
    /// The idempotency key returned an earlier panel.
    pub existing: Option<PanelId>,
}

/// Create and start a panel.
#[derive(Message)]
#[rtype(result = "Result<CreatedPanel, EngineError>")]
pub struct CreatePanel {
    /// The tenant creating the panel.
    pub tenant_id: TenantId,
    /// The panel of its `panel_created` event.
    pub view: Box<PanelView>,
    /// The setup of its `panel_created` event.
    pub setup: Box<PanelSetup>,
    /// Creation options (the idempotency key).
    pub options: CreateOptions,
}

impl Handler<CreatePanel> for TenantSupervisor {
    type Result = ResponseActFuture<Self, Result<CreatedPanel, EngineError>>;

    fn handle(&mut self, msg: CreatePanel, _: &mut Context<Self>) -> Self::Result {
        if msg.tenant_id != self.tenant_id {
            return Box::pin(actix::fut::ready(Err(EngineError::NotFound)));
        }
        if self.policy.suspended {
            return Box::pin(actix::fut::ready(Err(EngineError::Suspended)));
        }
        if self.shutting_down {
            return Box::pin(actix::fut::ready(Err(EngineError::Unavailable("shutting down".into()))));
        }
        let limit = self.policy.max_concurrent_panels as usize;
        if self.panels.len() + self.reserved >= limit {
            return Box::pin(actix::fut::ready(Err(EngineError::LimitExceeded(format!(
                "at most {limit} concurrent panels"
            )))));
        }
        self.reserved += 1;
        let panel_id = msg.view.id;
        let event = Event {
            seq: 1,
            ts: msg.view.created_at,
            data: EventData::PanelCreated { panel: msg.view, setup: msg.setup },
        };
        let event = match SealedEvent::seal(event) {
            Ok(event) => event,
            Err(error) => {
                self.reserved -= 1;
                return Box::pin(actix::fut::ready(Err(EngineError::Unavailable(format!(
                    "unserialisable event: {error}"
                )))));
            }
        };
        let create = self.deps.log.create(self.tenant_id, panel_id, event.clone(), msg.options);
        Box::pin(create.into_actor(self).map(move |result, act, ctx| {
            act.reserved -= 1;
            match result {
                Ok(CreateOutcome::Created) => {
                    let state =
                        PanelState::from_creation(&event.event).map_err(|e| EngineError::Unavailable(e.to_string()))?;
                    let panel = (*state.view).clone();
                    act.deps.publisher.publish_event(act.tenant_id, panel_id, &event);
                    act.start_panel(ctx, state);
                    Ok(CreatedPanel { panel, existing: None })
                }
                Ok(CreateOutcome::Existing(existing)) => {
                    let EventData::PanelCreated { panel, .. } = event.event.data else { unreachable!("built above") };
                    Ok(CreatedPanel { panel: *panel, existing: Some(existing) })
                }
                Err(LogError::LimitExceeded(limit)) => Err(EngineError::LimitExceeded(limit)),
                Err(error) => Err(EngineError::Log(error)),
            }
        }))
    }
}

/// Start a panel from its log (recovery at start, takeover).
#[derive(Message)]
#[rtype(result = "Result<(), EngineError>")]
pub struct RecoverPanel {
    /// The panel's tenant.
    pub tenant_id: TenantId,
    /// The panel to recover.
    pub panel_id: PanelId,
}

impl Handler<RecoverPanel> for TenantSupervisor {
    type Result = Result<(), EngineError>;

    fn handle(&mut self, msg: RecoverPanel, ctx: &mut Context<Self>) -> Self::Result {
        if msg.tenant_id != self.tenant_id {
            return Err(EngineError::NotFound);
        }
        if self.panels.contains_key(&msg.panel_id) {
            return Ok(());
        }
        self.panels.insert(msg.panel_id, Supervised { addr: None, failures: 0 });
        self.restart(ctx, msg.panel_id);
        Ok(())
    }
}

impl Handler<PanelExited> for TenantSupervisor {
    type Result = ();

    fn handle(&mut self, msg: PanelExited, ctx: &mut Context<Self>) {
        if msg.tenant_id != self.tenant_id {
            return;
        }
        match msg.status {
            ExitStatus::Completed => {
                self.stats.completed += 1;
                self.forget(msg.panel_id);
            }
            ExitStatus::Cancelled => {
                self.stats.cancelled += 1;
                self.forget(msg.panel_id);
            }
            ExitStatus::Failed(_) => {
                self.stats.failed += 1;
                self.forget(msg.panel_id);
            }
            ExitStatus::Stopped | ExitStatus::Relinquished => self.forget(msg.panel_id),
            ExitStatus::Crashed(_) | ExitStatus::Panicked if self.shutting_down => self.forget(msg.panel_id),
            ExitStatus::Crashed(reason) => self.on_crash(ctx, msg.panel_id, reason, msg.turns_ended),
            ExitStatus::Panicked => {
                tracing::error!(parent: &self.span, panel_id = %msg.panel_id, "panel actor panicked; restarting it from its log");
                self.on_crash(ctx, msg.panel_id, "the panel actor panicked".into(), msg.turns_ended)
            }
        }
    }
}

/// New limits or status for the tenant.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UpdatePolicy {
    /// The tenant's new policy.
    pub policy: TenantPolicy,
}

impl Handler<UpdatePolicy> for TenantSupervisor {
    type Result = ();

    fn handle(&mut self, msg: UpdatePolicy, ctx: &mut Context<Self>) {
        let was_suspended = self.policy.suspended;
        self.policy = msg.policy;
        match (was_suspended, msg.policy.suspended) {
            (false, true) => self.broadcast_command(ctx, Command::SystemPause { reason: PauseReason::TenantSuspended }),
            (true, false) => {
                self.broadcast_command(ctx, Command::SystemResume { reason: PauseReason::TenantSuspended })
            }
            _ => {}
        }
    }
}

/// The tenant's monthly token budget is spent (or available again).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetBudgetExhausted {
    /// Whether the budget is spent (or available again).
    pub exhausted: bool,
}

impl Handler<SetBudgetExhausted> for TenantSupervisor {
    type Result = ();

    fn handle(&mut self, msg: SetBudgetExhausted, ctx: &mut Context<Self>) {
        if msg.exhausted == self.budget_exhausted {
            return;
        }
        self.budget_exhausted = msg.exhausted;
        let reason = PauseReason::TokenBudgetExhausted;
        if msg.exhausted {
            tracing::warn!(parent: &self.span, "token budget spent; pausing the tenant's panels");
            self.broadcast_command(ctx, Command::SystemPause { reason });
        } else {
            self.broadcast_command(ctx, Command::SystemResume { reason });
        }
    }
}

/// Stop every panel for a shutdown; resolves when all have stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownPanels;

impl Handler<ShutdownPanels> for TenantSupervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: ShutdownPanels, _: &mut Context<Self>) -> Self::Result {
        self.shutting_down = true;
        self.panels.retain(|_, p| p.addr.is_some());
        let (tx, rx) = oneshot::channel();
        if self.panels.is_empty() {
            let _ = tx.send(());
        } else {
            self.shutdown_waiters.push(tx);
            for supervised in self.panels.values() {
                if let Some(addr) = &supervised.addr {
                    // Shutdown is sent once per panel; a full mailbox drains first.
                    addr.do_send(Shutdown);
                }
            }
        }
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

/// Asks a supervisor what it has done ([`SupervisorStats`]).
#[derive(Message)]
#[rtype(result = "SupervisorStats")]
pub struct GetSupervisorStats;

impl Handler<GetSupervisorStats> for TenantSupervisor {
    type Result = MessageResult<GetSupervisorStats>;

    fn handle(&mut self, _: GetSupervisorStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(SupervisorStats {
            running: self.panels.values().filter(|p| p.addr.is_some()).count(),
            ..self.stats
        })
    }
}
