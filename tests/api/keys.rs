use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn an_admin_creates_lists_and_revokes_keys_and_the_key_is_shown_once() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.post("/v1/keys", &admin, json!({"role": "moderator", "name": "ops"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (id, key) = (body["id"].as_str().unwrap().to_string(), body["key"].as_str().unwrap().to_string());
    assert_eq!((body["role"].as_str(), body["name"].as_str()), (Some("moderator"), Some("ops")));
    assert_eq!(app.get("/v1/tenant", &key).await.0, StatusCode::OK);
    let (status, list) = app.get("/v1/keys", &admin).await;
    assert_eq!(status, StatusCode::OK);
    let listed = list["items"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
    assert!(listed["key"].is_null(), "the plain key is never listed");
    assert!(listed["revoked_at"].is_null());
    assert!(!listed.to_string().contains(&key));
    let (status, _) = app.request(Method::DELETE, &format!("/v1/keys/{id}"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/v1/tenant", &key).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (_, list) = app.get("/v1/keys", &admin).await;
    assert!(list["items"].as_array().unwrap().iter().any(|k| k["id"] == id.as_str() && k["revoked_at"].is_string()));
}

#[actix_web::test]
async fn key_requests_are_validated() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.post("/v1/keys", &admin, json!({"role": "emperor"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["role"].is_string() && body["error"]["fields"]["name"].is_string(), "{body}");
    let (status, _) = app.request(Method::DELETE, "/v1/keys/not-an-id", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_tenant_cannot_see_or_revoke_another_tenants_keys() {
    let app = spawn_app().await;
    let (_, admin_a) = app.create_tenant("alpha", json!({})).await;
    let (_, admin_b) = app.create_tenant("beta", json!({})).await;
    let (id_a, key_a) = app.create_key(&admin_a, "member").await;
    let (_, list) = app.get("/v1/keys", &admin_b).await;
    assert!(!list["items"].as_array().unwrap().iter().any(|k| k["id"] == id_a.as_str()));
    let missing =
        app.request(Method::DELETE, "/v1/keys/0193a000-0000-7000-8000-0000000000ff", Some(&admin_b), None).await;
    let cross = app.request(Method::DELETE, &format!("/v1/keys/{id_a}"), Some(&admin_b), None).await;
    assert_eq!(cross, missing, "another tenant's key answers exactly like a missing one");
    assert_eq!(cross.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/tenant", &key_a).await.0, StatusCode::OK, "still valid");
}

#[actix_web::test]
async fn ws_tokens_are_short_lived_signed_and_bound_to_the_key() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.post("/v1/ws-tokens", &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap();
    let expires: chrono::DateTime<chrono::Utc> = body["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = expires - chrono::Utc::now();
    assert!(ttl > chrono::Duration::seconds(200) && ttl <= chrono::Duration::seconds(300), "{ttl}");
    // A tampered token is refused at the upgrade.
    let mut forged = token.to_string();
    forged.insert(3, 'x');
    let response = app.client.get(app.url(&format!("/v1/ws?token={forged}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let mut ws = app.ws(&admin).await;
    ws.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(ws.next_frame().await, json!({"type": "pong", "id": 1}));
}
