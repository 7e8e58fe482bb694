//! `docs/prompts.md`: the prompts of every format for one worked example,
//! rendered by the real prompt builders from the real members' views while
//! the engine runs one panel of each type (simulated answers, fixed seed).
//! The test fails when the file differs from what the code produces, so the
//! document cannot drift; `UPDATE_DOCS=1 cargo test --test api prompts_doc`
//! rewrites it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use askpanel::llm::prompt::{self, Message, RatingFormat};
use askpanel_actors::domain::{ExpertId, ExpertProfile, MemberId, PanelType, SimulationConfig, TenantId};
use askpanel_actors::engine::{Engine, EngineSettings, PanelDeps};
use askpanel_actors::event::Verdict;
use askpanel_actors::model::simulated::SimulatedModel;
use askpanel_actors::model::{
    Bid, BidRequest, DraftRequest, Drafted, ExpertModel, JudgeRequest, ModelError, SynthesisRequest, TurnRequest,
    TurnStream, Usage,
};
use askpanel_actors::panel::feedback::Feedback;
use askpanel_actors::panel::new::{NewMember, NewPanel};
use askpanel_actors::ports::CreateOptions;
use askpanel_actors::supervisor::TenantPolicy;
use askpanel_actors::testing::{InMemoryEventLog, RecordingPublisher};
use futures::future::BoxFuture;

const BUDGET: usize = 24_000;

/// The simulated model, recording the prompts a real model would be sent.
struct Recorder {
    inner: SimulatedModel,
    prompts: Mutex<Vec<(String, Vec<Message>)>>,
}

impl Recorder {
    fn record(&self, title: String, messages: Vec<Message>) {
        self.prompts.lock().unwrap().push((title, messages));
    }
}

impl ExpertModel for Recorder {
    fn name(&self) -> String {
        "simulated".into()
    }

    fn is_simulated(&self) -> bool {
        true
    }

    fn stream_turn(&self, request: TurnRequest) -> TurnStream {
        let format = RatingFormat::Trailer;
        let title = format!(
            "Round {}, {} ({:?}{})",
            request.view.round,
            request.profile.name,
            request.view.task,
            if request.view.rate { ", rated" } else { "" }
        );
        self.record(title, prompt::turn_messages(&request, BUDGET, format));
        self.inner.stream_turn(request)
    }

    fn bid(&self, request: BidRequest) -> BoxFuture<'static, Result<(Bid, Usage), ModelError>> {
        self.record(
            format!("Round {}, {}: bid for the floor", request.view.round, request.profile.name),
            prompt::bid_messages(&request),
        );
        self.inner.bid(request)
    }

    fn draft(&self, request: DraftRequest) -> BoxFuture<'static, Result<Drafted, ModelError>> {
        let title = if request.is_final {
            format!("After round {}: the final recommendation (rapporteur)", request.round)
        } else {
            format!("After round {}: the draft (rapporteur)", request.round)
        };
        self.record(title, prompt::draft_messages(&request, BUDGET));
        self.inner.draft(request)
    }

    fn judge(&self, request: JudgeRequest) -> BoxFuture<'static, Result<(Verdict, Usage), ModelError>> {
        self.record("After closing: the judge".into(), prompt::judge_messages(&request, BUDGET));
        self.inner.judge(request)
    }

    fn synthesize(&self, request: SynthesisRequest) -> BoxFuture<'static, Result<(Feedback, Usage), ModelError>> {
        self.record(
            format!("After round {}: the facilitator's synthesis", request.round),
            prompt::synthesis_messages(&request, BUDGET),
        );
        self.inner.synthesize(request)
    }
}

fn expert(name: &str, title: &str, domain: &str, persona: &str, concerns: &[&str], optimism: f64) -> NewMember {
    NewMember::Ai {
        expert_id: Some(ExpertId::new()),
        profile: ExpertProfile {
            member_id: MemberId::new(),
            name: name.into(),
            title: title.into(),
            domain: domain.into(),
            persona: persona.into(),
            tags: vec![domain.to_string()].into(),
            concerns: concerns.iter().map(|c| c.to_string()).collect(),
            stubbornness: 0.5,
            optimism,
            model: None,
        },
        team: None,
        role: None,
        selection: None,
        model: "simulated".into(),
    }
}

fn members(panel_type: PanelType) -> Vec<NewMember> {
    let mut all = vec![
        expert(
            "Dr. Maya Okafor",
            "US Regulatory Strategist",
            "regulatory",
            "Former FDA device reviewer.",
            &["a valid predicate", "special controls"],
            0.3,
        ),
        expert(
            "Richard Hale",
            "Product Liability Counsel",
            "legal",
            "Defends device makers in product liability suits.",
            &["liability exposure", "labelling claims"],
            -0.4,
        ),
        expert(
            "Dr. Lena Fischer",
            "Clinical Biostatistician",
            "biostatistics",
            "Designs diagnostic accuracy studies.",
            &["sensitivity in women", "spectrum bias"],
            0.0,
        ),
        expert(
            "Arjun Mehta",
            "Health Economist",
            "health_economics",
            "Builds cost-effectiveness models for payers.",
            &["cost per avoided admission", "budget impact"],
            0.2,
        ),
        expert(
            "Grace Otieno",
            "Patient Advocate",
            "patients",
            "Leads a heart patients' association.",
            &["alarm fatigue", "equity of access"],
            -0.1,
        ),
    ];
    match panel_type {
        PanelType::Structured | PanelType::Socratic | PanelType::Open => all.truncate(3),
        PanelType::Adversarial => all.truncate(4),
        PanelType::Hybrid => {
            all.truncate(2);
            all.push(NewMember::Human { name: "Dr. Lee (human)".into(), key_id: None, user_id: None, team: None });
        }
        PanelType::Delphi => {}
    }
    all
}

fn render(messages: &[Message]) -> String {
    messages.iter().map(|m| format!("[{}]\n{}", m.role, m.content.trim())).collect::<Vec<_>>().join("\n\n")
}

async fn generate() -> String {
    let mut doc = String::from(
        "# What each member is shown: the prompts of every format\n\n\
         Generated by `tests/api/prompts_doc.rs` from the real prompt builders and the real members' views, while the engine runs one \
         panel of each type with the simulated experts (seed 7); the test fails when this file differs from what the code produces \
         (`UPDATE_DOCS=1 cargo test --test api prompts_doc` rewrites it). With a real model, rated turns ask for a JSON object instead \
         of the `RATING:` line when the server takes structured output (`llm.structured_output`); everything else is as here. Every \
         distinct kind of call of each panel is shown once (the first member's turn of each round, the rapporteur, the facilitator, \
         the judge), each with its system and user messages.\n\n\
         Question of the worked example: *Should our AI ECG triage device pursue 510(k) or De Novo?*\n",
    );
    for panel_type in PanelType::ALL {
        let recorder = Arc::new(Recorder { inner: SimulatedModel::new(), prompts: Mutex::new(Vec::new()) });
        let publisher = RecordingPublisher::new();
        let settings =
            EngineSettings { arbiters: 1, restart_backoff: Duration::from_millis(10), ..EngineSettings::default() };
        let engine = Engine::new(PanelDeps {
            log: Arc::new(InMemoryEventLog::new()),
            publisher: Arc::new(publisher.clone()),
            model: recorder.clone(),
            evidence: std::sync::Arc::new(askpanel_actors::evidence::NoEvidence),
            settings,
        });
        let request = NewPanel {
            documents: Vec::new(),
            evidence_chars: None,
            parent: None,
            tenant_id: TenantId::new(),
            created_by: "docs".into(),
            query: "Should our AI ECG triage device pursue 510(k) or De Novo?".into(),
            panel_type,
            members: members(panel_type),
            max_rounds: Some(if panel_type == PanelType::Delphi { 3 } else { 2 }),
            consensus_method: None,
            human_turn_timeout_s: Some(5),
            base_flow: None,
            simulation: Some(SimulationConfig {
                seed: 7,
                pace_tokens_per_s: 0.0,
                turn_tokens: 60,
                stubbornness: Some(0.9),
                noise: None,
                words_per_delta: None,
            }),
        };
        let created = engine
            .create_panel(TenantPolicy::default(), request, CreateOptions::default())
            .await
            .expect("panel created");
        publisher.wait_for_end(created.panel.id, Duration::from_secs(60)).await.expect("the panel ends");
        engine.shutdown(Duration::from_secs(5)).await;
        doc.push_str(&format!("\n## {}\n", panel_type.as_str()));
        let mut seen = std::collections::HashSet::new();
        for (title, messages) in recorder.prompts.lock().unwrap().iter() {
            // One of each kind: the round and the kind of call, not the member.
            let kind =
                title.split(", ").next().unwrap_or(title).to_string() + title.split_once('(').map_or("", |(_, k)| k);
            if !seen.insert(kind) {
                continue;
            }
            doc.push_str(&format!("\n### {title}\n\n```text\n{}\n```\n", render(messages)));
        }
    }
    doc
}

#[actix_web::test]
async fn prompts_doc_shows_what_the_code_sends_for_every_format() {
    let doc = generate().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/prompts.md");
    if std::env::var("UPDATE_DOCS").is_ok() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &doc).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == doc,
        "docs/prompts.md is out of date: run `UPDATE_DOCS=1 cargo test --test api prompts_doc` and commit it"
    );
    // What the document shows holds what the formats promise.
    for format in ["structured", "open", "socratic", "adversarial", "delphi", "hybrid"] {
        assert!(doc.contains(&format!("\n## {format}\n")), "{format}");
    }
    let delphi = &doc[doc.find("\n## delphi\n").unwrap()..doc.find("\n## hybrid\n").unwrap()];
    // What delphi members are shown names nobody (the final report may name the dissent).
    for section in delphi
        .split("\n### ")
        .filter(|s| s.starts_with("Round") || s.contains("the draft (rapporteur)") || s.contains("synthesis"))
    {
        // The prompt itself, not this document's heading.
        let shown = section.split("```text").nth(1).unwrap_or_default();
        for name in ["Okafor", "Hale", "Fischer", "Mehta", "Otieno"] {
            assert!(!shown.contains(name), "a delphi prompt names {name}: {shown}");
        }
    }
    assert!(delphi.contains("facilitator's synthesis"));
}
