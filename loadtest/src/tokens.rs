//! WebSocket tokens for a long run: a token lives 300 s by default, and a
//! 10,000-panel run connects its last sockets minutes after its first, so
//! each key's token is asked for again once it is a minute old, when a
//! socket connects (as a browser asks for one).

use std::time::{Duration, Instant};

use crate::corpus::ws_token;

/// How long a WebSocket token is reused before another is asked for.
const TOKEN_REFRESH: Duration = Duration::from_secs(60);

/// A key's last WebSocket token and when it was asked for.
type TokenSlot = tokio::sync::Mutex<Option<(String, Instant)>>;

/// The run's keys per tenant and a WebSocket token of each, asked for again
/// once older than [`TOKEN_REFRESH`].
pub struct Tokens {
    client: reqwest::Client,
    url: String,
    keys: Vec<Vec<String>>,
    cache: Vec<Vec<TokenSlot>>,
}

impl Tokens {
    pub fn new(client: reqwest::Client, url: String, keys: Vec<Vec<String>>) -> Self {
        let cache = keys.iter().map(|k| k.iter().map(|_| tokio::sync::Mutex::new(None)).collect()).collect();
        Self { client, url, keys, cache }
    }

    /// A token of the tenant's `key`th key (wrapping round its keys).
    pub async fn get(&self, tenant: usize, key: usize) -> anyhow::Result<String> {
        let k = key % self.keys[tenant].len();
        let mut slot = self.cache[tenant][k].lock().await;
        if let Some((token, at)) = slot.as_ref()
            && at.elapsed() < TOKEN_REFRESH
        {
            return Ok(token.clone());
        }
        let token = ws_token(&self.client, &self.url, &self.keys[tenant][k]).await?;
        *slot = Some((token.clone(), Instant::now()));
        Ok(token)
    }
}
