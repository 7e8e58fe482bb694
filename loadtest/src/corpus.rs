//! What the benchmarks share: a tenant of their own, WebSocket tokens, a seeded random source
//! and a vocabulary of made-up words (so searches hit only what the
//! benchmark wrote), and the percentile they report.

use anyhow::Context;
use serde_json::{Value, json};

/// A short-lived WebSocket token for `key` (`POST /v1/ws-tokens`).
// The load test's and the memory bench's, not the record and document benches'.
#[allow(dead_code)]
pub async fn ws_token(client: &reqwest::Client, url: &str, key: &str) -> anyhow::Result<String> {
    let value: Value = client
        .post(format!("{url}/v1/ws-tokens"))
        .bearer_auth(key)
        .json(&json!({}))
        .send()
        .await?
        .error_for_status()
        .context("a WebSocket token")?
        .json()
        .await?;
    Ok(value["token"].as_str().context("token")?.to_string())
}

/// Creates an enterprise tenant named `{prefix}-{time}` with these limits;
/// returns its admin key.
pub async fn create_tenant(
    client: &reqwest::Client,
    url: &str,
    admin_key: &str,
    prefix: &str,
    limits: Value,
) -> anyhow::Result<String> {
    let slug = format!("{prefix}-{}", chrono::Utc::now().timestamp_millis());
    let tenant: Value = client
        .post(format!("{url}/v1/admin/tenants"))
        .bearer_auth(admin_key)
        .json(&json!({"slug": slug, "name": slug, "tier": "enterprise", "limits": limits}))
        .send()
        .await?
        .error_for_status()
        .context("create the tenant")?
        .json()
        .await?;
    Ok(tenant["api_key"]["key"].as_str().context("the tenant's key")?.to_string())
}

/// SplitMix64: the same seed, the same library.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Zipf-like: small indices far more often, like words of a language.
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0) as usize % n
    }
}

/// A vocabulary of pronounceable made-up words.
pub fn vocabulary(rng: &mut Rng, size: usize) -> Vec<String> {
    const SYLLABLES: &[&str] = &[
        "ka", "lo", "mi", "ra", "te", "su", "vo", "ne", "pi", "da", "ru", "so", "li", "ma", "to", "ve", "ni", "ba",
        "ze", "qu", "fa", "ho", "ji", "we", "xo", "ge", "cy", "pa",
    ];
    let mut words: Vec<String> = Vec::with_capacity(size);
    while words.len() < size {
        let n = 2 + (rng.next() % 3) as usize;
        let word: String = (0..n).map(|_| SYLLABLES[(rng.next() % SYLLABLES.len() as u64) as usize]).collect();
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// How many items a listing has in all, read in pages of 100 by cursor.
/// `listing` is the first page's address with its filters, e.g.
/// `{url}/v1/panels?status=running`.
pub async fn count_all(client: &reqwest::Client, listing: &str, key: &str) -> anyhow::Result<usize> {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut u = format!("{listing}&limit=100");
        if let Some(c) = &cursor {
            u.push_str(&format!("&cursor={c}"));
        }
        let page: Value = client.get(&u).bearer_auth(key).send().await?.error_for_status()?.json().await?;
        n += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(n),
        }
    }
}
