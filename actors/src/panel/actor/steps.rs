//! The panel actor's other steps: open panels' bids, a round's evaluation
//! and the final recommendation, each run by another actor and committed
//! when it answers.

use actix::prelude::*;

use super::{InFlight, InFlightKind, PanelActor, Then};
use crate::consensus::{EvaluateRound, Finalize};
use crate::domain::{MemberId, Phase};
use crate::event::EventData;
use crate::expert::RequestBid;
use crate::model::{Bid, Usage};
use crate::panel::strategy;

impl PanelActor {
    pub(super) fn collect_bids(&mut self, ctx: &mut Context<Self>, round: u32, phase: Phase, order: Vec<MemberId>) {
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
            events.extend(passers.into_iter().map(|member_id| EventData::TurnSkipped {
                member_id,
                round,
                reason: "passed: nothing new to add".into(),
            }));
            act.commit(ctx, events, Then::Advance, None);
        }));
        self.in_flight = Some(InFlight { handle, kind: InFlightKind::Bids });
    }

    pub(super) fn evaluate_round(&mut self, ctx: &mut Context<Self>, round: u32) {
        let Some(consensus) = self.consensus.clone() else { return self.crash(ctx, "no consensus actor".into()) };
        let request = consensus.send(EvaluateRound { state: Box::new(self.state.clone()), round });
        let handle = ctx.spawn(request.into_actor(self).map(move |result, act, ctx| {
            act.in_flight = None;
            let Ok(eval) = result else { return act.crash(ctx, "consensus actor unavailable".into()) };
            let mut events = vec![EventData::RoundCompleted {
                round,
                stats: eval.stats,
                decision: eval.decision,
                new_ideas: eval.new_ideas,
            }];
            if let Some(consensus) = eval.consensus {
                events.push(EventData::ConsensusUpdated { consensus });
            }
            if let Some(draft) = eval.draft {
                let sources = act.sources_of(&draft.text);
                events.push(EventData::DraftUpdated {
                    round,
                    sources,
                    draft: draft.text,
                    tokens_in: draft.usage.prompt_tokens,
                    tokens_out: draft.usage.completion_tokens,
                });
            }
            if let Some((feedback, usage)) = eval.feedback {
                events.push(EventData::FeedbackUpdated {
                    round,
                    feedback,
                    tokens_in: usage.prompt_tokens,
                    tokens_out: usage.completion_tokens,
                });
            }
            act.commit(ctx, events, Then::Advance, None);
        }));
        self.in_flight = Some(InFlight { handle, kind: InFlightKind::Evaluate });
    }

    /// The passages a recommendation's text rests on (panels with documents).
    fn sources_of(&self, text: &str) -> Vec<crate::evidence::Source> {
        let documents = &self.state.setup.config.documents;
        if documents.is_empty() {
            return Vec::new();
        }
        let turns = self.state.view.rounds.iter().flat_map(|r| r.turns.iter()).flat_map(|t| t.citations.iter());
        crate::evidence::recommendation_sources(documents, turns, text)
    }

    pub(super) fn finalize(&mut self, ctx: &mut Context<Self>) {
        let Some(consensus) = self.consensus.clone() else { return self.crash(ctx, "no consensus actor".into()) };
        let reason = self.state.rounds.last().and_then(|p| p.decision);
        let request = consensus.send(Finalize { state: Box::new(self.state.clone()) });
        let handle = ctx.spawn(request.into_actor(self).map(move |result, act, ctx| {
            act.in_flight = None;
            let Ok(outcome) = result else { return act.crash(ctx, "consensus actor unavailable".into()) };
            let data = EventData::PanelCompleted {
                sources: act.sources_of(&outcome.recommendation),
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
}
