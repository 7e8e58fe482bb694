//! The expert model port: how an AI member's turn is produced. The server
//! plugs in adapters (an OpenAI-compatible client); [`simulated`] is the
//! offline default.

pub mod pacer;
pub mod rating;
pub mod rng;
pub mod simulated;

use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::consensus::Consensus;
use crate::domain::{ExpertProfile, MemberId, PanelId, PanelType, SimulationConfig, TenantId};
pub use crate::domain::{RatingRead, TurnFlag};
use crate::event::Verdict;
use crate::panel::feedback::{Feedback, Rationale};
use crate::panel::strategy::{MemberView, TranscriptEntry};

/// Tokens spent by one model call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens the model read for this call.
    pub prompt_tokens: u64,
    /// Tokens the model wrote for this call.
    pub completion_tokens: u64,
}

/// Everything a model needs to write one member's turn.
#[derive(Clone, Debug)]
pub struct TurnRequest {
    /// The tenant the call is made for.
    pub tenant_id: TenantId,
    /// The panel the turn belongs to.
    pub panel_id: PanelId,
    /// The member whose turn it is.
    pub member_id: MemberId,
    /// The expert's persona and simulation knobs.
    pub profile: Arc<ExpertProfile>,
    /// What the member is shown for this turn.
    pub view: MemberView,
    /// The panel's simulation knobs (ignored by real models).
    pub simulation: SimulationConfig,
    /// 1 for the first attempt of this turn, 2 for the first re-run...
    pub attempt: u32,
    /// Panels with documents: the passages given for this turn, best first.
    pub evidence: Vec<crate::domain::grounding::GivenPassage>,
}

/// The final result of a turn.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TurnOutput {
    /// The text clients see (any rating trailer removed).
    pub text: String,
    /// The rating on the 1-9 scale, when asked for and readable.
    pub rating: Option<u8>,
    /// The confidence in that rating, in [0, 1].
    pub confidence: Option<f64>,
    /// How the rating was read, when there is one.
    pub rating_read: Option<RatingRead>,
    /// Open panels: the ideas this turn contributed.
    pub ideas: Vec<String>,
    /// Tokens the turn cost.
    pub usage: Usage,
    /// What the model got wrong in this turn (handled, and counted).
    pub flags: Vec<TurnFlag>,
    /// Panels with documents: what the member was given (set by the expert actor).
    pub evidence: Option<crate::domain::grounding::EvidenceUse>,
    /// The citations in the text, checked (set by the expert actor).
    pub citations: Vec<crate::domain::grounding::Citation>,
}

/// What a turn stream yields: text deltas, then exactly one `Done`.
#[derive(Clone, Debug, PartialEq)]
pub enum TurnChunk {
    /// A piece of the turn's text, as it streams.
    Delta(String),
    /// The end of the turn, with its full result.
    Done(TurnOutput),
}

/// A turn being written: text deltas, then exactly one `Done`, or an error.
pub type TurnStream = BoxStream<'static, Result<TurnChunk, ModelError>>;

/// Why a model call failed.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum ModelError {
    /// The backend cannot be used now (circuit open, not configured).
    #[error("model backend unavailable: {0}")]
    Unavailable(String),
    /// The request failed before any text arrived.
    #[error("model request failed: {0}")]
    Request(String),
    /// The stream broke or stalled after it had started.
    #[error("model stream failed: {0}")]
    Stream(String),
    /// The call took longer than this many seconds.
    #[error("model call timed out after {0} s")]
    Timeout(u64),
}

/// Open panels: whether a member wants to speak this round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bid {
    /// Wants the floor with this urgency in [0, 1].
    Speak(f64),
    /// Has nothing new to add.
    Pass,
}

/// Open panels: what a member needs to bid for the floor.
#[derive(Clone, Debug)]
pub struct BidRequest {
    /// The tenant the call is made for.
    pub tenant_id: TenantId,
    /// The panel the bid is for.
    pub panel_id: PanelId,
    /// The bidding expert's persona.
    pub profile: Arc<ExpertProfile>,
    /// What the member is shown this round.
    pub view: MemberView,
    /// The panel's simulation knobs (ignored by real models).
    pub simulation: SimulationConfig,
}

/// The consensus actor's request for a (draft or final) recommendation.
#[derive(Clone, Debug)]
pub struct DraftRequest {
    /// The tenant the call is made for.
    pub tenant_id: TenantId,
    /// The panel the recommendation is for.
    pub panel_id: PanelId,
    /// The question the panel deliberates.
    pub query: String,
    /// The format the panel follows (a hybrid panel's base flow).
    pub flow: PanelType,
    /// The round the recommendation follows.
    pub round: u32,
    /// The final recommendation rather than a draft.
    pub is_final: bool,
    /// Statements of the panel (anonymous in delphi), oldest first.
    pub transcript: Vec<TranscriptEntry>,
    /// The latest consensus, when the panel rated.
    pub consensus: Option<Consensus>,
    /// Names of the dissenting members (empty in delphi).
    pub dissenters: Vec<String>,
    /// The draft so far, to revise.
    pub previous_draft: Option<String>,
    /// Open panels: the ideas collected.
    pub ideas: Vec<String>,
    /// The panel's simulation knobs (ignored by real models).
    pub simulation: SimulationConfig,
    /// Follow-ups: what the earlier panel concluded.
    pub prior: Option<String>,
}

/// A recommendation written by the model, and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Drafted {
    /// The recommendation's text.
    pub text: String,
    /// Tokens the drafting cost.
    pub usage: Usage,
}

/// Adversarial panels: the arguments of each side to judge.
#[derive(Clone, Debug)]
pub struct JudgeRequest {
    /// The tenant the call is made for.
    pub tenant_id: TenantId,
    /// The panel to judge.
    pub panel_id: PanelId,
    /// The proposition the teams argued.
    pub query: String,
    /// Every statement of both sides, oldest first.
    pub transcript: Vec<TranscriptEntry>,
    /// The panel's simulation knobs (ignored by real models).
    pub simulation: SimulationConfig,
}

/// Delphi: the facilitator's synthesis of a round's anonymous rationales.
#[derive(Clone, Debug)]
pub struct SynthesisRequest {
    /// The tenant the call is made for.
    pub tenant_id: TenantId,
    /// The panel whose round it is.
    pub panel_id: PanelId,
    /// The question the panel rates.
    pub query: String,
    /// The round whose rationales are synthesised.
    pub round: u32,
    /// Every rationale of the round, neutralised, in an order that reveals nobody.
    pub rationales: Vec<Rationale>,
    /// The panel's simulation knobs (ignored by real models).
    pub simulation: SimulationConfig,
}

/// A model backend for AI experts.
pub trait ExpertModel: Send + Sync + 'static {
    /// `simulated`, or the configured model's name.
    fn name(&self) -> String;

    /// Whether its output is simulated (labelled as such wherever shown).
    fn is_simulated(&self) -> bool;

    /// Whether calls can go out now (false while a circuit breaker is open).
    fn available(&self) -> bool {
        true
    }

    /// Whether independent turns (round 1) should be started together and
    /// buffered, rather than one after the other. Worth it for real models,
    /// whose calls take seconds; the simulated model writes instantly and
    /// paces its own stream.
    fn concurrent_turns(&self) -> bool {
        false
    }

    /// Streams one turn: deltas, then `Done` with the full text and rating.
    fn stream_turn(&self, request: TurnRequest) -> TurnStream;

    /// The bid and what asking for it cost.
    fn bid(&self, request: BidRequest) -> BoxFuture<'static, Result<(Bid, Usage), ModelError>>;

    /// A draft (or the final) recommendation and what it cost.
    fn draft(&self, request: DraftRequest) -> BoxFuture<'static, Result<Drafted, ModelError>>;

    /// The verdict and what judging cost.
    fn judge(&self, request: JudgeRequest) -> BoxFuture<'static, Result<(Verdict, Usage), ModelError>>;

    /// Delphi feedback: the facilitator's synthesis and what it cost. The
    /// default is the extractive synthesis (no model call).
    fn synthesize(&self, request: SynthesisRequest) -> BoxFuture<'static, Result<(Feedback, Usage), ModelError>> {
        let feedback = crate::panel::feedback::extractive(request.round, &request.rationales);
        Box::pin(futures::future::ready(Ok((feedback, Usage::default()))))
    }
}
