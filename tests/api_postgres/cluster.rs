//! Several server processes on one PostgreSQL and one Redis.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use askpanel::store::postgres::{PgStore, migrate};
use askpanel::store::{Branding, KeyRecord, Role, Store, StoreError, TenantRecord, TenantStatus, Tier};
use askpanel_actors::domain::{KeyId, PanelId, PanelStatus, TenantId};
use askpanel_actors::event::{Event, EventData, SealedEvent};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub struct Node {
    pub child: Child,
    pub app: TestApp,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn redis_base() -> String {
    std::env::var("ASKPANEL_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Fails in CI, skips elsewhere, when Redis cannot be reached.
async fn require_redis(url: &str) {
    let ok = match redis::Client::open(url) {
        Ok(client) => match client.get_multiplexed_async_connection().await {
            Ok(mut c) => redis::cmd("PING").query_async::<String>(&mut c).await.is_ok(),
            Err(_) => false,
        },
        Err(_) => false,
    };
    if !ok {
        if std::env::var("CI").is_ok() {
            panic!("Redis is required in CI and cannot be reached at {url}");
        }
        eprintln!("skipping: Redis cannot be reached at {url}");
        std::process::exit(0);
    }
}

pub struct Cluster {
    pub owner: String,
    pub app_url: String,
    pub redis: String,
    pub prefix: String,
    pub admin_key: String,
}

impl Cluster {
    pub async fn new(redis: Option<String>) -> Cluster {
        let redis = redis.unwrap_or_else(redis_base);
        require_redis(&redis).await;
        let (owner, app_url) = fresh_pg_database().await;
        migrate(&owner).await.unwrap();
        Cluster {
            owner,
            app_url,
            redis,
            prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
            admin_key: askpanel::auth::generate_key(),
        }
    }

    /// Starts a node as a subprocess of the real binary.
    pub async fn node(&self, name: &str) -> Node {
        self.node_with(name, &[]).await
    }

    /// Starts a node with more settings from the environment.
    pub async fn node_with(&self, name: &str, env: &[(&str, &str)]) -> Node {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut child = Command::new(env!("CARGO_BIN_EXE_askpanel"))
            .args([
                "--config",
                concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(&dir)
            .env("ASKPANEL__DATABASE__URL", &self.app_url)
            .env("ASKPANEL__DATABASE__MIGRATION_URL", &self.owner)
            .env("ASKPANEL__REDIS__URL", &self.redis)
            .env("ASKPANEL__REDIS__PREFIX", &self.prefix)
            .env("ASKPANEL__REDIS__NODE_ID", name)
            .env("ASKPANEL__REDIS__LEASE_TTL_MS", "2000")
            .env("ASKPANEL__REDIS__SCAN_EVERY_MS", "300")
            .env("ASKPANEL__AUTH__ADMIN_KEY", &self.admin_key)
            .env("ASKPANEL__SERVER__SHUTDOWN_GRACE_S", "3")
            .env("ASKPANEL__WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
            .envs(env.iter().copied())
            .env("ASKPANEL__LOG__LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(if std::env::var("TEST_LOG").is_ok() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("the server binary starts");
        let address = announced_address(&mut child).await;
        Node { child, app: TestApp::remote(address, self.admin_key.clone()) }
    }
}

fn hybrid_panel() -> Value {
    json!({
        "query": "Should our AI ECG triage device pursue 510(k) or De Novo?",
        "panel_type": "hybrid", "expert_count": 2, "humans": [{"name": "Dr. Lee"}], "max_rounds": 2,
        "human_turn_timeout_s": 120, "simulation": {"seed": 3, "pace_tokens_per_s": 100, "turn_tokens": 20}
    })
}

#[actix_web::test]
async fn clients_on_other_nodes_watch_moderate_and_answer_a_panel_owned_by_one_node() {
    let cluster = Cluster::new(None).await;
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let c = cluster.node("c").await;
    let (_, key) = a.app.create_tenant("acme", json!({})).await;
    let panel = a.app.create_panel(&key, hybrid_panel()).await;
    let id = panel["id"].as_str().unwrap().to_string();
    // Watched from node B.
    let mut watcher = b.app.ws(&key).await;
    watcher.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    // The moderator on node B injects a question; the human on node C answers.
    let first = watcher.until("the human's first turn", |f| is_event(f, "human_turn_requested")).await;
    let member = first.last().unwrap()["data"]["member_id"].as_str().unwrap().to_string();
    let (status, body) = b
        .app
        .post(
            &format!("/v1/panels/{id}/moderate"),
            &key,
            json!({"action": "inject", "text": "Address paediatric use."}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "moderation routed to the owner: {body}");
    let (status, body) = c
        .app
        .post(&format!("/v1/panels/{id}/input"), &key, json!({"member_id": member, "text": "Answered from node C."}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "input routed to the owner: {body}");
    let mut human = c.app.ws(&key).await;
    human.send(json!({"type": "subscribe", "panel_id": id})).await;
    let mut frames = first;
    loop {
        let frame = watcher.next_frame().await;
        let done = is_terminal(&frame);
        if is_event(&frame, "human_turn_requested") {
            human.send(json!({"type": "input", "panel_id": id, "member_id": member, "text": "Second answer, over node C's socket.", "ref": "h2"})).await;
        }
        frames.push(frame);
        if done {
            break;
        }
    }
    let events: Vec<Value> = frames.iter().filter(|f| f["type"] == "event").cloned().collect();
    assert_contiguous(&events, 0);
    assert_eq!(events.last().unwrap()["kind"], "panel_completed");
    assert!(events.iter().any(|e| e["kind"] == "human_input" && e["data"]["text"] == "Answered from node C."));
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "human_input" && e["data"]["text"] == "Second answer, over node C's socket.")
    );
    assert!(events.iter().any(|e| e["kind"] == "moderator_action" && e["data"]["action"] == "inject"));
    assert!(frames.iter().any(|f| f["type"] == "token"), "tokens cross nodes too");
    // Revoking a key on node A closes its sockets on node B.
    let (key_id, viewer) = a.app.create_key(&key, "viewer").await;
    let mut remote = b.app.ws(&viewer).await;
    assert_eq!(
        a.app.request(reqwest::Method::DELETE, &format!("/v1/keys/{key_id}"), Some(&key), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(remote.closed_with().await, Some(1008));
    drop(c);
}

#[actix_web::test]
async fn when_the_owner_is_killed_another_node_takes_its_panels_over_and_they_complete() {
    let cluster = Cluster::new(None).await;
    let mut a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let (_, key) = a.app.create_tenant("acme", json!({})).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let kind = ["structured", "socratic", "delphi", "open"][i];
        let count = if kind == "delphi" { 5 } else { 3 };
        let body = json!({"query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": kind,
                          "expert_count": count, "max_rounds": 2, "simulation": {"seed": i, "pace_tokens_per_s": 40, "turn_tokens": 20}});
        ids.push(a.app.create_panel(&key, body).await["id"].as_str().unwrap().to_string());
    }
    let mut watcher = b.app.ws(&key).await;
    watcher.send(json!({"type": "subscribe", "panel_id": ids[0], "after_seq": 0})).await;
    watcher.until("some progress", |f| is_event(f, "turn_completed")).await;
    a.child.kill().unwrap();
    let killed = std::time::Instant::now();
    let _ = a.child.wait();
    // Node B takes over within the lease (2 s) plus a margin, and the panels finish there.
    b.app
        .wait_panel(&key, &format!("{}?live=true", ids[0]), "progress after the takeover", |p| {
            p["status"] == "completed" || p["current_turn"]["text"].as_str().is_some_and(|t| !t.is_empty())
        })
        .await;
    // A bound on the takeover itself (lease 2 s), loose enough for a loaded CI machine.
    assert!(killed.elapsed() < Duration::from_secs(20), "taken over in {:?}", killed.elapsed());
    for id in &ids {
        let done = b.app.wait_completed(&key, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        let events = b.app.events(&key, id).await;
        assert_contiguous(&events, 0);
        assert_no_turn_twice(&done);
    }
    // The watcher on B saw its panel through to the end, each event once.
    let frames = watcher.until("the end", is_terminal).await;
    let events: Vec<Value> = frames.into_iter().filter(|f| f["type"] == "event").collect();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "no gap or repeat across the takeover: {seqs:?}");
}

#[actix_web::test]
async fn a_stale_owner_cannot_append_after_a_takeover() {
    let (owner, app) = fresh_pg_database().await;
    migrate(&owner).await.unwrap();
    let store = PgStore::open(&app, 2).await.unwrap();
    let now = chrono::Utc::now();
    let tenant = TenantRecord {
        id: TenantId::new(),
        slug: "acme".into(),
        name: "Acme".into(),
        tier: Tier::Starter,
        status: TenantStatus::Active,
        limits: Default::default(),
        branding: Branding {
            display_name: "Acme".into(),
            primary_color: "#000000".into(),
            secondary_color: None,
            logo_url: None,
        },
        created_at: now,
    };
    let key = KeyRecord {
        id: KeyId::new(),
        tenant_id: tenant.id,
        role: Role::Admin,
        name: "a".into(),
        prefix: "p".into(),
        created_at: now,
        revoked_at: None,
        last_used_at: None,
    };
    store.create_tenant(&tenant, &key, "h").await.unwrap();
    // A panel created by node A under epoch 1.
    let members = (0..3)
        .map(|i| askpanel_actors::panel::new::NewMember::Ai {
            expert_id: None,
            profile: askpanel_actors::domain::ExpertProfile {
                member_id: askpanel_actors::domain::MemberId::new(),
                name: format!("Expert {i}"),
                title: String::new(),
                domain: "clinical".into(),
                persona: "A clinician.".into(),
                tags: std::sync::Arc::from([]),
                concerns: std::sync::Arc::from([]),
                stubbornness: 0.4,
                optimism: 0.0,
                model: None,
            },
            team: None,
            role: None,
            selection: None,
            model: "simulated".into(),
        })
        .collect();
    let request = askpanel_actors::panel::new::NewPanel {
        documents: Vec::new(),
        evidence_chars: None,
        parent: None,
        tenant_id: tenant.id,
        created_by: "test".into(),
        query: "A long enough question?".into(),
        panel_type: askpanel_actors::domain::PanelType::Structured,
        members,
        max_rounds: None,
        consensus_method: None,
        human_turn_timeout_s: None,
        base_flow: None,
        simulation: None,
    };
    let (view, setup) = askpanel_actors::panel::new::build_panel(request, PanelId::new()).unwrap();
    let panel = view.id;
    let first = SealedEvent::seal(Event {
        seq: 1,
        ts: now,
        data: EventData::PanelCreated { panel: Box::new(view), setup: Box::new(setup) },
    })
    .unwrap();
    store.create_panel(tenant.id, panel, &first, &Default::default(), 1).await.unwrap();
    let started =
        |seq| vec![SealedEvent::seal(Event { seq, ts: chrono::Utc::now(), data: EventData::PanelStarted {} }).unwrap()];
    store.append_events(tenant.id, panel, &started(2), PanelStatus::Running, 1).await.unwrap();
    // Node B takes the panel over: epoch 2.
    assert_eq!(store.claim_panel(tenant.id, panel).await.unwrap(), 2);
    // Node A, paused past its lease, wakes up and tries to write: fenced.
    let stale = store.append_events(tenant.id, panel, &started(3), PanelStatus::Running, 1).await;
    assert!(matches!(stale, Err(StoreError::Fenced)), "{stale:?}");
    // The new owner writes.
    store.append_events(tenant.id, panel, &started(3), PanelStatus::Running, 2).await.unwrap();
    assert_eq!(store.load_events(tenant.id, panel).await.unwrap().len(), 3);
}

#[actix_web::test]
async fn requests_spread_over_two_nodes_are_rate_limited_as_one() {
    let cluster = Cluster::new(None).await;
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let (_, key) = a.app.create_tenant("acme", json!({"requests_per_minute": 10})).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(node.app.get("/v1/tenant", &key).await.0);
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    // A minute boundary may fall inside the run; otherwise exactly ten pass.
    assert!(ok <= 10 + 2 && limited >= 1, "{statuses:?}");
    assert_eq!(a.app.get("/readyz", &key).await.0, StatusCode::OK);
}

#[actix_web::test]
async fn a_redis_restart_mid_panel_loses_nothing() {
    // A Redis of this test's own, so restarting it disturbs no other test.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let start_redis = || {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts")
    };
    let mut redis = start_redis();
    let url = format!("redis://127.0.0.1:{port}");
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cluster = Cluster::new(Some(url)).await;
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let (_, key) = a.app.create_tenant("acme", json!({})).await;
    let body = json!({"query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": "structured", "expert_count": 3, "max_rounds": 3,
                      "simulation": {"seed": 9, "pace_tokens_per_s": 30, "turn_tokens": 30}});
    let id = a.app.create_panel(&key, body).await["id"].as_str().unwrap().to_string();
    let mut watcher = b.app.ws(&key).await;
    watcher.send(json!({"type": "subscribe", "panel_id": id, "after_seq": 0})).await;
    let mut seen: Vec<Value> = watcher
        .until("some progress", |f| is_event(f, "turn_completed"))
        .await
        .into_iter()
        .filter(|f| f["type"] == "event")
        .collect();
    redis.kill().unwrap();
    let _ = redis.wait();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut redis = start_redis();
    // The client is told to catch up (or simply keeps receiving); it resumes with after_seq.
    let mut lagged = 0;
    loop {
        let frame = watcher.next_frame().await;
        match frame["type"].as_str() {
            Some("event") => {
                let seq = frame["seq"].as_u64().unwrap();
                if seq == seen.len() as u64 + 1 {
                    let terminal = is_terminal(&frame);
                    seen.push(frame);
                    if terminal {
                        break;
                    }
                } else {
                    assert!(seq > seen.len() as u64, "no repeats");
                }
            }
            Some("lagged") => {
                lagged += 1;
                watcher.send(json!({"type": "subscribe", "panel_id": id, "after_seq": seen.len()})).await;
            }
            _ => {}
        }
    }
    assert_contiguous(&seen, 0);
    assert_eq!(seen.last().unwrap()["kind"], "panel_completed");
    assert_eq!(b.app.events(&key, &id).await.len(), seen.len(), "nothing lost");
    let _ = lagged;
    redis.kill().unwrap();
    let _ = redis.wait();
}

#[actix_web::test]
async fn an_owner_frozen_past_its_lease_wakes_up_fenced_and_the_panels_finish_once_on_the_other_node() {
    let cluster = Cluster::new(None).await;
    let mut a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let (_, key) = a.app.create_tenant("acme", json!({})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": "structured",
                          "expert_count": 3, "max_rounds": 2, "simulation": {"seed": i, "pace_tokens_per_s": 40, "turn_tokens": 20}});
        ids.push(a.app.create_panel(&key, body).await["id"].as_str().unwrap().to_string());
    }
    let mut watcher = b.app.ws(&key).await;
    watcher.send(json!({"type": "subscribe", "panel_id": ids[0], "after_seq": 0})).await;
    watcher.until("some progress", |f| is_event(f, "turn_completed")).await;
    // Freeze node A (a long GC pause, a stalled VM) well past its 2 s lease, then let it run again.
    let pid = a.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    b.app
        .wait_panel(&key, &format!("{}?live=true", ids[0]), "the takeover by B", |p| {
            p["status"] == "completed" || p["current_turn"]["text"].as_str().is_some_and(|t| !t.is_empty())
        })
        .await;
    assert!(std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap().success());
    for id in &ids {
        let done = b.app.wait_completed(&key, id).await;
        assert_eq!(done["status"], "completed", "{done}");
        let events = b.app.events(&key, id).await;
        assert_contiguous(&events, 0);
        assert_eq!(events.iter().filter(|e| ends_panel(e)).count(), 1, "one end");
        assert_no_turn_twice(&done);
    }
    // A woke up, found its leases gone, and stopped without writing; it still serves.
    assert_eq!(a.app.request(reqwest::Method::GET, "/healthz", None, None).await.0, reqwest::StatusCode::OK);
    let frames = watcher.until("the end", is_terminal).await;
    let seqs: Vec<u64> = frames.iter().filter(|f| f["type"] == "event").map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "no gap or repeat across the freeze: {seqs:?}");
    let _ = a.child.kill();
    let _ = a.child.wait();
}

#[actix_web::test]
async fn simultaneous_creates_on_three_nodes_never_pass_the_concurrency_limit() {
    let cluster = Cluster::new(None).await;
    let nodes = [cluster.node("a").await, cluster.node("b").await, cluster.node("c").await];
    let (_, key) = nodes[0].app.create_tenant("acme", json!({"max_concurrent_panels": 2})).await;
    // Slow panels: they are all still running when the last create arrives.
    let body = json!({"query": "Should our AI ECG triage device pursue 510(k) or De Novo?", "panel_type": "structured",
                      "expert_count": 3, "max_rounds": 3, "simulation": {"seed": 3, "pace_tokens_per_s": 5, "turn_tokens": 60}});
    let creates = nodes.iter().flat_map(|node| {
        (0..3).map(|_| {
            let request = node.app.client.post(node.app.url("/v1/panels")).bearer_auth(&key).json(&body);
            async move { request.send().await.unwrap().status() }
        })
    });
    let statuses = futures::future::join_all(creates).await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    assert_eq!(created, 2, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

/// A Redis of the test's own on a free port (stopping it disturbs no other
/// test), once it accepts connections.
fn own_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `/readyz` until its status is `want`; returns the last body.
async fn readyz_becomes(app: &TestApp, want: StatusCode) -> Value {
    let mut last = (StatusCode::OK, Value::Null);
    for _ in 0..100 {
        last = app.request(reqwest::Method::GET, "/readyz", None, None).await;
        if last.0 == want {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("/readyz stayed {} ({}), expected {want}", last.0, last.1);
}

#[actix_web::test]
async fn readyz_follows_a_redis_that_stops_and_comes_back() {
    let port = free_port();
    let mut redis = own_redis(port);
    let url = format!("redis://127.0.0.1:{port}");
    require_redis(&url).await;
    let cluster = Cluster::new(Some(url)).await;
    let a = cluster.node("a").await;
    let body = readyz_becomes(&a.app, StatusCode::OK).await;
    assert_eq!((body["database"].as_bool(), body["redis"].as_bool()), (Some(true), Some(true)), "{body}");
    redis.kill().unwrap();
    let _ = redis.wait();
    let body = readyz_becomes(&a.app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!((body["database"].as_bool(), body["redis"].as_bool()), (Some(true), Some(false)), "{body}");
    let mut redis = own_redis(port);
    let body = readyz_becomes(&a.app, StatusCode::OK).await;
    assert_eq!(body["redis"], true, "{body}");
    redis.kill().unwrap();
    let _ = redis.wait();
}

/// A PostgreSQL cluster of the test's own (initdb as the postgres user), so
/// that stopping it disturbs no other test.
struct OwnPostgres {
    data: std::path::PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn bin(name: &str) -> std::path::PathBuf {
        let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
            .filter(|p| p.exists())
            .collect();
        versions.sort();
        versions.pop().unwrap_or_else(|| panic!("{name} not found"))
    }

    fn run_as_postgres(args: &[&str]) {
        let status = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("runuser runs");
        assert!(status.success(), "{args:?} failed");
    }

    fn init() -> OwnPostgres {
        let root = tempfile::tempdir().unwrap().keep();
        let data = root.join("data");
        Command::new("chown").args(["-R", "postgres:postgres"]).arg(&root).status().expect("chown");
        let initdb = Self::bin("initdb");
        Self::run_as_postgres(&[
            initdb.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        let own = OwnPostgres { data, port: free_port() };
        own.start();
        own
    }

    fn pg_ctl(&self, args: &[&str]) {
        let pg_ctl = Self::bin("pg_ctl");
        let mut all = vec![pg_ctl.to_str().unwrap(), "-D", self.data.to_str().unwrap(), "-w"];
        all.extend_from_slice(args);
        Self::run_as_postgres(&all);
    }

    fn start(&self) {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.data.display());
        let log = self.data.join("server.log");
        self.pg_ctl(&["-o", &options, "-l", log.to_str().unwrap(), "start"]);
    }

    fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let pg_ctl = Self::bin("pg_ctl");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_ctl)
            .args(["-D", self.data.to_str().unwrap_or_default(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[actix_web::test]
async fn readyz_follows_a_postgresql_that_stops_and_comes_back() {
    let postgres = OwnPostgres::init();
    let base = format!("postgres://postgres@127.0.0.1:{}", postgres.port);
    {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres")).await.expect("own PostgreSQL answers");
        sqlx::query("CREATE DATABASE askpanel").execute(&mut admin).await.unwrap();
    }
    let owner = format!("{base}/askpanel");
    migrate(&owner).await.unwrap();
    let redis = redis_base();
    require_redis(&redis).await;
    let cluster = Cluster {
        app_url: owner.replacen("postgres://postgres@", "postgres://askpanel_app@", 1),
        owner,
        redis,
        prefix: format!("t{}", uuid::Uuid::new_v4().simple()),
        admin_key: askpanel::auth::generate_key(),
    };
    let a = cluster.node("a").await;
    let body = readyz_becomes(&a.app, StatusCode::OK).await;
    assert_eq!(body["database"], true, "{body}");
    postgres.stop();
    let body = readyz_becomes(&a.app, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!((body["database"].as_bool(), body["redis"].as_bool()), (Some(false), Some(true)), "{body}");
    postgres.start();
    let body = readyz_becomes(&a.app, StatusCode::OK).await;
    assert_eq!(body["database"], true, "{body}");
}

/// Polls `path` with a cookie on a node until it answers `want` (at most 2 s:
/// less than a node's 5 s session cache, so passing means the change was told).
async fn answers_within_2s(app: &TestApp, cookie: &str, want: StatusCode) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (status, _, _) = crate::accounts::call(app, reqwest::Method::GET, "/v1/me", cookie, None, None).await;
        if status == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {status}, not {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_session_and_its_csrf_token_work_on_every_node_and_ending_it_ends_it_everywhere() {
    use reqwest::Method;
    let cluster = Cluster::new(None).await;
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let (tenant, _) = a.app.create_tenant("acme", json!({})).await;
    let ada = crate::accounts::add_person(&a.app, &tenant, "acme", "ada@acme.test", "admin").await;
    let bo = crate::accounts::add_person(&b.app, &tenant, "acme", "bo@acme.test", "member").await;

    // Signed in on node A; node B knows the session and checks its CSRF token.
    let key = json!({"role": "viewer", "name": "from b"});
    let (status, _, _) =
        crate::accounts::call(&b.app, Method::POST, "/v1/keys", &ada.cookie, None, Some(key.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(ada.send(&b.app, Method::POST, "/v1/keys", Some(key)).await.0, StatusCode::CREATED);

    // A role changed on node A holds on node B at once (B has the session cached).
    assert_eq!(
        bo.send(&b.app, Method::POST, "/v1/panels", Some(paced("structured", 0.0))).await.0,
        StatusCode::CREATED
    );
    let path = format!("/v1/users/{}", bo.user_id);
    assert_eq!(ada.send(&a.app, Method::PATCH, &path, Some(json!({"role": "viewer"}))).await.0, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while bo.send(&b.app, Method::POST, "/v1/panels", Some(paced("structured", 0.0))).await.0 != StatusCode::FORBIDDEN {
        assert!(tokio::time::Instant::now() < deadline, "the new role did not reach node B");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A socket on node B from a token made on node A; signing out on A closes it and ends the session on B.
    let (_, token) = ada.send(&a.app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
    let mut ws =
        b.app.ws_url(&format!("ws://{}/v1/ws?token={}", b.app.address, token["token"].as_str().unwrap())).await;
    answers_within_2s(&b.app, &ada.cookie, StatusCode::OK).await;
    assert_eq!(ada.send(&a.app, Method::POST, "/v1/auth/sign-out", None).await.0, StatusCode::NO_CONTENT);
    answers_within_2s(&b.app, &ada.cookie, StatusCode::UNAUTHORIZED).await;
    assert_eq!(ws.closed_with().await, Some(1008));
}

#[actix_web::test]
async fn presence_is_the_same_on_every_node() {
    let cluster = Cluster::new(None).await;
    let a = cluster.node("a").await;
    let b = cluster.node("b").await;
    let (tenant, key) = a.app.create_tenant("acme", json!({})).await;
    let ada = crate::accounts::add_person(&a.app, &tenant, "acme", "ada@acme.test", "member").await;
    let panel = a.app.create_panel(&key, crate::presence::hybrid_for(&ada.user_id)).await;
    let id = panel["id"].as_str().unwrap().to_string();
    let seat = panel["members"].as_array().unwrap().iter().find(|m| m["kind"] == "human").unwrap()["id"].clone();

    let mut on_a = a.app.ws(&key).await;
    on_a.send(json!({"type": "subscribe", "panel_id": id})).await;
    on_a.until("subscribed", |f| f["type"] == "subscribed").await;
    let (_, token) = ada.send(&b.app, reqwest::Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
    let mut on_b =
        b.app.ws_url(&format!("ws://{}/v1/ws?token={}", b.app.address, token["token"].as_str().unwrap())).await;
    on_b.send(json!({"type": "subscribe", "panel_id": id})).await;
    let subscribed = on_b.until("subscribed", |f| f["type"] == "subscribed").await.pop().unwrap();
    // Node B's snapshot already counts the watcher on node A.
    assert_eq!(subscribed["snapshot"]["presence"]["viewers_total"], 2, "{}", subscribed["snapshot"]["presence"]);

    // Node A's watcher sees Ada (on node B) arrive with her seat connected, then leave.
    let seen = crate::presence::presence_until(&mut on_a, "Ada on node B", |f| f["viewers_total"] == 2).await;
    assert_eq!(seen["members_connected"], json!([seat]), "{seen}");
    drop(on_b);
    let left = crate::presence::presence_until(&mut on_a, "Ada gone", |f| f["viewers_total"] == 1).await;
    assert_eq!(left["members_connected"], json!([]), "{left}");
}

#[actix_web::test]
async fn three_nodes_deliver_each_webhook_once_and_tell_a_person_on_another_node() {
    use reqwest::Method;
    let cluster = Cluster::new(None).await;
    let a = cluster.node("a").await;
    // Node B announces nothing (its announcer looks once an hour): what its
    // socket is told comes from the other nodes. Nodes A and C both announce
    // and all three send webhooks.
    let b = cluster.node_with("b", &[("ASKPANEL__NOTIFICATIONS__ANNOUNCE_INTERVAL_MS", "3600000")]).await;
    let _c = cluster.node("c").await;
    let (tenant, key) = a.app.create_tenant("acme", json!({})).await;
    let ada = crate::accounts::add_person(&a.app, &tenant, "acme", "ada@acme.test", "member").await;
    let receiver = crate::receiver::Receiver::start().await;
    let endpoint = crate::webhooks::create_endpoint(&b.app, &key, &receiver.url, json!(["*"])).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    // Ada's socket is on node B; the panels are created on node A (and run there).
    let (_, token) = ada.send(&b.app, Method::POST, "/v1/ws-tokens", Some(json!({}))).await;
    let mut ws =
        b.app.ws_url(&format!("ws://{}/v1/ws?token={}", b.app.address, token["token"].as_str().unwrap())).await;
    let mut ids = Vec::new();
    for seed in 0..4 {
        let mut body = crate::presence::hybrid_for(&ada.user_id);
        body["simulation"] = json!({"seed": seed, "pace_tokens_per_s": 0, "turn_tokens": 15});
        body["max_rounds"] = json!(1);
        body["human_turn_timeout_s"] = json!(5);
        ids.push(a.app.create_panel(&key, body).await["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        a.app.wait_completed(&key, id).await;
    }
    // Every seat and every end reaches her socket on node B from the node that announced it.
    let wanted = |f: &Value, kind: &str, id: &str| {
        f["type"] == "notification" && f["notification"]["kind"] == kind && f["notification"]["panel_id"] == id
    };
    let mut frames = Vec::new();
    for id in &ids {
        for kind in ["panel_seat", "panel_completed"] {
            if !frames.iter().any(|f| wanted(f, kind, id)) {
                frames.extend(ws.until(kind, |f| wanted(f, kind, id)).await);
            }
        }
    }
    // Every webhook event of every panel arrives once, signed, though both nodes send.
    for id in &ids {
        let expected = crate::webhooks::expected_from_log(&a.app.events(&key, id).await);
        receiver
            .wait("every event of the panel", |all| {
                let seen: std::collections::BTreeSet<(String, u64)> = all
                    .iter()
                    .filter(|r| r.json()["data"]["panel_id"] == id.as_str())
                    .map(|r| (r.event_type(), r.json()["data"]["seq"].as_u64().unwrap()))
                    .collect();
                seen == expected
            })
            .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let all = receiver.all();
    let mut keys: Vec<(String, String, u64)> = all
        .iter()
        .map(|r| {
            (
                r.json()["data"]["panel_id"].as_str().unwrap().to_string(),
                r.event_type(),
                r.json()["data"]["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), total, "no event twice across the nodes");
    let mut message_ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    message_ids.sort();
    message_ids.dedup();
    assert_eq!(message_ids.len(), total, "no message twice");
    assert!(all.iter().all(|r| r.signed_with(&secret)));
}
