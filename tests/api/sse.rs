use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use crate::helpers::*;

/// Reads SSE events (id, event, data) from a response until a terminal event.
pub async fn read_sse(response: reqwest::Response) -> Vec<(u64, String, Value)> {
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut events = Vec::new();
    loop {
        let chunk = tokio::time::timeout(WAIT, stream.next()).await.expect("sse data in time");
        let Some(chunk) = chunk else { return events };
        buffer.push_str(std::str::from_utf8(&chunk.expect("sse chunk")).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut kind, mut data) = (None, None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse::<u64>().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str::<Value>(v).unwrap());
                }
            }
            if let (Some(id), Some(kind), Some(data)) = (id, kind, data) {
                let terminal = matches!(kind.as_str(), "panel_completed" | "panel_failed" | "panel_cancelled");
                events.push((id, kind, data));
                if terminal {
                    return events;
                }
            }
        }
    }
}

#[actix_web::test]
async fn server_sent_events_replay_then_stream_live_and_resume_with_last_event_id() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, paced("structured", 150.0)).await["id"].as_str().unwrap().to_string();
    let sse = |last: Option<u64>| {
        let mut request = app
            .client
            .get(app.url(&format!("/v1/panels/{id}/events")))
            .bearer_auth(&key)
            .header("Accept", "text/event-stream");
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last.to_string());
        }
        request.send()
    };
    let response = sse(None).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let all = read_sse(response).await;
    let seqs: Vec<u64> = all.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=all.len() as u64).collect::<Vec<_>>(), "every event once, in order");
    assert_eq!(all.last().unwrap().1, "panel_completed");
    for (seq, kind, data) in &all {
        assert_eq!(data["seq"], *seq);
        assert_eq!(data["kind"], kind.as_str());
    }
    // Resuming after event 7 gives exactly the rest.
    let rest = read_sse(sse(Some(7)).await.unwrap()).await;
    assert_eq!(rest.first().unwrap().0, 8);
    assert_eq!(rest.len(), all.len() - 7);
}

#[actix_web::test]
async fn a_live_sse_client_that_joins_mid_panel_with_last_event_id_misses_nothing() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, paced("socratic", 60.0)).await["id"].as_str().unwrap().to_string();
    app.wait_panel(&key, &id, "some progress", |p| p["head_seq"].as_u64().unwrap() >= 5).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = app
        .client
        .get(app.url(&format!("/v1/panels/{id}/events")))
        .bearer_auth(&key)
        .header("Accept", "text/event-stream")
        .header("Last-Event-ID", "3")
        .send()
        .await
        .unwrap();
    let events = read_sse(response).await;
    assert_eq!(events.first().unwrap().0, 4);
    let seqs: Vec<u64> = events.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (4..4 + events.len() as u64).collect::<Vec<_>>());
    assert_eq!(events.last().unwrap().1, "panel_completed");
}
