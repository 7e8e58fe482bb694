//! `askpanel eval`: runs a question set over chosen formats and models, N
//! panels each, in-process like `ask` (in-memory log, no server), and writes
//! a report (JSON and Markdown) of how the deliberation went: completion,
//! how ratings were read, what the model got wrong, time, tokens, agreement.
//! Exits non-zero when a panel fails.
//!
//! Everything counted comes from the panels' events and their live token
//! deltas, exactly what clients would see.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use askpanel_actors::domain::{Caller, PanelId, PanelType, SimulationConfig, TenantId};
use askpanel_actors::engine::{Engine, EngineSettings, PanelDeps};
use askpanel_actors::event::{Event, EventData, SealedEvent, TokenDelta};
use askpanel_actors::model::rating::parse_trailer;
use askpanel_actors::model::{ExpertModel, RatingRead};
use askpanel_actors::panel::messages::{Command, PanelCommand};
use askpanel_actors::panel::new::{NewMember, NewPanel};
use askpanel_actors::ports::{CreateOptions, EventPublisher};
use askpanel_actors::supervisor::TenantPolicy;
use askpanel_actors::testing::InMemoryEventLog;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::catalog::Catalog;

mod report;
pub use report::{markdown, write_report};

/// Options of `askpanel eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// The question set (TOML: `[[question]]` tables with `id`, `domain`, `text`).
    #[arg(long, default_value = "config/eval/questions.toml")]
    pub questions: PathBuf,
    /// Formats, comma-separated, or `all`.
    #[arg(long, default_value = "all")]
    pub formats: String,
    /// Models, comma-separated: `simulated`, or a model name on the configured
    /// OpenAI-compatible server (`llm.base_url`).
    #[arg(long, default_value = "simulated")]
    pub models: String,
    /// Panels per format and model (questions are taken in turn).
    #[arg(long, default_value_t = 2)]
    pub panels: usize,
    /// AI members per panel (raised to the format's minimum).
    #[arg(long, default_value_t = 3)]
    pub experts: usize,
    /// Rounds per panel.
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    /// Words asked per turn (and the simulated turn length).
    #[arg(long, default_value_t = 80)]
    pub turn_words: u32,
    /// Folder for `eval.json` and `eval.md`.
    #[arg(long, default_value = "eval-report")]
    pub out: PathBuf,
    /// Longest a panel may take before it counts as failed.
    #[arg(long, default_value_t = 1800)]
    pub panel_timeout_s: u64,
}

#[derive(Debug, Deserialize)]
struct QuestionSet {
    question: Vec<Question>,
}

/// One question of the set.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Question {
    pub id: String,
    pub domain: String,
    pub text: String,
}

/// Reads and checks a question set.
pub fn load_questions(path: &Path) -> anyhow::Result<Vec<Question>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("failed to read the question set {}", path.display()))?;
    let set: QuestionSet =
        toml::from_str(&text).with_context(|| format!("the question set {} is not valid", path.display()))?;
    anyhow::ensure!(!set.question.is_empty(), "the question set {} has no [[question]]", path.display());
    for q in &set.question {
        let chars = q.text.trim().chars().count();
        anyhow::ensure!((10..=5000).contains(&chars), "question `{}`: 10 to 5000 characters, got {chars}", q.id);
    }
    Ok(set.question)
}

/// The figures of one format and model.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    pub format: String,
    pub model: String,
    pub panels: usize,
    pub completed: usize,
    pub failed: usize,
    pub turns: usize,
    /// Turns whose format asked for a rating.
    pub rated_turns: usize,
    pub read_directly: usize,
    pub read_after_follow_up: usize,
    pub left_out: usize,
    /// Turns with text (the model's words were kept).
    pub text_kept: usize,
    /// Rating lines that reached clients or a turn's text (must be 0).
    pub trailer_leaks: usize,
    /// Turns voided and run again.
    pub turns_rerun: usize,
    pub turns_skipped: usize,
    /// What the model got wrong, by kind (handled, never fatal).
    pub flags: BTreeMap<String, usize>,
    pub seconds_per_turn: f64,
    pub seconds_per_panel: f64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// Final consensus levels.
    pub levels: BTreeMap<String, usize>,
    pub mean_agreement: f64,
    pub mean_dissent: f64,
}

impl Figures {
    pub fn rating_read_share(&self) -> f64 {
        if self.rated_turns == 0 {
            1.0
        } else {
            (self.read_directly + self.read_after_follow_up) as f64 / self.rated_turns as f64
        }
    }
}

/// Collects one panel's events and token deltas.
#[derive(Default)]
struct Recorder {
    events: Mutex<HashMap<PanelId, Vec<Event>>>,
    tokens: Mutex<HashMap<(PanelId, u64), String>>,
    ends: Mutex<Option<mpsc::UnboundedSender<(PanelId, Event)>>>,
}

impl EventPublisher for Recorder {
    fn publish_event(&self, _: TenantId, panel: PanelId, event: &SealedEvent) {
        let event = &event.event;
        self.events.lock().unwrap_or_else(|e| e.into_inner()).entry(panel).or_default().push(event.clone());
        let wanted = event.data.is_terminal() || matches!(event.data, EventData::HumanTurnRequested { .. });
        if wanted && let Some(tx) = self.ends.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            // One message per human turn or panel end: bounded by the run's size.
            let _ = tx.send((panel, event.clone()));
        }
    }

    fn publish_token(&self, _: TenantId, panel: PanelId, token: &TokenDelta) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((panel, token.turn_seq))
            .or_default()
            .push_str(&token.delta);
    }
}

/// Adds one finished panel's events to the figures.
fn tally(figures: &mut Figures, events: &[Event], streamed: &HashMap<u64, String>, elapsed: Duration) {
    let mut started: HashMap<u64, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let mut open_turn: Option<u64> = None;
    let mut turn_seconds = 0.0;
    let mut rated_rounds: HashMap<u32, bool> = HashMap::new();
    let mut humans = Vec::new();
    for event in events {
        match &event.data {
            EventData::PanelCreated { panel, setup } => {
                humans = panel
                    .members
                    .iter()
                    .filter(|m| m.kind == askpanel_actors::domain::MemberKind::Human)
                    .map(|m| m.id)
                    .collect();
                let flow = panel.panel_type;
                let flow = if flow == PanelType::Hybrid {
                    setup.config.base_flow.unwrap_or(PanelType::Structured)
                } else {
                    flow
                };
                for round in 1..=12 {
                    rated_rounds.insert(round, flow.round_asks_ratings(round));
                }
            }
            EventData::TurnStarted { .. } => {
                started.insert(event.seq, event.ts);
                open_turn = Some(event.seq);
            }
            EventData::TurnAborted { .. } => {
                figures.turns_rerun += 1;
                open_turn = None;
            }
            EventData::TurnSkipped { .. } => figures.turns_skipped += 1,
            EventData::TurnCompleted { member_id, .. } if humans.contains(member_id) => {}
            EventData::TurnCompleted { text, rating, rating_read, flags, round, .. } => {
                figures.turns += 1;
                if !text.trim().is_empty() {
                    figures.text_kept += 1;
                }
                if parse_trailer(text).rating_lines > 0 {
                    figures.trailer_leaks += 1;
                }
                if let Some(seq) = open_turn.take() {
                    if let Some(at) = started.get(&seq) {
                        turn_seconds += (event.ts - *at).num_milliseconds() as f64 / 1000.0;
                    }
                    if streamed.get(&seq).is_some_and(|s| parse_trailer(s).rating_lines > 0) {
                        figures.trailer_leaks += 1;
                    }
                }
                for flag in flags {
                    let name = serde_json::to_value(flag)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    *figures.flags.entry(name).or_default() += 1;
                }
                let asked = rated_rounds.get(round).copied().unwrap_or(false)
                    && (rating.is_some()
                        || flags.iter().any(|f| matches!(f, askpanel_actors::model::TurnFlag::RatingMissing)));
                if asked {
                    figures.rated_turns += 1;
                    match (rating, rating_read) {
                        (Some(_), Some(RatingRead::FollowUp)) => figures.read_after_follow_up += 1,
                        (Some(_), _) => figures.read_directly += 1,
                        (None, _) => figures.left_out += 1,
                    }
                }
            }
            EventData::PanelCompleted { consensus, .. } => {
                figures.completed += 1;
                if let Some(c) = consensus {
                    let level = serde_json::to_value(c.level)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    *figures.levels.entry(level).or_default() += 1;
                    figures.mean_agreement += c.agreement;
                    figures.mean_dissent += c.dissent.len() as f64;
                } else {
                    *figures.levels.entry("none".into()).or_default() += 1;
                }
            }
            EventData::PanelFailed { .. } | EventData::PanelCancelled { .. } => figures.failed += 1,
            _ => {}
        }
    }
    // The same count the tenant's usage keeps: one list of the events that carry tokens.
    for usage in crate::store::usage_deltas(events).values() {
        figures.tokens_in += usage.tokens_in;
        figures.tokens_out += usage.tokens_out;
    }
    figures.seconds_per_turn += turn_seconds;
    figures.seconds_per_panel += elapsed.as_secs_f64();
}

/// The formats asked for.
pub fn parse_formats(list: &str) -> anyhow::Result<Vec<PanelType>> {
    if list.trim() == "all" {
        return Ok(PanelType::ALL.to_vec());
    }
    list.split(',').map(|f| f.trim().parse::<PanelType>().map_err(|e| anyhow::anyhow!(e))).collect()
}

/// Runs the evaluation; returns the figures per format and model. `model_for`
/// builds the backend of a model name. Must run inside an actix system.
pub async fn run(
    args: &EvalArgs,
    catalog: &Catalog,
    model_for: impl Fn(&str) -> anyhow::Result<Arc<dyn ExpertModel>>,
) -> anyhow::Result<Vec<Figures>> {
    let questions = load_questions(&args.questions)?;
    let formats = parse_formats(&args.formats)?;
    let models: Vec<String> = args.models.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty()).collect();
    anyhow::ensure!(!models.is_empty(), "--models names no model");
    let total = formats.len() * models.len() * args.panels;
    let mut done = 0;
    let mut all = Vec::new();
    let run_started = Instant::now();
    for model_name in &models {
        let model = model_for(model_name)?;
        let recorder = Arc::new(Recorder::default());
        let (ends_tx, mut ends) = mpsc::unbounded_channel();
        *recorder.ends.lock().unwrap_or_else(|e| e.into_inner()) = Some(ends_tx);
        let settings = EngineSettings { arbiters: 1, ..EngineSettings::default() };
        let engine = Engine::new(PanelDeps {
            log: Arc::new(InMemoryEventLog::new()),
            publisher: recorder.clone(),
            model: model.clone(),
            evidence: std::sync::Arc::new(askpanel_actors::evidence::NoEvidence),
            settings,
        });
        for format in &formats {
            let mut figures =
                Figures { format: format.as_str().into(), model: model_name.clone(), ..Figures::default() };
            for i in 0..args.panels {
                let question = &questions[(done + i) % questions.len()];
                progress(done, total, &format!("{model_name} {} {}", format.as_str(), question.id), run_started);
                let started = Instant::now();
                let tenant_id = TenantId::new();
                let request = new_panel(args, catalog, *format, question, &model.name(), tenant_id, i as u64 + 1);
                let created = engine
                    .create_panel(TenantPolicy::default(), request, CreateOptions::default())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let panel_id = created.panel.id;
                let deadline = tokio::time::Instant::now() + Duration::from_secs(args.panel_timeout_s);
                loop {
                    match tokio::time::timeout_at(deadline, ends.recv()).await {
                        Ok(Some((panel, event))) if panel == panel_id => match event.data {
                            EventData::HumanTurnRequested { member_id, .. } => {
                                // The evaluation plays the human member with a fixed answer.
                                let command = Command::HumanInput {
                                    member_id,
                                    text: "I would hold a pre-submission meeting first and decide on the evidence."
                                        .into(),
                                    rating: Some(6),
                                    confidence: Some(0.7),
                                };
                                let _ = engine
                                    .command(PanelCommand {
                                        tenant_id,
                                        panel_id,
                                        caller: Caller::system("eval"),
                                        command,
                                    })
                                    .await;
                            }
                            _ => break,
                        },
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => {
                            figures.failed += 1;
                            break;
                        }
                    }
                }
                let events =
                    recorder.events.lock().unwrap_or_else(|e| e.into_inner()).remove(&panel_id).unwrap_or_default();
                let streamed: HashMap<u64, String> = {
                    let mut tokens = recorder.tokens.lock().unwrap_or_else(|e| e.into_inner());
                    let keys: Vec<(PanelId, u64)> = tokens.keys().filter(|(p, _)| *p == panel_id).copied().collect();
                    keys.into_iter().filter_map(|k| tokens.remove(&k).map(|t| (k.1, t))).collect()
                };
                figures.panels += 1;
                tally(&mut figures, &events, &streamed, started.elapsed());
            }
            done += args.panels;
            finish(&mut figures);
            all.push(figures);
        }
        engine.shutdown(Duration::from_secs(5)).await;
    }
    progress(done, total, "done", run_started);
    eprintln!();
    Ok(all)
}

fn finish(figures: &mut Figures) {
    if figures.turns > 0 {
        figures.seconds_per_turn /= figures.turns as f64;
    }
    if figures.panels > 0 {
        figures.seconds_per_panel /= figures.panels as f64;
    }
    if figures.completed > 0 {
        figures.mean_agreement = (figures.mean_agreement / figures.completed as f64 * 1000.0).round() / 1000.0;
        figures.mean_dissent = (figures.mean_dissent / figures.completed as f64 * 100.0).round() / 100.0;
    }
    figures.seconds_per_turn = (figures.seconds_per_turn * 10.0).round() / 10.0;
    figures.seconds_per_panel = (figures.seconds_per_panel * 10.0).round() / 10.0;
}

fn new_panel(
    args: &EvalArgs,
    catalog: &Catalog,
    format: PanelType,
    question: &Question,
    model: &str,
    tenant_id: TenantId,
    seed: u64,
) -> NewPanel {
    let (min, max) = format.member_bounds();
    let humans = usize::from(format == PanelType::Hybrid);
    let seats = (args.experts + humans).clamp(min, max);
    let mut members: Vec<NewMember> = catalog
        .with(&[])
        .select(&question.text, seats - humans)
        .iter()
        .map(|e| NewMember::Ai {
            expert_id: Some(e.id),
            profile: e.profile(),
            team: None,
            role: None,
            selection: None,
            model: e.model.clone().unwrap_or_else(|| model.to_string()),
        })
        .collect();
    if humans == 1 {
        members.insert(1, NewMember::Human { name: "Evaluator".into(), key_id: None, user_id: None, team: None });
    }
    NewPanel {
        documents: Vec::new(),
        evidence_chars: None,
        parent: None,
        tenant_id,
        created_by: "eval".into(),
        query: question.text.trim().to_string(),
        panel_type: format,
        members,
        max_rounds: Some(args.rounds),
        consensus_method: None,
        human_turn_timeout_s: Some(600),
        base_flow: None,
        simulation: Some(SimulationConfig {
            seed,
            pace_tokens_per_s: 0.0,
            turn_tokens: args.turn_words,
            stubbornness: None,
            noise: None,
            words_per_delta: None,
        }),
    }
}

/// A one-line progress bar on standard error.
fn progress(done: usize, total: usize, what: &str, started: Instant) {
    let width = 30;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r[{}{}] {done}/{total} panels, {:.0} s  {what:<48}",
        "=".repeat(filled),
        " ".repeat(width - filled),
        started.elapsed().as_secs_f64()
    );
    let _ = err.flush();
}

#[cfg(test)]
mod tests;
