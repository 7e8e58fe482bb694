//! The rules of webhooks, pure: which events are sent and with what, the
//! signature, the retry schedule, the disabling rule, which targets are
//! allowed.

use std::net::IpAddr;
use std::time::Duration;

use askpanel_actors::domain::{MemberKind, PanelId, TenantId};
use askpanel_actors::event::{Event, EventData};
use askpanel_actors::panel::view::PanelView;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// The event types an endpoint may choose, with what each means.
pub const EVENT_TYPES: [(&str, &str); 10] = [
    ("panel.created", "A panel was created."),
    ("panel.started", "A panel began deliberating."),
    ("round.completed", "A round ended (with its rating statistics and whether the panel goes on)."),
    ("human_turn.requested", "A human member's turn opened (with its deadline)."),
    ("human_turn.skipped", "A human member's turn was skipped (timed out, or by a moderator)."),
    ("panel.paused", "A panel was paused."),
    ("panel.resumed", "A paused panel resumed."),
    ("panel.completed", "A panel completed, with its recommendation and consensus."),
    ("panel.failed", "A panel failed."),
    ("panel.cancelled", "A panel was cancelled."),
];

/// The test message (`POST /v1/webhooks/{id}/test`), sent whatever the
/// endpoint chose.
pub const TEST_EVENT: &str = "webhook.test";

/// Every event type (as an endpoint's `events`).
pub const ALL_EVENTS: &str = "*";

/// The longest endpoint URL, in bytes.
pub const URL_MAX: usize = 2048;
/// The longest description, in characters.
pub const DESCRIPTION_MAX: usize = 500;

/// A message to send to the endpoints that chose its type.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookEvent {
    pub event_type: &'static str,
    pub panel: Option<PanelId>,
    pub at: DateTime<Utc>,
    pub data: Value,
}

/// Whether an endpoint that chose `events` wants `event_type`.
pub fn wants(events: &[String], event_type: &str) -> bool {
    event_type == TEST_EVENT || events.iter().any(|e| e == ALL_EVENTS || e == event_type)
}

/// Checks an endpoint's `events`: known types (or `*`), at least one, no repeats.
pub fn check_events(events: &[String]) -> Result<(), String> {
    if events.is_empty() {
        return Err("must name at least one event type (or \"*\" for all)".into());
    }
    for (i, event) in events.iter().enumerate() {
        if event != ALL_EVENTS && !EVENT_TYPES.iter().any(|(t, _)| t == event) {
            let known: Vec<&str> = EVENT_TYPES.iter().map(|(t, _)| *t).collect();
            return Err(format!("`{event}` is not an event type ({}, or \"*\")", known.join(", ")));
        }
        if events[..i].contains(event) {
            return Err(format!("`{event}` is named twice"));
        }
    }
    Ok(())
}

/// What an event of a panel sends, if anything.
pub fn event_of(panel: &PanelView, event: &Event) -> Option<WebhookEvent> {
    let (event_type, extra) = match &event.data {
        EventData::PanelCreated { panel: created, .. } => {
            let members: Vec<Value> = created
                .members
                .iter()
                .map(|m| {
                    json!({"id": m.id, "name": m.name,
                           "kind": if m.kind == MemberKind::Human { "human" } else { "ai" }})
                })
                .collect();
            ("panel.created", json!({"members": members, "max_rounds": created.config.max_rounds}))
        }
        EventData::PanelStarted { .. } => ("panel.started", json!({})),
        EventData::RoundCompleted { round, stats, decision, .. } => {
            ("round.completed", json!({"round": round, "stats": stats, "decision": decision}))
        }
        EventData::HumanTurnRequested { member_id, round, deadline } => (
            "human_turn.requested",
            json!({"member_id": member_id, "member_name": member_name(panel, *member_id),
                   "round": round, "deadline": deadline}),
        ),
        EventData::TurnSkipped { member_id, round, reason } if is_human(panel, *member_id) => (
            "human_turn.skipped",
            json!({"member_id": member_id, "member_name": member_name(panel, *member_id),
                   "round": round, "reason": reason}),
        ),
        EventData::PanelPaused { reason } => ("panel.paused", json!({"reason": reason})),
        EventData::PanelResumed {} => ("panel.resumed", json!({})),
        EventData::PanelCompleted { recommendation, consensus, verdict, reason, .. } => (
            "panel.completed",
            json!({"recommendation": recommendation, "consensus": consensus, "verdict": verdict, "reason": reason}),
        ),
        EventData::PanelFailed { error } => ("panel.failed", json!({"error": error})),
        EventData::PanelCancelled { .. } => ("panel.cancelled", json!({})),
        _ => return None,
    };
    let mut data = Map::new();
    data.insert("panel_id".into(), json!(panel.id));
    data.insert("panel_type".into(), json!(panel.panel_type.as_str()));
    data.insert("query".into(), json!(panel.query));
    data.insert("seq".into(), json!(event.seq));
    if let Value::Object(extra) = extra {
        data.extend(extra);
    }
    Some(WebhookEvent { event_type, panel: Some(panel.id), at: event.ts, data: Value::Object(data) })
}

fn is_human(panel: &PanelView, member: askpanel_actors::domain::MemberId) -> bool {
    panel.members.iter().any(|m| m.id == member && m.kind == MemberKind::Human)
}

fn member_name(panel: &PanelView, member: askpanel_actors::domain::MemberId) -> Option<&str> {
    panel.members.iter().find(|m| m.id == member).map(|m| m.name.as_str())
}

/// The body sent: `{"type", "timestamp", "tenant_id", "data"}`.
pub fn payload(tenant: TenantId, event: &WebhookEvent) -> String {
    json!({
        "type": event.event_type,
        "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "tenant_id": tenant,
        "data": event.data,
    })
    .to_string()
}

/// The `webhook-id` of a delivery.
pub fn message_id(delivery: uuid::Uuid) -> String {
    format!("msg_{}", delivery.simple())
}

/// A new endpoint secret: `whsec_` and 32 random bytes in base64.
pub fn generate_secret() -> String {
    format!("whsec_{}", STANDARD.encode(crate::secrets::random_bytes::<32>()))
}

/// The key bytes of a `whsec_` secret.
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok().filter(|k| !k.is_empty())
}

/// One `v1,<base64>` signature of a message.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per secret in force (the
/// current one, and the previous one for a day after a rotation), space-separated.
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|s| secret_key(s))
        .map(|key| sign(&key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How deliveries are retried and endpoints disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failure; each later wait is four times longer.
    pub base: Duration,
    /// The longest single wait.
    pub max_wait: Duration,
    /// How long after its first attempt a delivery is given up.
    pub retry_for: Duration,
}

impl RetryPolicy {
    pub fn of(settings: &crate::configuration::WebhookSettings) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(settings.retry_base_ms.max(1)),
            max_wait: Duration::from_secs(settings.retry_max_wait_s.max(1)),
            retry_for: Duration::from_secs(settings.retry_for_s),
        }
    }
}

/// When a delivery that has just failed its `attempts`-th attempt is tried
/// again; `None` when it is given up. `jitter` in 0..1 spreads the retries
/// of many deliveries by up to a tenth of the wait.
pub fn next_attempt(
    policy: &RetryPolicy,
    attempts: u32,
    first_attempt: DateTime<Utc>,
    now: DateTime<Utc>,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let give_up_at = first_attempt + chrono::Duration::from_std(policy.retry_for).ok()?;
    if now >= give_up_at {
        return None;
    }
    let exponent = attempts.saturating_sub(1).min(20);
    let wait_ms = (policy.base.as_millis() as f64 * 4f64.powi(exponent as i32)).min(policy.max_wait.as_millis() as f64);
    let wait_ms = wait_ms * (1.0 + jitter.clamp(0.0, 1.0) / 10.0);
    let at = now + chrono::Duration::milliseconds(wait_ms as i64);
    // The last attempt falls at the end of the retry period, not after it.
    Some(at.min(give_up_at))
}

/// When an endpoint is disabled: it has failed `failures` attempts in a row
/// and has been failing since `failing_since`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DisableRule {
    pub after_failures: u32,
    pub after: Duration,
}

impl DisableRule {
    pub fn of(settings: &crate::configuration::WebhookSettings) -> DisableRule {
        DisableRule {
            after_failures: settings.disable_after_failures.max(1),
            after: Duration::from_secs(settings.disable_after_s),
        }
    }
}

pub fn should_disable(
    rule: &DisableRule,
    failures: u32,
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let Some(since) = failing_since else { return false };
    failures >= rule.after_failures && (now - since).to_std().unwrap_or_default() >= rule.after
}

/// An endpoint as named in notices and emails: scheme, host and port only
/// (its path and query may carry a token).
pub fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => {
            let host = parsed.host_str().unwrap_or("?");
            match parsed.port() {
                Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
                None => format!("{}://{host}", parsed.scheme()),
            }
        }
        Err(_) => "(an endpoint)".into(),
    }
}

/// Why an endpoint was disabled, for the admins: its run of failures and
/// the last one (`last_status`, else `last_error`).
pub fn disabled_reason(
    failures: u32,
    failing_since: Option<DateTime<Utc>>,
    last_status: Option<u16>,
    last_error: Option<&str>,
) -> String {
    let last = match (last_status, last_error) {
        (Some(code), _) => format!("the last answer was HTTP {code}"),
        (None, Some(error)) => format!("the last attempt failed: {error}"),
        (None, None) => "the last attempt failed".to_string(),
    };
    format!(
        "disabled after {failures} failed attempts in a row since {}; {last}",
        failing_since.map_or_else(|| "-".to_string(), |at| at.format("%Y-%m-%d %H:%M UTC").to_string())
    )
}

/// Whether an address is on the public internet (not loopback, private,
/// link-local, shared, documentation, multicast, unspecified or reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 192 && b == 88 && v4.octets()[2] == 99)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // 6to4 carries an IPv4 address: it must be public itself.
            if s[0] == 0x2002 {
                let v4 = std::net::Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
                return is_public(IpAddr::V4(v4));
            }
            // Only global unicast (2000::/3), less Teredo (2001::/32, which
            // hides an IPv4 address), documentation (2001:db8::/32) and
            // ORCHID and benchmarking ranges (2001::/23 holds them).
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] < 0x0200) && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

/// Checks an endpoint URL: `https` to a public host, or (with
/// `allow_private`) also `http` and private or loopback addresses.
pub fn check_url(text: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    if text.len() > URL_MAX {
        return Err(format!("must be at most {URL_MAX} bytes"));
    }
    let url = reqwest::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err("must be https".into()),
        other => return Err(format!("must be https, not {other}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    let Some(host) = url.host() else { return Err("must name a host".into()) };
    let ip = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if !allow_private && (name == "localhost" || name.ends_with(".localhost") || !name.contains('.')) {
                return Err("must name a public host".into());
            }
            None
        }
    };
    if let Some(ip) = ip
        && !allow_private
        && !is_public(ip)
    {
        return Err(format!("must be a public address, not {ip}"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
