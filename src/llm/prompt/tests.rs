use super::*;
use askpanel_actors::domain::{ExpertProfile, MemberId, PanelId, SimulationConfig, TenantId};
use askpanel_actors::panel::strategy::MemberView;

fn entry(round: u32, speaker: &str, text: &str) -> TranscriptEntry {
    let (phase, rated, rating) =
        if round == 1 { (Phase::Opening, None, None) } else { (Phase::Critique, Some(RatingTarget::Draft), Some(6)) };
    TranscriptEntry {
        round,
        phase,
        rated,
        speaker: speaker.into(),
        team: None,
        kind: MemberKind::Ai,
        text: text.into(),
        rating,
    }
}

fn request(flow: PanelType, task: TurnTask, transcript: Vec<TranscriptEntry>) -> TurnRequest {
    TurnRequest {
        tenant_id: TenantId::new(),
        panel_id: PanelId::new(),
        member_id: MemberId::new(),
        profile: std::sync::Arc::new(ExpertProfile {
            member_id: MemberId::new(),
            name: "Dr. Maya Okafor".into(),
            title: "Regulatory Strategist".into(),
            domain: "regulatory".into(),
            persona: "Former FDA reviewer.".into(),
            tags: std::sync::Arc::from([]),
            concerns: std::sync::Arc::from([]),
            stubbornness: 0.4,
            optimism: 0.0,
            model: None,
        }),
        view: MemberView {
            query: "Should we pursue 510(k) or De Novo?".into(),
            flow,
            round: 2,
            max_rounds: 3,
            phase: Phase::Critique,
            task,
            rate: true,
            rating_target: RatingTarget::Draft,
            member_name: "Dr. Maya Okafor".into(),
            team: None,
            transcript,
            anonymous: flow == PanelType::Delphi,
            feedback: None,
            previous_stats: None,
            previous_level: None,
            previous_ratings: vec![5, 7],
            own_previous_rating: Some(6),
            draft: Some("Pursue De Novo with a pre-sub.".into()),
            question: None,
            focus: None,
            injections: vec!["What about children?".into()],
            known_ideas: vec![],
            prior: None,
        },
        simulation: SimulationConfig::default(),
        attempt: 1,
        evidence: Vec::new(),
    }
}

#[test]
fn structured_members_see_the_named_transcript_the_draft_and_the_rating_format() {
    let r = request(
        PanelType::Structured,
        TurnTask::Critique,
        vec![entry(1, "Richard Hale", "Liability first. Then more.")],
    );
    let m = turn_messages(&r, 10_000, RatingFormat::Trailer);
    assert_eq!(m.iter().map(|m| m.role).collect::<Vec<_>>(), ["system", "user", "system", "user"]);
    assert!(!m[0].content.contains("Okafor"), "the rules are the same for every member");
    assert!(m[2].content.contains("Dr. Maya Okafor"));
    assert!(m[1].content.contains("Richard Hale"));
    assert!(m[1].content.contains("Pursue De Novo with a pre-sub."));
    assert!(m[1].content.contains("What about children?"));
    assert!(m[3].content.contains("RATING: <whole number 1-9>"));
    assert!(m[3].content.contains("of the current draft recommendation"));
}

#[test]
fn a_round_without_a_draft_rates_the_question_and_never_mentions_a_draft() {
    let mut r = request(PanelType::Delphi, TurnTask::Rate, vec![]);
    r.view.round = 1;
    r.view.phase = Phase::Rating;
    r.view.rating_target = RatingTarget::Question;
    r.view.draft = None;
    r.view.own_previous_rating = None;
    r.view.injections.clear();
    for format in [RatingFormat::Trailer, RatingFormat::Json, RatingFormat::JsonObject] {
        let all: String =
            turn_messages(&r, 10_000, format).iter().map(|m| m.content.clone()).collect::<Vec<_>>().join("\n");
        assert!(!all.to_lowercase().contains("draft"), "{all}");
        assert!(all.contains("the question as asked"), "{all}");
    }
}

#[test]
fn delphi_prompts_name_nobody_and_show_statistics_and_the_synthesis() {
    let mut r = request(PanelType::Delphi, TurnTask::Rate, vec![]);
    r.view.previous_stats = Some(askpanel_actors::consensus::RoundStats { median: 6.0, iqr: 2.0, mean: 6.0, n: 2 });
    r.view.feedback = Some(Feedback {
        round: 1,
        rationales: 5,
        arguments_for: vec!["A De Novo fits.".into()],
        arguments_against: vec!["It costs a year.".into()],
        open_questions: vec![],
        method: "facilitator".into(),
        condensed: 2,
    });
    let all: String =
        turn_messages(&r, 10_000, RatingFormat::Json).iter().map(|m| m.content.clone()).collect::<Vec<_>>().join("\n");
    assert!(!all.contains("Okafor") && !all.contains("Maya"), "{all}");
    assert!(all.contains("Your previous rating was 6") && all.contains("median 6"));
    assert!(all.contains("synthesis of all 5 anonymous rationales of round 1"), "{all}");
    assert!(all.contains("- A De Novo fits.") && all.contains("- It costs a year."));
    assert!(all.contains("2 similar or overlong arguments were merged or shortened"));
    assert!(all.contains("5:1 6:0 7:1"), "the distribution of the previous ratings: {all}");
}

#[test]
fn consecutive_members_of_a_round_share_the_beginning_of_their_prompts() {
    let transcript = vec![entry(1, "A", "Opening A. More."), entry(2, "B", "Critique B.")];
    let mut a = request(PanelType::Structured, TurnTask::Critique, transcript.clone());
    a.view.round = 3;
    let mut b = a.clone();
    let profile = std::sync::Arc::make_mut(&mut b.profile);
    profile.name = "Richard Hale".into();
    profile.persona = "Liability lawyer.".into();
    let (ma, mb) = (turn_messages(&a, 10_000, RatingFormat::Trailer), turn_messages(&b, 10_000, RatingFormat::Trailer));
    assert_eq!((&ma[0], &ma[1]), (&mb[0], &mb[1]), "rules and what the round shows are the same for both");
    assert_ne!(ma[2], mb[2]);
}

#[test]
fn every_turn_sits_under_its_own_rounds_heading_in_order() {
    let entries = vec![
        entry(1, "A", "Opening A. More."),
        entry(1, "B", "Opening B. More."),
        entry(2, "A", "Critique A."),
        entry(2, "B", "Critique B."),
    ];
    let text = render_transcript(&entries, 100_000, 2);
    assert_eq!(
        text,
        "Round 1 (opening statements, summarised):\nA: Opening A. [...]\nB: Opening B. [...]\n\nRound 2 (critique of the draft):\nA [rated the draft 6/9]: Critique A.\nB [rated the draft 6/9]: Critique B."
    );
}

#[test]
fn older_rounds_are_summarised_and_the_budget_leaves_out_the_oldest_with_a_note() {
    let long = "First sentence here. ".to_string() + &"Much more detail follows. ".repeat(40);
    let entries = vec![entry(1, "A", &long), entry(1, "B", &long), entry(2, "C", &long)];
    let text = render_transcript(&entries, 100_000, 2);
    assert!(text.contains("Round 1 (opening statements, summarised):\nA: First sentence here. [...]"), "{text}");
    assert!(text.contains(long.trim()), "the latest round is in full");
    let tight = render_transcript(&entries, 1_200, 2);
    assert!(
        tight
            .starts_with("(1 earlier statement left out for length.)\n\nRound 1 (opening statements, summarised):\nB:"),
        "{tight}"
    );
    assert!(tight.contains("Round 2 (critique of the draft):\nC [rated"), "the newest survives: {tight}");
}

proptest::proptest! {
    #[test]
    fn any_turn_text_is_summarised_without_panicking(text in "\\PC{0,300}", max in 0usize..300) {
        let _ = first_sentence(&text, max);
    }
}

#[test]
fn the_facilitator_reads_every_rationale_within_its_budget() {
    let request = SynthesisRequest {
        tenant_id: TenantId::new(),
        panel_id: PanelId::new(),
        query: "Q?".into(),
        round: 1,
        rationales: (0..5)
            .map(|i| askpanel_actors::panel::feedback::Rationale {
                text: format!("R{i}. {}", "x ".repeat(900)),
                rating: Some(5),
            })
            .collect(),
        simulation: SimulationConfig::default(),
    };
    let m = synthesis_messages(&request, 2_000);
    for i in 0..5 {
        assert!(m[1].content.contains(&format!("Rationale {} (rated 5/9): R{i}.", i + 1)));
    }
    assert_eq!(m[1].content.matches("[shortened]").count(), 5);
}

#[test]
fn a_follow_up_tells_members_and_the_rapporteur_what_the_earlier_panel_concluded() {
    use askpanel_actors::domain::lineage::{PanelParent, PriorDissent, Relation};
    let parent = PanelParent {
        id: PanelId::new(),
        relation: Relation::FollowUp,
        query: "Should we pursue 510(k) or De Novo?".into(),
        recommendation: Some("Pursue 510(k) with a pre-sub. Conditions: a valid predicate.".into()),
        level: Some("Consensus: the panel agrees.".into()),
        dissent: vec![PriorDissent { name: "Richard Hale".into(), argument: "Liability comes first.".into() }],
    };
    let mut r = request(PanelType::Structured, TurnTask::Opening, vec![]);
    r.view.prior = parent.context(true);
    let m = turn_messages(&r, 10_000, RatingFormat::Trailer);
    // The shared part (the same for every member) carries it, after the question.
    let shared = &m[1].content;
    let at = shared.find("This panel follows up an earlier panel.").expect("the context");
    assert!(at > shared.find("Question:").unwrap());
    for part in
        ["Pursue 510(k) with a pre-sub.", "Consensus: the panel agrees.", "Richard Hale", "Liability comes first."]
    {
        assert!(shared.contains(part), "{part}: {shared}");
    }
    let draft = DraftRequest {
        tenant_id: TenantId::new(),
        panel_id: PanelId::new(),
        query: "Which predicate should we cite?".into(),
        flow: PanelType::Structured,
        round: 1,
        is_final: true,
        transcript: vec![entry(1, "Richard Hale", "Cite the 2021 device.")],
        consensus: None,
        dissenters: vec![],
        previous_draft: None,
        ideas: vec![],
        simulation: SimulationConfig::default(),
        prior: parent.context(true),
    };
    let m = draft_messages(&draft, 10_000);
    assert!(m.iter().any(|m| m.content.contains("Its recommendation: Pursue 510(k) with a pre-sub.")));
    // Without a parent, nothing of the kind.
    r.view.prior = None;
    assert!(!turn_messages(&r, 10_000, RatingFormat::Trailer).iter().any(|m| m.content.contains("earlier panel")));
}

#[test]
fn the_statistics_a_model_is_shown_are_rounded_by_the_one_rule() {
    // The engine records statistics at three decimals; a prompt showed them so
    // (mean 6.667) while the report and the page said 6.67.
    let mut r = request(PanelType::Delphi, TurnTask::Rate, vec![]);
    r.view.previous_stats = Some(askpanel_actors::consensus::RoundStats { median: 6.5, iqr: 1.25, mean: 6.667, n: 3 });
    let all: String =
        turn_messages(&r, 10_000, RatingFormat::Json).iter().map(|m| m.content.clone()).collect::<Vec<_>>().join("\n");
    assert!(all.contains("median 6.5, IQR 1.25, mean 6.67, n = 3"), "{all}");
    assert!(!all.contains("6.667"), "{all}");
    // The rapporteur is told the level in words, with the same figures.
    let ratings: Vec<askpanel_actors::consensus::Rating> = [5u8, 5, 6, 5]
        .iter()
        .map(|&value| askpanel_actors::consensus::Rating { member_id: MemberId::new(), value, confidence: Some(0.9) })
        .collect();
    let consensus =
        askpanel_actors::consensus::measure(askpanel_actors::domain::ConsensusMethod::RandUcla, &ratings, 2).unwrap();
    let draft = DraftRequest {
        tenant_id: TenantId::new(),
        panel_id: PanelId::new(),
        query: "Which predicate should we cite?".into(),
        flow: PanelType::Structured,
        round: 2,
        is_final: true,
        transcript: vec![entry(2, "Richard Hale", "Cite the 2021 device.")],
        consensus: Some(consensus.clone()),
        dissenters: vec![],
        previous_draft: None,
        ideas: vec![],
        simulation: SimulationConfig::default(),
        prior: None,
    };
    let text: String = draft_messages(&draft, 10_000).iter().map(|m| m.content.clone()).collect::<Vec<_>>().join("\n");
    let explained = askpanel_actors::consensus::figures::explain(&consensus);
    assert!(text.contains(&format!("Agreement in round 2: {explained}")), "{text}");
    assert!(!text.contains("Uncertain (median"), "the level is not Rust's debug form: {text}");
}
