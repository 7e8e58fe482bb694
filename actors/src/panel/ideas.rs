//! Open panels collect ideas and deduplicate them: two ideas are the same
//! when their content words overlap strongly (Jaccard similarity of word sets,
//! after lower-casing and dropping stop words and plural `s`).

use std::collections::HashSet;

/// Above this Jaccard similarity two ideas count as one.
pub const DUPLICATE_THRESHOLD: f64 = 0.6;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it", "its", "of", "on", "or",
    "our", "should", "that", "the", "their", "this", "to", "we", "with", "will", "would", "can", "could", "than",
];

fn content_words(idea: &str) -> HashSet<String> {
    idea.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = w.to_lowercase();
            match w.strip_suffix('s') {
                Some(stem) if stem.len() > 3 => stem.to_string(),
                _ => w,
            }
        })
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// Jaccard similarity of the content words of two ideas.
pub fn similarity(a: &str, b: &str) -> f64 {
    jaccard(&content_words(a), &content_words(b))
}

fn jaccard(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count() as f64;
    if union == 0.0 { 1.0 } else { a.intersection(b).count() as f64 / union }
}

/// Whether `idea` repeats one of `known`.
pub fn is_duplicate(known: &[String], idea: &str) -> bool {
    let words = content_words(idea);
    words.is_empty() || known.iter().any(|k| jaccard(&content_words(k), &words) > DUPLICATE_THRESHOLD)
}

/// The ideas of `candidates` that are new relative to `known` and to each other, in order.
pub fn new_ideas(known: &[String], candidates: &[String]) -> Vec<String> {
    let mut seen: Vec<String> = known.to_vec();
    let mut fresh = Vec::new();
    for idea in candidates {
        let idea = idea.trim();
        if !is_duplicate(&seen, idea) {
            seen.push(idea.to_string());
            fresh.push(idea.to_string());
        }
    }
    fresh
}

/// Reads ideas from a turn's text: the bullet lines (`-`, `*`, `•` or `1.`)
/// of the text, or failing that nothing.
pub fn extract_ideas(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("- ")
                .or_else(|| line.strip_prefix("* "))
                .or_else(|| line.strip_prefix("• "))
                .or_else(|| {
                    let digits = line.chars().take_while(char::is_ascii_digit).count();
                    (digits > 0 && digits < 3)
                        .then(|| line[digits..].strip_prefix(". ").or_else(|| line[digits..].strip_prefix(") ")))
                        .flatten()
                })?;
            let rest = rest.trim();
            (rest.len() >= 8).then(|| rest.chars().take(300).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_text_is_read_for_ideas_without_panicking(text in "\\PC{0,300}", known in proptest::collection::vec("\\PC{0,40}", 0..4)) {
            let ideas = extract_ideas(&text);
            let _ = new_ideas(&known, &ideas);
            for idea in &ideas {
                let _ = is_duplicate(&known, idea);
            }
        }
    }

    #[test]
    fn rewordings_of_the_same_idea_are_duplicates() {
        let known = vec!["Run a pre-submission meeting with the FDA".to_string()];
        assert!(is_duplicate(&known, "run a pre-submission meeting with FDA"));
        assert!(is_duplicate(&known, "Pre-submission meetings with the FDA should run"));
        assert!(!is_duplicate(&known, "Collect real-world evidence on false negatives"));
    }

    #[test]
    fn new_ideas_drop_repeats_within_the_same_turn() {
        let fresh = new_ideas(
            &[],
            &["Budget impact for payers".into(), "budget impact for the payers".into(), "Cybersecurity SBOM".into()],
        );
        assert_eq!(fresh, vec!["Budget impact for payers".to_string(), "Cybersecurity SBOM".to_string()]);
    }

    #[test]
    fn ideas_are_read_from_bullets_and_numbered_lines() {
        let text = "Intro line\n- Ask for a pre-sub meeting\n2. Validate on a second site\n* short\nplain line";
        assert_eq!(
            extract_ideas(text),
            vec!["Ask for a pre-sub meeting".to_string(), "Validate on a second site".to_string()]
        );
    }
}
