//! Reading a rating and a confidence from a turn's text, and keeping every
//! rating line out of what anyone sees.
//!
//! A *rating line* is a line that starts (after markdown decoration such as
//! `**`, `#`, `-`, `>`) with `rating` or `confidence` followed by a value
//! separator (`RATING: 7`, `**Rating:** 3`, `Confidence = 80%`, `RATING:
//! seven`), the tail of a line from such a word followed by a value
//! (`I support it. Rating: 8, confidence 0.7`), or a JSON object whose first
//! key is `rating` or `confidence`. Rating lines are never part of a turn's
//! text, whether they can be read or not, wherever they stand (a model that
//! echoes the instruction mid-answer included). The rating is the last
//! readable one (an integer 1-9, never clamped); the confidence the last
//! readable one (0-1, or a percentage).
//!
//! [`TrailerFilter`] applies this to a stream: text is passed on as it
//! arrives, except a line start or a word that could still become a rating
//! marker, which waits until it is clearly prose or the line ends. So a
//! rating line never reaches a client, and the text passed on is exactly the
//! turn's final text. [`parse_trailer`] is the same filter over a whole text.
//!
//! Matching is ASCII case-insensitive on the original string (no lowercased
//! copy whose byte offsets could differ), so any input is safe to slice.

/// A rating and confidence read from text, and the text without rating lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The text without its rating lines.
    pub text: String,
    /// The last readable rating (1-9).
    pub rating: Option<u8>,
    /// The last readable confidence, in [0, 1].
    pub confidence: Option<f64>,
    /// How many rating lines were removed (readable or not).
    pub rating_lines: usize,
}

/// Reads a whole text (a follow-up answer, a human's input).
pub fn parse_trailer(text: &str) -> Parsed {
    let mut filter = TrailerFilter::new();
    filter.push(text);
    filter.finish().1
}

const WORDS: [&str; 2] = ["rating", "confidence"];
/// Decoration that may stand before a marker word.
fn is_decoration(c: char) -> bool {
    matches!(c, '*' | '_' | '#' | '>' | '|' | '-' | '`' | '[' | '(') || c.is_whitespace()
}

/// Words a rating value may be written as (read as unreadable, still a marker).
const VALUE_WORDS: [&str; 17] = [
    "zero", "eleven", "twelve", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "high",
    "low", "medium", "moderate",
];

/// What a piece of text starting at a marker candidate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Candidate {
    /// Certainly a marker.
    Marker,
    /// Could still become one as more text arrives.
    Maybe,
    /// Not a marker.
    No,
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Whether `s` (the rest of a line) is a prefix of `word` so far, ignoring case.
fn is_partial_of(s: &str, word: &str) -> bool {
    s.len() < word.len() && word.as_bytes()[..s.len()].eq_ignore_ascii_case(s.as_bytes())
}

/// Classifies `s`, which starts at a word boundary after any decoration.
/// `strict`: mid-line, the value must look like a rating (a number or a
/// number word); at a line start any separator is enough.
fn classify_word(s: &str, strict: bool, complete: bool) -> Candidate {
    if s.is_empty() {
        return if complete { Candidate::No } else { Candidate::Maybe };
    }
    if s.starts_with('{') {
        return classify_json(s, complete);
    }
    for word in WORDS {
        if is_partial_of(s, word) {
            return if complete { Candidate::No } else { Candidate::Maybe };
        }
        if starts_with_ignore_case(s, word) {
            let after = &s[word.len()..];
            // "ratings", "rating-based": another word.
            if after.chars().next().is_some_and(|c| c.is_alphanumeric()) {
                return Candidate::No;
            }
            let rest = after.trim_start_matches(['*', '_', ' ', '\t']);
            // An optional scale before the separator: "Rating (1-9): 7", "Rating [0-1]".
            if !complete && bracket_open(rest) {
                return Candidate::Maybe;
            }
            let rest = skip_bracket(rest);
            let Some(c) = rest.chars().next() else { return if complete { Candidate::No } else { Candidate::Maybe } };
            let separator = matches!(c, ':' | '=');
            if !strict {
                return if separator || c.is_ascii_digit() { Candidate::Marker } else { Candidate::No };
            }
            if c.is_ascii_digit() {
                return Candidate::Marker;
            }
            if !separator {
                return Candidate::No;
            }
            let value = rest[1..].trim_start_matches(['*', '_', ' ', '\t', '"', '\'']);
            return classify_value(value, complete);
        }
    }
    Candidate::No
}

/// Whether `s` opens a short bracket that is not closed yet (more may come).
fn bracket_open(s: &str) -> bool {
    let close = match s.chars().next() {
        Some('(') => ')',
        Some('[') => ']',
        _ => return false,
    };
    !s.contains(close) && s.len() <= 12
}

/// Skips a bracketed scale such as `(1-9)` or `[0-1]` (short, on one line).
fn skip_bracket(s: &str) -> &str {
    let close = match s.chars().next() {
        Some('(') => ')',
        Some('[') => ']',
        _ => return s,
    };
    match s.find(close) {
        Some(end) if end <= 12 => s[end + 1..].trim_start_matches(['*', '_', ' ', '\t']),
        _ => s,
    }
}

/// A mid-line value: a number, a number word, or `<` (an echoed placeholder).
fn classify_value(value: &str, complete: bool) -> Candidate {
    let Some(c) = value.chars().next() else { return if complete { Candidate::No } else { Candidate::Maybe } };
    if c.is_ascii_digit() || c == '<' {
        return Candidate::Marker;
    }
    for word in VALUE_WORDS {
        if starts_with_ignore_case(value, word)
            && !value[word.len()..].chars().next().is_some_and(char::is_alphanumeric)
        {
            return Candidate::Marker;
        }
        if !complete && is_partial_of(value, word) {
            return Candidate::Maybe;
        }
    }
    Candidate::No
}

/// `{` then whitespace then `"rating"` or `"confidence"` as the first key.
fn classify_json(s: &str, complete: bool) -> Candidate {
    let rest = s[1..].trim_start();
    if rest.is_empty() {
        return if complete { Candidate::No } else { Candidate::Maybe };
    }
    let Some(key) = rest.strip_prefix('"') else { return Candidate::No };
    for word in WORDS {
        if starts_with_ignore_case(key, word) && key[word.len()..].starts_with('"') {
            return Candidate::Marker;
        }
        if !complete && (is_partial_of(key, word) || (key.len() == word.len() && starts_with_ignore_case(key, word))) {
            return Candidate::Maybe;
        }
    }
    Candidate::No
}

/// Scans a line (or the part of a line received so far) for the first
/// position where a marker starts or may start. Returns the byte offset of
/// that position (the start of its decoration run) and what it is there.
/// `complete`: the line is whole, nothing more will be added to it.
fn scan_line(line: &str, complete: bool) -> Option<(usize, Candidate)> {
    // The line-start rule: decoration, then a marker word with any separator.
    let body = line.trim_start_matches(is_decoration);
    let at = line.len() - body.len();
    match classify_word(body, false, complete) {
        Candidate::No => {}
        found => return Some((0, found)),
    }
    // Mid-line: at each word boundary after the line start.
    let mut deco_start: Option<usize> = None;
    let mut previous: Option<char> = None;
    for (i, c) in line.char_indices() {
        if i < at {
            previous = Some(c);
            continue;
        }
        if is_decoration(c) {
            deco_start.get_or_insert(i);
            previous = Some(c);
            continue;
        }
        let boundary = previous.is_none_or(|p| !p.is_alphanumeric());
        if boundary && (c == '{' || c.eq_ignore_ascii_case(&'r') || c.eq_ignore_ascii_case(&'c')) {
            match classify_word(&line[i..], true, complete) {
                Candidate::No => {}
                found => return Some((deco_start.unwrap_or(i), found)),
            }
        }
        deco_start = None;
        previous = Some(c);
    }
    // Trailing decoration may still lead into a marker.
    match (complete, deco_start) {
        (false, Some(start)) => Some((start, Candidate::Maybe)),
        _ => None,
    }
}

/// A streaming reader of plain text that drops rating lines (see the module docs).
#[derive(Debug, Default)]
pub struct TrailerFilter {
    /// The kept text, decided (complete lines and the safe part of the current one).
    kept: String,
    /// Bytes of `kept` already passed on.
    emitted: usize,
    /// The current, incomplete line.
    line: String,
    /// Whether a JSON rating object started: everything after it is a marker.
    in_json: bool,
    /// The removed rating lines, in order.
    markers: Vec<String>,
}

impl TrailerFilter {
    /// A filter that has seen no text yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a delta; returns the part clients may see now.
    pub fn push(&mut self, delta: &str) -> String {
        self.line.push_str(delta);
        while !self.in_json {
            let Some(newline) = self.line.find('\n') else { break };
            let rest = self.line.split_off(newline + 1);
            let line = std::mem::replace(&mut self.line, rest);
            if let Some(json) = self.complete_line(&line) {
                self.in_json = true;
                self.line.insert_str(0, &json);
            }
        }
        self.release(false)
    }

    /// Decides a whole line (with its newline, when it has one). Returns the
    /// start of a JSON rating object, which runs to the end of the turn.
    fn complete_line(&mut self, line: &str) -> Option<String> {
        let content = line.strip_suffix('\n').unwrap_or(line);
        match scan_line(content, true) {
            Some((at, Candidate::Marker)) => {
                let marker = &content[at..];
                if marker.trim_start_matches(is_decoration).starts_with('{') {
                    self.keep_prose(&content[..at], false);
                    return Some(line[at..].to_string());
                }
                self.markers.push(marker.to_string());
                self.keep_prose(&content[..at], line.ends_with('\n'));
            }
            _ => self.kept.push_str(line),
        }
        None
    }

    /// Keeps the prose before a marker on the same line, if there is any
    /// (it may already have streamed: a marker starts after it).
    fn keep_prose(&mut self, prose: &str, newline: bool) {
        let prose = prose.trim_end_matches(is_decoration);
        if prose.is_empty() {
            return;
        }
        self.kept.push_str(prose);
        if newline {
            self.kept.push('\n');
        }
    }

    /// Passes on what is safe: decided text, plus the current line up to where
    /// a marker could start, never trailing whitespace (text that ends the turn
    /// is trimmed). At the end, everything decided.
    fn release(&mut self, end: bool) -> String {
        let safe = if end || self.in_json {
            0
        } else {
            match scan_line(&self.line, false) {
                None => self.line.len(),
                Some((at, _)) => at,
            }
        };
        let part = self.line[..safe].trim_end();
        let upto = if part.is_empty() { self.kept.trim_end().len() } else { self.kept.len() + part.len() };
        let mut out = String::new();
        if upto > self.emitted {
            let from_kept = self.kept.len().min(upto);
            if self.emitted < from_kept {
                out.push_str(&self.kept[self.emitted..from_kept]);
            }
            if upto > self.kept.len() {
                out.push_str(&part[self.emitted.max(self.kept.len()) - self.kept.len()..]);
            }
            self.emitted = upto;
        }
        out
    }

    /// At the end: the last part clients may see, and the parsed turn. The
    /// parts passed on, joined, are exactly `parsed.text`.
    pub fn finish(mut self) -> (String, Parsed) {
        let line = std::mem::take(&mut self.line);
        if self.in_json {
            self.markers.push(line);
        } else if let Some(json) = self.complete_line(&line) {
            self.markers.push(json);
        }
        let rest = self.release(true);
        let text = self.kept[..self.emitted.min(self.kept.len())].to_string();
        let (rating, confidence) = read_markers(&self.markers);
        (rest, Parsed { text, rating, confidence, rating_lines: self.markers.len() })
    }
}

/// The last readable rating and confidence among the removed rating lines.
fn read_markers(markers: &[String]) -> (Option<u8>, Option<f64>) {
    let mut rating = None;
    let mut confidence = None;
    for marker in markers {
        if let Some(json) = marker.find('{').and_then(|i| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json_object(&marker[i..])).ok()
        }) {
            if let Some(r) = json.get("rating").and_then(number).and_then(rating_value) {
                rating = Some(r);
            }
            if let Some(c) = json.get("confidence").and_then(number).and_then(confidence_value) {
                confidence = Some(c);
            }
            continue;
        }
        for (at, _) in word_positions(marker) {
            let after = &marker[at..];
            if starts_with_ignore_case(after, "rating") {
                if let Some(r) = first_number(&after["rating".len()..]).and_then(|(x, _)| rating_value(x)) {
                    rating = Some(r);
                }
            } else if let Some((c, pct)) = first_number(&after["confidence".len()..])
                && let Some(c) = confidence_value(if pct { c / 100.0 } else { c })
            {
                confidence = Some(c);
            }
        }
    }
    (rating, confidence)
}

/// The byte offsets where `rating` or `confidence` start at a word boundary.
fn word_positions(s: &str) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in s.char_indices() {
        if previous.is_none_or(|p| !p.is_alphanumeric()) {
            for word in WORDS {
                if starts_with_ignore_case(&s[i..], word) {
                    found.push((i, word));
                }
            }
        }
        previous = Some(c);
    }
    found
}

/// The first balanced-looking JSON object in `s` (up to its last `}`).
fn json_object(s: &str) -> &str {
    match s.rfind('}') {
        Some(end) => &s[..=end],
        None => s,
    }
}

fn number(v: &serde_json::Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().trim_end_matches('%').parse().ok()))
}

fn rating_value(x: f64) -> Option<u8> {
    (x.fract() == 0.0 && (1.0..=9.0).contains(&x)).then_some(x as u8)
}

fn confidence_value(x: f64) -> Option<f64> {
    let x = if x > 1.0 && x <= 100.0 { x / 100.0 } else { x };
    (0.0..=1.0).contains(&x).then_some(x)
}

/// The first number after separators like `:`, `=`, `**`, a bracketed scale;
/// and whether a `%` follows it. A range (`0-2`) or a fraction of another
/// scale (`7/10`) is unreadable; `7/9` reads as 7.
fn first_number(s: &str) -> Option<(f64, bool)> {
    let s = s.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '*' | '_'));
    let s = skip_bracket(s);
    let s = s.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '*' | '_' | '"' | '\''));
    let len =
        s.char_indices().take_while(|(_, c)| c.is_ascii_digit() || *c == '.').map(|(i, c)| i + c.len_utf8()).last()?;
    let digits = s[..len].trim_end_matches('.');
    let value: f64 = digits.parse().ok()?;
    let after = &s[len..];
    if after.starts_with('-') && after[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Some(scale) = after.strip_prefix('/') {
        let denominator: String = scale.chars().take_while(char::is_ascii_digit).collect();
        if denominator != "9" {
            return None;
        }
    }
    Some((value, after.starts_with('%')))
}

#[cfg(test)]
mod tests;
