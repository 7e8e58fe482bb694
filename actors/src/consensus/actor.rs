//! `ConsensusActor`: one per running panel. Given a snapshot of the panel it
//! computes the round's statistics and consensus, applies the format's
//! stopping rule, and drafts (or finalises) the recommendation through the
//! model port. A failed draft keeps the previous one: drafting never breaks a
//! panel.

use std::sync::Arc;

use actix::prelude::*;

use crate::consensus::stats::{self, Consensus, Rating, RoundStats};
use crate::domain::{ConsensusMethod, MemberKind, PanelId, PanelType, SimulationConfig, TenantId};
use crate::event::{RoundDecision, Verdict};
use crate::model::{DraftRequest, Drafted, ExpertModel, JudgeRequest, SynthesisRequest, Usage};
use crate::panel::anonymity::Identities;
use crate::panel::feedback::Feedback;
use crate::panel::state::PanelState;
use crate::panel::strategy::{self, TranscriptEntry};

/// Measures, decides and drafts for one running panel (see the module docs).
pub struct ConsensusActor {
    tenant_id: TenantId,
    panel_id: PanelId,
    model: Arc<dyn ExpertModel>,
    simulation: SimulationConfig,
}

impl ConsensusActor {
    /// A consensus actor for one panel, drafting through `model`.
    pub fn new(
        tenant_id: TenantId,
        panel_id: PanelId,
        model: Arc<dyn ExpertModel>,
        simulation: SimulationConfig,
    ) -> Self {
        Self { tenant_id, panel_id, model, simulation }
    }
}

impl Actor for ConsensusActor {
    type Context = Context<Self>;
}

/// The outcome of a round.
#[derive(Clone, Debug)]
pub struct RoundEvaluation {
    /// The round evaluated.
    pub round: u32,
    /// The statistics of its ratings; `None` when nobody rated.
    pub stats: Option<RoundStats>,
    /// Its consensus measurement; `None` when nobody rated.
    pub consensus: Option<Consensus>,
    /// Whether the panel goes on, or why it stops.
    pub decision: RoundDecision,
    /// Open panels: how many new ideas the round brought.
    pub new_ideas: Option<usize>,
    /// The new draft, or `None` when drafting failed (the old one stands).
    pub draft: Option<Drafted>,
    /// Delphi, when another round follows: the facilitator's synthesis of
    /// this round's rationales and what it cost.
    pub feedback: Option<(Feedback, Usage)>,
}

/// Measure a completed round, decide and draft.
#[derive(Message)]
#[rtype(result = "RoundEvaluation")]
pub struct EvaluateRound {
    /// The panel as it stands before `round_completed`.
    pub state: Box<PanelState>,
    /// The round to evaluate.
    pub round: u32,
}

/// The final recommendation.
#[derive(Clone, Debug)]
pub struct FinalOutcome {
    /// The final recommendation's text.
    pub recommendation: String,
    /// The final consensus, when the panel rated.
    pub consensus: Option<Consensus>,
    /// Adversarial panels: the judged verdict.
    pub verdict: Option<Verdict>,
    /// Tokens drafting (and judging) cost.
    pub usage: Usage,
}

/// Draft the final recommendation (and the adversarial verdict).
#[derive(Message)]
#[rtype(result = "FinalOutcome")]
pub struct Finalize {
    /// The panel after its last round.
    pub state: Box<PanelState>,
}

/// The ratings that count in a round: those of the members its format asked
/// to rate (unreadable ratings are simply absent).
pub fn round_ratings(state: &PanelState, round: u32) -> Vec<Rating> {
    state
        .view
        .rounds
        .iter()
        .find(|r| r.round == round)
        .map(|r| {
            r.turns
                .iter()
                .filter(|t| strategy::must_rate(state, t.member_id, round))
                .filter_map(|t| {
                    t.rating.map(|value| Rating { member_id: t.member_id, value, confidence: t.confidence })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What the rapporteur (and the adversarial judge) read. In delphi, while
/// the draft is still shown to members, statements are anonymous and
/// neutralised.
fn transcript_for_draft(state: &PanelState, is_final: bool) -> Vec<TranscriptEntry> {
    let anonymous = state.flow() == PanelType::Delphi && !is_final;
    let identities = anonymous.then(|| Identities::of(state));
    let mut label = 0;
    state
        .view
        .rounds
        .iter()
        .flat_map(|r| r.turns.iter().map(move |t| (r, t)))
        .map(|(r, t)| {
            let member = state.view.member(t.member_id);
            label += 1;
            TranscriptEntry {
                round: r.round,
                phase: r.phase,
                rated: r.rated,
                speaker: if anonymous {
                    format!("Panelist statement {label}")
                } else {
                    member.map(|m| m.name.clone()).unwrap_or_default()
                },
                team: member.and_then(|m| m.team),
                kind: member.map_or(MemberKind::Ai, |m| m.kind),
                text: identities.as_ref().map_or_else(|| t.text.clone(), |ids| ids.neutralise(&t.text)),
                rating: t.rating,
            }
        })
        .collect()
}

fn draft_request(
    state: &PanelState,
    round: u32,
    consensus: Option<&Consensus>,
    is_final: bool,
    simulation: &SimulationConfig,
) -> DraftRequest {
    // Delphi drafts are shown to members: they must not name anyone.
    let named = is_final || state.flow() != PanelType::Delphi;
    let dissenters = match (consensus, named) {
        (Some(c), true) => c.dissent.iter().filter_map(|id| state.view.member(*id)).map(|m| m.name.clone()).collect(),
        _ => Vec::new(),
    };
    DraftRequest {
        tenant_id: state.view.tenant_id,
        panel_id: state.view.id,
        query: state.view.query.clone(),
        flow: state.flow(),
        round,
        is_final,
        transcript: transcript_for_draft(state, is_final),
        consensus: consensus.cloned(),
        dissenters,
        previous_draft: state.view.draft.clone(),
        ideas: state.view.ideas.clone(),
        simulation: simulation.clone(),
        prior: state.setup.config.parent.as_ref().and_then(|p| p.context(named)),
    }
}

impl Handler<EvaluateRound> for ConsensusActor {
    type Result = ResponseFuture<RoundEvaluation>;

    fn handle(&mut self, msg: EvaluateRound, _: &mut Context<Self>) -> Self::Result {
        let state = msg.state;
        let round = msg.round;
        let ratings = round_ratings(&state, round);
        let method = state.setup.config.consensus_method;
        let consensus = stats::measure(method, &ratings, round);
        let rand_ucla = if method == ConsensusMethod::RandUcla {
            consensus.clone()
        } else {
            stats::measure(ConsensusMethod::RandUcla, &ratings, round)
        };
        let new_ideas = state.rounds.last().map_or(0, |p| p.new_ideas);
        let decision = crate::panel::stopping::decide(&state, round, consensus.as_ref(), rand_ucla.as_ref(), new_ideas);
        let request = draft_request(&state, round, consensus.as_ref(), false, &self.simulation);
        let draft = self.model.draft(request);
        let (tenant_id, panel_id) = (self.tenant_id, self.panel_id);
        let is_open = state.flow() == PanelType::Open;
        // Delphi: the next round's members see the facilitator's synthesis of this one.
        let synthesis = (state.flow() == PanelType::Delphi && !decision.stops()).then(|| {
            let rationales = strategy::anonymous_rationales(&state, round);
            let fallback = crate::panel::feedback::extractive(round, &rationales);
            let request = SynthesisRequest {
                tenant_id,
                panel_id,
                query: state.view.query.clone(),
                round,
                rationales,
                simulation: self.simulation.clone(),
            };
            (self.model.synthesize(request), fallback)
        });
        Box::pin(async move {
            let draft = match draft.await {
                Ok(draft) => Some(draft),
                Err(error) => {
                    tracing::warn!(%tenant_id, %panel_id, round, %error, "drafting failed, keeping the previous draft");
                    None
                }
            };
            let feedback = match synthesis {
                None => None,
                Some((call, fallback)) => Some(match call.await {
                    Ok(done) => done,
                    Err(error) => {
                        // The members still see every argument, in the rationales' own words.
                        tracing::warn!(%tenant_id, %panel_id, round, %error, "the facilitator's synthesis failed; using the extractive one");
                        (fallback, Usage::default())
                    }
                }),
            };
            RoundEvaluation {
                round,
                stats: stats::round_stats(&ratings),
                consensus,
                decision,
                new_ideas: is_open.then_some(new_ideas),
                draft,
                feedback,
            }
        })
    }
}

impl Handler<Finalize> for ConsensusActor {
    type Result = ResponseFuture<FinalOutcome>;

    fn handle(&mut self, msg: Finalize, _: &mut Context<Self>) -> Self::Result {
        let state = msg.state;
        let consensus = state.view.consensus.clone();
        let round = state.view.rounds.last().map_or(0, |r| r.round);
        let request = draft_request(&state, round, consensus.as_ref(), true, &self.simulation);
        let draft = self.model.draft(request);
        let judge = (state.flow() == PanelType::Adversarial).then(|| {
            self.model.judge(JudgeRequest {
                tenant_id: self.tenant_id,
                panel_id: self.panel_id,
                query: state.view.query.clone(),
                transcript: transcript_for_draft(&state, true),
                simulation: self.simulation.clone(),
            })
        });
        let fallback = state.view.draft.clone();
        let (tenant_id, panel_id) = (self.tenant_id, self.panel_id);
        Box::pin(async move {
            let (recommendation, mut usage) = match draft.await {
                Ok(d) => (d.text, d.usage),
                Err(error) => {
                    tracing::warn!(%tenant_id, %panel_id, %error, "final drafting failed, the last draft becomes the recommendation");
                    (fallback.unwrap_or_else(|| "No recommendation could be drafted.".to_string()), Usage::default())
                }
            };
            let verdict = match judge {
                Some(judge) => judge
                    .await
                    .map_err(|error| tracing::warn!(%tenant_id, %panel_id, %error, "judging failed"))
                    .ok()
                    .map(|(verdict, cost)| {
                        usage.prompt_tokens += cost.prompt_tokens;
                        usage.completion_tokens += cost.completion_tokens;
                        verdict
                    }),
                None => None,
            };
            FinalOutcome { recommendation, consensus, verdict, usage }
        })
    }
}
