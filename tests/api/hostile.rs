//! Hostile input, over HTTP and WebSocket: each case gets its documented
//! error, the server stays healthy, and another tenant's panel is unaffected.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::helpers::*;

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
    headers: Vec<(&'static str, String)>,
    status: StatusCode,
    code: &'static str,
}

fn case(
    name: &'static str,
    method: Method,
    path: impl Into<String>,
    body: Option<&[u8]>,
    status: StatusCode,
    code: &'static str,
) -> Case {
    Case { name, method, path: path.into(), body: body.map(<[u8]>::to_vec), headers: Vec::new(), status, code }
}

fn nested(depth: usize) -> String {
    format!("{{\"query\": {}1{}}}", "[".repeat(depth), "]".repeat(depth))
}

#[actix_web::test]
async fn hostile_http_requests_get_their_documented_errors_and_break_nothing() {
    let app = spawn_app_with(|s| s.server.max_body_bytes = 65536).await;
    let (_, key) = app.create_tenant("target", json!({})).await;
    let (_, other) = app.create_tenant("bystander", json!({})).await;
    let (_, viewer) = app.create_key(&key, "viewer").await;
    // Another tenant's panel runs throughout and must finish untouched.
    let theirs = app.create_panel(&other, paced("structured", 100.0)).await["id"].as_str().unwrap().to_string();
    let (other_key_id, _) = app.create_key(&other, "member").await;
    let hybrid = app
        .create_panel(
            &key,
            json!({"query": "A long enough question?", "panel_type": "hybrid", "expert_count": 2, "humans": [{"name": "H"}], "simulation": {"pace_tokens_per_s": 5}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let big_query = "q".repeat(6000);
    let huge_body = format!("{{\"query\": \"{}\", \"panel_type\": \"structured\"}}", "x".repeat(70_000));
    let many_experts = json!({"query": "A long enough question?", "panel_type": "open", "experts": vec!["0193a000-0000-7000-8000-000000000001"; 1000]}).to_string();
    use StatusCode as S;
    let p = "/v1/panels";
    let mut cases = vec![
        case("truncated json", Method::POST, p, Some(b"{\"query\": \"abc"), S::BAD_REQUEST, "bad_request"),
        case("not json", Method::POST, p, Some(b"hello there"), S::BAD_REQUEST, "bad_request"),
        case("empty body", Method::POST, p, Some(b""), S::BAD_REQUEST, "bad_request"),
        case("array body", Method::POST, p, Some(b"[1,2,3]"), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case("null body", Method::POST, p, Some(b"null"), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case("string body", Method::POST, p, Some(b"\"panel\""), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case("wrong type", Method::POST, p, Some(br#"{"query": 5, "panel_type": "structured"}"#), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case(
            "query too long",
            Method::POST,
            p,
            Some(format!(r#"{{"query": "{big_query}", "panel_type": "structured"}}"#).as_bytes()),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case("body too large", Method::POST, p, Some(huge_body.as_bytes()), S::PAYLOAD_TOO_LARGE, "payload_too_large"),
        case("deeply nested", Method::POST, p, Some(nested(5000).as_bytes()), S::BAD_REQUEST, "bad_request"),
        case("huge number", Method::POST, p, Some(br#"{"query": "A long enough question?", "panel_type": "structured", "max_rounds": 1e400}"#), S::BAD_REQUEST, "bad_request"),
        case(
            "negative rounds",
            Method::POST,
            p,
            Some(br#"{"query": "A long enough question?", "panel_type": "structured", "max_rounds": -1}"#),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case(
            "unknown field",
            Method::POST,
            p,
            Some(br#"{"query": "A long enough question?", "panel_type": "structured", "admin": true}"#),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case("unknown panel type", Method::POST, p, Some(br#"{"query": "A long enough question?", "panel_type": "duel"}"#), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case("a thousand experts", Method::POST, p, Some(many_experts.as_bytes()), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case(
            "expert id not a uuid",
            Method::POST,
            p,
            Some(br#"{"query": "A long enough question?", "panel_type": "open", "experts": ["../../etc/passwd"]}"#),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case(
            "human name too long",
            Method::POST,
            p,
            Some(format!(r#"{{"query": "A long enough question?", "panel_type": "hybrid", "humans": [{{"name": "{}"}}]}}"#, "n".repeat(500)).as_bytes()),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case(
            "simulation unknown field",
            Method::POST,
            p,
            Some(br#"{"query": "A long enough question?", "panel_type": "open", "simulation": {"speed": 9}}"#),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case(
            "simulation out of range",
            Method::POST,
            p,
            Some(br#"{"query": "A long enough question?", "panel_type": "open", "simulation": {"turn_tokens": 100000}}"#),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case(
            "another tenant's key as human",
            Method::POST,
            p,
            Some(format!(r#"{{"query": "A long enough question?", "panel_type": "hybrid", "humans": [{{"name": "X", "key_id": "{other_key_id}"}}]}}"#).as_bytes()),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case("invalid utf-8 body", Method::POST, p, Some(b"{\"query\": \"\xff\xfe\xfd\", \"panel_type\": \"open\"}"), S::BAD_REQUEST, "bad_request"),
        case("path traversal in panel id", Method::GET, "/v1/panels/..%2F..%2Fetc%2Fpasswd", None, S::NOT_FOUND, "not_found"),
        case("path traversal in assets", Method::GET, "/assets/..%2F..%2FCargo.toml", None, S::NOT_FOUND, "not_found"),
        case("dot segments in assets", Method::GET, "/assets/../Cargo.toml", None, S::NOT_FOUND, "not_found"),
        case("unknown asset", Method::GET, "/assets/secret.env", None, S::NOT_FOUND, "not_found"),
        case("limit too large", Method::GET, "/v1/panels?limit=99999", None, S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case("limit not a number", Method::GET, "/v1/panels?limit=abc", None, S::BAD_REQUEST, "bad_request"),
        case("another tenant's panel", Method::GET, format!("/v1/panels/{theirs}"), None, S::NOT_FOUND, "not_found"),
        case("another tenant's events", Method::GET, format!("/v1/panels/{theirs}/events"), None, S::NOT_FOUND, "not_found"),
        case("moderate another tenant's panel", Method::POST, format!("/v1/panels/{theirs}/moderate"), Some(br#"{"action": "cancel"}"#), S::NOT_FOUND, "not_found"),
        case("unknown action", Method::POST, format!("/v1/panels/{hybrid}/moderate"), Some(br#"{"action": "explode"}"#), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case(
            "inject too long",
            Method::POST,
            format!("/v1/panels/{hybrid}/moderate"),
            Some(format!(r#"{{"action": "inject", "text": "{}"}}"#, "t".repeat(3000)).as_bytes()),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case(
            "input too long",
            Method::POST,
            format!("/v1/panels/{hybrid}/input"),
            Some(format!(r#"{{"member_id": "0193a000-0000-7000-8000-000000000001", "text": "{}"}}"#, "t".repeat(30000)).as_bytes()),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        case("usage month traversal", Method::GET, "/v1/usage?month=../../x", None, S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case("logo javascript url", Method::PATCH, "/v1/tenant", Some(br#"{"branding": {"logo_url": "javascript:alert(1)"}}"#), S::UNPROCESSABLE_ENTITY, "validation_failed"),
        case("revoke another tenant's key", Method::DELETE, format!("/v1/keys/{other_key_id}"), None, S::NOT_FOUND, "not_found"),
        case("method not allowed", Method::PUT, "/v1/panels", Some(b"{}"), S::METHOD_NOT_ALLOWED, "method_not_allowed"),
    ];
    cases.push(Case {
        headers: vec![("X-Tenant-ID", "bystander".into())],
        ..case("tenant header of another", Method::GET, "/v1/tenant", None, S::FORBIDDEN, "tenant_mismatch")
    });
    cases.push(Case {
        headers: vec![("Idempotency-Key", "k".repeat(300))],
        ..case(
            "idempotency key too long",
            Method::POST,
            p,
            Some(br#"{"query": "A long enough question?", "panel_type": "open"}"#),
            S::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
    });
    cases.push(Case {
        headers: vec![("Authorization", format!("Bearer {}", "a".repeat(8000)))],
        ..case("enormous bearer", Method::GET, "/v1/tenant", None, S::UNAUTHORIZED, "unauthorized")
    });
    let count = cases.len();
    for c in cases {
        let mut request = app.client.request(c.method.clone(), app.url(&c.path));
        if !c.headers.iter().any(|(h, _)| *h == "Authorization") {
            request = request.bearer_auth(&key);
        }
        for (name, value) in &c.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = c.body {
            request = request.header("Content-Type", "application/json").body(body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let status = response.status();
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
        assert_eq!(status, c.status, "{}: {body}", c.name);
        assert_eq!(body["error"]["code"], c.code, "{}: {body}", c.name);
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", c.name);
    }
    assert!(count >= 40, "{count} cases");
    // A viewer flooding creations gets 403s, not a crash.
    for _ in 0..50 {
        assert_eq!(app.post("/v1/panels", &viewer, structured(1)).await.0, S::FORBIDDEN);
    }
    // Unicode and right-to-left text are data, not errors; a NUL character is refused.
    let odd = app
        .create_panel(&key, json!({"query": "Should we ship? \u{202e}עברית 🚀 \u{7} done", "panel_type": "structured", "expert_count": 3, "simulation": {"turn_tokens": 10}}))
        .await;
    let id = odd["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/panels/{id}"), &key).await.1["query"],
        "Should we ship? \u{202e}עברית 🚀 \u{7} done"
    );
    let (status, body) =
        app.post("/v1/panels", &key, json!({"query": "Should we \u{0000} ship?", "panel_type": "structured"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (S::UNPROCESSABLE_ENTITY, Some("validation_failed")),
        "{body}"
    );
    // Healthy, and the bystander's panel completes.
    assert_eq!(app.request(Method::GET, "/healthz", None, None).await.0, S::OK);
    assert_eq!(app.request(Method::GET, "/readyz", None, None).await.0, S::OK);
    assert_eq!(app.wait_completed(&other, &theirs).await["status"], "completed");
    app.post(&format!("/v1/panels/{hybrid}/moderate"), &key, json!({"action": "cancel"})).await;
}

#[actix_web::test]
async fn hostile_websocket_frames_get_errors_or_documented_closes() {
    let app = spawn_app_with(|s| {
        s.ws.max_frame_bytes = 8192;
        s.ws.max_subscriptions = 3;
        s.ws.max_sockets_per_key = 4;
        s.ws.frames_per_second = 20;
    })
    .await;
    let (_, key) = app.create_tenant("target", json!({})).await;
    let (_, other) = app.create_tenant("bystander", json!({})).await;
    let theirs = app.create_panel(&other, paced("structured", 100.0)).await["id"].as_str().unwrap().to_string();
    let mut watcher = app.ws(&other).await;
    watcher.send(json!({"type": "subscribe", "panel_id": theirs, "after_seq": 0})).await;

    // Invalid UTF-8 in a text frame closes with 1007.
    let mut ws = app.ws(&key).await;
    ws.send_raw(Message::Frame(Frame::message(vec![0xff, 0xfe, 0x7b], OpCode::Data(Data::Text), true))).await;
    assert_eq!(ws.closed_with().await, Some(1007));

    // Deep nesting, a huge ref, too many subscriptions, floods: errors, socket kept.
    let mut ws = app.ws(&key).await;
    let deep = format!("{{\"type\":\"ping\",\"id\":{}1{}}}", "[".repeat(3000), "]".repeat(3000));
    ws.send_raw(Message::text(deep)).await;
    assert_eq!(ws.next_frame().await["code"], "invalid_frame");
    ws.send(json!({"type": "ping", "ref": "r".repeat(500)})).await;
    let pong = ws.next_frame().await;
    assert_eq!(pong["type"], "pong");
    ws.send(json!({"type": "subscribe", "panel_id": theirs, "ref": "theirs"})).await;
    let refused = ws.until("the cross-tenant answer", |f| f["ref"] == "theirs").await;
    assert_eq!(refused.last().unwrap()["code"], "not_found");
    let mine: Vec<String> = {
        let mut ids = Vec::new();
        for seed in 0..4 {
            ids.push(app.create_panel(&key, structured(seed)).await["id"].as_str().unwrap().to_string());
        }
        ids
    };
    for id in &mine[..3] {
        ws.send(json!({"type": "subscribe", "panel_id": id})).await;
    }
    ws.send(json!({"type": "subscribe", "panel_id": mine[3], "ref": "fourth"})).await;
    let refused = ws.until("the fourth subscription's answer", |f| f["ref"] == "fourth").await;
    assert_eq!(refused.last().unwrap()["code"], "limit_exceeded");
    for i in 0..120 {
        ws.send(json!({"type": "ping", "id": i})).await;
    }
    let frames = ws.until("a rate-limit error", |f| f["code"] == "rate_limited").await;
    assert!(!frames.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    ws.send(json!({"type": "ping", "id": "after-flood"})).await;
    ws.until("the socket to answer again", |f| f["id"] == "after-flood").await;

    // Sockets per key are bounded.
    let _more = [app.ws(&key).await, app.ws(&key).await, app.ws(&key).await];
    let (_, token) = app.post("/v1/ws-tokens", &key, json!({})).await;
    let response =
        app.client.get(app.url(&format!("/v1/ws?token={}", token["token"].as_str().unwrap()))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);

    // A binary frame is an error; an oversized one closes with 1009.
    ws.send_raw(Message::binary(vec![0u8; 16])).await;
    let frames = ws.until("the binary frame's error", |f| f["type"] == "error").await;
    assert_eq!(frames.last().unwrap()["code"], "invalid_frame");
    ws.send_raw(Message::text("x".repeat(10_000))).await;
    assert_eq!(ws.closed_with().await, Some(1009));

    // The bystander's stream was unaffected.
    let frames = watcher.until("the bystander's panel end", is_terminal).await;
    let events: Vec<Value> = frames.into_iter().filter(|f| f["type"] == "event").collect();
    assert_contiguous(&events, 0);
    assert_eq!(app.request(Method::GET, "/healthz", None, None).await.0, StatusCode::OK);
}
