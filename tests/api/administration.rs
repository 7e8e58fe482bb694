//! Tenant administration through HTTP: usage by day and panel type, a
//! panel's spend, the logo and colours (and where they show), keys' last
//! use. See docs/administration.md.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// Polls `GET path` until `done` holds.
async fn wait_for(app: &TestApp, path: &str, key: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = app.get(path, key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn delphi(seed: u64) -> Value {
    let mut body = structured(seed);
    body["panel_type"] = json!("delphi");
    body["expert_count"] = json!(5);
    body
}

#[actix_web::test]
async fn usage_is_itemised_by_day_and_panel_type_and_each_panel_tells_its_spend() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let (_, viewer) = app.create_key(&key, "viewer").await;
    let mut ids = Vec::new();
    for body in [structured(1), structured(2), delphi(3)] {
        let panel = app.create_panel(&key, body).await;
        ids.push(panel["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        app.wait_completed(&key, id).await;
    }

    // Each panel's spend, from its events.
    let mut tokens = (0, 0);
    for id in &ids {
        let (status, usage) = app.get(&format!("/v1/panels/{id}/usage"), &viewer).await;
        assert_eq!(status, StatusCode::OK, "{usage}");
        let events = app.events(&key, id).await;
        let sum = |field: &str| events.iter().map(|e| e["data"][field].as_u64().unwrap_or(0)).sum::<u64>();
        assert_eq!(usage["tokens_in"].as_u64().unwrap(), sum("tokens_in"), "{usage}");
        assert_eq!(usage["tokens_out"].as_u64().unwrap(), sum("tokens_out"));
        assert!(usage["tokens_in"].as_u64().unwrap() > 0);
        let turns = events.iter().filter(|e| e["kind"] == "turn_completed").count() as u64;
        assert_eq!(usage["turns"].as_u64().unwrap(), turns);
        assert!(usage["finished_at"].is_string() && usage["duration_ms"].is_u64(), "{usage}");
        let by_member: u64 = usage["by_member"].as_array().unwrap().iter().map(|m| m["turns"].as_u64().unwrap()).sum();
        assert_eq!(by_member, turns, "every turn is a member's");
        let by_round: u64 =
            usage["by_round"].as_array().unwrap().iter().map(|r| r["tokens_in"].as_u64().unwrap()).sum();
        assert_eq!(by_round, usage["tokens_in"].as_u64().unwrap(), "every token is a round's");
        tokens.0 += usage["tokens_in"].as_u64().unwrap();
        tokens.1 += usage["tokens_out"].as_u64().unwrap();
        // Another tenant's key learns nothing of it.
        let (status, _) = app.get(&format!("/v1/panels/{id}/usage"), &other).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // By day: the announcer records the days a moment behind the panels.
    let today = chrono::Utc::now().date_naive().to_string();
    let report = wait_for(&app, &format!("/v1/usage?from={today}"), &viewer, "the day's figures", |r| {
        r["totals"]["panels_completed"] == 3 && r["totals"]["tokens_out"].as_u64() == Some(tokens.1)
    })
    .await;
    assert_eq!((report["from"].as_str(), report["to"].as_str()), (Some(today.as_str()), Some(today.as_str())));
    assert_eq!(report["totals"]["panels_created"], 3);
    assert_eq!(report["totals"]["tokens_in"].as_u64(), Some(tokens.0), "the same events as the panels' own figures");
    assert_eq!(report["by_panel_type"]["structured"]["panels_created"], 2, "{report}");
    assert_eq!(report["by_panel_type"]["delphi"]["panels_created"], 1);
    assert_eq!(report["days"].as_array().unwrap().len(), 1);
    assert_eq!(report["days"][0]["date"], today.as_str());
    assert_eq!(report["days"][0]["by_panel_type"]["delphi"]["panels_completed"], 1);
    assert!(report["totals"]["duration_ms"].as_u64().unwrap() > 0);
    // The month, as the limits count it, agrees, and the limits are there.
    assert_eq!(report["this_month"]["tokens_in"].as_u64(), Some(tokens.0), "{report}");
    assert_eq!(report["this_month"]["panels_created"], 3);
    assert!(report["limits"]["tokens_per_month"].as_u64().unwrap() > 0);
    assert!(report["limits"]["max_panels_per_month"].as_u64().unwrap() > 0);

    // The default range is 30 days to today; a type filters.
    let (status, month) = app.get("/v1/usage?panel_type=delphi", &key).await;
    assert_eq!(status, StatusCode::OK, "{month}");
    assert_eq!(month["days"].as_array().unwrap().len(), 30);
    assert_eq!(month["days"][29]["date"], today.as_str());
    assert_eq!(month["totals"]["panels_created"], 1);
    assert_eq!(month["by_panel_type"].as_object().unwrap().len(), 1);
    // The month form is as it was.
    let (status, plain) = app.get("/v1/usage", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(plain["panels_created"], 3);
    assert!(plain.get("days").is_none());

    // Another tenant sees none of it.
    let (_, theirs) = app.get(&format!("/v1/usage?from={today}"), &other).await;
    assert_eq!(theirs["totals"]["panels_created"], 0, "{theirs}");

    for bad in [
        "/v1/usage?month=2026-12&from=2026-12-01",
        "/v1/usage?from=2026-12-05&to=2026-12-01",
        "/v1/usage?from=2020-01-01&to=2026-12-01",
        "/v1/usage?from=yesterday",
        "/v1/usage?panel_type=roundtable",
    ] {
        let (status, body) = app.get(bad, &key).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "validation_failed");
    }
    let (status, _) = app.get(&format!("/v1/panels/{}/usage", "0193a000-0000-7000-8000-0000000000ff"), &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The bytes of a 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x60, 0xf8, 0x0f, 0x00, 0x01, 0x04, 0x01, 0x00, 0x5f, 0xe5, 0xc3, 0x4b,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

async fn put_logo(app: &TestApp, key: &str, content_type: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .put(app.url("/v1/tenant/logo"))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[actix_web::test]
async fn a_logo_is_checked_stored_served_and_shown_with_the_colours_on_reports_and_share_links() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let (_, moderator) = app.create_key(&key, "moderator").await;

    // Refused: another role, another type (SVG too), too large, not what it says.
    assert_eq!(put_logo(&app, &moderator, "image/png", PNG.to_vec()).await.0, StatusCode::FORBIDDEN);
    for kind in ["image/svg+xml", "text/html", "application/octet-stream", ""] {
        let (status, body) = put_logo(&app, &key, kind, PNG.to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{kind}: {body}");
    }
    let mut big = PNG.to_vec();
    big.resize(300 * 1024, 0);
    let (status, body) = put_logo(&app, &key, "image/png", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    for (kind, bytes) in [
        ("image/jpeg", PNG.to_vec()),
        ("image/png", b"<svg onload=alert(1)>".to_vec()),
        ("image/webp", b"RIFF0000WAVE".to_vec()),
    ] {
        let (status, body) = put_logo(&app, &key, kind, bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{kind}: {body}");
        assert_eq!(body["error"]["fields"]["logo"].as_str().unwrap(), format!("the bytes are not a {kind} image"));
    }
    assert!(app.get("/v1/tenant", &key).await.1["branding"]["logo_url"].is_null(), "nothing refused was kept");

    // Stored and served by its hash, to anyone, as an image that stays one.
    let (status, tenant) = put_logo(&app, &key, "image/png", PNG.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{tenant}");
    let url = tenant["branding"]["logo_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/v1/logos/") && url.len() == "/v1/logos/".len() + 64, "{url}");
    let served = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.headers()["cache-control"], "public, max-age=86400");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);
    for bad in ["/v1/logos/abc", &format!("/v1/logos/{}", "0".repeat(64))] {
        assert_eq!(app.client.get(app.url(bad)).send().await.unwrap().status(), StatusCode::NOT_FOUND, "{bad}");
    }

    // Colours: a secondary colour is set, checked, and cleared with null.
    let (status, body) = app
        .request(Method::PATCH, "/v1/tenant", Some(&key), Some(json!({"branding": {"secondary_color": "teal"}})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["branding.secondary_color"].is_string());
    let branding =
        json!({"branding": {"display_name": "Acme Health", "primary_color": "#aa2200", "secondary_color": "#00AA88"}});
    let (status, body) = app.request(Method::PATCH, "/v1/tenant", Some(&key), Some(branding)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["branding"]["secondary_color"], "#00aa88");
    assert_eq!(body["branding"]["logo_url"], url.as_str(), "a change of colour keeps the logo");
    let (status, _) = app
        .request(Method::PATCH, "/v1/tenant", Some(&other), Some(json!({"branding": {"display_name": "Hijack"}})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.get("/v1/tenant", &key).await.1["branding"]["display_name"],
        "Acme Health",
        "a tenant brands only itself"
    );

    // Reports and share links carry them.
    let panel = app.create_panel(&key, structured(4)).await;
    let id = panel["id"].as_str().unwrap().to_string();
    app.wait_completed(&key, &id).await;
    let html =
        app.client.get(app.url(&format!("/v1/panels/{id}/report?format=html"))).bearer_auth(&key).send().await.unwrap();
    let html = html.text().await.unwrap();
    assert!(
        html.contains("Acme Health") && html.contains("#aa2200") && html.contains("#00aa88"),
        "the colours and name"
    );
    assert!(html.contains("src=\"data:image/png;base64,"), "the logo inline: the file stands alone");
    let md =
        app.client.get(app.url(&format!("/v1/panels/{id}/report?format=md"))).bearer_auth(&key).send().await.unwrap();
    assert!(md.text().await.unwrap().starts_with("# Panel report\n\n_Acme Health_\n\n"));
    let (_, json_report) = app.get(&format!("/v1/panels/{id}/report"), &key).await;
    assert_eq!(json_report["branding"]["display_name"], "Acme Health");
    let (status, share) = app.post(&format!("/v1/panels/{id}/shares"), &key, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let token = share["token"].as_str().unwrap();
    let shared: Value =
        app.client.get(app.url(&format!("/v1/shared/{token}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(shared["branding"]["display_name"], "Acme Health", "{shared}");
    assert_eq!(shared["branding"]["secondary_color"], "#00aa88");
    assert_eq!(shared["branding"]["logo_url"], url.as_str());
    let shared_html = app.client.get(app.url(&format!("/v1/shared/{token}/report?format=html"))).send().await.unwrap();
    assert!(shared_html.text().await.unwrap().contains("Acme Health"));

    // Removed: gone from the tenant and from where it was served; null clears a logo URL too.
    let (status, body) = app.request(Method::DELETE, "/v1/tenant/logo", Some(&moderator), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app.request(Method::DELETE, "/v1/tenant/logo", Some(&key), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["branding"]["logo_url"].is_null());
    assert_eq!(app.client.get(app.url(&url)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // A logo is uploaded, not pointed at: PATCH takes https or the server's files.
    let (status, body) =
        app.request(Method::PATCH, "/v1/tenant", Some(&key), Some(json!({"branding": {"logo_url": url}}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .request(Method::PATCH, "/v1/tenant", Some(&key), Some(json!({"branding": {"logo_url": "/assets/app.js"}})))
        .await;
    assert_eq!((status, body["branding"]["logo_url"].as_str()), (StatusCode::OK, Some("/assets/app.js")), "{body}");
    // Pointing elsewhere (or at nothing) lets the stored image go.
    let (_, tenant) = put_logo(&app, &key, "image/png", PNG.to_vec()).await;
    assert_eq!(tenant["branding"]["logo_url"], url.as_str());
    assert_eq!(app.client.get(app.url(&url)).send().await.unwrap().status(), StatusCode::OK);
    let set = json!({"branding": {"logo_url": "https://cdn.example.com/acme.png", "secondary_color": null}});
    let (_, body) = app.request(Method::PATCH, "/v1/tenant", Some(&key), Some(set)).await;
    assert_eq!(body["branding"]["logo_url"], "https://cdn.example.com/acme.png");
    assert!(body["branding"]["secondary_color"].is_null(), "null clears the secondary colour");
    assert_eq!(
        app.client.get(app.url(&url)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "not served once replaced"
    );
    for bad in [
        "//evil.example/x.png",
        "http://cdn.example.com/a.png",
        "/\\evil.example/x.png",
        "javascript:alert(1)",
        "/v1/auth/oidc/start?tenant=acme",
        "https:///x",
    ] {
        let (status, body) =
            app.request(Method::PATCH, "/v1/tenant", Some(&key), Some(json!({"branding": {"logo_url": bad}}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (_, body) =
        app.request(Method::PATCH, "/v1/tenant", Some(&key), Some(json!({"branding": {"logo_url": null}}))).await;
    assert!(body["branding"]["logo_url"].is_null(), "null clears the logo URL: {body}");
}

#[actix_web::test]
async fn a_keys_last_use_is_recorded() {
    let app = spawn_app().await;
    let (_, admin) = app.create_tenant("acme", json!({})).await;
    let (id, member) = app.create_key(&admin, "member").await;
    let listed =
        |body: &Value| body["items"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).cloned().unwrap();
    let key = listed(&app.get("/v1/keys", &admin).await.1);
    assert!(key["last_used_at"].is_null(), "{key}");
    assert!(key["prefix"].is_string());
    assert_eq!(app.get("/v1/panels", &member).await.0, StatusCode::OK);
    let body =
        wait_for(&app, "/v1/keys", &admin, "the key's last use", |b| listed(b)["last_used_at"].is_string()).await;
    let used: chrono::DateTime<chrono::Utc> = listed(&body)["last_used_at"].as_str().unwrap().parse().unwrap();
    assert!((chrono::Utc::now() - used).num_seconds() < 60);
}
