use chrono::{Duration, Utc};

use super::*;
use crate::domain::{KeyId, PanelType, Phase, UserId};
use crate::panel::fixture::{self, ai, human};
use crate::panel::new::NewMember;

fn moderator() -> Caller {
    Caller { id: "mod-key".into(), key_id: Some(KeyId::new()), user_id: None, is_moderator: true }
}

fn viewer(key: Option<KeyId>) -> Caller {
    Caller { id: "viewer-key".into(), key_id: key, user_id: None, is_moderator: false }
}

fn moderate(action: ModeratorActionKind, text: Option<&str>) -> Command {
    Command::Moderate { action, text: text.map(str::to_string) }
}

/// A hybrid panel (two AI members, then a human spoken for by `key`) in round 1.
fn hybrid(key: KeyId) -> PanelState {
    let mut state =
        fixture::created(fixture::request(PanelType::Hybrid, vec![ai("Ada"), ai("Bo"), human("Cy", Some(key))]));
    let order = fixture::members(&state);
    fixture::apply(
        &mut state,
        [
            EventData::PanelStarted {},
            EventData::RoundStarted { round: 1, phase: Phase::Opening, order, tokens_in: 0, tokens_out: 0 },
        ],
    );
    state
}

/// The hybrid panel with the AI members done and the human's turn requested.
fn humans_turn(key: KeyId) -> (PanelState, MemberId) {
    let mut state = hybrid(key);
    let human = ais_speak_then_human(&mut state, 1);
    (state, human)
}

/// The same in round 2, where ratings count.
fn humans_turn_in_round_2(key: KeyId) -> (PanelState, MemberId) {
    let mut state = hybrid(key);
    let human = ais_speak_then_human(&mut state, 1);
    let order = fixture::members(&state);
    fixture::apply(
        &mut state,
        [
            EventData::TurnSkipped { member_id: human, round: 1, reason: "timeout".into() },
            EventData::RoundCompleted {
                round: 1,
                stats: None,
                decision: crate::domain::RoundDecision::Continue,
                new_ideas: None,
            },
            EventData::RoundStarted { round: 2, phase: Phase::Critique, order, tokens_in: 0, tokens_out: 0 },
        ],
    );
    ais_speak_then_human(&mut state, 2);
    (state, human)
}

fn ais_speak_then_human(state: &mut PanelState, round: u32) -> MemberId {
    let ids = fixture::members(state);
    for ai in &ids[..2] {
        fixture::apply(
            state,
            [
                EventData::TurnStarted { member_id: *ai, round },
                EventData::TurnCompleted {
                    member_id: *ai,
                    round,
                    text: "A position.".into(),
                    rating: None,
                    confidence: None,
                    rating_read: None,
                    flags: vec![],
                    ideas: vec![],
                    evidence: None,
                    citations: vec![],
                    tokens_in: 1,
                    tokens_out: 1,
                },
            ],
        );
    }
    fixture::apply(
        state,
        [EventData::HumanTurnRequested { member_id: ids[2], round, deadline: Utc::now() + Duration::seconds(60) }],
    );
    ids[2]
}

fn kinds(decision: &Decision) -> Vec<&'static str> {
    decision.events.iter().map(EventData::kind).collect()
}

#[test]
fn moderation_rules_by_action_and_situation() {
    let key = KeyId::new();
    let running = hybrid(key);
    let ai = fixture::members(&running)[0];
    let mut paused = running.clone();
    fixture::apply(&mut paused, [EventData::PanelPaused { reason: "moderator".into() }]);
    let mut suspended = running.clone();
    fixture::apply(&mut suspended, [EventData::PanelPaused { reason: "tenant_suspended".into() }]);
    let mut model_down = running.clone();
    fixture::apply(&mut model_down, [EventData::PanelPaused { reason: "model_unavailable: circuit open".into() }]);
    let (waiting, _) = humans_turn(key);
    let too_long = "x".repeat(INJECT_TEXT_MAX_CHARS + 1);
    use ModeratorActionKind::*;
    // (situation, on air, action, text) -> events recorded and what stops, or the error's kind.
    type Case<'a> = (
        &'a str,
        &'a PanelState,
        Option<(MemberId, u32)>,
        ModeratorActionKind,
        Option<&'a str>,
        Result<(Vec<&'a str>, Stop), &'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "pause mid-turn voids the turn",
            &running,
            Some((ai, 1)),
            Pause,
            None,
            Ok((vec!["moderator_action", "turn_aborted", "panel_paused"], Stop::Everything)),
        ),
        (
            "pause between steps",
            &running,
            None,
            Pause,
            None,
            Ok((vec!["moderator_action", "panel_paused"], Stop::Everything)),
        ),
        ("pause twice", &paused, None, Pause, None, Err("conflict")),
        (
            "resume a moderator's pause",
            &paused,
            None,
            Resume,
            None,
            Ok((vec!["moderator_action", "panel_resumed"], Stop::Nothing)),
        ),
        (
            "resume a model outage",
            &model_down,
            None,
            Resume,
            None,
            Ok((vec!["moderator_action", "panel_resumed"], Stop::Nothing)),
        ),
        ("resume the platform's pause", &suspended, None, Resume, None, Err("conflict")),
        ("resume a running panel", &running, None, Resume, None, Err("conflict")),
        (
            "inject with text",
            &running,
            Some((ai, 1)),
            Inject,
            Some("Consider cost."),
            Ok((vec!["moderator_action"], Stop::Nothing)),
        ),
        ("inject without text", &running, None, Inject, Some("   "), Err("invalid")),
        ("inject too long", &running, None, Inject, Some(&too_long), Err("invalid")),
        (
            "skip the turn on air",
            &running,
            Some((ai, 1)),
            SkipTurn,
            None,
            Ok((vec!["moderator_action", "turn_skipped"], Stop::TurnOnAir)),
        ),
        (
            "skip the next turn",
            &running,
            None,
            SkipTurn,
            None,
            Ok((vec!["moderator_action", "turn_skipped"], Stop::TurnOnAir)),
        ),
        (
            "skip a human's turn",
            &waiting,
            None,
            SkipTurn,
            None,
            Ok((vec!["moderator_action", "turn_skipped"], Stop::TurnOnAir)),
        ),
        (
            "end the round mid-turn",
            &running,
            Some((ai, 1)),
            EndRound,
            None,
            Ok((vec!["moderator_action", "turn_aborted"], Stop::TurnOnAir)),
        ),
        (
            "end the round on a human's turn",
            &waiting,
            None,
            EndRound,
            None,
            Ok((vec!["moderator_action", "turn_skipped"], Stop::TurnOnAir)),
        ),
        (
            "finish a paused panel",
            &paused,
            None,
            Finish,
            None,
            Ok((vec!["moderator_action", "panel_resumed"], Stop::Everything)),
        ),
        (
            "finish mid-turn",
            &running,
            Some((ai, 1)),
            Finish,
            None,
            Ok((vec!["moderator_action", "turn_aborted"], Stop::Everything)),
        ),
        (
            "cancel on a human's turn",
            &waiting,
            None,
            Cancel,
            None,
            Ok((vec!["moderator_action", "turn_skipped", "panel_cancelled"], Stop::Everything)),
        ),
    ];
    for (name, state, on_air, action, text, expected) in cases {
        let got = decide(state, on_air, &moderator(), moderate(action, text), Utc::now());
        match (got, expected) {
            (Ok(decision), Ok((events, stop))) => {
                assert_eq!(kinds(&decision), events, "{name}");
                assert_eq!(decision.stop, stop, "{name}");
            }
            (Err(error), Err(kind)) => assert_eq!(error_kind(&error), kind, "{name}: {error}"),
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
}

fn error_kind(error: &PanelError) -> &'static str {
    match error {
        PanelError::NotFound => "not_found",
        PanelError::Forbidden(_) => "forbidden",
        PanelError::Conflict(_) => "conflict",
        PanelError::Invalid { .. } => "invalid",
        PanelError::Unavailable(_) => "unavailable",
    }
}

#[test]
fn skip_targets_the_turn_on_air_then_the_human_then_the_next_speaker() {
    let key = KeyId::new();
    let running = hybrid(key);
    let ids = fixture::members(&running);
    let skipped = |state: &PanelState, on_air| {
        let decision =
            decide(state, on_air, &moderator(), moderate(ModeratorActionKind::SkipTurn, None), Utc::now()).unwrap();
        match decision.events.last() {
            Some(EventData::TurnSkipped { member_id, .. }) => *member_id,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(skipped(&running, Some((ids[1], 1))), ids[1]);
    assert_eq!(skipped(&running, None), ids[0], "the next speaker in the order");
    let (waiting, human) = humans_turn(key);
    assert_eq!(skipped(&waiting, None), human);
}

#[test]
fn only_moderators_moderate_and_nothing_is_taken_once_the_panel_ended() {
    let key = KeyId::new();
    let running = hybrid(key);
    let refused =
        decide(&running, None, &viewer(Some(key)), moderate(ModeratorActionKind::Pause, None), Utc::now()).unwrap_err();
    assert_eq!(error_kind(&refused), "forbidden");
    let mut cancelled = running.clone();
    fixture::apply(&mut cancelled, [EventData::PanelCancelled { by: "x".into() }]);
    let refused =
        decide(&cancelled, None, &moderator(), moderate(ModeratorActionKind::Resume, None), Utc::now()).unwrap_err();
    assert_eq!(refused, PanelError::Conflict("the panel is cancelled".into()));
}

#[test]
fn a_seat_held_by_a_person_takes_input_from_that_person_or_a_moderator_only() {
    let (ada, bo) = (UserId::new(), UserId::new());
    let mut state = fixture::created(fixture::request(
        PanelType::Hybrid,
        vec![ai("Ada"), ai("Bo"), NewMember::Human { name: "Cy".into(), key_id: None, user_id: Some(ada), team: None }],
    ));
    let order = fixture::members(&state);
    fixture::apply(
        &mut state,
        [
            EventData::PanelStarted {},
            EventData::RoundStarted { round: 1, phase: Phase::Opening, order, tokens_in: 0, tokens_out: 0 },
        ],
    );
    let human = ais_speak_then_human(&mut state, 1);
    let person = |user: Option<UserId>, key: Option<KeyId>, is_moderator| Caller {
        id: "someone".into(),
        key_id: key,
        user_id: user,
        is_moderator,
    };
    let cases: Vec<(&str, Caller, bool)> = vec![
        ("the seat's person", person(Some(ada), None, false), true),
        ("another person", person(Some(bo), None, false), false),
        ("a member key", person(None, Some(KeyId::new()), false), false),
        ("a moderator", person(Some(bo), None, true), true),
    ];
    for (name, caller, allowed) in cases {
        let command =
            Command::HumanInput { member_id: human, text: "We should wait.".into(), rating: None, confidence: None };
        let got = decide(&state, None, &caller, command, Utc::now());
        match (got, allowed) {
            (Ok(_), true) => {}
            (Err(error), false) => assert_eq!(error_kind(&error), "forbidden", "{name}: {error}"),
            (got, _) => panic!("{name}: got {got:?}"),
        }
    }
}

#[test]
fn human_input_rules() {
    let key = KeyId::new();
    let (waiting, human) = humans_turn(key);
    let ai = fixture::members(&waiting)[0];
    let input = |member_id, text: &str, rating, confidence| Command::HumanInput {
        member_id,
        text: text.into(),
        rating,
        confidence,
    };
    let too_long = "x".repeat(HUMAN_TEXT_MAX_CHARS + 1);
    let cases: Vec<(&str, Caller, Command, Result<(), &str>)> = vec![
        ("the member's own key", viewer(Some(key)), input(human, "We should wait.", Some(4), Some(0.5)), Ok(())),
        ("a moderator speaks for anyone", moderator(), input(human, "We should wait.", None, None), Ok(())),
        ("another key", viewer(Some(KeyId::new())), input(human, "We should wait.", None, None), Err("forbidden")),
        ("an AI member", viewer(Some(key)), input(ai, "I am the AI now.", None, None), Err("invalid")),
        ("blank text", viewer(Some(key)), input(human, "  \n ", None, None), Err("invalid")),
        ("text too long", viewer(Some(key)), input(human, &too_long, None, None), Err("invalid")),
        ("rating out of range", viewer(Some(key)), input(human, "Fine.", Some(10), None), Err("invalid")),
        ("confidence out of range", viewer(Some(key)), input(human, "Fine.", Some(5), Some(1.5)), Err("invalid")),
    ];
    for (name, caller, command, expected) in cases {
        let got = decide(&waiting, None, &caller, command, Utc::now());
        match (got, expected) {
            (Ok(decision), Ok(())) => {
                assert_eq!(kinds(&decision), ["human_input", "turn_completed"], "{name}");
                assert_eq!(decision.stop, Stop::Nothing, "{name}");
            }
            (Err(error), Err(kind)) => assert_eq!(error_kind(&error), kind, "{name}: {error}"),
            (got, expected) => panic!("{name}: got {got:?}, expected {expected:?}"),
        }
    }
    // Before the human's turn comes, input is out of turn.
    let early = hybrid(key);
    let refused = decide(
        &early,
        None,
        &viewer(Some(key)),
        input(fixture::members(&early)[2], "Me first.", None, None),
        Utc::now(),
    )
    .unwrap_err();
    assert_eq!(error_kind(&refused), "conflict");
}

#[test]
fn a_typed_rating_trailer_is_read_and_not_shown_but_an_explicit_rating_wins() {
    let key = KeyId::new();
    let (waiting, human) = humans_turn_in_round_2(key);
    let completed = |rating| {
        let command = Command::HumanInput {
            member_id: human,
            text: "Wait a year.\nRATING: 3\nCONFIDENCE: 0.8".into(),
            rating,
            confidence: None,
        };
        let decision = decide(&waiting, None, &viewer(Some(key)), command, Utc::now()).unwrap();
        match &decision.events[1] {
            EventData::TurnCompleted { text, rating, confidence, .. } => (text.clone(), *rating, *confidence),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(completed(None), ("Wait a year.".to_string(), Some(3), Some(0.8)));
    let (text, rating, _) = completed(Some(7));
    assert!(text.contains("RATING: 3"), "an explicit rating leaves the text as typed");
    assert_eq!(rating, Some(7));
    // In round 1 (independent positions, no ratings asked) the trailer is
    // still not shown, and the rating is not a vote.
    let (opening, human) = humans_turn(key);
    let command = Command::HumanInput {
        member_id: human,
        text: "Wait a year.\nRATING: 3".into(),
        rating: None,
        confidence: None,
    };
    let decision = decide(&opening, None, &viewer(Some(key)), command, Utc::now()).unwrap();
    assert!(
        matches!(&decision.events[1], EventData::TurnCompleted { text, rating: None, .. } if text == "Wait a year."),
        "{:?}",
        decision.events[1]
    );
}

#[test]
fn system_pauses_are_idempotent_and_lifted_only_by_their_own_reason() {
    let key = KeyId::new();
    let running = hybrid(key);
    let platform = Caller::system("platform");
    let pause =
        decide(&running, None, &platform, Command::SystemPause { reason: PauseReason::TenantSuspended }, Utc::now())
            .unwrap();
    assert_eq!(kinds(&pause), ["panel_paused"]);
    assert_eq!(pause.stop, Stop::Everything);
    let mut paused = running.clone();
    fixture::apply(&mut paused, pause.events);
    let again = decide(
        &paused,
        None,
        &platform,
        Command::SystemPause { reason: PauseReason::TokenBudgetExhausted },
        Utc::now(),
    )
    .unwrap();
    assert!(again.events.is_empty(), "already paused: nothing to record");
    let other = decide(
        &paused,
        None,
        &platform,
        Command::SystemResume { reason: PauseReason::TokenBudgetExhausted },
        Utc::now(),
    )
    .unwrap();
    assert!(other.events.is_empty(), "another reason's resume leaves it paused");
    let own =
        decide(&paused, None, &platform, Command::SystemResume { reason: PauseReason::TenantSuspended }, Utc::now())
            .unwrap();
    assert_eq!(kinds(&own), ["panel_resumed"]);
}

#[test]
fn resuming_gives_a_waiting_human_a_fresh_deadline() {
    let key = KeyId::new();
    let (mut waiting, human) = humans_turn(key);
    fixture::apply(&mut waiting, [EventData::PanelPaused { reason: "moderator".into() }]);
    let now = Utc::now() + Duration::hours(1);
    let decision = decide(&waiting, None, &moderator(), moderate(ModeratorActionKind::Resume, None), now).unwrap();
    match decision.events.last() {
        Some(EventData::HumanTurnRequested { member_id, deadline, .. }) => {
            assert_eq!(*member_id, human);
            assert!(*deadline > now);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pause_reasons_read_back_as_written() {
    let cases = [
        PauseReason::Moderator,
        PauseReason::ModelUnavailable("circuit open".into()),
        PauseReason::StorageUnavailable("disk full".into()),
        PauseReason::TenantSuspended,
        PauseReason::TokenBudgetExhausted,
        PauseReason::Other("maintenance".into()),
    ];
    for reason in cases {
        assert_eq!(PauseReason::parse(&reason.as_string()), reason, "{reason:?}");
    }
    let lifted: Vec<bool> = [
        "moderator",
        "model_unavailable: x",
        "storage_unavailable: y",
        "tenant_suspended",
        "token_budget_exhausted",
        "other",
    ]
    .iter()
    .map(|r| PauseReason::parse(r).moderator_may_lift())
    .collect();
    assert_eq!(lifted, [true, true, false, false, false, false]);
}
