//! Real LLM experts through an OpenAI-compatible server (the stub in this
//! process): streaming, ratings, retries, re-runs, timeouts, the breaker,
//! usage and budgets, and what each member's prompt may show.

use std::sync::Arc;
use std::time::Duration;

use askpanel::configuration::Settings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::stub::{self, Reply, Stub, healthy, is_stream};

async fn app_with(stub: &Stub, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    stub::app_with(stub, adjust).await
}

fn panel(kind: &str, count: usize) -> Value {
    json!({"query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": kind, "expert_count": count, "max_rounds": 2})
}

fn turn_texts(panel: &Value) -> Vec<String> {
    panel["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["turns"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap().to_string()))
        .collect()
}

#[actix_web::test]
async fn a_panel_of_each_type_runs_on_an_openai_compatible_server_with_streamed_tokens() {
    let stub = stub::start(Arc::new(healthy));
    let app = app_with(&stub, |_| {}).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    assert_eq!(
        app.get("/v1/tenant", &key).await.1["features"]["llm"],
        json!({"provider": "openai", "model": "stub-model", "simulated": false})
    );
    // Structured, watched over WebSocket: tokens rebuild each turn, no trailer shows.
    let created = app.create_panel(&key, panel("structured", 3)).await;
    assert!(created["members"].as_array().unwrap().iter().all(|m| m["model"] == "stub-model"));
    let id = created["id"].as_str().unwrap().to_string();
    let mut ws = app.ws(&key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    let frames = ws.until("the end", is_terminal).await;
    assert_eq!(frames.last().unwrap()["kind"], "panel_completed");
    assert!(frames.iter().any(|f| f["type"] == "token"));
    assert_tokens_rebuild(&frames);
    let done = app.get(&format!("/v1/panels/{id}"), &key).await.1;
    assert!(
        turn_texts(&done).iter().all(|t| t.starts_with("Stub expert contribution") && !t.contains("RATING")),
        "{done}"
    );
    assert!(done["rounds"][1]["turns"].as_array().unwrap().iter().all(|t| t["rating"] == 7 && t["confidence"] == 0.8));
    assert!(done["recommendation"].as_str().unwrap().starts_with("Recommendation: pursue De Novo"));
    // The other formats run to the end too, streaming tokens that rebuild each turn.
    for (kind, count) in [("open", 3), ("socratic", 3), ("adversarial", 4), ("delphi", 5)] {
        let id = app.create_panel(&key, panel(kind, count)).await["id"].as_str().unwrap().to_string();
        ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
        let frames = ws.until(kind, |f| is_terminal(f) && f["panel_id"] == id.as_str()).await;
        assert!(frames.iter().any(|f| f["type"] == "token" && f["panel_id"] == id.as_str()), "{kind} streams tokens");
        assert_tokens_rebuild(&frames);
        let done = app.wait_completed(&key, &id).await;
        assert_eq!(done["status"], "completed", "{kind}: {done}");
        assert!(!done["consensus"].is_null(), "{kind}");
        if kind == "adversarial" {
            assert_eq!(done["verdict"]["winner"], "pro");
        }
        if kind == "open" {
            assert!(
                done["ideas"].as_array().unwrap().iter().any(|i| i.as_str().unwrap().contains("stub idea")),
                "{done}"
            );
        }
    }
    let mut hybrid = panel("hybrid", 2);
    hybrid["humans"] = json!([{"name": "Dr. Lee"}]);
    let id = app.create_panel(&key, hybrid).await["id"].as_str().unwrap().to_string();
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    for _ in 0..2 {
        let waiting = app.wait_panel(&key, &id, "the human turn", |p| p["status"] == "awaiting_human").await;
        let member = waiting["pending_human"]["member_id"].as_str().unwrap();
        app.post(
            &format!("/v1/panels/{id}/input"),
            &key,
            json!({"member_id": member, "text": "Agreed with conditions.\nRating: 8"}),
        )
        .await;
    }
    let frames = ws.until("hybrid", |f| is_terminal(f) && f["panel_id"] == id.as_str()).await;
    assert!(frames.iter().any(|f| f["type"] == "token"), "hybrid AI turns stream tokens");
    assert_tokens_rebuild(&frames);
    assert_eq!(app.wait_completed(&key, &id).await["status"], "completed");
    // Every model call is in the tenant's usage: turns, bids (open), drafts, the judge and the recommendation.
    let mut recorded = 0;
    for panel in app.get("/v1/panels?limit=100", &key).await.1["items"].as_array().unwrap() {
        let events = app.events(&key, panel["id"].as_str().unwrap()).await;
        if panel["panel_type"] == "open" {
            assert!(
                events.iter().any(|e| e["kind"] == "round_started" && e["data"]["tokens_in"].as_u64().unwrap_or(0) > 0),
                "the bids' cost is recorded"
            );
        }
        recorded += events
            .iter()
            .map(|e| e["data"]["tokens_in"].as_u64().unwrap_or(0) + e["data"]["tokens_out"].as_u64().unwrap_or(0))
            .sum::<u64>();
    }
    let usage = app.get("/v1/usage", &key).await.1;
    assert_eq!(usage["tokens_in"].as_u64().unwrap() + usage["tokens_out"].as_u64().unwrap(), recorded, "{usage}");
}

#[actix_web::test]
async fn json_schema_output_and_the_trailer_fallback_both_give_ratings() {
    // A server that supports structured output.
    let stub = stub::start(Arc::new(healthy));
    let app = app_with(&stub, |s| s.llm.structured_output = "json_schema".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string();
    let done = app.wait_completed(&key, &id).await;
    assert!(done["rounds"][1]["turns"].as_array().unwrap().iter().all(|t| t["rating"] == 7), "{done}");
    assert!(turn_texts(&done).iter().all(|t| !t.contains("\"rating\"")), "clients see the text, not the JSON");
    assert!(stub.bodies().iter().any(|b| b["response_format"]["type"] == "json_schema"));

    // A server that refuses response_format: `auto` falls back to the trailer.
    let refusing = stub::start(Arc::new(|n, body: &Value| {
        if body.get("response_format").is_some() {
            return Reply::Status { code: 400, retry_after: None };
        }
        healthy(n, body)
    }));
    let app = app_with(&refusing, |s| s.llm.structured_output = "auto".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string();
    let done = app.wait_completed(&key, &id).await;
    assert!(done["rounds"][1]["turns"].as_array().unwrap().iter().all(|t| t["rating"] == 7), "{done}");
}

#[actix_web::test]
async fn a_garbled_rating_falls_back_to_one_follow_up_and_then_is_left_out() {
    let followups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = followups.clone();
    let stub = stub::start(Arc::new(move |n, body: &Value| {
        let prompt = body["messages"].to_string();
        if is_stream(body) && stub::asks_trailer(&prompt) {
            return Reply::stream(format!("A careful critique {n}.\nRATING: eleven-ish CONFIDENCE: high"), 5);
        }
        if stub::is_followup(&prompt) {
            // The first follow-up is answered; later ones are garbled too.
            return if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Reply::Complete("RATING: 5 CONFIDENCE: 0.6".into())
            } else {
                Reply::Complete("I would rather not say.".into())
            };
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string();
    let done = app.wait_completed(&key, &id).await;
    let round2 = done["rounds"][1]["turns"].as_array().unwrap();
    let rated: Vec<&Value> = round2.iter().filter(|t| !t["rating"].is_null()).collect();
    assert_eq!(rated.len(), 1, "only the turn whose follow-up was readable has a rating: {done}");
    assert_eq!(rated[0]["rating"], 5);
    assert!(
        round2.iter().all(|t| t["text"].as_str().unwrap().starts_with("A careful critique")),
        "turns keep their text"
    );
    assert_eq!(done["rounds"][1]["stats"]["n"], 1, "unreadable ratings are left out of the statistics");
    assert_eq!(followups.load(std::sync::atomic::Ordering::SeqCst), 3, "one follow-up per unreadable turn");
}

#[actix_web::test]
async fn a_503_and_a_429_with_retry_after_are_retried_before_the_stream_starts() {
    let stub = stub::start(Arc::new(|n, body: &Value| match n {
        0 => Reply::Status { code: 503, retry_after: None },
        1 => Reply::Status { code: 429, retry_after: Some(1) },
        _ => healthy(n, body),
    }));
    let app = app_with(&stub, |_| {}).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string();
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["status"], "completed");
    let events = app.events(&key, &id).await;
    assert!(
        !events.iter().any(|e| e["kind"] == "turn_aborted" || e["kind"] == "turn_skipped"),
        "the retries happened before the stream"
    );
    // The request answered 429 is sent again, by the same member, after Retry-After.
    let requests = stub.requests.lock().unwrap().clone();
    let asker = |body: &Value| body["messages"][2]["content"].clone();
    let retry = requests[2..]
        .iter()
        .find(|(_, body)| asker(body) == asker(&requests[1].1))
        .expect("the refused request is retried");
    assert!(retry.0.duration_since(requests[1].0) >= Duration::from_millis(1000), "Retry-After was honoured");
}

#[actix_web::test]
async fn a_stream_that_dies_half_way_is_run_again_and_clients_never_take_the_broken_half_as_final() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) && n == 0 {
            return Reply::Stream {
                text: "This first attempt will break off in the middle of its sentence and never finish".into(),
                chunk: 6,
                die_after: Some(4),
                delay_ms: 2,
            };
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |_| {}).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string();
    let mut ws = app.ws(&key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    let frames = ws.until("the end", is_terminal).await;
    let kinds: Vec<&str> =
        frames.iter().filter(|f| f["type"] == "event").map(|f| f["kind"].as_str().unwrap()).collect();
    let aborted = kinds.iter().position(|k| *k == "turn_aborted").expect("the broken turn is voided");
    assert_eq!(kinds[aborted - 1], "turn_started");
    assert_eq!(kinds[aborted + 1], "turn_started", "the turn runs again with a fresh turn_started");
    let events: Vec<Value> = frames.iter().filter(|f| f["type"] == "event").cloned().collect();
    assert_contiguous(&events, 0);
    assert_tokens_rebuild(&frames);
    let done = app.get(&format!("/v1/panels/{id}"), &key).await.1;
    assert!(turn_texts(&done).iter().all(|t| !t.contains("break off")), "the broken half is no one's final text");
}

#[actix_web::test]
async fn a_backend_that_never_answers_times_out_the_turn_is_skipped_and_the_panel_continues() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        // One expert's calls hang; the rest answer.
        if is_stream(body) && body["messages"].to_string().contains("You are Richard Hale") {
            return Reply::Hang;
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| {
        s.llm.request_timeout_s = 1;
        s.llm.max_retries = 0;
    })
    .await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let mut body = panel("structured", 3);
    body["max_rounds"] = json!(1);
    let id = app.create_panel(&key, body).await["id"].as_str().unwrap().to_string();
    assert!(
        app.get(&format!("/v1/panels/{id}"), &key).await.1["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "Richard Hale")
    );
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["status"], "completed");
    let skipped = done["rounds"][0]["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{done}");
    assert!(skipped[0]["reason"].as_str().unwrap().starts_with("model_failed"));
    assert_eq!(done["rounds"][0]["turns"].as_array().unwrap().len(), 2, "the others spoke");
}

#[actix_web::test]
async fn a_dead_backend_opens_the_breaker_and_panels_pause_until_it_is_back() {
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = down.clone();
    let stub = stub::start(Arc::new(move |n, body: &Value| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::Status { code: 503, retry_after: None }
        } else {
            healthy(n, body)
        }
    }));
    let app = app_with(&stub, |s| {
        s.llm.max_retries = 0;
        s.llm.breaker_failures = 2;
        s.llm.breaker_cooldown_s = 1;
    })
    .await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let paused = app.wait_panel(&key, id, "the model pause", |p| p["status"] == "paused").await;
        assert!(paused["paused_reason"].as_str().unwrap().starts_with("model_unavailable"), "{paused}");
    }
    let calls_while_down = stub.calls.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        stub.calls.load(std::sync::atomic::Ordering::SeqCst) <= calls_while_down + 3,
        "an open breaker does not hammer the backend"
    );
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    for id in &ids {
        let done = app.wait_completed(&key, id).await;
        assert_eq!(done["status"], "completed");
        let events = app.events(&key, id).await;
        assert_contiguous(&events, 0);
        assert!(events.iter().any(|e| e["kind"] == "panel_resumed"));
    }
}

#[actix_web::test]
async fn usage_is_recorded_and_the_monthly_token_budget_is_enforced() {
    let stub = stub::start(Arc::new(|n, body: &Value| match healthy(n, body) {
        // Slow streams, so the budget stops a panel while it runs.
        Reply::Stream { text, chunk, die_after, .. } => Reply::Stream { text, chunk, die_after, delay_ms: 40 },
        other => other,
    }));
    let app = app_with(&stub, |_| {}).await;
    let (_, key) = app.create_tenant("acme", json!({"tokens_per_month": 300})).await;
    let id = app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string();
    // Each streamed turn reports 100 prompt + 50 completion tokens: two turns spend the budget.
    let paused =
        app.wait_panel(&key, &id, "the budget pause", |p| p["status"] == "paused" || p["status"] == "completed").await;
    let (_, usage) = app.get("/v1/usage", &key).await;
    assert!(usage["tokens_in"].as_u64().unwrap() >= 100 && usage["tokens_out"].as_u64().unwrap() >= 50, "{usage}");
    let spent = usage["tokens_in"].as_u64().unwrap() + usage["tokens_out"].as_u64().unwrap();
    if spent >= 300 {
        let (status, body) = app.post("/v1/panels", &key, panel("structured", 3)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("limit_exceeded")),
            "{body}"
        );
    }
    assert_eq!(paused["status"], "paused", "a running panel pauses when the budget is spent: {paused}");
    assert_eq!(paused["paused_reason"], "token_budget_exhausted");
    // Raising the limit lets it finish.
    let tenant = app.get("/v1/tenant", &key).await.1["id"].as_str().unwrap().to_string();
    let admin = app.admin_key.clone();
    app.request(
        reqwest::Method::PATCH,
        &format!("/v1/admin/tenants/{tenant}"),
        Some(&admin),
        Some(json!({"limits": {"tokens_per_month": 1_000_000}})),
    )
    .await;
    assert_eq!(app.wait_completed(&key, &id).await["status"], "completed");
    // Every model call the events record counts: turns, drafts and the final recommendation.
    let events = app.events(&key, &id).await;
    let recorded: u64 = events
        .iter()
        .map(|e| e["data"]["tokens_in"].as_u64().unwrap_or(0) + e["data"]["tokens_out"].as_u64().unwrap_or(0))
        .sum();
    let last = events.last().unwrap();
    assert!(
        last["data"]["tokens_in"].as_u64().unwrap_or(0) > 0,
        "the final recommendation's usage is recorded: {last}"
    );
    let (_, usage) = app.get("/v1/usage", &key).await;
    assert_eq!(usage["tokens_in"].as_u64().unwrap() + usage["tokens_out"].as_u64().unwrap(), recorded, "{usage}");
}

#[actix_web::test]
async fn the_prompts_each_member_receives_match_what_its_panel_type_may_show() {
    // Ratings that differ by member, so the delphi panel needs a second round.
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) && body["response_format"]["type"] == "json_schema" {
            let rating = [2, 8, 5, 9, 3][n % 5];
            return Reply::stream(json!({"text": format!("Anonymous rationale {n}: the evidence is mixed."), "rating": rating, "confidence": 0.7}).to_string(), 9);
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "json_schema".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let delphi = app.create_panel(&key, panel("delphi", 5)).await;
    let delphi_names: Vec<String> =
        delphi["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect();
    app.wait_completed(&key, delphi["id"].as_str().unwrap()).await;
    let turn_prompts: Vec<String> =
        stub.bodies().iter().filter(|b| is_stream(b)).map(|b| b["messages"].to_string()).collect();
    assert!(turn_prompts.len() >= 10);
    for prompt in &turn_prompts {
        for name in &delphi_names {
            assert!(!prompt.contains(name.as_str()), "a delphi prompt names {name}");
        }
        assert!(prompt.contains("anonymous"));
    }
    assert!(
        turn_prompts.iter().any(|p| p.contains("facilitator's synthesis")),
        "delphi members see the facilitator's synthesis of the anonymous rationales"
    );
    // A structured panel's later turns show the named transcript and the draft.
    let before = stub.bodies().len();
    let structured = app.create_panel(&key, panel("structured", 3)).await;
    let names: Vec<String> =
        structured["members"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_string()).collect();
    app.wait_completed(&key, structured["id"].as_str().unwrap()).await;
    let later: Vec<String> =
        stub.bodies()[before..].iter().filter(|b| is_stream(b)).map(|b| b["messages"].to_string()).collect();
    let last = later.last().unwrap();
    assert!(names.iter().filter(|n| last.contains(n.as_str())).count() >= 2, "structured members see who said what");
    assert!(last.contains("current draft recommendation"));
    // Adversarial members are told their side; both sides argue.
    let before = stub.bodies().len();
    let adversarial = app.create_panel(&key, panel("adversarial", 4)).await;
    app.wait_completed(&key, adversarial["id"].as_str().unwrap()).await;
    let prompts: Vec<String> =
        stub.bodies()[before..].iter().filter(|b| is_stream(b)).map(|b| b["messages"].to_string()).collect();
    assert!(
        prompts.iter().all(|p| p.contains("You are on the PRO side") || p.contains("You are on the CON side")),
        "every adversarial turn knows its side"
    );
    assert!(prompts.iter().any(|p| p.contains("PRO side")) && prompts.iter().any(|p| p.contains("CON side")));
    // Socratic: the questioner is told so, and the others get its question.
    let before = stub.bodies().len();
    let socratic = app.create_panel(&key, panel("socratic", 3)).await;
    app.wait_completed(&key, socratic["id"].as_str().unwrap()).await;
    let prompts: Vec<String> =
        stub.bodies()[before..].iter().filter(|b| is_stream(b)).map(|b| b["messages"].to_string()).collect();
    assert!(prompts.iter().any(|p| p.contains("You are the panel's questioner")), "the questioner knows its role");
    assert!(
        prompts.iter().any(|p| p.contains("The questioner asks:") && p.contains("Anonymous rationale")),
        "answerers see the question"
    );
}

#[actix_web::test]
async fn a_stream_cut_off_without_a_finish_reason_is_run_again_not_kept_as_the_turn() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) && n == 0 {
            return Reply::Unfinished("A first attempt that stops".into());
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |_| {}).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, panel("structured", 3)).await["id"].as_str().unwrap().to_string();
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["status"], "completed");
    let events = app.events(&key, &id).await;
    assert!(
        events.iter().any(|e| e["kind"] == "turn_aborted" && e["data"]["reason"] == "model_error"),
        "the cut-off answer is voided"
    );
    assert!(turn_texts(&done).iter().all(|t| !t.contains("stops") && !t.is_empty()), "{done}");
    assert_eq!(done["rounds"][0]["turns"].as_array().unwrap().len(), 3, "every member spoke");
}
