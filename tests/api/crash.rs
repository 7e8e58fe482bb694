//! The real server binary as a subprocess: killed (SIGKILL) or stopped
//! (SIGTERM) mid-panel and started again on the same database.

use std::process::{Child, Command};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not exit");
}

fn mixed_panel(i: usize) -> Value {
    let kinds = ["structured", "open", "socratic", "adversarial", "delphi", "hybrid"];
    let kind = kinds[i % kinds.len()];
    let count = match kind {
        "delphi" => 5,
        "adversarial" => 4,
        "hybrid" => 2,
        _ => 3,
    };
    let mut body = json!({
        "query": format!("Crash test {i}: should our AI ECG triage device pursue 510(k) or De Novo?"),
        "panel_type": kind,
        "expert_count": count,
        "max_rounds": 2,
        "human_turn_timeout_s": 120,
        "simulation": {"seed": i, "pace_tokens_per_s": 40, "turn_tokens": 25}
    });
    if kind == "hybrid" {
        body["humans"] = json!([{"name": "Dr. Lee"}]);
    }
    body
}

/// Every panel completes (humans answering their turns as they come), its
/// seqs are 1..N, no member speaks twice in a round.
async fn assert_all_complete(app: &TestApp, key: &str, ids: &[String]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut open: Vec<&String> = ids.iter().collect();
    while !open.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "panels still running: {open:?}");
        let mut still = Vec::new();
        for id in open {
            let (_, panel) = app.get(&format!("/v1/panels/{id}"), key).await;
            match panel["status"].as_str() {
                Some("completed") => continue,
                Some("awaiting_human") => {
                    let member = panel["pending_human"]["member_id"].as_str().unwrap();
                    let _ = app
                        .post(
                            &format!("/v1/panels/{id}/input"),
                            key,
                            json!({"member_id": member, "text": "Agreed, with monitoring."}),
                        )
                        .await;
                }
                Some("running" | "created") => {}
                other => panic!("panel {id} ended {other:?}: {panel}"),
            }
            still.push(id);
        }
        open = still;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in ids {
        let panel = app.get(&format!("/v1/panels/{id}"), key).await.1;
        let events = app.events(key, id).await;
        assert_contiguous(&events, 0);
        assert_eq!(events.last().unwrap()["kind"], "panel_completed");
        assert_no_turn_twice(&panel);
    }
}

#[actix_web::test]
async fn a_server_killed_mid_panel_resumes_every_panel_and_keeps_acknowledged_input() {
    let dir = tempfile::tempdir().unwrap();
    let admin = askpanel::auth::generate_key();
    let mut server = start_binary(dir.path(), &admin, &[]).await;
    let (_, key) = server.app.create_tenant("crash", json!({"max_concurrent_panels": 50})).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(server.app.create_panel(&key, mixed_panel(i)).await["id"].as_str().unwrap().to_string());
    }
    // Answer every hybrid panel's first human turn, then kill at once.
    let mut answered = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if i % 6 != 5 {
            continue;
        }
        let panel = server.app.wait_panel(&key, id, "the human turn", |p| p["status"] == "awaiting_human").await;
        let member = panel["pending_human"]["member_id"].as_str().unwrap().to_string();
        let text = format!("Answer {i} sent just before the crash.");
        let (status, body) =
            server.app.post(&format!("/v1/panels/{id}/input"), &key, json!({"member_id": member, "text": text})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        answered.push((id.clone(), text));
    }
    server.child.kill().unwrap();
    wait_exit(&mut server.child).await;

    let mut server = start_binary(dir.path(), &admin, &[]).await;
    assert_all_complete(&server.app, &key, &ids).await;
    for (id, text) in &answered {
        let events = server.app.events(&key, id).await;
        assert!(
            events.iter().any(|e| e["kind"] == "human_input" && e["data"]["text"] == text.as_str()),
            "acknowledged input survives the crash"
        );
    }
    server.child.kill().unwrap();
}

#[actix_web::test]
async fn a_server_stopped_with_sigterm_closes_sockets_with_1001_and_its_panels_continue_after_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let admin = askpanel::auth::generate_key();
    let mut server = start_binary(dir.path(), &admin, &[]).await;
    let (_, key) = server.app.create_tenant("term", json!({"max_concurrent_panels": 50})).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(server.app.create_panel(&key, mixed_panel(i)).await["id"].as_str().unwrap().to_string());
    }
    let mut ws = server.app.ws(&key).await;
    ws.send(json!({"type": "subscribe", "panel_id": ids[0]})).await;
    assert_eq!(ws.next_frame().await["type"], "subscribed");
    signal(&server.child, "TERM");
    assert_eq!(ws.closed_with().await, Some(1001), "open sockets are closed as going away");
    let status = wait_exit(&mut server.child).await;
    assert!(status.success(), "a graceful stop exits cleanly: {status:?}");
    let mut server = start_binary(dir.path(), &admin, &[]).await;
    assert_all_complete(&server.app, &key, &ids).await;
    server.child.kill().unwrap();
}

#[actix_web::test]
async fn a_pause_and_a_human_turns_deadline_survive_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let admin = askpanel::auth::generate_key();
    let mut server = start_binary(dir.path(), &admin, &[]).await;
    let (_, key) = server.app.create_tenant("pause", json!({})).await;
    let paused = server.app.create_panel(&key, paced("structured", 40.0)).await["id"].as_str().unwrap().to_string();
    let mut body = mixed_panel(5);
    body["human_turn_timeout_s"] = json!(10);
    let hybrid = server.app.create_panel(&key, body).await["id"].as_str().unwrap().to_string();
    server
        .app
        .wait_panel(&key, &paused, "a turn", |p| p["rounds"][0]["turns"].as_array().is_some_and(|t| !t.is_empty()))
        .await;
    assert_eq!(
        server.app.post(&format!("/v1/panels/{paused}/moderate"), &key, json!({"action": "pause"})).await.0,
        StatusCode::ACCEPTED
    );
    let waiting = server.app.wait_panel(&key, &hybrid, "the human turn", |p| p["status"] == "awaiting_human").await;
    let deadline = waiting["pending_human"]["deadline"].as_str().expect("the deadline is shown").to_string();
    let deadline = chrono::DateTime::parse_from_rfc3339(&deadline).unwrap();
    // Kill half-way to the deadline: a timer restarted from scratch would fire 5 s late.
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.child.kill().unwrap();
    wait_exit(&mut server.child).await;

    let mut server = start_binary(dir.path(), &admin, &[]).await;
    let skipped = server.app.wait_panel(&key, &hybrid, "the timeout", |p| p["status"] != "awaiting_human").await;
    assert_ne!(skipped["status"], "failed");
    let events = server.app.events(&key, &hybrid).await;
    let skip = events
        .iter()
        .find(|e| e["kind"] == "turn_skipped" && e["data"]["reason"] == "timeout")
        .expect("the human's turn timed out");
    let at = chrono::DateTime::parse_from_rfc3339(skip["ts"].as_str().unwrap()).unwrap();
    assert!(at >= deadline, "not before its deadline: {at} < {deadline}");
    assert!(
        at < deadline + chrono::Duration::seconds(4),
        "at the logged deadline, not a fresh timeout: {at} vs {deadline}"
    );
    // The paused panel is still paused, with nothing new, until it is resumed.
    let panel = server.app.get(&format!("/v1/panels/{paused}"), &key).await.1;
    assert_eq!(panel["status"], "paused", "{panel}");
    let head = panel["head_seq"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.app.get(&format!("/v1/panels/{paused}"), &key).await.1["head_seq"].as_u64().unwrap(), head);
    assert_eq!(
        server.app.post(&format!("/v1/panels/{paused}/moderate"), &key, json!({"action": "resume"})).await.0,
        StatusCode::ACCEPTED
    );
    assert_eq!(server.app.wait_completed(&key, &paused).await["status"], "completed");
    server.child.kill().unwrap();
}
