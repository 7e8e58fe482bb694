//! Grounded panels: the documents a panel deliberates over, the passages an
//! AI member is given for a turn (labelled like `[D2:p14]`: the panel's
//! second document, its 14th passage), and the rules that read the
//! citations of a turn and check each against what that member was given.
//! Everything here is pure except the [`Evidence`] port, which the server
//! implements over its document store.

use std::collections::BTreeMap;

use futures::future::BoxFuture;

pub use crate::domain::grounding::{
    Citation, DEFAULT_BUDGET_CHARS, DocumentId, EvidenceUse, GivenPassage, PanelDocument, Passage, Source,
};
use crate::domain::{ExpertProfile, TenantId};
use crate::panel::strategy::MemberView;

/// The most passages one turn is given, whatever the budget.
pub const MAX_PASSAGES: usize = 8;
/// The most words of a retrieval query.
const MAX_QUERY_TERMS: usize = 40;

/// What a turn asks the store for.
#[derive(Clone, Debug, PartialEq)]
pub struct EvidenceQuery {
    /// The documents to search: the panel's, never another tenant's.
    pub documents: Vec<DocumentId>,
    /// Free text; ranked by BM25 (or the backend's full-text rank).
    pub text: String,
    /// The most passages to return, best first.
    pub limit: usize,
}

/// The document store, as the engine sees it: passages ranked for a query,
/// only ever of the given tenant's ready documents.
pub trait Evidence: Send + Sync + 'static {
    /// The best passages for the query, best first.
    fn retrieve(&self, tenant: TenantId, query: EvidenceQuery) -> BoxFuture<'static, Result<Vec<Passage>, String>>;
}

/// No documents: every query finds nothing (panels without documents never ask).
pub struct NoEvidence;

impl Evidence for NoEvidence {
    fn retrieve(&self, _: TenantId, _: EvidenceQuery) -> BoxFuture<'static, Result<Vec<Passage>, String>> {
        Box::pin(futures::future::ready(Ok(Vec::new())))
    }
}

/// The label of a panel's `index`-th document (0-based): `D1`, `D2`...
pub fn document_label(index: usize) -> String {
    format!("D{}", index + 1)
}

/// The retrieval query of a turn: the question, the round's focus (the
/// socratic question, the questioner's focus, a moderator's injections) and
/// the member's persona (domain, tags, concerns), in that order of weight,
/// as distinct lower-case words without stop words.
pub fn query_text(profile: &ExpertProfile, view: &MemberView) -> String {
    let mut parts: Vec<&str> = vec![&view.query];
    parts.extend(view.question.as_deref());
    parts.extend(view.focus.as_deref());
    parts.extend(view.injections.iter().map(String::as_str));
    parts.push(&profile.domain);
    parts.extend(profile.tags.iter().map(String::as_str));
    parts.extend(profile.concerns.iter().map(String::as_str));
    let mut seen = std::collections::BTreeSet::new();
    let mut terms = Vec::new();
    for word in parts.iter().flat_map(|p| words(p)) {
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
        if word.chars().count() > 1 && !is_stop_word(&word) && seen.insert(word.clone()) {
            terms.push(word);
        }
    }
    terms.join(" ")
}

/// The words of a text, lower-cased: runs of letters and digits.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

/// Common English words that rank nothing.
pub fn is_stop_word(word: &str) -> bool {
    const STOP: &[&str] = &[
        "a", "about", "after", "all", "also", "an", "and", "any", "are", "as", "at", "be", "been", "before", "but",
        "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "if", "in", "into",
        "is", "it", "its", "may", "more", "most", "must", "no", "not", "of", "on", "or", "our", "out", "over",
        "should", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
        "to", "under", "up", "us", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why",
        "will", "with", "would", "you", "your",
    ];
    STOP.binary_search(&word).is_ok()
}

/// Labels the passages retrieved for a turn and keeps those that fit the
/// budget, best first: at most [`MAX_PASSAGES`]; a passage that does not fit
/// whole is left out, except the first, which is cut to the budget so that a
/// turn with evidence always gets some. Passages of documents the panel does
/// not have are dropped (the store should never return them).
pub fn give(documents: &[PanelDocument], passages: Vec<Passage>, budget: u32) -> (Vec<GivenPassage>, EvidenceUse) {
    let budget_chars = budget as usize;
    let mut used = 0usize;
    let mut given = Vec::new();
    for mut passage in passages {
        if given.len() == MAX_PASSAGES {
            break;
        }
        let Some(document) = documents.iter().find(|d| d.id == passage.document_id) else { continue };
        let chars = passage.text.chars().count();
        if used + chars > budget_chars {
            if !given.is_empty() {
                continue;
            }
            passage.text = passage.text.chars().take(budget_chars).collect();
        }
        used += passage.text.chars().count();
        let label = format!("{}:p{}", document.label, passage.n);
        given.push(GivenPassage { label, title: document.title.clone(), passage });
    }
    let evidence = EvidenceUse {
        passages: given.iter().map(|g| g.label.clone()).collect(),
        chars: used as u64,
        budget: budget as u64,
        error: None,
    };
    (given, evidence)
}

/// The labels cited in a text, in order of first appearance, normalised to
/// `D2:p14`: any `D<n>:p<m>` inside square brackets or parentheses (so
/// `[D1:p3]`, `[D1:p3, D2:p5]`, `(see D1:p3)`), letters in either case.
pub fn cited_labels(text: &str) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find(['[', '(']) {
        let closer = if rest[open..].starts_with('[') { ']' } else { ')' };
        let inner_start = open + 1;
        // A group longer than this is prose, not a citation.
        let window_end = rest[inner_start..].char_indices().nth(120).map_or(rest.len(), |(i, _)| inner_start + i);
        let Some(close) = rest[inner_start..window_end].find(closer) else {
            rest = &rest[inner_start..];
            continue;
        };
        for label in labels_in(&rest[inner_start..inner_start + close]) {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
        rest = &rest[inner_start + close + 1..];
    }
    labels
}

/// The `D<n>:p<m>` tokens of a bracket group.
fn labels_in(group: &str) -> Vec<String> {
    let bytes = group.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if matches!(bytes[i], b'D' | b'd') && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let doc_start = i + 1;
            let doc_end = digits_end(bytes, doc_start);
            if doc_end > doc_start && doc_end - doc_start <= 4 {
                let mut j = doc_end;
                if bytes.get(j) == Some(&b':') {
                    j += 1;
                    while bytes.get(j) == Some(&b' ') {
                        j += 1;
                    }
                    if matches!(bytes.get(j), Some(b'p' | b'P')) {
                        let n_start = j + 1;
                        let n_end = digits_end(bytes, n_start);
                        let ends_word = bytes.get(n_end).is_none_or(|b| !b.is_ascii_alphanumeric());
                        if n_end > n_start && n_end - n_start <= 6 && ends_word {
                            let doc: u32 = group[doc_start..doc_end].parse().unwrap_or(0);
                            let n: u32 = group[n_start..n_end].parse().unwrap_or(0);
                            found.push(format!("D{doc}:p{n}"));
                            i = n_end;
                            continue;
                        }
                    }
                }
            }
        }
        i += 1;
    }
    found
}

fn digits_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    end
}

/// Every citation of a turn's text, checked against the passages the member
/// was given: a label not among them is invalid (invented, or of a passage
/// another member was given).
pub fn check_turn(text: &str, given: &[GivenPassage]) -> Vec<Citation> {
    cited_labels(text)
        .into_iter()
        .map(|label| match given.iter().find(|g| g.label == label) {
            Some(g) => valid_citation(label, &g.passage),
            None => invalid_citation(label),
        })
        .collect()
}

/// The citations of a recommendation's text, checked against what the
/// turns validly cited (the drafter is shown the turns, not the passages).
pub fn check_recommendation(text: &str, cited_by_turns: &BTreeMap<String, Citation>) -> Vec<Citation> {
    cited_labels(text)
        .into_iter()
        .map(|label| match cited_by_turns.get(&label) {
            Some(c) => c.clone(),
            None => invalid_citation(label),
        })
        .collect()
}

fn valid_citation(label: String, passage: &Passage) -> Citation {
    Citation {
        label,
        valid: true,
        document_id: Some(passage.document_id),
        n: Some(passage.n),
        page: passage.page,
        heading: passage.heading.clone(),
    }
}

fn invalid_citation(label: String) -> Citation {
    Citation { label, valid: false, document_id: None, n: None, page: None, heading: None }
}

/// The sources a recommendation rests on: every passage validly cited by the
/// turns so far or by the recommendation itself, with how often, most cited
/// first (then in label order).
pub fn sources<'a>(documents: &[PanelDocument], citations: impl IntoIterator<Item = &'a Citation>) -> Vec<Source> {
    let mut counted: BTreeMap<&str, (&Citation, u32)> = BTreeMap::new();
    for citation in citations.into_iter().filter(|c| c.valid) {
        counted.entry(&citation.label).or_insert((citation, 0)).1 += 1;
    }
    let mut out: Vec<Source> = counted
        .into_values()
        .filter_map(|(c, cited)| {
            let document_id = c.document_id?;
            let title = documents.iter().find(|d| d.id == document_id).map(|d| d.title.clone()).unwrap_or_default();
            Some(Source {
                label: c.label.clone(),
                document_id,
                n: c.n?,
                title,
                page: c.page,
                heading: c.heading.clone(),
                cited,
            })
        })
        .collect();
    out.sort_by(|a, b| b.cited.cmp(&a.cited).then_with(|| label_order(&a.label).cmp(&label_order(&b.label))));
    out
}

/// The sources of a recommendation's text given every citation of the
/// panel's turns so far: what the turns validly cited, and what the text
/// itself cites of that (a label no turn validly cited counts for nothing).
pub fn recommendation_sources<'a>(
    documents: &[PanelDocument],
    turn_citations: impl IntoIterator<Item = &'a Citation>,
    text: &str,
) -> Vec<Source> {
    let turns: Vec<&Citation> = turn_citations.into_iter().collect();
    let valid: BTreeMap<String, Citation> =
        turns.iter().filter(|c| c.valid).map(|c| (c.label.clone(), (*c).clone())).collect();
    let own = check_recommendation(text, &valid);
    sources(documents, turns.into_iter().chain(own.iter()))
}

/// `D2:p14` as (2, 14), for ordering.
fn label_order(label: &str) -> (u32, u32) {
    let mut parts = label.trim_start_matches('D').split(":p").map(|p| p.parse().unwrap_or(u32::MAX));
    (parts.next().unwrap_or(u32::MAX), parts.next().unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests;
