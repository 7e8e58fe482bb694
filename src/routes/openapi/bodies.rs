//! The JSON request bodies of the HTTP API, as OpenAPI 3.1 schemas: one
//! `utoipa::ToSchema` type per body, read from what its handler accepts
//! (the handler is the truth; the docs follow it). The types are never
//! built: they only describe. [`request_bodies`] pairs each with its
//! operation (method and path as in [`super::super::table`]).
//!
//! Conventions, as the handlers read bodies ([`crate::validation::Body`]):
//! - Every body refuses unknown fields (`additionalProperties: false`).
//! - An optional field is `Option<T>`, nullable: `null` reads as absent,
//!   except where a field says `nullable = false` (its handler refuses
//!   `null`) or says that `null` clears something (`Option<Option<T>>`).
//! - A required field sent as `null` is missing (422 `is required`).
//! - Strings that the handler trims before checking their length carry
//!   `pattern: \S` (at least one character that is not white space).
//! - Ids are UUID strings (`format: uuid`).
//!
//! One module per area: [`accounts`] (sign-in, people, keys), [`tenants`]
//! (platform admin, branding, defaults), [`panels`] (panels, their records
//! and share links), [`library`] (experts, documents), [`webhooks`] and
//! [`notifications`]; [`shared`] holds the enums several of them use.

mod accounts;
mod library;
mod notifications;
mod panels;
mod shared;
mod tenants;
mod webhooks;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

/// A request body of an operation.
pub struct RequestBody {
    /// `POST`, `PATCH`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// Exactly as the route table has it, e.g. `/v1/panels/{id}/input`.
    pub path: &'static str,
    /// `false` for a body that may be left out (an empty body reads as `{}`).
    pub required: bool,
    /// The schema's component name (`T::name()`).
    pub name: String,
    /// The schema itself (`<T as utoipa::PartialSchema>::schema()`).
    pub schema: RefOr<Schema>,
    /// The components it refers to, by name (`T::schemas(&mut v)`).
    pub nested: Vec<(String, RefOr<Schema>)>,
}

/// The description of one operation's body, of type `T`.
fn describe<T: utoipa::ToSchema>(method: &'static str, path: &'static str, required: bool) -> RequestBody {
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    RequestBody {
        method,
        path,
        required,
        name: T::name().into_owned(),
        schema: <T as utoipa::PartialSchema>::schema(),
        nested,
    }
}

/// `"POST" "/v1/keys" => CreateKeyBody`, or `=> optional WsTokenBody` for a
/// body that may be left out (`OptionalJsonBody`).
macro_rules! body {
    ($method:literal $path:literal => optional $body:ty) => {
        describe::<$body>($method, $path, false)
    };
    ($method:literal $path:literal => $body:ty) => {
        describe::<$body>($method, $path, true)
    };
}

/// Every operation's request body, in the route table's order. Operations
/// without one are not listed: those whose handler reads no body, and
/// `PUT /v1/tenant/logo` (the image's bytes, not JSON).
pub fn request_bodies() -> Vec<RequestBody> {
    vec![
        body!("POST" "/v1/admin/tenants" => tenants::CreateTenantBody),
        body!("PATCH" "/v1/admin/tenants/{id}" => tenants::UpdateTenantBody),
        body!("POST" "/v1/admin/tenants/{id}/users" => accounts::PlatformCreateUserBody),
        body!("POST" "/v1/auth/sign-in" => accounts::SignInBody),
        body!("POST" "/v1/auth/sign-out" => optional accounts::SignOutBody),
        body!("POST" "/v1/auth/password-reset" => accounts::PasswordResetRequestBody),
        body!("POST" "/v1/auth/links/inspect" => accounts::InspectLinkBody),
        body!("POST" "/v1/auth/links/redeem" => accounts::RedeemLinkBody),
        body!("PATCH" "/v1/me" => accounts::UpdateMeBody),
        body!("POST" "/v1/me/password" => accounts::ChangePasswordBody),
        body!("PATCH" "/v1/users/{id}" => accounts::UpdateUserBody),
        body!("POST" "/v1/invitations" => accounts::InvitationBody),
        body!("PATCH" "/v1/tenant" => tenants::UpdateBrandingBody),
        body!("PUT" "/v1/tenant/defaults" => tenants::PanelDefaultsBody),
        body!("POST" "/v1/keys" => accounts::CreateKeyBody),
        body!("POST" "/v1/ws-tokens" => optional accounts::WsTokenBody),
        body!("POST" "/v1/experts" => library::CreateExpertBody),
        body!("PATCH" "/v1/experts/{id}" => library::UpdateExpertBody),
        body!("POST" "/v1/documents" => library::UploadDocumentBody),
        body!("POST" "/v1/panels" => panels::CreatePanelBody),
        body!("POST" "/v1/panels/{id}/input" => panels::HumanInputBody),
        body!("POST" "/v1/panels/{id}/moderate" => panels::ModerateBody),
        body!("POST" "/v1/panels/{id}/follow-up" => panels::FollowUpBody),
        body!("POST" "/v1/panels/{id}/rerun" => optional panels::RerunBody),
        body!("POST" "/v1/panels/{id}/shares" => optional panels::CreateShareBody),
        body!("PATCH" "/v1/notifications/preferences" => notifications::NotificationPreferencesBody),
        body!("POST" "/v1/webhooks" => webhooks::CreateWebhookBody),
        body!("PATCH" "/v1/webhooks/{id}" => webhooks::UpdateWebhookBody),
    ]
}
