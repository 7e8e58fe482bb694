//! `askpanel-membench`: what a live panel and an idle socket cost a running
//! server in memory, through its public API and its `/metrics`.
//!
//! 1. Idle: one tenant, its keys, a settle; the server's RSS is sampled
//!    (median of several samples).
//! 2. Sockets: M WebSockets are opened and left idle (no subscription);
//!    RSS again. Per idle socket: (RSS with the sockets - idle RSS) / M.
//!    Then they close, and RSS once more: the panels' baseline.
//! 3. Panels: N paced panels are created and left running with no
//!    subscriber; once all are running, RSS again. Per live panel:
//!    (RSS with N live panels - baseline) / N.
//! 4. Left behind: every panel runs to its end, and RSS once more:
//!    (RSS after - baseline) / N is what a finished panel leaves.
//!
//! The panels are paced slowly enough to be still running when the figures
//! are read (the run checks it from the listing). Prints the figures, then
//! one JSON line.

#![deny(unsafe_code)]

// Shared with the record and document benches; the tenant and listing helpers are used here.
#[allow(dead_code)]
mod corpus;

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::corpus::{count_all, create_tenant, ws_token};

/// Sockets opened with one key (under the server's default cap per key).
const SOCKETS_PER_KEY: usize = 500;

#[derive(Parser, Debug)]
#[command(name = "askpanel-membench", about = "Measure memory per live panel and per idle socket")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// The platform admin key.
    #[arg(long)]
    admin_key: String,
    /// Live panels.
    #[arg(long, default_value_t = 1000)]
    panels: usize,
    /// Idle WebSockets.
    #[arg(long, default_value_t = 1000)]
    sockets: usize,
    #[arg(long, default_value_t = 5)]
    experts: usize,
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    #[arg(long, default_value_t = 200)]
    turn_tokens: u32,
    /// Simulated tokens per second: slow enough that every panel is still
    /// running when the figures are read.
    #[arg(long, default_value_t = 20.0)]
    pace: f64,
    /// Panel creations in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds to wait before each reading: longer than the 15 s after
    /// which a busy server returns freed memory, so every reading follows a
    /// return of freed memory.
    #[arg(long, default_value_t = 20)]
    settle_s: u64,
    /// Skip the last reading (waiting for every panel to end).
    #[arg(long, default_value_t = false)]
    no_wait: bool,
}

/// The server's resident memory in bytes, from /metrics.
async fn rss(client: &reqwest::Client, url: &str) -> anyhow::Result<f64> {
    let text = client.get(format!("{url}/metrics")).send().await?.text().await?;
    text.lines()
        .find(|l| l.starts_with("process_resident_memory_bytes"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .context("process_resident_memory_bytes in /metrics")
}

/// After a settle, the median of five RSS samples a second apart (bytes).
async fn steady_rss(client: &reqwest::Client, url: &str, settle_s: u64) -> anyhow::Result<f64> {
    tokio::time::sleep(Duration::from_secs(settle_s)).await;
    let mut samples = Vec::new();
    for _ in 0..5 {
        samples.push(rss(client, url).await?);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

/// How many of the tenant's panels are running now.
async fn running(client: &reqwest::Client, url: &str, key: &str) -> anyhow::Result<usize> {
    count_all(client, &format!("{url}/v1/panels?status=running"), key).await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = args.url.trim_end_matches('/').to_string();
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).timeout(Duration::from_secs(60)).build()?;
    let limits = json!({
        "max_concurrent_panels": args.panels as u32 + 10,
        "max_panels_per_month": 10_000_000u32,
        "max_experts_per_panel": 12,
        "requests_per_minute": 1_000_000u32,
        "tokens_per_month": 1_000_000_000_000u64,
    });
    let key = create_tenant(&client, &url, &args.admin_key, "membench", limits).await?;
    let mut tokens = Vec::new();
    for k in 0..args.sockets.div_ceil(SOCKETS_PER_KEY).max(1) {
        let value: Value = client
            .post(format!("{url}/v1/keys"))
            .bearer_auth(&key)
            .json(&json!({"role": "viewer", "name": format!("membench {k}")}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens.push(ws_token(&client, &url, value["key"].as_str().context("key")?).await?);
    }

    // Sockets first, on an idle server: nothing else grows meanwhile.
    let idle = steady_rss(&client, &url, args.settle_s).await?;
    let ws_base = url.replacen("http", "ws", 1);
    let sockets: Vec<_> = stream::iter(0..args.sockets)
        .map(|i| {
            let address = format!("{ws_base}/v1/ws?token={}", tokens[i / SOCKETS_PER_KEY % tokens.len()]);
            async move { tokio_tungstenite::connect_async(address).await.map(|(socket, _)| socket) }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let open: Vec<_> = sockets.into_iter().filter_map(Result::ok).collect();
    if open.len() != args.sockets {
        bail!("opened {} of {} sockets", open.len(), args.sockets);
    }
    let with_sockets = steady_rss(&client, &url, args.settle_s).await?;
    drop(open);

    // Then the panels, from what the server holds once the sockets closed.
    let before_panels = steady_rss(&client, &url, args.settle_s).await?;
    let created: usize = stream::iter(0..args.panels)
        .map(|i| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            let body = json!({
                "query": format!("Memory bench {i}: should our AI ECG triage device pursue 510(k) or De Novo?"),
                "panel_type": "structured",
                "expert_count": args.experts,
                "max_rounds": args.rounds,
                "simulation": {"seed": i as u64, "pace_tokens_per_s": args.pace, "turn_tokens": args.turn_tokens, "words_per_delta": 1},
            });
            async move {
                let response = client.post(format!("{url}/v1/panels")).bearer_auth(&key).json(&body).send().await;
                usize::from(response.is_ok_and(|r| r.status().is_success()))
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .fold(0, |n, ok| async move { n + ok })
        .await;
    if created != args.panels {
        bail!("created {created} of {} panels", args.panels);
    }
    let with_panels = steady_rss(&client, &url, args.settle_s).await?;
    let live = running(&client, &url, &key).await?;
    if live != args.panels {
        bail!("{live} of {} panels still running when measured: pace them slower", args.panels);
    }

    let mut after = None;
    if !args.no_wait {
        while running(&client, &url, &key).await? > 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        after = Some(steady_rss(&client, &url, args.settle_s).await?);
    }

    let mb = |bytes: f64| (bytes / 1_048_576.0 * 10.0).round() / 10.0;
    let per_panel_kb = ((with_panels - before_panels) / args.panels as f64 / 1024.0 * 10.0).round() / 10.0;
    let per_socket_kb = ((with_sockets - idle) / args.sockets as f64 / 1024.0 * 10.0).round() / 10.0;
    let left_kb = after.map(|a| ((a - before_panels) / args.panels as f64 / 1024.0 * 10.0).round() / 10.0);
    println!("askpanel memory bench");
    println!("  idle                 RSS {:>8.1} MB", mb(idle));
    println!(
        "  {:>6} idle sockets  RSS {:>8.1} MB  -> {per_socket_kb:.1} KB per idle socket",
        args.sockets,
        mb(with_sockets)
    );
    println!("  sockets closed       RSS {:>8.1} MB", mb(before_panels));
    println!(
        "  {:>6} live panels   RSS {:>8.1} MB  -> {per_panel_kb:.1} KB per live panel",
        args.panels,
        mb(with_panels)
    );
    if let (Some(a), Some(left)) = (after, left_kb) {
        println!("  all panels ended     RSS {:>8.1} MB  -> {left:.1} KB left per finished panel", mb(a));
    }
    let report = json!({
        "idle_rss_mb": mb(idle), "sockets_rss_mb": mb(with_sockets), "before_panels_rss_mb": mb(before_panels),
        "panels_rss_mb": mb(with_panels), "ended_rss_mb": after.map(mb),
        "kb_per_idle_socket": per_socket_kb, "kb_per_live_panel": per_panel_kb, "kb_left_per_finished_panel": left_kb,
        "panels": args.panels, "sockets": args.sockets,
        "config": {"experts": args.experts, "rounds": args.rounds, "turn_tokens": args.turn_tokens, "pace": args.pace},
    });
    println!("{report}");
    Ok(())
}
