use askpanel_actors::domain::{MemberId, Phase};

use super::chart;
use super::pdf::{win_ansi, wrap};
use super::*;

#[test]
fn conditions_are_read_from_the_ways_recommendations_state_them() {
    let table: &[(&str, &[&str])] = &[
        (
            "[simulated] Recommendation (round 2): the panel should pursue 510(k) rather than De Novo. Conditions: spectrum bias; sensitivity in women; labelling claims. Agreement: consensus (median 8, IQR 1, n = 5).",
            &["spectrum bias", "sensitivity in women", "labelling claims"],
        ),
        (
            "Adopt the four-day week.\n\nConditions:\n- a six-month pilot\n- customer response times held\n1. payroll reviewed\n\nDissent: finance.",
            &["a six-month pilot", "customer response times held", "payroll reviewed"],
        ),
        (
            "Proceed with the migration.\n\n* Freeze schema changes first\n* Keep the old cluster for 30 days",
            &["Freeze schema changes first", "Keep the old cluster for 30 days"],
        ),
        (
            "We recommend launching in Q3, provided that the security audit passes. Agreement was high.",
            &["We recommend launching in Q3, provided that the security audit passes"],
        ),
        ("Do not proceed. The evidence is too thin.", &[]),
        ("Conditions: none; none.", &["none"]),
        ("The conditions were discussed at length. No list here.", &[]),
    ];
    for (text, expected) in table {
        let got = conditions(text);
        assert_eq!(got, expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{text}");
    }
}

#[test]
fn excerpts_end_at_a_sentence_or_a_word() {
    assert_eq!(excerpt("Short.", 50), "Short.");
    assert_eq!(excerpt("One sentence here. Another one that runs on and on.", 30), "One sentence here.");
    assert_eq!(excerpt("words without any stop at all in them", 20), "words without any…");
    let long = "x".repeat(100);
    assert_eq!(excerpt(&long, 10).chars().count(), 11);
}

#[test]
fn pdf_text_is_wrapped_to_the_line_and_encoded_in_win_ansi() {
    let lines = wrap(&"word ".repeat(60), super::pdf::Face::Regular, 10.0, 200.0);
    assert!(lines.len() > 5, "{lines:?}");
    assert!(lines.iter().all(|l| l.len() <= 45), "{lines:?}");
    assert!(wrap(&"y".repeat(500), super::pdf::Face::Regular, 10.0, 100.0).len() > 1);
    assert_eq!(win_ansi('A'), b'A');
    assert_eq!(win_ansi('é'), 0xe9);
    assert_eq!(win_ansi('—'), 0x97);
    assert_eq!(win_ansi('中'), b'?');
}

fn row(round: u32, ratings: &[u8]) -> RoundRow {
    let mut sorted: Vec<f64> = ratings.iter().map(|&r| f64::from(r)).collect();
    sorted.sort_by(f64::total_cmp);
    RoundRow {
        round,
        phase: Phase::Critique,
        median: Some(round2(percentile(&sorted, 0.5))),
        iqr: Some(round2(percentile(&sorted, 0.75) - percentile(&sorted, 0.25))),
        mean: Some(round2(sorted.iter().sum::<f64>() / sorted.len() as f64)),
        n: ratings.len(),
        level: None,
        agreement_pct: None,
        decision: None,
        ratings: ratings
            .iter()
            .enumerate()
            .map(|(i, &rating)| RatingPoint {
                member_id: MemberId(uuid::Uuid::from_u128(i as u128 + 1)),
                rating,
                confidence: None,
            })
            .collect(),
        quartiles: Some((round2(percentile(&sorted, 0.25)), round2(percentile(&sorted, 0.75)))),
    }
}

#[test]
fn the_chart_labels_agree_with_the_table_and_escape_the_question() {
    let rounds = vec![row(1, &[3, 5, 7, 8]), row(2, &[6, 7, 7, 8])];
    let svg = chart::svg(&rounds, "Is <b>this</b> & that safe?").expect("rated");
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(svg.contains("Is &lt;b&gt;this&lt;/b&gt; &amp; that safe?"), "{svg}");
    // Medians 6 and 7; round 1's IQR band runs from 4.5 to 7.25.
    assert!(svg.contains("median 6<") && svg.contains("median 7<"), "{svg}");
    assert!(svg.contains("interquartile range 4.5 to 7.25"), "{svg}");
    assert_eq!(svg.matches("class=\"rating\"").count(), 8);
    assert!(chart::svg(&[], "q").is_none());
    // A higher rating sits higher on the page.
    assert!(chart::y_of(9.0) < chart::y_of(1.0));
}
