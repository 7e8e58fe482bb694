//! Consensus: the pure statistics ([`stats`]) and the `ConsensusActor` that
//! measures each round, decides whether to stop and drafts the recommendation.

pub mod actor;
pub mod figures;
pub mod stats;

pub use actor::{ConsensusActor, EvaluateRound, FinalOutcome, Finalize, RoundEvaluation};
pub use stats::{
    Consensus, ConsensusLevel, RandUclaDetail, Rating, RoundStats, Tertile, is_stable, measure, percentile,
    rand_ucla_detail, recalibrate_confidence, round_stats,
};
