use super::*;
use crate::domain::MemberId;

fn doc(i: usize, title: &str) -> PanelDocument {
    PanelDocument {
        id: DocumentId(uuid::Uuid::from_u128(i as u128 + 1)),
        label: document_label(i),
        title: title.into(),
    }
}

fn passage(d: &PanelDocument, n: u32, text: &str) -> Passage {
    Passage { document_id: d.id, n, page: Some(n), heading: None, text: text.into() }
}

#[test]
fn stop_words_are_sorted_for_the_binary_search() {
    for w in ["the", "a", "your", "about", "with"] {
        assert!(is_stop_word(w), "{w}");
    }
    for w in ["battery", "device", "risk"] {
        assert!(!is_stop_word(w), "{w}");
    }
}

#[test]
fn cited_labels_are_read_from_brackets_and_parentheses() {
    let table: &[(&str, &[&str])] = &[
        ("no citations here", &[]),
        ("As shown [D1:p3].", &["D1:p3"]),
        ("Two [D1:p3, D2:p14] and again [D1:p3]", &["D1:p3", "D2:p14"]),
        ("lower case [d2:P7] and a space [D3: p9]", &["D2:p7", "D3:p9"]),
        ("in prose (see D4:p1 and D4:p2)", &["D4:p1", "D4:p2"]),
        ("not bracketed D1:p3 is not a citation", &[]),
        ("glued [XD1:p3] or [D1:p3x] are not labels", &[]),
        ("leading zeros [D01:p003]", &["D1:p3"]),
        ("an unclosed [D1:p3 bracket", &[]),
        ("semicolons [D1:p1; D1:p2]", &["D1:p1", "D1:p2"]),
        ("too many digits [D12345:p1] [D1:p1234567]", &[]),
        ("unicode around [D1:p2] — «quoted» (D2:p1)", &["D1:p2", "D2:p1"]),
    ];
    for (text, expected) in table {
        assert_eq!(cited_labels(text), expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{text}");
    }
}

#[test]
fn a_bracket_group_far_too_long_is_prose() {
    let long = format!("[{} D1:p1]", "word ".repeat(40));
    assert!(cited_labels(&long).is_empty());
}

#[test]
fn turn_citations_are_valid_only_when_the_member_was_given_the_passage() {
    let docs = [doc(0, "Dossier"), doc(1, "Trial")];
    let passages = vec![passage(&docs[0], 3, "alpha"), passage(&docs[1], 14, "beta")];
    let (given, _) = give(&docs, passages, 1000);
    let citations = check_turn("Cites [D1:p3], invents [D1:p4] and [D2:p14], and [D9:p1].", &given);
    let validity: Vec<(&str, bool)> = citations.iter().map(|c| (c.label.as_str(), c.valid)).collect();
    assert_eq!(validity, vec![("D1:p3", true), ("D1:p4", false), ("D2:p14", true), ("D9:p1", false)]);
    assert_eq!(citations[0].document_id, Some(docs[0].id));
    assert_eq!(citations[0].n, Some(3));
    assert_eq!(citations[0].page, Some(3));
    assert_eq!(citations[1].document_id, None, "an invalid citation links nowhere");
}

#[test]
fn passages_are_given_within_the_budget_best_first() {
    let docs = [doc(0, "Dossier")];
    let p = |n, len| passage(&docs[0], n, &"x".repeat(len));
    // (case, retrieved, budget, labels given, chars given)
    type Row = (&'static str, Vec<Passage>, u32, Vec<&'static str>, u64);
    let table: Vec<Row> = vec![
        ("all fit", vec![p(1, 100), p(2, 100)], 300, vec!["D1:p1", "D1:p2"], 200),
        (
            "the second does not fit, the third does",
            vec![p(1, 200), p(2, 200), p(3, 50)],
            300,
            vec!["D1:p1", "D1:p3"],
            250,
        ),
        ("the first is cut to the budget", vec![p(1, 500), p(2, 10)], 300, vec!["D1:p1"], 300),
        ("nothing retrieved", vec![], 300, vec![], 0),
        (
            "at most MAX_PASSAGES",
            (1..=20).map(|n| p(n, 1)).collect(),
            10_000,
            (1..=MAX_PASSAGES).map(|n| Box::leak(format!("D1:p{n}").into_boxed_str()) as &str).collect(),
            MAX_PASSAGES as u64,
        ),
    ];
    for (name, passages, budget, labels, chars) in table {
        let (given, used) = give(&docs, passages, budget);
        assert_eq!(used.passages, labels, "{name}");
        assert_eq!(given.len(), labels.len(), "{name}");
        assert_eq!(used.chars, chars, "{name}");
        assert_eq!(used.budget, budget as u64, "{name}");
    }
}

#[test]
fn passages_of_documents_outside_the_panel_are_never_given() {
    let docs = [doc(0, "Ours")];
    let foreign = PanelDocument { id: DocumentId::new(), label: "D1".into(), title: "Theirs".into() };
    let (given, used) = give(&docs, vec![passage(&foreign, 1, "secret"), passage(&docs[0], 2, "ours")], 1000);
    assert_eq!(used.passages, vec!["D1:p2"]);
    assert!(given.iter().all(|g| g.passage.text != "secret"));
}

#[test]
fn the_query_leads_with_the_question_then_the_focus_then_the_persona() {
    let profile = ExpertProfile {
        member_id: MemberId::new(),
        name: "Dr A".into(),
        title: String::new(),
        domain: "Battery chemistry".into(),
        persona: "careful".into(),
        tags: vec!["lithium".into(), "thermal".into()].into(),
        concerns: vec!["the thermal runaway risk".into()].into(),
        stubbornness: 0.4,
        optimism: 0.0,
        model: None,
    };
    let mut view = crate::panel::fixture::member_view_for("Should we ship the device in the EU?");
    view.question = Some("What does the battery test show?".into());
    view.injections = vec!["Consider the recall of 2024".into()];
    assert_eq!(
        query_text(&profile, &view),
        "ship device eu battery test show consider recall 2024 chemistry lithium thermal runaway risk"
    );
}

#[test]
fn recommendation_citations_count_only_what_turns_validly_cited() {
    let docs = [doc(0, "Dossier")];
    let (given, _) = give(&docs, vec![passage(&docs[0], 3, "alpha")], 1000);
    let turn = check_turn("[D1:p3]", &given);
    let by_turns: BTreeMap<String, Citation> = turn.iter().map(|c| (c.label.clone(), c.clone())).collect();
    let rec = check_recommendation("Rests on [D1:p3] and [D1:p8].", &by_turns);
    assert_eq!(rec.iter().map(|c| c.valid).collect::<Vec<_>>(), vec![true, false]);
    let sources = sources(&docs, turn.iter().chain(rec.iter()));
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].label, "D1:p3");
    assert_eq!(sources[0].cited, 2);
    assert_eq!(sources[0].title, "Dossier");
}

#[test]
fn sources_are_ordered_by_how_often_they_were_cited_then_by_label() {
    let docs = [doc(0, "A"), doc(1, "B")];
    let c = |d: &PanelDocument, n: u32| Citation {
        label: format!("{}:p{n}", d.label),
        valid: true,
        document_id: Some(d.id),
        n: Some(n),
        page: None,
        heading: None,
    };
    let all = [c(&docs[1], 2), c(&docs[0], 10), c(&docs[0], 9), c(&docs[1], 2), invalid_citation("D1:p1".into())];
    let labels: Vec<String> = sources(&docs, all.iter()).into_iter().map(|s| s.label).collect();
    assert_eq!(labels, vec!["D2:p2", "D1:p9", "D1:p10"]);
}
