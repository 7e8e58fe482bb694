//! Grounded turns of the simulated experts: they quote the passages they
//! were given and cite each by its label.

use crate::model::TurnRequest;
use crate::model::rng::SplitMix64;

/// One or two sentences quoting the best passages given for the turn, each
/// cited by its label: the simulated expert cites only what it was given.
pub(super) fn evidence_sentences(request: &TurnRequest, rng: &mut SplitMix64) -> Vec<String> {
    let mut out = Vec::new();
    let cited = if request.evidence.len() > 1 && rng.unit() < 0.5 { 2 } else { 1 };
    for given in request.evidence.iter().take(cited) {
        let quote = quotable(&given.passage.text);
        if quote.is_empty() {
            continue;
        }
        let lead = if out.is_empty() { "The record is specific here" } else { "It also notes" };
        out.push(format!("{lead}: \"{quote}\" [{}].", given.label));
    }
    out
}

/// The first sentence of a passage, at most 24 words, without quote marks.
fn quotable(text: &str) -> String {
    let sentence = text.split_inclusive(['.', '!', '?']).map(str::trim).find(|s| s.split_whitespace().count() >= 4);
    let sentence = sentence.unwrap_or(text.trim());
    let words: Vec<&str> = sentence.split_whitespace().take(24).collect();
    let mut quote =
        words.join(" ").replace(['"', '\u{201c}', '\u{201d}'], "'").trim_end_matches(['.', '!', '?']).to_string();
    if sentence.split_whitespace().count() > 24 {
        quote.push_str("...");
    }
    quote
}
