//! The report as Markdown (CommonMark with GFM tables; the chart as an SVG
//! data URI). What people and models wrote is quoted and made inert.

use base64::Engine as _;

use super::Report;
use super::words::{self, MEMBER_COLUMNS, ROUND_COLUMNS};

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

/// A table row of such text: one line, no pipes.
fn row(cells: &[String]) -> String {
    let cells: Vec<String> = cells.iter().map(|c| inline(c).replace('|', "\\|")).collect();
    format!("| {} |\n", cells.join(" | "))
}

/// A table's header.
fn header(columns: &[&str]) -> String {
    format!("| {} |\n|{}\n", columns.join(" | "), "---|".repeat(columns.len()))
}

/// The report as Markdown.
pub fn render(report: &Report) -> String {
    let mut md = String::with_capacity(8192);
    md.push_str("# Panel report\n\n");
    if let Some(brand) = &report.branding {
        md.push_str(&format!("_{}_\n\n", inline(brand.display_name.trim()).replace(['*', '_'], "")));
    }
    md.push_str(&format!("**Question:** {}\n\n", inline(report.query.trim())));
    md.push_str(&format!("{} · panel `{}`\n\n", words::meta_line(report), report.panel_id));
    if let Some((relation, parent)) = words::relation(report) {
        md.push_str(&format!("{relation} of panel `{parent}`.\n\n"));
    }
    if !report.status.is_terminal() {
        md.push_str(&format!("> {}\n\n", words::NOT_FINISHED));
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
                md.push_str(&format!("{}\n\n", words::NO_CONDITIONS));
            } else {
                for c in &r.conditions {
                    md.push_str(&format!("- {}\n", inline(c)));
                }
                md.push('\n');
            }
        }
        None => md.push_str(&format!("{}\n\n", words::NO_RECOMMENDATION)),
    }
    if let Some(v) = &report.verdict {
        md.push_str(&format!("## Verdict\n\n**{}**\n\n{}\n\n", words::verdict_line(v), quote(&v.rationale)));
    }

    md.push_str("## Agreement\n\n");
    match &report.outcome {
        Some(o) => md.push_str(&format!("**{}**\n\n{}\n\n", words::outcome_line(o), o.explanation)),
        None => md.push_str(&format!("{}\n\n", words::NO_OUTCOME)),
    }
    md.push_str("## Dissent\n\n");
    if report.dissent.is_empty() {
        md.push_str(&format!("{}\n\n", words::NO_DISSENT));
    }
    for d in &report.dissent {
        let argument = quote(&d.argument).lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n");
        md.push_str(&format!("- **{}**\n\n{argument}\n\n", inline(&words::dissent_head(d))));
    }

    md.push_str("## Members\n\n");
    md.push_str(&header(&MEMBER_COLUMNS));
    for m in &report.members {
        md.push_str(&row(&words::member_cells(m)));
    }
    md.push_str("\n## Rounds\n\n");
    md.push_str(&header(&ROUND_COLUMNS));
    for r in &report.rounds {
        md.push_str(&row(&words::round_cells(r)));
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
            md.push_str(&format!("- {}\n", inline(&words::source_line(s))));
        }
        md.push('\n');
    }

    md.push_str("## Transcript\n\n");
    for round in &report.transcript {
        md.push_str(&format!("### Round {}: {}\n\n", round.round, words::phase_label(&round.phase)));
        for t in &round.turns {
            md.push_str(&format!("**{}**\n\n{}\n\n", inline(&words::turn_head(t)), quote(&t.text)));
            let invented: Vec<&str> = t.citations.iter().filter(|c| !c.valid).map(|c| c.label.as_str()).collect();
            if !invented.is_empty() {
                md.push_str(&format!("*Unverified citations: {}.*\n\n", inline(&invented.join(", "))));
            }
        }
        for s in &round.skipped {
            md.push_str(&format!("*{}'s turn was skipped: {}.*\n\n", inline(&s.name), inline(&s.reason)));
        }
    }

    md.push_str("## Configuration and usage\n\n");
    for line in words::config_lines(report) {
        md.push_str(&format!("- {}\n", inline(&line)));
    }
    md.push_str(&format!("\n*{}*\n", words::generated_line(report)));
    md
}
