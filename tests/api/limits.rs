use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn max_concurrent_panels_answers_429_until_a_panel_ends() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({"max_concurrent_panels": 2})).await;
    let first = app.create_panel(&key, paced("structured", 2.0)).await["id"].as_str().unwrap().to_string();
    app.create_panel(&key, paced("structured", 2.0)).await;
    let (status, body) = app.post("/v1/panels", &key, paced("structured", 2.0)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("limit_exceeded")),
        "{body}"
    );
    let (_, other) = app.create_tenant("other", json!({"max_concurrent_panels": 2})).await;
    app.create_panel(&other, structured(1)).await;
    assert_eq!(
        app.post(&format!("/v1/panels/{first}/moderate"), &key, json!({"action": "cancel"})).await.0,
        StatusCode::ACCEPTED
    );
    app.wait_completed(&key, &first).await;
    let mut created = false;
    for _ in 0..100 {
        let (status, _) = app.post("/v1/panels", &key, structured(2)).await;
        if status == StatusCode::CREATED {
            created = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(created, "the freed slot is usable");
}

#[actix_web::test]
async fn max_panels_per_month_answers_429() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({"max_panels_per_month": 2})).await;
    app.create_panel(&key, structured(1)).await;
    app.create_panel(&key, structured(2)).await;
    let (status, body) = app.post("/v1/panels", &key, structured(3)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("limit_exceeded")),
        "{body}"
    );
}

#[actix_web::test]
async fn max_experts_per_panel_answers_429() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({"max_experts_per_panel": 4})).await;
    let (status, body) = app
        .post("/v1/panels", &key, json!({"query": "A long enough question?", "panel_type": "open", "expert_count": 5}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("limit_exceeded")),
        "{body}"
    );
    let (status, _) = app.post("/v1/panels", &key, json!({"query": "A long enough question?", "panel_type": "open", "expert_count": 4, "simulation": {"turn_tokens": 10}})).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[actix_web::test]
async fn simultaneous_creates_never_pass_the_monthly_panel_limit() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({"max_panels_per_month": 5, "max_concurrent_panels": 100})).await;
    let creates = (0..20).map(|i| {
        let request = app.client.post(app.url("/v1/panels")).bearer_auth(&key).json(&structured(i));
        async move { request.send().await.unwrap().status() }
    });
    let statuses = futures::future::join_all(creates).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((created, refused), (5, 15), "{statuses:?}");
    let (_, usage) = app.get("/v1/usage", &key).await;
    assert_eq!(usage["panels_created"], 5, "{usage}");
}

#[actix_web::test]
async fn the_same_idempotency_key_returns_the_same_panel() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("other", json!({})).await;
    let send = |key: String| {
        let client = app.client.clone();
        let url = app.url("/v1/panels");
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .header("Idempotency-Key", "order-42")
                .json(&structured(1))
                .send()
                .await
                .unwrap()
        }
    };
    let first = send(key.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = send(key.clone()).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    // Keys are per tenant.
    let theirs = send(other).await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    let theirs: serde_json::Value = theirs.json().await.unwrap();
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(app.get("/v1/panels?limit=100", &key).await.1["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn an_idempotency_key_reused_with_another_body_is_refused() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let send = |body: serde_json::Value| {
        let request = app.client.post(app.url("/v1/panels")).bearer_auth(&key).header("Idempotency-Key", "order-9");
        async move { request.json(&body).send().await.unwrap() }
    };
    let first = send(structured(1)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    // The same request, its keys in another order: a retry.
    let mut reordered = serde_json::Map::new();
    for (k, v) in structured(1).as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    assert_eq!(send(serde_json::Value::Object(reordered)).await.status(), StatusCode::OK);
    // Another request, valid or not, with the same key: refused, not answered with the first panel.
    for other in [structured(2), json!({"query": "?"})] {
        let response = send(other).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "idempotency_key_reused", "{body}");
    }
    assert_eq!(app.get("/v1/panels?limit=100", &key).await.1["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_retried_create_gets_its_panel_even_when_the_tenant_is_at_its_limits() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({"max_concurrent_panels": 1, "max_panels_per_month": 1})).await;
    let send = || {
        let request = app
            .client
            .post(app.url("/v1/panels"))
            .bearer_auth(&key)
            .header("Idempotency-Key", "retry-7")
            .json(&paced("structured", 2.0));
        async move { request.send().await.unwrap() }
    };
    let first = send().await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: serde_json::Value = first.json().await.unwrap();
    // The panel runs (the concurrency limit is reached) and the month's one panel is used.
    let again = send().await;
    assert_eq!(again.status(), StatusCode::OK, "a retry is not a new panel");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    let (status, body) = app.post("/v1/panels", &key, structured(2)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("limit_exceeded")),
        "{body}"
    );
    let id = first["id"].as_str().unwrap();
    app.post(&format!("/v1/panels/{id}/moderate"), &key, json!({"action": "cancel"})).await;
}
