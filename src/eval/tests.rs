use super::*;

#[test]
fn the_shipped_question_set_is_valid_and_spans_the_catalogs_domains() {
    let questions = load_questions(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/eval/questions.toml")).unwrap();
    assert!(questions.len() >= 12);
    let mut domains: Vec<&str> = questions.iter().map(|q| q.domain.as_str()).collect();
    domains.sort_unstable();
    domains.dedup();
    assert!(domains.len() >= 10, "{domains:?}");
}

#[test]
fn formats_parse_from_a_list_or_all() {
    assert_eq!(parse_formats("all").unwrap().len(), 6);
    assert_eq!(parse_formats("delphi, open").unwrap(), vec![PanelType::Delphi, PanelType::Open]);
    assert!(parse_formats("chaos").is_err());
}
