//! Deliberation fidelity through the real path: what each member's prompt
//! shows (independence, rounds, what is rated, delphi feedback and
//! anonymity) and how the answers are read (trailers that never leak, prose
//! where JSON was asked, ratings only where asked, exact boundaries, input
//! that once panicked), against an OpenAI-compatible server that records
//! every request and answers in several styles.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use askpanel::configuration::Settings;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::stub::{self, Reply, Stub, healthy, is_stream};

/// A server on the stub, with timeouts that leave room for concurrent turns.
async fn app_with(stub: &Stub, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    stub::app_with(stub, |s| {
        s.llm.request_timeout_s = 5;
        s.llm.stall_timeout_s = 5;
        s.llm.max_retries = 1;
        adjust(s);
    })
    .await
}

fn user_prompt(body: &Value) -> String {
    body["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|x| x["role"] == "user")
                .map(|x| x["content"].as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn all_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .map(|m| m.iter().map(|x| x["content"].as_str().unwrap_or_default()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// The round a turn prompt is for ("Round N of at most M").
fn round_of(prompt: &str) -> Option<u32> {
    let at = prompt.find("Round ")?;
    prompt[at + 6..].split_whitespace().next()?.parse().ok()
}

/// Whether a streamed turn prompt asks for a rating (in either format).
fn asks_rating(body: &Value) -> bool {
    body["response_format"]["type"] == "json_schema"
        || body["response_format"]["type"] == "json_object"
        || user_prompt(body).contains("RATING:")
}

/// A turn's answer in the format the request asks for.
fn answer(body: &Value, text: &str, rating: u8, confidence: f64) -> String {
    if body["response_format"]["type"] == "json_schema" || body["response_format"]["type"] == "json_object" {
        json!({"text": text, "rating": rating, "confidence": confidence}).to_string()
    } else if asks_rating(body) {
        format!("{text}\nRATING: {rating} CONFIDENCE: {confidence}")
    } else {
        text.to_string()
    }
}

fn turn_prompts(stub: &Stub) -> Vec<String> {
    stub.bodies().iter().filter(|b| is_stream(b)).map(user_prompt).collect()
}

fn query() -> &'static str {
    "Should our AI ECG triage device pursue 510(k) or De Novo?"
}

async fn catalog_experts(app: &TestApp, key: &str, n: usize) -> Vec<Value> {
    let experts = app.get(&format!("/v1/experts?limit={n}"), key).await.1["items"].as_array().unwrap().clone();
    assert_eq!(experts.len(), n);
    experts
}

#[actix_web::test]
async fn opening_positions_are_given_without_seeing_each_other_and_stream_in_order_while_run_concurrently() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) {
            let round = round_of(&user_prompt(body)).unwrap_or(0);
            let text = answer(
                body,
                &format!(
                    "Position OPN-R{round}-{n}: the pathway turns on the predicate, the data and the special controls that reviewers expect."
                ),
                4 + (n % 3) as u8,
                0.7,
            );
            return Reply::Stream { text, chunk: 6, die_after: None, delay_ms: 25 };
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    for kind in ["structured", "delphi"] {
        let count = if kind == "delphi" { 5 } else { 3 };
        let before = stub.bodies().len();
        stub.streams.1.store(0, Ordering::SeqCst);
        let panel = app
            .create_panel(&key, json!({"query": query(), "panel_type": kind, "expert_count": count, "max_rounds": 2}))
            .await;
        let id = panel["id"].as_str().unwrap().to_string();
        let mut ws = app.ws(&key).await;
        ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
        let frames = ws.until("the end", is_terminal).await;
        assert_tokens_rebuild(&frames);
        // Round 1's prompts show no other member's opening.
        let openings: Vec<String> = stub.bodies()[before..]
            .iter()
            .filter(|b| is_stream(b))
            .map(user_prompt)
            .filter(|p| round_of(p) == Some(1))
            .collect();
        assert_eq!(openings.len(), count, "{kind}: one opening prompt per member");
        for prompt in &openings {
            assert!(!prompt.contains("OPN-R1"), "{kind}: an opening prompt shows another member's opening:\n{prompt}");
        }
        assert!(stub.streams.1.load(Ordering::SeqCst) >= 2, "{kind}: the independent openings ran concurrently");
        // Clients still see one turn at a time, in the declared order.
        let events: Vec<&Value> = frames.iter().filter(|f| f["type"] == "event").collect();
        let order: Vec<&str> = events.iter().find(|e| e["kind"] == "round_started").unwrap()["data"]["order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        let mut spoke = Vec::new();
        let mut open: Option<&str> = None;
        for event in events.iter().take_while(|e| !(e["kind"] == "round_completed")) {
            match event["kind"].as_str().unwrap() {
                "turn_started" => {
                    assert!(open.is_none(), "{kind}: turns do not interleave");
                    open = event["data"]["member_id"].as_str();
                }
                "turn_completed" => {
                    assert_eq!(open.take(), event["data"]["member_id"].as_str());
                    spoke.push(event["data"]["member_id"].as_str().unwrap());
                }
                _ => {}
            }
        }
        assert_eq!(spoke, order, "{kind}: turns complete in the declared order");
        // Round 2 sees round 1.
        assert!(
            turn_prompts(&stub)[before..]
                .iter()
                .any(|p| round_of(p) == Some(2) && (p.contains("OPN-R1") || kind == "delphi"))
        );
    }
}

#[actix_web::test]
async fn every_turn_of_the_discussion_appears_under_its_own_round_in_order() {
    // Divided ratings, so the panel runs all three rounds.
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) {
            let round = round_of(&user_prompt(body)).unwrap_or(0);
            let text = answer(
                body,
                &format!("Statement TXT-R{round}-N{n} on the pathway. More reasoning follows here."),
                [2, 8, 5][n % 3],
                0.7,
            );
            return Reply::stream(text, 9);
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app
        .create_panel(&key, json!({"query": query(), "panel_type": "structured", "expert_count": 3, "max_rounds": 3}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_completed(&key, &id).await;
    let prompts = turn_prompts(&stub);
    let last = prompts.iter().rev().find(|p| round_of(p) == Some(3)).expect("a round-3 prompt");
    let discussion = &last[last.find("discussion so far").expect("the discussion")..];
    let header = |round: u32| {
        discussion
            .find(&format!("\nRound {round}"))
            .unwrap_or_else(|| panic!("a header for round {round}:\n{discussion}"))
    };
    let (h1, h2) = (header(1), header(2));
    assert!(h1 < h2, "{discussion}");
    let positions =
        |round: u32| -> Vec<usize> { discussion.match_indices(&format!("TXT-R{round}-")).map(|(i, _)| i).collect() };
    assert_eq!(positions(1).len(), 3, "{discussion}");
    assert_eq!(positions(2).len(), 3, "{discussion}");
    assert!(positions(1).iter().all(|&i| h1 < i && i < h2), "round 1's turns sit under round 1:\n{discussion}");
    assert!(positions(2).iter().all(|&i| h2 < i), "round 2's turns sit under round 2:\n{discussion}");
    // The headers carry the format's labels.
    assert!(discussion[h1..].lines().nth(1).unwrap().to_lowercase().contains("opening"), "{discussion}");
    assert!(discussion[h2..].lines().nth(1).unwrap().to_lowercase().contains("critique"), "{discussion}");
}

#[actix_web::test]
async fn round_one_rates_the_question_as_asked_and_later_rounds_rate_the_draft_they_are_shown() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) {
            return Reply::stream(
                answer(body, &format!("Rationale {n}: the evidence is mixed."), [2, 8, 5, 9, 3][n % 5], 0.7),
                9,
            );
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app
        .create_panel(&key, json!({"query": query(), "panel_type": "delphi", "expert_count": 5, "max_rounds": 2}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["rounds"].as_array().unwrap().len(), 2, "{done}");
    let prompts = turn_prompts(&stub);
    for prompt in prompts.iter().filter(|p| round_of(p) == Some(1)) {
        assert!(!prompt.to_lowercase().contains("draft"), "round 1 has no draft to rate:\n{prompt}");
        assert!(
            prompt.contains("RATING:") && prompt.to_lowercase().contains("question"),
            "round 1 rates the question as asked:\n{prompt}"
        );
    }
    for prompt in prompts.iter().filter(|p| round_of(p) == Some(2)) {
        assert!(prompt.contains("draft recommendation"), "round 2 shows and rates the draft:\n{prompt}");
        assert!(
            !prompt.contains("rated the draft"),
            "round 1's ratings were of the question, not of a draft:\n{prompt}"
        );
    }
    // Structured openings rate nothing and are labelled as rating nothing.
    let before = stub.bodies().len();
    let id = app
        .create_panel(&key, json!({"query": query(), "panel_type": "structured", "expert_count": 3, "max_rounds": 2}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_completed(&key, &id).await;
    for prompt in turn_prompts(&stub)[before..].iter().filter(|p| round_of(p) == Some(2)) {
        let openings = &prompt[prompt.find("\nRound 1").expect("the openings")..];
        let openings = &openings[..openings.find("\nRound 2").unwrap_or(openings.len())];
        assert!(!openings.contains("[rated"), "no opening rated anything:\n{prompt}");
    }
}

#[actix_web::test]
async fn delphi_members_see_the_statistics_and_a_facilitators_synthesis_of_every_rationale() {
    let facilitator_prompts = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = facilitator_prompts.clone();
    let stub = stub::start(Arc::new(move |n, body: &Value| {
        let text = all_text(body);
        if is_stream(body) {
            let points: String =
                (0..25).map(|i| format!("Point {i}: the clinical evidence base is thin on item {i}. ")).collect();
            let long = format!("Rationale marker RAT-{n}. {points}");
            return Reply::stream(answer(body, &long, [2, 8, 5, 9, 3][n % 5], 0.7), 40);
        }
        if text.contains("neutral facilitator") {
            seen.lock().unwrap().push(text);
            return Reply::Complete(
                json!({"arguments_for": ["SYN-FOR: a De Novo sets special controls that fit the device"], "arguments_against": ["SYN-AGAINST: a De Novo costs a year"], "open_questions": ["SYN-OPEN: is there a valid predicate?"]})
                    .to_string(),
            );
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| {
        s.llm.structured_output = "trailer".into();
        s.llm.context_chars = 2_000;
    })
    .await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app
        .create_panel(&key, json!({"query": query(), "panel_type": "delphi", "expert_count": 5, "max_rounds": 2}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["rounds"].as_array().unwrap().len(), 2, "{done}");
    // The facilitator read every rationale of round 1, in full.
    let facilitator = facilitator_prompts.lock().unwrap().clone();
    assert!(!facilitator.is_empty(), "the facilitator was asked for a synthesis");
    let first = &facilitator[0];
    assert_eq!(
        (0..40).filter(|n| first.contains(&format!("RAT-{n}."))).count(),
        5,
        "every rationale reaches the facilitator:\n{first}"
    );
    // Members see the statistics and the synthesis, labelled as such; nothing is silently cut.
    let round2: Vec<String> = turn_prompts(&stub).into_iter().filter(|p| round_of(p) == Some(2)).collect();
    assert_eq!(round2.len(), 5);
    for prompt in &round2 {
        assert!(
            prompt.contains("SYN-FOR") && prompt.contains("SYN-AGAINST") && prompt.contains("SYN-OPEN"),
            "{prompt}"
        );
        assert!(prompt.to_lowercase().contains("facilitator"), "the synthesis says what it is:\n{prompt}");
        assert!(prompt.contains("median"), "{prompt}");
        assert!(!prompt.contains("omitted"), "{prompt}");
        assert!(!prompt.contains("RAT-"), "members see the synthesis, not a cut of the raw rationales:\n{prompt}");
    }
    let events = app.events(&key, &id).await;
    let feedback = events.iter().find(|e| e["kind"] == "feedback_updated").expect("the synthesis is a durable event");
    assert_eq!(feedback["data"]["feedback"]["rationales"], 5, "{feedback}");
    assert!(feedback["data"]["tokens_in"].as_u64().unwrap() > 0, "the facilitator's call is recorded");
    // ... and counted in the tenant's usage, like every model call its events record.
    let recorded: u64 = events
        .iter()
        .map(|e| e["data"]["tokens_in"].as_u64().unwrap_or(0) + e["data"]["tokens_out"].as_u64().unwrap_or(0))
        .sum();
    let usage = app.get("/v1/usage", &key).await.1;
    assert_eq!(usage["tokens_in"].as_u64().unwrap() + usage["tokens_out"].as_u64().unwrap(), recorded, "{usage}");
}

#[actix_web::test]
async fn delphi_members_never_see_a_name_title_or_organisation_that_identifies_a_panelist() {
    let names = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let shared = names.clone();
    let stub = stub::start(Arc::new(move |n, body: &Value| {
        if is_stream(body) {
            let people = shared.lock().unwrap().clone();
            let (name, title) = people.get(n % people.len().max(1)).cloned().unwrap_or_default();
            let text = format!(
                "Speaking as a hospital CISO at Mercy General Hospital, I think the predicate is weak. As {title}, and as {name}, I have seen this fail. In my role as chief medical officer I would wait."
            );
            return Reply::stream(answer(body, &text, [2, 8, 5, 9, 3][n % 5], 0.7), 11);
        }
        if all_text(body).contains("neutral facilitator") {
            let people = shared.lock().unwrap().clone();
            let (name, title) = people.first().cloned().unwrap_or_default();
            return Reply::Complete(
                json!({"arguments_for": [format!("{name} argues, as {title}, for De Novo")], "arguments_against": ["Speaking as a hospital CISO, the risk is high"]}).to_string(),
            );
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let experts = catalog_experts(&app, &key, 5).await;
    *names.lock().unwrap() = experts
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), e["title"].as_str().unwrap().to_string()))
        .collect();
    let ids: Vec<&str> = experts.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let id = app
        .create_panel(&key, json!({"query": query(), "panel_type": "delphi", "experts": ids, "max_rounds": 2}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["rounds"].as_array().unwrap().len(), 2, "{done}");
    // What a member is shown of the others (its own persona is a system message).
    let round2: Vec<String> = stub
        .bodies()
        .iter()
        .filter(|b| is_stream(b) && round_of(&user_prompt(b)) == Some(2))
        .map(user_prompt)
        .collect();
    assert_eq!(round2.len(), 5);
    for prompt in &round2 {
        let lower = prompt.to_lowercase();
        for (name, title) in names.lock().unwrap().iter() {
            let surname = name.split_whitespace().last().unwrap();
            assert!(!prompt.contains(surname), "a delphi prompt names {name}:\n{prompt}");
            assert!(!lower.contains(&title.to_lowercase()), "a delphi prompt shows the title {title}:\n{prompt}");
        }
        for phrase in ["hospital ciso", "mercy general", "chief medical officer", "speaking as a"] {
            assert!(!lower.contains(phrase), "a delphi prompt carries `{phrase}`:\n{prompt}");
        }
    }
    // The simulated experts do not identify themselves in delphi panels either.
    let sim = spawn_app().await;
    let (_, key) = sim.create_tenant("sim", json!({})).await;
    let experts = catalog_experts(&sim, &key, 5).await;
    let ids: Vec<&str> = experts.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let id = sim
        .create_panel(
            &key,
            json!({"query": query(), "panel_type": "delphi", "experts": ids, "max_rounds": 3, "simulation": {"seed": 3, "pace_tokens_per_s": 0, "turn_tokens": 60}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = sim.wait_completed(&key, &id).await;
    for round in done["rounds"].as_array().unwrap() {
        for turn in round["turns"].as_array().unwrap() {
            let text = turn["text"].as_str().unwrap().to_lowercase();
            for expert in &experts {
                assert!(
                    !text.contains(&expert["title"].as_str().unwrap().to_lowercase()),
                    "a simulated delphi turn shows a title: {text}"
                );
            }
            assert!(!text.contains("speaking as") && !text.contains(", as a"), "{text}");
        }
    }
    assert!(!done["draft"].as_str().unwrap_or_default().is_empty());
}

#[actix_web::test]
async fn a_rating_line_readable_or_not_never_streams_never_stays_in_the_text_and_is_never_quoted() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        let prompt = user_prompt(body);
        if is_stream(body) {
            if !asks_rating(body) {
                return Reply::stream(format!("Opening {n} on the pathway."), 5);
            }
            let text = match n % 3 {
                0 => format!("Critique {n}: the draft holds.\nRATING: seven CONFIDENCE: high"),
                1 => format!("Critique {n}: the draft is close.\n**Rating:** 12"),
                _ => format!(
                    "Critique {n}: first part.\nRATING: 0-2 (to indicate how confident you are)\nSecond part of the critique.\nRATING: 8 CONFIDENCE: 0.7"
                ),
            };
            return Reply::stream(text, 4);
        }
        if prompt.contains("RATING:") {
            return Reply::Complete("RATING: 6 CONFIDENCE: 0.6".into());
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app.create_panel(&key, json!({"query": query(), "panel_type": "structured", "expert_count": 3, "max_rounds": 3, "consensus_method": "majority"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ws = app.ws(&key).await;
    ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    let frames = ws.until("the end", is_terminal).await;
    assert_tokens_rebuild(&frames);
    let streamed: String =
        frames.iter().filter(|f| f["type"] == "token").map(|f| f["delta"].as_str().unwrap()).collect();
    assert!(!streamed.to_lowercase().contains("rating"), "no rating line streams: {streamed}");
    let done = app.get(&format!("/v1/panels/{id}"), &key).await.1;
    for round in done["rounds"].as_array().unwrap() {
        for turn in round["turns"].as_array().unwrap() {
            let text = turn["text"].as_str().unwrap();
            assert!(!text.to_lowercase().contains("rating"), "no rating line stays in a turn's text: {text}");
        }
    }
    let round2 = done["rounds"][1]["turns"].as_array().unwrap();
    assert!(
        round2.iter().all(|t| !t["rating"].is_null()),
        "a readable trailer or the follow-up rated each turn: {done}"
    );
    assert!(
        round2.iter().any(|t| t["text"].as_str().unwrap().contains("Second part")),
        "prose after an echoed line is kept"
    );
    // Later prompts quote no rating line, and the follow-up asks only for the rating.
    for body in stub.bodies() {
        let prompt = user_prompt(&body);
        assert!(
            !prompt.contains("RATING: seven") && !prompt.contains("Rating:** 12") && !prompt.contains("RATING: 0-2"),
            "{prompt}"
        );
        if !is_stream(&body) && prompt.contains("RATING:") {
            let last = body["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_string();
            assert!(last.contains("RATING:") && last.len() < 400, "the follow-up asks only for the rating: {last}");
        }
    }
}

#[actix_web::test]
async fn a_server_that_ignores_the_json_schema_keeps_the_prose_as_the_turns_text() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) {
            return Reply::stream(
                format!("Plain prose answer {n}: the predicate is weak, so De Novo is the safer route."),
                6,
            );
        }
        if user_prompt(body).contains("RATING:") {
            return Reply::Complete("RATING: 7 CONFIDENCE: 0.8".into());
        }
        healthy(n, body)
    }));
    for mode in ["auto", "json_schema"] {
        let app = app_with(&stub, |s| s.llm.structured_output = mode.into()).await;
        let (_, key) = app.create_tenant("acme", json!({})).await;
        let id = app
            .create_panel(
                &key,
                json!({"query": query(), "panel_type": "structured", "expert_count": 3, "max_rounds": 2}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut ws = app.ws(&key).await;
        ws.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
        let frames = ws.until("the end", is_terminal).await;
        assert_tokens_rebuild(&frames);
        let done = app.get(&format!("/v1/panels/{id}"), &key).await.1;
        for round in done["rounds"].as_array().unwrap() {
            for turn in round["turns"].as_array().unwrap() {
                assert!(
                    turn["text"].as_str().unwrap().starts_with("Plain prose answer"),
                    "{mode}: the prose is the turn's text: {turn}"
                );
            }
        }
        assert!(done["rounds"][1]["turns"].as_array().unwrap().iter().all(|t| t["rating"] == 7), "{mode}: {done}");
    }
}

#[actix_web::test]
async fn ratings_count_only_in_the_turns_whose_format_asks_for_one() {
    // Every answer ends with a rating, asked for or not.
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) {
            let text = format!("Contribution {n}: the evidence favours caution.");
            if body["response_format"]["type"] == "json_schema" {
                return Reply::stream(json!({"text": text, "rating": 8, "confidence": 0.9}).to_string(), 9);
            }
            return Reply::stream(format!("{text}\nRATING: 8 CONFIDENCE: 0.9"), 7);
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id = app
        .create_panel(&key, json!({"query": query(), "panel_type": "structured", "expert_count": 3, "max_rounds": 2}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app.wait_completed(&key, &id).await;
    let opening = &done["rounds"][0];
    assert!(
        opening["turns"].as_array().unwrap().iter().all(|t| t["rating"].is_null()),
        "openings rate nothing: {done}"
    );
    assert!(opening["stats"].is_null(), "no statistics on a round that asks for no rating: {done}");
    assert!(opening["turns"].as_array().unwrap().iter().all(|t| !t["text"].as_str().unwrap().contains("RATING")));
    let events = app.events(&key, &id).await;
    let first_consensus = events.iter().find(|e| e["kind"] == "consensus_updated").expect("a consensus");
    assert_eq!(first_consensus["data"]["consensus"]["round"], 2, "no consensus is declared on openings");
    assert_eq!(done["rounds"][1]["stats"]["n"], 3);
    // Socratic: the questioner's turn asks for no rating.
    let id = app
        .create_panel(&key, json!({"query": query(), "panel_type": "socratic", "expert_count": 3, "max_rounds": 2}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = app.wait_completed(&key, &id).await;
    for round in done["rounds"].as_array().unwrap() {
        let questioner = &round["turns"][0];
        assert!(questioner["rating"].is_null(), "{done}");
    }
    assert_eq!(done["rounds"][1]["stats"]["n"], 2, "only the answerers rate: {done}");
}

#[actix_web::test]
async fn three_members_rating_seven_with_confidence_095_reach_consensus_with_no_dissent() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) {
            return Reply::stream(answer(body, &format!("Critique {n}: agreed."), 7, 0.95), 9);
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "json_schema".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let id =
        app.create_panel(&key, json!({"query": query(), "panel_type": "structured", "expert_count": 3, "max_rounds": 2, "consensus_method": "confidence_weighted"})).await["id"]
            .as_str()
            .unwrap()
            .to_string();
    let done = app.wait_completed(&key, &id).await;
    let consensus = &done["consensus"];
    assert_eq!(consensus["level"], "consensus", "{consensus}");
    assert_eq!(consensus["dissent"], json!([]), "{consensus}");
    assert_eq!(consensus["mean"], 7.0, "{consensus}");
}

#[actix_web::test]
async fn dissent_names_only_the_members_on_the_other_side_of_the_panels_position() {
    // 8, 8 and 5: the panel agrees; 5 is uncertain, not dissent. Then 8, 8 and 2: the 2 dissents.
    let low = Arc::new(AtomicUsize::new(5));
    let shared = low.clone();
    let stub = stub::start(Arc::new(move |n, body: &Value| {
        if is_stream(body) {
            let third = shared.load(Ordering::SeqCst) as u8;
            let rating = if body["messages"].to_string().contains("You are Richard Hale") { third } else { 8 };
            return Reply::stream(answer(body, &format!("Critique {n}."), rating, 0.8), 9);
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let experts = app.get("/v1/experts?limit=100", &key).await.1["items"].as_array().unwrap().clone();
    let hale = experts.iter().find(|e| e["name"] == "Richard Hale").expect("Richard Hale in the catalog")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let others: Vec<String> = catalog_experts(&app, &key, 3)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .filter(|id| *id != hale)
        .take(2)
        .collect();
    for (third, dissenters) in [(5, 0), (2, 1)] {
        low.store(third, Ordering::SeqCst);
        let experts = json!([others[0], others[1], hale]);
        let id = app
            .create_panel(
                &key,
                json!({"query": query(), "panel_type": "structured", "experts": experts, "max_rounds": 2}),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let done = app.wait_completed(&key, &id).await;
        let dissent = done["consensus"]["dissent"].as_array().unwrap();
        assert_eq!(dissent.len(), dissenters, "third rating {third}: {}", done["consensus"]);
    }
}

#[actix_web::test]
async fn text_that_once_panicked_the_rating_reader_is_handled_and_the_panel_goes_on() {
    let stub = stub::start(Arc::new(|n, body: &Value| {
        if is_stream(body) {
            return Reply::stream(format!("\u{212A}é rating: 7 — K\u{212A} {n}.\nRATING: 7 CONFIDENCE: 0.8"), 3);
        }
        healthy(n, body)
    }));
    let app = app_with(&stub, |s| s.llm.structured_output = "trailer".into()).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let panel = app
        .create_panel(&key, json!({"query": query(), "panel_type": "hybrid", "expert_count": 2, "humans": [{"name": "Dr. Lee"}], "max_rounds": 2, "human_turn_timeout_s": 60}))
        .await;
    let id = panel["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let waiting = app.wait_panel(&key, &id, "the human turn", |p| p["status"] == "awaiting_human").await;
        let member = waiting["pending_human"]["member_id"].as_str().unwrap();
        let (status, body) = app
            .post(&format!("/v1/panels/{id}/input"), &key, json!({"member_id": member, "text": "\u{212A}é rating: 7"}))
            .await;
        assert_eq!(status.as_u16(), 202, "{body}");
    }
    let done = app.wait_completed(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    // A question with such characters, read by the simulated experts.
    let sim = spawn_app().await;
    let (_, key) = sim.create_tenant("sim", json!({})).await;
    let query = "\u{212A}\u{212A}\u{212A}\u{212A} should we pursue the first pathway or the second?";
    let id = sim
        .create_panel(
            &key,
            json!({"query": query, "panel_type": "structured", "expert_count": 3, "max_rounds": 2, "simulation": {"seed": 1, "pace_tokens_per_s": 0, "turn_tokens": 30}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sim.wait_completed(&key, &id).await["status"], "completed");
}
