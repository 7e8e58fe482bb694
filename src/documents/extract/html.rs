//! Paragraphs out of HTML: a small non-recursive scanner (scripts and
//! styles dropped, entities decoded, `h1`-`h6` as headings).

use super::{Block, HEADING_MAX_CHARS, clip, flush, push_words};

/// Paragraphs of an HTML page: a linear scan, no tree, so no nesting depth
/// can exhaust the stack. Text inside `script`, `style`, `noscript`,
/// `template`, `head` and comments is dropped; block elements end a
/// paragraph; the text of `h1`-`h6` becomes the heading of what follows.
pub fn html_blocks(html: &str) -> Vec<Block> {
    const BLOCK_TAGS: &[&str] = &[
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "tr",
        "td",
        "th",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "hr",
        "dd",
        "dt",
        "dl",
        "main",
        "aside",
        "nav",
        "figure",
        "figcaption",
        "body",
    ];
    const SKIP_TAGS: &[&str] = &["script", "style", "noscript", "template", "head", "svg", "math"];
    let mut blocks = Vec::new();
    let mut heading: Option<String> = None;
    let mut current = String::new();
    let mut heading_text: Option<String> = None;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            append_text(&mut current, &mut heading_text, rest);
            break;
        };
        append_text(&mut current, &mut heading_text, &rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !closing && SKIP_TAGS.contains(&name.as_str()) && !tag.ends_with('/') {
            // Everything up to the matching close tag is dropped.
            let close = format!("</{name}");
            rest = find_ascii_case_insensitive(rest, &close).map_or("", |at| {
                let after = &rest[at..];
                after.find('>').map_or("", |gt| &after[gt + 1..])
            });
            continue;
        }
        let is_heading = name.len() == 2 && name.starts_with('h') && matches!(name.as_bytes()[1], b'1'..=b'6');
        if is_heading {
            flush(&mut blocks, &mut current, None, heading.as_deref());
            if closing {
                if let Some(text) = heading_text.take() {
                    let text = text.trim();
                    heading = (!text.is_empty()).then(|| clip(text, HEADING_MAX_CHARS));
                }
            } else {
                heading_text = Some(String::new());
            }
        } else if BLOCK_TAGS.contains(&name.as_str()) {
            flush(&mut blocks, &mut current, None, heading.as_deref());
        }
    }
    flush(&mut blocks, &mut current, None, heading.as_deref());
    blocks
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack.as_bytes().windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

fn append_text(current: &mut String, heading: &mut Option<String>, raw: &str) {
    if raw.is_empty() {
        return;
    }
    let decoded = decode_entities(raw);
    match heading {
        Some(h) => push_words(h, &decoded),
        None => push_words(current, &decoded),
    }
}

/// HTML character references: numeric ones and the common named ones; an
/// unknown or malformed one stays as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // A reference is short: only the next dozen bytes are looked at, so
        // a text of a million `&`s is read in linear time.
        let end = rest.as_bytes()[1..].iter().take(12).position(|b| *b == b';').map(|i| i + 1);
        let decoded = end.and_then(|end| entity(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => number.parse().ok()?,
        };
        return char::from_u32(code).filter(|c| *c != '\0');
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "ndash" => '\u{2013}',
        "mdash" => '\u{2014}',
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "ldquo" => '\u{201c}',
        "rdquo" => '\u{201d}',
        "hellip" => '\u{2026}',
        "copy" => '\u{a9}',
        "reg" => '\u{ae}',
        "trade" => '\u{2122}',
        "deg" => '\u{b0}',
        "plusmn" => '\u{b1}',
        "times" => '\u{d7}',
        "divide" => '\u{f7}',
        "euro" => '\u{20ac}',
        "pound" => '\u{a3}',
        "yen" => '\u{a5}',
        "cent" => '\u{a2}',
        "sect" => '\u{a7}',
        "para" => '\u{b6}',
        "middot" => '\u{b7}',
        "bull" => '\u{2022}',
        "micro" => '\u{b5}',
        "le" => '\u{2264}',
        "ge" => '\u{2265}',
        "ne" => '\u{2260}',
        "asymp" => '\u{2248}',
        _ => return None,
    })
}
