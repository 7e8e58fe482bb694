//! Reading a recommendation's text: the conditions it states, and excerpts
//! cut at a sentence. Pure, table-tested in `tests.rs`.

/// The most conditions read from one recommendation.
const MAX_CONDITIONS: usize = 10;
/// The longest condition kept, in characters.
const CONDITION_MAX_CHARS: usize = 300;

/// The conditions a recommendation states: a `Conditions:` list (split at
/// `;` or at its bullet lines), else its bullet or numbered lines, else the
/// sentences that attach a condition ("provided that", "on condition
/// that", "subject to", "as long as", "only if"). Empty when it states none.
pub fn conditions(text: &str) -> Vec<String> {
    let mut found = labelled(text);
    if found.is_empty() {
        found = text.lines().filter_map(bullet).map(str::to_string).collect();
    }
    if found.is_empty() {
        found = sentences(text)
            .into_iter()
            .filter(|s| {
                let lower = s.to_lowercase();
                ["provided that", "on condition that", "subject to", "as long as", "only if", "on the condition"]
                    .iter()
                    .any(|m| lower.contains(m))
            })
            .collect();
    }
    let mut out: Vec<String> = Vec::new();
    for condition in found {
        let condition = condition.trim().trim_end_matches(['.', ';', ',']).trim();
        if condition.is_empty() || out.iter().any(|c| c.eq_ignore_ascii_case(condition)) {
            continue;
        }
        out.push(excerpt(condition, CONDITION_MAX_CHARS));
        if out.len() == MAX_CONDITIONS {
            break;
        }
    }
    out
}

/// The list after a `Conditions:` label (any case, also "Conditions
/// attached:"): the first "condition" at the start of a word that a colon
/// follows within a few words, with no sentence or line break between.
fn labelled(text: &str) -> Vec<String> {
    // ASCII lowering keeps every byte offset (full lowering may not).
    let lower = text.to_ascii_lowercase();
    let mut label = None;
    for (at, _) in lower.match_indices("condition") {
        let starts_word = lower[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
        if !starts_word {
            continue;
        }
        let after_word = &text[at..];
        let Some(colon) = after_word.char_indices().take(40).find(|(_, c)| *c == ':').map(|(i, _)| i) else {
            continue;
        };
        if !after_word[..colon].contains(['.', '\n', ';']) {
            label = Some((at, colon));
            break;
        }
    }
    let Some((at, colon)) = label else { return Vec::new() };
    let after_word = &text[at..];
    let rest = &after_word[colon + 1..];
    // A list of lines (bullets) right after the label.
    let first_line = rest.lines().next().unwrap_or("").trim();
    if first_line.is_empty() {
        let items: Vec<String> = rest
            .lines()
            .skip(1)
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| bullet(l).is_some())
            .filter_map(bullet)
            .map(str::to_string)
            .collect();
        if !items.is_empty() {
            return items;
        }
    }
    // Inline: up to the end of the sentence that holds the list.
    let end = sentence_end(rest);
    let list = &rest[..end];
    let parts: Vec<String> =
        if list.contains(';') { list.split(';').map(str::to_string).collect() } else { vec![list.to_string()] };
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The text of a bullet or numbered line, without its marker.
fn bullet(line: &str) -> Option<&str> {
    let line = line.trim();
    for marker in ["- ", "* ", "• ", "– "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest.trim()).filter(|r| !r.is_empty());
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if (1..=2).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest.trim()).filter(|r| !r.is_empty());
        }
    }
    None
}

/// Where the sentence that starts `text` ends: a `.`, `!` or `?` followed by
/// a space and a capital letter (or the end), or a blank line.
fn sentence_end(text: &str) -> usize {
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, c)) in bytes.iter().enumerate() {
        if c == '\n' && bytes.get(i + 1).is_some_and(|(_, n)| *n == '\n') {
            return at;
        }
        if matches!(c, '.' | '!' | '?') {
            match (bytes.get(i + 1), bytes.get(i + 2)) {
                (None, _) => return at,
                (Some((_, ' ' | '\n')), Some((_, n))) if n.is_uppercase() || *n == '[' => return at,
                (Some((_, ' ' | '\n')), None) => return at,
                _ => {}
            }
        }
    }
    text.len()
}

/// The sentences of a text.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let end = sentence_end(rest);
        let sentence = rest[..end].trim();
        if !sentence.is_empty() {
            out.push(sentence.to_string());
        }
        rest = rest[end..].trim_start_matches(['.', '!', '?']).trim_start();
        if out.len() > 200 {
            break;
        }
    }
    out
}

/// A text cut to at most `max` characters, at the end of a sentence when one
/// ends past half of it, else at a space, with `…` when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let sentence = cut.rfind(['.', '!', '?']).filter(|&i| i >= cut.len() / 2);
    if let Some(i) = sentence {
        return cut[..=i].to_string();
    }
    let word = cut.rfind(char::is_whitespace).filter(|&i| i > 0).unwrap_or(cut.len());
    format!("{}…", cut[..word].trim_end())
}
