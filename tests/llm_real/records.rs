//! The decision record of a panel the real model wrote: the report in every
//! format agrees with the events (whatever the model wrote, and in whatever
//! characters), and a follow-up's members are given the earlier panel's
//! conclusion (their prompts, as the model server counts them, carry it).

use serde_json::{Value, json};

use crate::server::{LlamaServer, serial};

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The prompt tokens of the first turn of round 1 (the opening, with no
/// transcript yet), as the model server reported them.
fn opening_prompt_tokens(events: &[Value]) -> u64 {
    events
        .iter()
        .find(|e| e["kind"] == "turn_completed" && e["data"]["round"] == 1)
        .and_then(|e| e["data"]["tokens_in"].as_u64())
        .expect("a first turn with its prompt tokens")
}

#[actix_web::test]
async fn the_report_of_a_real_models_panel_and_its_follow_up() {
    let _one_at_a_time = serial().lock().await;
    let Some(llama) = LlamaServer::start().await else { return };
    let app = crate::formats::app_for(&llama, "auto").await;
    let (_, key) = app.create_tenant("records", json!({})).await;
    let parent = app.create_panel(&key, crate::formats::panel("structured")).await;
    let id = parent["id"].as_str().unwrap().to_string();
    crate::formats::follow(&app, &key, &id).await;
    let done = app.get(&format!("/v1/panels/{id}"), &key).await.1;
    assert_eq!(done["status"], "completed", "{done}");
    let events = app.events(&key, &id).await;

    let (status, report) = app.get(&format!("/v1/panels/{id}/report"), &key).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{report}");
    assert_eq!(report["recommendation"]["text"], done["recommendation"]);
    assert!(report["recommendation"]["conditions"].is_array());
    let turns = events.iter().filter(|e| e["kind"] == "turn_completed").count();
    assert_eq!(report["usage"]["turns"].as_u64().unwrap() as usize, turns);
    if let Some(consensus) = done["consensus"].as_object() {
        let outcome = &report["outcome"];
        assert_eq!(outcome["level"], consensus["level"]);
        assert_eq!(
            askpanel_actors::consensus::figures::figure(outcome["median"].as_f64().unwrap()),
            askpanel_actors::consensus::figures::figure(consensus["median"].as_f64().unwrap())
        );
    }
    for format in ["md", "html", "pdf"] {
        let response = app
            .client
            .get(app.url(&format!("/v1/panels/{id}/report?format={format}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{format}");
        let bytes = response.bytes().await.unwrap();
        if format == "pdf" {
            lopdf::Document::load_mem(&bytes).expect("the PDF opens");
            let text = squash(&pdf_extract::extract_text_from_mem(&bytes).expect("its text extracts"));
            assert!(text.contains("Panel report") && text.contains("Transcript"), "{text}");
            assert!(text.contains("Should our AI ECG triage device pursue 510(k) or De Novo?"), "{text}");
        } else {
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            assert!(text.contains("Should our AI ECG triage device pursue 510(k) or De Novo?"));
        }
    }

    // The follow-up: one round, the same members, told what was concluded.
    let (status, child) = app
        .post(
            &format!("/v1/panels/{id}/follow-up"),
            &key,
            json!({"query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "max_rounds": 1}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{child}");
    let child_id = child["id"].as_str().unwrap().to_string();
    crate::formats::follow(&app, &key, &child_id).await;
    let child_done = app.get(&format!("/v1/panels/{child_id}"), &key).await.1;
    assert_eq!(child_done["status"], "completed", "{child_done}");
    let child_events = app.events(&key, &child_id).await;
    // Same member, same question, same first task: the prompt differs by the
    // earlier panel's conclusion alone, and the model server counted it.
    let (before, after) = (opening_prompt_tokens(&events), opening_prompt_tokens(&child_events));
    eprintln!("llm_real records: opening prompt {before} tokens, its follow-up's {after}");
    assert!(
        after >= before + 40,
        "the follow-up's prompt ({after} tokens) should carry the conclusion ({before} without)"
    );
}
