//! Every route the server has, once: what [`super::configure`] registers
//! and what the OpenAPI document ([`super::openapi`]) describes are read
//! from this table, so neither can have a route the other lacks.

use actix_web::web as aw;

use super::{admin, audit, auth, documents, experts, health, keys, notifications, panels, records, sso, tenant};
use super::{usage, users, web, webhooks};

use super::op::{Answer, Auth, Op};

macro_rules! op {
    ($method:ident $path:literal => $handler:path, $tag:literal, $auth:expr, $answer:expr, $summary:literal $(, $query:ty)?) => {
        Op {
            method: stringify!($method),
            path: $path,
            tag: $tag,
            summary: $summary,
            auth: $auth,
            answer: $answer,
            query: || {
                #[allow(unused_mut)]
                let mut params = Vec::new();
                $(params.extend(<$query as utoipa::IntoParams>::into_params(|| None));)?
                params
            },
            route: || aw::$method().to($handler),
        }
    };
}

use Answer::{Bytes, Html, Json, NoContent, Redirect, Text, Upgrade};
use Auth::{Person, Platform, Public, Share};

const ANY: Auth = Auth::Role("viewer");
const MEMBER: Auth = Auth::Role("member");
const MODERATOR: Auth = Auth::Role("moderator");
const ADMIN: Auth = Auth::Role("admin");
const OK: Answer = Json(200);
const CREATED: Answer = Json(201);

/// The operations, in the order actix matches them (a fixed path before a
/// parameter in the same place: `/v1/webhooks/event-types` before `/v1/webhooks/{id}`).
pub fn operations() -> Vec<Op> {
    vec![
        op!(get "/healthz" => health::healthz, "Operations", Public, OK, "Liveness"),
        op!(get "/readyz" => health::readyz, "Operations", Public, OK, "Readiness: the database (and Redis, when configured) answer"),
        op!(get "/metrics" => health::metrics, "Operations", Public, Text, "Prometheus metrics"),
        op!(get "/v1/openapi.json" => super::openapi::document, "Operations", Public, OK, "This document"),
        op!(get "/v1/asyncapi.json" => super::openapi::asyncapi, "Operations", Public, OK, "The WebSocket protocol as an AsyncAPI 3.0 document"),
        op!(get "/docs/api" => super::openapi::reference, "Operations", Public, Html, "The API reference as a page"),
        op!(post "/v1/admin/tenants" => admin::create_tenant, "Platform", Platform, CREATED, "Create a tenant with its first admin key"),
        op!(get "/v1/admin/tenants" => admin::list_tenants, "Platform", Platform, OK, "List tenants"),
        op!(patch "/v1/admin/tenants/{id}" => admin::update_tenant, "Platform", Platform, OK, "Change a tenant's status, tier or limits"),
        op!(get "/v1/admin/tenants/{id}" => admin::get_tenant, "Platform", Platform, OK, "Get a tenant"),
        op!(post "/v1/admin/tenants/{id}/users" => users::platform_create_user, "Platform", Platform, CREATED, "Create a person in a tenant"),
        op!(post "/v1/auth/sign-in" => auth::sign_in, "Authentication", Public, OK, "Sign in with email and password (sets the session cookie)"),
        op!(post "/v1/auth/sign-out" => auth::sign_out, "Authentication", Person, NoContent, "Sign out this session, or every session"),
        op!(get "/v1/auth/session" => auth::session, "Authentication", ANY, OK, "The caller: person or key, role, tenant"),
        op!(post "/v1/auth/password-reset" => auth::request_reset, "Authentication", Public, Json(202), "Ask for a password reset email"),
        op!(post "/v1/auth/links/inspect" => auth::inspect_link, "Authentication", Public, OK, "What an invitation or reset link is for"),
        op!(post "/v1/auth/links/redeem" => auth::redeem_link, "Authentication", Public, OK, "Accept an invitation or reset a password with a link"),
        op!(get "/v1/auth/providers" => sso::providers, "Authentication", Public, OK, "Single sign-on providers", sso::ProvidersQuery),
        op!(get "/v1/auth/oidc/start" => sso::start, "Authentication", Public, Redirect, "Begin an OpenID Connect sign-in", sso::StartQuery),
        op!(get "/v1/auth/oidc/callback" => sso::callback, "Authentication", Public, Redirect, "The identity provider's return", sso::CallbackQuery),
        op!(get "/v1/me" => users::me, "Account", Person, OK, "The signed-in person"),
        op!(patch "/v1/me" => users::update_me, "Account", Person, OK, "Change one's name"),
        op!(post "/v1/me/password" => users::change_password, "Account", Person, NoContent, "Change one's password"),
        op!(get "/v1/me/sessions" => users::my_sessions, "Account", Person, OK, "One's live sessions"),
        op!(get "/v1/users" => users::list_users, "People", ADMIN, OK, "List the tenant's people"),
        op!(get "/v1/users/{id}" => users::get_user, "People", ADMIN, OK, "Get a person"),
        op!(patch "/v1/users/{id}" => users::update_user, "People", ADMIN, OK, "Change a person's name or role"),
        op!(delete "/v1/users/{id}" => users::remove_user, "People", ADMIN, NoContent, "Remove a person"),
        op!(post "/v1/users/{id}/password-reset" => users::issue_reset, "People", ADMIN, CREATED, "Issue a password reset link for a person"),
        op!(post "/v1/invitations" => users::invite, "People", ADMIN, CREATED, "Invite a person by email"),
        op!(get "/v1/invitations" => users::list_invitations, "People", ADMIN, OK, "List open invitations"),
        op!(delete "/v1/invitations/{id}" => users::revoke_invitation, "People", ADMIN, NoContent, "Revoke an invitation"),
        op!(get "/v1/tenant" => tenant::get_tenant, "Tenant", ANY, OK, "The caller's tenant: limits, features, branding"),
        op!(patch "/v1/tenant" => tenant::update_tenant, "Tenant", ADMIN, OK, "Change the branding"),
        op!(get "/v1/tenant/defaults" => tenant::get_defaults, "Tenant", ANY, OK, "Defaults of new panels"),
        op!(put "/v1/tenant/defaults" => tenant::put_defaults, "Tenant", ADMIN, OK, "Set the defaults of new panels"),
        op!(put "/v1/tenant/logo" => tenant::put_logo, "Tenant", ADMIN, OK, "Upload the logo (the body is the image: PNG, JPEG, GIF or WebP, at most 256 KiB)"),
        op!(delete "/v1/tenant/logo" => tenant::delete_logo, "Tenant", ADMIN, OK, "Remove the logo"),
        op!(get "/v1/logos/{sha256}" => tenant::logo, "Tenant", Public, Bytes, "A logo, by the hash of its bytes"),
        op!(get "/v1/usage" => usage::usage, "Tenant", ANY, OK, "Usage: a month's figures, or by day and panel type over a range", usage::UsageQuery),
        op!(get "/v1/audit" => audit::list, "Tenant", ADMIN, OK, "The audit log", audit::AuditParams),
        op!(post "/v1/keys" => keys::create_key, "Keys", ADMIN, CREATED, "Create an API key (shown once)"),
        op!(get "/v1/keys" => keys::list_keys, "Keys", ADMIN, OK, "List the tenant's keys, with their last use"),
        op!(delete "/v1/keys/{id}" => keys::revoke_key, "Keys", ADMIN, NoContent, "Revoke a key"),
        op!(post "/v1/ws-tokens" => keys::ws_token, "Keys", ANY, OK, "A short-lived token for the WebSocket"),
        op!(get "/v1/experts" => experts::list_experts, "Experts", ANY, OK, "The expert catalog and the tenant's own experts", experts::ExpertQuery),
        op!(post "/v1/experts" => experts::create_expert, "Experts", ADMIN, CREATED, "Add an expert of the tenant's own"),
        op!(get "/v1/experts/{id}" => experts::get_expert, "Experts", ANY, OK, "Get an expert"),
        op!(patch "/v1/experts/{id}" => experts::update_expert, "Experts", ADMIN, OK, "Change an expert, or hide or prefer one"),
        op!(delete "/v1/experts/{id}" => experts::delete_expert, "Experts", ADMIN, NoContent, "Delete an own expert (archived when a panel seated it)"),
        op!(post "/v1/documents" => documents::upload, "Documents", MEMBER, Json(202), "Upload a document (multipart `file`, or JSON with the text)"),
        op!(get "/v1/documents" => documents::list, "Documents", ANY, OK, "The tenant's library", documents::ListQuery),
        op!(get "/v1/documents/search" => documents::search, "Documents", ANY, OK, "Search the library's passages", documents::SearchQuery),
        op!(get "/v1/documents/{id}" => documents::get, "Documents", ANY, OK, "Get a document"),
        op!(delete "/v1/documents/{id}" => documents::delete, "Documents", MEMBER, NoContent, "Delete a document"),
        op!(get "/v1/documents/{id}/passages" => documents::passages, "Documents", ANY, OK, "A document's passages", documents::PassagesQuery),
        op!(get "/v1/documents/{id}/passages/{n}" => documents::passage, "Documents", ANY, OK, "One passage"),
        op!(post "/v1/panels" => panels::create_panel, "Panels", MEMBER, CREATED, "Ask a question: create a panel"),
        op!(get "/v1/panels" => panels::list_panels, "Panels", ANY, OK, "List and search panels", panels::ListQuery),
        op!(get "/v1/panels/{id}" => panels::get_panel, "Panels", ANY, OK, "Get a panel", panels::GetQuery),
        op!(get "/v1/panels/{id}/events" => panels::events, "Panels", ANY, OK, "A panel's durable events (JSON pages, or Server-Sent Events with Accept: text/event-stream)", panels::EventsQuery),
        op!(get "/v1/panels/{id}/usage" => usage::panel_usage, "Panels", ANY, OK, "What a panel spent: tokens, turns, duration, by round and member"),
        op!(post "/v1/panels/{id}/input" => panels::input, "Panels", MEMBER, Json(202), "A human member's turn"),
        op!(post "/v1/panels/{id}/moderate" => panels::moderate, "Panels", MODERATOR, Json(202), "A moderator's action"),
        op!(get "/v1/panels/{id}/report" => records::report, "Records", ANY, OK, "The decision record", records::ReportQuery),
        op!(post "/v1/panels/{id}/follow-up" => records::follow_up, "Records", MEMBER, CREATED, "Ask a follow-up question of a finished panel"),
        op!(post "/v1/panels/{id}/rerun" => records::rerun, "Records", MEMBER, CREATED, "Run the same question again"),
        op!(post "/v1/panels/{id}/shares" => records::create_share, "Sharing", MODERATOR, CREATED, "Create a read-only share link"),
        op!(get "/v1/panels/{id}/shares" => records::list_shares, "Sharing", MODERATOR, OK, "List a panel's share links"),
        op!(delete "/v1/panels/{id}/shares/{share_id}" => records::revoke_share, "Sharing", MODERATOR, NoContent, "Revoke a share link"),
        op!(get "/v1/shared/{token}" => records::shared_panel, "Sharing", Share, OK, "A shared panel (redacted), with the tenant's branding"),
        op!(get "/v1/shared/{token}/report" => records::shared_report, "Sharing", Share, OK, "A shared panel's report", records::ReportQuery),
        op!(get "/v1/shared/{token}/events" => records::shared_events, "Sharing", Share, OK, "A shared panel's events (redacted)", panels::EventsQuery),
        op!(get "/v1/notifications" => notifications::list, "Notifications", Person, OK, "One's notifications, newest first", notifications::ListParams),
        op!(post "/v1/notifications/read-all" => notifications::read_all, "Notifications", Person, OK, "Mark every notification read"),
        op!(get "/v1/notifications/preferences" => notifications::get_preferences, "Notifications", Person, OK, "One's notification preferences"),
        op!(patch "/v1/notifications/preferences" => notifications::update_preferences, "Notifications", Person, OK, "Change one's notification preferences"),
        op!(post "/v1/notifications/{id}/read" => notifications::read_one, "Notifications", Person, OK, "Mark a notification read"),
        op!(post "/v1/webhooks" => webhooks::create, "Webhooks", ADMIN, CREATED, "Add a webhook endpoint (its secret shown once)"),
        op!(get "/v1/webhooks" => webhooks::list, "Webhooks", ADMIN, OK, "List webhook endpoints"),
        op!(get "/v1/webhooks/event-types" => webhooks::event_types, "Webhooks", ADMIN, OK, "The event types an endpoint may subscribe to"),
        op!(get "/v1/webhooks/{id}" => webhooks::get, "Webhooks", ADMIN, OK, "Get an endpoint"),
        op!(patch "/v1/webhooks/{id}" => webhooks::update, "Webhooks", ADMIN, OK, "Change, enable or disable an endpoint"),
        op!(delete "/v1/webhooks/{id}" => webhooks::delete, "Webhooks", ADMIN, NoContent, "Delete an endpoint"),
        op!(post "/v1/webhooks/{id}/rotate-secret" => webhooks::rotate_secret, "Webhooks", ADMIN, OK, "Rotate an endpoint's signing secret"),
        op!(post "/v1/webhooks/{id}/test" => webhooks::test, "Webhooks", ADMIN, Json(202), "Send a test event"),
        op!(get "/v1/webhooks/{id}/deliveries" => webhooks::deliveries, "Webhooks", ADMIN, OK, "An endpoint's delivery log", webhooks::DeliveryParams),
        op!(get "/v1/webhooks/{id}/deliveries/{delivery_id}" => webhooks::delivery, "Webhooks", ADMIN, OK, "A delivery with its attempts"),
        op!(post "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver" => webhooks::redeliver, "Webhooks", ADMIN, Json(202), "Deliver an event again"),
        op!(get "/v1/ws" => crate::ws::route::connect, "Live", Public, Upgrade, "The WebSocket (see /v1/asyncapi.json)", crate::ws::route::WsQuery),
        op!(get "/" => web::index, "Web page", Public, Html, "The web page"),
        op!(get "/assets/{file:.*}" => web::asset, "Web page", Public, Bytes, "The web page's files"),
    ]
}
