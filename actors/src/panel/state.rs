//! The fold of a panel's events into its state: the view clients see plus
//! what the strategy needs to decide the next step. Pure: rebuilding a panel
//! after a restart is replaying its log through [`PanelState::apply`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use thiserror::Error;

use crate::consensus::Consensus;
use crate::domain::{MemberId, MemberKind, PanelSetup, PanelStatus, PanelType, RatingTarget};
use crate::event::{Event, EventData, ModeratorActionKind, RoundDecision};
use crate::panel::ideas;
use crate::panel::view::{CurrentTurn, PanelView, PendingHuman, RoundView, SkippedTurn, TurnView};

/// Why a log cannot be folded into a panel.
#[derive(Debug, Error, PartialEq)]
pub enum StateError {
    /// An event's seq does not follow the head of the log.
    #[error("event seq {got} does not follow head {head}")]
    OutOfOrder {
        /// The seq of the last event folded.
        head: u64,
        /// The seq of the event that came.
        got: u64,
    },
    /// The log's first event is not `panel_created`.
    #[error("the log does not start with panel_created")]
    MissingCreation,
    /// There is no event to fold.
    #[error("the log is empty")]
    Empty,
}

/// What the fold keeps per round beyond the view.
#[derive(Clone, Debug, Default)]
pub struct RoundProgress {
    /// The round's speaking order.
    pub order: Vec<MemberId>,
    /// Members whose turn is over (completed or skipped).
    pub done: HashSet<MemberId>,
    /// A moderator ended the round.
    pub end_requested: bool,
    /// Turns aborted by a model error, per member.
    pub model_failures: HashMap<MemberId, u32>,
    /// Open panels: how many new ideas the round's turns brought.
    pub new_ideas: usize,
    /// `round_completed` is in the log.
    pub completed: bool,
    /// What `round_completed` decided.
    pub decision: Option<RoundDecision>,
    /// The consensus measured after the round.
    pub consensus: Option<Consensus>,
}

/// A started turn whose end is not in the log yet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OpenTurn {
    /// The member whose turn it is.
    pub member_id: MemberId,
    /// The round of the turn.
    pub round: u32,
    /// The seq of its `turn_started`.
    pub turn_seq: u64,
}

/// A moderator's injected question or instruction.
#[derive(Clone, Debug, PartialEq)]
pub struct Injection {
    /// The seq of the `moderator_action` that injected it.
    pub seq: u64,
    /// The question or instruction.
    pub text: String,
}

/// A panel as its events leave it: the clients' view plus the strategy's bookkeeping.
#[derive(Clone, Debug)]
pub struct PanelState {
    /// What clients see (`panel` in API.md). Shared with the readers of the
    /// published view: a fold copies it only when it changes a view someone
    /// still holds, so between events a panel keeps one view, not two.
    pub view: Arc<PanelView>,
    /// The personas and configuration of `panel_created`.
    pub setup: PanelSetup,
    /// The progress of each round, parallel to `view.rounds`.
    pub rounds: Vec<RoundProgress>,
    /// The turn started but not yet completed, skipped or aborted.
    pub open_turn: Option<OpenTurn>,
    /// Every moderator injection, oldest first.
    pub injections: Vec<Injection>,
    /// The seq of each member's last completed turn.
    pub last_turn_seq: HashMap<MemberId, u64>,
    /// Consecutive turns skipped because the model failed, per member.
    pub failed_skips: HashMap<MemberId, u32>,
    /// A moderator asked to finish: the final consensus comes next.
    pub finish_requested: bool,
}

/// After this many consecutive failed turns a member no longer counts as able to speak.
pub const UNAVAILABLE_AFTER_FAILED_TURNS: u32 = 2;

impl PanelState {
    /// Rebuilds a panel from its whole log.
    pub fn from_events(events: &[Event]) -> Result<PanelState, StateError> {
        let (first, rest) = events.split_first().ok_or(StateError::Empty)?;
        let mut state = PanelState::from_creation(first)?;
        for event in rest {
            state.apply(event)?;
        }
        Ok(state)
    }

    /// Starts the fold from the `panel_created` event (seq 1).
    pub fn from_creation(event: &Event) -> Result<PanelState, StateError> {
        let EventData::PanelCreated { panel, setup } = &event.data else {
            return Err(StateError::MissingCreation);
        };
        if event.seq != 1 {
            return Err(StateError::OutOfOrder { head: 0, got: event.seq });
        }
        let mut view = (**panel).clone();
        view.head_seq = 1;
        view.updated_at = event.ts;
        Ok(PanelState {
            view: Arc::new(view),
            setup: (**setup).clone(),
            rounds: Vec::new(),
            open_turn: None,
            injections: Vec::new(),
            last_turn_seq: HashMap::new(),
            failed_skips: HashMap::new(),
            finish_requested: false,
        })
    }

    /// The seq of the last event folded.
    pub fn head_seq(&self) -> u64 {
        self.view.head_seq
    }

    /// Where the panel is in its lifecycle.
    pub fn status(&self) -> PanelStatus {
        self.view.status
    }

    /// The flow the panel follows: its type, or a hybrid panel's base flow.
    pub fn flow(&self) -> PanelType {
        match self.view.panel_type {
            PanelType::Hybrid => self.setup.config.base_flow.unwrap_or(PanelType::Structured),
            other => other,
        }
    }

    /// The member bounds of the panel's type.
    pub fn flow_bounds(&self) -> (usize, usize) {
        self.view.panel_type.member_bounds()
    }

    /// The latest round, as clients see it and as the fold tracks it.
    pub fn current_round(&self) -> Option<(&RoundView, &RoundProgress)> {
        self.view.rounds.last().zip(self.rounds.last())
    }

    /// Members still able to speak (AI members that failed repeatedly are not).
    pub fn able_members(&self) -> usize {
        self.view.members.iter().filter(|m| m.kind == MemberKind::Human || !self.is_unavailable(m.id)).count()
    }

    /// Whether the member failed too many turns in a row to count as able to speak.
    pub fn is_unavailable(&self, member: MemberId) -> bool {
        self.failed_skips.get(&member).copied().unwrap_or(0) >= UNAVAILABLE_AFTER_FAILED_TURNS
    }

    /// The injections a member has not answered yet.
    pub fn injections_for(&self, member: MemberId) -> Vec<String> {
        let last = self.last_turn_seq.get(&member).copied().unwrap_or(0);
        self.injections.iter().filter(|i| i.seq > last).map(|i| i.text.clone()).collect()
    }

    /// The status after `events` would be applied (for the store's panel row).
    pub fn status_after(&self, events: &[Event]) -> PanelStatus {
        let mut status = self.view.status;
        let mut pending = self.view.pending_human.as_ref().map(|p| p.member_id);
        for event in events {
            (status, pending) = next_status(status, pending, &event.data);
        }
        status
    }

    /// Applies the next event. Events must come in seq order without gaps.
    pub fn apply(&mut self, event: &Event) -> Result<(), StateError> {
        let head = self.view.head_seq;
        if event.seq != head + 1 {
            return Err(StateError::OutOfOrder { head, got: event.seq });
        }
        let flow = self.flow();
        let view = Arc::make_mut(&mut self.view);
        view.head_seq = event.seq;
        view.updated_at = event.ts;
        let pending = view.pending_human.as_ref().map(|p| p.member_id);
        view.status = next_status(view.status, pending, &event.data).0;
        match &event.data {
            EventData::PanelCreated { .. } => return Err(StateError::OutOfOrder { head, got: event.seq }),
            EventData::PanelStarted {} => {}
            EventData::RoundStarted { round, phase, order, .. } => {
                let rated = flow.round_asks_ratings(*round).then_some(if view.draft.is_some() {
                    RatingTarget::Draft
                } else {
                    RatingTarget::Question
                });
                view.rounds.push(RoundView {
                    round: *round,
                    phase: *phase,
                    turns: Vec::new(),
                    stats: None,
                    skipped: Vec::new(),
                    decision: None,
                    rated,
                });
                self.rounds.push(RoundProgress { order: order.clone(), ..RoundProgress::default() });
            }
            EventData::TurnStarted { member_id, round } => {
                self.open_turn = Some(OpenTurn { member_id: *member_id, round: *round, turn_seq: event.seq });
                view.current_turn = Some(CurrentTurn {
                    member_id: *member_id,
                    round: *round,
                    turn_seq: event.seq,
                    text: String::new(),
                });
            }
            EventData::TurnCompleted { member_id, text, rating, confidence, ideas: turn_ideas, citations, .. } => {
                close_turn(&mut self.open_turn, view, *member_id);
                if view.pending_human.as_ref().is_some_and(|p| p.member_id == *member_id) {
                    view.pending_human = None;
                }
                self.last_turn_seq.insert(*member_id, event.seq);
                self.failed_skips.remove(member_id);
                let fresh = ideas::new_ideas(&view.ideas, turn_ideas);
                if let (Some(round), Some(progress)) = (view.rounds.last_mut(), self.rounds.last_mut()) {
                    round.turns.push(TurnView {
                        member_id: *member_id,
                        text: text.clone(),
                        rating: *rating,
                        confidence: *confidence,
                        seq: event.seq,
                        citations: citations.clone(),
                    });
                    progress.done.insert(*member_id);
                    progress.new_ideas += fresh.len();
                }
                view.ideas.extend(fresh);
            }
            EventData::TurnSkipped { member_id, reason, .. } => {
                close_turn(&mut self.open_turn, view, *member_id);
                if view.pending_human.as_ref().is_some_and(|p| p.member_id == *member_id) {
                    view.pending_human = None;
                }
                if reason.starts_with("model_failed") {
                    *self.failed_skips.entry(*member_id).or_default() += 1;
                }
                if let (Some(round), Some(progress)) = (view.rounds.last_mut(), self.rounds.last_mut()) {
                    round.skipped.push(SkippedTurn { member_id: *member_id, reason: reason.clone() });
                    progress.done.insert(*member_id);
                }
            }
            EventData::TurnAborted { member_id, reason, .. } => {
                close_turn(&mut self.open_turn, view, *member_id);
                if reason == crate::event::ABORTED_BY_MODEL_ERROR
                    && let Some(progress) = self.rounds.last_mut()
                {
                    *progress.model_failures.entry(*member_id).or_default() += 1;
                }
            }
            EventData::HumanTurnRequested { member_id, round, deadline } => {
                view.pending_human = Some(PendingHuman {
                    member_id: *member_id,
                    round: *round,
                    deadline: *deadline,
                    request_seq: event.seq,
                });
            }
            // The human's words enter the transcript through the turn_completed that follows.
            EventData::HumanInput { .. } => {}
            EventData::ModeratorAction { action, text, .. } => match action {
                ModeratorActionKind::Inject => {
                    self.injections.push(Injection { seq: event.seq, text: text.clone().unwrap_or_default() });
                }
                ModeratorActionKind::EndRound => {
                    if let Some(progress) = self.rounds.last_mut().filter(|p| !p.completed) {
                        progress.end_requested = true;
                    }
                }
                ModeratorActionKind::Finish => self.finish_requested = true,
                _ => {}
            },
            EventData::RoundCompleted { stats, decision, .. } => {
                if let (Some(round), Some(progress)) = (view.rounds.last_mut(), self.rounds.last_mut()) {
                    round.stats = stats.clone();
                    round.decision = Some(*decision);
                    progress.completed = true;
                    progress.decision = Some(*decision);
                }
            }
            EventData::ConsensusUpdated { consensus } => {
                if let Some(progress) = self.rounds.last_mut() {
                    progress.consensus = Some(consensus.clone());
                }
                view.consensus = Some(consensus.clone());
            }
            EventData::DraftUpdated { draft, sources, .. } => {
                view.draft = Some(draft.clone());
                view.sources = sources.clone();
            }
            EventData::FeedbackUpdated { feedback, .. } => view.feedback = Some(feedback.clone()),
            EventData::PanelPaused { reason } => view.paused_reason = Some(reason.clone()),
            EventData::PanelResumed {} => view.paused_reason = None,
            EventData::PanelCompleted { recommendation, consensus, verdict, sources, .. } => {
                view.recommendation = Some(recommendation.clone());
                view.sources = sources.clone();
                if consensus.is_some() {
                    view.consensus = consensus.clone();
                }
                view.verdict = verdict.clone();
                finish(&mut self.open_turn, view, event);
            }
            EventData::PanelFailed { error } => {
                view.error = Some(error.clone());
                finish(&mut self.open_turn, view, event);
            }
            EventData::PanelCancelled { .. } => finish(&mut self.open_turn, view, event),
        }
        Ok(())
    }
}

fn close_turn(open_turn: &mut Option<OpenTurn>, view: &mut PanelView, member: MemberId) {
    if open_turn.is_some_and(|t| t.member_id == member) {
        *open_turn = None;
        view.current_turn = None;
    }
}

fn finish(open_turn: &mut Option<OpenTurn>, view: &mut PanelView, event: &Event) {
    view.completed_at = Some(event.ts);
    view.current_turn = None;
    view.pending_human = None;
    *open_turn = None;
}

/// The status transitions of API.md: `created -> running <-> awaiting_human /
/// paused -> completed | failed | cancelled`. `pending` is the human member
/// whose turn the panel waits for; returns the new status and pending member.
pub fn next_status(
    status: PanelStatus,
    pending: Option<MemberId>,
    data: &EventData,
) -> (PanelStatus, Option<MemberId>) {
    use PanelStatus::*;
    if status.is_terminal() {
        return (status, None);
    }
    match data {
        EventData::PanelStarted {} => (Running, pending),
        EventData::HumanTurnRequested { member_id, .. } => {
            (if status == Running { AwaitingHuman } else { status }, Some(*member_id))
        }
        EventData::TurnCompleted { member_id, .. } | EventData::TurnSkipped { member_id, .. }
            if pending == Some(*member_id) =>
        {
            (if status == AwaitingHuman { Running } else { status }, None)
        }
        EventData::PanelPaused { .. } => (Paused, pending),
        EventData::PanelResumed {} => (if pending.is_some() { AwaitingHuman } else { Running }, pending),
        EventData::PanelCompleted { .. } => (Completed, None),
        EventData::PanelFailed { .. } => (Failed, None),
        EventData::PanelCancelled { .. } => (Cancelled, None),
        _ => (status, pending),
    }
}
