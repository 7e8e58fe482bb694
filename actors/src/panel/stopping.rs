//! The stopping rule: after each round, whether the panel has agreed,
//! settled, run out of rounds or of new ideas, or goes on.

use crate::consensus::{self, Consensus, Tertile};
use crate::domain::PanelType;
use crate::event::RoundDecision;
use crate::panel::state::PanelState;
use crate::panel::strategy::{max_rounds, rating_target};

/// Whether a completed round ends the deliberation (the consensus actor's
/// stopping decision). `consensus` is the round's measurement by the panel's
/// method, `rand_ucla` by RAND/UCLA (delphi stops on it whatever the method).
pub fn decide(
    state: &PanelState,
    round: u32,
    consensus: Option<&Consensus>,
    rand_ucla: Option<&Consensus>,
    new_ideas: usize,
) -> RoundDecision {
    if state.finish_requested {
        return RoundDecision::Finished;
    }
    let max = max_rounds(state);
    let flow = state.flow();
    let reached = |c: Option<&Consensus>| c.is_some_and(|c| c.level == consensus::ConsensusLevel::Consensus);
    match flow {
        PanelType::Adversarial => {
            if round >= 3 {
                return RoundDecision::MaxRounds;
            }
        }
        PanelType::Open => {
            if round >= 2 && new_ideas == 0 {
                return RoundDecision::Saturated;
            }
        }
        PanelType::Delphi => {
            if reached(rand_ucla) {
                return RoundDecision::Consensus;
            }
            // The round being decided is the last one; compare with the one
            // before it, when both rated the same kind of object (round 1
            // rates the question, later rounds the draft).
            let previous = state.rounds.iter().rev().skip(1).find_map(|p| p.consensus.as_ref());
            if let (Some(previous), Some(now)) = (previous, rand_ucla)
                && rating_target(state, previous.round) == rating_target(state, round)
                && consensus::is_stable(previous, now)
            {
                return RoundDecision::Stable;
            }
        }
        _ => {
            if round >= 2 && reached(consensus) {
                return RoundDecision::Consensus;
            }
        }
    }
    if round >= max { RoundDecision::MaxRounds } else { RoundDecision::Continue }
}

/// Whether a value's tertile agrees with a draft (for the simulated judge and summaries).
pub fn tertile_word(value: f64) -> &'static str {
    match Tertile::of(value) {
        Tertile::Agree => "agree",
        Tertile::Disagree => "disagree",
        Tertile::Uncertain => "are uncertain",
    }
}
