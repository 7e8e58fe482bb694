//! The report's wording, shared by the Markdown, HTML and PDF renderers so
//! they say the same things the same way; each renderer only escapes and
//! lays out these lines. Pure.

use askpanel_actors::consensus::figures::{figure, level_name, percent};
use askpanel_actors::domain::Phase;
use askpanel_actors::domain::grounding::Source;

use super::{Dissent, Outcome, Report, RoundRow, TranscriptTurn, wire};
use askpanel_actors::domain::Verdict;

/// A duration in words: `4 min 12 s`.
pub fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

/// The first letter in capitals.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A phase's label.
pub fn phase_label(phase: &Phase) -> String {
    wire(phase).replace('_', " ")
}

/// The line under the question: format, status, dates, duration.
pub fn meta_line(report: &Report) -> String {
    let mut meta = format!(
        "{} panel · {} · created {}",
        capitalise(&wire(&report.panel_type)),
        wire(&report.status),
        report.created_at.format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(done) = report.completed_at {
        meta.push_str(&format!(" · ended {}", done.format("%Y-%m-%d %H:%M UTC")));
    }
    if let Some(seconds) = report.duration_s {
        meta.push_str(&format!(" · took {}", duration(seconds)));
    }
    meta
}

/// How the panel relates to its parent: `A follow-up` or `A re-run`.
pub fn relation(report: &Report) -> Option<(&'static str, &str)> {
    report.parent.as_ref().map(|p| (if p.relation == "rerun" { "A re-run" } else { "A follow-up" }, p.id.as_str()))
}

/// Said of a panel still running.
pub const NOT_FINISHED: &str = "This panel has not finished: the report shows what it has so far.";
/// Said when there is no recommendation.
pub const NO_RECOMMENDATION: &str = "No recommendation (yet).";
/// Said when the recommendation states no conditions.
pub const NO_CONDITIONS: &str = "The recommendation states no separate conditions.";
/// Said when nobody rated.
pub const NO_OUTCOME: &str = "The panel did not rate, so no consensus was measured.";
/// Said when nobody dissents.
pub const NO_DISSENT: &str = "Nobody dissented from the panel's position.";

/// The adversarial verdict's headline: who won, and the scores.
pub fn verdict_line(v: &Verdict) -> String {
    let winner = match v.winner.as_str() {
        "pro" => "The pro team wins",
        "con" => "The con team wins",
        _ => "A tie",
    };
    format!("{winner} · pro {}, con {}, margin {} of 10", figure(v.pro_score), figure(v.con_score), figure(v.margin))
}

/// The outcome's figures on one line (its explanation follows separately).
pub fn outcome_line(o: &Outcome) -> String {
    format!(
        "{} · {} agreement · median {} · IQR {} · mean {} · n = {} · round {} · method {}",
        capitalise(level_name(o.level)),
        percent(o.agreement),
        figure(o.median),
        figure(o.iqr),
        figure(o.mean),
        o.n,
        o.round,
        wire(&o.method)
    )
}

/// A dissenter's heading (their argument follows).
pub fn dissent_head(d: &Dissent) -> String {
    let rated = d.rating.map(|r| format!(" (rated {r} of 9)")).unwrap_or_default();
    format!("{}{rated}, strongest argument (round {}):", d.name, d.round)
}

/// The per-round table's header.
pub const ROUND_COLUMNS: [&str; 9] = ["Round", "Phase", "Median", "IQR", "Mean", "n", "Level", "Agreement", "Decision"];

/// A row of the per-round table.
pub fn round_cells(r: &RoundRow) -> [String; 9] {
    let num = |v: Option<f64>| v.map_or_else(|| "–".to_string(), figure);
    [
        r.round.to_string(),
        phase_label(&r.phase),
        num(r.median),
        num(r.iqr),
        num(r.mean),
        r.n.to_string(),
        r.level.map_or("–", level_name).to_string(),
        r.agreement_pct.map_or_else(|| "–".to_string(), |p| format!("{p}%")),
        r.decision.map_or_else(|| "–".to_string(), |d| wire(&d).replace('_', " ")),
    ]
}

/// A cited source on one line.
pub fn source_line(s: &Source) -> String {
    let place = match (s.page, &s.heading) {
        (Some(page), _) => format!(", page {page}"),
        (None, Some(h)) => format!(", “{}”", h.trim()),
        _ => String::new(),
    };
    format!("[{}] {}{place}, passage {} (cited {}×)", s.label, s.title.trim(), s.n, s.cited)
}

/// A turn's heading: the speaker, and the rating when there is one.
pub fn turn_head(t: &TranscriptTurn) -> String {
    let mut head = t.name.clone();
    if let Some(r) = t.rating {
        head.push_str(&format!(" (rating {r} of 9"));
        if let Some(c) = t.confidence {
            head.push_str(&format!(", confidence {}", figure(c)));
        }
        head.push(')');
    }
    head
}

/// The configuration and usage, a line each.
pub fn config_lines(report: &Report) -> Vec<String> {
    let mut lines = vec![
        format!("Format: {}", wire(&report.panel_type)),
        format!("Rounds: {} of at most {}", report.rounds.len(), report.config.max_rounds),
        format!("Consensus method: {}", wire(&report.config.consensus_method)),
        format!("Human turn timeout: {} s", report.config.human_turn_timeout_s),
    ];
    if !report.config.documents.is_empty() {
        let docs: Vec<String> =
            report.config.documents.iter().map(|d| format!("{} {}", d.label, d.title.trim())).collect();
        lines.push(format!("Documents: {}", docs.join("; ")));
    }
    lines.push(format!(
        "Turns: {} · tokens read {} · tokens written {}",
        report.usage.turns, report.usage.tokens_in, report.usage.tokens_out
    ));
    if let Some(seconds) = report.duration_s {
        lines.push(format!("Duration: {}", duration(seconds)));
    }
    lines
}

/// The members table's header and a member's row.
pub const MEMBER_COLUMNS: [&str; 5] = ["Name", "Title", "Domain", "Model", "Side or role"];

pub fn member_cells(m: &super::ReportMember) -> [String; 5] {
    use askpanel_actors::domain::MemberKind;
    let side = match (m.team, m.role) {
        (Some(team), _) => wire(&team),
        (None, Some(role)) => wire(&role),
        _ if m.kind == MemberKind::Human => "human".to_string(),
        _ => String::new(),
    };
    let model =
        m.model.clone().unwrap_or_else(|| if m.kind == MemberKind::Human { "person".into() } else { String::new() });
    [m.name.clone(), m.title.clone().unwrap_or_default(), m.domain.clone().unwrap_or_default(), model, side]
}

/// The footer.
pub fn generated_line(report: &Report) -> String {
    format!("Generated by askpanel on {}.", report.generated_at.format("%Y-%m-%d %H:%M UTC"))
}
