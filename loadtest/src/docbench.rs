//! `askpanel-docbench`: measures the document library of a running server
//! through its public API. It creates a tenant, uploads a library of
//! generated Markdown documents (deterministic for a seed), waits until
//! every one is ready, then times full-text searches. Reports indexing
//! throughput (MB of text per second, from the first upload to the last
//! document ready) and search latency percentiles, then one JSON line.

#![deny(unsafe_code)]

mod corpus;

use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Parser;
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::corpus::{Rng, create_tenant, percentile, vocabulary};

#[derive(Parser, Debug)]
#[command(name = "askpanel-docbench", about = "Measure document indexing and search of a running askpanel server")]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    url: String,
    /// The platform admin key.
    #[arg(long)]
    admin_key: String,
    /// Documents in the library.
    #[arg(long, default_value_t = 1000)]
    documents: usize,
    /// Size of each document, in KB of text.
    #[arg(long, default_value_t = 50)]
    doc_kb: usize,
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Searches timed (one at a time).
    #[arg(long, default_value_t = 500)]
    searches: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

fn document(rng: &mut Rng, words: &[String], bytes: usize) -> String {
    let mut text = String::with_capacity(bytes + 200);
    let mut section = 0;
    while text.len() < bytes {
        section += 1;
        text.push_str(&format!(
            "# Section {section}: {} {}\n\n",
            words[rng.zipf(words.len())],
            words[rng.zipf(words.len())]
        ));
        for _ in 0..(3 + rng.next() % 4) {
            let sentences = 3 + rng.next() % 5;
            for _ in 0..sentences {
                let n = 8 + rng.next() % 14;
                let sentence: Vec<&str> = (0..n).map(|_| words[rng.zipf(words.len())].as_str()).collect();
                text.push_str(&sentence.join(" "));
                text.push_str(". ");
            }
            text.push_str("\n\n");
        }
    }
    text
}

async fn count(client: &reqwest::Client, url: &str, key: &str, status: &str) -> anyhow::Result<usize> {
    // The list is small once the run is nearly done.
    corpus::count_all(client, &format!("{url}/v1/documents?status={status}"), key).await
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
    let url = args.url.trim_end_matches('/').to_string();
    let limits =
        json!({"max_documents": args.documents + 10, "max_storage_mb": 100_000, "requests_per_minute": 1_000_000});
    let key = create_tenant(&client, &url, &args.admin_key, "docbench", limits).await?;

    let mut rng = Rng(args.seed);
    let words = vocabulary(&mut rng, 20_000);
    let texts: Vec<String> = (0..args.documents).map(|_| document(&mut rng, &words, args.doc_kb * 1024)).collect();
    let total_bytes: usize = texts.iter().map(String::len).sum();
    eprintln!("uploading {} documents, {:.1} MB of text", texts.len(), total_bytes as f64 / 1e6);

    let started = Instant::now();
    let uploads = stream::iter(texts.into_iter().enumerate())
        .map(|(i, text)| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            async move {
                let response = client
                    .post(format!("{url}/v1/documents"))
                    .bearer_auth(&key)
                    .json(&json!({"title": format!("Document {i}"), "text": text, "format": "markdown"}))
                    .send()
                    .await?;
                if response.status() != reqwest::StatusCode::ACCEPTED {
                    bail!("upload {i}: {} {}", response.status(), response.text().await.unwrap_or_default());
                }
                Ok(())
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect::<Vec<anyhow::Result<()>>>()
        .await;
    for upload in uploads {
        upload?;
    }
    let uploaded = started.elapsed();
    eprintln!("uploaded in {:.1} s; waiting for extraction", uploaded.as_secs_f64());
    loop {
        let waiting = count(&client, &url, &key, "pending").await? + count(&client, &url, &key, "extracting").await?;
        if waiting == 0 {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("{waiting} documents still waiting after an hour");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let indexed = started.elapsed();
    let failed = count(&client, &url, &key, "failed").await?;
    let ready = count(&client, &url, &key, "ready").await?;
    let mb_per_s = total_bytes as f64 / 1e6 / indexed.as_secs_f64();

    let mut latencies = Vec::with_capacity(args.searches);
    let mut hits = 0usize;
    for _ in 0..args.searches {
        let n = 2 + (rng.next() % 3) as usize;
        let q: Vec<&str> = (0..n).map(|_| words[rng.zipf(2000)].as_str()).collect();
        let t = Instant::now();
        let page: Value = client
            .get(format!("{url}/v1/documents/search"))
            .query(&[("q", q.join(" ")), ("limit", "10".into())])
            .bearer_auth(&key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        hits += page["items"].as_array().map_or(0, Vec::len);
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
    println!("documents        {ready} ready, {failed} failed (of {})", args.documents);
    println!("text             {:.1} MB", total_bytes as f64 / 1e6);
    println!("upload           {:.1} s", uploaded.as_secs_f64());
    println!("indexed          {:.1} s (first upload to last ready)", indexed.as_secs_f64());
    println!("throughput       {mb_per_s:.2} MB/s of text");
    println!(
        "search           p50 {p50:.1} ms, p99 {p99:.1} ms ({} searches, {:.1} hits each)",
        args.searches,
        hits as f64 / args.searches.max(1) as f64
    );
    println!(
        "{}",
        json!({
            "documents": args.documents, "ready": ready, "failed": failed, "mb": total_bytes as f64 / 1e6,
            "indexed_s": indexed.as_secs_f64(), "mb_per_s": mb_per_s,
            "search_p50_ms": p50, "search_p99_ms": p99, "searches": args.searches,
        })
    );
    if failed > 0 || ready != args.documents {
        bail!("{failed} documents failed, {ready} of {} ready", args.documents);
    }
    Ok(())
}
