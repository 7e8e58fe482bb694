//! Consensus: the pure statistics ([`stats`]) and the `ConsensusActor` that
//! measures each round, decides whether to stop and drafts the recommendation.

pub mod actor;
pub mod stats;

pub use actor::{ConsensusActor, EvaluateRound, Finalize, FinalOutcome, RoundEvaluation};
pub use stats::{
    is_stable, measure, percentile, rand_ucla_detail, recalibrate_confidence, round_stats, Consensus, ConsensusLevel, RandUclaDetail, Rating,
    RoundStats, Tertile,
};
