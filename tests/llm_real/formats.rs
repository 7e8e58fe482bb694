//! Every format completes against the real model server, in the default
//! `auto` mode and in `trailer` mode, watched over WebSocket: token frames
//! rebuild each turn, no rating line ever shows, ratings are read or the turn
//! is left out of the statistics, and the tenant's usage is the sum of what
//! the events record.

use std::time::{Duration, Instant};

use askpanel_actors::model::rating::parse_trailer;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::server::{LlamaServer, serial};

/// Longest silence between frames: a turn or a draft on two cores.
const FRAME_WAIT: Duration = Duration::from_secs(240);

pub async fn app_for(llama: &LlamaServer, mode: &str) -> TestApp {
    let url = llama.base_url.clone();
    let mode = mode.to_string();
    spawn_app_with(move |s| {
        s.llm.provider = "openai".into();
        s.llm.base_url = url;
        s.llm.model = "smollm2".into();
        s.llm.api_key_env = "ASKPANEL_TEST_NO_SUCH_KEY".into();
        s.llm.structured_output = mode;
        s.llm.max_tokens = 96;
        s.llm.context_chars = 3_000;
        s.llm.max_concurrent_requests = 1;
        s.llm.request_timeout_s = 120;
        s.llm.stall_timeout_s = 60;
        s.llm.breaker_failures = 3;
        s.llm.breaker_cooldown_s = 2;
    })
    .await
}

pub fn panel(kind: &str) -> Value {
    let count = match kind {
        "delphi" => 5,
        "adversarial" => 4,
        "hybrid" => 2,
        _ => 3,
    };
    let mut body = json!({
        "query": "Should our AI ECG triage device pursue 510(k) or De Novo?",
        "panel_type": kind,
        "expert_count": count,
        "max_rounds": 2,
        "human_turn_timeout_s": 600,
        "simulation": {"seed": 1, "pace_tokens_per_s": 0, "turn_tokens": 60}
    });
    if kind == "hybrid" {
        body["humans"] = json!([{"name": "Dr. Lee"}]);
    }
    body
}

/// Follows a panel to its end over WebSocket, answering its human turns.
pub async fn follow(app: &TestApp, key: &str, id: &str) -> Vec<Value> {
    let mut ws = app.ws(key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    let mut frames = Vec::new();
    loop {
        match ws.next_within(FRAME_WAIT).await {
            Some(Next::Frame(frame)) => {
                let done = is_terminal(&frame);
                if is_event(&frame, "human_turn_requested") {
                    let member = frame["data"]["member_id"].as_str().unwrap().to_string();
                    let (status, body) = app
                        .post(
                            &format!("/v1/panels/{id}/input"),
                            key,
                            json!({"member_id": member, "text": "A pre-submission meeting first, then De Novo.", "rating": 7, "confidence": 0.8}),
                        )
                        .await;
                    assert_eq!(status.as_u16(), 202, "{body}");
                }
                frames.push(frame);
                if done {
                    return frames;
                }
            }
            other => panic!("panel {id}: waiting for its end, got {other:?} after {} frames", frames.len()),
        }
    }
}

/// What one panel showed, for the checks and the summary line.
pub struct Reading {
    pub rated_turns: usize,
    pub ratings_read: usize,
}

/// The checks every panel must pass, whatever the model wrote.
pub fn check_panel(kind: &str, frames: &[Value], panel: &Value) -> Reading {
    assert_eq!(panel["status"], "completed", "{kind}: {panel}");
    assert_tokens_rebuild(frames);
    let streamed: String =
        frames.iter().filter(|f| f["type"] == "token").map(|f| f["delta"].as_str().unwrap()).collect();
    assert_eq!(parse_trailer(&streamed).rating_lines, 0, "{kind}: a rating line streamed: {streamed}");
    let mut reading = Reading { rated_turns: 0, ratings_read: 0 };
    for round in panel["rounds"].as_array().unwrap() {
        let rated_round = !round["rated"].is_null();
        let turns = round["turns"].as_array().unwrap();
        for turn in turns {
            let text = turn["text"].as_str().unwrap();
            assert_eq!(parse_trailer(text).rating_lines, 0, "{kind}: a rating line stayed in a turn: {text}");
            if let Some(rating) = turn["rating"].as_u64() {
                assert!((1..=9).contains(&rating), "{kind}: {turn}");
                assert!(rated_round, "{kind}: a rating counted in a round that asks for none: {round}");
            }
        }
        // Unreadable ratings are left out: n is the ratings read.
        let read = turns.iter().filter(|t| !t["rating"].is_null()).count();
        if rated_round {
            reading.rated_turns += turns.len();
            reading.ratings_read += read;
            assert_eq!(round["stats"]["n"].as_u64().unwrap_or(0) as usize, read, "{kind}: {round}");
        }
    }
    reading
}

async fn every_format_completes(mode: &str) {
    let _one_at_a_time = serial().lock().await;
    let Some(llama) = LlamaServer::start().await else { return };
    let app = app_for(&llama, mode).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (mut rated, mut read) = (0, 0);
    for kind in ["structured", "open", "socratic", "adversarial", "delphi", "hybrid"] {
        let started = Instant::now();
        let id = app.create_panel(&key, panel(kind)).await["id"].as_str().unwrap().to_string();
        let frames = follow(&app, &key, &id).await;
        let done = app.get(&format!("/v1/panels/{id}"), &key).await.1;
        let reading = check_panel(kind, &frames, &done);
        if kind == "delphi" {
            // What delphi members are shown of each other names nobody.
            let names: Vec<&str> =
                done["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
            let feedback = done["feedback"].to_string();
            for name in &names {
                assert!(
                    !feedback.contains(name.split_whitespace().last().unwrap()),
                    "the synthesis names {name}: {feedback}"
                );
            }
        }
        rated += reading.rated_turns;
        read += reading.ratings_read;
        eprintln!(
            "llm_real {mode} {kind}: completed in {:.0} s, ratings read {}/{}",
            started.elapsed().as_secs_f64(),
            reading.ratings_read,
            reading.rated_turns
        );
    }
    eprintln!("llm_real {mode}: ratings read {read}/{rated}");
    // Every model call is in the tenant's usage.
    let mut recorded = 0;
    for panel in app.get("/v1/panels?limit=100", &key).await.1["items"].as_array().unwrap() {
        let events = app.events(&key, panel["id"].as_str().unwrap()).await;
        recorded += events
            .iter()
            .map(|e| e["data"]["tokens_in"].as_u64().unwrap_or(0) + e["data"]["tokens_out"].as_u64().unwrap_or(0))
            .sum::<u64>();
    }
    let usage = app.get("/v1/usage", &key).await.1;
    assert_eq!(usage["tokens_in"].as_u64().unwrap() + usage["tokens_out"].as_u64().unwrap(), recorded, "{usage}");
    assert!(recorded > 0);
}

#[actix_web::test]
async fn every_format_completes_on_the_real_model_in_auto_mode() {
    every_format_completes("auto").await;
}

#[actix_web::test]
async fn every_format_completes_on_the_real_model_in_trailer_mode() {
    every_format_completes("trailer").await;
}
