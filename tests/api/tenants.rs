use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn the_platform_admin_creates_lists_and_updates_tenants() {
    let app = spawn_app().await;
    let admin = app.admin_key.clone();
    let (status, body) =
        app.post("/v1/admin/tenants", &admin, json!({"slug": "acme-health", "name": "Acme Health", "tier": "starter", "limits": {"max_concurrent_panels": 7}})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for field in ["id", "slug", "name", "tier", "status", "limits"] {
        assert!(!body[field].is_null(), "{field}");
    }
    assert_eq!(body["status"], "active");
    assert_eq!(body["limits"]["max_concurrent_panels"], 7, "overrides apply");
    assert_eq!(body["limits"]["max_experts_per_panel"], 6, "the rest is the tier's");
    assert_eq!(body["api_key"]["role"], "admin");
    let key = body["api_key"]["key"].as_str().unwrap();
    assert!(!body["api_key"]["id"].is_null());
    let id = body["id"].as_str().unwrap();
    assert_eq!(app.get("/v1/tenant", key).await.1["slug"], "acme-health");

    let (status, body) = app.get("/v1/admin/tenants", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["items"].as_array().unwrap().iter().any(|t| t["id"] == id));

    let (status, body) = app
        .request(
            Method::PATCH,
            &format!("/v1/admin/tenants/{id}"),
            Some(&admin),
            Some(json!({"tier": "enterprise", "limits": {"requests_per_minute": 99}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tier"], "enterprise");
    assert_eq!(body["limits"]["requests_per_minute"], 99);
    assert_eq!(body["limits"]["max_experts_per_panel"], 12);
    let (status, _) = app
        .request(
            Method::PATCH,
            "/v1/admin/tenants/0193a000-0000-7000-8000-0000000000ff",
            Some(&admin),
            Some(json!({"tier": "starter"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn invalid_tenants_get_422_with_fields_and_a_taken_slug_409() {
    let app = spawn_app().await;
    let admin = app.admin_key.clone();
    let (status, body) = app
        .post("/v1/admin/tenants", &admin, json!({"slug": "Bad Slug!", "name": "", "tier": "gold", "extra": 1}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let fields = &body["error"]["fields"];
    for field in ["slug", "name", "tier", "extra"] {
        assert!(fields[field].is_string(), "{field}: {body}");
    }
    let (status, body) = app.post("/v1/admin/tenants", &admin, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["fields"]["slug"], "is required");
    app.create_tenant("taken", json!({})).await;
    let (status, body) = app.post("/v1/admin/tenants", &admin, json!({"slug": "taken", "name": "Again"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    let (status, body) =
        app.post("/v1/admin/tenants", &admin, json!({"slug": "lim", "name": "L", "limits": {"max_widgets": 3}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let response = app
        .client
        .post(app.url("/v1/admin/tenants"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn a_tenant_reads_itself_and_its_admin_sets_the_branding() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (status, body) = app.get("/v1/tenant", &key).await;
    assert_eq!(status, StatusCode::OK);
    for field in ["id", "slug", "name", "tier", "status", "limits", "features", "branding"] {
        assert!(!body[field].is_null(), "{field}");
    }
    assert_eq!(body["features"]["llm"]["simulated"], true);
    assert_eq!(body["caller"]["role"], "admin", "the caller's own role, for the web page");
    assert!(body["branding"]["logo_url"].is_null());
    let (status, body) = app
        .request(
            Method::PATCH,
            "/v1/tenant",
            Some(&key),
            Some(json!({"branding": {"display_name": "Acme Panels", "primary_color": "#114477", "logo_url": "https://acme.example/logo.png"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["branding"]["display_name"], "Acme Panels");
    assert_eq!(app.get("/v1/tenant", &key).await.1["branding"]["primary_color"], "#114477");
    let (status, body) = app
        .request(
            Method::PATCH,
            "/v1/tenant",
            Some(&key),
            Some(json!({"branding": {"primary_color": "red", "logo_url": "javascript:alert(1)"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["branding.primary_color"].is_string());
    assert!(body["error"]["fields"]["branding.logo_url"].is_string());
}

#[actix_web::test]
async fn usage_counts_the_tenants_panels_turns_and_tokens_of_the_month() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("other", json!({})).await;
    let panel = app.create_panel(&key, structured(1)).await;
    let done = app.wait_completed(&key, panel["id"].as_str().unwrap()).await;
    let (status, usage) = app.get("/v1/usage", &key).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["panels_created"], 1);
    assert_eq!(usage["panels_completed"], 1);
    let turns: usize = done["rounds"].as_array().unwrap().iter().map(|r| r["turns"].as_array().unwrap().len()).sum();
    assert_eq!(usage["turns"], turns);
    assert!(usage["tokens_in"].as_u64().unwrap() > 0 && usage["tokens_out"].as_u64().unwrap() > 0);
    let (_, usage) = app.get("/v1/usage", &other).await;
    assert_eq!(usage["panels_created"], 0, "usage is per tenant");
    let (_, usage) = app.get("/v1/usage?month=2020-01", &key).await;
    assert_eq!(usage["panels_created"], 0);
    let (status, body) = app.get("/v1/usage?month=2020-13", &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[actix_web::test]
async fn a_tenants_defaults_fill_what_its_new_panels_leave_out() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let (_, member) = app.create_key(&key, "member").await;
    let question = json!({"query": "Should we open a second clinic site?", "expert_count": 3,
        "simulation": {"seed": 1, "pace_tokens_per_s": 0, "turn_tokens": 10}});
    // Without defaults a format is required.
    let (status, body) = app.post("/v1/panels", &key, question.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        app.get("/v1/tenant/defaults", &key).await.1,
        json!({"panel_type": null, "max_rounds": null,
        "consensus_method": null, "human_turn_timeout_s": null})
    );

    let defaults =
        json!({"panel_type": "open", "max_rounds": 2, "consensus_method": "majority", "human_turn_timeout_s": 600});
    assert_eq!(
        app.request(Method::PUT, "/v1/tenant/defaults", Some(&member), Some(defaults.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, saved) = app.request(Method::PUT, "/v1/tenant/defaults", Some(&key), Some(defaults.clone())).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved, defaults);
    assert_eq!(app.get("/v1/tenant/defaults", &member).await.1, defaults, "any role reads them");

    // A panel that leaves them out gets them; what it gives is kept.
    let panel = app.create_panel(&key, question.clone()).await;
    assert_eq!(panel["panel_type"], "open", "{panel}");
    assert_eq!(
        (panel["config"]["max_rounds"].as_u64(), panel["config"]["consensus_method"].as_str()),
        (Some(2), Some("majority"))
    );
    assert_eq!(panel["config"]["human_turn_timeout_s"], 600);
    let mut given = question.clone();
    given["panel_type"] = json!("structured");
    given["max_rounds"] = json!(3);
    let panel = app.create_panel(&key, given).await;
    assert_eq!((panel["panel_type"].as_str(), panel["config"]["max_rounds"].as_u64()), (Some("structured"), Some(3)));
    assert_eq!(panel["config"]["consensus_method"], "majority");
    // Another tenant's panels are untouched.
    assert_eq!(app.post("/v1/panels", &other, question.clone()).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/v1/tenant/defaults", &other).await.1["panel_type"], Value::Null);

    // Bad defaults name the field and change nothing; an empty set clears them.
    for (bad, field) in [
        (json!({"max_rounds": 0}), "max_rounds"),
        (json!({"panel_type": "debate"}), "panel_type"),
        (json!({"seed": 1}), "seed"),
    ] {
        let (status, body) = app.request(Method::PUT, "/v1/tenant/defaults", Some(&key), Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body["error"]["fields"][field].is_string(), "{field}: {body}");
    }
    assert_eq!(app.get("/v1/tenant/defaults", &key).await.1, defaults);
    let audit = app.get("/v1/audit?action=tenant.defaults_changed", &key).await.1;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    app.request(Method::PUT, "/v1/tenant/defaults", Some(&key), Some(json!({}))).await;
    assert_eq!(app.post("/v1/panels", &key, question).await.0, StatusCode::UNPROCESSABLE_ENTITY);
}
