//! What a round leaves for the next: how each turn's rating was read, what
//! the model got wrong in it, the anonymous rationales and the
//! facilitator's synthesis of them.

use serde::{Deserialize, Serialize};

/// How a turn's rating was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingRead {
    /// From the turn's own answer (structured output or its rating line).
    Direct,
    /// From the one short follow-up that asks only for the rating.
    FollowUp,
}

/// Something a model got wrong in a turn: handled (never fatal) and recorded
/// on `turn_completed.flags`, so it can be counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnFlag {
    /// The answer was empty (or blank).
    Empty,
    /// The answer reached `max_tokens` and was cut.
    Truncated,
    /// The answer fell into a repetition loop; reading stopped there.
    Repetition,
    /// The answer repeated a long passage of its own prompt.
    EchoedPrompt,
    /// A rating line was there but could not be read (a word, a range, 0, 12...).
    RatingUnreadable,
    /// Asked for a rating, none came, not even from the follow-up.
    RatingMissing,
    /// Delphi: the text identified a panelist (neutralised wherever it is shown).
    Identifying,
    /// The text cited a passage the member was not given (shown unlinked, counted).
    InventedCitation,
}

/// The facilitator's synthesis of one round (`feedback_updated`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// The round whose rationales it synthesises.
    pub round: u32,
    /// How many rationales it covers (every turn of the round).
    pub rationales: usize,
    /// The strongest arguments for the proposal.
    pub arguments_for: Vec<String>,
    /// The strongest arguments against the proposal.
    pub arguments_against: Vec<String>,
    /// Conditions, uncertainties and questions the panel left open.
    #[serde(default)]
    pub open_questions: Vec<String>,
    /// `facilitator` (a model's synthesis) or `extractive` (the rationales'
    /// own key sentences).
    pub method: String,
    /// Arguments merged or shortened to fit the budget.
    #[serde(default)]
    pub condensed: usize,
}

/// One anonymous rationale with its rating (if it had a readable one).
#[derive(Clone, Debug, PartialEq)]
pub struct Rationale {
    /// The rationale's text, neutralised.
    pub text: String,
    /// The rating it came with (1-9).
    pub rating: Option<u8>,
}
