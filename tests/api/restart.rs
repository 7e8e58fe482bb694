use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn a_restart_on_the_same_database_keeps_tenants_keys_experts_panels_and_events() {
    let app = spawn_app().await;
    let (tenant, admin) = app.create_tenant("acme", json!({})).await;
    let (_, member) = app.create_key(&admin, "member").await;
    let (_, expert) = app
        .post(
            "/v1/experts",
            &admin,
            json!({"name": "Dr. Keep", "domain": "clinical", "persona": "Remembers everything."}),
        )
        .await;
    let done = app.create_panel(&member, structured(1)).await["id"].as_str().unwrap().to_string();
    let finished = app.wait_completed(&member, &done).await;
    let events = app.events(&member, &done).await;
    let running = app.create_panel(&member, paced("structured", 30.0)).await["id"].as_str().unwrap().to_string();
    app.wait_panel(&member, &running, "a turn in progress", |p| !p["current_turn"].is_null()).await;

    let app = app.restart().await;
    assert_eq!(app.get("/v1/tenant", &admin).await.1["id"], tenant.as_str());
    assert_eq!(app.get("/v1/tenant", &member).await.0, StatusCode::OK);
    assert_eq!(
        app.get(&format!("/v1/experts/{}", expert["id"].as_str().unwrap()), &member).await.1["name"],
        "Dr. Keep"
    );
    let (status, again) = app.get(&format!("/v1/panels/{done}"), &member).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["recommendation"], finished["recommendation"]);
    assert_eq!(again["head_seq"], finished["head_seq"]);
    assert_eq!(app.events(&member, &done).await, events);
    // The panel that was running resumes and completes; its turn cut off mid-way runs again.
    let resumed = app.wait_completed(&member, &running).await;
    assert_eq!(resumed["status"], "completed");
    let log = app.events(&member, &running).await;
    assert_contiguous(&log, 0);
    assert!(log.iter().any(|e| e["kind"] == "turn_aborted"), "the interrupted turn is voided");
    assert_no_turn_twice(&resumed);
}
