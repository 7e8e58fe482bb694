//! The report as one self-contained HTML page: inline CSS, the chart as
//! inline SVG, no script, and a print stylesheet (A4 or Letter).

use super::chart::escape;
use super::words::{self, MEMBER_COLUMNS, ROUND_COLUMNS};
use super::{Report, ReportBranding};

const STYLE: &str = "body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1a1a1a;max-width:860px;margin:0 auto;padding:24px}\
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd;padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .4em}\
.meta{color:#555;font-size:.9em}.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.5em .8em}\
.recommendation{background:#f5f9ff;border-left:4px solid #1565c0;padding:.8em 1em;white-space:pre-wrap}\
.level{font-weight:700}table{border-collapse:collapse;width:100%;font-size:.9em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}\
td.num{text-align:right;font-variant-numeric:tabular-nums}blockquote{margin:.3em 0 .8em;padding:.2em .8em;border-left:3px solid #c62828;color:#333;white-space:pre-wrap}\
.turn{margin:.6em 0 1em}.turn p{margin:.2em 0;white-space:pre-wrap}.muted{color:#666;font-style:italic}svg{max-width:100%;height:auto}\
@media print{body{max-width:none;padding:0;font-size:11pt}h2{break-after:avoid}.turn,tr,blockquote{break-inside:avoid}a{color:inherit;text-decoration:none}}\
@page{margin:18mm}";

/// A table: header cells, then rows; `numeric` columns align right.
fn table(h: &mut String, columns: &[&str], rows: impl Iterator<Item = Vec<String>>, numeric: &[usize]) {
    h.push_str("<table><thead><tr>");
    for c in columns {
        h.push_str(&format!("<th>{}</th>", escape(c)));
    }
    h.push_str("</tr></thead><tbody>");
    for row in rows {
        h.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.contains(&i) { " class=\"num\"" } else { "" };
            h.push_str(&format!("<td{class}>{}</td>", escape(cell)));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
}

/// The tenant's colours over the default ones (colours are `#rrggbb`, checked again here).
fn brand_style(report: &Report) -> String {
    let Some(brand) = &report.branding else { return String::new() };
    let primary = ReportBranding::css(Some(&brand.primary_color), "#1565c0");
    let secondary = ReportBranding::css(brand.secondary_color.as_deref(), primary);
    format!(
        ".brand{{display:flex;align-items:center;gap:.6em;font-weight:700;font-size:1.1em;padding-bottom:.5em;margin-bottom:1em;border-bottom:4px solid {primary}}}\
         .brand img{{max-height:40px;width:auto}}h1{{color:{primary}}}h2{{border-bottom-color:{secondary}}}\
         .recommendation{{border-left-color:{primary}}}"
    )
}

/// The report as an HTML page.
pub fn render(report: &Report) -> String {
    let mut h = String::with_capacity(16384);
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    h.push_str(&format!(
        "<title>Panel report: {}</title><style>{STYLE}{}</style></head><body><main>",
        escape(&super::excerpt(&report.query, 90)),
        brand_style(report)
    ));
    if let Some(brand) = &report.branding {
        h.push_str("<header class=\"brand\">");
        if let Some(uri) = &brand.logo_data_uri {
            h.push_str(&format!("<img src=\"{}\" alt=\"\" height=\"40\">", escape(uri)));
        }
        h.push_str(&format!("<span>{}</span></header>", escape(&brand.display_name)));
    }
    h.push_str(&format!("<h1>Panel report</h1><p><strong>Question:</strong> {}</p>", escape(report.query.trim())));
    h.push_str(&format!(
        "<p class=\"meta\">{} · panel <code>{}</code></p>",
        escape(&words::meta_line(report)),
        escape(&report.panel_id)
    ));
    if let Some((relation, parent)) = words::relation(report) {
        h.push_str(&format!("<p class=\"meta\">{relation} of panel <code>{}</code>.</p>", escape(parent)));
    }
    if !report.status.is_terminal() {
        h.push_str(&format!("<p class=\"note\">{}</p>", words::NOT_FINISHED));
    }
    if let Some(error) = &report.error {
        h.push_str(&format!("<p class=\"note\">The panel failed: {}</p>", escape(error.trim())));
    }

    h.push_str("<section><h2>Recommendation</h2>");
    match &report.recommendation {
        Some(r) => {
            h.push_str(&format!("<div class=\"recommendation\">{}</div><h3>Conditions</h3>", escape(r.text.trim())));
            if r.conditions.is_empty() {
                h.push_str(&format!("<p class=\"muted\">{}</p>", words::NO_CONDITIONS));
            } else {
                h.push_str("<ul class=\"conditions\">");
                for c in &r.conditions {
                    h.push_str(&format!("<li>{}</li>", escape(c)));
                }
                h.push_str("</ul>");
            }
        }
        None => h.push_str(&format!("<p class=\"muted\">{}</p>", words::NO_RECOMMENDATION)),
    }
    h.push_str("</section>");
    if let Some(v) = &report.verdict {
        h.push_str(&format!(
            "<section><h2>Verdict</h2><p><strong>{}</strong></p><p>{}</p></section>",
            escape(&words::verdict_line(v)),
            escape(v.rationale.trim())
        ));
    }

    h.push_str("<section><h2>Agreement</h2>");
    match &report.outcome {
        Some(o) => h.push_str(&format!(
            "<p><span class=\"level\">{}</span></p><p class=\"explanation\">{}</p>",
            escape(&words::outcome_line(o)),
            escape(&o.explanation)
        )),
        None => h.push_str(&format!("<p class=\"muted\">{}</p>", words::NO_OUTCOME)),
    }
    h.push_str("<h3>Dissent</h3>");
    if report.dissent.is_empty() {
        h.push_str(&format!("<p class=\"muted\">{}</p>", words::NO_DISSENT));
    }
    for d in &report.dissent {
        h.push_str(&format!(
            "<p><strong>{}</strong></p><blockquote>{}</blockquote>",
            escape(&words::dissent_head(d)),
            escape(&d.argument)
        ));
    }
    h.push_str("</section>");

    h.push_str("<section><h2>Rounds</h2>");
    if let Some(svg) = &report.chart_svg {
        // Built by chart::svg from numbers and escaped text only.
        h.push_str(&format!("<figure>{svg}<figcaption class=\"meta\">Ratings by round: each member a dot, the median a line, the interquartile range a band; shaded: against (1-3), undecided (4-6), for (7-9).</figcaption></figure>"));
    }
    table(&mut h, &ROUND_COLUMNS, report.rounds.iter().map(|r| words::round_cells(r).to_vec()), &[0, 2, 3, 4, 5, 7]);
    h.push_str("</section><section><h2>Members</h2>");
    table(&mut h, &MEMBER_COLUMNS, report.members.iter().map(|m| words::member_cells(m).to_vec()), &[]);
    h.push_str("</section>");

    if !report.sources.is_empty() {
        h.push_str("<section><h2>Sources cited</h2><ul>");
        for s in &report.sources {
            h.push_str(&format!("<li>{}</li>", escape(&words::source_line(s))));
        }
        h.push_str("</ul></section>");
    }

    h.push_str("<section><h2>Transcript</h2>");
    for round in &report.transcript {
        h.push_str(&format!("<h3>Round {}: {}</h3>", round.round, escape(&words::phase_label(&round.phase))));
        for t in &round.turns {
            h.push_str(&format!(
                "<div class=\"turn\"><p><strong>{}</strong></p><p>{}</p>",
                escape(&words::turn_head(t)),
                escape(t.text.trim())
            ));
            let invented: Vec<&str> = t.citations.iter().filter(|c| !c.valid).map(|c| c.label.as_str()).collect();
            if !invented.is_empty() {
                h.push_str(&format!("<p class=\"muted\">Unverified citations: {}.</p>", escape(&invented.join(", "))));
            }
            h.push_str("</div>");
        }
        for s in &round.skipped {
            h.push_str(&format!(
                "<p class=\"muted\">{}'s turn was skipped: {}.</p>",
                escape(&s.name),
                escape(&s.reason)
            ));
        }
    }
    h.push_str("</section><section><h2>Configuration and usage</h2><ul>");
    for line in words::config_lines(report) {
        h.push_str(&format!("<li>{}</li>", escape(&line)));
    }
    h.push_str(&format!(
        "</ul><p class=\"meta\">{}</p></section></main></body></html>",
        escape(&words::generated_line(report))
    ));
    h
}
