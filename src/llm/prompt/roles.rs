//! The prompts of the panel's other voices: the delphi facilitator's
//! synthesis, an open panel's bid for the floor, the rapporteur's draft and
//! final recommendation, and the adversarial judge.

use super::*;

/// Delphi: the facilitator synthesises a round's anonymous rationales. Every
/// rationale is given (each shortened to its share of the budget when they
/// would not fit, and marked so).
pub fn synthesis_messages(request: &SynthesisRequest, budget: usize) -> Vec<Message> {
    let share = (budget / request.rationales.len().max(1)).max(400);
    let mut user = format!(
        "Question: {}\n\nThe {} anonymous rationales of round {}:\n",
        request.query.trim(),
        request.rationales.len(),
        request.round
    );
    for (i, rationale) in request.rationales.iter().enumerate() {
        let rating = rationale.rating.map_or_else(|| "no rating".to_string(), |r| format!("rated {r}/9"));
        let text = rationale.text.trim();
        let shown = if text.chars().count() > share {
            format!("{} [shortened]", text.chars().take(share).collect::<String>())
        } else {
            text.to_string()
        };
        user.push_str(&format!("\nRationale {} ({rating}): {shown}\n", i + 1));
    }
    user.push_str(
        "\nSynthesise these rationales for the panel's next round: the distinct arguments for the proposal, the distinct arguments against it, and the open questions or conditions, each in one sentence of your own, attributed to nobody. Never name a person, a job title or an organisation. At most six per list. Reply with JSON only: {\"arguments_for\": [\"...\"], \"arguments_against\": [\"...\"], \"open_questions\": [\"...\"]}",
    );
    vec![
        Message::system(
            "You are the neutral facilitator of an anonymous Delphi panel. You summarise faithfully and take no side.",
        ),
        Message::user(user),
    ]
}

/// Open panels: does the member want the floor?
pub fn bid_messages(request: &BidRequest) -> Vec<Message> {
    let ideas = if request.view.known_ideas.is_empty() {
        "none yet".to_string()
    } else {
        request.view.known_ideas.iter().take(60).map(|i| format!("- {i}")).collect::<Vec<_>>().join("\n")
    };
    vec![
        Message::system(format!(
            "You are {}, {}. {}",
            request.profile.name,
            request.profile.title,
            request.profile.persona.trim()
        )),
        Message::user(format!(
            "Brainstorm on: {}\nIdeas already collected:\n{ideas}\n\nDo you have a genuinely new idea? Reply with JSON only: {{\"speak\": true|false, \"urgency\": 0.0-1.0}}",
            request.view.query.trim()
        )),
    ]
}

/// The rapporteur's draft or final recommendation.
pub fn draft_messages(request: &DraftRequest, budget: usize) -> Vec<Message> {
    let anonymous = request.flow == PanelType::Delphi && !request.is_final;
    let mut user = format!("Question: {}\n", request.query.trim());
    if let Some(prior) = &request.prior {
        user.push('\n');
        user.push_str(prior.trim());
        user.push('\n');
    }
    user.push_str(&format!(
        "\nThe panel's discussion:\n{}\n",
        render_transcript(&request.transcript, budget, last_round(&request.transcript))
    ));
    if let Some(c) = &request.consensus {
        // The figures as the report writes them, with what the level means,
        // so the text the model writes agrees with the statistics shown beside it.
        user.push_str(&format!(
            "\nAgreement in round {}: {}\n",
            c.round,
            askpanel_actors::consensus::figures::explain(c)
        ));
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
    if request.transcript.iter().any(|t| !askpanel_actors::evidence::cited_labels(&t.text).is_empty()) {
        user.push_str(" Keep the passage labels in square brackets (like [D1:p3]) of the statements the recommendation rests on; add no others.");
    }
    vec![
        Message::system(
            "You are the rapporteur of an expert panel. You state what the panel recommends, faithfully and concisely, including disagreement.",
        ),
        Message::user(user),
    ]
}

/// The adversarial judge.
pub fn judge_messages(request: &JudgeRequest, budget: usize) -> Vec<Message> {
    vec![
        Message::system(
            "You are an impartial judge of a structured debate. Judge the quality of the arguments, not your own view of the question.",
        ),
        Message::user(format!(
            "Motion: {}\n\nThe debate:\n{}\n\nReply with JSON only: {{\"winner\": \"pro\"|\"con\"|\"tie\", \"pro_score\": 0-10, \"con_score\": 0-10, \"rationale\": \"two sentences\"}}",
            request.query.trim(),
            render_transcript(&request.transcript, budget, last_round(&request.transcript))
        )),
    ]
}
