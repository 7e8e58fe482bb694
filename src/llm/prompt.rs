//! Prompts: what each member is shown, per format, exactly as PRODUCT.md
//! says. Structured and hybrid members see the transcript; delphi members
//! see only the previous round's statistics and anonymous rationales, never
//! a name (not even their own); adversarial members their side; socratic
//! answerers the questioner's question; everyone from round 2 the current
//! draft to rate. Older rounds are summarised to keep within the context
//! budget. Pure functions: tested without a model.

use askpanel_actors::domain::{MemberKind, PanelType, Team};
use askpanel_actors::event::Phase;
use askpanel_actors::model::{BidRequest, DraftRequest, JudgeRequest, TurnRequest};
use askpanel_actors::panel::strategy::{TranscriptEntry, TurnTask};
use serde::Serialize;

/// One chat message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: "system", content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: "user", content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: "assistant", content: content.into() }
    }
}

/// How a turn's rating comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RatingFormat {
    /// JSON-schema structured output `{"text", "rating", "confidence"}`.
    Json,
    /// A last line `RATING: n CONFIDENCE: x`.
    Trailer,
}

/// The JSON schema of a rated turn (strict structured output).
pub fn turn_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "your contribution, as you would say it to the panel"},
            "rating": {"type": "integer", "minimum": 1, "maximum": 9, "description": "your rating of the current draft: 1-3 disagree, 4-6 uncertain, 7-9 agree"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1}
        },
        "required": ["text", "rating", "confidence"],
        "additionalProperties": false
    })
}

fn flow_description(flow: PanelType) -> &'static str {
    match flow {
        PanelType::Structured | PanelType::Hybrid => "a structured panel: members speak in a fixed order and everyone sees the full transcript",
        PanelType::Open => "an open brainstorming panel: members contribute new ideas and pass when they have nothing new",
        PanelType::Socratic => "a socratic panel: a questioner probes the weakest point or widest disagreement and the others answer",
        PanelType::Adversarial => "an adversarial panel: two teams argue for and against, in opening, rebuttal and closing statements",
        PanelType::Delphi => "a Delphi panel: members rate anonymously, seeing only the previous round's statistics and anonymous rationales",
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Opening => "opening statements",
        Phase::Critique => "critique of the draft",
        Phase::Brainstorm => "brainstorm",
        Phase::Inquiry => "inquiry",
        Phase::Rebuttal => "rebuttal",
        Phase::Closing => "closing statements",
        Phase::Rating => "anonymous rating",
    }
}

fn first_sentence(text: &str, max: usize) -> String {
    let text = text.trim();
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    let sentence: String = text[..end].chars().take(max).collect();
    if sentence.len() < text.len() { format!("{sentence} [...]") } else { sentence }
}

fn entry_line(entry: &TranscriptEntry, full: bool) -> String {
    let who = match (entry.kind, entry.team) {
        (MemberKind::Human, _) => format!("{} (human member)", entry.speaker),
        (_, Some(Team::Pro)) => format!("{} (PRO side)", entry.speaker),
        (_, Some(Team::Con)) => format!("{} (CON side)", entry.speaker),
        _ => entry.speaker.clone(),
    };
    let rating = entry.rating.map(|r| format!(" [rated the draft {r}/9]")).unwrap_or_default();
    let text = if full { entry.text.trim().to_string() } else { first_sentence(&entry.text, 240) };
    format!("{who}{rating}: {text}")
}

/// The transcript within `budget` characters: the latest round in full,
/// older rounds summarised (first sentence of each turn), the oldest dropped
/// first when even that is too long.
pub fn render_transcript(entries: &[TranscriptEntry], budget: usize) -> String {
    let Some(last_round) = entries.iter().map(|e| e.round).max() else { return String::new() };
    let mut lines: Vec<String> = Vec::new();
    let mut used = 0;
    let mut omitted = false;
    let mut current_round = None;
    // Newest first, so the budget keeps the most recent discussion.
    for entry in entries.iter().rev() {
        let line = entry_line(entry, entry.round == last_round);
        let header = (current_round != Some(entry.round)).then(|| {
            current_round = Some(entry.round);
            if entry.round == last_round { format!("Round {}:", entry.round) } else { format!("Round {} (summary):", entry.round) }
        });
        let cost = line.len() + header.as_ref().map_or(0, String::len) + 2;
        if used + cost > budget {
            omitted = true;
            break;
        }
        used += cost;
        lines.push(line);
        if let Some(header) = header {
            lines.push(format!("\n{header}"));
        }
    }
    lines.reverse();
    let mut text = lines.join("\n").trim_start().to_string();
    if omitted {
        text = format!("(earlier discussion omitted)\n{text}");
    }
    text
}

fn rating_instructions(format: RatingFormat) -> &'static str {
    match format {
        RatingFormat::Json => {
            "Answer as JSON with \"text\" (your contribution), \"rating\" (1-9: your rating of the current draft recommendation, 1-3 disagree, 4-6 uncertain, 7-9 agree) and \"confidence\" (0 to 1)."
        }
        RatingFormat::Trailer => {
            "End your answer with one last line, exactly in this form: RATING: <1-9> CONFIDENCE: <0.0-1.0> — your rating of the current draft recommendation (1-3 disagree, 4-6 uncertain, 7-9 agree) and how confident you are."
        }
    }
}

/// The messages of one member's turn.
pub fn turn_messages(request: &TurnRequest, budget: usize, format: RatingFormat) -> Vec<Message> {
    let view = &request.view;
    let profile = &request.profile;
    let anonymous = view.anonymous;
    let title = if profile.title.is_empty() { format!("{} expert", profile.domain.replace('_', " ")) } else { profile.title.clone() };
    // Delphi is anonymous: no names at all, not even the member's own.
    let who = if anonymous { format!("You are a {title} on an anonymous expert panel.") } else { format!("You are {}, {title}, on an expert panel.", profile.name) };
    let words = request.simulation.turn_tokens.clamp(60, 600);
    let mut system = format!(
        "{who}\n\nYour background: {}\n\nSpeak in the first person as this expert, in plain prose. Be concrete and specific to the question: evidence, risks, conditions, trade-offs. Keep to about {words} words. Do not invent citations or data. Do not say you are an AI.",
        profile.persona.trim()
    );
    if anonymous {
        system.push_str(" Contributions are anonymous: never use anyone's name.");
    }
    let mut user =
        format!("Question: {}\n\nThis is {}. Round {} of at most {}: {}.\n", view.query.trim(), flow_description(view.flow), view.round, view.max_rounds, phase_name(view.phase));
    match view.task {
        TurnTask::Argue => {
            let side = match view.team {
                Some(Team::Pro) => "the PRO side: argue in favour",
                _ => "the CON side: argue against",
            };
            user.push_str(&format!("You are on {side}. Engage the other side's strongest points.\n"));
        }
        TurnTask::Question => user.push_str("You are the panel's questioner.\n"),
        _ => {}
    }
    if anonymous {
        if let Some(stats) = &view.previous_stats {
            user.push_str(&format!(
                "\nPrevious round: median {}, IQR {}, mean {}, n = {}; ratings given: {:?}.\n",
                stats.median, stats.iqr, stats.mean, stats.n, view.previous_ratings
            ));
        }
        if let Some(own) = view.own_previous_rating {
            user.push_str(&format!("Your previous rating was {own}.\n"));
        }
        if !view.transcript.is_empty() {
            user.push_str("\nAnonymous rationales from the previous round:\n");
            user.push_str(&render_transcript(&view.transcript, budget));
            user.push('\n');
        }
    } else if !view.transcript.is_empty() {
        user.push_str("\nThe discussion so far:\n");
        user.push_str(&render_transcript(&view.transcript, budget));
        user.push('\n');
        if let Some(stats) = &view.previous_stats {
            user.push_str(&format!("\nLast rated round: median {}, IQR {}, n = {}.\n", stats.median, stats.iqr, stats.n));
        }
    }
    if !view.known_ideas.is_empty() {
        user.push_str("\nIdeas already collected (do not repeat them):\n");
        for idea in view.known_ideas.iter().take(60) {
            user.push_str(&format!("- {idea}\n"));
        }
    }
    if let Some(draft) = &view.draft {
        user.push_str(&format!("\nThe current draft recommendation:\n{}\n", draft.trim()));
    }
    for injection in &view.injections {
        user.push_str(&format!("\nThe moderator asks the panel to address: {}\n", injection.trim()));
    }
    user.push_str("\nYour task: ");
    user.push_str(match view.task {
        TurnTask::Opening => "give your independent opening position.",
        TurnTask::Critique => "critique the current draft recommendation: what holds, what must change, what is missing.",
        TurnTask::Brainstorm => "contribute new ideas only, each on its own line starting with \"- \". If you have nothing new, say so in one sentence.",
        TurnTask::Question => "ask one probing question, aimed at the weakest point or the widest disagreement so far, and say briefly why it matters.",
        TurnTask::Answer => "answer the questioner's question directly, from your expertise.",
        TurnTask::Argue => "make your side's case for this phase.",
        TurnTask::Rate => "rate the proposal and give your rationale.",
    });
    if let (Some(question), TurnTask::Answer) = (&view.question, view.task) {
        user.push_str(&format!("\nThe questioner asks: {}\n", question.trim()));
    }
    if let Some(focus) = &view.focus {
        user.push_str(&format!("\nWhere the panel is most divided: {focus}\n"));
    }
    if view.rate {
        user.push_str("\n\n");
        user.push_str(rating_instructions(format));
    }
    vec![Message::system(system), Message::user(user)]
}

/// Asks only for the rating after a turn whose rating could not be read.
pub fn rating_followup(turn: &[Message], answer: &str) -> Vec<Message> {
    let mut messages = turn.to_vec();
    messages.push(Message::assistant(answer));
    messages.push(Message::user("Rate the current draft recommendation. Reply with only one line: RATING: <1-9> CONFIDENCE: <0.0-1.0>"));
    messages
}

/// Open panels: does the member want the floor?
pub fn bid_messages(request: &BidRequest) -> Vec<Message> {
    let ideas = if request.view.known_ideas.is_empty() {
        "none yet".to_string()
    } else {
        request.view.known_ideas.iter().take(60).map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n")
    };
    vec![
        Message::system(format!("You are {}, {}. {}", request.profile.name, request.profile.title, request.profile.persona.trim())),
        Message::user(format!(
            "Brainstorm on: {}\nIdeas already collected:\n{ideas}\n\nDo you have a genuinely new idea? Reply with JSON only: {{\"speak\": true|false, \"urgency\": 0.0-1.0}}",
            request.view.query.trim()
        )),
    ]
}

/// The rapporteur's draft or final recommendation.
pub fn draft_messages(request: &DraftRequest, budget: usize) -> Vec<Message> {
    let anonymous = request.flow == PanelType::Delphi && !request.is_final;
    let mut user = format!("Question: {}\n\nThe panel's discussion:\n{}\n", request.query.trim(), render_transcript(&request.transcript, budget));
    if let Some(c) = &request.consensus {
        user.push_str(&format!("\nAgreement on the last draft: {:?} (median {}, IQR {}, n = {}).\n", c.level, c.median, c.iqr, c.n));
    }
    if !request.dissenters.is_empty() && !anonymous {
        user.push_str(&format!("Dissenting members: {}.\n", request.dissenters.join(", ")));
    }
    if let Some(previous) = &request.previous_draft {
        user.push_str(&format!("\nThe previous draft:\n{}\n", previous.trim()));
    }
    if !request.ideas.is_empty() {
        user.push_str(&format!("\nIdeas collected: {}\n", request.ideas.join("; ")));
    }
    user.push_str(if request.is_final {
        "\nWrite the panel's final recommendation: the decision, the conditions attached to it, the level of agreement, and the dissent with its reasons. At most 200 words."
    } else {
        "\nWrite the next draft recommendation for the panel to critique and rate: the decision and its conditions, revised to answer the objections raised. At most 150 words."
    });
    if anonymous {
        user.push_str(" This panel is anonymous: name nobody.");
    }
    vec![Message::system("You are the rapporteur of an expert panel. You state what the panel recommends, faithfully and concisely, including disagreement."), Message::user(user)]
}

/// The adversarial judge.
pub fn judge_messages(request: &JudgeRequest, budget: usize) -> Vec<Message> {
    vec![
        Message::system("You are an impartial judge of a structured debate. Judge the quality of the arguments, not your own view of the question."),
        Message::user(format!(
            "Motion: {}\n\nThe debate:\n{}\n\nReply with JSON only: {{\"winner\": \"pro\"|\"con\"|\"tie\", \"pro_score\": 0-10, \"con_score\": 0-10, \"rationale\": \"two sentences\"}}",
            request.query.trim(),
            render_transcript(&request.transcript, budget)
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use askpanel_actors::domain::{ExpertProfile, MemberId, PanelId, SimulationConfig, TenantId};
    use askpanel_actors::panel::strategy::MemberView;

    fn entry(round: u32, speaker: &str, text: &str) -> TranscriptEntry {
        TranscriptEntry { round, speaker: speaker.into(), team: None, kind: MemberKind::Ai, text: text.into(), rating: Some(6) }
    }

    fn request(flow: PanelType, task: TurnTask, transcript: Vec<TranscriptEntry>) -> TurnRequest {
        TurnRequest {
            tenant_id: TenantId::new(),
            panel_id: PanelId::new(),
            member_id: MemberId::new(),
            profile: ExpertProfile {
                member_id: MemberId::new(),
                name: "Dr. Maya Okafor".into(),
                title: "Regulatory Strategist".into(),
                domain: "regulatory".into(),
                persona: "Former FDA reviewer.".into(),
                tags: vec![],
                concerns: vec![],
                stubbornness: 0.4,
                optimism: 0.0,
                model: None,
            },
            view: MemberView {
                query: "Should we pursue 510(k) or De Novo?".into(),
                flow,
                round: 2,
                max_rounds: 3,
                phase: Phase::Critique,
                task,
                rate: true,
                member_name: "Dr. Maya Okafor".into(),
                team: None,
                transcript,
                anonymous: flow == PanelType::Delphi,
                previous_stats: None,
                previous_level: None,
                previous_ratings: vec![5, 7],
                own_previous_rating: Some(6),
                draft: Some("Pursue De Novo with a pre-sub.".into()),
                question: None,
                focus: None,
                injections: vec!["What about children?".into()],
                known_ideas: vec![],
            },
            memory: vec![],
            simulation: SimulationConfig::default(),
            attempt: 1,
        }
    }

    #[test]
    fn structured_members_see_the_named_transcript_the_draft_and_the_rating_format() {
        let r = request(PanelType::Structured, TurnTask::Critique, vec![entry(1, "Richard Hale", "Liability first. Then more.")]);
        let m = turn_messages(&r, 10_000, RatingFormat::Trailer);
        assert!(m[0].content.contains("Dr. Maya Okafor"));
        assert!(m[1].content.contains("Richard Hale"));
        assert!(m[1].content.contains("Pursue De Novo with a pre-sub."));
        assert!(m[1].content.contains("What about children?"));
        assert!(m[1].content.contains("RATING: <1-9>"));
    }

    #[test]
    fn delphi_prompts_name_nobody() {
        let r = request(PanelType::Delphi, TurnTask::Rate, vec![entry(1, "Rationale A", "Evidence is thin.")]);
        let m = turn_messages(&r, 10_000, RatingFormat::Json);
        let all = format!("{}\n{}", m[0].content, m[1].content);
        assert!(!all.contains("Okafor") && !all.contains("Maya"), "{all}");
        assert!(all.contains("Rationale A") && all.contains("Your previous rating was 6"));
        assert!(all.contains("\"rating\""));
    }

    #[test]
    fn older_rounds_are_summarised_and_the_budget_drops_the_oldest() {
        let long = "First sentence here. ".to_string() + &"Much more detail follows. ".repeat(40);
        let entries = vec![entry(1, "A", &long), entry(1, "B", &long), entry(2, "C", &long)];
        let text = render_transcript(&entries, 100_000);
        assert!(text.contains("Round 1 (summary):") && text.contains("A [rated the draft 6/9]: First sentence here. [...]"));
        assert!(text.contains(&long.trim().to_string()), "the latest round is in full");
        let tight = render_transcript(&entries, 1_200);
        assert!(tight.starts_with("(earlier discussion omitted)"));
        assert!(tight.contains("C [rated"), "the newest survives");
        assert!(tight.len() <= 1_300);
    }
}
