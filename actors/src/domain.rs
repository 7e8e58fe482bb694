//! The panel domain: types, statuses, members and the configuration a panel
//! is created with. Plain data, shared by the strategies, the actors and the
//! server.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::ids::{ExpertId, KeyId, MemberId, PanelId, TenantId, UserId};
pub use feedback::{Feedback, RatingRead, Rationale, TurnFlag};
pub use pause::PauseReason;
pub use simulation::{MAX_WORDS_PER_DELTA, SimulationConfig};

mod feedback;
pub mod grounding;
pub mod lineage;
mod pause;
mod simulation;

/// The six deliberation formats of PRODUCT.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelType {
    /// A fixed speaking order: opening statements, then critiques of a draft.
    Structured,
    /// Brainstorming: members bid for the floor and may pass.
    Open,
    /// A questioner probes each round; the other members answer.
    Socratic,
    /// Pro and con teams argue; a judge gives the verdict.
    Adversarial,
    /// Anonymous rating rounds with a facilitator's feedback.
    Delphi,
    /// Human members beside the AI experts, in a base flow.
    Hybrid,
}

impl PanelType {
    /// Every panel type, in API.md's order.
    pub const ALL: [PanelType; 6] = [
        PanelType::Structured,
        PanelType::Open,
        PanelType::Socratic,
        PanelType::Adversarial,
        PanelType::Delphi,
        PanelType::Hybrid,
    ];

    /// The inclusive bounds on the number of members.
    pub fn member_bounds(self) -> (usize, usize) {
        match self {
            PanelType::Structured => (3, 8),
            PanelType::Open => (3, 12),
            PanelType::Socratic => (3, 8),
            PanelType::Adversarial => (4, 10),
            PanelType::Delphi => (5, 12),
            PanelType::Hybrid => (3, 12),
        }
    }

    /// The API.md name (`structured`, `open`...).
    pub fn as_str(self) -> &'static str {
        match self {
            PanelType::Structured => "structured",
            PanelType::Open => "open",
            PanelType::Socratic => "socratic",
            PanelType::Adversarial => "adversarial",
            PanelType::Delphi => "delphi",
            PanelType::Hybrid => "hybrid",
        }
    }

    /// The default `max_rounds` (adversarial always runs its three phases).
    pub fn default_max_rounds(self) -> u32 {
        match self {
            PanelType::Delphi => 4,
            PanelType::Adversarial => 3,
            _ => 3,
        }
    }

    /// The consensus method when the request names none.
    pub fn default_consensus_method(self) -> ConsensusMethod {
        ConsensusMethod::RandUcla
    }

    /// Whether a round of this flow (a hybrid panel's base flow) asks its
    /// members for ratings: delphi every round, the others from round 2 (the
    /// socratic questioner never). Round 1 is for independent positions.
    pub fn round_asks_ratings(self, round: u32) -> bool {
        match self {
            PanelType::Delphi => true,
            _ => round >= 2,
        }
    }

    /// Whether the members of a round speak without seeing each other's turns
    /// of that round: the independent positions of round 1 (opening
    /// statements, delphi's first ratings, adversarial openings, the answers
    /// to the socratic question). Open brainstorming builds on the ideas
    /// collected, so its rounds are never independent.
    pub fn round_is_independent(self, round: u32) -> bool {
        round == 1 && self != PanelType::Open
    }
}

impl std::str::FromStr for PanelType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PanelType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| format!("unknown panel type `{s}`"))
    }
}

/// How a round's ratings are turned into a consensus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsensusMethod {
    /// RAND/UCLA: the median's tertile and the IPRAS disagreement rule.
    RandUcla,
    /// Ratings weighted by their recalibrated confidence (ReConcile).
    ConfidenceWeighted,
    /// The share of members in the median's tertile.
    Majority,
}

/// A panel's lifecycle (API.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelStatus {
    /// Created, not started yet.
    Created,
    /// Deliberating.
    Running,
    /// Waiting for a human member's turn.
    AwaitingHuman,
    /// Stopped by a moderator or the platform until resumed.
    Paused,
    /// Ended with a recommendation.
    Completed,
    /// Ended on an error it could not get past.
    Failed,
    /// Ended by a cancellation.
    Cancelled,
}

impl PanelStatus {
    /// Whether the panel has ended (completed, failed or cancelled).
    pub fn is_terminal(self) -> bool {
        matches!(self, PanelStatus::Completed | PanelStatus::Failed | PanelStatus::Cancelled)
    }

    /// The API.md name (`awaiting_human`...).
    pub fn as_str(self) -> &'static str {
        match self {
            PanelStatus::Created => "created",
            PanelStatus::Running => "running",
            PanelStatus::AwaitingHuman => "awaiting_human",
            PanelStatus::Paused => "paused",
            PanelStatus::Completed => "completed",
            PanelStatus::Failed => "failed",
            PanelStatus::Cancelled => "cancelled",
        }
    }

    /// Every status, in lifecycle order.
    pub const ALL: [PanelStatus; 7] = [
        PanelStatus::Created,
        PanelStatus::Running,
        PanelStatus::AwaitingHuman,
        PanelStatus::Paused,
        PanelStatus::Completed,
        PanelStatus::Failed,
        PanelStatus::Cancelled,
    ];
}

impl std::str::FromStr for PanelStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PanelStatus::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| format!("unknown panel status `{s}`"))
    }
}

/// Whether a member is an AI expert or a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberKind {
    /// An AI expert, speaking through the model.
    Ai,
    /// A person, speaking through the API.
    Human,
}

/// The side of an adversarial panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    /// Argues for the proposal.
    Pro,
    /// Argues against the proposal.
    Con,
}

impl Team {
    /// The wire name: `pro` or `con`.
    pub fn as_str(self) -> &'static str {
        match self {
            Team::Pro => "pro",
            Team::Con => "con",
        }
    }
}

/// A special role in a panel's flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Socratic: asks the probing question of each round and does not rate.
    Questioner,
}

/// A member of a panel as API clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The member's id within the panel.
    pub id: MemberId,
    /// AI expert or human.
    pub kind: MemberKind,
    /// The name shown for the member.
    pub name: String,
    /// The catalog expert behind an AI member.
    pub expert_id: Option<ExpertId>,
    /// Adversarial panels: the member's side.
    pub team: Option<Team>,
    /// A special role in the flow (the socratic questioner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
    /// The expert's domain (AI members).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The model behind an AI member: `simulated` or the model's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Human members: the only key (besides moderators) allowed to speak for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<KeyId>,
    /// Human members: the person (user) who holds the seat; only they (or a
    /// moderator) speak for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// AI members: why the expert was seated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<MemberSelection>,
}

/// How an AI member came to be seated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionBasis {
    /// The request named the expert.
    Named,
    /// Ranked for the question.
    Relevance,
    /// Nothing in the catalog matched the question: seated in a generalist's
    /// order of domains.
    Fallback,
}

/// Why an AI member was seated (selection explains itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberSelection {
    /// How it came to be seated.
    pub basis: SelectionBasis,
    /// Its relevance to the question (BM25 over its profile), the tenant's
    /// preference included; 0 when named.
    pub score: f64,
    /// The question's terms found in its profile.
    #[serde(default)]
    pub matched_terms: Vec<String>,
    /// Experts of its domain seated before it (each halves a candidate's
    /// score: panels span domains).
    #[serde(default)]
    pub same_domain_before: u32,
    /// The tenant prefers this expert (its score counted with the boost).
    #[serde(default)]
    pub preferred: bool,
}

/// What the ratings of a round are of: the question (or proposal) as asked,
/// in a round that has no draft yet, or the draft recommendation the members
/// were shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingTarget {
    /// The question (or proposal) as asked.
    Question,
    /// The draft recommendation the members were shown.
    Draft,
}

/// What an AI member brings: its persona and the knobs of the simulated model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpertProfile {
    /// The member this profile speaks for.
    pub member_id: MemberId,
    /// The expert's name.
    pub name: String,
    /// The expert's professional title.
    #[serde(default)]
    pub title: String,
    /// The expert's field.
    pub domain: String,
    /// How the expert thinks and argues: the character the model plays.
    /// Shared (with the catalog and every panel that seats the expert).
    pub persona: Arc<str>,
    /// Keywords that rank the expert against a query.
    #[serde(default)]
    pub tags: Arc<[String]>,
    /// Issues this expert tends to raise (simulated text and open-panel ideas).
    #[serde(default)]
    pub concerns: Arc<[String]>,
    /// 0..1: how strongly the simulated expert resists moving toward the group.
    #[serde(default = "default_stubbornness")]
    pub stubbornness: f64,
    /// -1..1: the simulated expert's baseline lean toward approving.
    #[serde(default)]
    pub optimism: f64,
    /// A per-expert model override (real LLM backends only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

fn default_stubbornness() -> f64 {
    0.4
}

/// How a panel runs: fixed at creation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelConfig {
    /// The most rounds the panel deliberates.
    pub max_rounds: u32,
    /// How the ratings are turned into a consensus.
    pub consensus_method: ConsensusMethod,
    /// Seconds a human member has for a turn before it is skipped.
    pub human_turn_timeout_s: u64,
    /// Hybrid: the format the humans take part in (structured unless configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_flow: Option<PanelType>,
    /// Knobs of the simulated experts; the engine's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<SimulationConfig>,
    /// The documents the panel deliberates over, with their labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<grounding::PanelDocument>,
    /// Characters of evidence each AI turn is given (panels with documents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_chars: Option<u32>,
    /// The panel this one follows up or re-runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<lineage::PanelParent>,
}

/// Everything needed to run a panel, written once into `panel_created`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelSetup {
    /// How the panel runs.
    pub config: PanelConfig,
    /// The persona of each AI member, shared with its expert actor and
    /// every request made for it (never copied per turn).
    pub profiles: Vec<Arc<ExpertProfile>>,
}

/// Who issued a command, for authorisation inside the panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The key id, or a system name such as `cli` or `supervisor`.
    pub id: String,
    /// The key behind the call, when a key made it.
    pub key_id: Option<KeyId>,
    /// The signed-in person behind the call, when a person made it.
    pub user_id: Option<UserId>,
    /// Whether the caller may moderate (moderator or admin role).
    pub is_moderator: bool,
}

impl Caller {
    /// A caller acting for the platform itself (`cli`, `supervisor`...); it may moderate.
    pub fn system(name: &str) -> Self {
        Self { id: name.to_string(), key_id: None, user_id: None, is_moderator: true }
    }
}

/// A round's phase; it tells members what kind of turn is asked of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Independent opening positions (round 1 of most formats).
    Opening,
    /// Critique of the current draft, ending with a rating.
    Critique,
    /// Open brainstorming: members bid, contribute new ideas or pass.
    Brainstorm,
    /// Socratic: the questioner asks, the others answer.
    Inquiry,
    /// Adversarial: answering the other team's arguments.
    Rebuttal,
    /// Adversarial: final statements.
    Closing,
    /// Delphi: anonymous rating with a rationale.
    Rating,
}

/// Why a round ended the deliberation, or that it continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundDecision {
    /// No stopping rule was met: another round follows.
    Continue,
    /// The consensus rule was met.
    Consensus,
    /// Delphi: classification unchanged and IQR moved < 0.5.
    Stable,
    /// Open: a round produced no new idea.
    Saturated,
    /// `max_rounds` reached (or the last adversarial phase).
    MaxRounds,
    /// A moderator's `finish`.
    Finished,
    /// Too few members remain able to speak.
    TooFewMembers,
}

impl RoundDecision {
    /// Whether the deliberation ends here.
    pub fn stops(self) -> bool {
        !matches!(self, RoundDecision::Continue)
    }
}

/// The verdict of an adversarial panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `pro`, `con` or `tie`.
    pub winner: String,
    /// The pro side's score, on a 0-10 scale.
    pub pro_score: f64,
    /// The con side's score, on a 0-10 scale.
    pub con_score: f64,
    /// |pro_score - con_score|, on a 0-10 scale.
    pub margin: f64,
    /// Why the judge decided so.
    pub rationale: String,
}
