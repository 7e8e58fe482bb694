//! `askpanel ask`: runs one panel in-process (in-memory log, simulated or
//! configured experts) and prints it live in the terminal. In a hybrid panel
//! the person at the terminal is the human member.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use askpanel_actors::domain::{Caller, MemberId, MemberKind, PanelId, PanelType, SimulationConfig, TenantId};
use askpanel_actors::engine::{Engine, EngineSettings, PanelDeps};
use askpanel_actors::event::{Event, EventData, SealedEvent, TokenDelta};
use askpanel_actors::model::ExpertModel;
use askpanel_actors::panel::messages::{Command, PanelCommand};
use askpanel_actors::panel::new::{NewMember, NewPanel};
use askpanel_actors::ports::{CreateOptions, EventPublisher};
use askpanel_actors::supervisor::TenantPolicy;
use askpanel_actors::testing::InMemoryEventLog;
use tokio::sync::mpsc;

use crate::catalog::Catalog;

/// Options of `askpanel ask`.
#[derive(Debug, Clone, clap::Args)]
pub struct AskArgs {
    /// The question for the panel (10 to 5000 characters).
    pub question: String,
    /// structured, open, socratic, adversarial, delphi or hybrid (you are the human member).
    #[arg(long = "type", default_value = "structured", value_parser = parse_panel_type)]
    pub panel_type: PanelType,
    /// How many members (chosen from the catalog for the question).
    #[arg(long)]
    pub experts: Option<usize>,
    /// The most rounds to run.
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Seed of the simulated experts.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated tokens per second (0 = instant).
    #[arg(long, default_value_t = 60.0)]
    pub pace: f64,
    /// Simulated turn length in tokens.
    #[arg(long, default_value_t = 90)]
    pub turn_tokens: u32,
}

fn parse_panel_type(s: &str) -> Result<PanelType, String> {
    s.parse()
}

/// Prints what a panel publishes, and passes its events on to the main loop.
struct TerminalPublisher {
    names: Mutex<HashMap<MemberId, String>>,
    events: mpsc::Sender<Event>,
    color: bool,
}

impl TerminalPublisher {
    fn bold(&self, text: &str) -> String {
        if self.color { format!("\x1b[1m{text}\x1b[0m") } else { text.to_string() }
    }

    fn dim(&self, text: &str) -> String {
        if self.color { format!("\x1b[2m{text}\x1b[0m") } else { text.to_string() }
    }

    fn name(&self, id: &MemberId) -> String {
        self.names.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned().unwrap_or_else(|| id.to_string())
    }

    fn describe(&self, event: &Event) -> Option<String> {
        Some(match &event.data {
            EventData::PanelCreated { panel, .. } => {
                let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
                let mut lines = vec![self.bold(&format!("Panel ({}): {}", panel.panel_type.as_str(), panel.query))];
                for m in &panel.members {
                    names.insert(m.id, m.name.clone());
                    let what = match m.kind {
                        MemberKind::Human => "human".to_string(),
                        MemberKind::Ai => format!(
                            "{}, {}",
                            m.domain.clone().unwrap_or_default().replace('_', " "),
                            m.model.clone().unwrap_or_default()
                        ),
                    };
                    let team = m.team.map(|t| format!(" [{}]", t.as_str())).unwrap_or_default();
                    let role = m.role.map(|_| " [questioner]").unwrap_or_default();
                    lines.push(format!("  - {} ({what}){team}{role}", m.name));
                }
                lines.join("\n")
            }
            EventData::RoundStarted { round, phase, .. } => self.bold(&format!("\n== Round {round}: {phase:?} ==")),
            EventData::TurnStarted { member_id, .. } => format!("\n{}: ", self.bold(&self.name(member_id))),
            EventData::TurnCompleted { member_id, text, rating, confidence, .. } => {
                let mut line = String::new();
                if self.names.lock().unwrap_or_else(|e| e.into_inner()).get(member_id).is_some() && text.is_empty() {
                    return None;
                }
                if let Some(r) = rating {
                    line.push_str(
                        &self.dim(&format!("\n   rating {r}/9, confidence {:.2}", confidence.unwrap_or(0.0))),
                    );
                }
                line
            }
            EventData::TurnSkipped { member_id, reason, .. } => {
                self.dim(&format!("\n({} skipped: {reason})", self.name(member_id)))
            }
            EventData::TurnAborted { member_id, reason, .. } => {
                self.dim(&format!("\n({}'s turn was cut off: {reason}; it will run again)", self.name(member_id)))
            }
            EventData::HumanTurnRequested { member_id, deadline, .. } => {
                format!(
                    "\n{} it is your turn as {}; type your contribution and press Enter (deadline {}):",
                    self.bold(">>"),
                    self.name(member_id),
                    deadline.format("%H:%M:%S")
                )
            }
            EventData::HumanInput { member_id, text, .. } => format!("\n{}: {text}", self.bold(&self.name(member_id))),
            EventData::RoundCompleted { round, stats, decision, .. } => match stats {
                Some(s) => self.dim(&format!(
                    "\n-- round {round}: median {}, IQR {}, mean {}, n {} -> {decision:?}",
                    s.median, s.iqr, s.mean, s.n
                )),
                None => self.dim(&format!("\n-- round {round} complete (no ratings yet) -> {decision:?}")),
            },
            EventData::ConsensusUpdated { consensus } => {
                self.dim(&format!("   consensus: {:?} (agreement {:.2})", consensus.level, consensus.agreement))
            }
            EventData::FeedbackUpdated { feedback, .. } => self.dim(&format!(
                "\n-- the facilitator's synthesis of round {}: {} for, {} against, {} open",
                feedback.round,
                feedback.arguments_for.len(),
                feedback.arguments_against.len(),
                feedback.open_questions.len()
            )),
            EventData::DraftUpdated { draft, .. } => format!("\n{} {draft}", self.bold("Draft:")),
            EventData::PanelPaused { reason } => format!("\n(paused: {reason})"),
            EventData::PanelResumed {} => "\n(resumed)".to_string(),
            EventData::PanelCompleted { recommendation, consensus, verdict, .. } => {
                let mut out = format!("\n\n{}\n{recommendation}", self.bold("== Recommendation =="));
                if let Some(c) = consensus {
                    let dissent: Vec<String> = c.dissent.iter().map(|id| self.name(id)).collect();
                    out.push_str(&format!(
                        "\nConsensus ({:?}): {:?}, median {}, IQR {}, agreement {:.2}, n {}",
                        c.method, c.level, c.median, c.iqr, c.agreement, c.n
                    ));
                    if !dissent.is_empty() {
                        out.push_str(&format!("\nDissent: {}", dissent.join(", ")));
                    }
                }
                if let Some(v) = verdict {
                    out.push_str(&format!(
                        "\nVerdict: {} (pro {} vs con {}, margin {})",
                        v.winner, v.pro_score, v.con_score, v.margin
                    ));
                }
                out
            }
            EventData::PanelFailed { error } => format!("\nPanel failed: {error}"),
            EventData::PanelCancelled { by } => format!("\nPanel cancelled by {by}"),
            EventData::PanelStarted {} | EventData::ModeratorAction { .. } => return None,
        })
    }
}

impl EventPublisher for TerminalPublisher {
    fn publish_event(&self, _: TenantId, _: PanelId, event: &SealedEvent) {
        if let Some(text) = self.describe(&event.event) {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{text}");
            let _ = out.flush();
        }
        // The main loop only needs a handful of events per turn; a full queue means it is gone.
        let _ = self.events.try_send(event.event.clone());
    }

    fn publish_token(&self, _: TenantId, _: PanelId, token: &TokenDelta) {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{}", token.delta);
        let _ = out.flush();
    }
}

/// Runs `ask` to the panel's end. Must run inside an actix system.
pub async fn run(args: AskArgs, catalog: &Catalog, model: Arc<dyn ExpertModel>) -> anyhow::Result<()> {
    let (min, max) = args.panel_type.member_bounds();
    let seats = args.experts.unwrap_or(min.max(5)).clamp(min, max);
    let humans = usize::from(args.panel_type == PanelType::Hybrid);
    let chosen = catalog.with(&[]).select(&args.question, seats - humans);
    let model_name = model.name();
    let mut members: Vec<NewMember> = chosen
        .iter()
        .map(|e| NewMember::Ai {
            expert_id: Some(e.id),
            profile: e.profile(),
            team: None,
            role: None,
            selection: None,
            model: e.model.clone().unwrap_or_else(|| model_name.clone()),
        })
        .collect();
    if humans == 1 {
        members.insert(1, NewMember::Human { name: "You".into(), key_id: None, user_id: None, team: None });
    }
    let (events_tx, mut events) = mpsc::channel(4096);
    let publisher = Arc::new(TerminalPublisher {
        names: Mutex::default(),
        events: events_tx,
        color: std::io::stdout().is_terminal(),
    });
    let settings = EngineSettings { arbiters: 1, ..EngineSettings::default() };
    let engine = Engine::new(PanelDeps {
        log: Arc::new(InMemoryEventLog::new()),
        publisher,
        model,
        evidence: std::sync::Arc::new(askpanel_actors::evidence::NoEvidence),
        settings,
    });
    let tenant_id = TenantId::new();
    let request = NewPanel {
        documents: Vec::new(),
        evidence_chars: None,
        parent: None,
        tenant_id,
        created_by: "cli".into(),
        query: args.question.clone(),
        panel_type: args.panel_type,
        members,
        max_rounds: args.rounds,
        consensus_method: None,
        human_turn_timeout_s: Some(600),
        base_flow: None,
        simulation: Some(SimulationConfig {
            seed: args.seed,
            pace_tokens_per_s: args.pace,
            turn_tokens: args.turn_tokens,
            stubbornness: None,
            noise: None,
            words_per_delta: None,
        }),
    };
    let created = engine
        .create_panel(TenantPolicy::default(), request, CreateOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let panel_id = created.panel.id;
    let lines = spawn_stdin_reader();
    let mut lines = lines;
    while let Some(event) = events.recv().await {
        if event.data.is_terminal() {
            println!();
            break;
        }
        if let EventData::HumanTurnRequested { member_id, .. } = event.data {
            let text = lines.recv().await.unwrap_or_default();
            let text = if text.trim().is_empty() { "(no comment)".to_string() } else { text };
            let command = Command::HumanInput { member_id, text, rating: None, confidence: None };
            if let Err(error) =
                engine.command(PanelCommand { tenant_id, panel_id, caller: Caller::system("cli"), command }).await
            {
                eprintln!("input refused: {error}");
            }
        }
    }
    engine.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Lines typed at the terminal, read on a thread of their own (stdin blocks).
fn spawn_stdin_reader() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}
