//! `askpanel-recordbench`: measures the decision record of a running server
//! through its public API. It creates a tenant and a history of completed
//! panels (simulated experts, instant; two of three structured, one delphi),
//! waits until the search index has
//! followed them all, then times searches by words (ranked), listings with
//! filters, and reports of a long panel in every format. Prints the figures,
//! then one JSON line.

#![deny(unsafe_code)]

mod corpus;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::corpus::{Rng, create_tenant, percentile, vocabulary};

#[derive(Parser, Debug)]
#[command(name = "askpanel-recordbench", about = "Measure panel search and reports of a running askpanel server")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// The platform admin key.
    #[arg(long)]
    admin_key: String,
    /// Completed panels in the tenant's history.
    #[arg(long, default_value_t = 1000)]
    panels: usize,
    /// Panel creations in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Searches (and listings) timed, one at a time.
    #[arg(long, default_value_t = 300)]
    searches: usize,
    /// Reports timed per format.
    #[arg(long, default_value_t = 10)]
    reports: usize,
    #[arg(long, default_value_t = 11)]
    seed: u64,
}

async fn get_json(client: &reqwest::Client, url: &str, key: &str) -> anyhow::Result<Value> {
    let response = client.get(url).bearer_auth(key).send().await?;
    let status = response.status();
    if !status.is_success() {
        bail!("GET {url}: {status} {}", response.text().await.unwrap_or_default());
    }
    Ok(response.json().await?)
}

/// How many panels a listing or search returns in all (pages of 100).
async fn total(client: &reqwest::Client, url: &str, key: &str, query: &str) -> anyhow::Result<usize> {
    corpus::count_all(client, &format!("{url}/v1/panels?{query}"), key).await
}

/// Times `n` GETs of `make()` one at a time; returns sorted milliseconds and the bytes of the last.
async fn time_gets(
    client: &reqwest::Client,
    key: &str,
    n: usize,
    mut make: impl FnMut() -> String,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut latencies = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let url = make();
        let t = Instant::now();
        let response = client.get(&url).bearer_auth(key).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        if !status.is_success() {
            bail!("GET {url}: {status} {}", String::from_utf8_lossy(&body));
        }
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
    }
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, bytes))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(300)).build()?;
    let url = args.url.trim_end_matches('/').to_string();
    let limits = json!({"max_panels_per_month": 10_000_000, "max_concurrent_panels": 100_000,
                       "requests_per_minute": 10_000_000, "tokens_per_month": 1_000_000_000_000u64,
                       "max_experts_per_panel": 12});
    let key = create_tenant(&client, &url, &args.admin_key, "recordbench", limits).await?;

    let mut rng = Rng(args.seed);
    let words = vocabulary(&mut rng, 5_000);
    let queries: Vec<String> = (0..args.panels)
        .map(|_| {
            let w: Vec<&str> = (0..4).map(|_| words[rng.zipf(words.len())].as_str()).collect();
            format!("Should we adopt the {} {} plan for the {} {} programme?", w[0], w[1], w[2], w[3])
        })
        .collect();
    eprintln!("creating {} panels", queries.len());
    let started = Instant::now();
    let created = stream::iter(queries.into_iter().enumerate())
        .map(|(i, query)| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            async move {
                let response = client
                    .post(format!("{url}/v1/panels"))
                    .bearer_auth(&key)
                    .json(&json!({
                        "query": query, "panel_type": if i % 3 == 0 { "delphi" } else { "structured" },
                        "expert_count": if i % 3 == 0 { 5 } else { 4 }, "max_rounds": 3,
                        "simulation": {"seed": i, "pace_tokens_per_s": 0, "turn_tokens": 120}
                    }))
                    .send()
                    .await?;
                if response.status() != reqwest::StatusCode::CREATED {
                    bail!("panel {i}: {} {}", response.status(), response.text().await.unwrap_or_default());
                }
                Ok(())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<anyhow::Result<()>>>()
        .await;
    for panel in created {
        panel?;
    }
    loop {
        let done = total(&client, &url, &key, "status=completed").await?;
        if done >= args.panels {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("{done} of {} panels completed after an hour", args.panels);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let completed = started.elapsed();
    // Every panel's turns say "simulated": the index has caught up when all match.
    loop {
        if total(&client, &url, &key, "q=simulated").await? >= args.panels {
            break;
        }
        if started.elapsed() > Duration::from_secs(7200) {
            bail!("the index never caught up");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let indexed = started.elapsed();
    eprintln!("completed in {:.1} s, indexed in {:.1} s", completed.as_secs_f64(), indexed.as_secs_f64());

    // Two words of the questions (frequent ones: many panels match).
    let mut hits = 0usize;
    let mut latencies = Vec::with_capacity(args.searches);
    for _ in 0..args.searches {
        let q = format!("{} {}", words[rng.zipf(300)], words[rng.zipf(300)]);
        let t = Instant::now();
        let page = get_json(&client, &format!("{url}/v1/panels?q={}&limit=20", q.replace(' ', "+")), &key).await?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        hits += page["items"].as_array().map_or(0, Vec::len);
    }
    latencies.sort_by(f64::total_cmp);
    let words_p = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    let (all, _) =
        time_gets(&client, &key, args.searches.min(100), || format!("{url}/v1/panels?q=simulated&limit=20")).await?;
    let all_p = (percentile(&all, 50.0), percentile(&all, 99.0));
    let (filtered, _) = time_gets(&client, &key, args.searches, || {
        format!("{url}/v1/panels?panel_type=delphi&status=completed&limit=20")
    })
    .await?;
    let filtered_p = (percentile(&filtered, 50.0), percentile(&filtered, 99.0));

    // Reports of a long panel: 8 members, 5 rounds, 400-word turns.
    let long: Value = client
        .post(format!("{url}/v1/panels"))
        .bearer_auth(&key)
        .json(&json!({
            "query": "Should the hospital network replace its triage protocol with the AI-assisted one this year?",
            "panel_type": "structured", "expert_count": 8, "max_rounds": 5,
            "simulation": {"seed": 5, "pace_tokens_per_s": 0, "turn_tokens": 400, "stubbornness": 0.95}
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let long_id = long["id"].as_str().context("the long panel's id")?.to_string();
    loop {
        let panel = get_json(&client, &format!("{url}/v1/panels/{long_id}"), &key).await?;
        if panel["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = get_json(&client, &format!("{url}/v1/panels/{long_id}/report"), &key).await?;
    let turns = report["usage"]["turns"].as_u64().unwrap_or(0);
    let mut formats = Vec::new();
    for format in ["json", "md", "html", "pdf"] {
        let (t, bytes) =
            time_gets(&client, &key, args.reports, || format!("{url}/v1/panels/{long_id}/report?format={format}"))
                .await?;
        formats.push((format, percentile(&t, 50.0), bytes));
    }

    println!(
        "panels           {} completed in {:.1} s; searchable {:.1} s after the first was created",
        args.panels,
        completed.as_secs_f64(),
        indexed.as_secs_f64()
    );
    println!(
        "search (2 words) p50 {:.1} ms, p99 {:.1} ms ({:.1} results each)",
        words_p.0,
        words_p.1,
        hits as f64 / args.searches.max(1) as f64
    );
    println!("search (matches every panel) p50 {:.1} ms, p99 {:.1} ms", all_p.0, all_p.1);
    println!("filtered listing p50 {:.1} ms, p99 {:.1} ms", filtered_p.0, filtered_p.1);
    for (format, p50, bytes) in &formats {
        println!("report {format:<5}     p50 {p50:.1} ms, {bytes} bytes ({turns} turns)");
    }
    let report_json: serde_json::Map<String, Value> =
        formats.iter().map(|(f, p50, bytes)| (format!("report_{f}"), json!({"p50_ms": p50, "bytes": bytes}))).collect();
    println!(
        "{}",
        json!({
            "panels": args.panels, "completed_s": completed.as_secs_f64(), "indexed_s": indexed.as_secs_f64(),
            "search_p50_ms": words_p.0, "search_p99_ms": words_p.1,
            "search_all_p50_ms": all_p.0, "search_all_p99_ms": all_p.1,
            "filtered_p50_ms": filtered_p.0, "filtered_p99_ms": filtered_p.1,
            "report_turns": turns, "reports": report_json,
        })
    );
    Ok(())
}
