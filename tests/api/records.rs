//! The decision record through the real server (docs/records.md): reports
//! in every format checked against the panel's events, share links and what
//! they open (and stop opening), search with filters, follow-ups and re-runs,
//! and each of them across tenants.

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// The one rounding rule of the figures (docs/records.md).
fn figure(value: f64) -> String {
    askpanel_actors::consensus::figures::figure(value)
}

/// GET with optional key; the raw response.
async fn raw(app: &TestApp, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    tokio::time::timeout(WAIT, request.send()).await.expect("in time").expect("sent")
}

/// A completed structured panel of 4 simulated experts.
async fn completed_panel(app: &TestApp, key: &str, query: &str, seed: u64) -> Value {
    let panel = app
        .create_panel(
            key,
            json!({
                "query": query, "panel_type": "structured", "expert_count": 4, "max_rounds": 3,
                "simulation": {"seed": seed, "pace_tokens_per_s": 0, "turn_tokens": 40}
            }),
        )
        .await;
    let done = app.wait_completed(key, panel["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    done
}

/// Words of a text, whitespace normalised (PDF text comes out in lines).
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[actix_web::test]
async fn the_report_in_every_format_agrees_with_the_panels_events() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let panel = completed_panel(&app, &key, "Should our AI ECG triage device pursue 510(k) or De Novo?", 7).await;
    let id = panel["id"].as_str().unwrap();
    let events = app.events(&key, id).await;

    let (status, report) = app.get(&format!("/v1/panels/{id}/report"), &key).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["query"], panel["query"]);
    assert_eq!(report["status"], "completed");
    let names: Vec<&Value> = panel["members"].as_array().unwrap().iter().map(|m| &m["name"]).collect();
    let report_names: Vec<&Value> = report["members"].as_array().unwrap().iter().map(|m| &m["name"]).collect();
    assert_eq!(names, report_names);
    assert!(report["members"].as_array().unwrap().iter().all(|m| m["title"].is_string() && m["model"] == "simulated"));
    assert_eq!(report["recommendation"]["text"], panel["recommendation"]);
    assert!(!report["recommendation"]["conditions"].as_array().unwrap().is_empty(), "{}", report["recommendation"]);

    // The outcome is the last consensus measured, rounded by the one rule,
    // and the recommendation's text quotes the same figures.
    let last_consensus =
        events.iter().rev().find(|e| e["kind"] == "consensus_updated").expect("rated")["data"]["consensus"].clone();
    let outcome = &report["outcome"];
    assert_eq!(outcome["level"], last_consensus["level"]);
    assert_eq!(outcome["round"], last_consensus["round"]);
    assert_eq!(figure(outcome["median"].as_f64().unwrap()), figure(last_consensus["median"].as_f64().unwrap()));
    assert_eq!(
        outcome["agreement_pct"].as_u64().unwrap(),
        (last_consensus["agreement"].as_f64().unwrap() * 100.0).round() as u64
    );
    let recommendation = panel["recommendation"].as_str().unwrap();
    assert!(
        recommendation.contains(&format!(
            "median {}, IQR {}",
            figure(last_consensus["median"].as_f64().unwrap()),
            figure(last_consensus["iqr"].as_f64().unwrap())
        )),
        "{recommendation}"
    );
    assert!(outcome["explanation"].as_str().unwrap().contains(&format!("{}%", outcome["agreement_pct"])), "{outcome}");
    let dissent: Vec<&Value> = report["dissent"].as_array().unwrap().iter().map(|d| &d["member_id"]).collect();
    let expected: Vec<&Value> = last_consensus["dissent"].as_array().unwrap().iter().collect();
    assert_eq!(dissent, expected);

    // One row a round, with the round's own statistics and level.
    let completed: Vec<&Value> = events.iter().filter(|e| e["kind"] == "round_completed").collect();
    let rounds = report["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), completed.len());
    for (row, event) in rounds.iter().zip(&completed) {
        assert_eq!(row["round"], event["data"]["round"]);
        assert_eq!(row["decision"], event["data"]["decision"]);
        if let Some(median) = event["data"]["stats"]["median"].as_f64() {
            assert_eq!(figure(row["median"].as_f64().unwrap()), figure(median));
        }
        let measured = events
            .iter()
            .find(|e| e["kind"] == "consensus_updated" && e["data"]["consensus"]["round"] == event["data"]["round"]);
        assert_eq!(row["level"], measured.map_or(Value::Null, |e| e["data"]["consensus"]["level"].clone()));
    }
    // The transcript is every completed turn, in order; usage sums the events.
    let turns: Vec<&Value> = events.iter().filter(|e| e["kind"] == "turn_completed").collect();
    let transcript: Vec<&Value> =
        report["transcript"].as_array().unwrap().iter().flat_map(|r| r["turns"].as_array().unwrap().iter()).collect();
    assert_eq!(transcript.len(), turns.len());
    for (row, event) in transcript.iter().zip(&turns) {
        assert_eq!(row["text"], event["data"]["text"]);
        assert_eq!(row["member_id"], event["data"]["member_id"]);
    }
    let sum = |field: &str| events.iter().map(|e| e["data"][field].as_u64().unwrap_or(0)).sum::<u64>();
    assert_eq!(report["usage"]["turns"].as_u64().unwrap(), turns.len() as u64);
    assert_eq!(report["usage"]["tokens_in"].as_u64().unwrap(), sum("tokens_in"));
    assert_eq!(report["usage"]["tokens_out"].as_u64().unwrap(), sum("tokens_out"));
    let chart = report["chart_svg"].as_str().expect("a chart");
    let rated = rounds.iter().find(|r| r["median"].is_number()).expect("a rated round");
    assert!(
        chart.starts_with("<svg") && chart.contains(&format!("median {}<", figure(rated["median"].as_f64().unwrap())))
    );
    assert!(report["duration_s"].as_i64().unwrap() >= 0);

    // Markdown: an attachment with every section, figures and turn.
    let response = raw(&app, &format!("/v1/panels/{id}/report?format=md"), Some(&key)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/markdown"));
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"askpanel-") && disposition.ends_with(".md\""),
        "{disposition}"
    );
    let md = response.text().await.unwrap();
    for section in [
        "# Panel report",
        "## Recommendation",
        "### Conditions",
        "## Agreement",
        "## Dissent",
        "## Members",
        "## Rounds",
        "## Transcript",
        "## Configuration and usage",
    ] {
        assert!(md.contains(section), "{section} missing");
    }
    assert!(md.contains(recommendation.trim()));
    assert!(md.contains("data:image/svg+xml;base64,"));
    for turn in &turns {
        assert!(md.contains(turn["data"]["text"].as_str().unwrap().trim()));
    }
    for row in rounds {
        if let Some(median) = row["median"].as_f64() {
            assert!(md.contains(&format!("| {} | {} |", figure(median), figure(row["iqr"].as_f64().unwrap()))), "{md}");
        }
    }

    // HTML: one self-contained page, nothing to run.
    let response = raw(&app, &format!("/v1/panels/{id}/report?format=html"), Some(&key)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert!(response.headers().get("content-disposition").is_none());
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<svg") && !html.contains("<script"));
    assert!(html.contains(&outcome["explanation"].as_str().unwrap().replace('\'', "&#39;")));

    // PDF: made by the server, it opens, and its text is the report's.
    let response = raw(&app, &format!("/v1/panels/{id}/report?format=pdf"), Some(&key)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.unwrap().to_vec();
    assert!(pdf.starts_with(b"%PDF-"));
    let document = lopdf::Document::load_mem(&pdf).expect("the PDF opens");
    assert!(!document.get_pages().is_empty());
    let text = squash(&pdf_extract::extract_text_from_mem(&pdf).expect("text extracts"));
    for part in
        ["Panel report", "Recommendation", "Conditions", "Agreement", "Transcript", "Should our AI ECG triage device"]
    {
        assert!(text.contains(part), "{part} not in the PDF's text: {text}");
    }
    let level = outcome["level"].as_str().unwrap();
    assert!(text.to_lowercase().contains(level), "{level}");
    let first_turn = squash(turns[0]["data"]["text"].as_str().unwrap());
    assert!(text.contains(&first_turn.chars().take(40).collect::<String>()), "{first_turn}");

    // Bad format; another tenant's panel; no key.
    let (status, body) = app.get(&format!("/v1/panels/{id}/report?format=docx"), &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["format"].is_string());
    for format in ["json", "md", "html", "pdf"] {
        let (status, _) = app.get(&format!("/v1/panels/{id}/report?format={format}"), &other).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert_eq!(raw(&app, &format!("/v1/panels/{id}/report"), None).await.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_running_panel_reports_what_it_has_so_far() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let panel = app.create_panel(&key, paced("structured", 20.0)).await;
    let id = panel["id"].as_str().unwrap();
    let (status, report) = app.get(&format!("/v1/panels/{id}/report"), &key).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(report["completed_at"].is_null() && report["recommendation"].is_null());
    let md = raw(&app, &format!("/v1/panels/{id}/report?format=md"), Some(&key)).await.text().await.unwrap();
    assert!(md.contains("has not finished"), "{md}");
    let response = raw(&app, &format!("/v1/panels/{id}/report?format=pdf"), Some(&key)).await;
    assert_eq!(response.status(), StatusCode::OK);
    lopdf::Document::load_mem(&response.bytes().await.unwrap()).expect("the PDF opens");
}

/// Reads an SSE stream until it ends (or `limit` passes); returns the event kinds.
async fn sse_until_end(response: reqwest::Response, limit: Duration) -> (Vec<String>, String, bool) {
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => break (kinds(&text), text, false),
            Ok(None) | Ok(Some(Err(_))) => break (kinds(&text), text, true),
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
        }
    }
}

fn kinds(text: &str) -> Vec<String> {
    text.lines().filter_map(|l| l.strip_prefix("event: ")).map(str::to_string).collect()
}

#[actix_web::test]
async fn share_links_open_one_panel_read_only_and_die_when_revoked() {
    let app = spawn_app().await;
    let (tenant, admin) = app.create_tenant("acme", json!({})).await;
    let (_, other_admin) = app.create_tenant("globex", json!({})).await;
    let (moderator_id, moderator) = app.create_key(&admin, "moderator").await;
    let (_, member) = app.create_key(&admin, "member").await;
    let shared = completed_panel(&app, &admin, "Should the clinic adopt the wearable ECG patch this year?", 3).await;
    let id = shared["id"].as_str().unwrap();
    let private = completed_panel(&app, &admin, "Should we move the data centre to another region?", 4).await;

    // Moderators make links; members and other tenants cannot.
    let (status, _) = app.post(&format!("/v1/panels/{id}/shares"), &member, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.post(&format!("/v1/panels/{id}/shares"), &other_admin, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in [
        json!({"expires_in_s": 5}),
        json!({"expires_in_s": 999_999_999}),
        json!({"label": "x".repeat(101)}),
        json!({"role": "admin"}),
    ] {
        let (status, body) = app.post(&format!("/v1/panels/{id}/shares"), &moderator, bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (status, share) =
        app.post(&format!("/v1/panels/{id}/shares"), &moderator, json!({"expires_in_s": 3600, "label": "board"})).await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let token = share["token"].as_str().unwrap().to_string();
    assert_eq!(share["url"], format!("/#/shared/{token}"));
    assert_eq!(share["created_by"], moderator_id.as_str());
    let share_id = share["id"].as_str().unwrap().to_string();

    // The list shows the link, never its token; other tenants see nothing.
    let (status, list) = app.get(&format!("/v1/panels/{id}/shares"), &moderator).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&token) && list["items"][0]["label"] == "board");
    assert_eq!(app.get(&format!("/v1/panels/{id}/shares"), &member).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&format!("/v1/panels/{id}/shares"), &other_admin).await.0, StatusCode::NOT_FOUND);
    let (status, _) =
        app.request(Method::DELETE, &format!("/v1/panels/{id}/shares/{share_id}"), Some(&other_admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // With the token and no key: the panel, its report and its events, with
    // nothing that names the tenant or a key.
    let response = raw(&app, &format!("/v1/shared/{token}"), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["panel"]["id"], id);
    assert_eq!(body["panel"]["recommendation"], shared["recommendation"]);
    for secret in [tenant.as_str(), moderator_id.as_str(), "tenant_id", "created_by", "key_id"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let md = raw(&app, &format!("/v1/shared/{token}/report?format=md"), None).await;
    assert_eq!(md.status(), StatusCode::OK);
    assert!(md.text().await.unwrap().contains("## Recommendation"));
    let pdf = raw(&app, &format!("/v1/shared/{token}/report?format=pdf"), None).await.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let events = raw(&app, &format!("/v1/shared/{token}/events?after=0"), None).await.text().await.unwrap();
    let parsed: Value = serde_json::from_str(&events).unwrap();
    assert!(parsed["events"].as_array().unwrap().len() > 5);
    assert!(!events.contains(tenant.as_str()) && !events.contains("tenant_id"), "{events}");

    // The token opens nothing else: not the API, not another panel.
    let (status, _) = app.get("/v1/panels", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get(&format!("/v1/panels/{}", private["id"].as_str().unwrap()), &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(raw(&app, &format!("/v1/shared/{token}x"), None).await.status(), StatusCode::NOT_FOUND);
    let forged = format!("aps_{}", "A".repeat(43));
    assert_eq!(raw(&app, &format!("/v1/shared/{forged}"), None).await.status(), StatusCode::NOT_FOUND);

    // A running panel is followed live; revoking the link ends the stream.
    let running = app.create_panel(&admin, paced("structured", 8.0)).await;
    let running_id = running["id"].as_str().unwrap();
    let (_, live) = app.post(&format!("/v1/panels/{running_id}/shares"), &admin, json!({})).await;
    let live_token = live["token"].as_str().unwrap().to_string();
    let stream = app
        .client
        .get(app.url(&format!("/v1/shared/{live_token}/events")))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let revoke_path = format!("/v1/panels/{running_id}/shares/{}", live["id"].as_str().unwrap());
    let reader = actix_web::rt::spawn(sse_until_end(stream, Duration::from_secs(15)));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, _) = app.request(Method::DELETE, &revoke_path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (kinds, text, ended) = reader.await.unwrap();
    assert!(ended, "the stream did not end when its link was revoked: {kinds:?}");
    assert!(kinds.first().is_some_and(|k| k == "panel_created"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "panel_completed"), "the panel should still be running: {kinds:?}");
    assert!(!text.contains(tenant.as_str()), "{text}");
    // Revoked: every door is closed, and revoking again is harmless.
    for path in ["", "/report", "/events"] {
        assert_eq!(raw(&app, &format!("/v1/shared/{live_token}{path}"), None).await.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(app.request(Method::DELETE, &revoke_path, Some(&admin), None).await.0, StatusCode::NO_CONTENT);
    let (_, list) = app.get(&format!("/v1/panels/{running_id}/shares"), &admin).await;
    assert!(list["items"][0]["revoked_at"].is_string());

    // A suspended tenant's links open nothing.
    let (status, _) = app
        .request(
            Method::PATCH,
            &format!("/v1/admin/tenants/{tenant}"),
            Some(&app.admin_key.clone()),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(raw(&app, &format!("/v1/shared/{token}"), None).await.status(), StatusCode::NOT_FOUND);
}

/// Polls a search until it returns exactly `expected` (ids, in order).
async fn search_until(app: &TestApp, key: &str, query: &str, expected: &[&str]) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = app.get(&format!("/v1/panels?{query}"), key).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        let ids: Vec<&str> = body["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        if ids == expected {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{query}: got {ids:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn search_finds_panels_by_their_words_with_filters() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let battery =
        completed_panel(&app, &key, "Should we recall the wearable ECG patch over battery swelling?", 1).await;
    let battery_id = battery["id"].as_str().unwrap();
    let week = app
        .create_panel(
            &key,
            json!({"query": "Should engineers move to a four-day working week?", "panel_type": "open", "expert_count": 3,
                   "simulation": {"seed": 2, "pace_tokens_per_s": 0, "turn_tokens": 30}}),
        )
        .await;
    let week_id = week["id"].as_str().unwrap();
    app.wait_completed(&key, week_id).await;
    // The other tenant has a panel on the very same words.
    let theirs =
        completed_panel(&app, &other, "Should we recall the wearable ECG patch over battery swelling?", 1).await;
    let theirs_id = theirs["id"].as_str().unwrap();

    // Words of the question, stemmed; every word must match somewhere.
    let body = search_until(&app, &key, "q=batteries", &[battery_id]).await;
    // The best match (by each backend's own rank) points at an event that holds the word.
    let matched = &body["items"][0]["match"];
    let events = app.events(&key, battery_id).await;
    let event = events.iter().find(|e| e["seq"] == matched["seq"]).expect("the matched event");
    let (kind, text) = match matched["kind"].as_str().unwrap() {
        "query" => ("panel_created", event["data"]["panel"]["query"].as_str().unwrap()),
        "turn" => ("turn_completed", event["data"]["text"].as_str().unwrap()),
        "recommendation" => ("panel_completed", event["data"]["recommendation"].as_str().unwrap()),
        other => panic!("match kind {other}"),
    };
    assert_eq!(event["kind"], kind);
    assert!(text.to_lowercase().contains("batter"), "{text}");
    search_until(&app, &key, "q=battery+recall+wearable", &[battery_id]).await;
    search_until(&app, &key, "q=battery+week", &[]).await;
    search_until(&app, &key, "q=four+day+week", &[week_id]).await;
    // The recommendations and turns are searched too ("simulated" is in both
    // panels' turns and recommendations only).
    let mut both = vec![battery_id, week_id];
    both.sort();
    let deadline = tokio::time::Instant::now() + WAIT;
    let body = loop {
        let body = app.get("/v1/panels?q=simulated", &key).await.1;
        let mut found: Vec<&str> =
            body["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        found.sort();
        if found == both {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| matches!(p["match"]["kind"].as_str(), Some("turn" | "recommendation")))
    );
    // Pages of a ranked search.
    let (_, first) = app.get("/v1/panels?q=simulated&limit=1", &key).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert_eq!(first["next_cursor"], "o1");
    let (_, second) = app.get("/v1/panels?q=simulated&limit=1&cursor=o1", &key).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert!(second["next_cursor"].is_null());

    // Filters, alone and with words.
    search_until(&app, &key, "panel_type=open", &[week_id]).await;
    search_until(&app, &key, "type=structured&q=simulated", &[battery_id]).await;
    search_until(&app, &key, "status=completed&q=four+day+week", &[week_id]).await;
    let expert = battery["members"][0]["expert_id"].as_str().unwrap();
    let with_expert = app.get(&format!("/v1/panels?expert={expert}"), &key).await.1;
    assert!(with_expert["items"].as_array().unwrap().iter().any(|p| p["id"] == battery_id), "{with_expert}");
    let creator = battery["created_by"].as_str().unwrap();
    let by = app.get(&format!("/v1/panels?created_by={creator}"), &key).await.1;
    assert_eq!(by["items"].as_array().unwrap().len(), 2);
    let today = chrono::Utc::now().date_naive();
    search_until(&app, &key, &format!("from={}", today.succ_opt().unwrap()), &[]).await;
    let (_, dated) = app.get(&format!("/v1/panels?from={today}&to={today}"), &key).await;
    assert_eq!(dated["items"].as_array().unwrap().len(), 2, "{dated}");
    search_until(&app, &key, &format!("to={}", today.pred_opt().unwrap()), &[]).await;

    // Another tenant's words find only its own panel (once the index has
    // caught up with it: the index follows the log shortly after each commit).
    search_until(&app, &other, "q=battery", &[theirs_id]).await;

    // Bad searches are 422s that name the field.
    for (query, field) in [
        ("q=the+and", "q"),
        ("expert=nope", "expert"),
        ("from=yesterday", "from"),
        ("from=99999-01-01", "from"),
        ("to=0000-01-01T00:00:00Z", "to"),
        ("panel_type=debate", "panel_type"),
        ("q=battery&cursor=0190", "cursor"),
        ("cursor=o5", "cursor"),
        ("status=done", "status"),
    ] {
        let (status, body) = app.get(&format!("/v1/panels?{query}"), &key).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert!(body["error"]["fields"][field].is_string(), "{query}: {body}");
    }
}

#[actix_web::test]
async fn follow_ups_and_reruns_start_from_the_earlier_panel() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    let (_, viewer) = app.create_key(&key, "viewer").await;
    let parent = completed_panel(&app, &key, "Should our AI ECG triage device pursue 510(k) or De Novo?", 5).await;
    let parent_id = parent["id"].as_str().unwrap();
    let experts: Vec<&Value> = parent["members"].as_array().unwrap().iter().map(|m| &m["expert_id"]).collect();

    // A follow-up: a new question, the same members and format, told what the earlier panel concluded.
    let (status, child) = app
        .request(
            Method::POST,
            &format!("/v1/panels/{parent_id}/follow-up"),
            Some(&key),
            Some(json!({"query": "Given the 510(k) route, which predicate device should we cite first?"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{child}");
    let child_id = child["id"].as_str().unwrap();
    assert_eq!(child["panel_type"], "structured");
    let child_experts: Vec<&Value> = child["members"].as_array().unwrap().iter().map(|m| &m["expert_id"]).collect();
    assert_eq!(child_experts, experts);
    let link = &child["config"]["parent"];
    assert_eq!(link["id"], parent_id);
    assert_eq!(link["relation"], "follow_up");
    assert_eq!(link["query"], parent["query"]);
    assert_eq!(link["recommendation"], parent["recommendation"]);
    assert!(link["level"].as_str().is_some_and(|l| !l.is_empty()));
    let done = app.wait_completed(&key, child_id).await;
    let first_turn = done["rounds"][0]["turns"][0]["text"].as_str().unwrap();
    assert!(first_turn.contains("Building on the earlier panel's conclusion on \"Should our AI ECG"), "{first_turn}");

    // A follow-up in another format with other members.
    let (status, delphi) = app
        .post(
            &format!("/v1/panels/{parent_id}/follow-up"),
            &key,
            json!({"query": "How confident are we in the predicate's equivalence?", "panel_type": "delphi", "expert_count": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{delphi}");
    assert_eq!(delphi["members"].as_array().unwrap().len(), 5);
    assert_eq!(delphi["panel_type"], "delphi");

    // A re-run: the same question and members, a new seed, no context given.
    let (status, rerun) = app.post(&format!("/v1/panels/{parent_id}/rerun"), &key, json!({"seed": 99})).await;
    assert_eq!(status, StatusCode::CREATED, "{rerun}");
    assert_eq!(rerun["query"], parent["query"]);
    assert_eq!(rerun["config"]["simulation"]["seed"], 99);
    assert_eq!(rerun["config"]["parent"]["relation"], "rerun");
    assert_eq!(rerun["config"]["max_rounds"], parent["config"]["max_rounds"]);
    let rerun_done = app.wait_completed(&key, rerun["id"].as_str().unwrap()).await;
    assert!(!rerun_done.to_string().contains("Building on the earlier panel"));
    let (status, again) = app.request(Method::POST, &format!("/v1/panels/{parent_id}/rerun"), Some(&key), None).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_ne!(again["config"]["simulation"]["seed"], parent["config"]["simulation"]["seed"]);

    // The parent lists its children (the index follows within moments).
    let listed = app
        .wait_panel(&key, parent_id, "the children", |p| p["children"].as_array().is_some_and(|c| c.len() == 4))
        .await;
    let relations: Vec<&str> =
        listed["children"].as_array().unwrap().iter().map(|c| c["relation"].as_str().unwrap()).collect();
    assert_eq!(relations, ["follow_up", "follow_up", "rerun", "rerun"]);
    assert_eq!(listed["children"][0]["id"], child_id);

    // The same Idempotency-Key gives the same follow-up.
    let idempotent = |key_value: &'static str| {
        app.client
            .post(app.url(&format!("/v1/panels/{parent_id}/follow-up")))
            .bearer_auth(&key)
            .header("Idempotency-Key", key_value)
            .json(&json!({"query": "What post-market study should we commit to?"}))
            .send()
    };
    let first = idempotent("fu-1").await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = idempotent("fu-1").await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.json::<Value>().await.unwrap()["id"], first["id"]);
    // A re-run with a key (and no seed) is the same request when retried.
    let rerun_with = || {
        app.client
            .post(app.url(&format!("/v1/panels/{parent_id}/rerun")))
            .bearer_auth(&key)
            .header("Idempotency-Key", "rr-1")
            .send()
    };
    let first = rerun_with().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = rerun_with().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.json::<Value>().await.unwrap()["id"], first["id"]);
    // Another format drops what only the earlier format had (humans, the questioner).
    let (status, open) = app
        .post(
            &format!("/v1/panels/{parent_id}/follow-up"),
            &key,
            json!({"query": "Which risks did we miss entirely?", "panel_type": "open"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{open}");

    // Refusals: a running panel, bad bodies, a viewer, another tenant.
    let running = app.create_panel(&key, paced("structured", 5.0)).await;
    let running_id = running["id"].as_str().unwrap();
    let (status, body) = app
        .post(&format!("/v1/panels/{running_id}/follow-up"), &key, json!({"query": "And what next for this one?"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(app.post(&format!("/v1/panels/{running_id}/rerun"), &key, json!({})).await.0, StatusCode::CONFLICT);
    let (status, body) = app.post(&format!("/v1/panels/{parent_id}/follow-up"), &key, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["fields"]["query"].is_string());
    let (status, body) =
        app.post(&format!("/v1/panels/{parent_id}/follow-up"), &key, json!({"query": "short", "parent": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (plain, _) = app.post("/v1/panels", &key, json!([1, 2])).await;
    let (status, body) = app.post(&format!("/v1/panels/{parent_id}/follow-up"), &key, json!([1, 2])).await;
    assert_eq!(status, plain, "{body}");
    let (status, _) = app.post(&format!("/v1/panels/{parent_id}/rerun"), &key, json!({"seed": "x"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let question = json!({"query": "Given the 510(k) route, which predicate should we cite?"});
    assert_eq!(
        app.post(&format!("/v1/panels/{parent_id}/follow-up"), &viewer, question.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.post(&format!("/v1/panels/{parent_id}/follow-up"), &other, question).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&format!("/v1/panels/{parent_id}/rerun"), &other, json!({})).await.0, StatusCode::NOT_FOUND);
    app.request(
        Method::POST,
        &format!("/v1/panels/{running_id}/moderate"),
        Some(&key),
        Some(json!({"action": "cancel"})),
    )
    .await;
}
