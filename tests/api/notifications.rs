//! Notifications through the real server (docs/notifications.md): a person
//! seated on a hybrid panel is told in the page (a `notification` frame on
//! their socket, and the list) and by email (a sink the test runs) when
//! their turn opens, and reminded once before it times out, unless they are
//! watching the panel; creators and moderators hear when a panel ends;
//! preferences turn channels off; each person sees only their own.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::{Person, add_person};
use crate::helpers::*;
use crate::smtp::{Received, SmtpSink};

async fn with_mail(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    spawn_app_with(move |s| {
        s.mail.smtp_url = url;
        s.accounts.public_url = "https://panel.example".into();
    })
    .await
}

fn hybrid(user_id: &str, timeout_s: u64, rounds: u32) -> Value {
    json!({
        "query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": "hybrid",
        "expert_count": 2, "humans": [{"user_id": user_id}], "max_rounds": rounds, "human_turn_timeout_s": timeout_s,
        "simulation": {"seed": 4, "pace_tokens_per_s": 0, "turn_tokens": 15}
    })
}

async fn notifications(app: &TestApp, person: &Person, query: &str) -> Value {
    let (status, body) = person.send(app, Method::GET, &format!("/v1/notifications{query}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn kinds_until(app: &TestApp, person: &Person, what: &str, done: impl Fn(&[String]) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body = notifications(app, person, "?limit=100").await;
        let kinds: Vec<String> =
            body["items"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap().to_string()).collect();
        if done(&kinds) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "waiting for {what}: {kinds:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mails_to(sink: &SmtpSink, to: &str) -> Vec<Received> {
    sink.all().into_iter().filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to))).collect()
}

/// Waits for a message to `to` whose subject starts with `subject` (emails
/// go out side by side, in no set order).
async fn mail_starting(sink: &SmtpSink, to: &str, subject: &str) -> Received {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = mails_to(sink, to).into_iter().find(|m| m.subject().starts_with(subject)) {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "no \"{subject}\" to {to}; got {:?}", sink.all());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[actix_web::test]
async fn a_person_with_no_open_page_is_emailed_when_their_turn_opens_and_reminded_once() {
    let sink = SmtpSink::start().await;
    let app = with_mail(&sink).await;
    let (tenant, key) = app.create_tenant("acme", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "member").await;
    // A 12 s turn: reminded a quarter of it (3 s) before the deadline.
    let panel = app.create_panel(&key, hybrid(&ada.user_id, 12, 1)).await;
    let id = panel["id"].as_str().unwrap().to_string();

    // Her seat, then her turn, by email, with a link to the panel.
    mail_starting(&sink, "ada@acme.test", "You have a seat on a panel").await;
    let turn = mail_starting(&sink, "ada@acme.test", "Your turn: Should our AI ECG").await;
    assert!(turn.link().starts_with(&format!("https://panel.example/#/panels/{id}")), "{}", turn.body());
    let events = app.events(&key, &id).await;
    let requested = events.iter().find(|e| e["kind"] == "human_turn_requested").expect("her turn");
    let deadline: chrono::DateTime<chrono::Utc> = requested["data"]["deadline"].as_str().unwrap().parse().unwrap();

    // The reminder comes once, before the deadline.
    mail_starting(&sink, "ada@acme.test", "Reminder, your turn").await;
    assert!(chrono::Utc::now() < deadline, "the reminder came before the deadline");
    // The turn times out; the panel ends; no second reminder, no mail for a closed turn.
    app.wait_completed(&key, &id).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let subjects: Vec<String> = mails_to(&sink, "ada@acme.test").iter().map(Received::subject).collect();
    assert_eq!(subjects.iter().filter(|s| s.starts_with("Reminder")).count(), 1, "{subjects:?}");
    assert_eq!(subjects.iter().filter(|s| s.starts_with("Your turn")).count(), 1, "{subjects:?}");
    // She sits on it, so its end is news to her too.
    assert!(subjects.iter().any(|s| s.starts_with("Panel completed")), "{subjects:?}");

    // The same, in the page: newest first, unread until read.
    let body = kinds_until(&app, &ada, "the end", |k| k.contains(&"panel_completed".to_string())).await;
    let kinds: Vec<&str> = body["items"].as_array().unwrap().iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["panel_completed", "human_turn_reminder", "human_turn", "panel_seat"], "{body}");
    assert_eq!(body["unread"], 4);
    let first = body["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(body["items"][0]["panel_id"], id.as_str());
    let (status, read) =
        ada.send(&app, Method::POST, &format!("/v1/notifications/{first}/read"), Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert!(read["read_at"].is_string(), "{read}");
    let unread = notifications(&app, &ada, "?unread=true").await;
    assert_eq!((unread["unread"].as_u64(), unread["items"].as_array().unwrap().len()), (Some(3), 3));
    let (_, marked) = ada.send(&app, Method::POST, "/v1/notifications/read-all", Some(json!({}))).await;
    assert_eq!(marked["marked"], 3);
    assert_eq!(notifications(&app, &ada, "").await["unread"], 0);
    // Pages.
    let page = notifications(&app, &ada, "?limit=3").await;
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let rest = notifications(&app, &ada, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
}

#[actix_web::test]
async fn a_person_watching_the_panel_gets_the_turn_on_their_socket_and_no_email() {
    let sink = SmtpSink::start().await;
    let app = with_mail(&sink).await;
    let (tenant, key) = app.create_tenant("acme", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "member").await;
    let (_, token) = ada.send(&app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
    let mut ws = app.ws_url(&format!("ws://{}/v1/ws?token={}", app.address, token["token"].as_str().unwrap())).await;
    // A long turn, so no reminder falls in the test.
    let panel = app.create_panel(&key, hybrid(&ada.user_id, 600, 1)).await;
    let id = panel["id"].as_str().unwrap().to_string();
    // She opens the panel at once (well within the grace a turn's email waits).
    ws.send(json!({"type": "subscribe", "panel_id": id})).await;
    // The seat's notification comes over her socket.
    let frames = ws.until("the seat notification", |f| f["type"] == "notification").await;
    let seat = frames.last().unwrap();
    assert_eq!(seat["notification"]["kind"], "panel_seat", "{seat}");
    let frames =
        ws.until("her turn", |f| f["type"] == "notification" && f["notification"]["kind"] == "human_turn").await;
    let turn = &frames.last().unwrap()["notification"];
    assert_eq!(turn["panel_id"], id.as_str());
    let member = turn["data"]["member_id"].as_str().unwrap().to_string();
    // She is watching: the page told her, the email (due after the grace) is skipped.
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let subjects: Vec<String> = mails_to(&sink, "ada@acme.test").iter().map(Received::subject).collect();
    assert!(subjects.iter().all(|s| !s.starts_with("Your turn")), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.starts_with("You have a seat")), "{subjects:?}");
    // She answers; the panel ends; she is told on the socket.
    let (status, body) = ada
        .send(
            &app,
            Method::POST,
            &format!("/v1/panels/{id}/input"),
            Some(json!({"member_id": member, "text": "I would file a De Novo."})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    ws.until("the end", |f| f["type"] == "notification" && f["notification"]["kind"] == "panel_completed").await;
}

#[actix_web::test]
async fn creators_and_moderators_hear_when_a_panel_ends_by_the_channels_they_chose() {
    let sink = SmtpSink::start().await;
    let app = with_mail(&sink).await;
    let (tenant, _key) = app.create_tenant("acme", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "member").await;
    let mo = add_person(&app, &tenant, "acme", "mo@acme.test", "moderator").await;
    let bystander = add_person(&app, &tenant, "acme", "by@acme.test", "member").await;
    // Ada wants the end in the page only.
    let (status, prefs) = ada
        .send(
            &app,
            Method::PATCH,
            "/v1/notifications/preferences",
            Some(json!({"kinds": {"panel_completed": {"email": false}}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    assert_eq!(prefs["kinds"]["panel_completed"], json!({"in_app": true, "email": false}));
    assert_eq!(prefs["email_available"], true);
    let (_, again) = ada.send(&app, Method::GET, "/v1/notifications/preferences", None).await;
    assert_eq!(again, prefs);

    let (status, panel) = ada.send(&app, Method::POST, "/v1/panels", Some(paced("structured", 30.0))).await;
    assert_eq!(status, StatusCode::CREATED, "{panel}");
    let id = panel["id"].as_str().unwrap().to_string();
    // Mo moderates it (a pause and a resume): from then on Mo follows it.
    for action in ["pause", "resume"] {
        let (status, body) =
            mo.send(&app, Method::POST, &format!("/v1/panels/{id}/moderate"), Some(json!({"action": action}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{action}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = ada.send(&app, Method::GET, &format!("/v1/panels/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    kinds_until(&app, &ada, "Ada's news of the end", |k| k == ["panel_completed"]).await;
    kinds_until(&app, &mo, "Mo's news of the end", |k| k == ["panel_completed"]).await;
    // Mo gets the email; Ada (email off) does not; the bystander hears nothing.
    mail_starting(&sink, "mo@acme.test", "Panel completed").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(mails_to(&sink, "ada@acme.test").is_empty(), "{:?}", sink.all());
    assert_eq!(notifications(&app, &bystander, "").await["items"], json!([]));
}

#[actix_web::test]
async fn notifications_are_each_persons_own_and_preferences_are_checked() {
    let app = spawn_app().await;
    let (tenant, key) = app.create_tenant("acme", json!({})).await;
    let (other_tenant, _) = app.create_tenant("globex", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "admin").await;
    let bo = add_person(&app, &tenant, "acme", "bo@acme.test", "member").await;
    let gus = add_person(&app, &other_tenant, "globex", "gus@globex.test", "admin").await;
    let panel = app.create_panel(&key, hybrid(&ada.user_id, 600, 1)).await;
    let id = panel["id"].as_str().unwrap().to_string();
    let body = kinds_until(&app, &ada, "her turn", |k| k.contains(&"human_turn".to_string())).await;
    let mine = body["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(body["items"][0]["panel_id"], id.as_str());
    assert_eq!(body["unread"], 2, "{body}");

    // Keys are not people.
    let (status, refused) = app.get("/v1/notifications", &key).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(app.get("/v1/notifications/preferences", &key).await.0, StatusCode::FORBIDDEN);
    // Another person of the tenant, and one of another tenant, neither see nor mark it.
    for other in [&bo, &gus] {
        assert_eq!(notifications(&app, other, "").await["items"], json!([]));
        let (status, _) =
            other.send(&app, Method::POST, &format!("/v1/notifications/{mine}/read"), Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, marked) = other.send(&app, Method::POST, "/v1/notifications/read-all", Some(json!({}))).await;
        assert_eq!(marked["marked"], 0);
    }
    assert_eq!(notifications(&app, &ada, "").await["unread"], 2, "still unread for her");
    // Without the CSRF token a state change is refused.
    let (status, _, _) =
        crate::accounts::call(&app, Method::POST, "/v1/notifications/read-all", &ada.cookie, None, Some(json!({})))
            .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Bad preferences and bad queries name the field; nothing changes.
    for (change, field) in [
        (json!({"kinds": {"pigeon": {"email": false}}}), "kinds.pigeon"),
        (json!({"kinds": {"human_turn": {"sms": true}}}), "kinds.human_turn.sms"),
        (json!({"kinds": {"human_turn": {"email": 1}}}), "kinds.human_turn.email"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, body) = ada.send(&app, Method::PATCH, "/v1/notifications/preferences", Some(change.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{change}: {body}");
        assert!(body["error"]["fields"][field].is_string(), "{field}: {body}");
    }
    let (_, prefs) = ada.send(&app, Method::GET, "/v1/notifications/preferences", None).await;
    assert_eq!(prefs["kinds"]["human_turn"], json!({"in_app": true, "email": true}));
    assert_eq!(prefs["email_available"], false, "this server has no mail server");
    for query in ["?limit=0", "?limit=101", "?cursor=nope"] {
        let (status, _) = ada.send(&app, Method::GET, &format!("/v1/notifications{query}"), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
    }
}
