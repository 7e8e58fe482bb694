use super::*;

proptest::proptest! {
    #[test]
    fn any_question_is_read_without_panicking(query in "\\PC{0,200}") {
        let _ = options_of(&query);
        let _ = topic_of(&query);
        let _ = lower_first(&query);
        let _ = with_article(&query);
    }
}

#[test]
fn options_are_read_from_either_or_questions() {
    assert_eq!(
        options_of("Should our AI ECG triage device pursue 510(k) or De Novo?"),
        Some(("510(k)".to_string(), "De Novo".to_string()))
    );
    assert_eq!(options_of("Is this safe?"), None);
    // Characters whose lowercase has another length (the Kelvin sign) once panicked here.
    assert_eq!(options_of("\u{212A}\u{212A}\u{212A} pursue A OR B?"), Some(("A".to_string(), "B".to_string())));
    let _ = options_of("\u{212A}\u{212A}\u{212A}\u{212A} x or y");
}

/// Every delta of a text, as a turn streams them.
fn deltas(text: &str, words: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(end) = delta_end(text, at, words) {
        out.push(&text[at..end]);
        at = end;
    }
    out
}

#[test]
fn deltas_rebuild_the_text() {
    let table: [(&str, usize, &[&str]); 6] = [
        (
            "one two three four five six seven eight nine ten.",
            1,
            &["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight ", "nine ", "ten."],
        ),
        (
            "one two three four five six seven eight nine ten.",
            3,
            &["one two three ", "four five six ", "seven eight nine ", "ten."],
        ),
        ("one two three", 8, &["one two three"]),
        ("trailing space ", 1, &["trailing ", "space "]),
        ("  double", 1, &[" ", " ", "double"]),
        ("", 1, &[]),
    ];
    for (text, words, expected) in table {
        assert_eq!(deltas(text, words), expected, "{text:?} by {words}");
        assert_eq!(deltas(text, words).concat(), text);
    }
}

#[test]
fn words_per_delta_is_as_asked_else_one_paced_and_a_few_instant() {
    let table = [
        (None, 0.0, INSTANT_WORDS_PER_DELTA),
        (None, 20.0, 1),
        (Some(1), 0.0, 1),
        (Some(5), 20.0, 5),
        (Some(0), 0.0, 1),
    ];
    for (asked, pace, expected) in table {
        assert_eq!(words_per_delta(asked, pace), expected, "{asked:?} at {pace}");
    }
}

#[test]
fn the_generator_is_deterministic() {
    let mut a = SplitMix64::new(7);
    let mut b = SplitMix64::new(7);
    assert_eq!((a.next_u64(), a.unit()), (b.next_u64(), b.unit()));
    assert!((0.0..1.0).contains(&SplitMix64::new(1).unit()));
}
