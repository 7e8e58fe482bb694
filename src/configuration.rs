//! Settings, layered: the defaults built into the binary, then
//! `config/default.toml` and `config/{ASKPANEL_ENV}.toml` from the working
//! directory when present, then `ASKPANEL__SECTION__KEY` environment
//! variables (e.g. `ASKPANEL__DATABASE__URL`), then command-line flags.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

const BUILTIN_DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub accounts: AccountSettings,
    pub mail: MailSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub llm: LlmSettings,
    pub engine: EngineConfig,
    pub ws: WsSettings,
    pub log: LogSettings,
    pub documents: DocumentSettings,
    pub records: RecordSettings,
    pub notifications: NotificationSettings,
    pub webhooks: WebhookSettings,
    pub tiers: BTreeMap<String, Limits>,
}

/// The document library (grounded panels).
#[derive(Clone, Debug, Deserialize)]
pub struct DocumentSettings {
    /// The largest upload any tier may send, in MB (the tier's `max_document_mb` is lower or equal).
    pub max_upload_mb: u64,
    /// Time for a whole upload to arrive (uploads are larger than other bodies).
    pub upload_timeout_s: u64,
    /// Uploads read at once on this node; more get 429 with a retry hint.
    pub max_concurrent_uploads: usize,
    /// Documents extracted at once on this node.
    pub extractors: usize,
    /// An extractor's claim on a document; another node takes it over after.
    pub lease_s: u32,
    /// The PDF extractor process: wall-clock, CPU and memory limits.
    pub pdf_timeout_s: u64,
    pub pdf_cpu_s: u64,
    pub pdf_memory_mb: u64,
    /// The program run as `PROGRAM extract-pdf` (empty: this binary).
    pub extractor: String,
    /// Characters of passages each AI turn of a panel with documents is given.
    pub evidence_chars: u32,
}

/// People's accounts (`docs/accounts.md`).
#[derive(Clone, Debug, Deserialize)]
pub struct AccountSettings {
    pub session_ttl_s: u64,
    pub secure_cookies: bool,
    pub invitation_ttl_s: u64,
    pub reset_ttl_s: u64,
    pub lockout_after: u32,
    pub lockout_base_s: u64,
    pub lockout_max_s: u64,
    pub failures_per_address_per_minute: u32,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    /// The page's address as people reach it; links in emails start with it.
    pub public_url: String,
    pub oidc_issuer: String,
    pub oidc_client_id: String,
    pub oidc_client_secret_env: String,
    pub oidc_tenants: Vec<String>,
}

/// Outgoing email.
#[derive(Clone, Deserialize)]
pub struct MailSettings {
    pub smtp_url: String,
    pub from: String,
    pub timeout_s: u64,
}

impl std::fmt::Debug for MailSettings {
    // The URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp_url", &if self.smtp_url.is_empty() { "<unset>" } else { "<redacted>" })
            .field("from", &self.from)
            .field("timeout_s", &self.timeout_s)
            .finish()
    }
}

/// Notifications (`docs/notifications.md`).
#[derive(Clone, Debug, Deserialize)]
pub struct NotificationSettings {
    /// How often the announcer looks for panel events it has not announced
    /// (at most 50 panels a pass).
    pub announce_interval_ms: u64,
    /// How often the job runner looks for due emails and reminders when
    /// nothing woke it.
    pub jobs_interval_ms: u64,
    /// How long notifications are kept.
    pub retention_days: u32,
    /// How long a human turn's email waits before it goes (and is skipped
    /// if the person is watching the panel by then).
    pub away_grace_ms: u64,
}

/// Webhooks (`docs/webhooks.md`).
#[derive(Clone, Debug, Deserialize)]
pub struct WebhookSettings {
    /// Whether endpoints may be `http` and on private, loopback or
    /// link-local addresses (development and tests); otherwise only `https`
    /// to public addresses, checked again when each delivery connects.
    pub allow_private_targets: bool,
    /// How long one attempt may take (connecting and answering).
    pub timeout_s: u64,
    /// The wait after a first failure; each later wait is four times longer,
    /// up to `retry_max_wait_s`, for `retry_for_s` after the first attempt.
    pub retry_base_ms: u64,
    pub retry_max_wait_s: u64,
    pub retry_for_s: u64,
    /// An endpoint is disabled when it has failed this many attempts in a
    /// row and has been failing for `disable_after_s`.
    pub disable_after_failures: u32,
    pub disable_after_s: u64,
    /// How often the sender looks for due deliveries when nothing woke it.
    pub poll_interval_ms: u64,
    /// How long the delivery log is kept.
    pub log_retention_days: u32,
}

/// The decision record (`docs/records.md`): search indexing and share links.
#[derive(Clone, Debug, Deserialize)]
pub struct RecordSettings {
    /// How often the search indexer looks for panels it has not followed to
    /// their last event (at most 50 panels a pass).
    pub index_interval_ms: u64,
    /// Default and longest lifetime of a share link, in seconds.
    pub share_default_s: u64,
    pub share_max_s: u64,
    /// Live share links a panel may have at once.
    pub max_shares_per_panel: u32,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    pub bind: String,
    pub data_dir: PathBuf,
    /// HTTP worker threads; 0: two per core ([`ServerSettings::http_workers`]).
    pub workers: usize,
    pub shutdown_grace_s: u64,
    pub max_body_bytes: usize,
    /// Seconds a request body may take to arrive in full (else 408).
    pub body_timeout_s: u64,
    /// Browser origins besides the server's own that may use the API
    /// (WebSocket, SSE, CORS); `*` allows any.
    pub allowed_origins: Vec<String>,
    /// Print the address (and first-start keys) on stdout.
    pub announce: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub max_size_mb: u64,
    /// PostgreSQL: the owner's URL, for migrations (empty: `url`).
    pub migration_url: String,
    /// Run the migrations when the server starts.
    pub migrate_on_start: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RedisSettings {
    pub url: String,
    /// Prefix of every key and channel (several deployments, or tests, can share a Redis).
    pub prefix: String,
    /// This node's name (empty: random at start).
    pub node_id: String,
    pub lease_ttl_ms: u64,
    pub rpc_timeout_ms: u64,
    /// How often a node looks for panels without an owner.
    pub scan_every_ms: u64,
}

#[derive(Clone, Deserialize)]
pub struct AuthSettings {
    pub admin_key: String,
    pub token_secret: String,
    pub ws_token_ttl_s: u64,
    /// Failed authentications per client address per minute before its
    /// requests are refused without a key lookup.
    pub failed_auth_per_minute: u32,
}

impl std::fmt::Debug for AuthSettings {
    // Secrets are never printed, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("admin_key", &if self.admin_key.is_empty() { "<unset>" } else { "<redacted>" })
            .field("token_secret", &if self.token_secret.is_empty() { "<unset>" } else { "<redacted>" })
            .field("ws_token_ttl_s", &self.ws_token_ttl_s)
            .field("failed_auth_per_minute", &self.failed_auth_per_minute)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct LlmSettings {
    pub provider: String,
    pub base_url: String,
    pub model: String,
    pub api_key_env: String,
    pub temperature: f32,
    pub max_tokens: u32,
    pub request_timeout_s: u64,
    pub stall_timeout_s: u64,
    pub max_retries: u32,
    pub structured_output: String,
    pub max_concurrent_requests: usize,
    pub context_chars: usize,
    pub breaker_failures: u32,
    pub breaker_cooldown_s: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct EngineConfig {
    pub arbiters: usize,
    pub panel_mailbox: usize,
    pub max_restarts: u32,
    pub restart_backoff_ms: u64,
    /// Seconds between checks of tenants' monthly token budgets.
    pub budget_check_s: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct WsSettings {
    pub max_frame_bytes: usize,
    pub outbound_queue: usize,
    pub max_subscriptions: usize,
    pub frames_per_second: u32,
    pub max_sockets_per_key: usize,
    pub heartbeat_s: u64,
    pub client_timeout_s: u64,
    pub panel_buffer: usize,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

/// A tenant's limits (API.md `limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_concurrent_panels: u32,
    pub max_panels_per_month: u32,
    pub max_experts_per_panel: u32,
    pub requests_per_minute: u32,
    pub tokens_per_month: u64,
    /// The largest document upload, in MB.
    #[serde(default = "default_document_mb")]
    pub max_document_mb: u32,
    /// The sum of the tenant's document uploads, in MB.
    #[serde(default = "default_storage_mb")]
    pub max_storage_mb: u32,
    /// Documents the tenant may keep.
    #[serde(default = "default_documents")]
    pub max_documents: u32,
    /// Pages of one PDF.
    #[serde(default = "default_document_pages")]
    pub max_document_pages: u32,
    /// Days the audit trail keeps an entry.
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u32,
}

fn default_audit_retention_days() -> u32 {
    90
}
fn default_document_mb() -> u32 {
    10
}
fn default_storage_mb() -> u32 {
    100
}
fn default_documents() -> u32 {
    200
}
fn default_document_pages() -> u32 {
    500
}

/// Per-field overrides of a tier's limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_panels: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_panels_per_month: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_experts_per_panel: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_month: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_document_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_storage_mb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_documents: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_document_pages: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_retention_days: Option<u32>,
}

impl ServerSettings {
    /// The HTTP worker threads on a machine of `cores`: as configured, or two
    /// per core. They write every socket as well as answer the API, so under
    /// saturation they get twice the CPU share of the panel actors (one
    /// arbiter per core) that feed them: with one per core, sockets fell
    /// behind instantly streamed panels and every await of a request waited
    /// behind hundreds of sockets on its worker (README, "Performance, second
    /// round").
    pub fn http_workers(&self, cores: usize) -> usize {
        if self.workers == 0 { cores.max(1) * 2 } else { self.workers }
    }
}

impl Limits {
    pub fn with(self, o: &LimitOverrides) -> Limits {
        Limits {
            max_concurrent_panels: o.max_concurrent_panels.unwrap_or(self.max_concurrent_panels),
            max_panels_per_month: o.max_panels_per_month.unwrap_or(self.max_panels_per_month),
            max_experts_per_panel: o.max_experts_per_panel.unwrap_or(self.max_experts_per_panel),
            requests_per_minute: o.requests_per_minute.unwrap_or(self.requests_per_minute),
            tokens_per_month: o.tokens_per_month.unwrap_or(self.tokens_per_month),
            max_document_mb: o.max_document_mb.unwrap_or(self.max_document_mb),
            max_storage_mb: o.max_storage_mb.unwrap_or(self.max_storage_mb),
            max_documents: o.max_documents.unwrap_or(self.max_documents),
            max_document_pages: o.max_document_pages.unwrap_or(self.max_document_pages),
            audit_retention_days: o.audit_retention_days.unwrap_or(self.audit_retention_days),
        }
    }
}

impl Settings {
    /// Loads the layered settings; `config_dir` holds the optional files.
    pub fn load(config_dir: &std::path::Path) -> anyhow::Result<Settings> {
        let env = std::env::var("ASKPANEL_ENV").unwrap_or_else(|_| "local".into());
        let settings = config::Config::builder()
            .add_source(config::File::from_str(BUILTIN_DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from(config_dir.join("default.toml")).required(false))
            .add_source(config::File::from(config_dir.join(format!("{env}.toml"))).required(false))
            .add_source(
                config::Environment::with_prefix("ASKPANEL")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    // Lists from the environment are comma-separated.
                    .list_separator(",")
                    .with_list_parse_key("accounts.oidc_tenants")
                    .with_list_parse_key("server.allowed_origins"),
            )
            .build()
            .context("failed to read the settings")?;
        let settings: Settings = settings.try_deserialize().context("invalid settings")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        for tier in ["starter", "professional", "enterprise"] {
            anyhow::ensure!(self.tiers.contains_key(tier), "settings: tiers.{tier} is missing");
        }
        anyhow::ensure!(
            matches!(self.llm.provider.as_str(), "simulated" | "openai"),
            "settings: llm.provider must be simulated or openai"
        );
        anyhow::ensure!(
            matches!(self.log.format.as_str(), "pretty" | "json"),
            "settings: log.format must be pretty or json"
        );
        anyhow::ensure!(
            matches!(self.llm.structured_output.as_str(), "auto" | "json_schema" | "json_object" | "trailer"),
            "settings: llm.structured_output must be auto, json_schema, json_object or trailer"
        );
        anyhow::ensure!(self.ws.outbound_queue >= 8 && self.ws.panel_buffer >= 16, "settings: ws queues are too small");
        anyhow::ensure!(self.ws.max_frame_bytes >= 1024, "settings: ws.max_frame_bytes must be at least 1024");
        anyhow::ensure!(
            self.mail.smtp_url.is_empty() || !self.accounts.public_url.is_empty(),
            "settings: accounts.public_url is required when mail.smtp_url is set (the links emailed start with it)"
        );
        anyhow::ensure!(
            self.accounts.argon2_memory_kib >= 8 * 1024 && self.accounts.argon2_iterations >= 1,
            "settings: accounts.argon2_memory_kib must be at least 8192 and argon2_iterations at least 1"
        );
        anyhow::ensure!(
            self.accounts.oidc_issuer.is_empty() || !self.accounts.public_url.is_empty(),
            "settings: accounts.public_url is required with accounts.oidc_issuer (the callback the provider returns to starts with it)"
        );
        anyhow::ensure!(self.accounts.lockout_after >= 1, "settings: accounts.lockout_after must be at least 1");
        anyhow::ensure!(
            (1..=60).contains(&self.webhooks.timeout_s),
            "settings: webhooks.timeout_s must be between 1 and 60"
        );
        anyhow::ensure!(self.webhooks.retry_base_ms >= 1, "settings: webhooks.retry_base_ms must be at least 1");
        Ok(())
    }

    /// The database URL, defaulting to a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.server.data_dir.join("askpanel.db").display())
        } else {
            self.database.url.clone()
        }
    }

    pub fn tier_limits(&self, tier: &str) -> Option<Limits> {
        self.tiers.get(tier).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::ServerSettings;

    #[test]
    fn http_workers_are_two_per_core_unless_set() {
        for (workers, cores, want) in [(0, 2, 4), (0, 1, 2), (0, 0, 2), (0, 16, 32), (3, 2, 3), (1, 64, 1)] {
            let server = ServerSettings {
                bind: String::new(),
                data_dir: Default::default(),
                workers,
                shutdown_grace_s: 0,
                max_body_bytes: 0,
                body_timeout_s: 0,
                allowed_origins: Vec::new(),
                announce: false,
            };
            assert_eq!(server.http_workers(cores), want, "{workers} on {cores} cores");
        }
    }
}
