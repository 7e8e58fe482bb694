//! Text out of uploads, and passages out of text: pure and bounded. Plain
//! text and Markdown split on blank lines (Markdown headings label the
//! passages below them); HTML is read by a small non-recursive scanner
//! (scripts and styles dropped, entities decoded, `h1`-`h6` as headings);
//! PDF pages come from the extractor process ([`super::pdf`]). Paragraphs
//! are then packed into passages of about [`TARGET_CHARS`], never across a
//! heading or a page, and a paragraph longer than [`MAX_CHARS`] is cut at a
//! sentence end or a space. Offsets are in characters of the extracted text:
//! the blocks joined by blank lines.

use crate::store::documents::{Extracted, NewPassage};

mod html;
pub use html::{decode_entities, html_blocks};

/// About how long a passage is, in characters.
pub const TARGET_CHARS: usize = 900;
/// The longest a passage may be, in characters.
pub const MAX_CHARS: usize = 1500;
/// The most passages one document may have.
pub const MAX_PASSAGES: usize = 50_000;
/// The most characters of text one document may yield (a small PDF can
/// expand far past its size).
pub const MAX_TEXT_CHARS: usize = 64 * 1024 * 1024;
/// The longest heading kept, in characters.
const HEADING_MAX_CHARS: usize = 200;

/// The formats the library reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain",
            Format::Markdown => "text/markdown",
            Format::Html => "text/html",
            Format::Pdf => "application/pdf",
        }
    }

    /// From a media type (parameters such as `; charset=utf-8` ignored).
    pub fn from_media_type(media_type: &str) -> Option<Format> {
        let essence = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/plain" => Some(Format::Text),
            "text/markdown" | "text/x-markdown" => Some(Format::Markdown),
            "text/html" | "application/xhtml+xml" => Some(Format::Html),
            "application/pdf" | "application/x-pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    /// From a file name's extension.
    pub fn from_filename(name: &str) -> Option<Format> {
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Markdown),
            "html" | "htm" | "xhtml" => Some(Format::Html),
            "pdf" => Some(Format::Pdf),
            _ => None,
        }
    }

    /// From the JSON upload's `format`.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "text" => Some(Format::Text),
            "markdown" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            _ => None,
        }
    }
}

/// A paragraph with where it sits.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub text: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
}

/// Why an upload has no usable text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the file is not valid UTF-8 text (first bad byte at offset {0}); save it as UTF-8 and upload it again")]
    NotUtf8(usize),
    #[error("the file looks binary (it holds NUL bytes), not {0}")]
    Binary(&'static str),
    #[error("no text could be found in the file")]
    Empty,
    #[error("the document splits into more than {MAX_PASSAGES} passages; split it into smaller files")]
    TooManyPassages,
    #[error("the document holds more than {} million characters of text; split it into smaller files", MAX_TEXT_CHARS / (1024 * 1024))]
    TooMuchText,
    #[error("{0}")]
    Pdf(String),
}

/// The text of a text-like upload: valid UTF-8 (a BOM dropped), no NUL bytes.
pub fn utf8_text<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, ExtractError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| ExtractError::NotUtf8(e.valid_up_to()))?;
    if text.contains('\0') {
        return Err(ExtractError::Binary(what));
    }
    Ok(text)
}

/// Paragraphs of plain text: runs of non-blank lines, whitespace collapsed.
pub fn text_blocks(text: &str, page: Option<u32>, heading: Option<&str>) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut blocks, &mut current, page, heading);
        } else {
            push_words(&mut current, line);
        }
    }
    flush(&mut blocks, &mut current, page, heading);
    blocks
}

/// Paragraphs of Markdown: as plain text, and an ATX (`# Title`) or setext
/// (`Title` over `===`/`---`) heading labels the paragraphs below it.
pub fn markdown_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut heading: Option<String> = None;
    let mut current = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut in_fence = false;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
            i += 1;
            continue;
        }
        if !in_fence && let Some(title) = atx_heading(trimmed) {
            flush(&mut blocks, &mut current, None, heading.as_deref());
            heading = (!title.is_empty()).then(|| clip(title, HEADING_MAX_CHARS));
            i += 1;
            continue;
        }
        let underline = lines.get(i + 1).map(|l| l.trim());
        if !in_fence
            && current.is_empty()
            && !trimmed.is_empty()
            && underline.is_some_and(|u| u.len() >= 2 && (u.bytes().all(|b| b == b'=') || u.bytes().all(|b| b == b'-')))
        {
            flush(&mut blocks, &mut current, None, heading.as_deref());
            heading = Some(clip(trimmed, HEADING_MAX_CHARS));
            i += 2;
            continue;
        }
        if trimmed.is_empty() {
            flush(&mut blocks, &mut current, None, heading.as_deref());
        } else {
            push_words(&mut current, line);
        }
        i += 1;
    }
    flush(&mut blocks, &mut current, None, heading.as_deref());
    blocks
}

fn atx_heading(line: &str) -> Option<&str> {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &line[hashes..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    Some(rest.trim().trim_end_matches('#').trim())
}

/// Paragraphs of PDF pages (1-based page numbers).
pub fn page_blocks(pages: &[String]) -> Vec<Block> {
    pages.iter().enumerate().flat_map(|(i, text)| text_blocks(text, Some(i as u32 + 1), None)).collect()
}

fn push_words(into: &mut String, text: &str) {
    for word in text.split_whitespace() {
        if !into.is_empty() {
            into.push(' ');
        }
        into.push_str(word);
    }
}

fn flush(blocks: &mut Vec<Block>, current: &mut String, page: Option<u32>, heading: Option<&str>) {
    if !current.is_empty() {
        blocks.push(Block { text: std::mem::take(current), page, heading: heading.map(str::to_string) });
    }
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A piece of the extracted text: a paragraph, or part of a long one.
struct Unit {
    start_char: usize,
    end_char: usize,
    start_byte: usize,
    end_byte: usize,
    block: usize,
}

/// The passages of a document's paragraphs, numbered from 1.
pub fn passages(blocks: &[Block], pages: Option<u32>) -> Result<Extracted, ExtractError> {
    let mut full = String::new();
    let mut chars = 0usize;
    let mut units = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        if index > 0 {
            full.push_str("\n\n");
            chars += 2;
        }
        let base_byte = full.len();
        // Characters before each piece, counted as the pieces go (linear in the paragraph).
        let (mut seen_byte, mut seen_chars) = (0usize, chars);
        for (from, to) in cut(&block.text) {
            let piece = &block.text[from..to];
            seen_chars += block.text[seen_byte..from].chars().count();
            seen_byte = from;
            let piece_start_char = seen_chars;
            units.push(Unit {
                start_char: piece_start_char,
                end_char: piece_start_char + piece.chars().count(),
                start_byte: base_byte + from,
                end_byte: base_byte + to,
                block: index,
            });
        }
        full.push_str(&block.text);
        chars += block.text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(ExtractError::TooMuchText);
        }
    }
    if units.is_empty() {
        return Err(ExtractError::Empty);
    }
    let mut out: Vec<NewPassage> = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (first unit, last unit)
    let close = |out: &mut Vec<NewPassage>, first: &Unit, last: &Unit| {
        let block = &blocks[first.block];
        out.push(NewPassage {
            n: out.len() as u32 + 1,
            page: block.page,
            heading: block.heading.clone(),
            start: first.start_char as u64,
            end: last.end_char as u64,
            text: full[first.start_byte..last.end_byte].to_string(),
        });
    };
    for (i, unit) in units.iter().enumerate() {
        if let Some((first, last)) = open {
            let a = &blocks[units[first].block];
            let b = &blocks[unit.block];
            let length = unit.end_char - units[first].start_char;
            if a.page != b.page || a.heading != b.heading || length > TARGET_CHARS {
                close(&mut out, &units[first], &units[last]);
                open = None;
            }
        }
        open = Some(open.map_or((i, i), |(first, _)| (first, i)));
        if out.len() > MAX_PASSAGES {
            return Err(ExtractError::TooManyPassages);
        }
    }
    if let Some((first, last)) = open {
        close(&mut out, &units[first], &units[last]);
    }
    if out.len() > MAX_PASSAGES {
        return Err(ExtractError::TooManyPassages);
    }
    Ok(Extracted { pages, chars: chars as u64, passages: out })
}

/// Byte ranges of a paragraph cut into pieces of at most [`MAX_CHARS`]:
/// at the last sentence end past half the target, else the last space,
/// else anywhere (a 100 MB line without spaces still cuts, in linear time).
fn cut(text: &str) -> Vec<(usize, usize)> {
    let mut pieces = Vec::new();
    let mut from = 0;
    while from < text.len() {
        let rest = &text[from..];
        let limit = rest.char_indices().nth(MAX_CHARS).map_or(rest.len(), |(i, _)| i);
        if limit == rest.len() {
            pieces.push((from, text.len()));
            break;
        }
        let window = &rest[..limit];
        let half = window.char_indices().nth(TARGET_CHARS / 2).map_or(0, |(i, _)| i);
        let at = window[half..]
            .rfind(". ")
            .map(|i| half + i + 1)
            .or_else(|| window.rfind(' ').filter(|&i| i > 0))
            .unwrap_or(limit);
        pieces.push((from, from + at));
        from += at;
        // The space between two pieces belongs to neither.
        while text[from..].starts_with(' ') {
            from += 1;
        }
    }
    pieces
}

#[cfg(test)]
mod tests;
