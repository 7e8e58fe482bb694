//! Reading a rating and a confidence from a model's turn: a trailer such as
//! `RATING: 7/9 CONFIDENCE: 0.8` (or a JSON object with `rating` and
//! `confidence`) at the end of the text. The trailer is cut from the text that
//! clients see. A rating outside 1-9 is unreadable, never clamped.

/// A rating and confidence read from text, and the text without its trailer.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub text: String,
    pub rating: Option<u8>,
    pub confidence: Option<f64>,
}

/// Parses the trailer of a turn's text.
pub fn parse_trailer(text: &str) -> Parsed {
    let trimmed = text.trim_end();
    if let Some(parsed) = json_trailer(trimmed) {
        return parsed;
    }
    // Look at the last few lines only, latest first: a rating mentioned
    // mid-text is not the verdict.
    let lines: Vec<&str> = trimmed.lines().collect();
    let tail_start = lines.len().saturating_sub(4);
    for start in (tail_start..lines.len()).rev() {
        if !lines[start].to_lowercase().contains("rating") {
            continue;
        }
        let tail = lines[start..].join("\n");
        if let Some((rating, confidence)) = read_rating(&tail) {
            let mut body = lines[..start].join("\n").trim_end().to_string();
            // A trailer on the same line as prose: keep the prose before the marker.
            let inline = prose_before_marker(lines[start]);
            if !inline.is_empty() {
                if !body.is_empty() {
                    body.push('\n');
                }
                body.push_str(&inline);
            }
            return Parsed { text: body, rating: Some(rating), confidence };
        }
        break;
    }
    Parsed { text: trimmed.to_string(), rating: None, confidence: None }
}

/// A JSON object with a `rating` at the very end of the text.
fn json_trailer(trimmed: &str) -> Option<Parsed> {
    if !trimmed.ends_with('}') {
        return None;
    }
    let mut search = trimmed.len();
    while let Some(open) = trimmed[..search].rfind('{') {
        if let Ok(json) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&trimmed[open..]) {
            let rating = json.get("rating").and_then(number).and_then(rating_value)?;
            let confidence = json.get("confidence").and_then(number).and_then(confidence_value);
            return Some(Parsed { text: trimmed[..open].trim_end().to_string(), rating: Some(rating), confidence });
        }
        search = open;
    }
    None
}

fn prose_before_marker(line: &str) -> String {
    let lower = line.to_lowercase();
    let prefix = match lower.find("rating") {
        Some(i) if i > 0 => &line[..i],
        _ => return String::new(),
    };
    if !prefix.chars().any(char::is_alphanumeric) {
        return String::new();
    }
    prefix.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '{' | '[' | '(' | '*' | '_' | '#' | '-' | '|')).to_string()
}

/// Reads `rating` (1-9) and an optional `confidence` (0-1, or a percentage) from a trailer.
fn read_rating(tail: &str) -> Option<(u8, Option<f64>)> {
    let lower = tail.to_lowercase();
    let at = lower.find("rating")?;
    let rating = first_number(&lower[at + "rating".len()..])?;
    let confidence = lower.find("confidence").and_then(|i| first_number(&lower[i + "confidence".len()..])).and_then(|(c, pct)| confidence_value(if pct { c / 100.0 } else { c }));
    rating_value(rating.0).map(|r| (r, confidence))
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

/// The first number after separators like `:`, `=`, `**`; and whether a `%` follows it.
fn first_number(s: &str) -> Option<(f64, bool)> {
    let s = s.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '*' | '"' | '\'' | '-' | '('));
    let len = s.char_indices().take_while(|(_, c)| c.is_ascii_digit() || *c == '.').map(|(i, c)| i + c.len_utf8()).last()?;
    let value: f64 = s[..len].trim_end_matches('.').parse().ok()?;
    Some((value, s[len..].starts_with('%')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_trailer_is_read_and_cut_from_the_text() {
        let p = parse_trailer("The draft is sound.\nIt needs a pre-sub.\n\nRATING: 7/9 CONFIDENCE: 0.8");
        assert_eq!(p.rating, Some(7));
        assert_eq!(p.confidence, Some(0.8));
        assert_eq!(p.text, "The draft is sound.\nIt needs a pre-sub.");
    }

    #[test]
    fn markdown_and_percent_trailers_are_read() {
        let p = parse_trailer("Body.\n**Rating:** 3\n**Confidence:** 85%");
        assert_eq!((p.rating, p.confidence), (Some(3), Some(0.85)));
        assert_eq!(p.text, "Body.");
    }

    #[test]
    fn a_json_trailer_is_read() {
        let p = parse_trailer("Body text here.\n{\"rating\": 9, \"confidence\": 0.95}");
        assert_eq!((p.rating, p.confidence), (Some(9), Some(0.95)));
        assert_eq!(p.text, "Body text here.");
    }

    #[test]
    fn an_inline_trailer_keeps_the_prose_before_it() {
        let p = parse_trailer("I support the draft. Rating: 8, confidence 0.7");
        assert_eq!((p.rating, p.confidence), (Some(8), Some(0.7)));
        assert_eq!(p.text, "I support the draft.");
    }

    #[test]
    fn garbled_or_out_of_range_ratings_are_unreadable_and_the_text_is_kept() {
        for text in ["Body.\nRating: eleven", "Body.\nRating: 12", "Body.\nRating: 7.5", "No trailer at all", "Body.\n{\"rating\": 0}"] {
            let p = parse_trailer(text);
            assert_eq!(p.rating, None, "{text}");
            assert_eq!(p.text, text.trim_end());
        }
    }

    #[test]
    fn a_rating_mentioned_early_in_the_text_is_not_the_trailer() {
        let text = "Rating: 2 was my view last round.\nNow I see it differently.\nMore.\nStill more.\nAnd more.";
        assert_eq!(parse_trailer(text).rating, None);
    }
}
