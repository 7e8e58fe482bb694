//! The engine run end to end through its real actors, with the simulated
//! model and the in-memory event log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use askpanel_actors::consensus::ConsensusLevel;
use askpanel_actors::domain::{
    Caller, ExpertId, ExpertProfile, MemberId, MemberKind, PanelId, PanelStatus, PanelType, SimulationConfig, TenantId,
};
use askpanel_actors::engine::{Engine, EngineError, EngineSettings, PanelDeps};
use askpanel_actors::event::{Event, EventData, ModeratorActionKind, RoundDecision, SealedEvent};
use askpanel_actors::model::simulated::{Pacing, SimulatedModel};
use askpanel_actors::model::{ExpertModel, ModelError};
use askpanel_actors::panel::messages::{Command, PanelCommand, PanelError};
use askpanel_actors::panel::new::{NewMember, NewPanel};
use askpanel_actors::ports::CreateOptions;
use askpanel_actors::supervisor::TenantPolicy;
use askpanel_actors::testing::{FlakyModel, InMemoryEventLog, Published, RecordingPublisher};

const WAIT: Duration = Duration::from_secs(30);

struct Harness {
    engine: Engine,
    log: InMemoryEventLog,
    publisher: RecordingPublisher,
    tenant: TenantId,
}

fn harness_with(model: Arc<dyn ExpertModel>, arbiters: usize) -> Harness {
    let log = InMemoryEventLog::new();
    let publisher = RecordingPublisher::new();
    let settings = EngineSettings { arbiters, restart_backoff: Duration::from_millis(10), ..EngineSettings::default() };
    let engine = Engine::new(PanelDeps {
        log: Arc::new(log.clone()),
        publisher: Arc::new(publisher.clone()),
        model,
        evidence: std::sync::Arc::new(askpanel_actors::evidence::NoEvidence),
        settings,
    });
    Harness { engine, log, publisher, tenant: TenantId::new() }
}

fn harness() -> Harness {
    harness_with(Arc::new(SimulatedModel::new()), 2)
}

const DOMAINS: [&str; 6] = ["regulatory", "clinical", "biostatistics", "health_economics", "privacy", "ethics"];

fn ai_members(n: usize) -> Vec<NewMember> {
    (0..n)
        .map(|i| {
            let domain = DOMAINS[i % DOMAINS.len()];
            NewMember::Ai {
                expert_id: Some(ExpertId::new()),
                profile: ExpertProfile {
                    member_id: MemberId::new(),
                    name: format!("Expert {i}"),
                    title: format!("{domain} lead"),
                    domain: domain.to_string(),
                    persona: format!("A seasoned {domain} expert.").into(),
                    tags: vec![domain.to_string(), "fda".into()].into(),
                    concerns: (0..4).map(|k| format!("{domain} concern number {k} about item{i}x{k}")).collect(),
                    stubbornness: 0.2 + 0.1 * (i % 5) as f64,
                    optimism: 0.5 - 0.15 * i as f64,
                    model: None,
                },
                team: None,
                role: None,
                selection: None,
                model: "simulated".into(),
            }
        })
        .collect()
}

fn human(name: &str) -> NewMember {
    NewMember::Human { name: name.into(), key_id: None, user_id: None, team: None }
}

fn new_panel(tenant: TenantId, panel_type: PanelType, members: Vec<NewMember>) -> NewPanel {
    NewPanel {
        documents: Vec::new(),
        evidence_chars: None,
        parent: None,
        tenant_id: tenant,
        created_by: "test".into(),
        query: "Should our AI ECG triage device pursue 510(k) or De Novo?".into(),
        panel_type,
        members,
        max_rounds: None,
        consensus_method: None,
        human_turn_timeout_s: None,
        base_flow: None,
        simulation: Some(SimulationConfig {
            seed: 7,
            pace_tokens_per_s: 0.0,
            turn_tokens: 40,
            stubbornness: None,
            noise: None,
            words_per_delta: None,
        }),
    }
}

impl Harness {
    async fn create(&self, request: NewPanel) -> Result<PanelId, EngineError> {
        let created = self.engine.create_panel(TenantPolicy::default(), request, CreateOptions::default()).await?;
        Ok(created.panel.id)
    }

    async fn run(&self, request: NewPanel) -> Published {
        let id = self.create(request).await.expect("panel created");
        self.publisher.wait_for_end(id, WAIT).await.expect("panel ends in time")
    }

    async fn wait_for(&self, panel: PanelId, what: &str, done: impl Fn(&Published) -> bool) -> Published {
        self.publisher.wait_until(panel, WAIT, done).await.unwrap_or_else(|| panic!("timed out waiting for {what}"))
    }

    async fn moderate(
        &self,
        panel: PanelId,
        action: ModeratorActionKind,
        text: Option<&str>,
    ) -> Result<(), EngineError> {
        self.engine
            .command(PanelCommand {
                tenant_id: self.tenant,
                panel_id: panel,
                caller: Caller { id: "moderator-key".into(), key_id: None, user_id: None, is_moderator: true },
                command: Command::Moderate { action, text: text.map(str::to_string) },
            })
            .await
    }
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.data.kind()).collect()
}

fn count(events: &[Event], kind: &str) -> usize {
    events.iter().filter(|e| e.data.kind() == kind).count()
}

/// Seq 1..N without gaps or repeats, `panel_created` first.
fn assert_gapless(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, expected, "events are numbered 1..N");
    assert_eq!(events[0].data.kind(), "panel_created");
}

/// Every completed AI turn's tokens rebuild its text exactly.
fn assert_tokens_rebuild_turns(published: &Published) {
    let mut opened: HashMap<MemberId, u64> = HashMap::new();
    for event in &published.events {
        match &event.data {
            EventData::TurnStarted { member_id, .. } => {
                opened.insert(*member_id, event.seq);
            }
            EventData::TurnCompleted { member_id, text, .. } => {
                let Some(turn_seq) = opened.remove(member_id) else { continue };
                let mut rebuilt = String::new();
                for token in published.tokens.iter().filter(|t| t.turn_seq == turn_seq) {
                    assert_eq!(token.offset, rebuilt.chars().count(), "offsets are contiguous");
                    rebuilt.push_str(&token.delta);
                }
                assert_eq!(&rebuilt, text, "tokens rebuild the turn");
            }
            _ => {}
        }
    }
}

#[actix::test]
async fn every_panel_type_runs_to_completion_through_the_real_actors() {
    let h = harness();
    let cases = [
        (PanelType::Structured, ai_members(4)),
        (PanelType::Open, ai_members(4)),
        (PanelType::Socratic, ai_members(4)),
        (PanelType::Adversarial, ai_members(4)),
        (PanelType::Delphi, ai_members(6)),
    ];
    for (panel_type, members) in cases {
        let published = h.run(new_panel(h.tenant, panel_type, members)).await;
        let events = &published.events;
        assert_gapless(events);
        let last = events.last().unwrap();
        let EventData::PanelCompleted { recommendation, consensus, verdict, .. } = &last.data else {
            panic!("{panel_type:?} ended with {}", last.data.kind())
        };
        assert!(recommendation.starts_with("[simulated]"), "{panel_type:?}: {recommendation}");
        assert!(consensus.is_some(), "{panel_type:?} has a consensus");
        assert_eq!(verdict.is_some(), panel_type == PanelType::Adversarial, "{panel_type:?} verdict");
        assert!(count(events, "turn_completed") >= 3, "{panel_type:?} has turns");
        assert!(count(events, "round_completed") >= 1);
        assert_tokens_rebuild_turns(&published);
        let view = h.engine.panel_view(h.tenant, events[0].data.data_panel_id()).await.unwrap();
        assert_eq!(view.status, PanelStatus::Completed);
        assert_eq!(view.head_seq, events.len() as u64);
        assert_eq!(h.log.events(view.id), *events, "what was published is what the log holds");
    }
}

trait PanelIdOf {
    fn data_panel_id(&self) -> PanelId;
}

impl PanelIdOf for EventData {
    fn data_panel_id(&self) -> PanelId {
        match self {
            EventData::PanelCreated { panel, .. } => panel.id,
            _ => panic!("not panel_created"),
        }
    }
}

#[actix::test]
async fn a_hybrid_panel_of_each_base_flow_completes_when_humans_answer() {
    let h = harness();
    let mut request = new_panel(h.tenant, PanelType::Hybrid, ai_members(3));
    request.members.insert(1, human("Dr. Lee"));
    let id = h.create(request).await.unwrap();
    for _ in 0..3 {
        let p = h
            .wait_for(id, "a human turn", |p| {
                p.events
                    .last()
                    .is_some_and(|e| matches!(e.data, EventData::HumanTurnRequested { .. }) || e.data.is_terminal())
            })
            .await;
        let last = p.events.last().unwrap();
        let EventData::HumanTurnRequested { member_id, .. } = &last.data else { break };
        let command = Command::HumanInput {
            member_id: *member_id,
            text: "I agree with the draft overall.\nRating: 8".into(),
            rating: None,
            confidence: None,
        };
        h.engine
            .command(PanelCommand { tenant_id: h.tenant, panel_id: id, caller: Caller::system("human"), command })
            .await
            .unwrap();
    }
    let p = h.publisher.wait_for_end(id, WAIT).await.unwrap();
    assert_gapless(&p.events);
    assert_eq!(p.events.last().unwrap().data.kind(), "panel_completed");
    let human_turns: Vec<_> = p
        .events
        .iter()
        .filter(
            |e| matches!(&e.data, EventData::TurnCompleted { text, .. } if text == "I agree with the draft overall."),
        )
        .collect();
    assert!(!human_turns.is_empty(), "the trailer is cut and the human's words are in the transcript");
    assert_eq!(count(&p.events, "human_input"), human_turns.len());
}

#[actix::test]
async fn member_counts_outside_the_types_bounds_are_rejected() {
    let h = harness();
    let cases = [
        (PanelType::Structured, ai_members(2)),
        (PanelType::Structured, ai_members(9)),
        (PanelType::Open, ai_members(13)),
        (PanelType::Socratic, ai_members(2)),
        (PanelType::Adversarial, ai_members(3)),
        (PanelType::Delphi, ai_members(4)),
        (PanelType::Hybrid, ai_members(3)),
    ];
    for (panel_type, members) in cases {
        let n = members.len();
        match h.create(new_panel(h.tenant, panel_type, members)).await {
            Err(EngineError::Validation(errors)) => {
                assert!(
                    errors.0.contains_key("experts") || errors.0.contains_key("humans"),
                    "{panel_type:?} with {n}: {errors}"
                )
            }
            other => panic!("{panel_type:?} with {n} members: {:?}", other.map(|_| ())),
        }
    }
    let mut with_human = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    with_human.members.push(human("Sam"));
    assert!(matches!(h.create(with_human).await, Err(EngineError::Validation(_))), "humans only in hybrid panels");
    let mut short = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    short.query = "Too short".into();
    assert!(matches!(h.create(short).await, Err(EngineError::Validation(e)) if e.0.contains_key("query")));
}

fn decision_of(events: &[Event]) -> (usize, RoundDecision) {
    let decisions: Vec<RoundDecision> = events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::RoundCompleted { decision, .. } => Some(*decision),
            _ => None,
        })
        .collect();
    (decisions.len(), *decisions.last().unwrap())
}

#[actix::test]
async fn delphi_ends_early_when_the_panel_converges_and_runs_to_max_rounds_when_it_does_not() {
    let h = harness();
    let mut converging = new_panel(h.tenant, PanelType::Delphi, ai_members(7));
    converging.max_rounds = Some(6);
    converging.simulation =
        Some(SimulationConfig { seed: 3, stubbornness: Some(0.0), noise: Some(0.0), ..SimulationConfig::default() });
    let p = h.run(converging).await;
    let (rounds, decision) = decision_of(&p.events);
    assert!(rounds < 6, "a converging panel stops early, ran {rounds}");
    assert!(matches!(decision, RoundDecision::Consensus | RoundDecision::Stable), "{decision:?}");

    let mut divided = new_panel(h.tenant, PanelType::Delphi, ai_members(7));
    divided.max_rounds = Some(5);
    divided.simulation =
        Some(SimulationConfig { seed: 2, stubbornness: Some(1.0), noise: Some(2.0), ..SimulationConfig::default() });
    let p = h.run(divided).await;
    assert_eq!(decision_of(&p.events), (5, RoundDecision::MaxRounds));
    // Delphi members never see names: the rationales they are shown are anonymous.
    for event in &p.events {
        if let EventData::DraftUpdated { draft, .. } = &event.data {
            assert!(!draft.contains("Expert "), "drafts shown to delphi members name nobody: {draft}");
        }
    }
}

#[actix::test]
async fn an_open_panel_stops_when_a_round_brings_no_new_idea() {
    let h = harness();
    let mut request = new_panel(h.tenant, PanelType::Open, ai_members(3));
    request.max_rounds = Some(10);
    let p = h.run(request).await;
    let (rounds, decision) = decision_of(&p.events);
    assert_eq!(decision, RoundDecision::Saturated);
    assert!(rounds < 10);
    assert!(
        p.events
            .iter()
            .any(|e| matches!(&e.data, EventData::TurnSkipped { reason, .. } if reason.starts_with("passed"))),
        "members pass when they have nothing new"
    );
}

#[actix::test]
async fn a_hybrid_panel_waits_for_its_human_continues_on_input_and_skips_at_the_timeout() {
    tokio::time::pause();
    let h = harness_with(paused_clock_model(), 0);
    let mut request = new_panel(h.tenant, PanelType::Hybrid, ai_members(2));
    request.members.push(human("Dr. Lee"));
    request.human_turn_timeout_s = Some(120);
    request.max_rounds = Some(2);
    let id = h.create(request).await.unwrap();
    let is_request = |e: &Event| matches!(e.data, EventData::HumanTurnRequested { .. });
    let p = h.wait_for(id, "the human turn", |p| p.events.iter().any(is_request)).await;
    let before = p.events.len();
    // Nothing happens while the panel waits (well within the deadline).
    tokio::time::sleep(Duration::from_secs(60)).await;
    let p = h.publisher.published(id);
    assert_eq!(p.events.len(), before, "the panel waits for the human");
    let view = h.engine.panel_view(h.tenant, id).await.unwrap();
    assert_eq!(view.status, PanelStatus::AwaitingHuman);
    let member = view.members.iter().find(|m| m.kind == MemberKind::Human).unwrap().id;
    let input = Command::HumanInput {
        member_id: member,
        text: "Start with a pre-submission meeting.".into(),
        rating: None,
        confidence: None,
    };
    h.engine
        .command(PanelCommand { tenant_id: h.tenant, panel_id: id, caller: Caller::system("human"), command: input })
        .await
        .unwrap();
    // Round 2: the human is asked again and this time says nothing.
    let p = h.wait_for(id, "the second human turn", |p| p.events.iter().filter(|e| is_request(e)).count() == 2).await;
    let asked_at = p.events.len();
    let timed_out = |p: &Published| {
        p.events.iter().any(|e| matches!(&e.data, EventData::TurnSkipped { reason, .. } if reason == "timeout"))
    };
    let p = h.publisher.wait_until(id, Duration::from_secs(600), timed_out).await.expect("the human turn times out");
    assert!(p.events.len() > asked_at);
    let p = h.publisher.wait_for_end(id, WAIT).await.unwrap();
    assert_gapless(&p.events);
    assert_eq!(p.events.last().unwrap().data.kind(), "panel_completed");
    assert_eq!(count(&p.events, "human_input"), 1);
}

/// The simulated model for tests on a paused clock: its paced deltas wait
/// on the runtime's timers, which the paused clock drives.
fn paused_clock_model() -> Arc<SimulatedModel> {
    Arc::new(SimulatedModel::with_pacing(Pacing::RuntimeTimers))
}

fn slow(request: &mut NewPanel) {
    request.simulation =
        Some(SimulationConfig { seed: 5, pace_tokens_per_s: 20.0, turn_tokens: 30, ..SimulationConfig::default() });
}

#[actix::test]
async fn pause_stops_new_turns_until_resume() {
    tokio::time::pause();
    let h = harness_with(paused_clock_model(), 0);
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    slow(&mut request);
    let id = h.create(request).await.unwrap();
    h.wait_for(id, "a streaming turn", |p| p.tokens.len() >= 3).await;
    h.moderate(id, ModeratorActionKind::Pause, None).await.unwrap();
    let paused = h.publisher.published(id);
    assert_eq!(paused.events.last().unwrap().data.kind(), "panel_paused");
    assert!(
        paused.events.iter().any(|e| matches!(&e.data, EventData::TurnAborted { reason, .. } if reason == "paused"))
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    let still = h.publisher.published(id);
    assert_eq!(still.events.len(), paused.events.len(), "no events while paused");
    assert_eq!(still.tokens.len(), paused.tokens.len(), "no tokens while paused");
    assert!(matches!(
        h.moderate(id, ModeratorActionKind::Pause, None).await,
        Err(EngineError::Panel(PanelError::Conflict(_)))
    ));
    h.moderate(id, ModeratorActionKind::Resume, None).await.unwrap();
    let p = h.publisher.wait_for_end(id, Duration::from_secs(3600)).await.unwrap();
    assert_gapless(&p.events);
    assert_eq!(p.events.last().unwrap().data.kind(), "panel_completed");
    assert_tokens_rebuild_turns(&p);
}

#[actix::test]
async fn cancel_ends_the_panel_within_one_token_of_streaming() {
    tokio::time::pause();
    let h = harness_with(paused_clock_model(), 0);
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    slow(&mut request);
    let id = h.create(request).await.unwrap();
    h.wait_for(id, "a streaming turn", |p| p.tokens.len() >= 5).await;
    h.moderate(id, ModeratorActionKind::Cancel, None).await.unwrap();
    let at_cancel = h.publisher.published(id);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let later = h.publisher.published(id);
    assert!(later.tokens.len() <= at_cancel.tokens.len() + 1, "at most one token after cancel");
    assert_eq!(later.events.len(), at_cancel.events.len());
    assert_eq!(
        &kinds(&later.events)[later.events.len() - 3..],
        ["moderator_action", "turn_aborted", "panel_cancelled"]
    );
    assert!(matches!(h.moderate(id, ModeratorActionKind::Resume, None).await, Err(EngineError::NotRunning)));
}

#[actix::test]
async fn skip_inject_end_round_and_finish_each_change_the_run() {
    tokio::time::pause();
    let h = harness_with(paused_clock_model(), 0);
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(4));
    request.max_rounds = Some(6);
    slow(&mut request);
    let id = h.create(request).await.unwrap();

    // skip_turn: the streaming member's turn is skipped, the next member speaks.
    h.wait_for(id, "a streaming turn", |p| p.tokens.len() >= 2).await;
    h.moderate(id, ModeratorActionKind::SkipTurn, None).await.unwrap();
    let p = h.publisher.published(id);
    let at = p
        .events
        .iter()
        .position(|e| matches!(e.data, EventData::ModeratorAction { action: ModeratorActionKind::SkipTurn, .. }))
        .unwrap();
    assert!(matches!(&p.events[at + 1].data, EventData::TurnSkipped { reason, .. } if reason.contains("moderator")));

    // inject: the next turn addresses the moderator's question.
    h.moderate(id, ModeratorActionKind::Inject, Some("What about paediatric patients?")).await.unwrap();
    let started_after_injection = |p: &Published| {
        let at = p
            .events
            .iter()
            .position(|e| matches!(e.data, EventData::ModeratorAction { action: ModeratorActionKind::Inject, .. }))?;
        let started = p.events[at..].iter().find_map(|e| match e.data {
            EventData::TurnStarted { member_id, .. } => Some(member_id),
            _ => None,
        })?;
        p.events[at..].iter().find_map(|e| match &e.data {
            EventData::TurnCompleted { member_id, text, .. } if *member_id == started => Some(text.clone()),
            _ => None,
        })
    };
    let p = h.wait_for(id, "a turn after the injection", |p| started_after_injection(p).is_some()).await;
    let answered = started_after_injection(&p);
    assert!(answered.unwrap().contains("What about paediatric patients?"), "the next turn addresses the injection");
    assert!(matches!(
        h.moderate(id, ModeratorActionKind::Inject, None).await,
        Err(EngineError::Panel(PanelError::Invalid { .. }))
    ));

    // end_round: the round completes at once though members had not spoken.
    h.moderate(id, ModeratorActionKind::EndRound, None).await.unwrap();
    let p =
        h.wait_for(id, "the round to complete", |p| p.events.iter().any(|e| e.data.kind() == "round_completed")).await;
    let round_one = p.events.iter().find_map(|e| match &e.data {
        EventData::RoundCompleted { round, .. } => Some(*round),
        _ => None,
    });
    assert_eq!(round_one, Some(1));
    let spoke_in_round_one = p
        .events
        .iter()
        .take_while(|e| e.data.kind() != "round_completed")
        .filter(|e| e.data.kind() == "turn_completed")
        .count();
    assert!(spoke_in_round_one < 4, "end_round cut the round short");

    // finish: the panel goes to its final consensus at once, long before round 6.
    h.wait_for(id, "round 2 streaming", |p| {
        p.events.iter().any(|e| matches!(e.data, EventData::RoundStarted { round: 2, .. }))
    })
    .await;
    h.moderate(id, ModeratorActionKind::Finish, None).await.unwrap();
    let p = h.publisher.wait_for_end(id, Duration::from_secs(3600)).await.unwrap();
    assert_gapless(&p.events);
    let EventData::PanelCompleted { reason, .. } = &p.events.last().unwrap().data else { panic!("completed") };
    assert_eq!(*reason, Some(RoundDecision::Finished));
    assert_eq!(count(&p.events, "round_started"), 2);
}

#[actix::test]
async fn a_command_naming_another_tenants_panel_is_refused() {
    let h = harness();
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    slow(&mut request);
    let id = h.create(request).await.unwrap();
    let other = TenantId::new();
    let cancel = |tenant| PanelCommand {
        tenant_id: tenant,
        panel_id: id,
        caller: Caller::system("intruder"),
        command: Command::Moderate { action: ModeratorActionKind::Cancel, text: None },
    };
    assert!(matches!(h.engine.command(cancel(other)).await, Err(EngineError::NotRunning)));
    assert!(matches!(h.engine.panel_view(other, id).await, Err(EngineError::NotFound)));
    assert!(h.engine.snapshot(other, id).await.unwrap().is_none());
    // (A command that reaches the actor itself is refused by its own tenant
    // check too: the engine's unit tests send one past the facade.)
    assert!(
        !h.engine.panel_view(h.tenant, id).await.unwrap().status.is_terminal(),
        "the intruder's cancel had no effect"
    );
    h.engine.command(cancel(h.tenant)).await.unwrap();
}

#[actix::test]
async fn a_turn_whose_stream_just_stops_is_voided_and_runs_again() {
    let model = Arc::new(FlakyModel::cut_off(Arc::new(SimulatedModel::new()), 2, 3));
    let h = harness_with(model, 2);
    let p = h.run(new_panel(h.tenant, PanelType::Structured, ai_members(3))).await;
    assert_gapless(&p.events);
    assert_eq!(p.events.last().unwrap().data.kind(), "panel_completed");
    let early: Vec<_> = p
        .events
        .iter()
        .filter_map(|e| match &e.data {
            EventData::TurnAborted { reason, error, .. } if reason == "model_error" => error.clone(),
            _ => None,
        })
        .collect();
    let expected = ModelError::Stream(askpanel_actors::expert::ENDED_EARLY.into()).to_string();
    assert_eq!(early, vec![expected; 2]);
}

#[actix::test]
async fn a_panel_whose_model_fails_mid_turn_is_restarted_from_its_log_and_completes() {
    let flaky = Arc::new(FlakyModel::new(Arc::new(SimulatedModel::new()), 2, 2));
    let h = harness_with(flaky.clone(), 2);
    let p = h.run(new_panel(h.tenant, PanelType::Structured, ai_members(3))).await;
    assert_gapless(&p.events);
    assert_eq!(p.events.last().unwrap().data.kind(), "panel_completed");
    let aborted = p
        .events
        .iter()
        .filter(|e| matches!(&e.data, EventData::TurnAborted { reason, .. } if reason == "model_error"))
        .count();
    assert_eq!(aborted, 2);
    let stats = h.engine.tenant_stats(h.tenant).await.unwrap();
    assert_eq!(stats.restarts, 2, "{stats:?}");
    // No turn appears twice in the final panel.
    let view = h.engine.panel_view(h.tenant, p.events[0].data.data_panel_id()).await.unwrap();
    for round in &view.rounds {
        let mut members: Vec<_> = round.turns.iter().map(|t| t.member_id).collect();
        members.sort();
        members.dedup();
        assert_eq!(members.len(), round.turns.len());
    }
    assert_tokens_rebuild_turns(&p);
}

#[actix::test]
async fn a_panel_actor_that_panics_is_restarted_from_its_log_and_completes() {
    // The panic happens inside the panel actor (it polls the turn's stream): a
    // crash the supervisor restarts from the log, never a silent stop.
    let model = Arc::new(FlakyModel::panicking(Arc::new(SimulatedModel::new()), 1));
    let h = harness_with(model, 2);
    let p = h.run(new_panel(h.tenant, PanelType::Structured, ai_members(3))).await;
    assert_gapless(&p.events);
    assert_eq!(p.events.last().unwrap().data.kind(), "panel_completed", "{:?}", kinds(&p.events));
    assert!(
        p.events.iter().any(|e| matches!(&e.data, EventData::TurnAborted { reason, .. } if reason == "interrupted")),
        "the cut-off turn is voided and runs again"
    );
    let stats = h.engine.tenant_stats(h.tenant).await.unwrap();
    assert_eq!(stats.restarts, 1, "{stats:?}");
}

#[actix::test]
async fn a_panel_whose_model_keeps_failing_skips_its_members_and_fails_when_too_few_can_speak() {
    // More turns fail than the restart budget allows crashes: a model error is not a crash loop.
    let flaky = Arc::new(FlakyModel::new(Arc::new(SimulatedModel::new()), u32::MAX, 1));
    let h = harness_with(flaky.clone(), 2);
    let p = h.run(new_panel(h.tenant, PanelType::Structured, ai_members(3))).await;
    assert_gapless(&p.events);
    let EventData::PanelFailed { error } = &p.events.last().unwrap().data else { panic!("{:?}", kinds(&p.events)) };
    assert!(error.contains("able to speak"), "{error}");
    let skipped = p
        .events
        .iter()
        .filter(|e| matches!(&e.data, EventData::TurnSkipped { reason, .. } if reason.starts_with("model_failed")))
        .count();
    assert!(skipped >= 3, "each member's turn is skipped after its attempts: {:?}", kinds(&p.events));
    let stats = h.engine.tenant_stats(h.tenant).await.unwrap();
    assert_eq!(stats.gave_up, 0, "the restart budget was not what ended it");
    // Bounded: MAX_TURN_ATTEMPTS per member and round, until members are unavailable.
    let started = flaky.turns_started.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        started
            <= 3 * askpanel_actors::panel::strategy::MAX_TURN_ATTEMPTS
                * askpanel_actors::panel::state::UNAVAILABLE_AFTER_FAILED_TURNS,
        "{started} turns started"
    );
}

#[actix::test]
async fn a_panel_that_crashes_without_progress_ends_failed_after_bounded_restarts() {
    let h = harness();
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    slow(&mut request);
    let id = h.create(request).await.unwrap();
    h.wait_for(id, "a turn", |p| p.events.iter().any(|e| e.data.kind() == "turn_started")).await;
    h.engine.shutdown(Duration::from_secs(5)).await;
    // A log the panel cannot be rebuilt from (a second `panel_created`): every start fails, with no turn ended.
    let logged = h.log.events(id);
    let mut bad = logged[0].clone();
    bad.seq = logged.last().unwrap().seq + 1;
    askpanel_actors::ports::EventLog::append(
        &h.log,
        h.tenant,
        id,
        vec![SealedEvent::seal(bad).unwrap()],
        PanelStatus::Running,
    )
    .await
    .unwrap();
    let publisher = RecordingPublisher::new();
    let settings =
        EngineSettings { arbiters: 2, restart_backoff: Duration::from_millis(10), ..EngineSettings::default() };
    let max = settings.max_restarts;
    let engine = Engine::new(PanelDeps {
        log: Arc::new(h.log.clone()),
        publisher: Arc::new(publisher.clone()),
        model: Arc::new(SimulatedModel::new()),
        evidence: std::sync::Arc::new(askpanel_actors::evidence::NoEvidence),
        settings,
    });
    engine.recover_all(|_| TenantPolicy::default()).await.unwrap();
    publisher.wait_for_end(id, WAIT).await.expect("the panel ends");
    let all = h.log.events(id);
    let EventData::PanelFailed { error } = &all.last().unwrap().data else { panic!("{:?}", kinds(&all)) };
    assert!(error.contains(&format!("gave up after {max} restarts")), "{error}");
    let stats = engine.tenant_stats(h.tenant).await.unwrap();
    assert_eq!(stats.gave_up, 1, "{stats:?}");
}

#[actix::test]
async fn max_concurrent_panels_is_enforced_by_the_supervisor() {
    let h = harness();
    let policy = TenantPolicy { max_concurrent_panels: 2, suspended: false };
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
        slow(&mut request);
        ids.push(h.engine.create_panel(policy, request, CreateOptions::default()).await.unwrap().panel.id);
    }
    let third = h
        .engine
        .create_panel(policy, new_panel(h.tenant, PanelType::Structured, ai_members(3)), CreateOptions::default())
        .await;
    assert!(matches!(third, Err(EngineError::LimitExceeded(_))), "{:?}", third.map(|_| ()));
    // Another tenant is not affected.
    let other = TenantId::new();
    h.engine
        .create_panel(policy, new_panel(other, PanelType::Structured, ai_members(3)), CreateOptions::default())
        .await
        .unwrap();
    // When one panel ends, a slot frees up.
    h.moderate(ids[0], ModeratorActionKind::Cancel, None).await.unwrap();
    h.publisher.wait_for_end(ids[0], WAIT).await.unwrap();
    let mut freed = None;
    for _ in 0..50 {
        match h
            .engine
            .create_panel(policy, new_panel(h.tenant, PanelType::Structured, ai_members(3)), CreateOptions::default())
            .await
        {
            Ok(created) => {
                freed = Some(created);
                break;
            }
            Err(EngineError::LimitExceeded(_)) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(freed.is_some(), "a slot frees when a panel ends");
}

#[actix::test]
async fn an_idempotency_key_returns_the_same_panel() {
    let h = harness();
    let options = CreateOptions { idempotency_key: Some("abc".into()), ..CreateOptions::default() };
    let first = h
        .engine
        .create_panel(
            TenantPolicy::default(),
            new_panel(h.tenant, PanelType::Structured, ai_members(3)),
            options.clone(),
        )
        .await
        .unwrap();
    let second = h
        .engine
        .create_panel(TenantPolicy::default(), new_panel(h.tenant, PanelType::Structured, ai_members(3)), options)
        .await
        .unwrap();
    assert_eq!(second.existing, Some(first.panel.id));
    assert_eq!(second.panel.id, first.panel.id);
}

#[actix::test]
async fn a_suspended_tenants_panels_pause_and_resume_when_it_is_active_again() {
    let h = harness();
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    slow(&mut request);
    let id = h.create(request).await.unwrap();
    h.wait_for(id, "streaming", |p| !p.tokens.is_empty()).await;
    h.engine.update_policy(h.tenant, TenantPolicy { suspended: true, ..TenantPolicy::default() });
    h.wait_for(id, "the pause", |p| {
        p.events.iter().any(|e| matches!(&e.data, EventData::PanelPaused { reason } if reason == "tenant_suspended"))
    })
    .await;
    assert!(matches!(
        h.moderate(id, ModeratorActionKind::Resume, None).await,
        Err(EngineError::Panel(PanelError::Conflict(_)))
    ));
    let refused = h
        .engine
        .create_panel(
            TenantPolicy { suspended: true, ..TenantPolicy::default() },
            new_panel(h.tenant, PanelType::Structured, ai_members(3)),
            CreateOptions::default(),
        )
        .await;
    assert!(matches!(refused, Err(EngineError::Suspended)));
    h.engine.update_policy(h.tenant, TenantPolicy::default());
    h.wait_for(id, "the resume", |p| p.events.iter().any(|e| e.data.kind() == "panel_resumed")).await;
    h.moderate(id, ModeratorActionKind::Cancel, None).await.unwrap();
}

#[actix::test]
async fn a_panel_restored_from_its_log_continues_where_it_stopped() {
    let h = harness();
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    slow(&mut request);
    let id = h.create(request).await.unwrap();
    h.wait_for(id, "a second turn", |p| {
        p.events.iter().filter(|e| e.data.kind() == "turn_started").count() >= 2 && p.tokens.len() > 40
    })
    .await;
    // Stop everything mid-turn, as a shutdown would, then recover from the log alone.
    h.engine.shutdown(Duration::from_secs(5)).await;
    let logged = h.log.events(id);
    assert_eq!(logged.last().map(|e| e.data.kind()), Some("turn_aborted"), "the turn in flight is checkpointed");
    let publisher = RecordingPublisher::new();
    let settings = EngineSettings { arbiters: 2, ..EngineSettings::default() };
    let engine = Engine::new(PanelDeps {
        log: Arc::new(h.log.clone()),
        publisher: Arc::new(publisher.clone()),
        model: Arc::new(SimulatedModel::new()),
        evidence: std::sync::Arc::new(askpanel_actors::evidence::NoEvidence),
        settings,
    });
    assert_eq!(engine.recover_all(|_| TenantPolicy::default()).await.unwrap(), 1);
    publisher.wait_for_end(id, Duration::from_secs(60)).await.unwrap();
    let all = h.log.events(id);
    assert_gapless(&all);
    assert_eq!(all.last().unwrap().data.kind(), "panel_completed");
    let view = engine.panel_view(h.tenant, id).await.unwrap();
    let turns: usize = view.rounds.iter().map(|r| r.turns.len()).sum();
    assert_eq!(turns, count(&all, "turn_completed"));
    assert!(view.consensus.is_some());
    let _ = ConsensusLevel::Consensus;
}

#[actix::test]
async fn a_storage_outage_pauses_the_panel_and_it_resumes_when_storage_is_back() {
    let h = harness();
    let mut request = new_panel(h.tenant, PanelType::Structured, ai_members(3));
    request.simulation =
        Some(SimulationConfig { seed: 5, pace_tokens_per_s: 200.0, turn_tokens: 20, ..SimulationConfig::default() });
    let id = h.create(request).await.unwrap();
    h.wait_for(id, "a first turn", |p| p.events.iter().any(|e| e.data.kind() == "turn_completed")).await;
    h.log.fail_next_appends(4);
    // While the storage fails, commands are refused as unavailable and nothing is published.
    let mut refused = false;
    for _ in 0..200 {
        match h.moderate(id, ModeratorActionKind::Inject, Some("Still there?")).await {
            Err(EngineError::Panel(PanelError::Unavailable(_))) => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    assert!(refused, "a command during the outage answers unavailable");
    let view = h.engine.panel_view(h.tenant, id).await.unwrap();
    assert_eq!(view.status, PanelStatus::Paused);
    assert!(view.paused_reason.unwrap().starts_with("storage_unavailable"));
    let p = h.publisher.wait_for_end(id, WAIT).await.unwrap();
    assert_gapless(&p.events);
    assert_eq!(p.events.last().unwrap().data.kind(), "panel_completed");
    let paused = p
        .events
        .iter()
        .position(|e| matches!(&e.data, EventData::PanelPaused { reason } if reason.starts_with("storage_unavailable")))
        .expect("the pause is recorded");
    assert_eq!(p.events[paused + 1].data.kind(), "panel_resumed");
    assert_eq!(h.log.events(id), p.events, "what was shown is what was stored");
}
