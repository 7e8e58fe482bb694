//! The report as Markdown (CommonMark with GFM tables; the chart as an SVG
//! data URI).

use askpanel_actors::consensus::figures::{figure, level_name, percent};
use base64::Engine as _;

use super::{Report, wire};

/// A figure or a dash.
fn opt(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_string(), figure)
}

/// Text of people and models made inert: no raw HTML, no images (nothing
/// loads from elsewhere when the file is opened).
fn inert(text: &str) -> String {
    text.replace('<', "&lt;").replace("![", "!\\[")
}

/// A block of such text as a quotation, so it cannot open sections of its own.
fn quote(text: &str) -> String {
    let text = inert(text.trim());
    text.lines()
        .map(|l| if l.trim().is_empty() { ">".to_string() } else { format!("> {l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Such text on one line.
fn inline(text: &str) -> String {
    inert(text).replace(['\n', '\r'], " ")
}

/// Text for a table cell: one line, no pipes.
fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// A duration in words: `4 min 12 s`.
pub fn duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

/// The phase's label.
pub fn phase_label(report_phase: &askpanel_actors::domain::Phase) -> String {
    wire(report_phase).replace('_', " ")
}

/// The report as Markdown.
pub fn render(report: &Report) -> String {
    let mut md = String::with_capacity(8192);
    md.push_str(&format!("# Panel report\n\n**Question:** {}\n\n", inline(report.query.trim())));
    md.push_str(&format!(
        "{} panel · {} · created {}",
        capitalise(&wire(&report.panel_type)),
        wire(&report.status),
        report.created_at.format("%Y-%m-%d %H:%M UTC")
    ));
    if let Some(done) = report.completed_at {
        md.push_str(&format!(" · ended {}", done.format("%Y-%m-%d %H:%M UTC")));
    }
    if let Some(seconds) = report.duration_s {
        md.push_str(&format!(" · took {}", duration(seconds)));
    }
    md.push_str(&format!(" · panel `{}`\n\n", report.panel_id));
    if let Some(parent) = &report.parent {
        md.push_str(&format!(
            "{} of panel `{}`.\n\n",
            if parent.relation == "rerun" { "A re-run" } else { "A follow-up" },
            parent.id
        ));
    }
    if !report.status.is_terminal() {
        md.push_str("> This panel has not finished: the report shows what it has so far.\n\n");
    }
    if let Some(error) = &report.error {
        md.push_str(&format!("> The panel failed: {}\n\n", inline(error.trim())));
    }

    md.push_str("## Recommendation\n\n");
    match &report.recommendation {
        Some(r) => {
            md.push_str(&quote(&r.text));
            md.push_str("\n\n### Conditions\n\n");
            if r.conditions.is_empty() {
                md.push_str("The recommendation states no separate conditions.\n\n");
            } else {
                for c in &r.conditions {
                    md.push_str(&format!("- {}\n", inline(c)));
                }
                md.push('\n');
            }
        }
        None => md.push_str("No recommendation (yet).\n\n"),
    }

    if let Some(v) = &report.verdict {
        md.push_str(&format!(
            "## Verdict\n\n**{}** · pro {}, con {}, margin {} of 10\n\n{}\n\n",
            match v.winner.as_str() {
                "pro" => "The pro team wins",
                "con" => "The con team wins",
                _ => "A tie",
            },
            figure(v.pro_score),
            figure(v.con_score),
            figure(v.margin),
            quote(&v.rationale)
        ));
    }

    md.push_str("## Agreement\n\n");
    match &report.outcome {
        Some(o) => md.push_str(&format!(
            "**{}** · {} agreement · median {} · IQR {} · mean {} · n = {} · round {} · method {}\n\n{}\n\n",
            capitalise(level_name(o.level)),
            percent(o.agreement),
            figure(o.median),
            figure(o.iqr),
            figure(o.mean),
            o.n,
            o.round,
            wire(&o.method),
            o.explanation
        )),
        None => md.push_str("The panel did not rate, so no consensus was measured.\n\n"),
    }

    md.push_str("## Dissent\n\n");
    if report.dissent.is_empty() {
        md.push_str("Nobody dissented from the panel's position.\n\n");
    } else {
        for d in &report.dissent {
            md.push_str(&format!(
                "- **{}**{}: strongest argument (round {}):\n\n{}\n\n",
                inline(&d.name),
                d.rating.map(|r| format!(" (rated {r} of 9)")).unwrap_or_default(),
                d.round,
                quote(&d.argument).lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
            ));
        }
    }

    md.push_str("## Members\n\n| Name | Title | Domain | Model | Side or role |\n|---|---|---|---|---|\n");
    for m in &report.members {
        let side = match (m.team, m.role) {
            (Some(team), _) => wire(&team),
            (None, Some(role)) => wire(&role),
            _ if m.kind == askpanel_actors::domain::MemberKind::Human => "human".to_string(),
            _ => String::new(),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&m.name),
            cell(m.title.as_deref().unwrap_or("")),
            cell(m.domain.as_deref().unwrap_or("")),
            cell(m.model.as_deref().unwrap_or(if m.kind == askpanel_actors::domain::MemberKind::Human {
                "person"
            } else {
                ""
            })),
            side
        ));
    }
    md.push('\n');

    md.push_str("## Rounds\n\n| Round | Phase | Median | IQR | Mean | n | Level | Agreement | Decision |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in &report.rounds {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.round,
            phase_label(&r.phase),
            opt(r.median),
            opt(r.iqr),
            opt(r.mean),
            r.n,
            r.level.map_or_else(|| "–".to_string(), |l| level_name(l).to_string()),
            r.agreement_pct.map_or_else(|| "–".to_string(), |p| format!("{p}%")),
            r.decision.map_or_else(|| "–".to_string(), |d| wire(&d).replace('_', " "))
        ));
    }
    md.push('\n');
    if let Some(svg) = &report.chart_svg {
        md.push_str(&format!(
            "![Ratings by round: each member a dot, the median a line, the interquartile range a band](data:image/svg+xml;base64,{})\n\n",
            base64::engine::general_purpose::STANDARD.encode(svg)
        ));
    }

    if !report.sources.is_empty() {
        md.push_str("## Sources cited\n\n");
        for s in &report.sources {
            let place = match (s.page, &s.heading) {
                (Some(page), _) => format!(", page {page}"),
                (None, Some(h)) => format!(", “{}”", h.trim()),
                _ => String::new(),
            };
            md.push_str(&format!(
                "- [{}] {}{}, passage {} (cited {}×)\n",
                s.label,
                inline(s.title.trim()),
                inline(&place),
                s.n,
                s.cited
            ));
        }
        md.push('\n');
    }

    md.push_str("## Transcript\n\n");
    for round in &report.transcript {
        md.push_str(&format!("### Round {}: {}\n\n", round.round, phase_label(&round.phase)));
        for t in &round.turns {
            let mut head = format!("**{}**", inline(&t.name));
            if let Some(r) = t.rating {
                head.push_str(&format!(" (rating {r} of 9"));
                if let Some(c) = t.confidence {
                    head.push_str(&format!(", confidence {}", figure(c)));
                }
                head.push(')');
            }
            md.push_str(&format!("{head}\n\n{}\n\n", quote(&t.text)));
            let invented: Vec<&str> = t.citations.iter().filter(|c| !c.valid).map(|c| c.label.as_str()).collect();
            if !invented.is_empty() {
                md.push_str(&format!("*Unverified citations: {}.*\n\n", invented.join(", ")));
            }
        }
        for s in &round.skipped {
            md.push_str(&format!("*{}'s turn was skipped: {}.*\n\n", inline(&s.name), inline(&s.reason)));
        }
    }

    md.push_str("## Configuration and usage\n\n");
    md.push_str(&format!(
        "- Format: {}\n- Rounds: {} of at most {}\n- Consensus method: {}\n- Human turn timeout: {} s\n",
        wire(&report.panel_type),
        report.rounds.len(),
        report.config.max_rounds,
        wire(&report.config.consensus_method),
        report.config.human_turn_timeout_s
    ));
    if !report.config.documents.is_empty() {
        let docs: Vec<String> =
            report.config.documents.iter().map(|d| format!("{} {}", d.label, inline(d.title.trim()))).collect();
        md.push_str(&format!("- Documents: {}\n", docs.join("; ")));
    }
    md.push_str(&format!(
        "- Turns: {} · tokens read {} · tokens written {}\n",
        report.usage.turns, report.usage.tokens_in, report.usage.tokens_out
    ));
    if let Some(seconds) = report.duration_s {
        md.push_str(&format!("- Duration: {}\n", duration(seconds)));
    }
    md.push_str(&format!("\n*Generated by askpanel on {}.*\n", report.generated_at.format("%Y-%m-%d %H:%M UTC")));
    md
}

/// The first letter in capitals.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
