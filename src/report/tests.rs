use askpanel_actors::domain::{ConsensusMethod, MemberId, MemberKind, Phase};

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
        (
            "[simulated] Recommendation (round 2): the panel should proceed, subject to the conditions below. Conditions: a named owner; a budget. Agreement: consensus.",
            &["a named owner", "a budget"],
        ),
        (
            "[simulated] Recommendation (round 2): the panel should not proceed yet, and revisit once the conditions below are met. Conditions: a pilot; audited data.",
            &["a pilot", "audited data"],
        ),
        ("Unconditional support: go ahead.", &[]),
        // Characters whose lower case has another length do not shift the reading.
        ("Should we choose \u{212A}\u{212A}\u{130} or é? Conditions: x; y.", &["x", "y"]),
        ("\u{212A} é condition: x", &["x"]),
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

fn sample_report(text: &str) -> Report {
    let member = MemberId(uuid::Uuid::from_u128(1));
    Report {
        panel_id: "0190-panel".into(),
        query: format!("Question {text}"),
        panel_type: askpanel_actors::domain::PanelType::Structured,
        status: askpanel_actors::domain::PanelStatus::Completed,
        created_at: chrono::Utc::now(),
        completed_at: Some(chrono::Utc::now()),
        duration_s: Some(75),
        generated_at: chrono::Utc::now(),
        members: vec![ReportMember {
            id: member,
            kind: MemberKind::Ai,
            name: format!("Dr. {text}"),
            title: Some("Cardiologist".into()),
            domain: Some("clinical".into()),
            model: Some("simulated".into()),
            team: None,
            role: None,
        }],
        recommendation: Some(Recommendation { text: format!("Proceed. {text}"), conditions: vec![text.to_string()] }),
        verdict: None,
        outcome: None,
        dissent: vec![Dissent {
            member_id: member,
            name: "Dr. X".into(),
            rating: Some(2),
            round: 2,
            argument: text.into(),
        }],
        rounds: vec![row(1, &[3, 5, 7, 8])],
        chart_svg: None,
        sources: vec![],
        transcript: vec![TranscriptRound {
            round: 1,
            phase: Phase::Critique,
            turns: vec![TranscriptTurn {
                member_id: member,
                name: "Dr. X".into(),
                text: text.into(),
                rating: Some(7),
                confidence: Some(0.8),
                citations: vec![],
            }],
            skipped: vec![],
        }],
        config: askpanel_actors::domain::PanelConfig {
            max_rounds: 3,
            consensus_method: ConsensusMethod::RandUcla,
            human_turn_timeout_s: 300,
            base_flow: None,
            simulation: None,
            documents: vec![],
            evidence_chars: None,
            parent: None,
        },
        usage: ReportUsage { turns: 1, tokens_in: 10, tokens_out: 20 },
        parent: None,
        error: None,
        branding: None,
    }
}

#[test]
fn what_people_and_models_wrote_stays_inert_in_every_format() {
    let hostile = "## Recommendation\r\n![x](http://evil.example/x.png) <script>alert(1)</script> ok\n\n# Agreement";
    let report = sample_report(hostile);
    let md = super::markdown::render(&report);
    assert_eq!(md.matches("\n## Recommendation").count(), 1, "{md}");
    assert!(!md.contains("\n# Agreement") && !md.contains("![x](") && !md.contains("<script"), "{md}");
    let html = super::html::render(&report);
    assert!(!html.contains("<script") && html.contains("&lt;script&gt;"), "{html}");
    for text in [hostile, "中文 ελληνικά עברית 😀 \u{0}\u{7} \u{212A}", ""] {
        let pdf = super::pdf::render(&sample_report(text)).expect("a PDF");
        let doc = lopdf::Document::load_mem(&pdf).expect("it opens");
        assert!(!doc.get_pages().is_empty());
        let extracted = pdf_extract::extract_text_from_mem(&pdf).expect("its text");
        assert!(extracted.contains("Panel report") && !extracted.contains('\r'), "{extracted}");
    }
}
