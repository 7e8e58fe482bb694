//! Presence through the real server (docs/presence.md): who watches a live
//! panel (people and keys by name, share-link viewers as a count) and which
//! human members are connected, in the subscription's snapshot and as
//! `presence` frames when it changes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::add_person;
use crate::helpers::*;

/// The names of the viewers of a presence object.
fn names(presence: &Value) -> Vec<String> {
    presence["viewers"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect()
}

/// Reads frames until a presence frame satisfies `done`.
pub async fn presence_until(ws: &mut Ws, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let frames = ws.until(what, |f| f["type"] == "presence" && done(f)).await;
    frames.last().unwrap().clone()
}

pub fn hybrid_for(user_id: &str) -> Value {
    json!({
        "query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": "hybrid",
        "expert_count": 2, "humans": [{"user_id": user_id}], "max_rounds": 2, "human_turn_timeout_s": 300,
        "simulation": {"seed": 4, "pace_tokens_per_s": 5, "turn_tokens": 200}
    })
}

#[actix_web::test]
async fn watchers_and_connected_members_are_in_the_snapshot_and_follow_every_change() {
    let app = spawn_app().await;
    let (tenant, admin_key) = app.create_tenant("acme", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "member").await;
    let panel = app.create_panel(&admin_key, hybrid_for(&ada.user_id)).await;
    let id = panel["id"].as_str().unwrap().to_string();
    let seat = panel["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap()["id"].clone();

    // The admin key watches first: the snapshot names it.
    let mut admin = app.ws(&admin_key).await;
    admin.send(json!({"type": "subscribe", "panel_id": id})).await;
    let subscribed = admin.until("subscribed", |f| f["type"] == "subscribed").await.pop().unwrap();
    let presence = &subscribed["snapshot"]["presence"];
    assert_eq!(names(presence), ["admin"], "{presence}");
    assert_eq!(presence["viewers"][0]["kind"], "key");
    assert_eq!(
        (presence["anonymous"].as_u64(), presence["members_connected"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );

    // Ada, who holds the seat, comes in: the admin sees her and her seat connected.
    let (_, token) = ada.send(&app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
    let mut her = app.ws_url(&format!("ws://{}/v1/ws?token={}", app.address, token["token"].as_str().unwrap())).await;
    her.send(json!({"type": "subscribe", "panel_id": id})).await;
    let seen = presence_until(&mut admin, "Ada's arrival", |f| f["viewers_total"] == 2).await;
    assert_eq!(names(&seen), ["ada@acme.test", "admin"], "{seen}");
    assert_eq!(seen["members_connected"], json!([seat]), "{seen}");

    // A share link's viewer is counted, not named; the link sees no names at all.
    let (status, share) = app.post(&format!("/v1/panels/{id}/shares"), &admin_key, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let stream = app
        .client
        .get(app.url(&format!("/v1/shared/{}/events", share["token"].as_str().unwrap())))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    presence_until(&mut admin, "the anonymous viewer", |f| f["anonymous"] == 1).await;
    // (A closed stream is noticed at its next keep-alive, so leaving takes a while; not waited for here.)
    drop(stream);

    // Ada leaves: she is gone and her seat is no longer connected.
    her.send(json!({"type": "unsubscribe", "panel_id": id})).await;
    let left = presence_until(&mut admin, "Ada leaving", |f| f["viewers_total"] == 1).await;
    assert_eq!(names(&left), ["admin"]);
    assert_eq!(left["members_connected"], json!([]));

    // Another tenant's watchers never show: its key cannot even subscribe.
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let mut stranger = app.ws(&other).await;
    stranger.send(json!({"type": "subscribe", "panel_id": id})).await;
    let refused = stranger.until("the refusal", |f| f["type"] == "error").await.pop().unwrap();
    assert_eq!(refused["code"], "not_found");
}
