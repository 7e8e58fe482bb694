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
    Pause,
    Resume,
    SkipTurn,
    Inject,
    EndRound,
    Finish,
    Cancel,
}

impl std::str::FromStr for ModeratorActionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| format!("unknown moderator action `{s}`"))
    }
}

/// `turn_aborted.reason` of a turn the model failed mid-way: it counts
/// towards the member's attempts, and as progress for the restart budget.
pub const ABORTED_BY_MODEL_ERROR: &str = "model_error";

/// The kinds of durable event and their data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum EventData {
    PanelCreated {
        panel: Box<PanelView>,
        /// The setup the panel runs with (personas, configuration).
        setup: Box<PanelSetup>,
    },
    PanelStarted {},
    RoundStarted {
        round: u32,
        phase: Phase,
        /// The speaking order of the round.
        #[serde(default)]
        order: Vec<MemberId>,
        /// What the members' bids for the floor cost (open panels; counted in usage).
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    TurnStarted {
        member_id: MemberId,
        round: u32,
    },
    TurnCompleted {
        member_id: MemberId,
        round: u32,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rating: Option<u8>,
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
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    TurnSkipped {
        member_id: MemberId,
        round: u32,
        reason: String,
    },
    /// A started turn that will not complete: its streamed text is void.
    /// `reason`: `paused`, `interrupted` (a restart), [`ABORTED_BY_MODEL_ERROR`],
    /// `round_ended`, `finished`, `cancelled`.
    TurnAborted {
        member_id: MemberId,
        round: u32,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    HumanTurnRequested {
        member_id: MemberId,
        round: u32,
        deadline: DateTime<Utc>,
    },
    HumanInput {
        member_id: MemberId,
        round: u32,
        text: String,
    },
    ModeratorAction {
        action: ModeratorActionKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        by: String,
    },
    RoundCompleted {
        round: u32,
        stats: Option<RoundStats>,
        #[serde(default = "continue_decision")]
        decision: RoundDecision,
        /// Open panels: how many new ideas the round brought.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_ideas: Option<usize>,
    },
    ConsensusUpdated {
        consensus: Consensus,
    },
    /// The consensus actor's draft recommendation after a round.
    DraftUpdated {
        round: u32,
        draft: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    /// Delphi: the facilitator's synthesis of a round's anonymous rationales,
    /// which the next round's members are shown with the statistics.
    FeedbackUpdated {
        round: u32,
        feedback: crate::domain::Feedback,
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    PanelPaused {
        reason: String,
    },
    PanelResumed {},
    PanelCompleted {
        recommendation: String,
        consensus: Option<Consensus>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verdict: Option<Verdict>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<RoundDecision>,
        /// What drafting the final recommendation cost (counted in usage).
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_in: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        tokens_out: u64,
    },
    PanelFailed {
        error: String,
    },
    PanelCancelled {
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
        matches!(self, EventData::PanelCompleted { .. } | EventData::PanelFailed { .. } | EventData::PanelCancelled { .. })
    }
}

/// One durable event of a panel's log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub ts: DateTime<Utc>,
    #[serde(flatten)]
    pub data: EventData,
}

/// A live text delta of a turn: published, never persisted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenDelta {
    /// The seq of the `turn_started` that opened the turn.
    pub turn_seq: u64,
    pub member_id: MemberId,
    /// Character offset of `delta` in the turn's text.
    pub offset: usize,
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
