use super::*;
use proptest::prelude::*;

fn run(text: &str, chunk: usize) -> (String, Parsed) {
    let mut filter = TrailerFilter::new();
    let mut shown = String::new();
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(chunk.max(1)) {
        shown.push_str(&filter.push(&piece.iter().collect::<String>()));
    }
    let (rest, parsed) = filter.finish();
    shown.push_str(&rest);
    (shown, parsed)
}

#[test]
fn readable_trailers_are_read_and_never_shown() {
    let table: &[(&str, &str, Option<u8>, Option<f64>)] = &[
        (
            "The draft is sound.\nIt needs a pre-sub.\n\nRATING: 7/9 CONFIDENCE: 0.8",
            "The draft is sound.\nIt needs a pre-sub.",
            Some(7),
            Some(0.8),
        ),
        ("Body.\n**Rating:** 3\n**Confidence:** 85%", "Body.", Some(3), Some(0.85)),
        ("Body text here.\n{\"rating\": 9, \"confidence\": 0.95}", "Body text here.", Some(9), Some(0.95)),
        ("I support the draft. Rating: 8, confidence 0.7", "I support the draft.", Some(8), Some(0.7)),
        ("Body.\nRating (1-9): 6\nConfidence [0-1]: 0.5", "Body.", Some(6), Some(0.5)),
        ("Body.\n- RATING = 4", "Body.", Some(4), None),
    ];
    for (text, kept, rating, confidence) in table {
        for chunk in [1, 2, 3, 7, 500] {
            let (shown, parsed) = run(text, chunk);
            assert_eq!(shown, parsed.text, "{text:?} chunk {chunk}: the stream is the text");
            assert_eq!(&parsed.text, kept, "{text:?} chunk {chunk}");
            assert_eq!((parsed.rating, parsed.confidence), (*rating, *confidence), "{text:?} chunk {chunk}");
        }
    }
}

#[test]
fn unreadable_rating_lines_are_removed_all_the_same() {
    let table: &[(&str, &str)] = &[
        ("Body.\nRATING: seven CONFIDENCE: high", "Body."),
        ("Body.\nRating: 12", "Body."),
        ("Body.\nRating: 7.5", "Body."),
        ("Body.\nRATING: <1-9> CONFIDENCE: <0.0-1.0>", "Body."),
        ("Body.\nRATING: 5.10\nCONFIDENCE: 3.84", "Body."),
        ("Body.\n{\"rating\": 0}", "Body."),
        ("First part.\nRATING: 0-2 (to indicate how confident you are)\nSecond part.", "First part.\nSecond part."),
        ("Body. Rating: eleven", "Body."),
    ];
    for (text, kept) in table {
        for chunk in [1, 3, 500] {
            let (shown, parsed) = run(text, chunk);
            assert_eq!(&parsed.text, kept, "{text:?} chunk {chunk}");
            assert_eq!(shown, parsed.text, "{text:?} chunk {chunk}");
            assert_eq!(parsed.rating, None, "{text:?}");
            assert!(parsed.rating_lines >= 1);
        }
    }
}

#[test]
fn the_last_readable_rating_counts_when_the_model_echoes_the_instruction() {
    let (shown, parsed) =
        run("Part one.\nRATING: 10-29 (to indicate how confident)\nPart two.\nRATING: 8 CONFIDENCE: 0.7", 4);
    assert_eq!(shown, "Part one.\nPart two.");
    assert_eq!((parsed.rating, parsed.confidence, parsed.rating_lines), (Some(8), Some(0.7), 2));
}

#[test]
fn prose_that_mentions_ratings_streams_on_and_stays() {
    let text = format!(
        "The rating agencies matter here. {} Confidence intervals are wide.\nRating: 4\nConfidence: 60%",
        "More prose follows in this sentence. ".repeat(8)
    );
    let mut filter = TrailerFilter::new();
    let mut early = String::new();
    for (i, piece) in text.as_bytes().chunks(5).enumerate() {
        let out = filter.push(std::str::from_utf8(piece).unwrap());
        if i < 60 {
            early.push_str(&out);
        }
    }
    assert!(early.starts_with("The rating agencies matter here."), "prose is not held back: {early}");
    let (_, parsed) = filter.finish();
    assert!(parsed.text.ends_with("Confidence intervals are wide."), "{}", parsed.text);
    assert_eq!((parsed.rating, parsed.confidence), (Some(4), Some(0.6)));
}

#[test]
fn plain_text_comes_through_whole_and_trimmed() {
    for text in [
        "Plain contribution with no score at all. Ends here.",
        "Ratings of peers differ.\nConfidently, we go on.  \n\n",
    ] {
        let (shown, parsed) = run(text, 4);
        assert_eq!(shown, text.trim_end());
        assert_eq!(parsed.text, text.trim_end());
        assert_eq!((parsed.rating, parsed.rating_lines), (None, 0));
    }
}

#[test]
fn text_whose_lowercase_is_longer_or_shorter_is_safe() {
    // The Kelvin sign lowercases to a one-byte `k`: offsets of a lowercased copy would be wrong.
    let parsed = parse_trailer("\u{212A}é rating: 7");
    assert_eq!(parsed.rating, Some(7));
    assert_eq!(parsed.text, "\u{212A}é");
    let parsed = parse_trailer("İİİ Rating: 5 \u{212A}");
    assert_eq!(parsed.rating, Some(5));
}

proptest! {
    #[test]
    fn any_text_in_any_chunks_is_read_without_panicking_and_the_stream_is_the_text(text in "\\PC{0,300}", chunk in 1usize..20) {
        let (shown, parsed) = run(&text, chunk);
        prop_assert_eq!(&shown, &parsed.text);
        prop_assert!(parsed.rating.is_none_or(|r| (1..=9).contains(&r)));
        prop_assert!(parsed.confidence.is_none_or(|c| (0.0..=1.0).contains(&c)));
    }

    #[test]
    fn text_built_from_marker_fragments_never_shows_a_marker_line(
        parts in proptest::collection::vec(prop_oneof![
            Just("RATING: ".to_string()), Just("rating".to_string()), Just("Confidence".to_string()), Just("**".to_string()),
            Just("\n".to_string()), Just(" ".to_string()), Just("7".to_string()), Just("seven".to_string()), Just("{\"rating\": 3}".to_string()),
            Just("The draft".to_string()), Just(": ".to_string()), Just("\u{212A}".to_string()), Just("é".to_string()),
        ], 0..30),
        chunk in 1usize..9,
    ) {
        let text = parts.concat();
        let (shown, parsed) = run(&text, chunk);
        prop_assert_eq!(&shown, &parsed.text);
        for line in shown.lines() {
            prop_assert!(scan_line(line, true).is_none_or(|(_, c)| c != Candidate::Marker), "a marker line was shown: {:?} in {:?}", line, text);
        }
    }
}
