//! The panel as API clients see it (`panel` in API.md), maintained by the fold
//! of its events, plus a few added fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::consensus::{Consensus, RoundStats};
use crate::domain::{Member, MemberId, PanelConfig, PanelId, PanelStatus, PanelType, Phase, RoundDecision, TenantId, Verdict};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanelView {
    pub id: PanelId,
    pub tenant_id: TenantId,
    pub created_by: String,
    pub query: String,
    pub panel_type: PanelType,
    pub status: PanelStatus,
    pub members: Vec<Member>,
    pub rounds: Vec<RoundView>,
    pub consensus: Option<Consensus>,
    pub recommendation: Option<String>,
    pub head_seq: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Delphi: the facilitator's synthesis of the last round's rationales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<crate::domain::Feedback>,
    /// Open panels: the distinct ideas collected so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ideas: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundView {
    pub round: u32,
    pub phase: Phase,
    pub turns: Vec<TurnView>,
    pub stats: Option<RoundStats>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedTurn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<RoundDecision>,
    /// What the round's ratings are of (`question` or `draft`); absent in a
    /// round that asks for no rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rated: Option<crate::domain::RatingTarget>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TurnView {
    pub member_id: MemberId,
    pub text: String,
    pub rating: Option<u8>,
    pub confidence: Option<f64>,
    /// The seq of the `turn_completed` event.
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedTurn {
    pub member_id: MemberId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentTurn {
    pub member_id: MemberId,
    pub round: u32,
    pub turn_seq: u64,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingHuman {
    pub member_id: MemberId,
    pub round: u32,
    pub deadline: DateTime<Utc>,
    /// The seq of the `human_turn_requested` event.
    pub request_seq: u64,
}

impl PanelView {
    pub fn member(&self, id: MemberId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }
}
