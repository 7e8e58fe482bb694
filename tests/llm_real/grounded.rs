//! A grounded panel on the real model: each turn is given passages of the
//! tenant's documents, and every citation the model writes is checked
//! against what that member was given. Small models invent labels; this
//! test holds the checking to account (a label is valid exactly when it was
//! given, an invalid one flags the turn and links nowhere) and prints the
//! share of valid citations, which README reports.

use serde_json::{Value, json};

use crate::helpers::*;
use crate::server::{LlamaServer, serial};

const DOSSIER: &str = "# Battery safety\n\nThe CardioWatch lithium polymer cell passed thermal runaway testing at 60 degrees Celsius without venting. Two field units showed swelling after eighteen months of daily charging.\n\n# Clinical evidence\n\nIn the pivotal study of 412 patients the device detected atrial fibrillation with a sensitivity of 96 percent and a specificity of 92 percent.\n\n# Regulatory path\n\nA predicate device with the same single-lead ECG technology was cleared in 2021, which supports a 510(k) submission rather than De Novo.";

#[actix_web::test]
async fn a_grounded_panel_on_the_real_model_has_every_citation_checked() {
    let _one_at_a_time = serial().lock().await;
    let Some(llama) = LlamaServer::start().await else { return };
    let app = crate::formats::app_for(&llama, "auto").await;
    let (_, key) = app.create_tenant("grounded", json!({})).await;
    let (status, doc) = app
        .post("/v1/documents", &key, json!({"title": "CardioWatch dossier", "text": DOSSIER, "format": "markdown"}))
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{doc}");
    let id = doc["id"].as_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.get(&format!("/v1/documents/{id}"), &key).await.1["status"] != "ready" {
        assert!(std::time::Instant::now() < deadline, "the document is never ready");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let mut body = crate::formats::panel("structured");
    body["query"] = json!("Should the CardioWatch ECG device pursue 510(k) or De Novo given its battery record?");
    body["documents"] = json!("all");
    body["evidence_chars"] = json!(1200);
    let panel = app.create_panel(&key, body).await;
    let panel_id = panel["id"].as_str().unwrap().to_string();
    crate::formats::follow(&app, &key, &panel_id).await;
    let events = app.events(&key, &panel_id).await;
    assert!(events.iter().any(|e| e["kind"] == "panel_completed"), "the panel completes");

    let (mut valid, mut invalid) = (0usize, 0usize);
    for turn in events.iter().filter(|e| e["kind"] == "turn_completed") {
        let data = &turn["data"];
        let given: Vec<&str> = data["evidence"]["passages"]
            .as_array()
            .expect("every AI turn records its evidence")
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(!given.is_empty(), "the dossier bears on the question: {data}");
        let citations = data["citations"].as_array().cloned().unwrap_or_default();
        for citation in &citations {
            let label = citation["label"].as_str().unwrap();
            let was_given = given.contains(&label);
            assert_eq!(citation["valid"], was_given, "valid exactly when given: {citation} / {given:?}");
            assert_eq!(citation["document_id"].is_string(), was_given, "only a valid citation links: {citation}");
            if was_given { valid += 1 } else { invalid += 1 }
        }
        let flagged = data["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == "invented_citation"));
        assert_eq!(flagged, citations.iter().any(|c| c["valid"] == false), "{data}");
    }
    let completed = events.iter().find(|e| e["kind"] == "panel_completed").unwrap();
    for source in completed["data"]["sources"].as_array().cloned().unwrap_or_default() {
        assert_eq!(source["document_id"], Value::String(id.to_string()), "{source}");
    }
    let total = valid + invalid;
    eprintln!(
        "llm_real grounded: {valid} of {total} citations valid ({:.0}%), {} sources",
        if total == 0 { 0.0 } else { 100.0 * valid as f64 / total as f64 },
        completed["data"]["sources"].as_array().map_or(0, Vec::len)
    );
    if valid > 0 {
        assert_eq!(metric(&app, "askpanel_citations_total{valid=\"true\"}").await.round() as usize, valid);
    }
}
