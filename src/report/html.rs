//! The report as one self-contained HTML page: inline CSS, the chart as
//! inline SVG, no script, and a print stylesheet (A4 or Letter).

use askpanel_actors::consensus::figures::{figure, level_name, percent};
use askpanel_actors::domain::MemberKind;

use super::chart::escape;
use super::markdown::{capitalise, duration, phase_label};
use super::{Report, wire};

const STYLE: &str = "body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1a1a1a;max-width:860px;margin:0 auto;padding:24px}\
h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd;padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .4em}\
.meta{color:#555;font-size:.9em}.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.5em .8em}\
.recommendation{background:#f5f9ff;border-left:4px solid #1565c0;padding:.8em 1em;white-space:pre-wrap}\
.level{font-weight:700}table{border-collapse:collapse;width:100%;font-size:.9em;margin:.5em 0}th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}\
td.num{text-align:right;font-variant-numeric:tabular-nums}blockquote{margin:.3em 0 .8em;padding:.2em .8em;border-left:3px solid #c62828;color:#333;white-space:pre-wrap}\
.turn{margin:.6em 0 1em}.turn p{margin:.2em 0;white-space:pre-wrap}.muted{color:#666;font-style:italic}svg{max-width:100%;height:auto}\
@media print{body{max-width:none;padding:0;font-size:11pt}h2{break-after:avoid}.turn,tr,blockquote{break-inside:avoid}a{color:inherit;text-decoration:none}}\
@page{margin:18mm}";

/// The report as an HTML page.
pub fn render(report: &Report) -> String {
    let mut h = String::with_capacity(16384);
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    h.push_str(&format!(
        "<title>Panel report: {}</title><style>{STYLE}</style></head><body><main>",
        escape(&super::excerpt(&report.query, 90))
    ));
    h.push_str(&format!("<h1>Panel report</h1><p><strong>Question:</strong> {}</p>", escape(report.query.trim())));
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
    h.push_str(&format!("<p class=\"meta\">{} · panel <code>{}</code></p>", escape(&meta), escape(&report.panel_id)));
    if let Some(parent) = &report.parent {
        h.push_str(&format!(
            "<p class=\"meta\">{} of panel <code>{}</code>.</p>",
            if parent.relation == "rerun" { "A re-run" } else { "A follow-up" },
            escape(&parent.id)
        ));
    }
    if !report.status.is_terminal() {
        h.push_str("<p class=\"note\">This panel has not finished: the report shows what it has so far.</p>");
    }
    if let Some(error) = &report.error {
        h.push_str(&format!("<p class=\"note\">The panel failed: {}</p>", escape(error.trim())));
    }

    h.push_str("<section><h2>Recommendation</h2>");
    match &report.recommendation {
        Some(r) => {
            h.push_str(&format!("<div class=\"recommendation\">{}</div><h3>Conditions</h3>", escape(r.text.trim())));
            if r.conditions.is_empty() {
                h.push_str("<p class=\"muted\">The recommendation states no separate conditions.</p>");
            } else {
                h.push_str("<ul class=\"conditions\">");
                for c in &r.conditions {
                    h.push_str(&format!("<li>{}</li>", escape(c)));
                }
                h.push_str("</ul>");
            }
        }
        None => h.push_str("<p class=\"muted\">No recommendation (yet).</p>"),
    }
    h.push_str("</section>");

    if let Some(v) = &report.verdict {
        h.push_str(&format!(
            "<section><h2>Verdict</h2><p><strong>{}</strong> · pro {}, con {}, margin {} of 10</p><p>{}</p></section>",
            match v.winner.as_str() {
                "pro" => "The pro team wins",
                "con" => "The con team wins",
                _ => "A tie",
            },
            figure(v.pro_score),
            figure(v.con_score),
            figure(v.margin),
            escape(v.rationale.trim())
        ));
    }

    h.push_str("<section><h2>Agreement</h2>");
    match &report.outcome {
        Some(o) => h.push_str(&format!(
            "<p><span class=\"level\">{}</span> · {} agreement · median {} · IQR {} · mean {} · n = {} · round {} · method {}</p><p class=\"explanation\">{}</p>",
            capitalise(level_name(o.level)),
            percent(o.agreement),
            figure(o.median),
            figure(o.iqr),
            figure(o.mean),
            o.n,
            o.round,
            escape(&wire(&o.method)),
            escape(&o.explanation)
        )),
        None => h.push_str("<p class=\"muted\">The panel did not rate, so no consensus was measured.</p>"),
    }
    h.push_str("<h3>Dissent</h3>");
    if report.dissent.is_empty() {
        h.push_str("<p class=\"muted\">Nobody dissented from the panel's position.</p>");
    } else {
        for d in &report.dissent {
            h.push_str(&format!(
                "<p><strong>{}</strong>{}, strongest argument (round {}):</p><blockquote>{}</blockquote>",
                escape(&d.name),
                d.rating.map(|r| format!(" rated {r} of 9")).unwrap_or_default(),
                d.round,
                escape(&d.argument)
            ));
        }
    }
    h.push_str("</section>");

    h.push_str("<section><h2>Rounds</h2>");
    if let Some(svg) = &report.chart_svg {
        // Built by chart::svg from numbers and escaped text only.
        h.push_str(&format!("<figure>{svg}<figcaption class=\"meta\">Ratings by round: each member a dot, the median a line, the interquartile range a band; shaded: against (1-3), undecided (4-6), for (7-9).</figcaption></figure>"));
    }
    h.push_str("<table><thead><tr><th>Round</th><th>Phase</th><th>Median</th><th>IQR</th><th>Mean</th><th>n</th><th>Level</th><th>Agreement</th><th>Decision</th></tr></thead><tbody>");
    for r in &report.rounds {
        let num = |v: Option<f64>| v.map_or_else(|| "–".to_string(), figure);
        h.push_str(&format!(
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            r.round,
            escape(&phase_label(&r.phase)),
            num(r.median),
            num(r.iqr),
            num(r.mean),
            r.n,
            r.level.map_or("–", level_name),
            r.agreement_pct.map_or_else(|| "–".to_string(), |p| format!("{p}%")),
            r.decision.map_or_else(|| "–".to_string(), |d| wire(&d).replace('_', " "))
        ));
    }
    h.push_str("</tbody></table></section>");

    h.push_str("<section><h2>Members</h2><table><thead><tr><th>Name</th><th>Title</th><th>Domain</th><th>Model</th><th>Side or role</th></tr></thead><tbody>");
    for m in &report.members {
        let side = match (m.team, m.role) {
            (Some(team), _) => wire(&team),
            (None, Some(role)) => wire(&role),
            _ if m.kind == MemberKind::Human => "human".to_string(),
            _ => String::new(),
        };
        let model = m
            .model
            .clone()
            .unwrap_or_else(|| if m.kind == MemberKind::Human { "person".into() } else { String::new() });
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.name),
            escape(m.title.as_deref().unwrap_or("")),
            escape(m.domain.as_deref().unwrap_or("")),
            escape(&model),
            escape(&side)
        ));
    }
    h.push_str("</tbody></table></section>");

    if !report.sources.is_empty() {
        h.push_str("<section><h2>Sources cited</h2><ul>");
        for s in &report.sources {
            let place = match (s.page, &s.heading) {
                (Some(page), _) => format!(", page {page}"),
                (None, Some(heading)) => format!(", “{}”", heading.trim()),
                _ => String::new(),
            };
            h.push_str(&format!(
                "<li>[{}] {}{}, passage {} (cited {}×)</li>",
                escape(&s.label),
                escape(s.title.trim()),
                escape(&place),
                s.n,
                s.cited
            ));
        }
        h.push_str("</ul></section>");
    }

    h.push_str("<section><h2>Transcript</h2>");
    for round in &report.transcript {
        h.push_str(&format!("<h3>Round {}: {}</h3>", round.round, escape(&phase_label(&round.phase))));
        for t in &round.turns {
            let mut head = format!("<strong>{}</strong>", escape(&t.name));
            if let Some(r) = t.rating {
                head.push_str(&format!(" (rating {r} of 9"));
                if let Some(c) = t.confidence {
                    head.push_str(&format!(", confidence {}", figure(c)));
                }
                head.push(')');
            }
            h.push_str(&format!("<div class=\"turn\"><p>{head}</p><p>{}</p>", escape(t.text.trim())));
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
    h.push_str("</section>");

    h.push_str("<section><h2>Configuration and usage</h2><ul>");
    h.push_str(&format!(
        "<li>Format: {}</li><li>Rounds: {} of at most {}</li><li>Consensus method: {}</li><li>Human turn timeout: {} s</li>",
        escape(&wire(&report.panel_type)),
        report.rounds.len(),
        report.config.max_rounds,
        escape(&wire(&report.config.consensus_method)),
        report.config.human_turn_timeout_s
    ));
    if !report.config.documents.is_empty() {
        let docs: Vec<String> =
            report.config.documents.iter().map(|d| format!("{} {}", d.label, d.title.trim())).collect();
        h.push_str(&format!("<li>Documents: {}</li>", escape(&docs.join("; "))));
    }
    h.push_str(&format!(
        "<li>Turns: {} · tokens read {} · tokens written {}</li>",
        report.usage.turns, report.usage.tokens_in, report.usage.tokens_out
    ));
    if let Some(seconds) = report.duration_s {
        h.push_str(&format!("<li>Duration: {}</li>", duration(seconds)));
    }
    h.push_str(&format!(
        "</ul><p class=\"meta\">Generated by askpanel on {}.</p></section></main></body></html>",
        report.generated_at.format("%Y-%m-%d %H:%M UTC")
    ));
    h
}
