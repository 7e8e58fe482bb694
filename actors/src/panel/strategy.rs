//! The six formats as one pure state machine: given a panel's state, what is
//! the next step, what each member is shown, and whether a round ends the
//! deliberation. No actix and no I/O here: the panel actor executes the steps.
//!
//! The generic loop is: start, then rounds; each round has a speaking order;
//! each member in order takes a turn (or is skipped); then the round is
//! evaluated; a stopping decision ends the panel with a final consensus.
//! The formats differ in phases, order, who rates, what is shown and when
//! they stop:
//!
//! | flow        | phases                       | order                         | rates          | stops                                   |
//! |-------------|------------------------------|-------------------------------|----------------|-----------------------------------------|
//! | structured  | opening, then critique       | fixed                         | from round 2   | consensus or max_rounds                 |
//! | open        | brainstorm                   | by bid; passing members skip  | from round 2   | a round with no new idea, or max_rounds |
//! | socratic    | inquiry                      | questioner first, then others | answers, from 2| consensus or max_rounds                 |
//! | adversarial | opening, rebuttal, closing   | pro and con alternate         | from round 2   | after closing (verdict)                 |
//! | delphi      | rating                       | fixed, but nobody sees names  | every round    | RAND/UCLA consensus, stability, max     |
//!
//! Hybrid panels follow their base flow (structured unless configured) and
//! their human members take turns in it like everyone else.

use serde::{Deserialize, Serialize};

use crate::consensus::{self, Consensus, RoundStats};
use crate::domain::{MemberId, MemberKind, MemberRole, PanelType, RatingTarget, Team};
use crate::event::{Phase, RoundDecision};
use crate::panel::anonymity::Identities;
use crate::panel::feedback::{Feedback, Rationale};
use crate::panel::state::PanelState;

/// How many times a member's turn is attempted before it is skipped.
pub const MAX_TURN_ATTEMPTS: u32 = 3;

/// What the panel does next.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Emit `panel_started`.
    Start,
    /// Open a round. With `bids`, members bid for the order and may pass first.
    StartRound {
        /// The round to open (1-based).
        round: u32,
        /// What kind of turn it asks for.
        phase: Phase,
        /// The speaking order.
        order: Vec<MemberId>,
        /// Whether members bid for the order first (open panels).
        bids: bool,
    },
    /// A member's turn: AI members stream, humans are asked.
    Turn {
        /// The member to speak.
        member_id: MemberId,
        /// The round of the turn (1-based).
        round: u32,
        /// The round's phase.
        phase: Phase,
    },
    /// Skip a member's turn without asking (failed too often, unavailable).
    Skip {
        /// The member to skip.
        member_id: MemberId,
        /// The round of the turn (1-based).
        round: u32,
        /// Why, recorded on `turn_skipped`.
        reason: String,
    },
    /// A turn was cut off (a restart): void it before going on.
    AbortOpenTurn {
        /// The member whose turn was cut off.
        member_id: MemberId,
        /// The round of the turn (1-based).
        round: u32,
    },
    /// Measure the round, draft, decide.
    CompleteRound {
        /// The round whose turns are all over.
        round: u32,
    },
    /// Final consensus and recommendation.
    Finish,
    /// Too few members can speak.
    Fail {
        /// Why, recorded on `panel_failed`.
        error: String,
    },
    /// Paused or waiting for a human.
    Wait,
    /// Terminal.
    Done,
}

/// The next step of a panel.
pub fn next_step(state: &PanelState) -> Step {
    use crate::domain::PanelStatus::*;
    match state.status() {
        Completed | Failed | Cancelled => return Step::Done,
        Created => return Step::Start,
        Paused => return Step::Wait,
        Running | AwaitingHuman => {}
    }
    if let Some(open) = state.open_turn {
        return Step::AbortOpenTurn { member_id: open.member_id, round: open.round };
    }
    if state.view.pending_human.is_some() {
        return Step::Wait;
    }
    let (min, _) = state.flow_bounds();
    let Some((round, progress)) = state.current_round() else {
        return start_round(state, 1);
    };
    if progress.completed {
        if state.finish_requested || progress.decision.is_some_and(RoundDecision::stops) {
            return Step::Finish;
        }
        if state.able_members() < min {
            return Step::Fail { error: format!("fewer than {min} members remain able to speak") };
        }
        return start_round(state, round.round + 1);
    }
    if state.finish_requested || progress.end_requested {
        return Step::CompleteRound { round: round.round };
    }
    for &member_id in &progress.order {
        if progress.done.contains(&member_id) {
            continue;
        }
        let failures = progress.model_failures.get(&member_id).copied().unwrap_or(0);
        if failures >= MAX_TURN_ATTEMPTS {
            return Step::Skip {
                member_id,
                round: round.round,
                reason: format!("model_failed: {failures} attempts failed"),
            };
        }
        if state.is_unavailable(member_id) {
            return Step::Skip {
                member_id,
                round: round.round,
                reason: "unavailable: the member's model keeps failing".into(),
            };
        }
        return Step::Turn { member_id, round: round.round, phase: round.phase };
    }
    Step::CompleteRound { round: round.round }
}

fn start_round(state: &PanelState, round: u32) -> Step {
    let flow = state.flow();
    let members = &state.view.members;
    let phase = phase_of(flow, round);
    let ids = || members.iter().map(|m| m.id);
    let order: Vec<MemberId> = match flow {
        PanelType::Socratic => {
            let questioner = questioner(state);
            questioner.into_iter().chain(ids().filter(|id| Some(*id) != questioner)).collect()
        }
        PanelType::Adversarial => {
            let pro: Vec<_> = members.iter().filter(|m| m.team == Some(Team::Pro)).map(|m| m.id).collect();
            let con: Vec<_> = members.iter().filter(|m| m.team == Some(Team::Con)).map(|m| m.id).collect();
            // Closing statements start with the con side so each side once opens and once closes.
            let (first, second) = if phase == Phase::Rebuttal { (&con, &pro) } else { (&pro, &con) };
            let mut order = Vec::with_capacity(members.len());
            for i in 0..first.len().max(second.len()) {
                order.extend(first.get(i));
                order.extend(second.get(i));
            }
            order
        }
        _ => ids().collect(),
    };
    Step::StartRound { round, phase, order, bids: flow == PanelType::Open }
}

/// The phase of a round in a flow.
pub fn phase_of(flow: PanelType, round: u32) -> Phase {
    match flow {
        PanelType::Open => Phase::Brainstorm,
        PanelType::Socratic => Phase::Inquiry,
        PanelType::Delphi => Phase::Rating,
        PanelType::Adversarial => match round {
            1 => Phase::Opening,
            2 => Phase::Rebuttal,
            _ => Phase::Closing,
        },
        PanelType::Structured | PanelType::Hybrid => {
            if round == 1 {
                Phase::Opening
            } else {
                Phase::Critique
            }
        }
    }
}

/// The socratic questioner: the member with that role, else the first AI member.
pub fn questioner(state: &PanelState) -> Option<MemberId> {
    let members = &state.view.members;
    members
        .iter()
        .find(|m| m.role == Some(MemberRole::Questioner))
        .or_else(|| members.iter().find(|m| m.kind == MemberKind::Ai))
        .map(|m| m.id)
}

/// The number of rounds a panel may run.
pub fn max_rounds(state: &PanelState) -> u32 {
    match state.flow() {
        PanelType::Adversarial => 3,
        _ => state.setup.config.max_rounds.max(1),
    }
}

/// Whether a member's turn must end with a rating (of the question in a
/// round without a draft, else of the draft): see
/// [`PanelType::round_asks_ratings`]; the socratic questioner never rates.
pub fn must_rate(state: &PanelState, member: MemberId, round: u32) -> bool {
    let flow = state.flow();
    flow.round_asks_ratings(round) && !(flow == PanelType::Socratic && questioner(state) == Some(member))
}

/// The rating and confidence that count for a turn: what the member gave
/// where its format asks for a rating, nothing elsewhere (a rating volunteered
/// in an opening, a question or a bid is not a vote).
pub fn counted_rating(
    state: &PanelState,
    member: MemberId,
    round: u32,
    rating: Option<u8>,
    confidence: Option<f64>,
) -> (Option<u8>, Option<f64>) {
    if must_rate(state, member, round) && rating.is_some() { (rating, confidence) } else { (None, None) }
}

/// What a round's ratings are of: as recorded when it started, else whether a draft exists now.
pub fn rating_target(state: &PanelState, round: u32) -> RatingTarget {
    let recorded = state.view.rounds.iter().find(|r| r.round == round).and_then(|r| r.rated);
    recorded.unwrap_or(if state.view.draft.is_some() { RatingTarget::Draft } else { RatingTarget::Question })
}

/// The kind of contribution asked of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnTask {
    /// An independent opening position.
    Opening,
    /// A critique of the draft.
    Critique,
    /// New ideas (open panels).
    Brainstorm,
    /// Socratic: ask the probing question.
    Question,
    /// Socratic: answer the question.
    Answer,
    /// Adversarial: argue for the member's side.
    Argue,
    /// Delphi: an anonymous rating with its rationale.
    Rate,
}

/// One statement a member may see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TranscriptEntry {
    /// The round it was said in.
    pub round: u32,
    /// The phase of the entry's round (for the round's heading).
    pub phase: Phase,
    /// What the entry's rating, if any, is of.
    pub rated: Option<RatingTarget>,
    /// The speaker's name, or an anonymous label in delphi.
    pub speaker: String,
    /// Adversarial panels: the speaker's side.
    pub team: Option<Team>,
    /// Whether an AI expert or a human spoke.
    pub kind: MemberKind,
    /// What was said.
    pub text: String,
    /// The rating given with it (1-9), if any.
    pub rating: Option<u8>,
}

/// Everything a member is shown for a turn, built per format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberView {
    /// The question the panel deliberates.
    pub query: String,
    /// The format the panel follows (a hybrid panel's base flow).
    pub flow: PanelType,
    /// The round of the turn (1-based).
    pub round: u32,
    /// The most rounds the panel runs.
    pub max_rounds: u32,
    /// The round's phase.
    pub phase: Phase,
    /// What this turn asks of the member.
    pub task: TurnTask,
    /// The turn must end with a rating (1-9) and a confidence (0-1).
    pub rate: bool,
    /// What the rating is of: the question as asked (no draft yet) or the draft shown.
    pub rating_target: RatingTarget,
    /// The name the member speaks as.
    pub member_name: String,
    /// Adversarial panels: the member's side.
    pub team: Option<Team>,
    /// Statements visible to the member, oldest first. Empty in delphi
    /// (members see the statistics and the facilitator's synthesis) and for
    /// the round's own turns when its positions are independent.
    pub transcript: Vec<TranscriptEntry>,
    /// Delphi: nothing shown names or identifies a member.
    pub anonymous: bool,
    /// Delphi: the facilitator's synthesis of the previous round.
    pub feedback: Option<Feedback>,
    /// The statistics of the previous rated round.
    pub previous_stats: Option<RoundStats>,
    /// The consensus level after the previous rated round.
    pub previous_level: Option<consensus::ConsensusLevel>,
    /// The ratings of the previous rated round, without names.
    pub previous_ratings: Vec<u8>,
    /// The member's own latest rating in an earlier round.
    pub own_previous_rating: Option<u8>,
    /// The current draft recommendation, from round 2 (and every delphi round).
    pub draft: Option<String>,
    /// Socratic answerers: this round's question.
    pub question: Option<String>,
    /// Socratic questioner: where the panel is weakest or most divided.
    pub focus: Option<String>,
    /// Moderator questions or instructions to address.
    pub injections: Vec<String>,
    /// Open panels: the ideas already collected.
    pub known_ideas: Vec<String>,
    /// Follow-ups: what the earlier panel concluded (neutral in delphi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<String>,
}

/// What `member` is shown for a turn in `round`.
pub fn member_view(state: &PanelState, member: MemberId, round: u32) -> MemberView {
    let flow = state.flow();
    let me = state.view.member(member);
    let phase = state.view.rounds.iter().find(|r| r.round == round).map_or(phase_of(flow, round), |r| r.phase);
    let is_questioner = flow == PanelType::Socratic && questioner(state) == Some(member);
    let task = match flow {
        PanelType::Delphi => TurnTask::Rate,
        PanelType::Open => TurnTask::Brainstorm,
        PanelType::Adversarial => TurnTask::Argue,
        PanelType::Socratic if is_questioner => TurnTask::Question,
        PanelType::Socratic => TurnTask::Answer,
        _ if round == 1 => TurnTask::Opening,
        _ => TurnTask::Critique,
    };
    let anonymous = flow == PanelType::Delphi;
    let previous = previous_rated_round(state, round);
    // Independent positions see no turn of their own round.
    let visible_before = if flow.round_is_independent(round) { round } else { round + 1 };
    let transcript = if anonymous { Vec::new() } else { named_transcript(state, visible_before) };
    let identities = anonymous.then(|| Identities::of(state));
    let neutral = |text: &str| identities.as_ref().map_or_else(|| text.to_string(), |ids| ids.neutralise(text));
    let feedback = state.view.feedback.clone().filter(|f| anonymous && f.round < round).map(|mut f| {
        for argument in f.arguments_mut() {
            *argument = neutral(argument);
        }
        f
    });
    let question = (flow == PanelType::Socratic && !is_questioner)
        .then(|| {
            let q = questioner(state)?;
            let current = state.view.rounds.iter().find(|r| r.round == round)?;
            current.turns.iter().find(|t| t.member_id == q).map(|t| t.text.clone())
        })
        .flatten();
    let own_previous_rating = state
        .view
        .rounds
        .iter()
        .rev()
        .filter(|r| r.round < round)
        .find_map(|r| r.turns.iter().find(|t| t.member_id == member).and_then(|t| t.rating));
    MemberView {
        query: state.view.query.clone(),
        flow,
        round,
        max_rounds: max_rounds(state),
        phase,
        task,
        rate: must_rate(state, member, round),
        rating_target: rating_target(state, round),
        member_name: me.map(|m| m.name.clone()).unwrap_or_default(),
        team: me.and_then(|m| m.team),
        transcript,
        anonymous,
        feedback,
        previous_stats: previous.as_ref().map(|(stats, _, _)| stats.clone()),
        previous_level: previous.as_ref().and_then(|(_, c, _)| c.as_ref().map(|c| c.level)),
        previous_ratings: previous.map(|(_, _, ratings)| ratings).unwrap_or_default(),
        own_previous_rating,
        draft: if round >= 2 || flow == PanelType::Delphi { state.view.draft.as_deref().map(neutral) } else { None },
        question,
        focus: if is_questioner { socratic_focus(state) } else { None },
        injections: state.injections_for(member).iter().map(|i| neutral(i)).collect(),
        known_ideas: if flow == PanelType::Open { state.view.ideas.clone() } else { Vec::new() },
        prior: state.setup.config.parent.as_ref().and_then(|p| p.context(!anonymous)).map(|c| neutral(&c)),
    }
}

/// Stats, consensus and (sorted, nameless) ratings of the last completed round with ratings before `round`.
fn previous_rated_round(state: &PanelState, round: u32) -> Option<(RoundStats, Option<Consensus>, Vec<u8>)> {
    state.view.rounds.iter().zip(&state.rounds).rev().filter(|(r, _)| r.round < round).find_map(|(r, p)| {
        let stats = r.stats.clone()?;
        let mut ratings: Vec<u8> = r.turns.iter().filter_map(|t| t.rating).collect();
        ratings.sort_unstable();
        Some((stats, p.consensus.clone(), ratings))
    })
}

/// Every turn of the rounds before `before`, named, oldest first.
fn named_transcript(state: &PanelState, before: u32) -> Vec<TranscriptEntry> {
    state
        .view
        .rounds
        .iter()
        .filter(|r| r.round < before)
        .flat_map(|r| r.turns.iter().map(move |t| (r, t)))
        .filter_map(|(r, t)| {
            let m = state.view.member(t.member_id)?;
            Some(TranscriptEntry {
                round: r.round,
                phase: r.phase,
                rated: r.rated,
                speaker: m.name.clone(),
                team: m.team,
                kind: m.kind,
                text: t.text.clone(),
                rating: t.rating,
            })
        })
        .collect()
}

/// Delphi: a round's rationales for the facilitator, neutralised and in an
/// order that does not reveal who wrote them (sorted by a hash of the text).
pub fn anonymous_rationales(state: &PanelState, round: u32) -> Vec<Rationale> {
    let Some(rated) = state.view.rounds.iter().find(|r| r.round == round) else {
        return Vec::new();
    };
    let identities = Identities::of(state);
    let mut rationales: Vec<Rationale> =
        rated.turns.iter().map(|t| Rationale { text: identities.neutralise(&t.text), rating: t.rating }).collect();
    rationales.sort_by_key(|r| fnv1a(r.text.as_bytes()));
    rationales
}

/// A stable 64-bit FNV-1a hash (the same on every platform and run).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Socratic: the widest disagreement of the last rated round (the rating
/// furthest from the median, with its author's words), or the weakest
/// (least confident) statement.
fn socratic_focus(state: &PanelState) -> Option<String> {
    let round = state.view.rounds.iter().rev().find(|r| r.stats.is_some())?;
    let median = round.stats.as_ref()?.median;
    let outlier = round
        .turns
        .iter()
        .filter_map(|t| t.rating.map(|r| (t, (f64::from(r) - median).abs(), t.confidence.unwrap_or(1.0))))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.total_cmp(&a.2)))?;
    let member = state.view.member(outlier.0.member_id)?;
    let excerpt: String = outlier.0.text.chars().take(240).collect();
    let rating = outlier.0.rating.unwrap_or(0);
    Some(format!(
        "The widest disagreement: {} rated the draft {rating} against a panel median of {median}. They said: \"{excerpt}\"",
        member.name
    ))
}
