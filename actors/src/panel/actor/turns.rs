//! The panel actor's AI turns: streaming a turn through the member's expert
//! actor, preparing independent turns ahead, and what a model failure does
//! (a broken turn is voided and the panel restarts from its log; an
//! unavailable backend pauses the panel until it is back).

use actix::fut::wrap_stream;
use actix::prelude::*;
use futures::{StreamExt, stream};

use super::{InFlight, InFlightKind, MODEL_RETRY, PanelActor, PartialTurn, Then};
use crate::domain::{MemberId, PanelStatus, PanelType, PauseReason};
use crate::event::{EventData, TokenDelta};
use crate::expert::{PrepareTurn, TakeTurn};
use crate::model::{ModelError, TurnChunk};
use crate::panel::{commands, strategy};

impl PanelActor {
    pub(super) fn stream_turn(&mut self, ctx: &mut Context<Self>, member_id: MemberId, round: u32) {
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
            Err(error) => {
                stream::once(async move { Err(ModelError::Unavailable(format!("expert actor: {error}"))) }).boxed()
            }
        });
        self.partial = Some(PartialTurn { turn_seq, member_id, text: String::new(), chars: 0 });
        let handle = ctx.spawn(
            wrap_stream::<_, Self>(chunks)
                // The expert holds the stream to the contract: it ends with
                // exactly one `Done` or one error.
                .map(move |chunk, act, ctx| act.on_chunk(ctx, turn_seq, chunk))
                .finish(),
        );
        self.in_flight = Some(InFlight { handle, kind: InFlightKind::AiTurn { member_id, round, turn_seq } });
    }

    /// Which attempt at the member's turn in the current round is next (1 = first).
    pub(super) fn attempt_of(&self, member_id: MemberId) -> u32 {
        1 + self.state.rounds.last().and_then(|p| p.model_failures.get(&member_id).copied()).unwrap_or(0)
    }

    /// Independent positions: starts the model calls of the round's later AI
    /// members now, so they run while `current` speaks. Their views cannot
    /// change before their turns (they see no turn of this round), except the
    /// socratic answerers', who wait for the question.
    pub(super) fn prepare_later_turns(&mut self, current: MemberId, round: u32) {
        if self.state.flow() == PanelType::Socratic && strategy::questioner(&self.state) == Some(current) {
            return;
        }
        let Some((_, progress)) = self.state.current_round() else { return };
        let later: Vec<MemberId> = progress
            .order
            .iter()
            .skip_while(|m| **m != current)
            .skip(1)
            .filter(|m| !progress.done.contains(m))
            .copied()
            .collect();
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

    pub(super) fn current_turn(&self, turn_seq: u64) -> Option<(MemberId, u32)> {
        match self.in_flight.as_ref().map(|f| f.kind) {
            Some(InFlightKind::AiTurn { member_id, round, turn_seq: seq }) if seq == turn_seq => {
                Some((member_id, round))
            }
            _ => None,
        }
    }

    pub(super) fn on_chunk(&mut self, ctx: &mut Context<Self>, turn_seq: u64, chunk: Result<TurnChunk, ModelError>) {
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
                    tracing::warn!(parent: &self.span, %member_id, "final text differs from the streamed deltas");
                }
                let (rating, confidence) =
                    strategy::counted_rating(&self.state, member_id, round, output.rating, output.confidence);
                let mut flags = output.flags;
                if self.state.flow() == PanelType::Delphi
                    && crate::panel::anonymity::Identities::of(&self.state).neutralise(&output.text) != output.text
                {
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
                    evidence: output.evidence,
                    citations: output.citations,
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
    pub(super) fn model_unavailable(
        &mut self,
        ctx: &mut Context<Self>,
        member_id: MemberId,
        round: u32,
        reason: String,
    ) {
        tracing::warn!(parent: &self.span, %reason, "model backend unavailable; pausing panel");
        self.cancel_in_flight(ctx);
        let data = vec![
            EventData::TurnAborted {
                member_id,
                round,
                reason: "model_unavailable".into(),
                error: Some(reason.clone()),
            },
            EventData::PanelPaused { reason: PauseReason::ModelUnavailable(reason).as_string() },
        ];
        self.commit(ctx, data, Then::Advance, None);
        self.watch_model(ctx);
    }

    /// Checks the backend now and then; resumes a panel it paused once calls can go out.
    pub(super) fn watch_model(&mut self, ctx: &mut Context<Self>) {
        ctx.run_later(MODEL_RETRY, |act, ctx| {
            let paused_by_model = act.state.status() == PanelStatus::Paused
                && matches!(commands::paused_reason(&act.state), Some(PauseReason::ModelUnavailable(_)));
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

    /// A turn broke mid-way: void it durably, then stop so the supervisor
    /// restarts the panel from its log, where the turn runs again.
    pub(super) fn fail_turn(&mut self, ctx: &mut Context<Self>, member_id: MemberId, round: u32, error: String) {
        tracing::warn!(parent: &self.span, %member_id, round, %error, "turn failed");
        self.cancel_in_flight(ctx);
        let data = EventData::TurnAborted {
            member_id,
            round,
            reason: crate::event::ABORTED_BY_MODEL_ERROR.into(),
            error: Some(error.clone()),
        };
        self.commit(ctx, vec![data], Then::Crash(format!("turn failed: {error}")), None);
    }
}
