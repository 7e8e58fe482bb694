//! The durable events of a panel's log: exactly the kinds and data of API.md,
//! plus a few added kinds and fields (API.md allows additions). Each event has
//! a per-panel `seq`, 1 for `panel_created`, rising by one with no gaps.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::consensus::{Consensus, RoundStats};
use crate::domain::{MemberId, PanelSetup};
pub use crate::domain::{Phase, RoundDecision, Verdict};
use crate::panel::view::PanelView;

/// The moderator actions of API.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeratorActionKind {
    /// Pause the panel until a moderator resumes it.
    Pause,
    /// Resume a panel a moderator paused.
    Resume,
    /// Skip the turn on air, or the one due next.
    SkipTurn,
    /// Add a question or instruction the next turns must address.
    Inject,
    /// End the current round now, voiding the turn on air.
    EndRound,
    /// Go to the final consensus now.
    Finish,
    /// Stop the panel for good, without a recommendation.
    Cancel,
}

impl std::str::FromStr for ModeratorActionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown moderator action `{s}`"))
    }
}

/// `turn_aborted.reason` of a turn the model failed mid-way: it counts
/// towards the member's attempts, and as progress for the restart budget.
pub const ABORTED_BY_MODEL_ERROR: &str = "model_error";

/// The kinds of durable event and their data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventData {
    /// The panel was created: always the first event (seq 1).
    PanelCreated {
        /// The panel as it stood when created.
        panel: Box<PanelView>,
        /// The setup the panel runs with (personas, configuration).
        setup: Box<PanelSetup>,
    },
    /// The panel began deliberating.
    PanelStarted {},
    /// A round opened.
    RoundStarted {
        /// The round that opened (1-based).
        round: u32,
        /// What kind of turn the round asks for.
        phase: Phase,
        /// The speaking order of the round.
        #[serde(default)]
        order: Vec<MemberId>,
        /// What the members' bids for the floor cost (open panels; counted in usage).
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        /// Tokens the models wrote for those bids.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    /// A member began a turn; its live `token` deltas follow.
    TurnStarted {
        /// The member who speaks.
        member_id: MemberId,
        /// The round this turn belongs to (1-based).
        round: u32,
    },
    /// A member's turn ended, with its full text.
    TurnCompleted {
        /// The member who spoke.
        member_id: MemberId,
        /// The round this turn belongs to (1-based).
        round: u32,
        /// The turn's full text as clients see it (rating lines removed).
        text: String,
        /// The member's rating on the 1-9 scale, when the round asked for one and it was readable.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rating: Option<u8>,
        /// The member's confidence in that rating, in [0, 1].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<f64>,
        /// How the rating was read (`direct` or `follow_up`), when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rating_read: Option<crate::domain::RatingRead>,
        /// What the model got wrong in this turn (handled, and counted).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        flags: Vec<crate::domain::TurnFlag>,
        /// Open panels: the ideas this turn contributed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ideas: Vec<String>,
        /// Panels with documents: the passages the member was given for this turn.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<crate::domain::grounding::EvidenceUse>,
        /// Every citation in the text, checked against what the member was given.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        citations: Vec<crate::domain::grounding::Citation>,
        /// Tokens the model read for this turn.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        /// Tokens the model wrote for this turn.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    /// A member's turn was skipped: the member did not speak.
    TurnSkipped {
        /// The member whose turn was skipped.
        member_id: MemberId,
        /// The round the turn belonged to (1-based).
        round: u32,
        /// Why: `timeout`, `moderator`, `passed: ...`, `model_failed: ...` or `unavailable: ...`.
        reason: String,
    },
    /// A started turn that will not complete: its streamed text is void.
    /// `reason`: `paused`, `interrupted` (a restart), [`ABORTED_BY_MODEL_ERROR`],
    /// `round_ended`, `finished`, `cancelled`.
    TurnAborted {
        /// The member whose turn was cut off.
        member_id: MemberId,
        /// The round the turn belonged to (1-based).
        round: u32,
        /// Why the turn was voided (see above).
        reason: String,
        /// What the model reported, when a model error cut the turn off.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The panel waits for a human member's turn.
    HumanTurnRequested {
        /// The human member asked to speak.
        member_id: MemberId,
        /// The round the turn belongs to (1-based).
        round: u32,
        /// When the turn is skipped if no input has come.
        deadline: DateTime<Utc>,
    },
    /// A human member's turn as submitted; its `turn_completed` follows.
    HumanInput {
        /// The human member who spoke.
        member_id: MemberId,
        /// The round the turn belongs to (1-based).
        round: u32,
        /// What they wrote, any rating trailer included.
        text: String,
    },
    /// A moderator acted on the panel.
    ModeratorAction {
        /// What the moderator did.
        action: ModeratorActionKind,
        /// The text given with the action: the question or instruction of `inject`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Who acted: the caller's key id, or a system name such as `cli`.
        by: String,
    },
    /// A round ended: measured, and decided whether the panel goes on.
    RoundCompleted {
        /// The round that ended (1-based).
        round: u32,
        /// The statistics of its ratings; `None` when nobody rated.
        stats: Option<RoundStats>,
        /// Whether the deliberation continues, or why it stops.
        #[serde(default = "continue_decision")]
        decision: RoundDecision,
        /// Open panels: how many new ideas the round brought.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_ideas: Option<usize>,
    },
    /// A new consensus measurement, after a rated round.
    ConsensusUpdated {
        /// The measurement (`consensus` in API.md).
        consensus: Consensus,
    },
    /// The consensus actor's draft recommendation after a round.
    DraftUpdated {
        /// The round after which the draft was written.
        round: u32,
        /// The draft recommendation's text.
        draft: String,
        /// Panels with documents: the passages the draft rests on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sources: Vec<crate::domain::grounding::Source>,
        /// Tokens the model read to write the draft.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        /// Tokens the model wrote for the draft.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    /// Delphi: the facilitator's synthesis of a round's anonymous rationales,
    /// which the next round's members are shown with the statistics.
    FeedbackUpdated {
        /// The round whose rationales are synthesised.
        round: u32,
        /// The synthesis shown to the next round's members.
        feedback: crate::domain::Feedback,
        /// Tokens the facilitator's model read.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        /// Tokens the facilitator's model wrote.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    /// The panel stopped deliberating until it is resumed.
    PanelPaused {
        /// Why: the text of a [`crate::domain::PauseReason`] (`moderator`, `tenant_suspended`...).
        reason: String,
    },
    /// The panel deliberates again after a pause.
    PanelResumed {},
    /// The panel reached its final recommendation: a terminal event.
    PanelCompleted {
        /// The final recommendation's text.
        recommendation: String,
        /// The final consensus, when the panel rated.
        consensus: Option<Consensus>,
        /// Adversarial panels: the judged verdict.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verdict: Option<Verdict>,
        /// Why the deliberation stopped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<RoundDecision>,
        /// Panels with documents: the passages the recommendation rests on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sources: Vec<crate::domain::grounding::Source>,
        /// What drafting the final recommendation cost (counted in usage).
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        /// Tokens the model wrote for it.
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    /// The panel could not go on: a terminal event.
    PanelFailed {
        /// What went wrong, for a person.
        error: String,
    },
    /// The panel was cancelled: a terminal event.
    PanelCancelled {
        /// Who cancelled it: the caller's key id, or a system name.
        by: String,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn continue_decision() -> RoundDecision {
    RoundDecision::Continue
}

/// Every event kind, as in [`EventData::kind`].
pub const EVENT_KINDS: [&str; 19] = [
    "panel_created",
    "panel_started",
    "round_started",
    "turn_started",
    "turn_completed",
    "turn_skipped",
    "turn_aborted",
    "human_turn_requested",
    "human_input",
    "moderator_action",
    "round_completed",
    "consensus_updated",
    "draft_updated",
    "feedback_updated",
    "panel_paused",
    "panel_resumed",
    "panel_completed",
    "panel_failed",
    "panel_cancelled",
];

impl EventData {
    /// The `kind` string of API.md.
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::PanelCreated { .. } => "panel_created",
            EventData::PanelStarted {} => "panel_started",
            EventData::RoundStarted { .. } => "round_started",
            EventData::TurnStarted { .. } => "turn_started",
            EventData::TurnCompleted { .. } => "turn_completed",
            EventData::TurnSkipped { .. } => "turn_skipped",
            EventData::TurnAborted { .. } => "turn_aborted",
            EventData::HumanTurnRequested { .. } => "human_turn_requested",
            EventData::HumanInput { .. } => "human_input",
            EventData::ModeratorAction { .. } => "moderator_action",
            EventData::RoundCompleted { .. } => "round_completed",
            EventData::ConsensusUpdated { .. } => "consensus_updated",
            EventData::DraftUpdated { .. } => "draft_updated",
            EventData::FeedbackUpdated { .. } => "feedback_updated",
            EventData::PanelPaused { .. } => "panel_paused",
            EventData::PanelResumed {} => "panel_resumed",
            EventData::PanelCompleted { .. } => "panel_completed",
            EventData::PanelFailed { .. } => "panel_failed",
            EventData::PanelCancelled { .. } => "panel_cancelled",
        }
    }

    /// Whether this event ends the panel.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventData::PanelCompleted { .. } | EventData::PanelFailed { .. } | EventData::PanelCancelled { .. }
        )
    }
}

/// One durable event of a panel's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the panel's log: 1 for `panel_created`, then up by one with no gaps.
    pub seq: u64,
    /// When the event was recorded.
    pub ts: DateTime<Utc>,
    /// The kind and its data (`kind` and `data` on the wire).
    #[serde(flatten)]
    pub data: EventData,
}

/// An event with its JSON, serialised once when it is numbered: the event
/// log stores these bytes and the fan-out sends them, so no event is
/// serialised twice.
#[derive(Clone, Debug, PartialEq)]
pub struct SealedEvent {
    /// The event.
    pub event: Event,
    /// Its JSON (`{"seq","ts","kind","data"}`), shared.
    pub json: std::sync::Arc<str>,
}

impl SealedEvent {
    /// Serialises an event once.
    pub fn seal(event: Event) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_string(&event)?.into();
        Ok(Self { event, json })
    }
}

/// A live text delta of a turn: published, never persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenDelta {
    /// The seq of the `turn_started` that opened the turn.
    pub turn_seq: u64,
    /// The member whose turn is streaming.
    pub member_id: MemberId,
    /// Character offset of `delta` in the turn's text.
    pub offset: usize,
    /// The text added by this delta.
    pub delta: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_kind_and_data_as_in_the_api() {
        let event = Event {
            seq: 3,
            ts: "2026-11-22T10:00:00Z".parse().unwrap(),
            data: EventData::TurnSkipped { member_id: MemberId(uuid::Uuid::nil()), round: 2, reason: "timeout".into() },
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["seq"], 3);
        assert_eq!(json["kind"], "turn_skipped");
        assert_eq!(json["data"]["reason"], "timeout");
        assert_eq!(json["data"]["round"], 2);
        assert_eq!(json["ts"], "2026-11-22T10:00:00Z");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
        let started = serde_json::to_value(Event { seq: 2, ts: event.ts, data: EventData::PanelStarted {} }).unwrap();
        assert_eq!(started["data"], serde_json::json!({}));
    }

    #[test]
    fn moderator_actions_parse_from_their_api_names() {
        assert_eq!("skip_turn".parse::<ModeratorActionKind>().unwrap(), ModeratorActionKind::SkipTurn);
        assert_eq!("end_round".parse::<ModeratorActionKind>().unwrap(), ModeratorActionKind::EndRound);
        assert!("explode".parse::<ModeratorActionKind>().is_err());
    }
}
