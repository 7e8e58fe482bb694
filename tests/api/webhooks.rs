//! Webhooks through the real server (docs/webhooks.md): an admin's
//! endpoints receive their tenant's panel events, each signed as Standard
//! Webhooks says (verified here by a receiver the test runs) and each
//! exactly once, across a restart too; a failing receiver gets retries with
//! growing waits, then the endpoint is disabled and the admins are told;
//! deliveries are logged and sent again by hand; nothing crosses tenants.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use askpanel::configuration::Settings;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::accounts::add_person;
use crate::helpers::*;
use crate::receiver::{Arrival, Receiver};
use crate::smtp::SmtpSink;

fn local_targets(s: &mut Settings) {
    s.webhooks.allow_private_targets = true;
}

/// The webhook event types of a panel's log, with their seqs.
pub fn expected_from_log(events: &[Value]) -> BTreeSet<(String, u64)> {
    let human_seats: Vec<Value> = events
        .iter()
        .filter(|e| e["kind"] == "panel_created")
        .flat_map(|e| e["data"]["panel"]["members"].as_array().cloned().unwrap_or_default())
        .filter(|m| m["kind"] == "human")
        .map(|m| m["id"].clone())
        .collect();
    events
        .iter()
        .filter_map(|e| {
            let kind = match e["kind"].as_str().unwrap() {
                "panel_created" => "panel.created",
                "panel_started" => "panel.started",
                "round_completed" => "round.completed",
                "human_turn_requested" => "human_turn.requested",
                "turn_skipped" if human_seats.contains(&e["data"]["member_id"]) => "human_turn.skipped",
                "panel_paused" => "panel.paused",
                "panel_resumed" => "panel.resumed",
                "panel_completed" => "panel.completed",
                "panel_failed" => "panel.failed",
                "panel_cancelled" => "panel.cancelled",
                _ => return None,
            };
            Some((kind.to_string(), e["seq"].as_u64().unwrap()))
        })
        .collect()
}

/// What arrived for one panel, by (type, seq), with how often each came.
fn received_for(arrivals: &[Arrival], panel: &str) -> BTreeMap<(String, u64), usize> {
    let mut seen = BTreeMap::new();
    for arrival in arrivals.iter().filter(|a| a.answered == 200) {
        let body = arrival.json();
        if body["data"]["panel_id"] == panel {
            *seen.entry((arrival.event_type(), body["data"]["seq"].as_u64().unwrap())).or_insert(0) += 1;
        }
    }
    seen
}

pub async fn create_endpoint(app: &TestApp, key: &str, url: &str, events: Value) -> Value {
    let (status, endpoint) =
        app.post("/v1/webhooks", key, json!({"url": url, "events": events, "description": "ops"})).await;
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    endpoint
}

#[actix_web::test]
async fn a_receiver_gets_every_event_once_signed_and_the_log_shows_it() {
    let app = spawn_app_with(local_targets).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let receiver = Receiver::start().await;
    let endpoint = create_endpoint(&app, &key, &receiver.url, json!(["*"])).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{endpoint}");
    let id = endpoint["id"].as_str().unwrap().to_string();
    // The secret is shown once.
    let (_, listed) = app.get("/v1/webhooks", &key).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0].get("secret").is_none() && !listed.to_string().contains(&secret), "{listed}");

    let panel = app.create_panel(&key, structured(3)).await;
    let panel_id = panel["id"].as_str().unwrap().to_string();
    app.wait_completed(&key, &panel_id).await;
    let expected = expected_from_log(&app.events(&key, &panel_id).await);
    assert!(expected.iter().any(|(t, _)| t == "panel.completed") && expected.len() >= 4, "{expected:?}");
    let arrivals =
        receiver.wait("every event of the panel", |all| received_for(all, &panel_id).len() == expected.len()).await;
    let seen = received_for(&arrivals, &panel_id);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(seen.values().all(|n| *n == 1), "each event once: {seen:?}");
    let ids: BTreeSet<&str> = arrivals.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), arrivals.len(), "each message has its own webhook-id");
    let now = chrono::Utc::now().timestamp();
    for arrival in &arrivals {
        assert!(arrival.id.starts_with("msg_"), "{}", arrival.id);
        assert!(arrival.signed_with(&secret), "a valid signature on {}", arrival.body);
        assert!(!arrival.signed_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "and only with the endpoint's secret");
        assert!((now - arrival.timestamp).abs() < 120, "a current timestamp");
        let body = arrival.json();
        assert_eq!(body["data"]["query"], panel["query"]);
        assert!(body["tenant_id"].is_string() && body["timestamp"].is_string(), "{body}");
    }
    let completed = arrivals.iter().find(|a| a.event_type() == "panel.completed").unwrap().json();
    assert!(completed["data"]["recommendation"].as_str().is_some_and(|r| !r.is_empty()), "{completed}");

    // The log: every delivery delivered (recorded just after the receiver
    // answered), with the answer's status and time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        let (status, log) = app.get(&format!("/v1/webhooks/{id}/deliveries?limit=200"), &key).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        if log["items"].as_array().unwrap().iter().all(|d| d["status"] != "pending") {
            break log;
        }
        assert!(tokio::time::Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), expected.len(), "{log}");
    assert!(items.iter().all(|d| d["status"] == "delivered" && d["last_status"] == 200 && d["attempts"] == 1), "{log}");
    assert!(items.iter().all(|d| d["last_duration_ms"].is_u64()), "{log}");
    let one = &items[0];
    let (status, detail) =
        app.get(&format!("/v1/webhooks/{id}/deliveries/{}", one["id"].as_str().unwrap()), &key).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["attempts_log"].as_array().unwrap().len(), 1, "{detail}");
    assert!(detail["payload"]["type"].is_string(), "{detail}");
    assert!(arrivals.iter().any(|a| a.id == detail["message_id"]), "the log names the message the receiver saw");
    // Pages of the log.
    let (_, first) = app.get(&format!("/v1/webhooks/{id}/deliveries?limit=2"), &key).await;
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    let (_, second) = app.get(&format!("/v1/webhooks/{id}/deliveries?limit=2&cursor={cursor}"), &key).await;
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);

    // A test message, and a rotated secret: both the new and (for a day) the old one sign.
    let (status, test) = app.post(&format!("/v1/webhooks/{id}/test"), &key, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{test}");
    let test_id = test["message_id"].as_str().unwrap().to_string();
    let arrived = receiver.wait("the test message", |all| all.iter().any(|a| a.id == test_id)).await;
    assert_eq!(arrived.iter().find(|a| a.id == test_id).unwrap().event_type(), "webhook.test");
    let (status, rotated) = app.post(&format!("/v1/webhooks/{id}/rotate-secret"), &key, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let (_, test) = app.post(&format!("/v1/webhooks/{id}/test"), &key, json!({})).await;
    let test_id = test["message_id"].as_str().unwrap().to_string();
    let arrived = receiver.wait("the second test", |all| all.iter().any(|a| a.id == test_id)).await;
    let after = arrived.iter().find(|a| a.id == test_id).unwrap();
    assert!(after.signed_with(&new_secret) && after.signed_with(&secret) && after.signatures.len() == 2);

    // An endpoint that chose one type gets only that type.
    let picky = Receiver::start().await;
    create_endpoint(&app, &key, &picky.url, json!(["panel.completed"])).await;
    let panel = app.create_panel(&key, structured(4)).await;
    let second_panel = panel["id"].as_str().unwrap().to_string();
    app.wait_completed(&key, &second_panel).await;
    picky.wait("the completion", |all| !all.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got: Vec<String> = picky.all().iter().map(Arrival::event_type).collect();
    assert_eq!(got, ["panel.completed"], "{got:?}");
    // Deleting an endpoint ends its deliveries and its log.
    assert_eq!(
        app.request(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(&key), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("/v1/webhooks/{id}/deliveries"), &key).await.0, StatusCode::NOT_FOUND);
    let audit = app.get("/v1/audit?limit=200", &key).await.1;
    let actions: Vec<&str> = audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["webhook.created", "webhook.secret_rotated", "webhook.deleted"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[actix_web::test]
async fn deliveries_survive_a_restart_and_arrive_exactly_once() {
    let app = spawn_app_with(local_targets).await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let receiver = Receiver::start().await;
    let secret = create_endpoint(&app, &key, &receiver.url, json!(["*"])).await["secret"].as_str().unwrap().to_string();
    // Slow enough that the restart falls in the middle.
    let panel = app.create_panel(&key, paced("structured", 40.0)).await;
    let id = panel["id"].as_str().unwrap().to_string();
    receiver.wait("the panel's start", |all| all.iter().any(|a| a.event_type() == "panel.started")).await;
    let app = app.restart_with(local_targets).await;
    app.wait_completed(&key, &id).await;
    let expected = expected_from_log(&app.events(&key, &id).await);
    let arrivals = receiver.wait("every event", |all| received_for(all, &id).len() == expected.len()).await;
    // A moment more for any duplicate to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = received_for(&receiver.all(), &id);
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(seen.values().all(|n| *n == 1), "each event once across the restart: {seen:?}");
    let ids: BTreeSet<String> = receiver.all().iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids.len(), receiver.all().len(), "no message twice");
    assert!(arrivals.iter().all(|a| a.signed_with(&secret)), "every delivery signed, before and after the restart");
}

#[actix_web::test]
async fn a_failing_receiver_gets_retries_then_the_endpoint_is_disabled_and_the_admins_are_told() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(|s| {
        local_targets(s);
        s.webhooks.retry_base_ms = 300;
        s.webhooks.retry_for_s = 3600;
        s.webhooks.disable_after_failures = 4;
        s.webhooks.disable_after_s = 0;
        s.mail.smtp_url = sink.url();
        s.accounts.public_url = "https://panel.example".into();
    })
    .await;
    let (tenant, key) = app.create_tenant("acme", json!({})).await;
    let ada = add_person(&app, &tenant, "acme", "ada@acme.test", "admin").await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let endpoint = create_endpoint(&app, &key, &receiver.url, json!(["panel.completed"])).await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    let (_, test) = app.post(&format!("/v1/webhooks/{id}/test"), &key, json!({})).await;
    let message = test["message_id"].as_str().unwrap().to_string();

    // Four attempts, the same message each time, each wait longer than the last.
    let arrivals = receiver.wait("four attempts", |all| all.len() >= 4).await;
    assert!(arrivals.iter().all(|a| a.id == message), "retries keep the webhook-id");
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(300), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(1200), "the wait grows: {gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(4800), "the wait grows: {gaps:?}");

    // Then the endpoint is disabled, the admin is told in the page and by email, and the trail has it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let endpoint = loop {
        let (_, endpoint) = app.get(&format!("/v1/webhooks/{id}"), &key).await;
        if endpoint["status"] == "disabled" {
            break endpoint;
        }
        assert!(tokio::time::Instant::now() < deadline, "{endpoint}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("HTTP 500"), "{endpoint}");
    let mail = sink.wait_for("ada@acme.test", 1).await;
    assert!(mail.subject().contains("Webhook endpoint disabled"), "{}", mail.subject());
    let (status, notes) = ada.send(&app, Method::GET, "/v1/notifications", None).await;
    assert_eq!(status, StatusCode::OK, "{notes}");
    assert!(notes["items"].as_array().unwrap().iter().any(|n| n["kind"] == "webhook_disabled"), "{notes}");
    let audit = app.get("/v1/audit?action=webhook.disabled", &key).await.1;
    assert_eq!(audit["items"][0]["actor"]["kind"], "system", "{audit}");
    // No more attempts while disabled; the log shows each failed one.
    let count = receiver.all().len();
    let (_, log) = app.get(&format!("/v1/webhooks/{id}/deliveries?status=failed"), &key).await;
    let delivery = log["items"][0].clone();
    assert_eq!(delivery["last_status"], 500, "{log}");
    let (_, detail) =
        app.get(&format!("/v1/webhooks/{id}/deliveries/{}", delivery["id"].as_str().unwrap()), &key).await;
    assert_eq!(detail["attempts_log"].as_array().unwrap().len(), count, "{detail}");
    // Redelivery waits for the endpoint to be enabled again.
    let redeliver = format!("/v1/webhooks/{id}/deliveries/{}/redeliver", delivery["id"].as_str().unwrap());
    assert_eq!(app.post(&redeliver, &key, json!({})).await.0, StatusCode::CONFLICT);

    // The receiver is fixed, the admin enables the endpoint and sends the message again: it arrives, same id.
    receiver.answer(200);
    let (status, enabled) =
        app.request(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(&key), Some(json!({"enabled": true}))).await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!((enabled["status"].as_str(), enabled["consecutive_failures"].as_u64()), (Some("enabled"), Some(0)));
    let (status, again) = app.post(&redeliver, &key, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    receiver.wait("the redelivery", |all| all.iter().any(|a| a.id == message && a.answered == 200)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, detail) =
            app.get(&format!("/v1/webhooks/{id}/deliveries/{}", delivery["id"].as_str().unwrap()), &key).await;
        if detail["status"] == "delivered" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{detail}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A delivered message can be sent again too; a pending one cannot.
    let audit = app.get("/v1/audit?action=webhook.redelivered", &key).await.1;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
}

#[actix_web::test]
async fn endpoints_are_checked_admin_only_and_never_cross_tenants() {
    let app = spawn_app().await;
    let (_, key) = app.create_tenant("acme", json!({})).await;
    let (_, other) = app.create_tenant("globex", json!({})).await;
    // Without allow_private_targets: https to public hosts only.
    for (body, field) in [
        (json!({"url": "http://hooks.example.com/x", "events": ["*"]}), "url"),
        (json!({"url": "https://127.0.0.1/x", "events": ["*"]}), "url"),
        (json!({"url": "https://localhost/x", "events": ["*"]}), "url"),
        (json!({"url": "https://10.0.0.8/x", "events": ["*"]}), "url"),
        (json!({"url": "https://hooks.example.com/x", "events": []}), "events"),
        (json!({"url": "https://hooks.example.com/x", "events": ["panel.exploded"]}), "events"),
        (json!({"url": "https://hooks.example.com/x"}), "events"),
        (json!({"url": "https://hooks.example.com/x", "events": ["*"], "secret": "mine"}), "secret"),
    ] {
        let (status, error) = app.post("/v1/webhooks", &key, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert!(error["error"]["fields"].get(field).is_some(), "{field}: {error}");
    }
    let endpoint = create_endpoint(&app, &key, "https://hooks.example.com/askpanel", json!(["panel.completed"])).await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    let (status, types) = app.get("/v1/webhooks/event-types", &key).await;
    assert_eq!(status, StatusCode::OK);
    assert!(types["items"].as_array().unwrap().iter().any(|t| t["type"] == "human_turn.requested"), "{types}");

    // Members and moderators manage none of it.
    let (_, moderator) = app.create_key(&key, "moderator").await;
    assert_eq!(app.get("/v1/webhooks", &moderator).await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        app.post("/v1/webhooks", &moderator, json!({"url": "https://a.example.com", "events": ["*"]})).await.0,
        StatusCode::FORBIDDEN
    );

    // Another tenant's admin sees nothing of it, on every route.
    let delivery = app.post(&format!("/v1/webhooks/{id}/test"), &key, json!({})).await.1;
    let delivery_id = delivery["id"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/webhooks", &other).await.1["items"], json!([]));
    for (method, path) in [
        (Method::GET, format!("/v1/webhooks/{id}")),
        (Method::PATCH, format!("/v1/webhooks/{id}")),
        (Method::DELETE, format!("/v1/webhooks/{id}")),
        (Method::POST, format!("/v1/webhooks/{id}/rotate-secret")),
        (Method::POST, format!("/v1/webhooks/{id}/test")),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries")),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries/{delivery_id}")),
        (Method::POST, format!("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")),
    ] {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let (status, answer) = app.request(method.clone(), &path, Some(&other), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    // A delivery is found only under its own endpoint.
    let second = create_endpoint(&app, &key, "https://hooks.example.com/two", json!(["*"])).await;
    let path = format!("/v1/webhooks/{}/deliveries/{delivery_id}", second["id"].as_str().unwrap());
    assert_eq!(app.get(&path, &key).await.0, StatusCode::NOT_FOUND);
    // Patches are checked like creations.
    let (status, _) =
        app.request(Method::PATCH, &format!("/v1/webhooks/{id}"), Some(&key), Some(json!({"url": "ftp://x"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, patched) = app
        .request(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(&key),
            Some(json!({"events": ["panel.failed"], "enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!((patched["status"].as_str(), patched["events"].clone()), (Some("disabled"), json!(["panel.failed"])));
    assert_eq!(app.post(&format!("/v1/webhooks/{id}/test"), &key, json!({})).await.0, StatusCode::CONFLICT);
    // A tenant has at most 20 endpoints.
    for n in 2..20 {
        create_endpoint(&app, &key, &format!("https://hooks.example.com/{n}"), json!(["*"])).await;
    }
    let (status, body) =
        app.post("/v1/webhooks", &key, json!({"url": "https://hooks.example.com/21", "events": ["*"]})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "limit_exceeded", "{body}");
}

#[actix_web::test]
async fn a_claim_whose_lease_ran_out_cannot_record_its_attempt() {
    use askpanel::store::notify::Claim;
    use askpanel::store::webhooks::Attempt;
    // The sender sleeps (nothing wakes it): the test claims by hand.
    let app = spawn_app_with(|s| {
        local_targets(s);
        s.webhooks.poll_interval_ms = 3_600_000;
    })
    .await;
    let store = app.store.clone().expect("the in-process store");
    let (tenant, key) = app.create_tenant("acme", json!({})).await;
    let tenant = askpanel_actors::domain::TenantId(tenant.parse().unwrap());
    let endpoint = create_endpoint(&app, &key, "http://127.0.0.1:9/hooks", json!(["*"])).await;
    let endpoint_id: uuid::Uuid = endpoint["id"].as_str().unwrap().parse().unwrap();
    let now = chrono::Utc::now();
    let event = askpanel::webhooks::WebhookEvent {
        event_type: askpanel::webhooks::TEST_EVENT,
        panel: None,
        at: now,
        data: json!({}),
    };
    let delivery = store.enqueue_delivery(tenant, endpoint_id, &event, now).await.unwrap();
    let first: Vec<Claim> = store.claim_deliveries(now, 1, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(store.claim_deliveries(now, 1, 10).await.unwrap().is_empty(), "held while its lease runs");
    // The lease runs out (on the database's clock too); another node claims it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = store.claim_deliveries(chrono::Utc::now(), 60, 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempts, first[0].attempts + 1);
    let rule = app_rule();
    let fan = askpanel::notify::FanOut {
        mail_enabled: false,
        public_url: String::new(),
        now,
        away_grace: chrono::Duration::zero(),
    };
    let sent = |ok: bool| Attempt {
        at: chrono::Utc::now(),
        status_code: Some(if ok { 200 } else { 500 }),
        duration_ms: 3,
        error: None,
        ok,
        retry_at: None,
    };
    // The first claim's attempt is refused: nothing of it is recorded.
    assert_eq!(store.record_attempt(&first[0], &sent(false), &rule, &fan).await.unwrap(), None);
    assert!(store.record_attempt(&second[0], &sent(true), &rule, &fan).await.unwrap().is_some());
    let stored = store.get_delivery(tenant, delivery.id).await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.last_status), ("delivered", Some(200)));
    assert_eq!(store.delivery_attempts(tenant, delivery.id).await.unwrap().len(), 1);
    let endpoint = store.get_endpoint(tenant, endpoint_id).await.unwrap().unwrap();
    assert_eq!(endpoint.consecutive_failures, 0, "the refused failure did not count");
}

fn app_rule() -> askpanel::webhooks::DisableRule {
    askpanel::webhooks::DisableRule { after_failures: 1, after: Duration::ZERO }
}
