//! Delphi anonymity beyond names: everything a delphi member is shown (the
//! draft, the facilitator's synthesis, and what the facilitator and the
//! rapporteur read) is passed through [`Identities::neutralise`], which
//! removes what identifies a panelist:
//!
//! - every member's name, as written in full, by surname (with or without an
//!   honorific) and by a first name of three letters or more: "a panelist";
//! - every member's title ("US Regulatory Strategist"): "an expert";
//! - organisations named in a member's persona (capitalised names that end
//!   in Hospital, University, Clinic, Inc...): "an organisation";
//! - self-identifying phrases: "speaking as a hospital CISO at X," becomes
//!   "speaking for myself,"; "in my role as ..." becomes "in my view"; "as a
//!   chief medical officer" becomes "as a panelist"; "I am a cardiologist"
//!   becomes "I am a panelist"; "my eleven years at X" becomes "my
//!   experience"; "when I worked at X" and "at my hospital" become "in my
//!   experience".
//!
//! Matching is ASCII case-insensitive on the original text at word
//! boundaries; it never slices inside a character. It is a filter for what
//! members write about themselves, not a guarantee against a determined
//! writer: the prompts also ask delphi members to name nobody.

use crate::panel::state::PanelState;

/// Nouns that make "as a ..." or "I am a ..." a statement of who one is.
const ROLE_NOUNS: &[&str] = &[
    "ciso",
    "cio",
    "cto",
    "cmo",
    "ceo",
    "cfo",
    "coo",
    "cso",
    "officer",
    "director",
    "reviewer",
    "strategist",
    "statistician",
    "biostatistician",
    "economist",
    "clinician",
    "physician",
    "cardiologist",
    "oncologist",
    "radiologist",
    "nurse",
    "lawyer",
    "attorney",
    "counsel",
    "advocate",
    "engineer",
    "scientist",
    "manager",
    "consultant",
    "pharmacist",
    "epidemiologist",
    "ethicist",
    "specialist",
    "regulator",
    "surgeon",
    "professor",
    "researcher",
    "analyst",
    "auditor",
    "founder",
    "executive",
    "practitioner",
    "doctor",
    "investigator",
    "representative",
    "chair",
    "vp",
    "president",
    "partner",
    "architect",
    "developer",
    "designer",
    "owner",
    "caregiver",
    "parent",
    "mother",
    "father",
    "gp",
    "md",
    "phd",
    "veteran",
    "insider",
    "employee",
    "assessor",
    "inspector",
    "actuary",
];

/// Words that end an organisation's name in a persona.
const ORG_WORDS: &[&str] = &[
    "Hospital",
    "Hospitals",
    "University",
    "Clinic",
    "Institute",
    "Inc",
    "Inc.",
    "Ltd",
    "Ltd.",
    "GmbH",
    "Labs",
    "Group",
    "Foundation",
    "Center",
    "Centre",
    "Pharma",
    "Health",
    "Systems",
    "Partners",
    "Trust",
    "College",
];

/// Lead-ins whose rest says who the writer is, what replaces them, and
/// whether the rest is a role (to the clause's end) or a place (its name).
const LEAD_INS: &[(&str, &str, bool)] = &[
    ("speaking as ", "speaking for myself", true),
    ("in my role as ", "in my view", true),
    ("in my capacity as ", "in my view", true),
    ("in my position as ", "in my view", true),
    ("from my seat as ", "in my view", true),
    ("from my perspective as ", "from my perspective", true),
    ("wearing my hat as ", "in my view", true),
    ("when i worked at ", "in my experience", false),
    ("when i was at ", "in my experience", false),
    ("in my years at ", "in my experience", false),
    ("in my time at ", "in my experience", false),
    ("we at ", "we", false),
    ("here at ", "here", false),
];

const HONORIFICS: &[&str] =
    &["dr", "dr.", "prof", "prof.", "professor", "mr", "mr.", "ms", "ms.", "mrs", "mrs.", "sir", "dame"];

/// What identifies the members of one panel.
#[derive(Clone, Debug, Default)]
pub struct Identities {
    /// (text, replacement), longest first.
    terms: Vec<(String, &'static str)>,
    /// Role nouns: the fixed list plus the words of every member's title.
    roles: Vec<String>,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether `needle` occurs in `text` at byte `at` as whole words.
fn word_at(text: &str, at: usize, needle: &str) -> bool {
    if !text.is_char_boundary(at) || !starts_with_ignore_case(&text[at..], needle) {
        return false;
    }
    let before = text[..at].chars().next_back();
    let end = at + needle.len();
    if !text.is_char_boundary(end) {
        return false;
    }
    let after = text[end..].chars().next();
    before.is_none_or(|c| !is_word_char(c)) && after.is_none_or(|c| !is_word_char(c))
}

/// Words that start a new clause.
const CLAUSE_WORDS: &[&str] =
    &[" i ", " i'", " and ", " but ", " so ", " because ", " which ", " who ", " with ", " we ", " this ", " that "];

/// The end of a clause starting at `from`: a punctuation mark, a newline, or
/// a word that starts a new clause, at most 12 words on.
fn clause_end(text: &str, from: usize) -> usize {
    let mut words = 0;
    let mut previous_space = true;
    for (i, c) in text[from..].char_indices() {
        let at = from + i;
        if matches!(c, ',' | ';' | '.' | ':' | '!' | '?' | '\n' | '(' | ')' | '—' | '–') {
            return at;
        }
        if c.is_whitespace() {
            if CLAUSE_WORDS.iter().any(|w| starts_with_ignore_case(&text[at..], w)) {
                return at;
            }
            previous_space = true;
            continue;
        }
        if previous_space {
            words += 1;
            if words > 12 {
                return at;
            }
        }
        previous_space = false;
    }
    text.len()
}

/// The end of a place's name starting at `from` (after "at"): an optional
/// article, then capitalised words (or one lower-case noun: "at my hospital").
fn name_end(text: &str, from: usize) -> usize {
    let mut end = from;
    let mut rest = &text[from..];
    let mut taken = 0;
    loop {
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let word_len = trimmed
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '.' | ':' | '!' | '?' | '(' | ')'))
            .unwrap_or(trimmed.len());
        if word_len == 0 {
            return end;
        }
        let word = &trimmed[..word_len];
        let article = ["the", "a", "an"].iter().any(|a| a.eq_ignore_ascii_case(word));
        let capitalised =
            word.chars().next().is_some_and(|c| c.is_uppercase() || c.is_ascii_digit()) || word.contains('&');
        if !(article || capitalised || taken == 0) {
            return end;
        }
        end += (rest.len() - trimmed.len()) + word_len;
        rest = &trimmed[word_len..];
        if !article {
            taken += 1;
        }
    }
}

impl Identities {
    /// The identities of a panel's members.
    pub fn of(state: &PanelState) -> Identities {
        let mut names: Vec<String> = state.view.members.iter().map(|m| m.name.clone()).collect();
        names.extend(state.setup.profiles.iter().map(|p| p.name.clone()));
        let titles: Vec<String> = state.setup.profiles.iter().map(|p| p.title.clone()).collect();
        let personas: Vec<String> = state.setup.profiles.iter().map(|p| p.persona.to_string()).collect();
        Identities::new(&names, &titles, &personas)
    }

    /// Identities from members' names, titles and personas.
    pub fn new(names: &[String], titles: &[String], personas: &[String]) -> Identities {
        let mut terms: Vec<(String, &'static str)> = Vec::new();
        let mut add = |term: &str, with: &'static str| {
            let term = term.trim().trim_end_matches(',').trim();
            if term.chars().count() >= 3 && !terms.iter().any(|(t, _)| t.eq_ignore_ascii_case(term)) {
                terms.push((term.to_string(), with));
            }
        };
        for name in names {
            add(name, "a panelist");
            let words: Vec<&str> =
                name.split_whitespace().filter(|w| !HONORIFICS.iter().any(|h| h.eq_ignore_ascii_case(w))).collect();
            if let Some(surname) = words.last() {
                for honorific in ["Dr.", "Dr", "Prof.", "Mr.", "Ms.", "Mrs."] {
                    add(&format!("{honorific} {surname}"), "a panelist");
                }
                add(surname, "a panelist");
            }
            if words.len() >= 2 {
                add(words[0], "a panelist");
            }
        }
        let mut roles: Vec<String> = ROLE_NOUNS.iter().map(|s| s.to_string()).collect();
        for title in titles {
            add(title, "an expert");
            for word in title.split(|c: char| !c.is_alphanumeric()).filter(|w| w.chars().count() >= 4) {
                let word = word.to_lowercase();
                if !roles.contains(&word) {
                    roles.push(word);
                }
            }
        }
        for persona in personas {
            for org in organisations(persona) {
                add(&org, "an organisation");
            }
        }
        terms.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Identities { terms, roles }
    }

    /// The text with what identifies a panelist neutralised.
    pub fn neutralise(&self, text: &str) -> String {
        let text = self.replace_lead_ins(text);
        let text = self.replace_self_descriptions(&text);
        self.replace_terms(&text)
    }

    fn replace_terms(&self, text: &str) -> String {
        rewrite(text, |at| {
            self.terms
                .iter()
                .find(|(term, _)| word_at(text, at, term))
                .map(|(term, with)| (with.to_string(), at + term.len()))
        })
    }

    fn replace_lead_ins(&self, text: &str) -> String {
        rewrite(text, |at| {
            let (lead, with, role) = LEAD_INS.iter().find(|(lead, _, _)| {
                word_at(text, at, lead.trim_end()) && starts_with_ignore_case(&text[at..], lead)
            })?;
            let end = if *role { clause_end(text, at + lead.len()) } else { name_end(text, at + lead.len()) };
            Some((match_case(&text[at..], with), end))
        })
    }

    /// "as a(n) <role...>" and "I am a(n) <role...>", "I'm a ...", and "my N years at/in/as ...".
    fn replace_self_descriptions(&self, text: &str) -> String {
        const FORMS: &[(&str, &str)] = &[
            ("as an ", "as a panelist"),
            ("as a ", "as a panelist"),
            ("as the ", "as a panelist"),
            ("i am an ", "I am a panelist"),
            ("i am a ", "I am a panelist"),
            ("i'm an ", "I am a panelist"),
            ("i'm a ", "I am a panelist"),
            ("i am the ", "I am a panelist"),
        ];
        rewrite(text, |at| {
            for (form, with) in FORMS {
                if word_at(text, at, form.trim_end()) && starts_with_ignore_case(&text[at..], form) {
                    let start = at + form.len();
                    let end = clause_end(text, start);
                    let is_role = text[start..end]
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|w| self.roles.iter().any(|r| r.eq_ignore_ascii_case(w)));
                    if is_role {
                        return Some((match_case(&text[at..], with), end));
                    }
                }
            }
            if word_at(text, at, "my") {
                // "my eleven years at the FDA", "my 20 years as a reviewer"
                let words = words_after(text, at + 2, 3);
                let is = |i: usize, options: &[&str]| {
                    words.get(i).is_some_and(|(w, _)| options.iter().any(|o| w.eq_ignore_ascii_case(o)))
                };
                if words.len() == 3 && is(1, &["years", "decades"]) && is(2, &["at", "in", "as", "with", "inside"]) {
                    return Some((match_case(&text[at..], "my experience"), name_end(text, words[2].1)));
                }
            }
            if word_at(text, at, "at my") {
                return Some((match_case(&text[at..], "in my experience"), name_end(text, at + "at my".len())));
            }
            None
        })
    }
}

/// Rebuilds `text`, asking `replace` at each character position whether a
/// replacement starts there (and where the replaced part ends).
fn rewrite(text: &str, replace: impl Fn(usize) -> Option<(String, usize)>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        if let Some((with, end)) = replace(at).filter(|(_, end)| *end > at && text.is_char_boundary(*end)) {
            out.push_str(&with);
            at = end;
            continue;
        }
        let c = text[at..].chars().next().unwrap_or(' ');
        out.push(c);
        at += c.len_utf8();
    }
    out
}

/// The next `n` words from byte `from`, each with the byte offset of its end.
fn words_after(text: &str, from: usize, n: usize) -> Vec<(&str, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text[from..].char_indices().map(|(i, c)| (from + i, c)).chain(std::iter::once((text.len(), ' '))) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push((&text[s..i], i));
                start = None;
                if words.len() == n {
                    break;
                }
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    words
}

/// `with`, capitalised when the original started with a capital.
fn match_case(original: &str, with: &str) -> String {
    let upper = original.chars().next().is_some_and(char::is_uppercase);
    let mut chars = with.chars();
    match (upper, chars.next()) {
        (true, Some(c)) => c.to_uppercase().chain(chars).collect(),
        _ => with.to_string(),
    }
}

/// Organisations named in a persona: runs of capitalised words ending in an
/// organisation word ("Mercy General Hospital", "Acme Health").
pub fn organisations(persona: &str) -> Vec<String> {
    let words: Vec<&str> = persona.split_whitespace().collect();
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let bare = word.trim_end_matches([',', '.', ';', ':', ')']);
        if !ORG_WORDS.contains(&bare) {
            continue;
        }
        let mut start = i;
        while start > 0
            && words[start - 1].chars().next().is_some_and(char::is_uppercase)
            && !words[start - 1].ends_with([',', '.', ';', ':'])
        {
            start -= 1;
        }
        if start < i {
            let mut name: Vec<&str> = words[start..i].to_vec();
            name.push(bare);
            found.push(name.join(" ").trim_start_matches(['(', '"']).to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Identities {
        Identities::new(
            &["Dr. Maya Okafor".into(), "Richard Hale".into()],
            &["US Regulatory Strategist".into(), "Hospital CISO".into()],
            &["Former CISO at Mercy General Hospital, now consulting.".into()],
        )
    }

    #[test]
    fn names_titles_organisations_and_self_descriptions_are_neutralised() {
        let table: &[(&str, &str)] = &[
            ("I agree with Dr. Okafor and with Richard Hale.", "I agree with a panelist and with a panelist."),
            ("Maya is right; Okafor's point holds.", "a panelist is right; a panelist's point holds."),
            (
                "Speaking as a hospital CISO at Mercy General Hospital, I think the data are thin.",
                "Speaking for myself, I think the data are thin.",
            ),
            ("As US Regulatory Strategist, I would wait.", "As an expert, I would wait."),
            ("In my role as chief medical officer I would wait.", "In my view I would wait."),
            ("I am a cardiologist and I disagree.", "I am a panelist and I disagree."),
            ("In my eleven years at the FDA this failed.", "In my experience this failed."),
            ("At my hospital we saw the opposite.", "In my experience we saw the opposite."),
            ("The team at Mercy General Hospital disagreed.", "The team at an organisation disagreed."),
        ];
        let ids = ids();
        for (text, expected) in table {
            assert_eq!(ids.neutralise(text), *expected, "{text}");
        }
    }

    #[test]
    fn ordinary_prose_is_left_alone() {
        let ids = ids();
        for text in [
            "As a result, the predicate is weak.",
            "As a first step, ask for a pre-submission meeting.",
            "The FDA will ask for clinical data; a De Novo sets special controls.",
            "Hallmarks of a weak predicate include a new intended use.",
        ] {
            assert_eq!(ids.neutralise(text), text);
        }
    }

    #[test]
    fn any_text_is_safe_to_neutralise() {
        let ids = ids();
        for text in
            ["", "\u{212A}é as a ciso", "İİ speaking as ", "my", "at my", "Okafor", "ÄÖÜ Dr. Okafor—x", "as a\u{212A}"]
        {
            let _ = ids.neutralise(text);
        }
    }

    proptest::proptest! {
        #[test]
        fn neutralising_never_panics_and_removes_every_full_name(text in "\\PC{0,200}") {
            let ids = ids();
            let out = ids.neutralise(&format!("{text} Richard Hale {text}"));
            proptest::prop_assert!(!out.contains("Richard Hale"));
        }
    }
}
