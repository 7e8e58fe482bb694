//! The knobs of the simulated experts, given per panel (tests and load
//! tests set the pace and seed; real models ignore them).

use serde::{Deserialize, Serialize};

/// Knobs of the simulated expert model (ignored by real models).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationConfig {
    /// Seed of the simulation's random choices: the same seed gives the same panel.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Tokens per second; 0 streams instantly.
    #[serde(default)]
    pub pace_tokens_per_s: f64,
    /// About how many tokens (words) a turn has.
    #[serde(default = "default_turn_tokens")]
    pub turn_tokens: u32,
    /// Overrides every persona's stubbornness (0..1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stubbornness: Option<f64>,
    /// Random movement of ratings per round, in rating points (0..4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// Words per streamed delta (1..=64); by default 1 when paced and
    /// [`crate::model::simulated::INSTANT_WORDS_PER_DELTA`] when instant.
    /// 1 is what peers' one-token callbacks deliver (the fair load test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words_per_delta: Option<u32>,
}

/// The most words a simulated delta may carry.
pub const MAX_WORDS_PER_DELTA: u32 = 64;

fn default_seed() -> u64 {
    1
}

fn default_turn_tokens() -> u32 {
    120
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            seed: default_seed(),
            pace_tokens_per_s: 0.0,
            turn_tokens: default_turn_tokens(),
            stubbornness: None,
            noise: None,
            words_per_delta: None,
        }
    }
}
