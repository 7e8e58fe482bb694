//! Bodies of a tenant's webhook endpoints (`routes/webhooks.rs`, checked
//! by `webhooks/rules.rs`; `docs/webhooks.md`).

// Schema types: described, never built.
#![allow(dead_code)]

use std::collections::BTreeSet;

use utoipa::ToSchema;

/// An event type an endpoint may choose, or `*` for every one.
#[derive(ToSchema)]
pub enum WebhookEventType {
    /// Every event type.
    #[serde(rename = "*")]
    All,
    #[serde(rename = "panel.created")]
    PanelCreated,
    #[serde(rename = "panel.started")]
    PanelStarted,
    #[serde(rename = "round.completed")]
    RoundCompleted,
    #[serde(rename = "human_turn.requested")]
    HumanTurnRequested,
    #[serde(rename = "human_turn.skipped")]
    HumanTurnSkipped,
    #[serde(rename = "panel.paused")]
    PanelPaused,
    #[serde(rename = "panel.resumed")]
    PanelResumed,
    #[serde(rename = "panel.completed")]
    PanelCompleted,
    #[serde(rename = "panel.failed")]
    PanelFailed,
    #[serde(rename = "panel.cancelled")]
    PanelCancelled,
}

/// `POST /v1/webhooks` (admin): a webhook endpoint, enabled; its signing
/// `secret` is shown in the answer (and on rotation) only.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://hooks.acme-health.example/askpanel",
    "events": ["panel.completed", "panel.failed"],
    "description": "Quality team channel"
}))]
pub struct CreateWebhookBody {
    /// Where messages are posted (stored trimmed): `https` to a public host,
    /// at most 2048 bytes, without user name, password or `#fragment`
    /// (`http` and private or loopback hosts only when the server sets
    /// `webhooks.allow_private_targets`).
    #[schema(format = "uri", max_length = 2048)]
    url: String,
    /// At least one, each once.
    #[schema(min_items = 1)]
    events: BTreeSet<WebhookEventType>,
    /// Stored trimmed; default empty.
    #[schema(max_length = 500)]
    description: Option<String>,
}

/// `PATCH /v1/webhooks/{id}` (admin): what is absent (or `null`) is kept.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"events": ["*"], "enabled": true}))]
pub struct UpdateWebhookBody {
    /// As when created: `https` to a public host, at most 2048 bytes.
    #[schema(format = "uri", max_length = 2048)]
    url: Option<String>,
    /// Replaces the list: at least one, each once.
    #[schema(min_items = 1)]
    events: Option<BTreeSet<WebhookEventType>>,
    /// `""` clears it.
    #[schema(max_length = 500)]
    description: Option<String>,
    /// `true` enables a disabled endpoint and clears its failure record;
    /// `false` disables it and fails its pending deliveries.
    enabled: Option<bool>,
}
