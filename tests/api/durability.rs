use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn a_full_database_pauses_panels_answers_503_and_they_resume_when_there_is_room() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, paced("structured", 60.0)).await["id"].as_str().unwrap().to_string();
    app.wait_panel(&key, &id, "a first turn", |p| p["rounds"][0]["turns"].as_array().is_some_and(|t| !t.is_empty()))
        .await;
    app.store.as_ref().unwrap().limit_size(Some(1)).await.unwrap();
    let paused = app
        .wait_panel(&key, &id, "the storage pause", |p| {
            p["status"] == "paused" && p["paused_reason"].as_str().is_some_and(|r| r.starts_with("storage_unavailable"))
        })
        .await;
    assert!(paused["paused_reason"].is_string());
    let (status, body) = app.post("/v1/panels", &key, structured(1)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
        "{body}"
    );
    let (status, _) = app.post(&format!("/v1/panels/{id}/moderate"), &key, json!({"action": "pause"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/healthz", &key).await.0, StatusCode::OK);
    app.store.as_ref().unwrap().limit_size(None).await.unwrap();
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["status"], "completed");
    let events = app.events(&key, &id).await;
    assert_contiguous(&events, 0);
    let at = events.iter().position(|e| e["kind"] == "panel_paused").expect("the pause is recorded");
    assert!(events[at]["data"]["reason"].as_str().unwrap().starts_with("storage_unavailable"));
    assert_eq!(events[at + 1]["kind"], "panel_resumed");
    assert_eq!(app.post("/v1/panels", &key, structured(1)).await.0, StatusCode::CREATED, "writes work again");
}

/// How much the server's RSS may grow while a client that reads nothing is
/// subscribed to 10 streaming panels. Holding their frames instead would
/// take about 135,000 token frames, some 35 MB.
const SLOW_CLIENT_RSS_GROWTH_MB: f64 = 24.0;

#[actix_web::test]
async fn a_client_that_stops_reading_is_told_it_lagged_and_catches_up_with_after_seq() {
    // The server in its own process, so its RSS is its own.
    let dir = tempfile::tempdir().unwrap();
    let server = start_binary(
        dir.path(),
        "slow-client-admin",
        &[
            ("ASKPANEL__WS__OUTBOUND_QUEUE", "64"),
            ("ASKPANEL__WS__PANEL_BUFFER", "64"),
            ("ASKPANEL__WS__CLIENT_TIMEOUT_S", "600"),
        ],
    )
    .await;
    let mut child = server.child;
    let app = server.app;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let rss_before = metric(&app, "process_resident_memory_bytes").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let body = json!({
            "query": "Should our AI ECG triage device pursue 510(k) or De Novo?",
            "panel_type": "structured", "expert_count": 3, "max_rounds": 3,
            "simulation": {"seed": i, "pace_tokens_per_s": 3000, "turn_tokens": 1500}
        });
        ids.push(app.create_panel(&key, body).await["id"].as_str().unwrap().to_string());
    }
    let mut ws = app.ws(&key).await;
    for id in &ids {
        ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    }
    // The client reads nothing while the panels stream (135,000 tokens: on a
    // loaded machine this takes a while, so the wait is longer than usual).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(240);
    for id in &ids {
        while !matches!(
            app.get(&format!("/v1/panels/{id}"), &key).await.1["status"].as_str(),
            Some("completed" | "failed" | "cancelled")
        ) {
            assert!(tokio::time::Instant::now() < deadline, "the panels did not end");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let rss_during = metric(&app, "process_resident_memory_bytes").await;
    // Now it reads: some subscriptions lagged; it resumes them until it has every event.
    let mut seen: std::collections::HashMap<String, Vec<Value>> =
        ids.iter().map(|id| (id.clone(), Vec::new())).collect();
    let mut done = std::collections::HashSet::new();
    let mut lagged = 0;
    while done.len() < ids.len() {
        let frame = ws.next_frame().await;
        let panel = frame["panel_id"].as_str().unwrap_or_default().to_string();
        match frame["type"].as_str() {
            Some("event") => {
                let events = seen.get_mut(&panel).unwrap();
                let seq = frame["seq"].as_u64().unwrap();
                assert_eq!(seq, events.len() as u64 + 1, "in order, no gap, no repeat");
                events.push(frame.clone());
                if is_terminal(&frame) {
                    done.insert(panel);
                }
            }
            Some("lagged") => {
                lagged += 1;
                let resume = frame["resume_after_seq"].as_u64().unwrap();
                assert_eq!(resume, seen[&panel].len() as u64, "lagged comes right after the last event queued");
                ws.send(json!({"type": "subscribe", "panel_id": panel, "after_seq": resume})).await;
            }
            _ => {}
        }
    }
    assert!(lagged > 0, "a client that does not read is told it lagged");
    for id in &ids {
        assert_eq!(seen[id].len(), app.events(&key, id).await.len(), "every event, once");
    }
    assert!(metric(&app, "askpanel_ws_lagged_total").await >= lagged as f64);
    // What the server held for this client stayed bounded (queues of 64 frames).
    let growth_mb = (rss_during - rss_before) / 1_048_576.0;
    let _ = child.kill();
    let _ = child.wait();
    assert!(growth_mb < SLOW_CLIENT_RSS_GROWTH_MB, "RSS grew by {growth_mb:.1} MB");
    eprintln!(
        "slow client: server RSS grew by {growth_mb:.1} MB (bound {SLOW_CLIENT_RSS_GROWTH_MB} MB), {lagged} lagged"
    );
}
