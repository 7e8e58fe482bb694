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
    pub median: f64,
    pub iqr: f64,
    pub mean: f64,
    pub n: usize,
}

/// How far a panel agrees (`level` in API.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsensusLevel {
    Consensus,
    Majority,
    Uncertain,
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
    pub p30: f64,
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
    pub method: ConsensusMethod,
    pub median: f64,
    pub iqr: f64,
    /// Arithmetic mean, or the confidence-weighted mean for `confidence_weighted`.
    pub mean: f64,
    pub n: usize,
    /// Agreement in [0, 1]; its definition depends on the method (see [`measure`]).
    pub agreement: f64,
    pub level: ConsensusLevel,
    /// Members on the other side of the scale from the panel's position
    /// (see the module docs).
    pub dissent: Vec<MemberId>,
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
            let variance = ratings.iter().zip(&weights).map(|(r, &w)| f64::from(w) * (f64::from(r.value) - mean).powi(2)).sum::<f64>() / total as f64;
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
    Some(Consensus { method, median: stats.median, iqr: stats.iqr, mean, n: stats.n, agreement: round3(agreement), level, dissent, round, rand_ucla: detail, weighted_sd })
}

/// The level by (integer) weighted shares around `tertile`, and the share in it.
fn share_level(ratings: &[Rating], weights: &[u32], tertile: Tertile) -> (ConsensusLevel, f64) {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let weight_of = |band: Tertile| ratings.iter().zip(weights).filter(|(r, _)| Tertile::of_rating(r.value) == band).map(|(_, &w)| u64::from(w)).sum::<u64>();
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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn ratings(values: &[u8]) -> Vec<Rating> {
        values.iter().enumerate().map(|(i, &value)| Rating { member_id: MemberId(Uuid::from_u128(i as u128 + 1)), value, confidence: Some(0.85) }).collect()
    }

    fn approx(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn percentile_interpolates_between_closest_ranks() {
        // n = 6: h(0.3) = 1.5, h(0.7) = 3.5.
        let v = [1.0, 2.0, 4.0, 7.0, 8.0, 9.0];
        assert!(approx(percentile(&v, 0.3), 3.0));
        assert!(approx(percentile(&v, 0.7), 7.5));
        assert!(approx(percentile(&v, 0.0), 1.0));
        assert!(approx(percentile(&v, 1.0), 9.0));
        assert!(approx(percentile(&[5.0], 0.3), 5.0));
    }

    #[test]
    fn the_worked_ipras_example_from_the_issue_shows_no_disagreement() {
        // Sorted 7,7,7,8,8,8: P30 = x[1] + 0.5 (x[2] - x[1]) = 7, P70 = x[3] + 0.5 (x[4] - x[3]) = 8.
        let d = rand_ucla_detail(&ratings(&[8, 7, 8, 7, 8, 7]));
        assert_eq!((d.p30, d.p70), (7.0, 8.0));
        assert_eq!(d.ipr, 1.0);
        assert_eq!(d.iprcp, 7.5);
        assert_eq!(d.asymmetry, 2.5);
        assert_eq!(d.ipras, 6.1);
        assert!(!d.disagreement);
        assert_eq!(d.classification, Tertile::Agree);
        let c = measure(ConsensusMethod::RandUcla, &ratings(&[8, 7, 8, 7, 8, 7]), 2).unwrap();
        assert_eq!(c.level, ConsensusLevel::Consensus);
        assert_eq!(c.median, 7.5);
        // agreement = 1 - 1/6.1 = 0.836
        assert_eq!(c.agreement, 0.836);
        assert!(c.dissent.is_empty());
    }

    #[test]
    fn a_polarised_panel_is_classed_as_disagreement() {
        // Sorted 1,2,2,3,7,8,8,9: P30 = x[2.1] = 2 + 0.1*1 = 2.1, P70 = x[4.9] = 7 + 0.9*1 = 7.9.
        // IPR = 5.8, IPRCP = 5.0, AI = 0, IPRAS = 2.35: 5.8 > 2.35.
        let r = ratings(&[1, 9, 2, 8, 2, 8, 3, 7]);
        let d = rand_ucla_detail(&r);
        assert_eq!((d.p30, d.p70), (2.1, 7.9));
        assert_eq!(d.ipr, 5.8);
        assert_eq!(d.ipras, 2.35);
        assert!(d.disagreement);
        let c = measure(ConsensusMethod::RandUcla, &r, 3).unwrap();
        assert_eq!(c.level, ConsensusLevel::Disagreement);
        assert_eq!(c.agreement, 0.0);
        assert_eq!(measure(ConsensusMethod::Majority, &r, 3).unwrap().level, ConsensusLevel::Disagreement);
        assert_eq!(measure(ConsensusMethod::ConfidenceWeighted, &r, 3).unwrap().level, ConsensusLevel::Disagreement);
    }

    #[test]
    fn an_asymmetric_spread_near_the_top_is_tolerated_more_than_a_central_one() {
        // Sorted 5,7,8,9,9: P30 = x[1.2] = 7.2, P70 = x[2.8] = 8.8, IPR 1.6, IPRCP 8, AI 3, IPRAS 6.85.
        let d = rand_ucla_detail(&ratings(&[9, 5, 8, 9, 7]));
        assert_eq!((d.p30, d.p70, d.ipr, d.iprcp, d.ipras), (7.2, 8.8, 1.6, 8.0, 6.85));
        assert!(!d.disagreement);
        // Sorted 2,4,5,6,8: P30 = 4.2, P70 = 5.8, IPR 1.6, IPRCP 5, IPRAS 2.35: no disagreement, uncertain.
        let c = measure(ConsensusMethod::RandUcla, &ratings(&[8, 2, 5, 4, 6]), 1).unwrap();
        assert_eq!(c.level, ConsensusLevel::Uncertain);
        assert_eq!(c.rand_ucla.ipr, 1.6);
    }

    #[test]
    fn round_stats_are_computed_by_hand() {
        // Sorted 3,5,6,7,9: median x[2] = 6; P25 = x[1] = 5; P75 = x[3] = 7; mean 6.
        let s = round_stats(&ratings(&[7, 3, 9, 5, 6])).unwrap();
        assert_eq!(s, RoundStats { median: 6.0, iqr: 2.0, mean: 6.0, n: 5 });
        // Sorted 1,2,8,9: median x[1.5] = 5; P25 = x[0.75] = 1.75; P75 = x[2.25] = 8.25.
        let s = round_stats(&ratings(&[9, 1, 8, 2])).unwrap();
        assert_eq!(s, RoundStats { median: 5.0, iqr: 6.5, mean: 5.0, n: 4 });
        assert!(round_stats(&[]).is_none());
        assert!(measure(ConsensusMethod::Majority, &[], 1).is_none());
    }

    #[test]
    fn the_reconcile_recalibration_table_holds_at_every_boundary() {
        let table = [(0.0, 0.1), (0.6, 0.1), (0.61, 0.3), (0.79, 0.3), (0.8, 0.5), (0.89, 0.5), (0.9, 0.8), (0.99, 0.8), (1.0, 1.0)];
        for (confidence, weight) in table {
            assert_eq!(recalibrate_confidence(Some(confidence)), weight, "confidence {confidence}");
        }
        assert_eq!(recalibrate_confidence(None), 0.1);
        assert_eq!(recalibrate_confidence(Some(f64::NAN)), 0.1);
    }

    #[test]
    fn confidence_weighting_follows_the_confident_members() {
        // Two confident members at 8 (weight 1.0 each), two unsure at 2 (weight 0.1 each).
        let mut r = ratings(&[8, 8, 2, 2]);
        r[0].confidence = Some(1.0);
        r[1].confidence = Some(1.0);
        r[2].confidence = Some(0.5);
        r[3].confidence = Some(0.5);
        let c = measure(ConsensusMethod::ConfidenceWeighted, &r, 2).unwrap();
        // mean = (8 + 8 + 0.2 + 0.2) / 2.2 = 7.4545..
        assert_eq!(c.mean, 7.455);
        // variance = (2 * 0.5454^2 + 0.2 * 5.4545^2) / 2.2 = 2.975..; sd = 1.7249
        assert_eq!(c.weighted_sd, Some(1.725));
        // weighted share at 7-9 = 2 / 2.2 = 0.909 -> consensus, low share 0.09 < 1/3
        assert_eq!(c.level, ConsensusLevel::Consensus);
        assert_eq!(c.dissent, vec![r[2].member_id, r[3].member_id]);
        // The same ratings unweighted: median 5 -> uncertain under majority.
        assert_eq!(measure(ConsensusMethod::Majority, &r, 2).unwrap().level, ConsensusLevel::Disagreement);
    }

    #[test]
    fn majority_levels_follow_the_share_in_the_median_tertile() {
        // 4 of 5 at 7-9: share 0.8 -> consensus; the 4 is unsure, not a dissenter.
        let r = ratings(&[7, 8, 9, 8, 4]);
        let c = measure(ConsensusMethod::Majority, &r, 2).unwrap();
        assert_eq!((c.level, c.agreement), (ConsensusLevel::Consensus, 0.8));
        assert!(c.dissent.is_empty());
        // A 2 beside them is on the other side: the dissent.
        let r = ratings(&[7, 8, 9, 8, 2]);
        assert_eq!(measure(ConsensusMethod::Majority, &r, 2).unwrap().dissent, vec![r[4].member_id]);
        // 3 of 5 at 7-9, one at 1: share 0.6 -> majority.
        let c = measure(ConsensusMethod::Majority, &ratings(&[7, 8, 9, 5, 1]), 2).unwrap();
        assert_eq!((c.level, c.agreement), (ConsensusLevel::Majority, 0.6));
    }

    #[test]
    fn stability_needs_the_same_classification_and_a_small_iqr_move() {
        let a = measure(ConsensusMethod::RandUcla, &ratings(&[7, 7, 8, 8, 9]), 1).unwrap();
        let b = measure(ConsensusMethod::RandUcla, &ratings(&[7, 7, 8, 8, 8]), 2).unwrap();
        assert!(is_stable(&a, &b));
        let c = measure(ConsensusMethod::RandUcla, &ratings(&[4, 5, 5, 6, 6]), 3).unwrap();
        assert!(!is_stable(&b, &c));
        let d = measure(ConsensusMethod::RandUcla, &ratings(&[7, 7, 7, 9, 9]), 3).unwrap();
        // IQR 1 (P25 7, P75 8) -> 2 (P25 7, P75 9): moved by 1.0
        assert!(!is_stable(&b, &d));
    }

    #[test]
    fn three_sevens_at_confidence_095_are_a_consensus_with_no_dissent() {
        // The weighted mean is 7 exactly (168 / 24 in tenths); in floating point it was 6.999999999999999.
        let mut r = ratings(&[7, 7, 7]);
        for x in &mut r {
            x.confidence = Some(0.95);
        }
        let c = measure(ConsensusMethod::ConfidenceWeighted, &r, 2).unwrap();
        assert_eq!((c.level, c.mean), (ConsensusLevel::Consensus, 7.0));
        assert!(c.dissent.is_empty());
        let mut r = ratings(&[3, 3, 3]);
        for x in &mut r {
            x.confidence = Some(0.95);
        }
        assert_eq!(measure(ConsensusMethod::ConfidenceWeighted, &r, 2).unwrap().level, ConsensusLevel::Consensus);
    }

    #[test]
    fn dissent_is_the_other_side_of_the_panels_position() {
        // (ratings, method, dissenting indexes)
        let table: &[(&[u8], ConsensusMethod, &[usize])] = &[
            (&[8, 8, 5], ConsensusMethod::RandUcla, &[]),
            (&[8, 8, 2], ConsensusMethod::RandUcla, &[2]),
            (&[2, 2, 3, 8, 5], ConsensusMethod::RandUcla, &[3]),
            (&[4, 5, 6, 1, 9], ConsensusMethod::RandUcla, &[]),
            (&[5, 5, 5, 4, 6], ConsensusMethod::Majority, &[]),
            (&[9, 9, 8, 1, 2], ConsensusMethod::Majority, &[3, 4]),
            (&[9, 9, 9, 9, 2], ConsensusMethod::ConfidenceWeighted, &[4]),
            (&[7, 7, 7, 7, 3], ConsensusMethod::ConfidenceWeighted, &[]),
        ];
        for (values, method, dissent) in table {
            let r = ratings(values);
            let c = measure(*method, &r, 2).unwrap();
            let expected: Vec<MemberId> = dissent.iter().map(|&i| r[i].member_id).collect();
            assert_eq!(c.dissent, expected, "{values:?} {method:?}");
        }
    }

    #[test]
    fn the_ipras_boundary_is_exact() {
        // 1,3,4,6,7 (n = 5): P30 = x[1.2] = 3.2, P70 = x[2.8] = 5.6, IPR 2.4, IPRCP 4.4,
        // AI 0.6, IPRAS 3.25: no disagreement. Exactly: 4 * 240 = 960 <= 940 + 3 * 120 = 1300.
        let d = rand_ucla_detail(&ratings(&[1, 3, 4, 6, 7]));
        assert_eq!((d.p30, d.p70), (3.2, 5.6));
        assert!(!d.disagreement);
        // 1,1,9,9 (n = 4): P30 = x[0.9] = 1, P70 = x[2.1] = 9: IPR 8 against IPRAS 2.35.
        let d = rand_ucla_detail(&ratings(&[1, 1, 9, 9]));
        assert_eq!((d.p30, d.p70), (1.0, 9.0));
        assert!(d.disagreement);
    }

    proptest! {
        #[test]
        fn classification_is_exact_for_any_ratings_and_confidences(
            values in proptest::collection::vec(1u8..=9, 1..12),
            confidences in proptest::collection::vec(0.0f64..=1.0, 12),
        ) {
            let r: Vec<Rating> = ratings(&values).into_iter().zip(&confidences).map(|(mut x, &c)| { x.confidence = Some(c); x }).collect();
            // The weighted mean's side, by signed integer sums around 7 and 3.
            let w = |x: &Rating| i64::from(confidence_weight_tenths(x.confidence));
            let above7: i64 = r.iter().map(|x| w(x) * (i64::from(x.value) - 7)).sum();
            let below3: i64 = r.iter().map(|x| w(x) * (i64::from(x.value) - 3)).sum();
            let side = if above7 >= 0 { Tertile::Agree } else if below3 <= 0 { Tertile::Disagree } else { Tertile::Uncertain };
            let c = measure(ConsensusMethod::ConfidenceWeighted, &r, 1).unwrap();
            let dissent: Vec<MemberId> = match side.opposite() {
                Some(other) => r.iter().filter(|x| Tertile::of_rating(x.value) == other).map(|x| x.member_id).collect(),
                None => Vec::new(),
            };
            prop_assert_eq!(c.dissent, dissent);
            if values.iter().all(|&v| v == values[0]) {
                prop_assert_eq!(side, Tertile::of_rating(values[0]));
                prop_assert_eq!(c.level == ConsensusLevel::Consensus, side != Tertile::Uncertain);
            }
            // RAND/UCLA in tenths (P30, P70 of integers are whole tenths): IPR > IPRAS times 200.
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let p = |k: i64| { let h = (sorted.len() as i64 - 1) * k; let lo = (h / 10) as usize; let hi = (lo + 1).min(sorted.len() - 1); i64::from(sorted[lo]) * 10 + (h % 10) * (i64::from(sorted[hi]) - i64::from(sorted[lo])) };
            let (p30, p70) = (p(3), p(7));
            let disagreement = 20 * (p70 - p30) > 470 + 15 * (100 - (p30 + p70)).abs();
            prop_assert_eq!(rand_ucla_detail(&r).disagreement, disagreement);
        }

        #[test]
        fn permuting_ratings_never_changes_the_result(
            values in proptest::collection::vec(1u8..=9, 1..12),
            seed in any::<u64>(),
        ) {
            let r = ratings(&values);
            let mut shuffled = r.clone();
            // A deterministic Fisher-Yates from the seed.
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let j = (state >> 33) as usize % (i + 1);
                shuffled.swap(i, j);
            }
            for method in [ConsensusMethod::RandUcla, ConsensusMethod::Majority, ConsensusMethod::ConfidenceWeighted] {
                let mut a = measure(method, &r, 1).unwrap();
                let mut b = measure(method, &shuffled, 1).unwrap();
                a.dissent.sort();
                b.dissent.sort();
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn statistics_stay_within_the_scale(values in proptest::collection::vec(1u8..=9, 1..12)) {
            let r = ratings(&values);
            for method in [ConsensusMethod::RandUcla, ConsensusMethod::Majority, ConsensusMethod::ConfidenceWeighted] {
                let c = measure(method, &r, 1).unwrap();
                prop_assert!((1.0..=9.0).contains(&c.median));
                prop_assert!((1.0..=9.0).contains(&c.mean));
                prop_assert!((0.0..=8.0).contains(&c.iqr));
                prop_assert!((0.0..=1.0).contains(&c.agreement));
                prop_assert_eq!(c.n, values.len());
                prop_assert!(c.dissent.len() < values.len() || c.level != ConsensusLevel::Consensus);
            }
        }

        #[test]
        fn unanimous_panels_are_never_in_disagreement(value in 1u8..=9, n in 1usize..12) {
            let r = ratings(&vec![value; n]);
            let c = measure(ConsensusMethod::RandUcla, &r, 1).unwrap();
            prop_assert!(!c.rand_ucla.disagreement);
            prop_assert_eq!(c.agreement, 1.0);
            prop_assert!(c.dissent.is_empty());
        }
    }
}
