//! Bodies of the platform admin's tenant routes (`routes/admin.rs`) and of
//! a tenant admin's own tenant (`routes/tenant.rs`: branding, the defaults
//! of new panels in `panels/defaults.rs`).

// Schema types: described, never built.
#![allow(dead_code)]

use utoipa::ToSchema;

use super::shared::{ConsensusMethod, PanelType, TenantStatus, Tier};

/// `POST /v1/admin/tenants` (platform admin): a tenant with its first
/// admin key (shown once in the answer). A slug already taken is a 409.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "slug": "acme-health",
    "name": "Acme Health",
    "tier": "professional",
    "limits": {"max_concurrent_panels": 20}
}))]
pub struct CreateTenantBody {
    /// 2 to 63 lowercase letters, digits or hyphens; starts with a letter or
    /// digit, does not end with a hyphen.
    #[schema(min_length = 2, max_length = 63, pattern = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")]
    slug: String,
    /// Stored trimmed; also the first display name of its branding.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    /// Default `starter`.
    tier: Option<Tier>,
    /// Overrides of the tier's limits (none by default).
    limits: Option<LimitOverrides>,
}

/// `PATCH /v1/admin/tenants/{id}` (platform admin): a tenant's status, tier
/// or limits; what is absent (or `null`) is kept.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "status": "active",
    "tier": "enterprise",
    "limits": {"max_concurrent_panels": 100, "tokens_per_month": 100000000}
}))]
pub struct UpdateTenantBody {
    status: Option<TenantStatus>,
    tier: Option<Tier>,
    /// Replaces every override: a limit left out of it is the tier's again
    /// (`{}` removes all overrides).
    limits: Option<LimitOverrides>,
}

/// Per-limit overrides of a tenant's tier; each absent (or `null`) limit is
/// the tier's.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[schema(maximum = 4294967295u32)]
    max_concurrent_panels: Option<u32>,
    #[schema(maximum = 4294967295u32)]
    max_panels_per_month: Option<u32>,
    #[schema(maximum = 4294967295u32)]
    max_experts_per_panel: Option<u32>,
    #[schema(maximum = 4294967295u32)]
    requests_per_minute: Option<u32>,
    tokens_per_month: Option<u64>,
    #[schema(maximum = 4294967295u32)]
    max_document_mb: Option<u32>,
    #[schema(maximum = 4294967295u32)]
    max_storage_mb: Option<u32>,
    #[schema(maximum = 4294967295u32)]
    max_documents: Option<u32>,
    #[schema(maximum = 4294967295u32)]
    max_document_pages: Option<u32>,
    #[schema(maximum = 4294967295u32)]
    audit_retention_days: Option<u32>,
}

/// `PATCH /v1/tenant` (admin): what the web page, share links and reports
/// show for the tenant. Only `branding` is read; an absent (or `null`)
/// `branding` changes nothing.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "branding": {
        "display_name": "Acme Health",
        "primary_color": "#0b6e4f",
        "secondary_color": "#f2a900",
        "logo_url": null
    }
}))]
pub struct UpdateBrandingBody {
    branding: Option<BrandingChange>,
}

/// A change to the branding: each absent field is kept.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandingChange {
    /// Stored trimmed; `null` keeps it.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    display_name: Option<String>,
    /// A `#rrggbb` colour; `null` keeps it.
    #[schema(pattern = r"^#[0-9A-Fa-f]{6}$")]
    primary_color: Option<String>,
    /// A `#rrggbb` colour (stored lower-cased) for accents; `null` clears it
    /// (the primary colour serves).
    #[schema(nullable, pattern = r"^#[0-9A-Fa-f]{6}$")]
    secondary_color: Option<Option<String>>,
    /// An `https://` URL or a file the server serves (`/assets/...`), at
    /// most 500 characters, no spaces, quotes, angle brackets or backslashes;
    /// `null` clears it. The server's own logos are set by uploading
    /// (`PUT /v1/tenant/logo`); pointing elsewhere lets the stored one go.
    #[schema(nullable, max_length = 500, pattern = r#"^(https://[^/\\"<>\s][^\\"<>\s]*|/assets/[^\\"<>\s]+)$"#)]
    logo_url: Option<Option<String>>,
}

/// `PUT /v1/tenant/defaults` (admin): the defaults of the tenant's new
/// panels (and follow-ups and re-runs), filling what a create request
/// leaves out or sends as `null`. The whole set: an absent or `null` field
/// clears that default (the server's own applies).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "panel_type": "delphi",
    "max_rounds": 4,
    "consensus_method": "majority",
    "human_turn_timeout_s": 600
}))]
pub struct PanelDefaultsBody {
    /// With a default format, `panel_type` may be left out of a create request.
    panel_type: Option<PanelType>,
    #[schema(minimum = 1, maximum = 20)]
    max_rounds: Option<u32>,
    consensus_method: Option<ConsensusMethod>,
    /// Seconds a human member has for a turn.
    #[schema(minimum = 5, maximum = 86400)]
    human_turn_timeout_s: Option<u64>,
}
