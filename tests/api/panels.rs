use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Creates a panel, watches it over WebSocket from the start to its end.
async fn watch_to_the_end(app: &TestApp, key: &str, body: Value) -> (Value, Vec<Value>) {
    let panel = app.create_panel(key, body).await;
    let id = panel["id"].as_str().unwrap().to_string();
    let mut ws = app.ws(key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0, "ref": "s1"})).await;
    let frames = ws.until("the panel's end", is_terminal).await;
    (panel, frames)
}

#[actix_web::test]
async fn a_panel_of_each_type_created_over_http_streams_to_its_end_over_websocket() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    for panel_type in ["structured", "open", "socratic", "adversarial", "delphi"] {
        let (panel, frames) = watch_to_the_end(&app, &key, paced(panel_type, 400.0)).await;
        assert_eq!(panel["panel_type"], panel_type);
        assert!(frames.iter().any(|f| f["type"] == "ack" && f["ref"] == "s1"));
        let subscribed = frames.iter().find(|f| f["type"] == "subscribed").expect("subscribed frame");
        assert_eq!(subscribed["panel_id"], panel["id"]);
        assert!(subscribed["snapshot"]["members"].is_array());
        let events: Vec<Value> = frames.iter().filter(|f| f["type"] == "event").cloned().collect();
        assert_contiguous(&events, 0);
        assert_eq!(events[0]["kind"], "panel_created");
        assert_eq!(events.last().unwrap()["kind"], "panel_completed", "{panel_type}");
        assert!(events.iter().all(|e| e["panel_id"] == panel["id"] && e["ts"].is_string()));
        assert_tokens_rebuild(&frames);
        let done = app.get(&format!("/v1/panels/{}", panel["id"].as_str().unwrap()), &key).await.1;
        assert_eq!(done["status"], "completed");
        assert_eq!(done["head_seq"], events.len());
        assert!(done["recommendation"].as_str().unwrap().starts_with("[simulated]"));
        assert!(!done["consensus"].is_null(), "{panel_type}");
        for field in ["method", "median", "iqr", "mean", "agreement", "level", "dissent", "round"] {
            assert!(!done["consensus"][field].is_null(), "{field}");
        }
        assert!(done["completed_at"].is_string());
        // The REST log holds the same events.
        let logged = app.events(&key, panel["id"].as_str().unwrap()).await;
        assert_eq!(logged.len(), events.len());
        assert_eq!(logged.last().unwrap()["kind"], "panel_completed");
    }
}

#[actix_web::test]
async fn panel_requests_are_validated_with_fields() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app
        .post(
            "/v1/panels",
            &key,
            json!({"query": "short", "panel_type": "brainstorm", "max_rounds": "three", "colour": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    for field in ["panel_type", "max_rounds", "colour"] {
        assert!(body["error"]["fields"][field].is_string(), "{field}: {body}");
    }
    let (status, body) = app.post("/v1/panels", &key, json!({"query": "short", "panel_type": "structured"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["query"].as_str().unwrap().contains("10 to 5000"));
    let (status, body) = app
        .post(
            "/v1/panels",
            &key,
            json!({"query": "A long enough question?", "panel_type": "structured", "experts": ["nope"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["experts"].is_string());
    let (status, body) = app
        .post(
            "/v1/panels",
            &key,
            json!({"query": "A long enough question?", "panel_type": "delphi", "expert_count": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "delphi needs 5: {body}");
    assert!(body["error"]["fields"]["experts"].is_string());
    let (status, body) =
        app.post("/v1/panels", &key, json!({"query": "A long enough question?", "panel_type": "hybrid"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["humans"].is_string());
    let (status, body) = app.post("/v1/panels", &key, json!({"query": "A long enough question?", "panel_type": "structured", "max_rounds": 50, "human_turn_timeout_s": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["error"]["fields"]["max_rounds"].is_string()
            && body["error"]["fields"]["human_turn_timeout_s"].is_string(),
        "{body}"
    );
    // An adversarial panel runs its three phases whatever the rounds, but a
    // number out of range is still refused, not silently ignored.
    let (status, body) = app
        .post(
            "/v1/panels",
            &key,
            json!({"query": "A long enough question?", "panel_type": "adversarial", "max_rounds": 99}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["max_rounds"].is_string(), "{body}");
    let (status, body) = app.post("/v1/panels", &key, json!(["not", "an", "object"])).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed")));
}

#[actix_web::test]
async fn panels_list_newest_first_with_a_cursor_and_a_status_filter() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let mut ids = Vec::new();
    for seed in 0..5 {
        ids.push(app.create_panel(&key, structured(seed)).await["id"].as_str().unwrap().to_string());
    }
    let running = app.create_panel(&key, paced("structured", 2.0)).await["id"].as_str().unwrap().to_string();
    for id in &ids {
        app.wait_completed(&key, id).await;
    }
    let (status, page) = app.get("/v1/panels?limit=4", &key).await;
    assert_eq!(status, StatusCode::OK);
    let first: Vec<&str> = page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(first, vec![running.as_str(), ids[4].as_str(), ids[3].as_str(), ids[2].as_str()]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, page) = app.get(&format!("/v1/panels?limit=4&cursor={cursor}"), &key).await;
    let second: Vec<&str> = page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(second, vec![ids[1].as_str(), ids[0].as_str()]);
    assert!(page["next_cursor"].is_null());
    let (_, completed) = app.get("/v1/panels?status=completed&limit=100", &key).await;
    assert_eq!(completed["items"].as_array().unwrap().len(), 5);
    let (_, live) = app.get("/v1/panels?status=running", &key).await;
    assert_eq!(live["items"][0]["id"], running.as_str());
    assert_eq!(app.get("/v1/panels?status=bogus", &key).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/v1/panels?cursor=bogus", &key).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    // Another tenant's list is its own.
    let (_, other) = app.create_tenant("other", json!({})).await;
    assert_eq!(app.get("/v1/panels", &other).await.1["items"].as_array().unwrap().len(), 0);
    app.post(&format!("/v1/panels/{running}/moderate"), &key, json!({"action": "cancel"})).await;
}

#[actix_web::test]
async fn the_events_endpoint_pages_after_a_seq() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, structured(1)).await["id"].as_str().unwrap().to_string();
    let done = app.wait_completed(&key, &id).await;
    let head = done["head_seq"].as_u64().unwrap();
    let (status, body) = app.get(&format!("/v1/panels/{id}/events?after=3&limit=5"), &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["head_seq"], head);
    let events = body["events"].as_array().unwrap();
    assert_contiguous(events, 3);
    assert_eq!(events.len(), 5);
    for e in events {
        assert!(e["ts"].is_string() && e["kind"].is_string() && e["data"].is_object());
    }
    let all = app.events(&key, &id).await;
    assert_contiguous(&all, 0);
    assert_eq!(all.len() as u64, head);
    assert_eq!(app.get(&format!("/v1/panels/{id}/events?limit=0"), &key).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn another_tenants_panel_answers_exactly_like_a_missing_one_on_every_route() {
    let app = spawn_app().await;
    let (_, key_a) = app.create_tenant("alpha", json!({})).await;
    let (_, key_b) = app.create_tenant("beta", json!({})).await;
    let id = app.create_panel(&key_a, paced("structured", 5.0)).await["id"].as_str().unwrap().to_string();
    let missing = "0193a000-0000-7000-8000-0000000000ff";
    let routes = |p: &str| {
        vec![
            ("GET", format!("/v1/panels/{p}"), Value::Null),
            ("GET", format!("/v1/panels/{p}?live=true"), Value::Null),
            ("GET", format!("/v1/panels/{p}/events"), Value::Null),
            ("POST", format!("/v1/panels/{p}/input"), json!({"member_id": missing, "text": "hello"})),
            ("POST", format!("/v1/panels/{p}/moderate"), json!({"action": "cancel"})),
        ]
    };
    for ((method, cross_path, body), (_, missing_path, _)) in routes(&id).into_iter().zip(routes(missing)) {
        let method: reqwest::Method = method.parse().unwrap();
        let body = (!body.is_null()).then_some(body);
        let cross = app.request(method.clone(), &cross_path, Some(&key_b), body.clone()).await;
        let absent = app.request(method, &missing_path, Some(&key_b), body).await;
        assert_eq!(cross, absent, "{cross_path}");
        assert_eq!(cross.0, StatusCode::NOT_FOUND);
    }
    // SSE too.
    let response = app
        .client
        .get(app.url(&format!("/v1/panels/{id}/events")))
        .bearer_auth(&key_b)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The panel was not touched.
    let panel = app.get(&format!("/v1/panels/{id}"), &key_a).await.1;
    assert_eq!(panel["status"], "running");
    app.post(&format!("/v1/panels/{id}/moderate"), &key_a, json!({"action": "cancel"})).await;
}

#[actix_web::test]
async fn the_simulated_model_streams_as_many_words_per_delta_as_asked() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let words = |frames: &[Value]| -> Vec<usize> {
        frames
            .iter()
            .filter(|f| f["type"] == "token")
            .map(|f| f["delta"].as_str().unwrap().split_inclusive(' ').count())
            .collect()
    };
    for (asked, most) in [(Some(3), 3), (None, 1)] {
        let mut simulation = json!({"seed": 2, "pace_tokens_per_s": 300, "turn_tokens": 24});
        if let Some(n) = asked {
            simulation["words_per_delta"] = json!(n);
        }
        let body = json!({"query": "Should we open a second clinic site?", "panel_type": "structured",
            "expert_count": 3, "max_rounds": 1, "simulation": simulation});
        let id = app.create_panel(&key, body).await["id"].as_str().unwrap().to_string();
        let mut ws = app.ws(&key).await;
        ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
        let frames = ws.until("the end", is_terminal).await;
        assert_tokens_rebuild(&frames);
        let sizes = words(&frames);
        assert!(sizes.len() > 10, "{asked:?}: {sizes:?}");
        assert_eq!(sizes.iter().max().copied(), Some(most), "{asked:?}: {sizes:?}");
        assert!(sizes.iter().filter(|n| **n == most).count() * 2 > sizes.len(), "most deltas are full: {sizes:?}");
    }
    let bad = json!({"query": "Should we open a second clinic site?", "panel_type": "structured",
        "simulation": {"words_per_delta": 0}});
    let (status, body) = app.post("/v1/panels", &key, bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["simulation.words_per_delta"].is_string(), "{body}");
}

/// A pace above 0 but below 0.1 token/s once passed: its deltas' deadlines
/// ran hours to centuries ahead (a tiny enough one overflowed the clock).
#[actix_web::test]
async fn a_pace_is_instant_or_from_a_tenth_of_a_token_a_second() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("pace", json!({})).await;
    let table: [(f64, bool); 6] =
        [(0.0, true), (0.1, true), (10_000.0, true), (0.05, false), (1e-20, false), (-1.0, false)];
    for (pace, accepted) in table {
        let body = json!({"query": "Should we open a second clinic site?", "panel_type": "structured",
            "simulation": {"pace_tokens_per_s": pace, "turn_tokens": 5}});
        let (status, body) = app.post("/v1/panels", &key, body).await;
        if accepted {
            assert_eq!(status, StatusCode::CREATED, "{pace}: {body}");
            let id = body["id"].as_str().unwrap().to_string();
            app.post(&format!("/v1/panels/{id}/moderate"), &key, json!({"action": "cancel"})).await;
        } else {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{pace}: {body}");
            assert!(body["error"]["fields"]["simulation.pace_tokens_per_s"].is_string(), "{pace}: {body}");
        }
    }
}
