//! How figures are written for people: one rule everywhere a rating, a
//! statistic or an agreement is shown (the rapporteur's text, the prompt a
//! real model reads, the report, its chart, the page), so they agree.
//!
//! - Ratings and statistics: at most two decimals, half away from zero,
//!   trailing zeros dropped (`6.666…` -> `6.67`, `4.50` -> `4.5`, `7.00` -> `7`).
//! - Agreement: a whole percentage (`0.9166…` -> `92%`).

use super::stats::{Consensus, ConsensusLevel, Tertile};

/// A figure rounded to two decimals, half away from zero (`f64::round`).
pub fn round2(value: f64) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let rounded = (value * 100.0).round() / 100.0;
    // No "-0" in what people read.
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// A rating or statistic as text: two decimals at most, no trailing zeros.
pub fn figure(value: f64) -> String {
    if !value.is_finite() {
        return "n/a".to_string();
    }
    let text = format!("{:.2}", round2(value));
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_string() } else { text.to_string() }
}

/// An agreement in [0, 1] as a whole percentage.
pub fn percent_value(share: f64) -> u32 {
    if !share.is_finite() {
        return 0;
    }
    (share.clamp(0.0, 1.0) * 100.0).round() as u32
}

/// An agreement in [0, 1] as text: `92%`.
pub fn percent(share: f64) -> String {
    format!("{}%", percent_value(share))
}

/// The level's name as written on the wire (`consensus`, `uncertain`...).
pub fn level_name(level: ConsensusLevel) -> &'static str {
    match level {
        ConsensusLevel::Consensus => "consensus",
        ConsensusLevel::Majority => "majority",
        ConsensusLevel::Uncertain => "uncertain",
        ConsensusLevel::Disagreement => "disagreement",
    }
}

/// The panel's side of the scale in words.
fn side(median: f64) -> &'static str {
    match Tertile::of(median) {
        Tertile::Agree => "in favour (7-9)",
        Tertile::Disagree => "against (1-3)",
        Tertile::Uncertain => "undecided (4-6)",
    }
}

/// What the measured agreement is, in words, for the method that measured it.
fn agreement_meaning(consensus: &Consensus) -> String {
    let pct = percent(consensus.agreement);
    match consensus.method {
        crate::domain::ConsensusMethod::RandUcla => format!(
            "Agreement {pct} measures how tightly the ratings cluster (1 - IPR/IPRAS: the spread between the 30th and 70th percentiles, against the spread that would mean disagreement); it says nothing about which side they cluster on."
        ),
        crate::domain::ConsensusMethod::ConfidenceWeighted => format!(
            "Agreement {pct} measures how tightly the confidence-weighted ratings cluster (1 - weighted SD / 4); it says nothing about which side they cluster on."
        ),
        crate::domain::ConsensusMethod::Majority => {
            format!("Agreement {pct} is the share of members whose rating lies in the same band as the median.")
        }
    }
}

/// The consensus level explained for a reader: what the level means, where
/// the panel stands, and what the agreement figure measures, so that
/// "uncertain" beside a high agreement reads as what it is.
pub fn explain(consensus: &Consensus) -> String {
    // The panel's central value: the weighted mean for confidence_weighted.
    let (centre, centre_name) = match consensus.method {
        crate::domain::ConsensusMethod::ConfidenceWeighted => (consensus.mean, "weighted mean"),
        _ => (consensus.median, "median"),
    };
    let median = figure(centre);
    let iqr = figure(consensus.iqr);
    let n = consensus.n;
    let raters = if n == 1 { "1 rating".to_string() } else { format!("{n} ratings") };
    let pct = percent(consensus.agreement);
    let high = consensus.agreement >= 0.75;
    let level = match consensus.level {
        ConsensusLevel::Consensus => format!(
            "Consensus: the panel agrees. The {centre_name} rating is {median} of 9 ({}), with an interquartile range of {iqr}, over {raters}.",
            side(centre)
        ),
        ConsensusLevel::Majority => format!(
            "Majority: more than half of the panel shares one side, {}, but short of consensus. The {centre_name} rating is {median} of 9, IQR {iqr}, over {raters}.",
            side(centre)
        ),
        ConsensusLevel::Uncertain if high && Tertile::of(centre) == Tertile::Uncertain => format!(
            "Uncertain, with {pct} agreement: the panel agrees closely, and what it agrees on is that the answer is not clear-cut. The ratings gather in the middle of the scale ({centre_name} {median} of 9, IQR {iqr}, over {raters}): neither for nor against as the question was put."
        ),
        ConsensusLevel::Uncertain if Tertile::of(centre) == Tertile::Uncertain => format!(
            "Uncertain: the panel's {centre_name} rating, {median} of 9, lies in the middle band (4-6), so it takes no side; IQR {iqr}, over {raters}."
        ),
        ConsensusLevel::Uncertain => format!(
            "Uncertain: no side of the scale has a clear majority, though the {centre_name} rating is {median} of 9 ({}); IQR {iqr}, over {raters}.",
            side(centre)
        ),
        ConsensusLevel::Disagreement => format!(
            "Disagreement: the panel is split across the scale, with ratings on both sides ({centre_name} {median} of 9, IQR {iqr}, over {raters}); the {centre_name} alone does not describe it."
        ),
    };
    format!("{level} {}", agreement_meaning(consensus))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Rating, measure};
    use crate::domain::{ConsensusMethod, MemberId};

    #[test]
    fn figures_round_one_way() {
        let cases: &[(f64, &str)] = &[
            (7.0, "7"),
            (4.5, "4.5"),
            (6.666_666, "6.67"),
            (2.125, "2.13"),
            (0.004, "0"),
            (-0.001, "0"),
            (1.0 / 3.0, "0.33"),
            (8.996, "9"),
            (f64::NAN, "n/a"),
        ];
        for (value, text) in cases {
            assert_eq!(figure(*value), *text, "{value}");
        }
        assert_eq!(round2(6.666_666), 6.67);
        let shares: &[(f64, &str)] = &[(0.9166, "92%"), (0.0, "0%"), (1.0, "100%"), (0.995, "100%"), (1.7, "100%")];
        for (share, text) in shares {
            assert_eq!(percent(*share), *text, "{share}");
        }
    }

    fn consensus(method: ConsensusMethod, ratings: &[u8]) -> Consensus {
        let ratings: Vec<Rating> = ratings
            .iter()
            .enumerate()
            .map(|(i, &value)| Rating {
                member_id: MemberId(uuid::Uuid::from_u128(i as u128 + 1)),
                value,
                confidence: Some(0.9),
            })
            .collect();
        measure(method, &ratings, 1).expect("rated")
    }

    #[test]
    fn an_uncertain_level_with_high_agreement_is_explained_not_contradicted() {
        let c = consensus(ConsensusMethod::RandUcla, &[5, 5, 5, 5, 6]);
        assert_eq!(c.level, ConsensusLevel::Uncertain);
        assert!(c.agreement > 0.75, "{}", c.agreement);
        let text = explain(&c);
        assert!(text.starts_with(&format!("Uncertain, with {} agreement", percent(c.agreement))), "{text}");
        assert!(text.contains("not clear-cut") && text.contains("median 5 of 9"), "{text}");
        assert!(text.contains("says nothing about which side"), "{text}");
    }

    #[test]
    fn each_level_names_the_panel_side_and_its_figures() {
        let table: &[(ConsensusMethod, &[u8], &str, &str)] = &[
            (ConsensusMethod::RandUcla, &[8, 8, 9, 7, 8], "Consensus: the panel agrees", "in favour (7-9)"),
            (ConsensusMethod::RandUcla, &[1, 2, 9, 9, 1, 9], "Disagreement", "both sides"),
            (ConsensusMethod::Majority, &[8, 8, 8, 2, 5], "Majority", "in favour (7-9)"),
            (ConsensusMethod::Majority, &[2, 2, 2, 2], "Consensus", "against (1-3)"),
            (ConsensusMethod::ConfidenceWeighted, &[8, 8, 8, 8], "weighted mean rating is 8", "in favour (7-9)"),
        ];
        for (method, ratings, starts, mentions) in table {
            let c = consensus(*method, ratings);
            let text = explain(&c);
            assert!(text.contains(starts), "{ratings:?}: {text}");
            assert!(text.contains(mentions), "{ratings:?}: {text}");
            assert!(text.contains(&figure(c.iqr)), "{text}");
        }
    }
}
