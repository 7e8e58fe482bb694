//! The panel as API clients see it (`panel` in API.md), maintained by the fold
//! of its events, plus a few added fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::consensus::{Consensus, RoundStats};
use crate::domain::{
    Member, MemberId, PanelConfig, PanelId, PanelStatus, PanelType, Phase, RoundDecision, TenantId, Verdict,
};

/// A panel as API clients see it (`panel` in API.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    /// The panel's id, as in `/v1/panels/{id}`.
    pub id: PanelId,
    /// The tenant that owns the panel.
    pub tenant_id: TenantId,
    /// Who created it: the key id, or a system name such as `cli`.
    pub created_by: String,
    /// The question the panel deliberates.
    pub query: String,
    /// The deliberation format.
    pub panel_type: PanelType,
    /// Where the panel is in its lifecycle.
    pub status: PanelStatus,
    /// Everyone seated on the panel, in seat order.
    pub members: Vec<Member>,
    /// Every round so far, oldest first.
    pub rounds: Vec<RoundView>,
    /// The latest consensus measurement, once a round was rated.
    pub consensus: Option<Consensus>,
    /// The final recommendation, once completed.
    pub recommendation: Option<String>,
    /// The seq of the last event folded into this view.
    pub head_seq: u64,
    /// When the panel was created.
    pub created_at: DateTime<Utc>,
    /// When its last event was recorded.
    pub updated_at: DateTime<Utc>,
    /// When it ended (completed, failed or cancelled).
    pub completed_at: Option<DateTime<Utc>>,
    /// How the panel runs (rounds, method, timeouts, simulation).
    pub config: PanelConfig,
    /// The latest draft recommendation while the panel deliberates.
    #[serde(default)]
    pub draft: Option<String>,
    /// Adversarial panels: the judged verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The turn being written now; `text` is what has streamed so far.
    #[serde(default)]
    pub current_turn: Option<CurrentTurn>,
    /// The human turn the panel is waiting for.
    #[serde(default)]
    pub pending_human: Option<PendingHuman>,
    /// Why the panel is paused, while it is (a [`crate::domain::PauseReason`] as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    /// Why the panel failed, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Delphi: the facilitator's synthesis of the last round's rationales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<crate::domain::Feedback>,
    /// Open panels: the distinct ideas collected so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ideas: Vec<String>,
    /// Panels with documents: the passages the latest draft or the final
    /// recommendation rests on, most cited first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::domain::grounding::Source>,
}

/// One round as clients see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundView {
    /// The round's number (1-based).
    pub round: u32,
    /// What kind of turn the round asks for.
    pub phase: Phase,
    /// The completed turns, in speaking order.
    pub turns: Vec<TurnView>,
    /// The statistics of its ratings, once completed and rated.
    pub stats: Option<RoundStats>,
    /// Members whose turn was skipped, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedTurn>,
    /// What the round decided, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<RoundDecision>,
    /// What the round's ratings are of (`question` or `draft`); absent in a
    /// round that asks for no rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rated: Option<crate::domain::RatingTarget>,
}

/// A completed turn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnView {
    /// The member who spoke.
    pub member_id: MemberId,
    /// What they said (rating lines removed).
    pub text: String,
    /// The rating on the 1-9 scale, when the round asked for one and it was readable.
    pub rating: Option<u8>,
    /// The confidence in that rating, in [0, 1].
    pub confidence: Option<f64>,
    /// The seq of the `turn_completed` event.
    pub seq: u64,
    /// The citations in its text, each checked (panels with documents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<crate::domain::grounding::Citation>,
}

/// A turn a member did not take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedTurn {
    /// The member skipped.
    pub member_id: MemberId,
    /// Why, as in `turn_skipped`.
    pub reason: String,
}

/// The turn being written now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentTurn {
    /// The member speaking.
    pub member_id: MemberId,
    /// The round of the turn.
    pub round: u32,
    /// The seq of its `turn_started` (the `turn_seq` of its `token` frames).
    pub turn_seq: u64,
    /// The text streamed so far.
    pub text: String,
}

/// A human turn the panel waits for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingHuman {
    /// The human member asked to speak.
    pub member_id: MemberId,
    /// The round of the turn.
    pub round: u32,
    /// When the turn is skipped if no input has come.
    pub deadline: DateTime<Utc>,
    /// The seq of the `human_turn_requested` event.
    pub request_seq: u64,
}

impl PanelView {
    /// The member with this id, if seated on the panel.
    pub fn member(&self, id: MemberId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}
