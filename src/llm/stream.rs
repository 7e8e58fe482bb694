//! Turning a model's streamed text into what clients see, live.
//!
//! - [`TrailerFilter`] (from the actor crate's `model::rating`): plain text;
//!   rating lines, readable or not, are held back and removed, so they never
//!   reach a client.
//! - [`JsonTextExtractor`]: structured output `{"text": "...", "rating": n,
//!   "confidence": x}`; the `text` string is decoded incrementally.
//! - [`TurnReader`]: what a turn's answer turned out to be. A server asked
//!   for JSON may ignore the request and answer in prose: the first
//!   characters decide, and prose is read (and streamed) as prose.

pub use askpanel_actors::model::rating::{Parsed, TrailerFilter};

/// Reads one turn's streamed answer, JSON or prose.
#[derive(Debug)]
pub enum TurnReader {
    /// Waiting for the first non-blank characters (JSON was asked for).
    Undecided(String),
    /// JSON: the `text` value is decoded, then read like prose (a rating
    /// line inside it is dropped too).
    Json(JsonTextExtractor, TrailerFilter),
    Prose(TrailerFilter),
}

/// What a finished turn's answer held.
#[derive(Debug)]
pub struct ReadTurn {
    /// Text to pass on that was still held back.
    pub rest: String,
    /// The turn's text (exactly what was passed on).
    pub text: String,
    pub rating: Option<u8>,
    pub confidence: Option<f64>,
    /// The raw answer was a JSON object.
    pub was_json: bool,
    /// Rating lines removed from prose (readable or not).
    pub rating_lines: usize,
    /// The raw answer, for usage estimates.
    pub raw_chars: usize,
}

impl TurnReader {
    /// A reader for a turn whose answer was asked for as JSON (`json`) or prose.
    pub fn new(json: bool) -> Self {
        if json { TurnReader::Undecided(String::new()) } else { TurnReader::Prose(TrailerFilter::new()) }
    }

    /// Takes a delta; returns the part clients may see now.
    pub fn push(&mut self, delta: &str) -> String {
        match self {
            TurnReader::Json(x, f) => {
                let decoded = x.push(delta);
                f.push(&decoded)
            }
            TurnReader::Prose(f) => f.push(delta),
            TurnReader::Undecided(buffer) => {
                buffer.push_str(delta);
                let trimmed = buffer.trim_start();
                // A code fence: decide on what follows its first line.
                let start = if let Some(fenced) = trimmed.strip_prefix("```") {
                    match fenced.find('\n') {
                        Some(newline) => fenced[newline + 1..].trim_start(),
                        None if fenced.len() < 40 => return String::new(),
                        None => fenced,
                    }
                } else if "```".starts_with(trimmed) {
                    return String::new();
                } else {
                    trimmed
                };
                let Some(first) = start.chars().next() else { return String::new() };
                let buffered = std::mem::take(buffer);
                if first == '{' {
                    let mut x = JsonTextExtractor::new();
                    let mut f = TrailerFilter::new();
                    let out = f.push(&x.push(&buffered));
                    *self = TurnReader::Json(x, f);
                    out
                } else {
                    let mut f = TrailerFilter::new();
                    let out = f.push(&buffered);
                    *self = TurnReader::Prose(f);
                    out
                }
            }
        }
    }

    /// The end of the answer.
    pub fn finish(self) -> ReadTurn {
        match self {
            TurnReader::Undecided(buffer) => {
                let mut f = TrailerFilter::new();
                let mut rest = f.push(&buffer);
                let (more, parsed) = f.finish();
                rest.push_str(&more);
                ReadTurn::prose(rest, parsed, buffer.chars().count())
            }
            TurnReader::Prose(f) => {
                let (rest, parsed) = f.finish();
                let raw = parsed.text.chars().count();
                ReadTurn::prose(rest, parsed, raw)
            }
            TurnReader::Json(x, f) => {
                let (raw, _) = x.finish();
                let (mut rest, mut parsed) = f.finish();
                let object: Option<serde_json::Map<String, serde_json::Value>> =
                    serde_json::from_str(json_object(&raw)).ok();
                let number = |key: &str| {
                    object
                        .as_ref()
                        .and_then(|v| v.get(key))
                        .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
                };
                let rating = number("rating")
                    .filter(|r| r.fract() == 0.0 && (1.0..=9.0).contains(r))
                    .map(|r| r as u8)
                    .or(parsed.rating);
                let confidence = number("confidence").filter(|c| (0.0..=1.0).contains(c)).or(parsed.confidence);
                if parsed.text.is_empty() {
                    // No `text` value: the longest other string is the answer, or the raw
                    // answer is prose after all. Nothing the model said is lost.
                    let fallback = match &object {
                        Some(map) => map
                            .iter()
                            .filter(|(k, _)| !matches!(k.as_str(), "rating" | "confidence"))
                            .filter_map(|(_, v)| v.as_str())
                            .max_by_key(|s| s.len())
                            .unwrap_or_default()
                            .to_string(),
                        None => raw.clone(),
                    };
                    let mut g = TrailerFilter::new();
                    rest = g.push(&fallback);
                    let (more, reparsed) = g.finish();
                    rest.push_str(&more);
                    parsed = Parsed {
                        rating: reparsed.rating.or(parsed.rating),
                        confidence: reparsed.confidence.or(parsed.confidence),
                        ..reparsed
                    };
                }
                ReadTurn {
                    rest,
                    text: parsed.text,
                    rating,
                    confidence,
                    was_json: object.is_some(),
                    rating_lines: parsed.rating_lines,
                    raw_chars: raw.chars().count(),
                }
            }
        }
    }
}

impl ReadTurn {
    fn prose(rest: String, parsed: Parsed, raw_chars: usize) -> Self {
        ReadTurn {
            rest,
            text: parsed.text,
            rating: parsed.rating,
            confidence: parsed.confidence,
            was_json: false,
            rating_lines: parsed.rating_lines,
            raw_chars,
        }
    }
}

/// The JSON object in a raw answer (inside a code fence or not).
fn json_object(raw: &str) -> &str {
    match (raw.find('{'), raw.rfind('}')) {
        (Some(start), Some(end)) if end > start => &raw[start..=end],
        _ => raw,
    }
}

/// Decodes the `"text"` string of a streamed JSON object as it arrives.
#[derive(Debug, Default)]
pub struct JsonTextExtractor {
    raw: String,
    /// Byte offset in `raw` of the next character of the text value, once found.
    cursor: Option<usize>,
    done: bool,
    decoded: String,
}

impl JsonTextExtractor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes raw JSON; returns newly decoded text.
    pub fn push(&mut self, delta: &str) -> String {
        self.raw.push_str(delta);
        if self.done {
            return String::new();
        }
        if self.cursor.is_none() {
            self.cursor = find_text_value(&self.raw);
        }
        let Some(mut at) = self.cursor else { return String::new() };
        let mut out = String::new();
        let bytes = self.raw.as_bytes();
        while at < bytes.len() {
            match bytes[at] {
                b'"' => {
                    self.done = true;
                    at += 1;
                    break;
                }
                b'\\' => match decode_escape(&self.raw[at..]) {
                    Some((ch, used)) => {
                        out.push(ch);
                        at += used;
                    }
                    // An escape cut by the chunk boundary: wait for more.
                    None => break,
                },
                _ => {
                    let ch = self.raw[at..].chars().next().unwrap_or('\u{fffd}');
                    out.push(ch);
                    at += ch.len_utf8();
                }
            }
        }
        self.cursor = Some(at);
        self.decoded.push_str(&out);
        out
    }

    /// The whole raw JSON and the text decoded so far.
    pub fn finish(self) -> (String, String) {
        (self.raw, self.decoded)
    }
}

/// The offset just past the opening quote of the `"text"` value.
fn find_text_value(raw: &str) -> Option<usize> {
    let key = raw.find("\"text\"")?;
    let rest = &raw[key + 6..];
    let colon = rest.find(':')?;
    if !rest[..colon].trim().is_empty() {
        return None;
    }
    let after = &rest[colon + 1..];
    let quote = after.find('"')?;
    after[..quote].trim().is_empty().then(|| key + 6 + colon + 1 + quote + 1)
}

/// Decodes one JSON escape at the start of `s` (which begins with `\`):
/// the character and the bytes used, or `None` if it is incomplete.
fn decode_escape(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let simple = match *b.get(1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let high = u32::from_str_radix(s.get(2..6)?, 16).ok()?;
            if (0xD800..0xDC00).contains(&high) {
                // A surrogate pair: \uD83D\uDE80
                if s.get(6..8)? != "\\u" {
                    return Some(('\u{fffd}', 6));
                }
                let low = u32::from_str_radix(s.get(8..12)?, 16).ok()?;
                let code = 0x10000 + ((high - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                return Some((char::from_u32(code).unwrap_or('\u{fffd}'), 12));
            }
            return Some((char::from_u32(high).unwrap_or('\u{fffd}'), 6));
        }
        _ => '\u{fffd}',
    };
    Some((simple, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(answer: &str, json: bool, chunk: usize) -> (String, ReadTurn) {
        let mut reader = TurnReader::new(json);
        let mut shown = String::new();
        let chars: Vec<char> = answer.chars().collect();
        for piece in chars.chunks(chunk) {
            shown.push_str(&reader.push(&piece.iter().collect::<String>()));
        }
        let turn = reader.finish();
        shown.push_str(&turn.rest);
        (shown, turn)
    }

    #[test]
    fn a_turn_reader_takes_what_the_server_actually_sent() {
        let table: &[(&str, bool, &str, Option<u8>)] = &[
            (r#"{"text": "Structured answer.", "rating": 8, "confidence": 0.9}"#, true, "Structured answer.", Some(8)),
            ("```json\n{\"text\": \"Fenced.\", \"rating\": 3}\n```", true, "Fenced.", Some(3)),
            (
                "Plain prose, the schema ignored.\nRATING: 6 CONFIDENCE: 0.5",
                true,
                "Plain prose, the schema ignored.",
                Some(6),
            ),
            ("Plain prose with no rating.", true, "Plain prose with no rating.", None),
            (r#"{"answer": "A different key.", "rating": 4}"#, true, "A different key.", Some(4)),
            (r#"{"text": "Inner trailer.\nRATING: 12", "rating": 7}"#, true, "Inner trailer.", Some(7)),
            ("Prose asked for.\nRATING: 2", false, "Prose asked for.", Some(2)),
        ];
        for (answer, json, text, rating) in table {
            for chunk in [1, 4, 1000] {
                let (shown, turn) = read(answer, *json, chunk);
                assert_eq!(&turn.text, text, "{answer:?} chunk {chunk}");
                assert_eq!(shown, turn.text, "{answer:?} chunk {chunk}: what streamed is the text");
                assert_eq!(turn.rating, *rating, "{answer:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_answer_is_read_without_panicking_and_streams_its_text(answer in "\\PC{0,200}", json: bool, chunk in 1usize..12) {
            let (shown, turn) = read(&answer, json, chunk);
            proptest::prop_assert_eq!(shown, turn.text);
        }

        #[test]
        fn json_text_extraction_never_panics_on_any_input(raw in "\\PC{0,200}", chunk in 1usize..12) {
            let mut x = JsonTextExtractor::new();
            let chars: Vec<char> = raw.chars().collect();
            for piece in chars.chunks(chunk) {
                let _ = x.push(&piece.iter().collect::<String>());
            }
            let _ = x.finish();
        }
    }

    #[test]
    fn json_text_is_decoded_incrementally_across_escapes_and_chunks() {
        let raw = r#"{"text": "Line one.\nSay \"yes\" \u00e9 \ud83d\ude80 done", "rating": 8, "confidence": 0.9}"#;
        for chunk in [1, 2, 5, 13] {
            let mut x = JsonTextExtractor::new();
            let mut out = String::new();
            for piece in raw.as_bytes().chunks(chunk) {
                // Chunks may split a character: only feed whole ones (the network gives strings).
                out.push_str(&x.push(std::str::from_utf8(piece).unwrap()));
            }
            assert_eq!(out, "Line one.\nSay \"yes\" é 🚀 done", "chunk {chunk}");
            let (full, decoded) = x.finish();
            assert_eq!(full, raw);
            assert_eq!(decoded, out);
        }
    }
}
