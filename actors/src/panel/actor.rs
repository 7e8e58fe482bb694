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

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::fut::wrap_stream;
use actix::prelude::*;
use chrono::Utc;
use futures::{StreamExt, stream};
use tokio::sync::oneshot;

use crate::consensus::{ConsensusActor, EvaluateRound, Finalize};
use crate::domain::{Caller, MemberId, MemberKind, PanelId, PanelStatus, PanelType, PauseReason, TenantId};
use crate::event::{Event, EventData, Phase, TokenDelta};
use crate::expert::{ExpertActor, PrepareTurn, RequestBid, TakeTurn};
use crate::model::{Bid, ModelError, TurnChunk, Usage};
use crate::panel::commands::{self, Stop};
use crate::panel::messages::{Command, ExitStatus, GetSnapshot, PanelCommand, PanelError, PanelExited, Shutdown};
use crate::panel::state::PanelState;
use crate::panel::strategy::{self, Step};
use crate::ports::LogError;
use crate::runtime::PanelDeps;

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

pub struct PanelActor {
    tenant_id: TenantId,
    panel_id: PanelId,
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
    pub fn new(
        state: PanelState,
        deps: Arc<PanelDeps>,
        supervisor: Option<Recipient<PanelExited>>,
        published: tokio::sync::watch::Sender<Arc<crate::panel::view::PanelView>>,
    ) -> Self {
        Self {
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
        let mut view = self.state.view.clone();
        if let Some(blocked) = &self.blocked {
            view.status = PanelStatus::Paused;
            view.paused_reason = Some(PauseReason::StorageUnavailable(blocked.error.clone()).as_string());
        }
        self.published.send_replace(Arc::new(view));
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
                    self.commit(ctx, vec![EventData::RoundStarted { round, phase, order, tokens_in: 0, tokens_out: 0 }], Then::Advance, None);
                }
            }
            Step::Turn { member_id, round, .. } => {
                let kind = self.state.view.member(member_id).map(|m| m.kind);
                if kind == Some(MemberKind::Human) {
                    let timeout = self.state.setup.config.human_turn_timeout_s;
                    let deadline = Utc::now() + chrono::Duration::seconds(timeout as i64);
                    self.commit(ctx, vec![EventData::HumanTurnRequested { member_id, round, deadline }], Then::Advance, None);
                } else {
                    self.commit(ctx, vec![EventData::TurnStarted { member_id, round }], Then::Stream { member_id, round }, None);
                }
            }
            Step::Skip { member_id, round, reason } => self.commit(ctx, vec![EventData::TurnSkipped { member_id, round, reason }], Then::Advance, None),
            Step::CompleteRound { round } => self.evaluate_round(ctx, round),
            Step::Finish => self.finalize(ctx),
            Step::Fail { error } => self.commit(ctx, vec![EventData::PanelFailed { error }], Then::Advance, None),
        }
    }

    /// Commits events durably, then applies and publishes them, then runs `then`.
    /// `reply` (a command's answer) is sent once the outcome is known.
    fn commit(&mut self, ctx: &mut Context<Self>, data: Vec<EventData>, then: Then, reply: Option<Reply>) {
        let events = self.stamp(data);
        self.committing = true;
        let status = self.state.status_after(&events);
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
                            let _ = reply.send(Err(PanelError::Unavailable("the event log is unavailable; try again shortly".into())));
                            Vec::new()
                        }
                        None => events.into_iter().map(|e| e.data).collect(),
                    };
                    act.block(ctx, Blocked { data, then, attempts: 0, error });
                }
                Err(LogError::Fenced) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(PanelError::Unavailable("the panel moved to another node; try again".into())));
                    }
                    act.relinquish(ctx);
                }
                Err(error) => {
                    tracing::error!(tenant_id = %act.tenant_id, panel_id = %act.panel_id, %error, "event log append refused");
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(PanelError::Unavailable("the panel is restarting; try again shortly".into())));
                    }
                    act.crash(ctx, format!("event log append refused: {error}"));
                }
            }
        }));
    }

    /// Numbers events after the head.
    fn stamp(&self, data: Vec<EventData>) -> Vec<Event> {
        let head = self.state.head_seq();
        let ts = Utc::now();
        data.into_iter().enumerate().map(|(i, data)| Event { seq: head + 1 + i as u64, ts, data }).collect()
    }

    /// Applies and publishes durable events, then continues.
    fn committed(&mut self, ctx: &mut Context<Self>, events: Vec<Event>, then: Then) {
        for event in &events {
            if let Err(error) = self.state.apply(event) {
                // Only a bug can get here: the events were built from this very state.
                tracing::error!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, %error, "committed event does not apply");
                return self.crash(ctx, format!("state diverged from the log: {error}"));
            }
        }
        // The view first, so that whoever sees one of these events and then
        // reads the panel finds the panel at least that far.
        self.publish_view();
        for event in &events {
            self.deps.publisher.publish_event(self.tenant_id, self.panel_id, event);
            self.after_event(event);
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

    /// Freezes the panel after a storage failure and schedules a retry.
    fn block(&mut self, ctx: &mut Context<Self>, blocked: Blocked) {
        tracing::warn!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, attempts = blocked.attempts, error = %blocked.error, "storage unavailable; panel paused until it is back");
        self.cancel_in_flight(ctx);
        if let Some((_, handle)) = self.human_timer.take() {
            ctx.cancel_future(handle);
        }
        let delay = Duration::from_millis(100u64.saturating_mul(1 << blocked.attempts.min(10))).min(STORAGE_RETRY_MAX);
        self.blocked = Some(blocked);
        self.publish_view();
        ctx.run_later(delay, |act, ctx| act.retry_blocked(ctx));
    }

    fn retry_blocked(&mut self, ctx: &mut Context<Self>) {
        let Some(blocked) = self.blocked.take() else { return };
        if self.exit.is_some() {
            return;
        }
        let status = self.state.status();
        let mut data = Vec::new();
        // Record the pause, unless a moderator had paused the panel already.
        if status != PanelStatus::Paused && !status.is_terminal() {
            data.push(EventData::PanelPaused { reason: PauseReason::StorageUnavailable(blocked.error.clone()).as_string() });
            data.push(EventData::PanelResumed {});
        }
        data.extend(blocked.data.iter().cloned());
        let events = self.stamp(data);
        let status_after = self.state.status_after(&events);
        self.committing = true;
        let append = self.deps.log.append(self.tenant_id, self.panel_id, events.clone(), status_after);
        ctx.wait(append.into_actor(self).map(move |result, act, ctx| {
            act.committing = false;
            match result {
                Ok(()) => {
                    tracing::info!(tenant_id = %act.tenant_id, panel_id = %act.panel_id, attempts = blocked.attempts + 1, "storage is back; panel continues");
                    act.committed(ctx, events, blocked.then);
                }
                Err(LogError::Storage(error)) => act.block(ctx, Blocked { attempts: blocked.attempts + 1, error, ..blocked }),
                Err(LogError::Fenced) => act.relinquish(ctx),
                Err(error) => act.crash(ctx, format!("event log append refused: {error}")),
            }
        }));
    }

    fn after_event(&mut self, event: &Event) {
        if matches!(&event.data, EventData::TurnAborted { reason, .. } if reason == crate::event::ABORTED_BY_MODEL_ERROR) {
            self.turns_ended += 1;
        }
        if let EventData::TurnCompleted { .. } = &event.data {
            self.turns_ended += 1;
        }
    }

    /// Another node owns the panel: stop now, writing nothing more.
    fn relinquish(&mut self, ctx: &mut Context<Self>) {
        tracing::warn!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, "panel owned elsewhere now; stopping here");
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

    fn stream_turn(&mut self, ctx: &mut Context<Self>, member_id: MemberId, round: u32) {
        let turn_seq = self.state.head_seq();
        let Some(expert) = self.experts.get(&member_id).cloned() else {
            let reason = "unavailable: no expert for this member".to_string();
            self.commit(ctx, vec![EventData::TurnSkipped { member_id, round, reason }], Then::Advance, None);
            return;
        };
        let attempt = self.attempt_of(member_id);
        let view = strategy::member_view(&self.state, member_id, round);
        let chunks = stream::once(expert.send(TakeTurn { view, attempt })).flat_map(|reply| match reply {
            Ok(turn) => turn,
            Err(error) => stream::once(async move { Err(ModelError::Unavailable(format!("expert actor: {error}"))) }).boxed(),
        });
        self.partial = Some(PartialTurn { turn_seq, member_id, text: String::new(), chars: 0 });
        let handle = ctx.spawn(
            wrap_stream::<_, Self>(chunks).map(move |chunk, act, ctx| act.on_chunk(ctx, turn_seq, chunk)).finish().map(move |(), act, ctx| act.on_stream_end(ctx, turn_seq)),
        );
        self.in_flight = Some(InFlight { handle, kind: InFlightKind::AiTurn { member_id, round, turn_seq } });
    }

    /// Which attempt at the member's turn in the current round is next (1 = first).
    fn attempt_of(&self, member_id: MemberId) -> u32 {
        1 + self.state.rounds.last().and_then(|p| p.model_failures.get(&member_id).copied()).unwrap_or(0)
    }

    /// Independent positions: starts the model calls of the round's later AI
    /// members now, so they run while `current` speaks. Their views cannot
    /// change before their turns (they see no turn of this round), except the
    /// socratic answerers', who wait for the question.
    fn prepare_later_turns(&mut self, current: MemberId, round: u32) {
        if self.state.flow() == PanelType::Socratic && strategy::questioner(&self.state) == Some(current) {
            return;
        }
        let Some((_, progress)) = self.state.current_round() else { return };
        let later: Vec<MemberId> = progress.order.iter().skip_while(|m| **m != current).skip(1).filter(|m| !progress.done.contains(m)).copied().collect();
        for member in later {
            let Some(expert) = self.experts.get(&member).cloned() else { continue };
            if !self.prepared.insert((round, member)) {
                continue;
            }
            let view = strategy::member_view(&self.state, member, round);
            // Bounded: at most one prepared turn per member and round; a full
            // mailbox only means the turn runs when its time comes.
            let _ = expert.try_send(PrepareTurn { view, attempt: self.attempt_of(member) });
        }
    }

    fn current_turn(&self, turn_seq: u64) -> Option<(MemberId, u32)> {
        match self.in_flight.as_ref().map(|f| f.kind) {
            Some(InFlightKind::AiTurn { member_id, round, turn_seq: seq }) if seq == turn_seq => Some((member_id, round)),
            _ => None,
        }
    }

    fn on_chunk(&mut self, ctx: &mut Context<Self>, turn_seq: u64, chunk: Result<TurnChunk, ModelError>) {
        let Some((member_id, round)) = self.current_turn(turn_seq) else { return };
        match chunk {
            Ok(TurnChunk::Delta(delta)) => {
                let Some(partial) = self.partial.as_mut().filter(|p| p.turn_seq == turn_seq) else { return };
                let first = partial.chars == 0;
                let offset = partial.chars;
                partial.chars += delta.chars().count();
                partial.text.push_str(&delta);
                let token = TokenDelta { turn_seq, member_id: partial.member_id, offset, delta };
                self.deps.publisher.publish_token(self.tenant_id, self.panel_id, &token);
                // The turn on air has its model call: the later independent
                // turns start now, queued behind it where calls are limited.
                if first && self.deps.model.concurrent_turns() && self.state.flow().round_is_independent(round) {
                    self.prepare_later_turns(member_id, round);
                }
            }
            Ok(TurnChunk::Done(output)) => {
                self.in_flight = None;
                let streamed = self.partial.take().map(|p| p.text).unwrap_or_default();
                if streamed != output.text {
                    tracing::warn!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, %member_id, "final text differs from the streamed deltas");
                }
                let (rating, confidence) = strategy::counted_rating(&self.state, member_id, round, output.rating, output.confidence);
                let mut flags = output.flags;
                if self.state.flow() == PanelType::Delphi && crate::panel::anonymity::Identities::of(&self.state).neutralise(&output.text) != output.text {
                    flags.push(crate::model::TurnFlag::Identifying);
                }
                let data = EventData::TurnCompleted {
                    member_id,
                    round,
                    text: output.text,
                    rating,
                    confidence,
                    rating_read: rating.and(output.rating_read),
                    flags,
                    ideas: output.ideas,
                    tokens_in: output.usage.prompt_tokens,
                    tokens_out: output.usage.completion_tokens,
                };
                self.commit(ctx, vec![data], Then::Advance, None);
            }
            Err(ModelError::Unavailable(reason)) => self.model_unavailable(ctx, member_id, round, reason),
            Err(error) => self.fail_turn(ctx, member_id, round, error.to_string()),
        }
    }

    /// The model backend refuses calls (circuit open): void the turn, pause the
    /// panel with the reason, and resume it by itself once the backend is back.
    fn model_unavailable(&mut self, ctx: &mut Context<Self>, member_id: MemberId, round: u32, reason: String) {
        tracing::warn!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, %reason, "model backend unavailable; pausing panel");
        self.cancel_in_flight(ctx);
        let data = vec![
            EventData::TurnAborted { member_id, round, reason: "model_unavailable".into(), error: Some(reason.clone()) },
            EventData::PanelPaused { reason: PauseReason::ModelUnavailable(reason).as_string() },
        ];
        self.commit(ctx, data, Then::Advance, None);
        self.watch_model(ctx);
    }

    /// Checks the backend now and then; resumes a panel it paused once calls can go out.
    fn watch_model(&mut self, ctx: &mut Context<Self>) {
        ctx.run_later(MODEL_RETRY, |act, ctx| {
            let paused_by_model = act.state.status() == PanelStatus::Paused && matches!(commands::paused_reason(&act.state), Some(PauseReason::ModelUnavailable(_)));
            if !paused_by_model || act.exit.is_some() {
                return;
            }
            if act.deps.model.available() && !act.committing && act.blocked.is_none() {
                act.commit(ctx, vec![EventData::PanelResumed {}], Then::Advance, None);
            } else {
                act.watch_model(ctx);
            }
        });
    }

    fn on_stream_end(&mut self, ctx: &mut Context<Self>, turn_seq: u64) {
        if let Some((member_id, round)) = self.current_turn(turn_seq) {
            self.fail_turn(ctx, member_id, round, "the model's stream ended before the turn was complete".into());
        }
    }

    /// A turn broke mid-way: void it durably, then stop so the supervisor
    /// restarts the panel from its log, where the turn runs again.
    fn fail_turn(&mut self, ctx: &mut Context<Self>, member_id: MemberId, round: u32, error: String) {
        tracing::warn!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, %member_id, round, %error, "turn failed");
        self.cancel_in_flight(ctx);
        let data = EventData::TurnAborted { member_id, round, reason: crate::event::ABORTED_BY_MODEL_ERROR.into(), error: Some(error.clone()) };
        self.commit(ctx, vec![data], Then::Crash(format!("turn failed: {error}")), None);
    }

    fn collect_bids(&mut self, ctx: &mut Context<Self>, round: u32, phase: Phase, order: Vec<MemberId>) {
        let bids: Vec<_> = order
            .iter()
            .map(|member_id| {
                let expert = self.experts.get(member_id).cloned();
                let view = strategy::member_view(&self.state, *member_id, round);
                let member_id = *member_id;
                async move {
                    let (bid, usage) = match expert {
                        // Humans always get the floor; they may still let the deadline pass.
                        None => (Bid::Speak(1.0), Usage::default()),
                        Some(expert) => match expert.send(RequestBid { view }).await {
                            Ok(Ok(answer)) => answer,
                            _ => (Bid::Speak(0.5), Usage::default()),
                        },
                    };
                    (member_id, bid, usage)
                }
            })
            .collect();
        let handle = ctx.spawn(futures::future::join_all(bids).into_actor(self).map(move |bids, act, ctx| {
            act.in_flight = None;
            let tokens_in = bids.iter().map(|(_, _, u)| u.prompt_tokens).sum();
            let tokens_out = bids.iter().map(|(_, _, u)| u.completion_tokens).sum();
            let mut speakers: Vec<(MemberId, f64)> = bids
                .iter()
                .filter_map(|(m, b, _)| match b {
                    Bid::Speak(x) => Some((*m, *x)),
                    Bid::Pass => None,
                })
                .collect();
            // Highest bid first; equal bids keep the seating order (the sort is stable).
            speakers.sort_by(|a, b| b.1.total_cmp(&a.1));
            let passers: Vec<MemberId> = bids.iter().filter(|(_, b, _)| *b == Bid::Pass).map(|(m, _, _)| *m).collect();
            let order = speakers.iter().map(|(m, _)| *m).chain(passers.iter().copied()).collect();
            let mut events = vec![EventData::RoundStarted { round, phase, order, tokens_in, tokens_out }];
            events.extend(passers.into_iter().map(|member_id| EventData::TurnSkipped { member_id, round, reason: "passed: nothing new to add".into() }));
            act.commit(ctx, events, Then::Advance, None);
        }));
        self.in_flight = Some(InFlight { handle, kind: InFlightKind::Bids });
    }

    fn evaluate_round(&mut self, ctx: &mut Context<Self>, round: u32) {
        let Some(consensus) = self.consensus.clone() else { return self.crash(ctx, "no consensus actor".into()) };
        let request = consensus.send(EvaluateRound { state: Box::new(self.state.clone()), round });
        let handle = ctx.spawn(request.into_actor(self).map(move |result, act, ctx| {
            act.in_flight = None;
            let Ok(eval) = result else { return act.crash(ctx, "consensus actor unavailable".into()) };
            let mut events = vec![EventData::RoundCompleted { round, stats: eval.stats, decision: eval.decision, new_ideas: eval.new_ideas }];
            if let Some(consensus) = eval.consensus {
                events.push(EventData::ConsensusUpdated { consensus });
            }
            if let Some(draft) = eval.draft {
                events.push(EventData::DraftUpdated { round, draft: draft.text, tokens_in: draft.usage.prompt_tokens, tokens_out: draft.usage.completion_tokens });
            }
            if let Some((feedback, usage)) = eval.feedback {
                events.push(EventData::FeedbackUpdated { round, feedback, tokens_in: usage.prompt_tokens, tokens_out: usage.completion_tokens });
            }
            act.commit(ctx, events, Then::Advance, None);
        }));
        self.in_flight = Some(InFlight { handle, kind: InFlightKind::Evaluate });
    }

    fn finalize(&mut self, ctx: &mut Context<Self>) {
        let Some(consensus) = self.consensus.clone() else { return self.crash(ctx, "no consensus actor".into()) };
        let reason = self.state.rounds.last().and_then(|p| p.decision);
        let request = consensus.send(Finalize { state: Box::new(self.state.clone()) });
        let handle = ctx.spawn(request.into_actor(self).map(move |result, act, ctx| {
            act.in_flight = None;
            let Ok(outcome) = result else { return act.crash(ctx, "consensus actor unavailable".into()) };
            let data = EventData::PanelCompleted {
                recommendation: outcome.recommendation,
                consensus: outcome.consensus,
                verdict: outcome.verdict,
                reason,
                tokens_in: outcome.usage.prompt_tokens,
                tokens_out: outcome.usage.completion_tokens,
            };
            act.commit(ctx, vec![data], Then::Advance, None);
        }));
        self.in_flight = Some(InFlight { handle, kind: InFlightKind::Finalize });
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
        if self.state.status() == PanelStatus::Paused || self.human_timer.is_some_and(|(seq, _)| seq == pending.request_seq) {
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
        if pending.request_seq != request_seq || self.state.status() == PanelStatus::Paused || self.exit.is_some() || self.blocked.is_some() {
            return;
        }
        let data = EventData::TurnSkipped { member_id: pending.member_id, round: pending.round, reason: "timeout".into() };
        self.commit(ctx, vec![data], Then::Advance, None);
    }

    fn handle_command(&mut self, ctx: &mut Context<Self>, caller: Caller, command: Command, reply: Reply) {
        if self.blocked.is_some() {
            let _ = reply.send(Err(PanelError::Unavailable("the panel's storage is unavailable; try again shortly".into())));
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
        let mut view = self.state.view.clone();
        if let Some(blocked) = &self.blocked {
            // Not an event (nothing can be recorded now): how the panel stands meanwhile.
            view.status = PanelStatus::Paused;
            view.paused_reason = Some(PauseReason::StorageUnavailable(blocked.error.clone()).as_string());
        }
        if let (Some(current), Some(partial)) = (view.current_turn.as_mut(), self.partial.as_ref()) {
            if current.turn_seq == partial.turn_seq {
                current.text = partial.text.clone();
            }
        }
        view
    }
}

impl Actor for PanelActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, head_seq = self.state.head_seq(), "panel actor started");
        let simulation = self.simulation();
        for profile in &self.state.setup.profiles {
            let expert = ExpertActor::new(self.tenant_id, self.panel_id, profile.clone(), self.deps.model.clone(), simulation.clone()).start();
            self.experts.insert(profile.member_id, expert);
        }
        self.consensus = Some(ConsensusActor::new(self.tenant_id, self.panel_id, self.deps.model.clone(), simulation).start());
        if matches!(commands::paused_reason(&self.state), Some(PauseReason::ModelUnavailable(_))) {
            self.watch_model(ctx);
        }
        ctx.notify(Advance);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // Every way this actor decides to stop records why first; stopping
        // without a reason means a handler panicked (the runtime caught it and
        // dropped the actor's context): a crash, restarted from the log.
        let status = self.exit.clone().unwrap_or(ExitStatus::Panicked);
        tracing::debug!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, ?status, "panel actor stopped");
        if let Some(supervisor) = &self.supervisor {
            // One message per panel lifetime: bounded by the number of panels.
            supervisor.do_send(PanelExited { tenant_id: self.tenant_id, panel_id: self.panel_id, status, turns_ended: self.turns_ended });
        }
    }
}

impl Handler<Advance> for PanelActor {
    type Result = ();

    fn handle(&mut self, _: Advance, ctx: &mut Context<Self>) {
        self.advance(ctx);
    }
}

impl Handler<PanelCommand> for PanelActor {
    type Result = ResponseFuture<Result<(), PanelError>>;

    fn handle(&mut self, msg: PanelCommand, ctx: &mut Context<Self>) -> Self::Result {
        if msg.tenant_id != self.tenant_id || msg.panel_id != self.panel_id {
            return Box::pin(async { Err(PanelError::NotFound) });
        }
        let (tx, rx) = oneshot::channel();
        self.handle_command(ctx, msg.caller, msg.command, tx);
        // A command may have freed the panel to go on (resume, skip...).
        if !self.committing {
            self.advance(ctx);
        }
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(PanelError::Unavailable("the panel stopped".into()))) })
    }
}

impl Handler<GetSnapshot> for PanelActor {
    type Result = Result<crate::panel::view::PanelView, PanelError>;

    fn handle(&mut self, msg: GetSnapshot, _: &mut Context<Self>) -> Self::Result {
        if msg.tenant_id != self.tenant_id || msg.panel_id != self.panel_id {
            return Err(PanelError::NotFound);
        }
        Ok(self.snapshot())
    }
}

impl Handler<crate::panel::messages::Relinquish> for PanelActor {
    type Result = ();

    fn handle(&mut self, _: crate::panel::messages::Relinquish, ctx: &mut Context<Self>) {
        self.relinquish(ctx);
    }
}

impl Handler<Shutdown> for PanelActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        if let Some((_, handle)) = self.human_timer.take() {
            ctx.cancel_future(handle);
        }
        match self.cancel_in_flight(ctx) {
            Some((member_id, round)) if !self.committing && self.blocked.is_none() => {
                let data = EventData::TurnAborted { member_id, round, reason: "interrupted".into(), error: None };
                self.commit(ctx, vec![data], Then::Stop, None);
            }
            _ => {
                self.exit = Some(ExitStatus::Stopped);
                ctx.stop();
            }
        }
    }
}
