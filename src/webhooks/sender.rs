//! The webhook sender: claims due deliveries (on any node; a lease and the
//! attempt count fence each claim, so two nodes never send one attempt),
//! signs and posts them, and records what came back: delivered, tried again
//! later with backoff, or given up; an endpoint that keeps failing is
//! disabled and its tenant's admins are told (in the page, by email and in
//! the audit trail).
//!
//! Unless `webhooks.allow_private_targets`, the client resolves names itself
//! and refuses private, loopback and link-local addresses (checked when it
//! connects, so a name that changes its address is caught), follows no
//! redirects and uses no proxy from the environment.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{check_url, is_public, message_id, next_attempt, signature_header};
use crate::notify::announce::{fan_out, push};
use crate::state::AppState;
use crate::store::audit::AuditActor;
use crate::store::notify::Claim;
use crate::store::webhooks::{Attempt, DeliveryStatus, EndpointStatus};

/// Deliveries claimed a step, all sent at once (so none waits on its claim
/// while others are sent).
const CLAIM: u32 = 8;
/// How much longer than an attempt's time limit a claim is held before
/// another node may take the delivery.
const LEASE_MARGIN_S: u64 = 30;

/// Resolves names to public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The client deliveries are sent with.
pub fn client(settings: &crate::configuration::WebhookSettings) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.timeout_s))
        .connect_timeout(Duration::from_secs(settings.timeout_s.min(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("askpanel-webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(2);
    if !settings.allow_private_targets {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(builder.build()?)
}

/// What an attempt's error is called in the log (no secrets, bounded).
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_request() {
        "the request failed"
    } else {
        "failed"
    };
    // Without the URL: it may carry a token, and this text is shown in the
    // log, the audit trail and the admins' email.
    let error = error.without_url();
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        text.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    text.chars().take(500).collect()
}

/// Posts one delivery; returns the attempt (without its retry time).
async fn post(client: &reqwest::Client, url: reqwest::Url, headers: [(&str, String); 3], body: String) -> Attempt {
    let at = chrono::Utc::now();
    let started = Instant::now();
    let mut request = client.post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let result = request.body(body).send().await;
    let duration_ms = started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
    match result {
        Ok(response) => {
            let code = response.status().as_u16();
            let ok = response.status().is_success();
            Attempt {
                at,
                status_code: Some(code),
                duration_ms,
                error: (!ok).then(|| format!("the endpoint answered HTTP {code}")),
                ok,
                retry_at: None,
            }
        }
        Err(error) => {
            Attempt { at, status_code: None, duration_ms, error: Some(describe(error)), ok: false, retry_at: None }
        }
    }
}

async fn deliver(state: &AppState, client: &reqwest::Client, claim: Claim) -> anyhow::Result<()> {
    let tenant = claim.tenant;
    let Some(delivery) = state.store.get_delivery(tenant, claim.id).await? else { return Ok(()) };
    if delivery.attempts != claim.attempts || delivery.status != DeliveryStatus::Pending {
        return Ok(());
    }
    let Some(endpoint) = state.store.get_endpoint(tenant, delivery.endpoint_id).await? else { return Ok(()) };
    let settings = &state.settings.webhooks;
    let now = chrono::Utc::now();
    // Not sent (and not tried again): a disabled endpoint, a URL no longer allowed.
    let not_sent = |error: String| Attempt {
        at: now,
        status_code: None,
        duration_ms: 0,
        error: Some(error),
        ok: false,
        retry_at: None,
    };
    let (mut attempt, sent) = match (endpoint.status, check_url(&endpoint.url, settings.allow_private_targets)) {
        (EndpointStatus::Disabled, _) => (not_sent("the endpoint is disabled".into()), false),
        (_, Err(why)) => (not_sent(format!("the endpoint URL {why}")), false),
        (EndpointStatus::Enabled, Ok(url)) => {
            let id = message_id(delivery.id);
            let timestamp = now.timestamp();
            let signature = signature_header(&endpoint.secrets(now), &id, timestamp, &delivery.payload);
            let headers =
                [("webhook-id", id), ("webhook-timestamp", timestamp.to_string()), ("webhook-signature", signature)];
            (post(client, url, headers, delivery.payload.clone()).await, true)
        }
    };
    // A failed send is tried again (an endpoint that is disabled, or whose
    // URL is no longer allowed, is not).
    if !attempt.ok && sent {
        let jitter = f64::from(crate::secrets::random_bytes::<1>()[0]) / 255.0;
        let first = delivery.first_attempt_at.unwrap_or(attempt.at);
        // Counted from the start of this run of retries (a redelivery starts one).
        let tries = claim.attempts.saturating_sub(delivery.retry_from).max(1);
        attempt.retry_at = next_attempt(&super::RetryPolicy::of(settings), tries, first, chrono::Utc::now(), jitter);
    }
    let outcome = match (attempt.ok, attempt.retry_at) {
        (true, _) => "delivered",
        (false, Some(_)) => "retry",
        (false, None) => "failed",
    };
    state.metrics.webhook_attempts.with_label_values(&[outcome]).inc();
    let Some(recorded) =
        state.store.record_attempt(&claim, &attempt, &super::DisableRule::of(settings), &fan_out(state)).await?
    else {
        return Ok(());
    };
    if recorded.disabled {
        tracing::warn!(tenant_id = %tenant, endpoint_id = %endpoint.id, "a webhook endpoint was disabled after persistent failures");
        crate::audit::record(
            state,
            tenant,
            AuditActor { kind: "system".into(), id: "webhooks".into() },
            "webhook.disabled",
            crate::audit::target("webhook", endpoint.id),
            None,
            serde_json::json!({"url": endpoint.url, "last_error": attempt.error, "last_status": attempt.status_code}),
        )
        .await;
        push(state, &recorded.notifications).await;
        state.notify_wake.jobs.notify_one();
    }
    Ok(())
}

/// Sends due deliveries until the shutdown begins; the deliveries in flight
/// then finish (each within its time limit) before this returns.
pub async fn run(state: AppState, client: reqwest::Client) {
    let every = Duration::from_millis(state.settings.webhooks.poll_interval_ms.max(10));
    let lease_s = (state.settings.webhooks.timeout_s + LEASE_MARGIN_S) as u32;
    while !state.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
        let claims = match state.store.claim_deliveries(chrono::Utc::now(), lease_s, CLAIM).await {
            Ok(claims) => claims,
            Err(error) => {
                tracing::warn!(%error, "the webhook sender could not claim its work");
                Vec::new()
            }
        };
        let busy = claims.len() as u32 == CLAIM;
        futures::stream::iter(claims)
            .for_each_concurrent(CLAIM as usize, |claim| {
                let (state, client) = (&state, &client);
                async move {
                    if let Err(error) = deliver(state, client, claim).await {
                        state.metrics.errors.with_label_values(&["webhook"]).inc();
                        tracing::warn!(tenant_id = %claim.tenant, delivery_id = %claim.id, %error,
                            "a webhook delivery could not be recorded; it is tried again when its lease ends");
                    }
                }
            })
            .await;
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = state.notify_wake.deliveries.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn names_that_resolve_only_to_private_addresses_are_refused() {
        for name in ["localhost", "127.0.0.1"] {
            let error = PublicOnly.resolve(Name::from_str(name).unwrap()).await.err().expect("refused");
            assert!(error.to_string().contains("no public address"), "{name}: {error}");
        }
    }
}
