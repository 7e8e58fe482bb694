//! The model server killed mid-stream and started again a few seconds later:
//! the broken turn is voided and runs again, the breaker opens while the
//! server is down (the panel pauses, `model_unavailable`) and closes when it
//! is back, and the panel completes. A restart costs a delay, not a turn.

use std::time::Duration;

use serde_json::{Value, json};

use crate::formats::{app_for, check_panel, panel};
use crate::helpers::*;
use crate::server::{LlamaServer, serial};

#[actix_web::test]
async fn a_model_server_killed_mid_stream_costs_a_delay_not_a_members_turn() {
    let _one_at_a_time = serial().lock().await;
    let Some(mut llama) = LlamaServer::start().await else { return };
    let app = app_for(&llama, "auto").await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, panel("structured")).await["id"].as_str().unwrap().to_string();
    let mut ws = app.ws(&key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    let mut frames: Vec<Value> = Vec::new();
    // The first tokens of the first turn: kill the server mid-stream.
    loop {
        match ws.next_within(Duration::from_secs(240)).await {
            Some(Next::Frame(frame)) => {
                let token = frame["type"] == "token";
                frames.push(frame);
                if token {
                    break;
                }
            }
            other => panic!("waiting for the first token, got {other:?}"),
        }
    }
    llama.kill().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    llama.restart().await;
    loop {
        match ws.next_within(Duration::from_secs(240)).await {
            Some(Next::Frame(frame)) => {
                let done = is_terminal(&frame);
                frames.push(frame);
                if done {
                    break;
                }
            }
            other => panic!("waiting for the end, got {other:?} after {} frames", frames.len()),
        }
    }
    let done = app.get(&format!("/v1/panels/{id}"), &key).await.1;
    check_panel("structured", &frames, &done);
    let events = app.events(&key, &id).await;
    assert_contiguous(&events, 0);
    assert!(events.iter().any(|e| e["kind"] == "turn_aborted"), "the broken turn is voided");
    // While the server was down the breaker was open: the panel paused for the model, then went on by itself.
    assert!(
        events.iter().any(|e| e["kind"] == "panel_paused"
            && e["data"]["reason"].as_str().unwrap_or_default().starts_with("model_unavailable")),
        "{events:?}"
    );
    assert!(events.iter().any(|e| e["kind"] == "panel_resumed"));
    assert!(!events.iter().any(|e| e["kind"] == "turn_skipped"), "nobody loses a turn to the restart: {events:?}");
    assert_eq!(done["rounds"][0]["turns"].as_array().unwrap().len(), 3, "every member spoke in round 1");
}
