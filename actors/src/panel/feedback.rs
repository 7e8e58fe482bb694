//! Delphi feedback: after each round the facilitator (the consensus actor's
//! model call) synthesises the round's anonymous rationales into arguments
//! for and against and open questions, attributed to nobody. The next round's
//! members see the statistics and this synthesis, never a cut of the raw
//! rationales: every rationale is read by the facilitator, and whatever was
//! condensed to fit the budget is said to be.
//!
//! [`extractive`] is the synthesis without a model (the simulated experts
//! and a fallback when the facilitator's answer cannot be read): each
//! rationale's key sentence, grouped by the side its rating took.

pub use crate::domain::{Feedback, Rationale};

use crate::consensus::Tertile;
use crate::panel::ideas;

/// Longest argument kept, in characters.
pub const MAX_ARGUMENT_CHARS: usize = 300;
/// Most arguments kept per list.
pub const MAX_ARGUMENTS: usize = 6;

/// The key sentence of a rationale: its first sentence of substance (labels
/// like `[simulated]` and lead-ins like "My rationale:" removed).
pub fn key_sentence(text: &str) -> String {
    let text = text.trim().trim_start_matches("[simulated]").trim();
    let mut best = "";
    for sentence in text.split_inclusive(['.', '!', '?']) {
        let s = sentence.trim();
        if s.split_whitespace().count() >= 4 {
            best = s;
            break;
        }
        if best.is_empty() {
            best = s;
        }
    }
    let best = match best.split_once(':') {
        Some((lead, rest)) if lead.split_whitespace().count() <= 3 && rest.split_whitespace().count() >= 4 => {
            rest.trim()
        }
        _ => best,
    };
    shorten(best, MAX_ARGUMENT_CHARS)
}

/// Shortens to `max` characters at a word boundary, marked with an ellipsis.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let at = cut.rfind(' ').unwrap_or(cut.len());
    format!("{}…", cut[..at].trim_end())
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The synthesis without a model: each rationale's key sentence, by side.
pub fn extractive(round: u32, rationales: &[Rationale]) -> Feedback {
    let mut feedback = Feedback {
        round,
        rationales: rationales.len(),
        arguments_for: Vec::new(),
        arguments_against: Vec::new(),
        open_questions: Vec::new(),
        method: "extractive".into(),
        condensed: 0,
    };
    for rationale in rationales {
        let sentence = upper_first(&key_sentence(&rationale.text));
        if sentence.is_empty() {
            continue;
        }
        let list = match rationale.rating.map(|r| Tertile::of(f64::from(r))) {
            Some(Tertile::Agree) => &mut feedback.arguments_for,
            Some(Tertile::Disagree) => &mut feedback.arguments_against,
            _ => &mut feedback.open_questions,
        };
        if ideas::is_duplicate(list, &sentence) || list.len() >= MAX_ARGUMENTS {
            feedback.condensed += 1;
        } else {
            list.push(sentence);
        }
    }
    feedback
}

impl Feedback {
    /// Every argument, for checks and anonymisation.
    pub fn arguments_mut(&mut self) -> impl Iterator<Item = &mut String> {
        self.arguments_for.iter_mut().chain(self.arguments_against.iter_mut()).chain(self.open_questions.iter_mut())
    }

    /// Keeps within `budget` characters: long arguments are shortened, then
    /// the last ones dropped, and each change is counted in `condensed`.
    pub fn fit(mut self, budget: usize) -> Feedback {
        let cap = MAX_ARGUMENT_CHARS.min(budget.max(80) / 4);
        let mut condensed = 0;
        for argument in self.arguments_mut() {
            if argument.chars().count() > cap {
                *argument = shorten(argument, cap);
                condensed += 1;
            }
        }
        let size = |f: &Feedback| {
            f.arguments_for
                .iter()
                .chain(&f.arguments_against)
                .chain(&f.open_questions)
                .map(|a| a.chars().count() + 4)
                .sum::<usize>()
        };
        while size(&self) > budget {
            let longest = [&mut self.arguments_for, &mut self.arguments_against, &mut self.open_questions]
                .into_iter()
                .max_by_key(|l| l.len());
            match longest {
                Some(list) if list.len() > 1 => {
                    list.pop();
                    condensed += 1;
                }
                _ => break,
            }
        }
        self.condensed += condensed;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str, rating: Option<u8>) -> Rationale {
        Rationale { text: text.into(), rating }
    }

    #[test]
    fn rationales_are_grouped_by_the_side_their_rating_took() {
        let f = extractive(
            1,
            &[
                r("[simulated] My rationale: the proposal stands or falls on the predicate. More.", Some(8)),
                r("The data are thin and a De Novo costs a year. Also more.", Some(2)),
                r("It depends on the special controls the FDA sets.", Some(5)),
                r("Unrated but still heard out by the facilitator.", None),
            ],
        );
        assert_eq!(f.rationales, 4);
        assert_eq!(f.arguments_for, vec!["The proposal stands or falls on the predicate."]);
        assert_eq!(f.arguments_against, vec!["The data are thin and a De Novo costs a year."]);
        assert_eq!(f.open_questions.len(), 2);
        assert_eq!(f.condensed, 0);
    }

    #[test]
    fn duplicates_are_merged_and_counted() {
        let f = extractive(
            2,
            &[r("The predicate is weak and risky here.", Some(2)), r("The predicate is weak and risky here.", Some(1))],
        );
        assert_eq!(f.arguments_against.len(), 1);
        assert_eq!(f.condensed, 1);
    }

    #[test]
    fn fitting_a_budget_shortens_then_drops_and_says_so() {
        let long = "word ".repeat(200);
        let f = extractive(
            1,
            &[
                r(&long, Some(8)),
                r("Second argument for the proposal here.", Some(8)),
                r("Against it for these reasons here.", Some(2)),
            ],
        )
        .fit(200);
        assert!(f.condensed >= 1);
        let size: usize = f.arguments_for.iter().chain(&f.arguments_against).map(|a| a.chars().count() + 4).sum();
        assert!(size <= 200, "{f:?}");
        assert!(!f.arguments_against.is_empty(), "each side keeps at least one argument");
    }

    #[test]
    fn key_sentences_survive_any_text() {
        for text in ["", "   ", "[simulated]", "No full stop at all", "Ünïcödé… sentence here. Next.", "a:b"] {
            let _ = key_sentence(text);
        }
        assert_eq!(shorten("one two three four", 10), "one two…");
    }
}
