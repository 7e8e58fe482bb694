use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn the_catalog_lists_platform_experts_ranked_by_relevance() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.get("/v1/experts?limit=200", &key).await;
    assert_eq!(status, StatusCode::OK);
    let items = body["items"].as_array().unwrap();
    assert!(items.len() >= 40);
    for field in ["id", "name", "domain", "persona", "tags", "scope"] {
        assert!(!items[0][field].is_null(), "{field}");
    }
    assert!(items.iter().all(|e| e["scope"] == "platform"));
    let (_, body) = app.get("/v1/experts?q=GDPR%20HIPAA%20privacy&limit=3", &key).await;
    assert_eq!(body["items"][0]["domain"], "privacy", "{body}");
    let (_, body) = app.get("/v1/experts?domain=biostatistics", &key).await;
    assert!(body["items"].as_array().unwrap().iter().all(|e| e["domain"] == "biostatistics"));
    assert!(!body["items"].as_array().unwrap().is_empty());
    let id = items[0]["id"].as_str().unwrap();
    let (status, one) = app.get(&format!("/v1/experts/{id}"), &key).await;
    assert_eq!((status, one["id"].as_str()), (StatusCode::OK, Some(id)));
    assert_eq!(app.get("/v1/experts?limit=0", &key).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}

#[actix_web::test]
async fn private_experts_belong_to_their_tenant_only() {
    let app = spawn_app().await;
    let (_, admin_a) = app.create_tenant("alpha", json!({})).await;
    let (_, admin_b) = app.create_tenant("beta", json!({})).await;
    let (status, expert) = app
        .post(
            "/v1/experts",
            &admin_a,
            json!({"name": "Dr. Quill", "domain": "regulatory", "persona": "A notified-body auditor for EU MDR class IIb devices.", "tags": ["mdr", "notified body", "zebrafish"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{expert}");
    assert_eq!(expert["scope"], "tenant");
    let id = expert["id"].as_str().unwrap();
    let (_, mine) = app.get("/v1/experts?q=zebrafish", &admin_a).await;
    assert_eq!(mine["items"][0]["id"], id, "ranked with the catalog");
    let (_, theirs) = app.get("/v1/experts?q=zebrafish&limit=200", &admin_b).await;
    assert!(!theirs["items"].as_array().unwrap().iter().any(|e| e["id"] == id));
    let missing = app.get("/v1/experts/0193a000-0000-7000-8000-0000000000ff", &admin_b).await;
    let cross = app.get(&format!("/v1/experts/{id}"), &admin_b).await;
    assert_eq!(cross, missing, "another tenant's expert answers like a missing one");
    // Tenant B cannot seat A's expert either.
    let (status, body) = app
        .post(
            "/v1/panels",
            &admin_b,
            json!({"query": "Is this device safe enough?", "panel_type": "structured", "experts": [id, items_id(&app, &admin_b).await, items_id2(&app, &admin_b).await]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["experts"].as_str().unwrap().contains("unknown expert"));
    // A can.
    let (status, body) = app
        .post("/v1/panels", &admin_a, json!({"query": "Is this device safe enough?", "panel_type": "structured", "experts": [id, items_id(&app, &admin_a).await, items_id2(&app, &admin_a).await], "simulation": {"turn_tokens": 10}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["members"][0]["name"], "Dr. Quill");
}

async fn items_id(app: &TestApp, key: &str) -> String {
    app.get("/v1/experts?domain=clinical", key).await.1["items"][0]["id"].as_str().unwrap().to_string()
}

async fn items_id2(app: &TestApp, key: &str) -> String {
    app.get("/v1/experts?domain=ethics", key).await.1["items"][0]["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn invalid_experts_get_422_with_fields() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.post("/v1/experts", &admin, json!({"name": "", "tags": "notalist"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = &body["error"]["fields"];
    for field in ["name", "domain", "persona", "tags"] {
        assert!(fields[field].is_string(), "{field}: {body}");
    }
}
