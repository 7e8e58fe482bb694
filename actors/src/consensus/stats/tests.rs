use super::*;
use proptest::prelude::*;
use uuid::Uuid;

fn ratings(values: &[u8]) -> Vec<Rating> {
    values
        .iter()
        .enumerate()
        .map(|(i, &value)| Rating {
            member_id: MemberId(Uuid::from_u128(i as u128 + 1)),
            value,
            confidence: Some(0.85),
        })
        .collect()
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
    let table = [
        (0.0, 0.1),
        (0.6, 0.1),
        (0.61, 0.3),
        (0.79, 0.3),
        (0.8, 0.5),
        (0.89, 0.5),
        (0.9, 0.8),
        (0.99, 0.8),
        (1.0, 1.0),
    ];
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
