//! HTTP routes: one file per resource. Handlers parse, call the store, the
//! engine or [`crate::panels`], and map errors through [`ApiError`].

pub mod admin;
pub mod audit;
pub mod auth;
pub mod body;
pub mod documents;
pub mod experts;
pub mod health;
pub mod keys;
pub mod notifications;
pub mod panels;
pub mod records;
pub mod sso;
pub mod tenant;
pub mod users;
pub mod web;
pub mod webhooks;

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::{HttpRequest, HttpResponse, web as aw};

pub use body::{BodyRules, JsonBody, OptionalJsonBody};

use crate::error::ApiError;

/// Registers every route.
pub fn configure(cfg: &mut aw::ServiceConfig, body: BodyRules) {
    cfg.app_data(body)
        .app_data(aw::PathConfig::default().error_handler(|_: PathError, _| ApiError::NotFound.into()))
        .app_data(
            aw::QueryConfig::default().error_handler(|e: QueryPayloadError, _| {
                ApiError::BadRequest(format!("invalid query string: {e}")).into()
            }),
        )
        .service(res("/healthz").route(aw::get().to(health::healthz)))
        .service(res("/readyz").route(aw::get().to(health::readyz)))
        .service(res("/metrics").route(aw::get().to(health::metrics)))
        .service(
            res("/v1/admin/tenants")
                .route(aw::post().to(admin::create_tenant))
                .route(aw::get().to(admin::list_tenants)),
        )
        .service(
            res("/v1/admin/tenants/{id}")
                .route(aw::patch().to(admin::update_tenant))
                .route(aw::get().to(admin::get_tenant)),
        )
        .service(res("/v1/admin/tenants/{id}/users").route(aw::post().to(users::platform_create_user)))
        .service(res("/v1/auth/sign-in").route(aw::post().to(auth::sign_in)))
        .service(res("/v1/auth/sign-out").route(aw::post().to(auth::sign_out)))
        .service(res("/v1/auth/session").route(aw::get().to(auth::session)))
        .service(res("/v1/auth/password-reset").route(aw::post().to(auth::request_reset)))
        .service(res("/v1/auth/links/inspect").route(aw::post().to(auth::inspect_link)))
        .service(res("/v1/auth/links/redeem").route(aw::post().to(auth::redeem_link)))
        .service(res("/v1/auth/providers").route(aw::get().to(sso::providers)))
        .service(res("/v1/auth/oidc/start").route(aw::get().to(sso::start)))
        .service(res("/v1/auth/oidc/callback").route(aw::get().to(sso::callback)))
        .service(res("/v1/me").route(aw::get().to(users::me)).route(aw::patch().to(users::update_me)))
        .service(res("/v1/me/password").route(aw::post().to(users::change_password)))
        .service(res("/v1/me/sessions").route(aw::get().to(users::my_sessions)))
        .service(res("/v1/users").route(aw::get().to(users::list_users)))
        .service(
            res("/v1/users/{id}")
                .route(aw::get().to(users::get_user))
                .route(aw::patch().to(users::update_user))
                .route(aw::delete().to(users::remove_user)),
        )
        .service(res("/v1/users/{id}/password-reset").route(aw::post().to(users::issue_reset)))
        .service(
            res("/v1/invitations").route(aw::post().to(users::invite)).route(aw::get().to(users::list_invitations)),
        )
        .service(res("/v1/invitations/{id}").route(aw::delete().to(users::revoke_invitation)))
        .service(res("/v1/tenant").route(aw::get().to(tenant::get_tenant)).route(aw::patch().to(tenant::update_tenant)))
        .service(
            res("/v1/tenant/defaults")
                .route(aw::get().to(tenant::get_defaults))
                .route(aw::put().to(tenant::put_defaults)),
        )
        .service(
            res("/v1/tenant/logo").route(aw::put().to(tenant::put_logo)).route(aw::delete().to(tenant::delete_logo)),
        )
        .service(res("/v1/logos/{sha256}").route(aw::get().to(tenant::logo)))
        .service(res("/v1/usage").route(aw::get().to(tenant::usage)))
        .service(res("/v1/audit").route(aw::get().to(audit::list)))
        .service(res("/v1/keys").route(aw::post().to(keys::create_key)).route(aw::get().to(keys::list_keys)))
        .service(res("/v1/keys/{id}").route(aw::delete().to(keys::revoke_key)))
        .service(res("/v1/ws-tokens").route(aw::post().to(keys::ws_token)))
        .service(
            res("/v1/experts").route(aw::get().to(experts::list_experts)).route(aw::post().to(experts::create_expert)),
        )
        .service(
            res("/v1/experts/{id}")
                .route(aw::get().to(experts::get_expert))
                .route(aw::patch().to(experts::update_expert))
                .route(aw::delete().to(experts::delete_expert)),
        )
        .service(res("/v1/documents").route(aw::post().to(documents::upload)).route(aw::get().to(documents::list)))
        .service(res("/v1/documents/search").route(aw::get().to(documents::search)))
        .service(
            res("/v1/documents/{id}").route(aw::get().to(documents::get)).route(aw::delete().to(documents::delete)),
        )
        .service(res("/v1/documents/{id}/passages").route(aw::get().to(documents::passages)))
        .service(res("/v1/documents/{id}/passages/{n}").route(aw::get().to(documents::passage)))
        .service(res("/v1/panels").route(aw::post().to(panels::create_panel)).route(aw::get().to(panels::list_panels)))
        .service(res("/v1/panels/{id}").route(aw::get().to(panels::get_panel)))
        .service(res("/v1/panels/{id}/events").route(aw::get().to(panels::events)))
        .service(res("/v1/panels/{id}/usage").route(aw::get().to(panels::usage)))
        .service(res("/v1/panels/{id}/input").route(aw::post().to(panels::input)))
        .service(res("/v1/panels/{id}/moderate").route(aw::post().to(panels::moderate)))
        .service(res("/v1/panels/{id}/report").route(aw::get().to(records::report)))
        .service(res("/v1/panels/{id}/follow-up").route(aw::post().to(records::follow_up)))
        .service(res("/v1/panels/{id}/rerun").route(aw::post().to(records::rerun)))
        .service(
            res("/v1/panels/{id}/shares")
                .route(aw::post().to(records::create_share))
                .route(aw::get().to(records::list_shares)),
        )
        .service(res("/v1/panels/{id}/shares/{share_id}").route(aw::delete().to(records::revoke_share)))
        .service(res("/v1/shared/{token}").route(aw::get().to(records::shared_panel)))
        .service(res("/v1/shared/{token}/report").route(aw::get().to(records::shared_report)))
        .service(res("/v1/shared/{token}/events").route(aw::get().to(records::shared_events)))
        .service(res("/v1/notifications").route(aw::get().to(notifications::list)))
        .service(res("/v1/notifications/read-all").route(aw::post().to(notifications::read_all)))
        .service(
            res("/v1/notifications/preferences")
                .route(aw::get().to(notifications::get_preferences))
                .route(aw::patch().to(notifications::update_preferences)),
        )
        .service(res("/v1/notifications/{id}/read").route(aw::post().to(notifications::read_one)))
        .service(res("/v1/webhooks").route(aw::post().to(webhooks::create)).route(aw::get().to(webhooks::list)))
        .service(res("/v1/webhooks/event-types").route(aw::get().to(webhooks::event_types)))
        .service(
            res("/v1/webhooks/{id}")
                .route(aw::get().to(webhooks::get))
                .route(aw::patch().to(webhooks::update))
                .route(aw::delete().to(webhooks::delete)),
        )
        .service(res("/v1/webhooks/{id}/rotate-secret").route(aw::post().to(webhooks::rotate_secret)))
        .service(res("/v1/webhooks/{id}/test").route(aw::post().to(webhooks::test)))
        .service(res("/v1/webhooks/{id}/deliveries").route(aw::get().to(webhooks::deliveries)))
        .service(res("/v1/webhooks/{id}/deliveries/{delivery_id}").route(aw::get().to(webhooks::delivery)))
        .service(res("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver").route(aw::post().to(webhooks::redeliver)))
        .service(res("/v1/ws").route(aw::get().to(crate::ws::route::connect)))
        .service(res("/").route(aw::get().to(web::index)))
        .service(res("/assets/{file:.*}").route(aw::get().to(web::asset)));
}

/// A resource whose unsupported methods answer 405 in API.md's error shape.
fn res(path: &str) -> actix_web::Resource {
    aw::resource(path).default_service(aw::to(method_not_allowed))
}

async fn method_not_allowed() -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::MethodNotAllowed.error_response()
}

/// Unknown routes and methods answer in API.md's error shape.
pub async fn fallback(_: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::NotFound.error_response()
}

/// Records the panel in the request's span.
pub fn panel_span(panel: askpanel_actors::domain::PanelId) -> askpanel_actors::domain::PanelId {
    tracing::Span::current().record("panel_id", tracing::field::display(panel));
    panel
}

/// A page's `limit` (`default`, or 1 to `max`) and `cursor` (the
/// `next_cursor` of the page before: an id); what is wrong goes in `fields`.
pub fn page_params(
    limit: Option<u32>,
    cursor: Option<&str>,
    default: u32,
    max: u32,
    fields: &mut std::collections::BTreeMap<String, String>,
) -> (u32, Option<uuid::Uuid>) {
    let limit = limit.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        fields.insert("limit".to_string(), format!("must be 1 to {max}"));
    }
    let cursor = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        Some(cursor) => match cursor.parse::<uuid::Uuid>() {
            Ok(id) => Some(id),
            Err(_) => {
                fields.insert("cursor".to_string(), "not a cursor from this API".to_string());
                None
            }
        },
        None => None,
    };
    (limit, cursor)
}

/// Cuts a page read with `limit + 1` rows to `limit`, and says where the
/// next one starts (the last row's id), if there is one.
pub fn next_page<T>(items: &mut Vec<T>, limit: u32, id: impl Fn(&T) -> uuid::Uuid) -> Option<String> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    if more { items.last().map(|item| id(item).to_string()) } else { None }
}

/// The `{id}` path segment as a UUID; anything else is an unknown resource.
pub fn path_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}
