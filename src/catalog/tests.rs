use super::*;

fn catalog() -> Catalog {
    Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/experts.toml")).unwrap()
}

/// Word 3-shingles of a text.
fn shingles(text: &str) -> HashSet<String> {
    let words: Vec<String> = text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.windows(3).map(|w| w.join(" ")).collect()
}

/// Pairs of experts whose persona and background share more than
/// `limit` of their word 3-shingles (Jaccard), with the figure.
fn near_duplicates(experts: &[Expert], limit: f64) -> Vec<(String, String, f64)> {
    let texts: Vec<HashSet<String>> =
        experts.iter().map(|e| shingles(&format!("{} {}", e.persona, e.background))).collect();
    let mut found = Vec::new();
    for i in 0..texts.len() {
        for j in i + 1..texts.len() {
            let shared = texts[i].intersection(&texts[j]).count() as f64;
            let union = (texts[i].len() + texts[j].len()) as f64 - shared;
            let jaccard = shared / union.max(1.0);
            if jaccard > limit {
                found.push((experts[i].name.clone(), experts[j].name.clone(), jaccard));
            }
        }
    }
    found
}

#[test]
fn the_catalog_has_136_distinct_complete_personas_across_30_domains() {
    let catalog = catalog();
    assert!(catalog.experts.len() >= 136, "{} personas", catalog.experts.len());
    let domains: HashSet<&str> = catalog.experts.iter().map(|e| e.domain.as_str()).collect();
    assert!(domains.len() >= 30, "{} domains", domains.len());
    let names: HashSet<&str> = catalog.experts.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.len(), catalog.experts.len(), "names are unique");
    // No two personas say nearly the same thing.
    assert_eq!(near_duplicates(&catalog.experts, 0.2), vec![]);
}

#[test]
fn near_duplicates_and_incomplete_personas_are_refused() {
    let one = |id: &str, name: &str, persona: &str, background: &str| {
        format!(
            "[[expert]]\nid = \"{id}\"\nname = \"{name}\"\ntitle = \"Lead\"\ndomain = \"clinical\"\n\
             persona = \"{persona}\"\nbackground = \"{background}\"\nweighs = [\"evidence\"]\n\
             sceptical_of = [\"hype\"]\n\n"
        )
    };
    let persona = "A cardiologist who reads every ECG trial twice and distrusts small samples from single sites.";
    let a = one("0193a000-0000-7000-8000-000000009001", "A", persona, "Twenty years in cardiology wards.");
    let b = one(
        "0193a000-0000-7000-8000-000000009002",
        "B",
        &persona.replace("cardiologist", "physician"),
        "Twenty years in cardiology wards.",
    );
    let c = one(
        "0193a000-0000-7000-8000-000000009003",
        "C",
        "A tax lawyer who follows transfer pricing rules for device makers in three countries.",
        "Partner at a firm for a decade.",
    );
    let catalog = Catalog::parse(&format!("{a}{b}{c}")).unwrap();
    let found = near_duplicates(&catalog.experts, 0.2);
    assert_eq!(
        found.iter().map(|(x, y, _)| (x.as_str(), y.as_str())).collect::<Vec<_>>(),
        vec![("A", "B")],
        "{found:?}"
    );
    let incomplete = one("0193a000-0000-7000-8000-000000009004", "D", persona, "");
    assert!(Catalog::parse(&incomplete).is_err(), "a platform persona without a background is refused");
}

#[test]
fn the_platform_catalog_has_forty_personas_across_the_required_domains() {
    let catalog = catalog();
    assert!(catalog.experts.len() >= 40);
    let domains: HashSet<&str> = catalog.experts.iter().map(|e| e.domain.as_str()).collect();
    for domain in [
        "regulatory",
        "clinical",
        "biostatistics",
        "health_economics",
        "reimbursement",
        "devices",
        "digital_health",
        "privacy",
        "pharmacovigilance",
        "ethics",
        "patients",
        "legal",
        "security",
        "commercial",
        "ai_ml",
    ] {
        assert!(domains.contains(domain), "{domain}");
    }
}

#[test]
fn tokens_keep_regulatory_shorthand_together() {
    assert_eq!(tokenize("510(k) De-Novo devices"), vec!["510k", "510", "k", "denovo", "de", "novo", "device"]);
}

#[test]
fn ranking_puts_the_matching_specialist_first() {
    let catalog = catalog();
    let all = catalog.with(&[]);
    let top = all.rank("HIPAA and GDPR data protection for patient records");
    assert_eq!(top[0].0.domain, "privacy", "{}", top[0].0.name);
    let top = all.rank("FDA 510(k) predicate or De Novo pathway");
    assert_eq!(top[0].0.domain, "regulatory", "{}", top[0].0.name);
    let top = all.rank("QALY cost-effectiveness and budget impact");
    assert_eq!(top[0].0.domain, "health_economics", "{}", top[0].0.name);
}

#[test]
fn selection_is_relevant_and_spans_domains() {
    let catalog = catalog();
    let panel = catalog.with(&[]).select("Should our AI ECG triage device pursue 510(k) or De Novo?", 5);
    assert_eq!(panel.len(), 5);
    let domains: HashSet<&str> = panel.iter().map(|e| e.domain.as_str()).collect();
    assert!(domains.len() >= 4, "{domains:?}");
    assert!(domains.contains("regulatory"));
    // An unrelated query still gets a diverse panel.
    let panel = catalog.with(&[]).select("zzz qqq", 6);
    let domains: HashSet<&str> = panel.iter().map(|e| e.domain.as_str()).collect();
    assert_eq!(domains.len(), 6);
}

#[test]
fn selection_explains_itself_and_follows_the_tenants_settings() {
    let catalog = catalog();
    let query = "Should our AI ECG triage device pursue 510(k) or De Novo?";
    let none = HashSet::new();
    let chosen = catalog.with(&[]).select_explained(query, 5, &none);
    let (first, why) = &chosen[0];
    assert_eq!(why.basis, SelectionBasis::Relevance);
    assert!(why.score > 0.0 && !why.preferred && why.same_domain_before == 0, "{why:?}");
    assert!(why.matched_terms.iter().all(|t| tokenize(query).contains(t)), "{why:?}");
    assert!(why.matched_terms.contains(&"510k".to_string()), "{} matched {:?}", first.name, why.matched_terms);
    // Each expert seated after another of its domain says so.
    for (i, (expert, why)) in chosen.iter().enumerate() {
        let before = chosen[..i].iter().filter(|(e, _)| e.domain == expert.domain).count() as u32;
        assert_eq!(why.same_domain_before, before, "{}", expert.name);
    }
    // Hidden experts are never seated; a preferred one counts 1.5 times.
    let hidden: HashSet<ExpertId> = [first.id].into();
    let without = catalog.with(&[]).without(&hidden).select_explained(query, 5, &none);
    assert!(without.iter().all(|(e, _)| e.id != first.id));
    let all = catalog.with(&[]).rank(query);
    let (runner_up, runner_score) = all.iter().find(|(e, s)| e.domain != first.domain && *s > 0.0).unwrap();
    let preferred: HashSet<ExpertId> = [runner_up.id].into();
    let boosted = catalog.with(&[]).select_explained(query, 5, &preferred);
    let (_, why) = boosted.iter().find(|(e, _)| e.id == runner_up.id).expect("the preferred expert is seated");
    assert!(why.preferred);
    assert!((why.score - (runner_score * PREFERRED_BOOST * 1000.0).round() / 1000.0).abs() < 1e-9, "{why:?}");
    // Nothing matches: seated by the fallback order of domains.
    let (_, why) = &catalog.with(&[]).select_explained("zzz qqq", 1, &none)[0];
    assert_eq!((why.basis, why.matched_terms.len()), (SelectionBasis::Fallback, 0));
}
