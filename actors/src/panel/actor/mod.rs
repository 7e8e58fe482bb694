//! `PanelActor`: the single writer of one running panel. It asks the
//! strategy for the next step, runs it (AI turns through expert actors,
//! rounds through the consensus actor, human turns by waiting), and commits
//! every durable event to the event log before it applies and publishes it.
//!
//! Invariants:
//! - events are committed through `ctx.wait`, so at most one commit is in
//!   flight and nothing else runs meanwhile: seqs stay gap-free and state only
//!   ever holds durable events;
//! - at most one step is in flight (`in_flight`); commands that must stop it
//!   (pause, cancel, skip...) cancel its future synchronously, so no token of
//!   a cancelled turn is published after the command is handled.
//!
//! Parts: this file (state, advancing, committing, commands), [`turns`]
//! (AI turns), [`steps`] (bids, evaluation, finalisation), [`storage`]
//! (a failed commit), [`handlers`] (lifecycle and messages). The rules are
//! elsewhere and pure: [`crate::panel::strategy`], [`crate::panel::commands`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use tokio::sync::oneshot;

use crate::consensus::ConsensusActor;
use crate::domain::{Caller, MemberId, MemberKind, PanelId, PanelStatus, PauseReason, TenantId};
use crate::event::{Event, EventData, SealedEvent};
use crate::expert::ExpertActor;
use crate::panel::commands::{self, Stop};
use crate::panel::messages::{Command, ExitStatus, PanelError, PanelExited};
use crate::panel::state::PanelState;
use crate::panel::strategy::{self, Step};
use crate::ports::LogError;
use crate::runtime::PanelDeps;

mod handlers;
mod steps;
mod storage;
mod turns;

type Reply = oneshot::Sender<Result<(), PanelError>>;

/// What to do once a commit is durable.
enum Then {
    Advance,
    /// Start streaming the AI turn just opened by `turn_started`.
    Stream {
        member_id: MemberId,
        round: u32,
    },
    /// Stop and ask the supervisor for a restart.
    Crash(String),
    /// Stop for a shutdown.
    Stop,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum InFlightKind {
    AiTurn { member_id: MemberId, round: u32, turn_seq: u64 },
    Bids,
    Evaluate,
    Finalize,
}

struct InFlight {
    handle: SpawnHandle,
    kind: InFlightKind,
}

/// The text streamed so far of the turn in progress.
struct PartialTurn {
    turn_seq: u64,
    member_id: MemberId,
    text: String,
    chars: usize,
}

/// The actor that runs one panel: it folds its log, executes the strategy's steps and commits their events.
pub struct PanelActor {
    tenant_id: TenantId,
    panel_id: PanelId,
    /// The parent of everything this actor logs: it carries tenant and panel.
    span: tracing::Span,
    state: PanelState,
    deps: Arc<PanelDeps>,
    supervisor: Option<Recipient<PanelExited>>,
    experts: HashMap<MemberId, Addr<ExpertActor>>,
    consensus: Option<Addr<ConsensusActor>>,
    in_flight: Option<InFlight>,
    committing: bool,
    partial: Option<PartialTurn>,
    /// The `human_turn_requested` seq the timer is armed for.
    human_timer: Option<(u64, SpawnHandle)>,
    turns_ended: u32,
    exit: Option<ExitStatus>,
    /// Events the storage refused, retried until it is back.
    blocked: Option<Blocked>,
    /// The durable view, published after every commit for readers that must not wait.
    published: tokio::sync::watch::Sender<Arc<crate::panel::view::PanelView>>,
    /// Turns of independent rounds started ahead, by (round, member).
    prepared: HashSet<(u32, MemberId)>,
}

/// A panel frozen by a storage failure: its uncommitted events (never shown
/// to anyone) are retried with backoff; meanwhile it shows as paused and
/// refuses commands with `unavailable`. When the storage is back it records
/// the pause (`panel_paused` with the reason, then `panel_resumed`) and goes on.
struct Blocked {
    data: Vec<EventData>,
    then: Then,
    attempts: u32,
    error: String,
}

/// How often a panel paused for its model checks whether the backend is back.
const MODEL_RETRY: Duration = Duration::from_secs(2);

/// Longest wait between retries of a blocked commit.
const STORAGE_RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Message)]
#[rtype(result = "()")]
struct Advance;

impl PanelActor {
    /// A panel actor going on from `state`; it reports its exit to `supervisor` and publishes its view on `published`.
    pub fn new(
        state: PanelState,
        deps: Arc<PanelDeps>,
        supervisor: Option<Recipient<PanelExited>>,
        published: tokio::sync::watch::Sender<Arc<crate::panel::view::PanelView>>,
    ) -> Self {
        Self {
            span: tracing::info_span!("panel", tenant_id = %state.view.tenant_id, panel_id = %state.view.id),
            tenant_id: state.view.tenant_id,
            panel_id: state.view.id,
            state,
            deps,
            supervisor,
            experts: HashMap::new(),
            consensus: None,
            in_flight: None,
            committing: false,
            partial: None,
            human_timer: None,
            turns_ended: 0,
            exit: None,
            blocked: None,
            published,
            prepared: HashSet::new(),
        }
    }

    /// Starts a panel actor on an arbiter with a bounded mailbox.
    pub fn start_on(
        arbiter: &ArbiterHandle,
        state: PanelState,
        deps: Arc<PanelDeps>,
        supervisor: Option<Recipient<PanelExited>>,
        published: tokio::sync::watch::Sender<Arc<crate::panel::view::PanelView>>,
    ) -> Addr<PanelActor> {
        let capacity = deps.settings.panel_mailbox;
        PanelActor::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(capacity);
            PanelActor::new(state, deps, supervisor, published)
        })
    }

    /// Publishes the durable view (and, while blocked, how the panel stands).
    fn publish_view(&self) {
        // The state's own view, shared: the next fold copies it only while
        // a reader still holds it.
        let mut view = self.state.view.clone();
        if let Some(blocked) = &self.blocked {
            let view = Arc::make_mut(&mut view);
            view.status = PanelStatus::Paused;
            view.paused_reason = Some(PauseReason::StorageUnavailable(blocked.error.clone()).as_string());
        }
        self.published.send_replace(view);
    }

    fn simulation(&self) -> crate::domain::SimulationConfig {
        self.state.setup.config.simulation.clone().unwrap_or_else(|| self.deps.settings.default_simulation.clone())
    }

    fn advance(&mut self, ctx: &mut Context<Self>) {
        if self.committing || self.in_flight.is_some() || self.exit.is_some() || self.blocked.is_some() {
            return;
        }
        match strategy::next_step(&self.state) {
            Step::Done => {
                self.exit = Some(match self.state.status() {
                    PanelStatus::Cancelled => ExitStatus::Cancelled,
                    PanelStatus::Failed => ExitStatus::Failed(self.state.view.error.clone().unwrap_or_default()),
                    _ => ExitStatus::Completed,
                });
                ctx.stop();
            }
            Step::Wait => self.arm_human_timer(ctx),
            Step::Start => self.commit(ctx, vec![EventData::PanelStarted {}], Then::Advance, None),
            Step::AbortOpenTurn { member_id, round } => {
                let data = EventData::TurnAborted { member_id, round, reason: "interrupted".into(), error: None };
                self.commit(ctx, vec![data], Then::Advance, None);
            }
            Step::StartRound { round, phase, order, bids } => {
                if bids {
                    self.collect_bids(ctx, round, phase, order);
                } else {
                    self.commit(
                        ctx,
                        vec![EventData::RoundStarted { round, phase, order, tokens_in: 0, tokens_out: 0 }],
                        Then::Advance,
                        None,
                    );
                }
            }
            Step::Turn { member_id, round, .. } => {
                let kind = self.state.view.member(member_id).map(|m| m.kind);
                if kind == Some(MemberKind::Human) {
                    let timeout = self.state.setup.config.human_turn_timeout_s;
                    let deadline = Utc::now() + chrono::Duration::seconds(timeout as i64);
                    self.commit(
                        ctx,
                        vec![EventData::HumanTurnRequested { member_id, round, deadline }],
                        Then::Advance,
                        None,
                    );
                } else {
                    self.commit(
                        ctx,
                        vec![EventData::TurnStarted { member_id, round }],
                        Then::Stream { member_id, round },
                        None,
                    );
                }
            }
            Step::Skip { member_id, round, reason } => {
                self.commit(ctx, vec![EventData::TurnSkipped { member_id, round, reason }], Then::Advance, None)
            }
            Step::CompleteRound { round } => self.evaluate_round(ctx, round),
            Step::Finish => self.finalize(ctx),
            Step::Fail { error } => self.commit(ctx, vec![EventData::PanelFailed { error }], Then::Advance, None),
        }
    }

    /// Commits events durably, then applies and publishes them, then runs `then`.
    /// `reply` (a command's answer) is sent once the outcome is known.
    fn commit(&mut self, ctx: &mut Context<Self>, data: Vec<EventData>, then: Then, reply: Option<Reply>) {
        let events = self.stamp(data);
        let status = self.state.status_after(&events);
        let events = match seal(events) {
            Ok(events) => events,
            Err(error) => {
                if let Some(reply) = reply {
                    let _ =
                        reply.send(Err(PanelError::Unavailable("the panel is restarting; try again shortly".into())));
                }
                return self.crash(ctx, error);
            }
        };
        self.committing = true;
        let append = self.deps.log.append(self.tenant_id, self.panel_id, events.clone(), status);
        ctx.wait(append.into_actor(self).map(move |result, act, ctx| {
            act.committing = false;
            match result {
                Ok(()) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Ok(()));
                    }
                    act.committed(ctx, events, then);
                }
                Err(LogError::Storage(error)) => {
                    let data = match reply {
                        // A command that could not be recorded had no effect: say so now.
                        Some(reply) => {
                            let _ = reply.send(Err(PanelError::Unavailable(
                                "the event log is unavailable; try again shortly".into(),
                            )));
                            Vec::new()
                        }
                        None => events.into_iter().map(|e| e.event.data).collect(),
                    };
                    act.block(ctx, Blocked { data, then, attempts: 0, error });
                }
                Err(LogError::Fenced) => {
                    if let Some(reply) = reply {
                        let _ = reply
                            .send(Err(PanelError::Unavailable("the panel moved to another node; try again".into())));
                    }
                    act.relinquish(ctx);
                }
                Err(error) => {
                    tracing::error!(parent: &act.span, %error, "event log append refused");
                    if let Some(reply) = reply {
                        let _ = reply
                            .send(Err(PanelError::Unavailable("the panel is restarting; try again shortly".into())));
                    }
                    act.crash(ctx, format!("event log append refused: {error}"));
                }
            }
        }));
    }

    /// Numbers events after the head (sealed after the status they lead to is known).
    fn stamp(&self, data: Vec<EventData>) -> Vec<Event> {
        let head = self.state.head_seq();
        let ts = Utc::now();
        data.into_iter().enumerate().map(|(i, data)| Event { seq: head + 1 + i as u64, ts, data }).collect()
    }

    /// Applies and publishes durable events, then continues.
    fn committed(&mut self, ctx: &mut Context<Self>, events: Vec<SealedEvent>, then: Then) {
        for event in &events {
            if let Err(error) = self.state.apply(&event.event) {
                // Only a bug can get here: the events were built from this very state.
                tracing::error!(parent: &self.span, %error, "committed event does not apply");
                return self.crash(ctx, format!("state diverged from the log: {error}"));
            }
        }
        // The view first, so that whoever sees one of these events and then
        // reads the panel finds the panel at least that far.
        self.publish_view();
        for event in &events {
            self.deps.publisher.publish_event(self.tenant_id, self.panel_id, event);
            self.after_event(&event.event);
        }
        match then {
            Then::Advance => self.advance(ctx),
            Then::Stream { member_id, round } => self.stream_turn(ctx, member_id, round),
            Then::Crash(reason) => self.crash(ctx, reason),
            Then::Stop => {
                self.exit = Some(ExitStatus::Stopped);
                ctx.stop();
            }
        }
    }

    fn after_event(&mut self, event: &Event) {
        if matches!(&event.data, EventData::TurnAborted { reason, .. } if reason == crate::event::ABORTED_BY_MODEL_ERROR)
        {
            self.turns_ended += 1;
        }
        if let EventData::TurnCompleted { .. } = &event.data {
            self.turns_ended += 1;
        }
    }

    /// Another node owns the panel: stop now, writing nothing more.
    fn relinquish(&mut self, ctx: &mut Context<Self>) {
        tracing::warn!(parent: &self.span, "panel owned elsewhere now; stopping here");
        self.cancel_in_flight(ctx);
        self.blocked = None;
        self.exit = Some(ExitStatus::Relinquished);
        ctx.stop();
    }

    fn crash(&mut self, ctx: &mut Context<Self>, reason: String) {
        self.cancel_in_flight(ctx);
        if self.exit.is_none() {
            self.exit = Some(ExitStatus::Crashed(reason));
        }
        ctx.stop();
    }

    /// Stops the step in flight; returns the AI turn it interrupted, if any.
    fn cancel_in_flight(&mut self, ctx: &mut Context<Self>) -> Option<(MemberId, u32)> {
        let in_flight = self.in_flight.take()?;
        ctx.cancel_future(in_flight.handle);
        self.partial = None;
        match in_flight.kind {
            InFlightKind::AiTurn { member_id, round, .. } => Some((member_id, round)),
            _ => None,
        }
    }

    fn arm_human_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(pending) = self.state.view.pending_human.clone() else { return };
        if self.state.status() == PanelStatus::Paused
            || self.human_timer.is_some_and(|(seq, _)| seq == pending.request_seq)
        {
            return;
        }
        if let Some((_, handle)) = self.human_timer.take() {
            ctx.cancel_future(handle);
        }
        let wait = (pending.deadline - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let seq = pending.request_seq;
        let handle = ctx.run_later(wait, move |act, ctx| act.on_human_timeout(ctx, seq));
        self.human_timer = Some((seq, handle));
    }

    fn on_human_timeout(&mut self, ctx: &mut Context<Self>, request_seq: u64) {
        if self.human_timer.is_some_and(|(seq, _)| seq == request_seq) {
            self.human_timer = None;
        }
        let Some(pending) = self.state.view.pending_human.clone() else { return };
        if pending.request_seq != request_seq
            || self.state.status() == PanelStatus::Paused
            || self.exit.is_some()
            || self.blocked.is_some()
        {
            return;
        }
        let data =
            EventData::TurnSkipped { member_id: pending.member_id, round: pending.round, reason: "timeout".into() };
        self.commit(ctx, vec![data], Then::Advance, None);
    }

    fn handle_command(&mut self, ctx: &mut Context<Self>, caller: Caller, command: Command, reply: Reply) {
        if self.blocked.is_some() {
            let _ = reply
                .send(Err(PanelError::Unavailable("the panel's storage is unavailable; try again shortly".into())));
            return;
        }
        match commands::decide(&self.state, self.turn_on_air(), &caller, command, Utc::now()) {
            Err(error) => {
                let _ = reply.send(Err(error));
            }
            Ok(decision) => {
                match decision.stop {
                    Stop::Nothing => {}
                    Stop::TurnOnAir => {
                        if self.turn_on_air().is_some() {
                            self.cancel_in_flight(ctx);
                        }
                    }
                    Stop::Everything => {
                        self.cancel_in_flight(ctx);
                        if let Some((_, handle)) = self.human_timer.take() {
                            ctx.cancel_future(handle);
                        }
                    }
                }
                if decision.events.is_empty() {
                    let _ = reply.send(Ok(()));
                } else {
                    self.commit(ctx, decision.events, Then::Advance, Some(reply));
                }
            }
        }
    }

    /// The AI turn whose model call is running, if any.
    fn turn_on_air(&self) -> Option<(MemberId, u32)> {
        match self.in_flight.as_ref().map(|f| f.kind) {
            Some(InFlightKind::AiTurn { member_id, round, .. }) => Some((member_id, round)),
            _ => None,
        }
    }

    fn snapshot(&self) -> crate::panel::view::PanelView {
        let mut view = (*self.state.view).clone();
        if let Some(blocked) = &self.blocked {
            // Not an event (nothing can be recorded now): how the panel stands meanwhile.
            view.status = PanelStatus::Paused;
            view.paused_reason = Some(PauseReason::StorageUnavailable(blocked.error.clone()).as_string());
        }
        if let (Some(current), Some(partial)) = (view.current_turn.as_mut(), self.partial.as_ref())
            && current.turn_seq == partial.turn_seq
        {
            current.text = partial.text.clone();
        }
        view
    }
}

/// Serialises numbered events once, for the log and the fan-out alike.
fn seal(events: Vec<Event>) -> Result<Vec<SealedEvent>, String> {
    events
        .into_iter()
        .map(SealedEvent::seal)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("unserialisable event: {e}"))
}
