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
