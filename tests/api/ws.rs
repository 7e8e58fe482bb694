use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

#[actix_web::test]
async fn bad_frames_get_error_frames_and_the_socket_stays_usable() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("other", json!({})).await;
    let foreign = app.create_panel(&other, structured(1)).await["id"].as_str().unwrap().to_string();
    let mut ws = app.ws(&key).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("this is not json"), "invalid_frame"),
        (Message::text("[1,2,3]"), "invalid_frame"),
        (Message::text(r#"{"type":"dance","ref":"r1"}"#), "unknown_type"),
        (Message::text(r#"{"type":"subscribe","ref":"r2"}"#), "validation_failed"),
        (Message::text(r#"{"type":"subscribe","panel_id":"nope"}"#), "validation_failed"),
        (
            Message::text(r#"{"type":"moderate","panel_id":"0193a000-0000-7000-8000-0000000000ff"}"#),
            "validation_failed",
        ),
        (
            Message::text(r#"{"type":"unsubscribe","panel_id":"0193a000-0000-7000-8000-0000000000ff"}"#),
            "not_subscribed",
        ),
        (Message::binary(vec![1u8, 2, 3]), "invalid_frame"),
        (Message::text(format!(r#"{{"type":"subscribe","panel_id":"{foreign}","ref":"r3"}}"#)), "not_found"),
        (
            Message::text(r#"{"type":"subscribe","panel_id":"0193a000-0000-7000-8000-0000000000ff","ref":"r4"}"#),
            "not_found",
        ),
        (
            Message::text(format!(r#"{{"type":"moderate","panel_id":"{foreign}","action":"cancel","ref":"r5"}}"#)),
            "not_found",
        ),
        (
            Message::text(format!(
                r#"{{"type":"input","panel_id":"{foreign}","member_id":"x","text":"hi","ref":"r6"}}"#
            )),
            "not_found",
        ),
    ];
    for (message, code) in cases {
        let shown = format!("{message:?}");
        ws.send_raw(message).await;
        let frame = ws.next_frame().await;
        assert_eq!(frame["type"], "error", "{shown}: {frame}");
        assert_eq!(frame["code"], code, "{shown}: {frame}");
        assert!(frame["message"].as_str().unwrap().len() > 3);
    }
    // Still usable.
    ws.send(json!({"type": "ping", "id": "still-here"})).await;
    assert_eq!(ws.next_frame().await, json!({"type": "pong", "id": "still-here"}));
    // Another tenant's panel is refused exactly like a missing one, ref echoed.
    ws.send(json!({"type": "subscribe", "panel_id": foreign, "ref": 9})).await;
    let cross = ws.next_frame().await;
    ws.send(json!({"type": "subscribe", "panel_id": "0193a000-0000-7000-8000-0000000000ff", "ref": 9})).await;
    let missing = ws.next_frame().await;
    assert_eq!(
        (cross["code"].clone(), cross["message"].clone(), cross["ref"].clone()),
        (missing["code"].clone(), missing["message"].clone(), missing["ref"].clone())
    );
    assert_eq!(cross["ref"], 9);
}

#[actix_web::test]
async fn an_oversized_frame_closes_the_socket_with_1009() {
    let app = spawn_app_with(|s| s.ws.max_frame_bytes = 4096).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let mut ws = app.ws(&key).await;
    ws.send(json!({"type": "ping", "id": "x".repeat(5000)})).await;
    assert_eq!(ws.closed_with().await, Some(1009));
    // The server is fine.
    assert_eq!(app.get("/v1/tenant", &key).await.0, reqwest::StatusCode::OK);
}

#[actix_web::test]
async fn revoking_a_key_closes_its_sockets_with_1008_and_its_tokens_stop_working() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (id, key) = app.create_key(&admin, "viewer").await;
    let (_, token) = app.post("/v1/ws-tokens", &key, json!({})).await;
    let token = token["token"].as_str().unwrap().to_string();
    let mut first = app.ws(&key).await;
    let mut second = app.ws_url(&format!("ws://{}/v1/ws?token={token}", app.address)).await;
    let mut bystander = app.ws(&admin).await;
    let (status, _) = app.request(reqwest::Method::DELETE, &format!("/v1/keys/{id}"), Some(&admin), None).await;
    assert_eq!(status, reqwest::StatusCode::NO_CONTENT);
    assert_eq!(first.closed_with().await, Some(1008));
    assert_eq!(second.closed_with().await, Some(1008));
    let response = app.client.get(app.url(&format!("/v1/ws?token={token}"))).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    bystander.send(json!({"type": "ping"})).await;
    assert_eq!(bystander.next_frame().await, json!({"type": "pong"}));
}

#[actix_web::test]
async fn a_client_that_disconnects_mid_panel_and_resubscribes_after_seq_sees_each_later_event_once() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, paced("structured", 150.0)).await["id"].as_str().unwrap().to_string();
    let mut ws = app.ws(&key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id})).await;
    let subscribed = ws.next_frame().await;
    assert_eq!(subscribed["type"], "subscribed");
    let start = subscribed["head_seq"].as_u64().unwrap();
    let mut seen: Vec<serde_json::Value> = Vec::new();
    loop {
        let f = ws.next_frame().await;
        if f["type"] == "event" {
            seen.push(f.clone());
        }
        if seen.len() >= 6 {
            break;
        }
    }
    drop(ws);
    let last = seen.last().unwrap()["seq"].as_u64().unwrap();
    let mut again = app.ws(&key).await;
    again.send(json!({"type": "subscribe", "panel_id": id, "after_seq": last})).await;
    let frames = again.until("the end", is_terminal).await;
    seen.extend(frames.into_iter().filter(|f| f["type"] == "event"));
    assert_contiguous(&seen, start);
    assert_eq!(seen.last().unwrap()["kind"], "panel_completed");
}

#[actix_web::test]
async fn a_socket_subscribed_mid_turn_gets_the_text_so_far_then_the_rest() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, paced("structured", 40.0)).await["id"].as_str().unwrap().to_string();
    // A plain GET shows the panel as of its last committed event; `?live=true` the text so far.
    app.wait_panel(&key, &format!("{id}?live=true"), "a turn in progress", |p| {
        p["current_turn"]["text"].as_str().is_some_and(|t| t.len() > 10)
    })
    .await;
    let committed = app.get(&format!("/v1/panels/{id}"), &key).await.1;
    assert_eq!(committed["current_turn"]["text"].as_str().unwrap_or_default(), "", "{committed}");
    let (status, body) = app.get(&format!("/v1/panels/{id}?live=maybe"), &key).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (reqwest::StatusCode::BAD_REQUEST, Some("bad_request")),
        "{body}"
    );
    let mut ws = app.ws(&key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id})).await;
    let subscribed = ws.next_frame().await;
    let current = subscribed["snapshot"]["current_turn"].clone();
    let turn_seq = current["turn_seq"].as_u64().unwrap();
    let mut text = current["text"].as_str().unwrap().to_string();
    let frames = ws.until("that turn's end", |f| is_event(f, "turn_completed")).await;
    for f in &frames {
        if f["type"] == "token" && f["turn_seq"] == turn_seq {
            assert_eq!(
                f["offset"].as_u64().unwrap() as usize,
                text.chars().count(),
                "no gap and no repeat after the snapshot"
            );
            text.push_str(f["delta"].as_str().unwrap());
        }
    }
    assert_eq!(frames.last().unwrap()["data"]["text"].as_str().unwrap(), text);
    ws.send(json!({"type": "unsubscribe", "panel_id": id, "ref": "u"})).await;
    let ack = ws.until("the unsubscribe ack", |f| f["type"] == "ack").await;
    assert_eq!(ack.last().unwrap()["ref"], "u");
    app.post(&format!("/v1/panels/{id}/moderate"), &key, json!({"action": "cancel"})).await;
}

#[actix_web::test]
async fn a_socket_authenticates_with_the_authorization_header_and_a_viewer_may_watch_but_not_speak() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (_, viewer) = app.create_key(&admin, "viewer").await;
    let mut body = paced("hybrid", 200.0);
    body["expert_count"] = json!(2);
    body["humans"] = json!([{"name": "Dr. Lee"}]);
    let panel = app.create_panel(&admin, body).await;
    let id = panel["id"].as_str().unwrap().to_string();
    let human = panel["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // No token in the URL: the API key in the upgrade request's header.
    let mut request = format!("ws://{}/v1/ws", app.address).into_client_request().unwrap();
    request.headers_mut().insert("Authorization", format!("Bearer {viewer}").parse().unwrap());
    let (stream, _) = tokio_tungstenite::connect_async(request).await.expect("upgrade with the header");
    let mut ws = Ws { stream };
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0, "ref": "s"})).await;
    ws.until("the human turn", |f| is_event(f, "human_turn_requested")).await;
    ws.send(json!({"type": "input", "panel_id": id, "member_id": human, "text": "A viewer speaking.", "ref": "i"}))
        .await;
    let refused = ws.until("the refusal", |f| f["type"] == "error" || f["type"] == "ack").await;
    let last = refused.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["code"].as_str(), last["ref"].as_str()),
        (Some("error"), Some("forbidden"), Some("i")),
        "{last}"
    );
    ws.send(json!({"type": "moderate", "panel_id": id, "action": "cancel", "ref": "m"})).await;
    let refused = ws.until("the refusal", |f| f["type"] == "error" || f["type"] == "ack").await;
    assert_eq!(refused.last().unwrap()["code"], "forbidden");
    // A wrong key in the header is refused at the upgrade.
    let mut request = format!("ws://{}/v1/ws", app.address).into_client_request().unwrap();
    request.headers_mut().insert("Authorization", "Bearer not-a-key".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    app.post(&format!("/v1/panels/{id}/moderate"), &admin, json!({"action": "cancel"})).await;
}
