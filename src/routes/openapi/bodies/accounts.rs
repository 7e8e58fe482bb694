//! Bodies of sign-in and one-time links (`routes/auth.rs`), people and the
//! caller's account (`routes/users.rs`), and keys (`routes/keys.rs`); see
//! `docs/accounts.md`.

// Schema types: described, never built.
#![allow(dead_code)]

use utoipa::ToSchema;

use super::shared::Role;

/// `POST /v1/auth/sign-in`: a person signs in to a tenant with a password.
/// A wrong tenant, address or password is the same 401 (the account locks
/// for a while after repeated failures: 429).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "tenant": "acme-health",
    "email": "dana.okafor@acme-health.example",
    "password": "corr3ct-h0rse-battery"
}))]
pub struct SignInBody {
    /// The tenant's slug.
    #[schema(min_length = 1, max_length = 100)]
    tenant: String,
    /// The person's address (case and surrounding spaces do not matter).
    #[schema(format = Email, min_length = 1, max_length = 254)]
    email: String,
    #[schema(format = Password, min_length = 1, max_length = 256)]
    password: String,
}

/// `POST /v1/auth/sign-out`: ends the caller's session (a signed-in person;
/// an API key is refused with 400). The body may be left out.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"everywhere": true}))]
pub struct SignOutBody {
    /// `true`: every session of the person ends, not only this one. Default `false`.
    everywhere: Option<bool>,
}

/// `POST /v1/auth/password-reset`: asks for a reset link by email. Always
/// 202, whether or not the address has an account there.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"tenant": "acme-health", "email": "dana.okafor@acme-health.example"}))]
pub struct PasswordResetRequestBody {
    /// The tenant's slug.
    #[schema(min_length = 1, max_length = 100)]
    tenant: String,
    #[schema(format = Email, min_length = 1, max_length = 254)]
    email: String,
}

/// `POST /v1/auth/links/inspect`: what a one-time link (invitation or
/// reset) is for, without using it. An unknown, used or expired token is 404.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "token": "0193a5f2-7c1e-7b3a-9d4e-2f6a8c0b1d3e.0193b7d4-1a2b-7c3d-8e4f-5a6b7c8d9e0f.q3Vh1mYpXo8zR2sL5tW9bN4cJ7dK0aEf"
}))]
pub struct InspectLinkBody {
    /// The link's `token`: `<tenant id>.<token id>.<secret>`.
    #[schema(min_length = 1, max_length = 200)]
    token: String,
}

/// `POST /v1/auth/links/redeem`: uses a one-time link. An invitation sets
/// the password, activates the account and signs the person in (200, as
/// sign-in); a reset sets the password and ends every session (204).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "token": "0193a5f2-7c1e-7b3a-9d4e-2f6a8c0b1d3e.0193b7d4-1a2b-7c3d-8e4f-5a6b7c8d9e0f.q3Vh1mYpXo8zR2sL5tW9bN4cJ7dK0aEf",
    "password": "lantern-orbit-47-quiet",
    "name": "Sam Lee"
}))]
pub struct RedeemLinkBody {
    /// The link's `token`: `<tenant id>.<token id>.<secret>`.
    #[schema(min_length = 1, max_length = 200)]
    token: String,
    /// The new password: 10 to 256 characters, at least 4 different ones,
    /// not the email address nor (when shorter than 20) built on its name.
    #[schema(format = Password, min_length = 10, max_length = 256)]
    password: String,
    /// The name to be shown, replacing the one the account has (empty or
    /// blank: kept).
    #[schema(max_length = 100)]
    name: Option<String>,
}

/// `PATCH /v1/me`: the signed-in person changes their name (an API key is
/// refused with 400).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Dana Okafor"}))]
pub struct UpdateMeBody {
    /// Stored trimmed.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
}

/// `POST /v1/me/password`: the signed-in person changes their password;
/// their other sessions end.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "current_password": "corr3ct-h0rse-battery",
    "new_password": "lantern-orbit-47-quiet"
}))]
pub struct ChangePasswordBody {
    /// Checked as a sign-in attempt (failures count towards the lockout); a
    /// wrong one is a 422 naming this field.
    #[schema(format = Password)]
    current_password: String,
    /// 10 to 256 characters, at least 4 different ones, not the email
    /// address nor (when shorter than 20) built on its name.
    #[schema(format = Password, min_length = 10, max_length = 256)]
    new_password: String,
}

/// `PATCH /v1/users/{id}` (admin): a person's name or role. The tenant's
/// last active admin cannot be demoted (409); a removed person cannot be
/// changed (409). An empty object changes nothing.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "moderator"}))]
pub struct UpdateUserBody {
    /// Stored trimmed.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    role: Option<Role>,
}

/// `POST /v1/invitations` (admin): invites a person by email (or again: a
/// new link, the old one void). The link is emailed, or returned when the
/// server sends no mail. An active member's address is a 409.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "sam.lee@acme-health.example", "role": "member", "name": "Sam Lee"}))]
pub struct InvitationBody {
    /// Stored trimmed and lower-cased.
    #[schema(format = Email, max_length = 254)]
    email: String,
    /// The role the person will have.
    role: Role,
    /// The name to be shown until they choose one (empty or absent: the
    /// part of the address before `@`).
    #[schema(max_length = 100)]
    name: Option<String>,
}

/// `POST /v1/admin/tenants/{id}/users` (platform admin): a person in a
/// tenant, typically its first admin. With `password` the account is
/// active at once (an address already known there is a 409); without, it is
/// an invitation (as `POST /v1/invitations`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "dana.okafor@acme-health.example",
    "role": "admin",
    "name": "Dana Okafor",
    "password": "corr3ct-h0rse-battery"
}))]
pub struct PlatformCreateUserBody {
    /// Stored trimmed and lower-cased.
    #[schema(format = Email, max_length = 254)]
    email: String,
    role: Role,
    /// The name to be shown (empty or absent: the part of the address before `@`).
    #[schema(max_length = 100)]
    name: Option<String>,
    /// The account's password: 10 to 256 characters, at least 4 different
    /// ones, not the email address nor (when shorter than 20) built on its
    /// name. Must be a string when present (`null` is refused).
    #[schema(format = Password, min_length = 10, max_length = 256, nullable = false)]
    password: Option<String>,
}

/// `POST /v1/keys` (admin): a new API key, shown once in the answer.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "member", "name": "CI pipeline"}))]
pub struct CreateKeyBody {
    role: Role,
    /// Stored trimmed.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
}

/// `POST /v1/ws-tokens`: a short-lived token for the WebSocket. No fields
/// are defined: the body is left out or is `{}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct WsTokenBody {}
