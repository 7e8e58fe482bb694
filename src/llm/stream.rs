//! Turning a model's streamed text into what clients see, live.
//!
//! - [`TrailerFilter`]: plain text that ends with a rating trailer
//!   (`RATING: 7 CONFIDENCE: 0.8`). Text is passed on as it arrives, except
//!   from the first place a trailer could start: that part is held back until
//!   it is clearly prose (it grew past a trailer's length) or the stream ends.
//!   So the trailer never reaches a client.
//! - [`JsonTextExtractor`]: structured output `{"text": "...", "rating": n,
//!   "confidence": x}`; the `text` string is decoded incrementally.

use askpanel_actors::model::rating::{Parsed, parse_trailer};

/// Case-insensitive markers where a trailer may begin.
const TRIGGERS: [&str; 6] = ["rating", "confidence", "{", "**r", "**c", "__r"];
/// Held text longer than this is prose, not a trailer.
const HOLD_LIMIT: usize = 160;

#[derive(Debug, Default)]
pub struct TrailerFilter {
    full: String,
    /// Bytes of `full` already passed on.
    emitted: usize,
}

/// The byte offset in `text` where a trailer could start, if any: a trigger,
/// or a trigger's beginning cut off at the very end.
fn trailer_start(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let full = TRIGGERS.iter().filter_map(|t| lower.find(t)).min();
    let partial = TRIGGERS.iter().filter_map(|t| (1..t.len()).rev().find(|n| lower.ends_with(&t[..*n])).map(|n| lower.len() - n)).min();
    match (full, partial) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl TrailerFilter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a delta; returns the part clients may see now.
    pub fn push(&mut self, delta: &str) -> String {
        self.full.push_str(delta);
        let mut cut = self.emitted;
        loop {
            let pending = &self.full[cut..];
            match trailer_start(pending) {
                None => {
                    cut = self.full.len();
                    break;
                }
                Some(start) if pending.len() - start > HOLD_LIMIT => {
                    // Too long to be a trailer: release up to just past this trigger and look again.
                    let next = start + 1;
                    let mut at = cut + next;
                    while !self.full.is_char_boundary(at) {
                        at += 1;
                    }
                    cut = at;
                }
                Some(start) => {
                    cut += start;
                    break;
                }
            }
        }
        // Trailing whitespace waits for what follows it: text that ends the turn is trimmed.
        let kept = self.full[self.emitted..cut].trim_end().len();
        let cut = self.emitted + kept;
        let out = self.full[self.emitted..cut].to_string();
        self.emitted = cut;
        out
    }

    /// At the end: the last part clients may see, and the parsed turn. The
    /// deltas passed on plus this part equal `parsed.text` whenever the
    /// trailer sat where the filter held text back.
    pub fn finish(self) -> (String, Parsed) {
        let parsed = parse_trailer(&self.full);
        let shown = &self.full[..self.emitted];
        if let Some(rest) = parsed.text.strip_prefix(shown) {
            let rest = rest.to_string();
            (rest, parsed)
        } else {
            // The trailer reached into text already shown (it was released as prose):
            // keep the shown text as the turn's text so clients and the log agree.
            let text = shown.trim_end().to_string();
            (String::new(), Parsed { text, ..parsed })
        }
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

    fn run_filter(text: &str, chunk: usize) -> (String, Parsed) {
        let mut filter = TrailerFilter::new();
        let mut shown = String::new();
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(chunk) {
            shown.push_str(&filter.push(&piece.iter().collect::<String>()));
            assert!(!shown.to_lowercase().contains("rating:"), "the trailer never shows: {shown}");
        }
        let (rest, parsed) = filter.finish();
        shown.push_str(&rest);
        (shown, parsed)
    }

    #[test]
    fn the_trailer_is_never_shown_and_the_shown_text_is_the_turns_text() {
        for chunk in [1, 2, 3, 7, 50] {
            let (shown, parsed) = run_filter("The draft is sound.\nIt needs a pre-sub meeting.\n\nRATING: 7 CONFIDENCE: 0.8", chunk);
            assert_eq!(shown, parsed.text, "chunk {chunk}");
            assert_eq!(parsed.text, "The draft is sound.\nIt needs a pre-sub meeting.");
            assert_eq!((parsed.rating, parsed.confidence), (Some(7), Some(0.8)));
        }
    }

    #[test]
    fn prose_that_mentions_a_rating_is_released_and_streams_on() {
        let text = format!("The rating agencies matter here. {} Final view.\nRating: 4\nConfidence: 60%", "More prose follows in this sentence. ".repeat(8));
        let mut filter = TrailerFilter::new();
        let mut shown_early = 0;
        for (i, piece) in text.as_bytes().chunks(5).enumerate() {
            let out = filter.push(std::str::from_utf8(piece).unwrap());
            if i < 60 {
                shown_early += out.len();
            }
        }
        assert!(shown_early > 150, "prose is not held back for long");
        let (_, parsed) = filter.finish();
        assert_eq!((parsed.rating, parsed.confidence), (Some(4), Some(0.6)));
    }

    #[test]
    fn a_text_without_trailer_comes_through_whole() {
        let (shown, parsed) = run_filter("Plain contribution with no score at all. Ends here.", 4);
        assert_eq!(shown, "Plain contribution with no score at all. Ends here.");
        assert_eq!(parsed.rating, None);
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
