//! `askpanel-loadtest`: drives a running askpanel server through its public
//! API only (HTTP + WebSocket). It creates tenants with the platform admin
//! key, starts N panels concurrently, attaches S WebSocket subscribers per
//! panel, answers hybrid panels' human turns, checks delivery as it goes
//! (every durable event exactly once and in order, token offsets rebuilding
//! each turn), and reports a table and, last, one JSON line.

#![deny(unsafe_code)]

// Shared with the other benches; the WebSocket token helper is used (by `tokens`).
#[allow(dead_code)]
mod corpus;
mod stats;
mod subscriber;
mod tokens;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use stats::{HttpLatency, Report, percentiles};
use subscriber::{Outcome, Subscriber};
use tokens::Tokens;

/// Sockets opened with one key (the server's default cap is 1000).
const SOCKETS_PER_KEY: usize = 500;

const TYPES: [&str; 6] = ["structured", "open", "socratic", "adversarial", "delphi", "hybrid"];

#[derive(Parser, Debug, Clone)]
#[command(name = "askpanel-loadtest", about = "Load test a running askpanel server through its public API")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// The platform admin key.
    #[arg(long)]
    admin_key: String,
    #[arg(long, default_value_t = 50)]
    panels: usize,
    /// WebSocket subscribers per panel.
    #[arg(long, default_value_t = 2)]
    subscribers: usize,
    /// structured|open|socratic|adversarial|delphi|hybrid|mix
    #[arg(long = "type", default_value = "structured")]
    panel_type: String,
    /// AI experts per panel (clamped to each type's bounds).
    #[arg(long, default_value_t = 5)]
    experts: usize,
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    #[arg(long, default_value_t = 200)]
    turn_tokens: u32,
    /// Simulated tokens per second (0 = instant).
    #[arg(long, default_value_t = 0.0)]
    pace: f64,
    /// Words per streamed delta (the panel's `simulation.words_per_delta`;
    /// 1 is one frame per token, as peers' one-token callbacks). Unset: the
    /// server's default (1 when paced, 8 when instant).
    #[arg(long)]
    words_per_delta: Option<u32>,
    #[arg(long, default_value_t = 1)]
    tenants: usize,
    /// The run ends by itself after this long.
    #[arg(long, default_value_t = 600)]
    duration_s: u64,
    /// Panel creations in flight at once.
    #[arg(long, default_value_t = 32)]
    create_concurrency: usize,
    /// WebSocket connects in flight at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// GET /v1/panels/{id} requests per second while panels run (0 = none).
    #[arg(long, default_value_t = 20.0)]
    get_rate: f64,
    /// Exit with status 1 if any event was lost, duplicated or reordered, a
    /// turn's tokens did not rebuild its text, or a panel did not complete
    /// (timings never fail a run).
    #[arg(long, default_value_t = false)]
    check: bool,
}

struct Tenant {
    key: String,
}

#[derive(Default)]
struct Shared {
    create_ms: Vec<f32>,
    get_ms: Vec<f32>,
    errors: BTreeMap<String, u64>,
    peak_rss: f64,
}

fn error(shared: &Mutex<Shared>, kind: impl Into<String>) {
    let kind: String = kind.into();
    if std::env::var("LOADTEST_VERBOSE").is_ok() {
        eprintln!("error: {kind}");
    }
    // Keep the kind short and stable: the part before any detail.
    let kind = kind.split(':').next().unwrap_or("error").to_string();
    *shared.lock().unwrap().errors.entry(kind).or_default() += 1;
}

fn panel_body(args: &Args, panel_type: &str, index: usize) -> Value {
    let (min, max) = match panel_type {
        "structured" | "socratic" => (3, 8),
        "open" => (3, 12),
        "adversarial" => (4, 10),
        "delphi" => (5, 12),
        _ => (3, 12),
    };
    let humans = usize::from(panel_type == "hybrid");
    let ai = args.experts.clamp(min, max).saturating_sub(humans).max(1);
    let mut body = json!({
        "query": format!("Load test {index}: should our AI ECG triage device pursue 510(k) or De Novo?"),
        "panel_type": panel_type,
        "expert_count": ai,
        "max_rounds": args.rounds,
        "simulation": {"seed": index as u64, "pace_tokens_per_s": args.pace, "turn_tokens": args.turn_tokens},
    });
    if let Some(n) = args.words_per_delta {
        body["simulation"]["words_per_delta"] = json!(n);
    }
    if humans == 1 {
        body["humans"] = json!([{"name": "Load-test human"}]);
        body["human_turn_timeout_s"] = json!(120);
    }
    body
}

/// Reads process RSS (MB) and CPU seconds from the server's /metrics.
async fn server_figures(client: &reqwest::Client, url: &str) -> Option<(f64, f64)> {
    let text = client.get(format!("{url}/metrics")).send().await.ok()?.text().await.ok()?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some((value("process_resident_memory_bytes")? / 1_048_576.0, value("process_cpu_seconds_total")?))
}

async fn create_tenants(client: &reqwest::Client, args: &Args) -> anyhow::Result<Vec<Tenant>> {
    let run = chrono::Utc::now().format("%H%M%S%3f").to_string();
    let mut tenants = Vec::new();
    for i in 0..args.tenants.max(1) {
        let body = json!({
            "slug": format!("lt-{run}-{i}"),
            "name": format!("Load test {i}"),
            "tier": "enterprise",
            "limits": {
                "max_concurrent_panels": args.panels as u32 + 10,
                "max_panels_per_month": 10_000_000u32,
                "max_experts_per_panel": 12,
                "requests_per_minute": 1_000_000u32,
                "tokens_per_month": 1_000_000_000_000u64,
            }
        });
        let response = client
            .post(format!("{}/v1/admin/tenants", args.url))
            .bearer_auth(&args.admin_key)
            .json(&body)
            .send()
            .await
            .context("create tenant")?;
        let status = response.status();
        let value: Value = response.json().await.context("tenant body")?;
        if !status.is_success() {
            bail!("creating a tenant answered {status}: {value}");
        }
        tenants.push(Tenant { key: value["api_key"]["key"].as_str().context("admin key")?.to_string() });
    }
    Ok(tenants)
}

/// A panel the run created: its index, tenant key, id and subscriber tasks.
type CreatedPanel = (usize, String, String, Vec<tokio::task::JoinHandle<(bool, Outcome)>>);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !TYPES.contains(&args.panel_type.as_str()) && args.panel_type != "mix" {
        bail!("--type must be one of {TYPES:?} or mix");
    }
    let url = args.url.trim_end_matches('/').to_string();
    let ws_base = url.replacen("http", "ws", 1);
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).timeout(Duration::from_secs(60)).build()?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.duration_s);
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (_, cpu_start) = server_figures(&client, &url).await.unwrap_or((0.0, 0.0));

    let tenants = Arc::new(create_tenants(&client, &args).await?);
    // Sockets are spread over several keys per tenant: a key may hold a bounded
    // number of sockets (`ws.max_sockets_per_key`), as one user's browsers would.
    let sockets_per_tenant = (args.panels * args.subscribers.max(1)).div_ceil(tenants.len());
    let keys_per_tenant = sockets_per_tenant.div_ceil(SOCKETS_PER_KEY).max(1);
    let mut keys: Vec<Vec<String>> = Vec::new();
    for tenant in tenants.iter() {
        let mut tenant_keys = Vec::new();
        for k in 0..keys_per_tenant {
            let response = client
                .post(format!("{url}/v1/keys"))
                .bearer_auth(&tenant.key)
                .json(&json!({"role": "moderator", "name": format!("load {k}")}))
                .send()
                .await?;
            let value: Value = response.json().await?;
            tenant_keys.push(value["key"].as_str().context("key")?.to_string());
        }
        keys.push(tenant_keys);
    }
    let tokens = Arc::new(Tokens::new(client.clone(), url.clone(), keys));

    // Server RSS, sampled while the run lasts.
    let running = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (client, url, shared, running) = (client.clone(), url.clone(), shared.clone(), running.clone());
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                if let Some((rss, _)) = server_figures(&client, &url).await {
                    let mut s = shared.lock().unwrap();
                    s.peak_rss = s.peak_rss.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    // Create panels, a bounded number at a time; each panel's subscribers
    // start as soon as it exists, so they see its events live.
    let connects = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let subscribers = if args.panel_type == "hybrid" || args.panel_type == "mix" {
        args.subscribers.max(1)
    } else {
        args.subscribers
    };
    let created: Vec<CreatedPanel> = stream::iter(0..args.panels)
        .map(|i| {
            let (client, url, tenants, shared, args, tokens, connects, ws_base) = (
                client.clone(),
                url.clone(),
                tenants.clone(),
                shared.clone(),
                args.clone(),
                tokens.clone(),
                connects.clone(),
                ws_base.clone(),
            );
            async move {
                let panel_type =
                    if args.panel_type == "mix" { TYPES[i % TYPES.len()] } else { args.panel_type.as_str() };
                let tenant = i % tenants.len();
                let t0 = Instant::now();
                let response = client
                    .post(format!("{url}/v1/panels"))
                    .bearer_auth(&tenants[tenant].key)
                    .json(&panel_body(&args, panel_type, i))
                    .send()
                    .await;
                let ms = t0.elapsed().as_secs_f32() * 1000.0;
                shared.lock().unwrap().create_ms.push(ms);
                let id = match response {
                    Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                        Ok(v) => v["id"].as_str().unwrap_or_default().to_string(),
                        Err(e) => {
                            error(&shared, format!("create_body: {e}"));
                            return None;
                        }
                    },
                    Ok(r) => {
                        error(&shared, format!("create_{}", r.status().as_u16()));
                        return None;
                    }
                    Err(e) => {
                        error(&shared, format!("create_request: {e}"));
                        return None;
                    }
                };
                let handles = (0..subscribers)
                    .map(|s| {
                        let key = (i * subscribers + s) / SOCKETS_PER_KEY;
                        let (panel_id, human) = (id.clone(), panel_type == "hybrid" && s == 0);
                        let counted = s < args.subscribers;
                        let (connects, tokens, ws_base) = (connects.clone(), tokens.clone(), ws_base.clone());
                        tokio::spawn(async move {
                            let permit = connects.acquire_owned().await;
                            // A token fresh when the socket connects, as a browser asks for one.
                            let token = match tokens.get(tenant, key).await {
                                Ok(token) => token,
                                Err(e) => {
                                    let outcome =
                                        Outcome { errors: vec![format!("ws_token: {e}")], ..Outcome::default() };
                                    return (counted, outcome);
                                }
                            };
                            let ws_url = format!("{ws_base}/v1/ws?token={token}");
                            let subscriber = Subscriber { ws_url, panel_id, human, deadline };
                            (counted, subscriber.run_with(permit).await)
                        })
                    })
                    .collect();
                Some((tenant, id, panel_type.to_string(), handles))
            }
        })
        .buffer_unordered(args.create_concurrency.max(1))
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let panels_started = created.len();
    eprintln!("created {panels_started} panels in {:.1} s", started.elapsed().as_secs_f64());

    // GET /v1/panels/{id} while the panels run.
    let poller = {
        let (client, url, tenants, shared, running) =
            (client.clone(), url.clone(), tenants.clone(), shared.clone(), running.clone());
        let ids: Vec<(usize, String)> = created.iter().map(|(t, id, _, _)| (*t, id.clone())).collect();
        let rate = args.get_rate;
        tokio::spawn(async move {
            if rate <= 0.0 || ids.is_empty() {
                return;
            }
            let mut i = 0usize;
            let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            while running.load(Ordering::Relaxed) {
                interval.tick().await;
                let (tenant, id) = &ids[i % ids.len()];
                i = i.wrapping_add(7919);
                let t0 = Instant::now();
                match client.get(format!("{url}/v1/panels/{id}")).bearer_auth(&tenants[*tenant].key).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        shared.lock().unwrap().get_ms.push(t0.elapsed().as_secs_f32() * 1000.0);
                    }
                    Ok(r) => error(&shared, format!("get_{}", r.status().as_u16())),
                    Err(e) => error(&shared, format!("get_request: {e}")),
                }
            }
        })
    };

    let mut sockets = 0;
    let mut outcomes: Vec<(bool, Outcome)> = Vec::new();
    let mut created_ids: Vec<(usize, String)> = Vec::new();
    for (tenant, id, _, handles) in created {
        sockets += handles.len();
        created_ids.push((tenant, id));
        for handle in handles {
            match handle.await {
                Ok(result) => outcomes.push(result),
                Err(_) => outcomes.push((true, Outcome::default())),
            }
        }
    }
    let created = created_ids;
    // Panels without subscribers: poll their end.
    let mut ends: BTreeMap<String, String> = BTreeMap::new();
    if subscribers == 0 {
        for (tenant, id) in &created {
            loop {
                let value: Value =
                    match client.get(format!("{url}/v1/panels/{id}")).bearer_auth(&tenants[*tenant].key).send().await {
                        Ok(r) => r.json().await.unwrap_or(Value::Null),
                        Err(_) => Value::Null,
                    };
                let status = value["status"].as_str().unwrap_or("").to_string();
                if matches!(status.as_str(), "completed" | "failed" | "cancelled")
                    || tokio::time::Instant::now() > deadline
                {
                    ends.insert(id.clone(), status);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    let _ = poller.await;
    let _ = sampler.await;
    let (rss_end, cpu_end) = server_figures(&client, &url).await.unwrap_or((0.0, cpu_start));

    // Aggregate.
    let mut report = Report { panels_started, sockets, wall_s: (wall_s * 100.0).round() / 100.0, ..Report::default() };
    let mut event_ms = Vec::new();
    let mut token_ms = Vec::new();
    let mut per_panel_terminal: BTreeMap<usize, Option<String>> = BTreeMap::new();
    let mut index = 0;
    for (p, _) in created.iter().enumerate() {
        for _ in 0..subscribers {
            let (counted, outcome) = &mut outcomes[index];
            index += 1;
            if per_panel_terminal.get(&p).is_none_or(|t| t.is_none()) {
                per_panel_terminal.insert(p, outcome.terminal.clone());
            }
            for e in outcome.errors.drain(..) {
                error(&shared, e);
            }
            if !*counted {
                continue;
            }
            report.lost_events += outcome.lost;
            report.duplicate_events += outcome.duplicates;
            report.reordered_events += outcome.reordered;
            report.token_text_mismatches += outcome.text_mismatches;
            report.lagged += outcome.lagged;
            report.events_delivered += outcome.events;
            report.events_replayed += outcome.replayed;
            report.frames_delivered += outcome.frames;
            if outcome.terminal.is_none() {
                error(&shared, "subscriber_unfinished");
            }
            event_ms.append(&mut outcome.event_latency_ms);
            token_ms.append(&mut outcome.token_latency_ms);
        }
    }
    let terminal_of = |p: usize| -> Option<String> {
        if subscribers == 0 { ends.get(&created[p].1).cloned() } else { per_panel_terminal.get(&p).cloned().flatten() }
    };
    for p in 0..created.len() {
        match terminal_of(p).as_deref() {
            Some("panel_completed" | "completed") => report.panels_completed += 1,
            Some("panel_failed" | "failed" | "panel_cancelled" | "cancelled") => report.panels_failed += 1,
            _ => report.panels_unfinished += 1,
        }
    }
    report.panels_per_s = (report.panels_completed as f64 / wall_s * 100.0).round() / 100.0;
    report.events_per_s = (report.events_delivered as f64 / wall_s).round();
    report.frames_per_s = (report.frames_delivered as f64 / wall_s).round();
    report.event_latency_ms = percentiles(&mut event_ms);
    report.token_latency_ms = percentiles(&mut token_ms);
    let mut s = shared.lock().unwrap();
    report.http_latency_ms = HttpLatency { create: percentiles(&mut s.create_ms), get: percentiles(&mut s.get_ms) };
    report.errors = std::mem::take(&mut s.errors);
    report.server_peak_rss_mb = (s.peak_rss.max(rss_end) * 10.0).round() / 10.0;
    report.server_cpu_s = ((cpu_end - cpu_start) * 10.0).round() / 10.0;
    if cpu_end > cpu_start {
        report.frames_per_server_cpu_s = (report.frames_delivered as f64 / (cpu_end - cpu_start)).round();
    }
    report.config = json!({
        "panels": args.panels, "subscribers": args.subscribers, "type": args.panel_type, "experts": args.experts,
        "rounds": args.rounds, "turn_tokens": args.turn_tokens, "pace": args.pace, "words_per_delta": args.words_per_delta, "tenants": args.tenants, "duration_s": args.duration_s,
    });
    drop(s);
    print!("{}", report.table());
    println!("{}", serde_json::to_string(&report)?);
    let delivery_ok = report.lost_events == 0
        && report.duplicate_events == 0
        && report.reordered_events == 0
        && report.token_text_mismatches == 0;
    let panels_ok = report.panels_completed == args.panels;
    if args.check && !(delivery_ok && panels_ok) {
        eprintln!("check failed: delivery ok = {delivery_ok}, all panels completed = {panels_ok}");
        std::process::exit(1);
    }
    Ok(())
}
