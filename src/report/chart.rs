//! The ratings chart of a report as SVG: rounds across, the 1-9 scale up,
//! the three tertile bands shaded, each member's rating a dot, the IQR a
//! band and the median a line. Labels use the report's rounded figures.

use askpanel_actors::consensus::figures::figure;

use super::RoundRow;

/// Plot geometry, in SVG user units.
pub const WIDTH: f64 = 640.0;
pub const HEIGHT: f64 = 300.0;
pub const LEFT: f64 = 48.0;
pub const RIGHT: f64 = 16.0;
pub const TOP: f64 = 16.0;
pub const BOTTOM: f64 = 40.0;

/// Where a rating (1-9) sits vertically.
pub fn y_of(rating: f64) -> f64 {
    let plot = HEIGHT - TOP - BOTTOM;
    TOP + plot * (9.0 - rating.clamp(1.0, 9.0)) / 8.0
}

/// Where the round at `index` (of `count`) sits horizontally.
pub fn x_of(index: usize, count: usize) -> f64 {
    let plot = WIDTH - LEFT - RIGHT;
    LEFT + plot * (index as f64 + 0.5) / count.max(1) as f64
}

/// A dot's horizontal offset, so members with the same rating stay apart.
pub fn spread(position: usize, of: usize, round_width: f64) -> f64 {
    if of <= 1 {
        return 0.0;
    }
    let span = (round_width * 0.5).min(12.0 * of as f64);
    -span / 2.0 + span * position as f64 / (of - 1) as f64
}

/// The rounds that were rated, with their index among all rounds.
pub fn rated(rounds: &[RoundRow]) -> Vec<&RoundRow> {
    rounds.iter().filter(|r| !r.ratings.is_empty()).collect()
}

/// The chart, or `None` when no round was rated.
pub fn svg(rounds: &[RoundRow], query: &str) -> Option<String> {
    let rated = rated(rounds);
    if rated.is_empty() {
        return None;
    }
    let count = rated.len();
    let round_width = (WIDTH - LEFT - RIGHT) / count as f64;
    let mut out = String::with_capacity(4096);
    let summary: Vec<String> = rated
        .iter()
        .map(|r| {
            format!(
                "round {}: median {}, IQR {}, {} ratings",
                r.round,
                r.median.map_or_else(|| "n/a".to_string(), figure),
                r.iqr.map_or_else(|| "n/a".to_string(), figure),
                r.ratings.len()
            )
        })
        .collect();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">"
    ));
    out.push_str(&format!(
        "<title id=\"chart-title\">Ratings by round: {}</title><desc id=\"chart-desc\">{}</desc>",
        escape(&super::excerpt(query, 80)),
        escape(&summary.join("; "))
    ));
    // The tertile bands: against (1-3), undecided (4-6), for (7-9).
    for (from, to, fill, label) in
        [(0.5_f64, 3.5_f64, "#fbe9e7", "against"), (3.5, 6.5, "#f3f3f3", "undecided"), (6.5, 9.5, "#e8f5e9", "for")]
    {
        let (y1, y2) = (y_of(to.min(9.0)), y_of(from.max(1.0)));
        out.push_str(&format!(
            "<rect x=\"{LEFT}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{label}</title></rect>",
            WIDTH - LEFT - RIGHT,
            y2 - y1
        ));
    }
    for rating in 1..=9 {
        let y = y_of(f64::from(rating));
        out.push_str(&format!(
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#d0d0d0\" stroke-width=\"0.5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#444\">{rating}</text>",
            WIDTH - RIGHT,
            LEFT - 8.0,
            y + 4.0
        ));
    }
    // The IQR band and the median line.
    let mut median_points = Vec::new();
    for (i, round) in rated.iter().enumerate() {
        let x = x_of(i, count);
        if let Some((q1, q3)) = round.quartiles {
            let half = (round_width * 0.35).min(40.0);
            let (top, bottom) = (y_of(q3), y_of(q1));
            out.push_str(&format!(
                "<rect class=\"iqr\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#90caf9\" fill-opacity=\"0.45\"><title>Round {}: interquartile range {} to {}</title></rect>",
                x - half,
                2.0 * half,
                (bottom - top).max(1.5),
                round.round,
                figure(q1),
                figure(q3)
            ));
        }
        if let Some(median) = round.median {
            median_points.push(format!("{x:.1},{:.1}", y_of(median)));
        }
        out.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#222\">Round {}</text>",
            HEIGHT - BOTTOM + 18.0,
            round.round
        ));
        if let Some(median) = round.median {
            out.push_str(&format!(
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">median {}</text>",
                HEIGHT - BOTTOM + 32.0,
                figure(median)
            ));
        }
    }
    if !median_points.is_empty() {
        out.push_str(&format!(
            "<polyline class=\"median\" points=\"{}\" fill=\"none\" stroke=\"#1565c0\" stroke-width=\"2\"/>",
            median_points.join(" ")
        ));
        for (i, round) in rated.iter().enumerate() {
            if let Some(median) = round.median {
                out.push_str(&format!(
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#1565c0\"><title>Round {}: median {}</title></rect>",
                    x_of(i, count) - 4.0,
                    y_of(median) - 4.0,
                    round.round,
                    figure(median)
                ));
            }
        }
    }
    // The members' ratings.
    for (i, round) in rated.iter().enumerate() {
        let x = x_of(i, count);
        let of = round.ratings.len();
        for (position, point) in round.ratings.iter().enumerate() {
            let dx = spread(position, of, round_width);
            out.push_str(&format!(
                "<circle class=\"rating\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#fff\" stroke=\"#333\" stroke-width=\"1.5\"><title>Round {}: rating {}</title></circle>",
                x + dx,
                y_of(f64::from(point.rating)),
                round.round,
                point.rating
            ));
        }
    }
    out.push_str("</svg>");
    Some(out)
}

/// Text for XML (and HTML) content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
