use super::*;

fn texts(blocks: &[Block]) -> Vec<(&str, Option<&str>)> {
    blocks.iter().map(|b| (b.text.as_str(), b.heading.as_deref())).collect()
}

#[test]
fn formats_come_from_media_types_and_names() {
    let table = [
        (Format::from_media_type("text/plain; charset=utf-8"), Some(Format::Text)),
        (Format::from_media_type("TEXT/MARKDOWN"), Some(Format::Markdown)),
        (Format::from_media_type("application/pdf"), Some(Format::Pdf)),
        (Format::from_media_type("image/png"), None),
        (Format::from_filename("Dossier.PDF"), Some(Format::Pdf)),
        (Format::from_filename("notes.md"), Some(Format::Markdown)),
        (Format::from_filename("page.htm"), Some(Format::Html)),
        (Format::from_filename("archive.zip"), None),
        (Format::from_filename("no-extension"), None),
    ];
    for (i, (got, expected)) in table.iter().enumerate() {
        assert_eq!(got, expected, "row {i}");
    }
}

#[test]
fn text_uploads_must_be_utf8_without_nul_bytes() {
    assert_eq!(utf8_text(b"\xEF\xBB\xBFhello", "text"), Ok("hello"));
    assert_eq!(utf8_text(b"ok \xff\xfe bad", "text"), Err(ExtractError::NotUtf8(3)));
    assert_eq!(utf8_text(b"a\0b", "text"), Err(ExtractError::Binary("text")));
}

#[test]
fn markdown_headings_label_the_paragraphs_below_them() {
    let md = "Intro line\none more\n\n# Battery safety\n\nCells are\n  tested.\n\n## Trial #2 ##\nResults good.\n\nSetext title\n===\nUnder it.\n\n```\n# not a heading\n```\n#hashtag is text";
    assert_eq!(
        texts(&markdown_blocks(md)),
        vec![
            ("Intro line one more", None),
            ("Cells are tested.", Some("Battery safety")),
            ("Results good.", Some("Trial #2")),
            ("Under it.", Some("Setext title")),
            ("# not a heading #hashtag is text", Some("Setext title")),
        ]
    );
}

#[test]
fn html_is_read_without_scripts_styles_or_comments() {
    let html = "<html><head><title>T</title><style>p{}</style></head><body>\
        <h1>Battery &amp; safety</h1><p>Cells are <b>tested</b> at 45&deg;C.</p><script>alert('x')</script>\
        <!-- a comment <p>hidden</p> --><div>Second&nbsp;para &#8212; &#x41;</div><H2>Trial</H2>Loose text<br>after break\
        <SCRIPT type=x>more</SCRIPT>&unknown; &amp</body></html>";
    assert_eq!(
        texts(&html_blocks(html)),
        vec![
            ("Cells are tested at 45\u{b0}C.", Some("Battery & safety")),
            ("Second para \u{2014} A", Some("Battery & safety")),
            ("Loose text", Some("Trial")),
            ("after break &unknown; &amp", Some("Trial")),
        ]
    );
}

#[test]
fn deeply_nested_html_is_read_in_linear_time_without_recursion() {
    let depth = 200_000;
    let html = format!("{}deep text{}", "<div>".repeat(depth), "</div>".repeat(depth));
    assert_eq!(texts(&html_blocks(&html)), vec![("deep text", None)]);
    let unclosed = "<p>text <script>never closed";
    assert_eq!(texts(&html_blocks(unclosed)), vec![("text", None)]);
}

#[test]
fn passages_keep_offsets_into_the_extracted_text() {
    let blocks = markdown_blocks("# A\n\nFirst paragraph.\n\nSecond paragraph.\n\n# B\n\nThird.");
    let extracted = passages(&blocks, None).unwrap();
    let full: String = blocks.iter().map(|b| b.text.as_str()).collect::<Vec<_>>().join("\n\n");
    assert_eq!(extracted.chars, full.chars().count() as u64);
    let labels: Vec<(u32, Option<&str>, &str)> =
        extracted.passages.iter().map(|p| (p.n, p.heading.as_deref(), p.text.as_str())).collect();
    assert_eq!(labels, vec![(1, Some("A"), "First paragraph.\n\nSecond paragraph."), (2, Some("B"), "Third.")]);
    for p in &extracted.passages {
        let slice: String = full.chars().skip(p.start as usize).take((p.end - p.start) as usize).collect();
        assert_eq!(slice, p.text, "passage {}", p.n);
    }
}

#[test]
fn long_paragraphs_are_cut_at_sentences_then_spaces_then_anywhere() {
    let sentences = "This sentence is about forty characters. ".repeat(100);
    let no_spaces = "x".repeat(4000);
    let unicode = "é".repeat(3100);
    for (name, text) in [("sentences", sentences.trim()), ("no spaces", &no_spaces), ("unicode", &unicode)] {
        let blocks = text_blocks(text, None, None);
        let extracted = passages(&blocks, None).unwrap();
        assert!(extracted.passages.len() >= 2, "{name}");
        for p in &extracted.passages {
            let n = p.text.chars().count();
            assert!(n <= MAX_CHARS && n > 0, "{name}: passage {} has {n} chars", p.n);
            assert_eq!((p.end - p.start) as usize, n, "{name}: passage {}", p.n);
        }
        if name == "sentences" {
            assert!(extracted.passages.iter().all(|p| p.text.ends_with('.')), "cut at sentence ends");
        }
    }
}

#[test]
fn pdf_pages_never_share_a_passage() {
    let pages = vec!["Page one text.".to_string(), "".to_string(), "Page three.\n\nMore on three.".to_string()];
    let extracted = passages(&page_blocks(&pages), Some(3)).unwrap();
    let got: Vec<(Option<u32>, &str)> = extracted.passages.iter().map(|p| (p.page, p.text.as_str())).collect();
    assert_eq!(got, vec![(Some(1), "Page one text."), (Some(3), "Page three.\n\nMore on three.")]);
    assert_eq!(extracted.pages, Some(3));
}

#[test]
fn a_document_without_text_is_refused() {
    assert_eq!(passages(&text_blocks("  \n\n \t", None, None), None), Err(ExtractError::Empty));
}

// Both once took time growing with the square of the input: a 10 MB upload of
// `&`s, or one 10 MB paragraph, held an extractor for hours.
#[test]
fn a_million_ampersands_decode_in_one_pass() {
    let text = "&".repeat(1_000_000) + "&amp;";
    let decoded = decode_entities(&text);
    assert_eq!(decoded.len(), 1_000_001);
}

#[test]
fn a_ten_megabyte_paragraph_is_cut_in_one_pass() {
    let paragraph = "word ".repeat(2_000_000);
    let extracted = passages(&text_blocks(&paragraph, None, None), None).unwrap();
    assert!(extracted.passages.len() > 6000);
    let last = extracted.passages.last().unwrap();
    assert_eq!(last.end, extracted.chars);
}
