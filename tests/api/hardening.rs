//! Hardening: what an attacker could grow or bypass, each bounded.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn made_up_methods_and_paths_create_no_metric_series() {
    let app = spawn_app().await;
    for i in 0..40 {
        let method = Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        app.request(method, "/v1/panels", None, None).await;
        app.request(Method::GET, &format!("/no/such/path/{i}"), None, None).await;
    }
    let text = app.request(Method::GET, "/metrics", None, None).await.1;
    let text = text.as_str().expect("metrics text");
    assert!(!text.contains("BREW"), "a client's method became a label");
    assert!(!text.contains("/no/such/path"), "a client's path became a label");
    assert!(text.contains("method=\"other\""), "made-up methods are counted as other");
    assert!(text.contains("route=\"unmatched\""), "unknown paths are counted as unmatched");
}

#[actix_web::test]
async fn unknown_keys_are_not_cached_and_a_flood_from_one_address_is_refused_before_the_lookup() {
    let app = spawn_app_with(|s| s.auth.failed_auth_per_minute = 25).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    assert_eq!(app.get("/v1/panels", &key).await.0, StatusCode::OK);
    for i in 0..25 {
        let (status, body) = app.get("/v1/panels", &format!("ap_made_up_key_number_{i:04}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    assert_eq!(metric(&app, "askpanel_auth_cache_keys").await, 1.0, "only the real key is cached");
    // Past the limit the address is refused without a lookup, with a wait.
    let response = app.client.get(app.url("/v1/panels")).bearer_auth("ap_one_more_made_up_key").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    // A key already checked is served from the cache: no lookup, no refusal.
    assert_eq!(app.get("/v1/panels", &key).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn bodies_are_read_strictly_duplicate_keys_other_content_types_and_unknown_token_fields() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let raw = |path: &str, content_type: Option<&str>, body: &str| {
        let mut request = app.client.post(app.url(path)).bearer_auth(&admin).body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send()
    };
    // A repeated key is not read as its last value: no admin key from a viewer's request.
    let response =
        raw("/v1/keys", Some("application/json"), r#"{"role": "viewer", "name": "k", "role": "admin"}"#).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    assert_eq!(body["error"]["fields"]["role"], "appears more than once", "{body}");
    let (_, keys) = app.get("/v1/keys", &admin).await;
    assert_eq!(keys["items"].as_array().map(Vec::len), Some(1), "no key was created: {keys}");
    // JSON sent as something else is refused, whatever it holds.
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let response = raw("/v1/keys", content_type, r#"{"role": "viewer", "name": "k"}"#).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type", "{body}");
    }
    // WebSocket tokens: an empty body or {} as before, unknown fields 422 as everywhere.
    assert_eq!(raw("/v1/ws-tokens", None, "").await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.post("/v1/ws-tokens", &admin, json!({})).await.0, StatusCode::OK);
    let (status, body) = app.post("/v1/ws-tokens", &admin, json!({"ttl_s": 999999, "role": "admin"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["fields"]["role"], "unknown field", "{body}");
}

#[actix_web::test]
async fn a_body_that_drips_in_is_cut_off_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(|s| s.server.body_timeout_s = 2).await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let address = app.url("/").trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/keys HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    // Ten bytes every half second: it would take ten seconds to finish.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if stream.write_all(b"          ").await.is_err() {
            break;
        }
        tokio::select! {
            read = stream.read(&mut buffer) => {
                match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        answer.extend_from_slice(&buffer[..n]);
                        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                }
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(8), "the slow body was not cut off");
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

/// Opens an SSE stream of a panel with `key`.
async fn open_sse(app: &TestApp, key: &str, panel: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/v1/panels/{panel}/events")))
        .bearer_auth(key)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap()
}

/// Whether the stream ends (the server closes it) within `within`.
async fn ends_within(response: reqwest::Response, within: std::time::Duration) -> bool {
    use futures::StreamExt;
    let mut body = response.bytes_stream();
    tokio::time::timeout(within, async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await
    .is_ok()
}

#[actix_web::test]
async fn sse_streams_end_on_revocation_and_suspension_and_count_towards_the_key_cap() {
    let app = spawn_app_with(|s| s.ws.max_sockets_per_key = 2).await;
    let (tenant, admin) = app.create_tenant("acme", json!({})).await;
    let panel = app.create_panel(&admin, paced("structured", 2.0)).await["id"].as_str().unwrap().to_string();
    let (key_id, viewer) = app.create_key(&admin, "viewer").await;
    // The cap: two streams of a key, SSE or WebSocket alike.
    let first = open_sse(&app, &viewer, &panel).await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = open_sse(&app, &viewer, &panel).await;
    assert_eq!(second.status(), StatusCode::OK);
    let third = open_sse(&app, &viewer, &panel).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "limit_exceeded", "{body}");
    // Revoking the key ends its open streams (they would otherwise stream on).
    let (status, _) = app.request(Method::DELETE, &format!("/v1/keys/{key_id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let wait = std::time::Duration::from_secs(5);
    assert!(ends_within(first, wait).await, "a revoked key's stream went on");
    assert!(ends_within(second, wait).await, "a revoked key's stream went on");
    // Suspending the tenant ends its streams too.
    let stream = open_sse(&app, &admin, &panel).await;
    assert_eq!(stream.status(), StatusCode::OK);
    let (status, body) = app
        .request(
            Method::PATCH,
            &format!("/v1/admin/tenants/{tenant}"),
            Some(&app.admin_key.clone()),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ends_within(stream, wait).await, "a suspended tenant's stream went on");
}

#[actix_web::test]
async fn websocket_protocol_errors_close_with_their_own_codes_and_control_frames_count_in_the_rate() {
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let app = spawn_app_with(|s| {
        s.ws.max_frame_bytes = 8192;
        s.ws.frames_per_second = 20;
    })
    .await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    // A message over the limit in small fragments: 1009, as one frame over it would be.
    let mut ws = app.ws(&key).await;
    ws.send_raw(Message::Frame(Frame::message(vec![b' '; 4000], OpCode::Data(Data::Text), false))).await;
    ws.send_raw(Message::Frame(Frame::message(vec![b' '; 4000], OpCode::Data(Data::Continue), false))).await;
    ws.send_raw(Message::Frame(Frame::message(vec![b' '; 4000], OpCode::Data(Data::Continue), true))).await;
    assert_eq!(ws.closed_with().await, Some(1009));
    // A frame with a reserved bit set (no extension was negotiated): 1002.
    let mut ws = app.ws(&key).await;
    let mut frame = Frame::message(br#"{"type":"ping"}"#.to_vec(), OpCode::Data(Data::Text), true);
    frame.header_mut().rsv1 = true;
    ws.send_raw(Message::Frame(frame)).await;
    assert_eq!(ws.closed_with().await, Some(1002));
    // A ping flood is counted like text frames: refused, then closed with 1008.
    let mut ws = app.ws(&key).await;
    for i in 0..2000u32 {
        if futures::SinkExt::send(&mut ws.stream, Message::Ping(i.to_be_bytes().to_vec().into())).await.is_err() {
            break;
        }
    }
    assert_eq!(ws.closed_with().await, Some(1008));
}

#[actix_web::test]
async fn pages_of_other_origins_may_not_open_sockets_or_streams_and_cors_follows_the_allowed_list() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn_app_with(|s| s.server.allowed_origins = vec!["https://app.example.com".into()]).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let panel = app.create_panel(&key, paced("structured", 20.0)).await["id"].as_str().unwrap().to_string();
    let own = format!("http://{}", app.address);
    let upgrade = |origin: &str| {
        let mut request = format!("ws://{}/v1/ws", app.address).into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
        request.headers_mut().insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    match upgrade("http://evil.example").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a foreign origin's upgrade was not refused: {:?}", other.map(|(_, r)| r.status())),
    }
    assert!(upgrade(&own).await.is_ok(), "the server's own origin");
    assert!(upgrade("https://app.example.com").await.is_ok(), "a listed origin");
    let sse = |origin: &str| {
        app.client
            .get(app.url(&format!("/v1/panels/{panel}/events")))
            .bearer_auth(&key)
            .header("accept", "text/event-stream")
            .header("origin", origin)
            .send()
    };
    assert_eq!(sse("http://evil.example").await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(sse(&own).await.unwrap().status(), StatusCode::OK);
    // CORS: a listed origin's preflight is answered for it; another's is not.
    let preflight = |origin: &str| {
        app.client
            .request(Method::OPTIONS, app.url("/v1/panels"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let listed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        listed.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap()),
        Some("https://app.example.com")
    );
    let foreign = preflight("http://evil.example").await.unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none(), "{:?}", foreign.headers());
}

#[actix_web::test]
async fn a_websocket_frame_with_a_key_twice_is_refused_like_a_body() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let mut ws = app.ws(&key).await;
    ws.send_raw(tokio_tungstenite::tungstenite::Message::text(r#"{"type": "ping", "type": "subscribe"}"#)).await;
    let refused = ws.next_frame().await;
    assert_eq!(refused["code"], "validation_failed", "{refused}");
    ws.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(ws.next_frame().await["type"], "pong", "the socket stays open");
}
