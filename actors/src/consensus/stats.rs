//! Pure consensus statistics: percentiles, the RAND/UCLA disagreement rule,
//! ReConcile's confidence recalibration and the three consensus methods.
//!
//! Percentiles use linear interpolation between closest ranks (Hyndman and
//! Fan type 7, the default of numpy and of spreadsheet `PERCENTILE.INC`): for
//! sorted ratings `x[0..n]` and a fraction `p`, `h = (n - 1) * p`, and the
//! percentile is `x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])`.
//! The median is P50 and the IQR is P75 - P25, by the same method.
//!
//! Tertiles of the 1-9 scale: a value `v` is `Agree` when `v >= 7`, `Disagree`
//! when `v <= 3`, else `Uncertain` (so half-point medians 3.5 and 6.5 count as
//! uncertain, as in the RAND/UCLA manual's integer bands).
//!
//! Every classification is exact: ratings are integers, percentiles are
//! computed in hundredths with integer arithmetic (`(n-1)p` for p in
//! hundredths is a whole number of hundredths), the IPRAS rule is compared
//! after multiplying both sides by 400, and the confidence-weighted mean is
//! compared as a fraction of integer weights (ReConcile's weights are whole
//! tenths). Floating point is used only for the figures reported.
//!
//! Dissent: the members on the other side of the scale from the panel's
//! position. When the panel's central value (the median; the weighted mean
//! for `confidence_weighted`) classifies as agree (7-9), the members who
//! rated 1-3; as disagree (1-3), those who rated 7-9; when it is uncertain
//! (4-6) the panel has taken no side and nobody dissents. A member who is
//! merely less sure (a 5 beside a panel at 8) is not a dissenter.

use serde::{Deserialize, Serialize};

use crate::domain::{ConsensusMethod, MemberId};

/// One member's rating of the draft in a round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    /// Who gave it.
    pub member_id: MemberId,
    /// The rating on the 1-9 scale.
    pub value: u8,
    /// Self-reported confidence in [0, 1], when given.
    pub confidence: Option<f64>,
}

/// The summary statistics of one round's ratings (`stats` in API.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundStats {
    /// The median rating (P50).
    pub median: f64,
    /// The interquartile range, P75 - P25.
    pub iqr: f64,
    /// The arithmetic mean rating.
    pub mean: f64,
    /// How many ratings were counted.
    pub n: usize,
}

/// How far a panel agrees (`level` in API.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsensusLevel {
    /// The panel agrees, by its method's rule.
    Consensus,
    /// More than half share the panel's side, short of consensus.
    Majority,
    /// The panel's position lies in 4-6, or no side has a majority.
    Uncertain,
    /// The panel is split across the scale.
    Disagreement,
}

/// A band of the 1-9 scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tertile {
    /// 1-3: the rater disagrees with the draft (RAND/UCLA: inappropriate).
    Disagree,
    /// 4-6: uncertain.
    Uncertain,
    /// 7-9: the rater agrees with the draft (RAND/UCLA: appropriate).
    Agree,
}

impl Tertile {
    /// The tertile of a value given in hundredths (700 = 7.00), exactly.
    pub fn of_hundredths(value: i64) -> Tertile {
        if value >= 700 {
            Tertile::Agree
        } else if value <= 300 {
            Tertile::Disagree
        } else {
            Tertile::Uncertain
        }
    }

    /// The tertile of a rating.
    pub fn of_rating(rating: u8) -> Tertile {
        Tertile::of_hundredths(i64::from(rating) * 100)
    }

    /// The side opposite to this one (none for uncertain).
    pub fn opposite(self) -> Option<Tertile> {
        match self {
            Tertile::Agree => Some(Tertile::Disagree),
            Tertile::Disagree => Some(Tertile::Agree),
            Tertile::Uncertain => None,
        }
    }

    /// The tertile of a value on the 1-9 scale (see the module docs for half points).
    pub fn of(value: f64) -> Tertile {
        if value >= 7.0 {
            Tertile::Agree
        } else if value <= 3.0 {
            Tertile::Disagree
        } else {
            Tertile::Uncertain
        }
    }
}

/// The RAND/UCLA disagreement figures of a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandUclaDetail {
    /// The 30th percentile of the ratings.
    pub p30: f64,
    /// The 70th percentile of the ratings.
    pub p70: f64,
    /// Interpercentile range, P70 - P30.
    pub ipr: f64,
    /// Interpercentile range central point, (P30 + P70) / 2.
    pub iprcp: f64,
    /// Asymmetry index, |5 - IPRCP|.
    pub asymmetry: f64,
    /// IPR adjusted for symmetry, 2.35 + 1.5 * AI.
    pub ipras: f64,
    /// Disagreement index, IPR / IPRAS; above 1 means disagreement.
    pub disagreement_index: f64,
    /// Whether the panel disagrees by the IPRAS rule.
    pub disagreement: bool,
    /// The classification by the median.
    pub classification: Tertile,
}

/// The result of a consensus measurement (`consensus` in API.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consensus {
    /// The method that measured it.
    pub method: ConsensusMethod,
    /// The median rating (P50).
    pub median: f64,
    /// The interquartile range, P75 - P25.
    pub iqr: f64,
    /// Arithmetic mean, or the confidence-weighted mean for `confidence_weighted`.
    pub mean: f64,
    /// How many ratings were counted.
    pub n: usize,
    /// Agreement in [0, 1]; its definition depends on the method (see [`measure`]).
    pub agreement: f64,
    /// How far the panel agrees.
    pub level: ConsensusLevel,
    /// Members on the other side of the scale from the panel's position
    /// (see the module docs).
    pub dissent: Vec<MemberId>,
    /// The round measured.
    pub round: u32,
    /// The RAND/UCLA figures (always computed: delphi's stopping rule needs them).
    pub rand_ucla: RandUclaDetail,
    /// Confidence-weighted spread, present for `confidence_weighted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted_sd: Option<f64>,
}

/// A percentile of sorted values by linear interpolation (type 7).
/// `sorted` must be non-empty and ascending; `p` in [0, 1].
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let h = (sorted.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// A percentile in hundredths, exactly: `sorted` non-empty and ascending,
/// `p` in hundredths (30 for P30).
pub fn percentile_hundredths(sorted: &[u8], p: u32) -> i64 {
    let h = (sorted.len() as i64 - 1) * i64::from(p.min(100));
    let lo = (h / 100) as usize;
    let frac = h % 100;
    let hi = (lo + 1).min(sorted.len() - 1);
    i64::from(sorted[lo]) * 100 + frac * (i64::from(sorted[hi]) - i64::from(sorted[lo]))
}

fn sorted_ratings(ratings: &[Rating]) -> Vec<u8> {
    let mut values: Vec<u8> = ratings.iter().map(|r| r.value).collect();
    values.sort_unstable();
    values
}

fn sorted_values(ratings: &[Rating]) -> Vec<f64> {
    let mut values: Vec<f64> = ratings.iter().map(|r| f64::from(r.value)).collect();
    values.sort_by(f64::total_cmp);
    values
}

/// Median, IQR, mean and n of a round; `None` when nobody rated.
pub fn round_stats(ratings: &[Rating]) -> Option<RoundStats> {
    if ratings.is_empty() {
        return None;
    }
    let values = sorted_values(ratings);
    Some(RoundStats {
        median: round3(percentile(&values, 0.5)),
        iqr: round3(percentile(&values, 0.75) - percentile(&values, 0.25)),
        mean: round3(values.iter().sum::<f64>() / values.len() as f64),
        n: values.len(),
    })
}

/// The RAND/UCLA appropriateness classification with the IPRAS disagreement
/// rule. `ratings` must be non-empty.
pub fn rand_ucla_detail(ratings: &[Rating]) -> RandUclaDetail {
    let sorted = sorted_ratings(ratings);
    let (p30h, p70h) = (percentile_hundredths(&sorted, 30), percentile_hundredths(&sorted, 70));
    // IPR > IPRAS, both sides times 400: 4 (P70 - P30) > 940 + 3 |1000 - (P30 + P70)| (in hundredths).
    let disagreement = 4 * (p70h - p30h) > 940 + 3 * (1000 - (p30h + p70h)).abs();
    let (p30, p70) = (p30h as f64 / 100.0, p70h as f64 / 100.0);
    let ipr = p70 - p30;
    let iprcp = (p30 + p70) / 2.0;
    let asymmetry = (5.0 - iprcp).abs();
    let ipras = 2.35 + 1.5 * asymmetry;
    let disagreement_index = ipr / ipras;
    RandUclaDetail {
        p30: round3(p30),
        p70: round3(p70),
        ipr: round3(ipr),
        iprcp: round3(iprcp),
        asymmetry: round3(asymmetry),
        ipras: round3(ipras),
        disagreement_index: round3(disagreement_index),
        disagreement,
        classification: Tertile::of_hundredths(percentile_hundredths(&sorted, 50)),
    }
}

/// ReConcile's recalibration of a self-reported confidence into a vote weight:
/// `<= 0.6 -> 0.1`, `< 0.8 -> 0.3`, `< 0.9 -> 0.5`, `< 1 -> 0.8`, `1 -> 1`.
/// A missing confidence counts as the lowest band.
pub fn recalibrate_confidence(confidence: Option<f64>) -> f64 {
    f64::from(confidence_weight_tenths(confidence)) / 10.0
}

/// [`recalibrate_confidence`] in whole tenths (1, 3, 5, 8 or 10), for exact sums.
pub fn confidence_weight_tenths(confidence: Option<f64>) -> u32 {
    match confidence {
        None => 1,
        Some(c) if c.is_nan() || c <= 0.6 => 1,
        Some(c) if c < 0.8 => 3,
        Some(c) if c < 0.9 => 5,
        Some(c) if c < 1.0 => 8,
        Some(_) => 10,
    }
}

/// Measures a round's agreement with the given method; `None` when nobody rated.
///
/// - `rand_ucla`: level `disagreement` when IPR > IPRAS, else `uncertain` for
///   a median in 4-6, else `consensus`; agreement = `clamp(1 - IPR/IPRAS, 0, 1)`.
/// - `confidence_weighted`: ratings weighted by [`recalibrate_confidence`];
///   `mean` is the weighted mean, agreement = `1 - weighted_sd / 4` (4 is the
///   largest possible spread on 1-9); the level is judged on the weighted
///   shares like `majority`, around the weighted mean's tertile.
/// - `majority`: agreement = the share of members in the median's tertile;
///   `disagreement` when at least a third rate 1-3 and at least a third 7-9,
///   `uncertain` when the median lies in 4-6, `consensus` at a share of 0.75
///   or more, `majority` above 0.5, else `uncertain`.
///
/// Dissent: the members whose own rating lies outside the panel's tertile.
pub fn measure(method: ConsensusMethod, ratings: &[Rating], round: u32) -> Option<Consensus> {
    let stats = round_stats(ratings)?;
    let detail = rand_ucla_detail(ratings);
    let (tertile, mean, agreement, level, weighted_sd) = match method {
        ConsensusMethod::RandUcla => {
            let level = if detail.disagreement {
                ConsensusLevel::Disagreement
            } else if detail.classification == Tertile::Uncertain {
                ConsensusLevel::Uncertain
            } else {
                ConsensusLevel::Consensus
            };
            let agreement = (1.0 - detail.disagreement_index).clamp(0.0, 1.0);
            (detail.classification, stats.mean, agreement, level, None)
        }
        ConsensusMethod::Majority => {
            let weights = vec![1; ratings.len()];
            let tertile = detail.classification;
            let (level, share) = share_level(ratings, &weights, tertile);
            (tertile, stats.mean, share, level, None)
        }
        ConsensusMethod::ConfidenceWeighted => {
            let weights: Vec<u32> = ratings.iter().map(|r| confidence_weight_tenths(r.confidence)).collect();
            let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
            let sum: u64 = ratings.iter().zip(&weights).map(|(r, &w)| u64::from(w) * u64::from(r.value)).sum();
            // The weighted mean's tertile, exactly: sum / total against 7 and 3.
            let tertile = if sum >= 7 * total {
                Tertile::Agree
            } else if sum <= 3 * total {
                Tertile::Disagree
            } else {
                Tertile::Uncertain
            };
            let mean = sum as f64 / total as f64;
            let variance = ratings
                .iter()
                .zip(&weights)
                .map(|(r, &w)| f64::from(w) * (f64::from(r.value) - mean).powi(2))
                .sum::<f64>()
                / total as f64;
            let sd = variance.sqrt();
            let (level, _) = share_level(ratings, &weights, tertile);
            let agreement = (1.0 - sd / 4.0).clamp(0.0, 1.0);
            (tertile, round3(mean), agreement, level, Some(round3(sd)))
        }
    };
    let dissent = match tertile.opposite() {
        Some(other) => ratings.iter().filter(|r| Tertile::of_rating(r.value) == other).map(|r| r.member_id).collect(),
        None => Vec::new(),
    };
    Some(Consensus {
        method,
        median: stats.median,
        iqr: stats.iqr,
        mean,
        n: stats.n,
        agreement: round3(agreement),
        level,
        dissent,
        round,
        rand_ucla: detail,
        weighted_sd,
    })
}

/// The level by (integer) weighted shares around `tertile`, and the share in it.
fn share_level(ratings: &[Rating], weights: &[u32], tertile: Tertile) -> (ConsensusLevel, f64) {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let weight_of = |band: Tertile| {
        ratings
            .iter()
            .zip(weights)
            .filter(|(r, _)| Tertile::of_rating(r.value) == band)
            .map(|(_, &w)| u64::from(w))
            .sum::<u64>()
    };
    let in_band = weight_of(tertile);
    let level = if 3 * weight_of(Tertile::Disagree) >= total && 3 * weight_of(Tertile::Agree) >= total {
        ConsensusLevel::Disagreement
    } else if tertile == Tertile::Uncertain {
        ConsensusLevel::Uncertain
    } else if 4 * in_band >= 3 * total {
        ConsensusLevel::Consensus
    } else if 2 * in_band > total {
        ConsensusLevel::Majority
    } else {
        ConsensusLevel::Uncertain
    };
    (level, in_band as f64 / total as f64)
}

/// Delphi's stability rule: the RAND/UCLA classification (with its
/// disagreement flag) is unchanged and the IQR moved by less than 0.5.
pub fn is_stable(previous: &Consensus, current: &Consensus) -> bool {
    previous.rand_ucla.classification == current.rand_ucla.classification
        && previous.rand_ucla.disagreement == current.rand_ucla.disagreement
        && (previous.iqr - current.iqr).abs() < 0.5
}

/// Rounds to three decimals so that JSON figures stay readable and stable.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests;
