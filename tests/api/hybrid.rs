use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn hybrid(humans: Value) -> Value {
    json!({
        "query": "Should our AI ECG triage device pursue 510(k) or De Novo?",
        "panel_type": "hybrid",
        "expert_count": 2,
        "humans": humans,
        "max_rounds": 3,
        "human_turn_timeout_s": 120,
        "simulation": {"seed": 4, "pace_tokens_per_s": 300, "turn_tokens": 15}
    })
}

#[actix_web::test]
async fn a_human_answers_over_websocket_and_over_http_and_a_moderator_steers_the_panel() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (_, member) = app.create_key(&admin, "member").await;
    let panel = app.create_panel(&member, hybrid(json!([{"name": "Dr. Lee"}]))).await;
    let id = panel["id"].as_str().unwrap().to_string();
    let human = panel["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(panel["members"].as_array().unwrap().len(), 3);

    // A second socket watches the whole panel, read only at its end.
    let mut watcher = app.ws(&member).await;
    watcher.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    let mut ws = app.ws(&member).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    ws.until("the first human turn", |f| is_event(f, "human_turn_requested")).await;
    let waiting = app.get(&format!("/v1/panels/{id}"), &member).await.1;
    assert_eq!(waiting["status"], "awaiting_human");
    assert_eq!(waiting["pending_human"]["member_id"], human.as_str());

    // Round 1: over WebSocket.
    ws.send(json!({"type": "input", "panel_id": id, "member_id": human, "text": "We need a pre-submission meeting first.", "ref": "in-1"})).await;
    let frames = ws
        .until_each(
            "the ack and the human's turn",
            &[&|f: &Value| f["type"] == "ack" && f["ref"] == "in-1", &|f: &Value| {
                is_event(f, "turn_completed") && f["data"]["member_id"] == human.as_str()
            }],
        )
        .await;
    assert!(!frames.iter().any(|f| f["type"] == "error"), "{frames:?}");
    assert!(
        frames
            .iter()
            .any(|f| is_event(f, "human_input") && f["data"]["text"] == "We need a pre-submission meeting first.")
    );
    // Not the human's turn now: a conflict, not a lost input.
    let (status, body) =
        app.post(&format!("/v1/panels/{id}/input"), &member, json!({"member_id": human, "text": "Me again"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");

    // Round 2: over HTTP.
    ws.until("the second human turn", |f| is_event(f, "human_turn_requested")).await;
    let (status, body) = app
        .post(
            &format!("/v1/panels/{id}/input"),
            &member,
            json!({"member_id": human, "text": "I now support the draft.", "rating": 8, "confidence": 0.9}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let frames = ws
        .until("the second human turn completing", |f| {
            is_event(f, "turn_completed") && f["data"]["member_id"] == human.as_str()
        })
        .await;
    let turn = frames.last().unwrap();
    assert_eq!(turn["data"]["text"], "I now support the draft.");
    assert_eq!(turn["data"]["rating"], 8);
    assert_eq!(turn["data"]["confidence"], 0.9);

    // The moderator (admin) pauses over WebSocket, injects and resumes over HTTP, then finishes.
    let mut moderator = app.ws(&admin).await;
    moderator.send(json!({"type": "moderate", "panel_id": id, "action": "pause", "ref": "p"})).await;
    assert_eq!(
        moderator.until("the pause ack", |f| f["type"] == "ack" || f["type"] == "error").await.last().unwrap()["ref"],
        "p"
    );
    ws.until("the pause", |f| is_event(f, "panel_paused")).await;
    assert_eq!(app.get(&format!("/v1/panels/{id}"), &member).await.1["status"], "paused");
    let (status, _) = app
        .post(
            &format!("/v1/panels/{id}/moderate"),
            &admin,
            json!({"action": "inject", "text": "What about paediatric patients?"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = app.post(&format!("/v1/panels/{id}/moderate"), &admin, json!({"action": "resume"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    ws.until("the resume", |f| is_event(f, "panel_resumed")).await;
    let (status, _) = app.post(&format!("/v1/panels/{id}/moderate"), &admin, json!({"action": "finish"})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let frames = ws.until("the end", is_terminal).await;
    let last = frames.last().unwrap();
    assert_eq!(last["kind"], "panel_completed");
    assert_eq!(last["data"]["reason"], "finished");
    let events = app.events(&member, &id).await;
    assert_contiguous(&events, 0);
    // Over WebSocket: the same events exactly once, in order, and tokens that rebuild each AI turn.
    let watched = watcher.until("the end, watched", is_terminal).await;
    let watched_events: Vec<Value> = watched.iter().filter(|f| f["type"] == "event").cloned().collect();
    assert_contiguous(&watched_events, 0);
    assert_eq!(watched_events.len(), events.len());
    assert_tokens_rebuild(&watched);
    let actions: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "moderator_action")
        .map(|e| e["data"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["pause", "inject", "resume", "finish"]);
    let (status, body) = app.post(&format!("/v1/panels/{id}/moderate"), &admin, json!({"action": "pause"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict")),
        "a finished panel takes no commands"
    );
}

#[actix_web::test]
async fn a_human_bound_to_a_key_speaks_only_through_that_key_or_a_moderator() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (lee_id, lee) = app.create_key(&admin, "member").await;
    let (_, other) = app.create_key(&admin, "member").await;
    let panel = app.create_panel(&admin, hybrid(json!([{"name": "Dr. Lee", "key_id": lee_id}]))).await;
    let id = panel["id"].as_str().unwrap().to_string();
    let human = panel["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_panel(&lee, &id, "the human turn", |p| p["status"] == "awaiting_human").await;
    let (status, body) =
        app.post(&format!("/v1/panels/{id}/input"), &other, json!({"member_id": human, "text": "Impostor"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    let (status, _) =
        app.post(&format!("/v1/panels/{id}/input"), &lee, json!({"member_id": human, "text": "It is me."})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, body) = app
        .post(
            &format!("/v1/panels/{id}/input"),
            &lee,
            json!({"member_id": "0193a000-0000-7000-8000-0000000000ff", "text": "Who?"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .post("/v1/panels", &admin, hybrid(json!([{"name": "X", "key_id": "0193a000-0000-7000-8000-0000000000ff"}])))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown key ids are refused");
    app.post(&format!("/v1/panels/{id}/moderate"), &admin, json!({"action": "cancel"})).await;
}
