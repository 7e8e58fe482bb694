//! The simulated rapporteur: a draft or final recommendation assembled from
//! what the members said (the position the ratings lean to, the conditions
//! they raised, the figures, the dissent, the passages cited).

use super::{SIMULATED_LABEL, options_of, rng_for};
use crate::model::DraftRequest;
use crate::panel::ideas;

/// A simulated draft or final recommendation, assembled from what was said.
pub(super) fn compose_draft(request: &DraftRequest) -> String {
    let mut rng = rng_for(&request.simulation, &[&request.query, &request.round.to_string(), "draft"]);
    let options = options_of(&request.query);
    let ratings: Vec<u8> = request.transcript.iter().filter_map(|t| t.rating).collect();
    let lean_first =
        ratings.is_empty() || ratings.iter().map(|&r| f64::from(r)).sum::<f64>() / ratings.len() as f64 >= 5.0;
    let position = match &options {
        Some((a, b)) if lean_first => format!("pursue {a} rather than {b}"),
        Some((a, b)) => format!("pursue {b} rather than {a}"),
        None if lean_first => "proceed, subject to the conditions below".to_string(),
        None => "not proceed yet, and revisit once the conditions below are met".to_string(),
    };
    // Conditions: the issues voiced in the latest statements, read back from
    // the phrases the simulated experts use for them.
    const MARKERS: &[(&str, &str)] = &[
        ("concern is ", "."),
        ("stands or falls on ", "."),
        ("quantify the risk around ", "."),
        ("name an owner for ", "."),
        ("trade away ", " for speed"),
        ("mostly about ", "."),
    ];
    let mut conditions: Vec<String> = Vec::new();
    for entry in request.transcript.iter().rev() {
        for (start, end) in MARKERS {
            let Some(rest) = entry.text.split(start).nth(1) else { continue };
            let condition = rest.split(end).next().unwrap_or(rest).trim_end_matches(['.', ',']).trim().to_string();
            if !condition.is_empty()
                && condition.split_whitespace().count() <= 12
                && conditions.len() < 4
                && !ideas::is_duplicate(&conditions, &condition)
            {
                conditions.push(condition);
            }
        }
    }
    conditions.extend(request.ideas.iter().take(4usize.saturating_sub(conditions.len())).cloned());
    if conditions.is_empty() {
        conditions.push("a documented plan for the open risks".to_string());
    }
    let mut text = format!(
        "{SIMULATED_LABEL} {} (round {}): the panel should {position}.",
        if request.is_final { "Recommendation" } else { "Draft recommendation" },
        request.round
    );
    text.push_str(" Conditions: ");
    text.push_str(&conditions.join("; "));
    text.push('.');
    if let Some(c) = &request.consensus {
        use crate::consensus::figures::{figure, level_name, percent};
        text.push_str(&format!(
            " Agreement: {} (median {}, IQR {}, n = {}, {} agreement).",
            level_name(c.level),
            figure(c.median),
            figure(c.iqr),
            c.n,
            percent(c.agreement)
        ));
    }
    if !request.dissenters.is_empty() {
        text.push_str(&format!(
            " Dissent: {} rated the draft outside the panel's band; their views stand in the record.",
            request.dissenters.join(", ")
        ));
    }
    let mut cited: Vec<(String, usize)> = Vec::new();
    for label in request.transcript.iter().flat_map(|t| crate::evidence::cited_labels(&t.text)) {
        match cited.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => cited.push((label, 1)),
        }
    }
    cited.sort_by_key(|c| std::cmp::Reverse(c.1));
    if !cited.is_empty() {
        let labels: Vec<String> = cited.iter().take(3).map(|(l, _)| format!("[{l}]")).collect();
        text.push_str(&format!(" It rests on {}.", labels.join(", ")));
    }
    if rng.unit() < 0.5 && !request.is_final {
        text.push_str(" The next round should test these conditions against the strongest objection.");
    }
    text
}
