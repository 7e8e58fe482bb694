//! `spawn_app`: the real server on port 0 with a fresh SQLite database, and
//! clients for HTTP and WebSocket. Every wait has a timeout.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use askpanel::configuration::Settings;
use askpanel::startup::{Application, Paths};
use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(20);

/// Which database the suite runs on (each test crate says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// PostgreSQL of this machine kind (trust auth); override with ASKPANEL_TEST_PG.
pub fn pg_base() -> String {
    std::env::var("ASKPANEL_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh database for one test: (owner URL, application URL). When
/// PostgreSQL cannot be reached the test fails in CI and the suite is
/// skipped elsewhere.
pub async fn fresh_pg_database() -> (String, String) {
    use sqlx::Connection;
    let base = pg_base();
    let admin = match sqlx::PgConnection::connect(&format!("{base}/test")).await {
        Ok(c) => c,
        Err(e) => {
            if std::env::var("CI").is_ok() {
                panic!("PostgreSQL is required in CI and cannot be reached at {base}: {e}");
            }
            eprintln!("skipping the PostgreSQL suite: PostgreSQL cannot be reached at {base} ({e})");
            std::process::exit(0);
        }
    };
    let mut admin = admin;
    let now = chrono::Utc::now().timestamp();
    // Databases of earlier runs, best effort (one still in use is left alone).
    let old: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'askpanel_t_%'")
        .fetch_all(&mut admin)
        .await
        .unwrap_or_default();
    for name in old {
        let born: i64 = name.split('_').nth(2).and_then(|t| t.parse().ok()).unwrap_or(now);
        if now - born > 1800 {
            let _ =
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut admin).await;
        }
    }
    let name = format!("askpanel_t_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let owner = format!("{base}/{name}");
    let app = owner.replacen("postgres://postgres@", "postgres://askpanel_app@", 1);
    (owner, app)
}

pub struct TestApp {
    pub address: String,
    /// The in-process server's store, for storage fault injection.
    #[allow(dead_code)]
    pub store: Option<std::sync::Arc<dyn askpanel::store::Store>>,
    pub admin_key: String,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    running: Option<actix_web::rt::task::JoinHandle<anyhow::Result<()>>>,
}

fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

pub fn test_settings(data_dir: &std::path::Path, admin_key: &str) -> Settings {
    let mut settings = Settings::load(&config_dir()).expect("settings load");
    settings.server.bind = "127.0.0.1:0".into();
    settings.server.data_dir = data_dir.to_path_buf();
    settings.server.workers = 2;
    settings.server.shutdown_grace_s = 5;
    settings.server.announce = false;
    settings.database.url = String::new();
    settings.auth.admin_key = admin_key.to_string();
    settings.engine.arbiters = 2;
    settings.engine.restart_backoff_ms = 20;
    // The PDF extractor is this package's binary (the test binary is not it).
    settings.documents.extractor = env!("CARGO_BIN_EXE_askpanel").into();
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let mut app = start(path, askpanel::auth::generate_key(), adjust).await;
    app._dir = Some(dir);
    app
}

/// Starts (or restarts) a server on an existing data directory.
pub async fn start(data_dir: PathBuf, admin_key: String, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        askpanel::telemetry::init("pretty", "info");
    }
    let mut settings = test_settings(&data_dir, &admin_key);
    if crate::BACKEND == Backend::Postgres {
        // The database outlives a restart: it is named after the data directory.
        let marker = data_dir.join("pg-database");
        let (owner, app) = match std::fs::read_to_string(&marker) {
            Ok(text) => {
                let (owner, app) = text.split_once('\n').expect("two urls");
                (owner.to_string(), app.to_string())
            }
            Err(_) => {
                let urls = fresh_pg_database().await;
                std::fs::write(&marker, format!("{}\n{}", urls.0, urls.1)).unwrap();
                urls
            }
        };
        settings.database.url = app;
        settings.database.migration_url = owner;
        settings.database.max_connections = 6;
    }
    adjust(&mut settings);
    let app = Application::build(settings, Paths { config_dir: config_dir() }).await.expect("app builds");
    let address = format!("127.0.0.1:{}", app.port());
    let store = Some(app.state().store.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = actix_web::rt::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        store,
        admin_key,
        client: reqwest::Client::new(),
        data_dir,
        _dir: None,
        stop: Some(stop),
        running: Some(running),
    }
}

impl TestApp {
    /// A client for a server running elsewhere (a subprocess).
    pub fn remote(address: String, admin_key: String) -> TestApp {
        TestApp {
            address,
            store: None,
            admin_key,
            client: reqwest::Client::new(),
            data_dir: PathBuf::new(),
            _dir: None,
            stop: None,
            running: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Stops the server gracefully and waits for it; the data directory stays.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(30), running)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server ran");
        }
    }

    /// Stops this server and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Stops this server and starts a new one on the same database, with
    /// settings adjusted as given.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        self.stop().await;
        let dir = self._dir.take();
        let mut next = start(self.data_dir.clone(), self.admin_key.clone(), adjust).await;
        next._dir = dir;
        next
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response =
            tokio::time::timeout(WAIT, request.send()).await.expect("request in time").expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body");
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(key), Some(body)).await
    }

    /// A new tenant; returns (tenant id, admin key).
    pub async fn create_tenant(&self, slug: &str, limits: Value) -> (String, String) {
        let (status, body) = self
            .request(
                Method::POST,
                "/v1/admin/tenants",
                Some(&self.admin_key.clone()),
                Some(json!({"slug": slug, "name": slug, "tier": "professional", "limits": limits})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["id"].as_str().unwrap().to_string(), body["api_key"]["key"].as_str().unwrap().to_string())
    }

    /// A key with a role; returns (key id, key).
    pub async fn create_key(&self, admin: &str, role: &str) -> (String, String) {
        let (status, body) = self.post("/v1/keys", admin, json!({"role": role, "name": format!("{role} key")})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["id"].as_str().unwrap().to_string(), body["key"].as_str().unwrap().to_string())
    }

    pub async fn create_panel(&self, key: &str, body: Value) -> Value {
        let (status, panel) = self.post("/v1/panels", key, body).await;
        assert_eq!(status, StatusCode::CREATED, "{panel}");
        panel
    }

    /// Polls a panel until `done` holds.
    pub async fn wait_panel(&self, key: &str, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, panel) = self.get(&format!("/v1/panels/{id}"), key).await;
            assert_eq!(status, StatusCode::OK, "{panel}");
            if done(&panel) {
                return panel;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {panel}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_completed(&self, key: &str, id: &str) -> Value {
        self.wait_panel(key, id, "the panel's end", |p| {
            matches!(p["status"].as_str(), Some("completed" | "failed" | "cancelled"))
        })
        .await
    }

    /// All durable events of a panel, via the REST endpoint.
    pub async fn events(&self, key: &str, id: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let (status, body) = self.get(&format!("/v1/panels/{id}/events?after={after}&limit=1000"), key).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let page = body["events"].as_array().unwrap().clone();
            if page.is_empty() {
                return all;
            }
            after = page.last().unwrap()["seq"].as_u64().unwrap();
            all.extend(page);
        }
    }

    pub async fn ws(&self, key: &str) -> Ws {
        let (status, body) = self.post("/v1/ws-tokens", key, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let token = body["token"].as_str().unwrap();
        self.ws_url(&format!("ws://{}/v1/ws?token={token}", self.address)).await
    }

    pub async fn ws_url(&self, url: &str) -> Ws {
        let (stream, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("ws connects in time")
            .expect("ws upgrade");
        Ws { stream }
    }
}

/// The real server binary as a subprocess.
pub struct Server {
    pub child: Child,
    pub app: TestApp,
}

/// Starts `askpanel serve` on port 0 (with `env` on top of the test
/// settings) and reads its address from stdout.
pub async fn start_binary(data_dir: &Path, admin_key: &str, env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_askpanel"));
    if crate::BACKEND == Backend::Postgres {
        let marker = data_dir.join("pg-database");
        let text = match std::fs::read_to_string(&marker) {
            Ok(text) => text,
            Err(_) => {
                let (owner, app) = fresh_pg_database().await;
                let text = format!("{owner}\n{app}");
                std::fs::write(&marker, &text).unwrap();
                text
            }
        };
        let (owner, app) = text.split_once('\n').unwrap();
        command.env("ASKPANEL__DATABASE__URL", app).env("ASKPANEL__DATABASE__MIGRATION_URL", owner);
    }
    command.envs(env.iter().copied());
    let mut child = command
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("ASKPANEL__AUTH__ADMIN_KEY", admin_key)
        .env("ASKPANEL__SERVER__SHUTDOWN_GRACE_S", "5")
        .env("ASKPANEL__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let address = announced_address(&mut child).await;
    let app = TestApp::remote(address, admin_key.to_string());
    Server { child, app }
}

/// Reads a started server's stdout (piped) up to its `listening on` line and
/// returns the address; the rest is drained so it never blocks on the pipe.
pub async fn announced_address(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout is piped");
    let address = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|l| l.strip_prefix("listening on http://").map(str::to_string));
        std::thread::spawn(move || for _ in lines {});
        address
    });
    tokio::time::timeout(Duration::from_secs(30), address)
        .await
        .expect("the server announces itself")
        .unwrap()
        .expect("listening line")
}

/// A gauge or counter from the server's `/metrics`.
#[allow(dead_code)] // not every suite that includes these helpers reads metrics
pub async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app.request(Method::GET, "/metrics", None, None).await.1;
    let prefix = format!("{name} ");
    text.as_str()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix(prefix.as_str())))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in /metrics"))
}

pub fn structured(seed: u64) -> Value {
    json!({
        "query": "Should our AI ECG triage device pursue 510(k) or De Novo?",
        "panel_type": "structured",
        "expert_count": 3,
        "simulation": {"seed": seed, "pace_tokens_per_s": 0, "turn_tokens": 30}
    })
}

pub fn paced(panel_type: &str, pace: f64) -> Value {
    let count = match panel_type {
        "delphi" => 5,
        "adversarial" => 4,
        _ => 3,
    };
    json!({
        "query": "Should our AI ECG triage device pursue 510(k) or De Novo?",
        "panel_type": panel_type,
        "expert_count": count,
        "simulation": {"seed": 2, "pace_tokens_per_s": pace, "turn_tokens": 20}
    })
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a socket ended, when it did.
#[derive(Debug, PartialEq)]
pub enum Next {
    Frame(Value),
    Closed(Option<u16>),
}

impl Ws {
    pub async fn send(&mut self, frame: Value) {
        self.stream.send(Message::text(frame.to_string())).await.expect("ws send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("ws send");
    }

    /// The next JSON frame or the close, within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Next> {
        loop {
            let message = match tokio::time::timeout(timeout, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Next::Closed(None)),
                Ok(Some(Err(_))) => return Some(Next::Closed(None)),
                Ok(Some(Ok(m))) => m,
            };
            match message {
                Message::Text(text) => {
                    return Some(Next::Frame(serde_json::from_str(&text).expect("server frames are JSON")));
                }
                Message::Close(frame) => return Some(Next::Closed(frame.map(|f| u16::from(f.code)))),
                _ => continue,
            }
        }
    }

    pub async fn next_frame(&mut self) -> Value {
        match self.next_within(WAIT).await {
            Some(Next::Frame(v)) => v,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// Frames until one matches `done` (inclusive).
    pub async fn until(&mut self, what: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            match self.next_within(WAIT).await {
                Some(Next::Frame(v)) => {
                    let stop = done(&v);
                    frames.push(v);
                    if stop {
                        return frames;
                    }
                }
                other => panic!("waiting for {what}, got {other:?} after {} frames", frames.len()),
            }
        }
    }

    /// Frames until each of `wanted` has matched some frame, in any order:
    /// for replies whose order the protocol leaves open (an `ack` and the
    /// events its command caused travel on different paths).
    pub async fn until_each(&mut self, what: &str, wanted: &[&dyn Fn(&Value) -> bool]) -> Vec<Value> {
        let mut seen = vec![false; wanted.len()];
        let mut frames = Vec::new();
        while seen.iter().any(|s| !s) {
            match self.next_within(WAIT).await {
                Some(Next::Frame(v)) => {
                    for (found, wants) in seen.iter_mut().zip(wanted) {
                        *found |= wants(&v);
                    }
                    frames.push(v);
                }
                other => panic!("waiting for {what}, got {other:?} after {} frames", frames.len()),
            }
        }
        frames
    }

    /// Waits for the close code.
    pub async fn closed_with(&mut self) -> Option<u16> {
        loop {
            match self.next_within(WAIT).await {
                Some(Next::Closed(code)) => return code,
                Some(Next::Frame(_)) => continue,
                None => panic!("the socket did not close in time"),
            }
        }
    }
}

pub fn is_event(frame: &Value, kind: &str) -> bool {
    frame["type"] == "event" && frame["kind"] == kind
}

pub fn is_terminal(frame: &Value) -> bool {
    frame["type"] == "event" && ends_panel(frame)
}

/// Whether an event (a frame or a logged event) is one that ends its panel.
pub fn ends_panel(event: &Value) -> bool {
    matches!(event["kind"].as_str(), Some("panel_completed" | "panel_failed" | "panel_cancelled"))
}

/// Checks that no member has two turns in one round of a panel.
pub fn assert_no_turn_twice(panel: &Value) {
    for round in panel["rounds"].as_array().unwrap() {
        let mut speakers: Vec<&str> =
            round["turns"].as_array().unwrap().iter().map(|t| t["member_id"].as_str().unwrap()).collect();
        let n = speakers.len();
        speakers.sort();
        speakers.dedup();
        assert_eq!(speakers.len(), n, "no turn recorded twice: {panel}");
    }
}

/// Checks seqs rise by one without gaps from `from + 1`.
pub fn assert_contiguous(events: &[Value], from: u64) {
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (from + 1..=from + seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "seq rises by one without gaps or repeats");
}

/// Checks that each completed turn's token frames rebuild its text exactly.
pub fn assert_tokens_rebuild(frames: &[Value]) {
    use std::collections::HashMap;
    let mut texts: HashMap<u64, String> = HashMap::new();
    let mut open: HashMap<String, u64> = HashMap::new();
    let mut checked = 0;
    for frame in frames {
        match frame["type"].as_str() {
            // A socket that joined mid-turn has the text so far in the snapshot.
            Some("subscribed") => {
                let turn = &frame["snapshot"]["current_turn"];
                if let Some(seq) = turn["turn_seq"].as_u64() {
                    texts.insert(seq, turn["text"].as_str().unwrap_or_default().to_string());
                    open.insert(turn["member_id"].as_str().unwrap().to_string(), seq);
                }
            }
            Some("token") => {
                let turn = frame["turn_seq"].as_u64().unwrap();
                let text = texts.entry(turn).or_default();
                assert_eq!(
                    frame["offset"].as_u64().unwrap() as usize,
                    text.chars().count(),
                    "token offsets are contiguous"
                );
                text.push_str(frame["delta"].as_str().unwrap());
            }
            Some("event") if frame["kind"] == "turn_started" => {
                open.insert(frame["data"]["member_id"].as_str().unwrap().to_string(), frame["seq"].as_u64().unwrap());
            }
            Some("event") if frame["kind"] == "turn_completed" => {
                let member = frame["data"]["member_id"].as_str().unwrap();
                if let Some(turn) = open.remove(member) {
                    let rebuilt = texts.get(&turn).map(String::as_str).unwrap_or("");
                    if rebuilt != frame["data"]["text"].as_str().unwrap() {
                        let trail: Vec<String> = frames
                            .iter()
                            .filter(|f| f["type"] != "token" || f["turn_seq"] == turn)
                            .map(|f| format!("{} {} {} {}", f["type"], f["kind"], f["seq"], f["offset"]))
                            .collect();
                        panic!(
                            "tokens rebuild the turn {turn}:\n rebuilt {rebuilt:?}\n final   {:?}\n frames {trail:?}",
                            frame["data"]["text"]
                        );
                    }
                    checked += 1;
                }
            }
            _ => {}
        }
    }
    assert!(checked > 0, "at least one turn was checked");
}
