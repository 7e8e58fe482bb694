//! The string enums several bodies use, with the exact values their
//! handlers accept (the serde names of the domain types).

// Schema types: described, never built.
#![allow(dead_code)]

use utoipa::ToSchema;

/// A role: each can do what the ones before it can (`viewer` < `member` <
/// `moderator` < `admin`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Moderator,
    Admin,
}

/// A tenant's tier: the defaults of its limits.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Starter,
    Professional,
    Enterprise,
}

/// Whether a tenant may work: a suspended tenant's requests get 403
/// `tenant_suspended` and its running panels pause until it is active again.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

/// A deliberation format, with its number of members: `structured` 3 to 8,
/// `open` 3 to 12, `socratic` 3 to 8, `adversarial` 4 to 10, `delphi` 5 to
/// 12, `hybrid` (AI experts and people, in a base flow) 3 to 12.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PanelType {
    Structured,
    Open,
    Socratic,
    Adversarial,
    Delphi,
    Hybrid,
}

/// How a round's ratings become a consensus.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsensusMethod {
    RandUcla,
    ConfidenceWeighted,
    Majority,
}

/// A side of an adversarial panel.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    Pro,
    Con,
}
