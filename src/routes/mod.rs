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
pub mod op;
pub mod openapi;
pub mod panels;
pub mod records;
pub mod sso;
pub mod table;
pub mod tenant;
pub mod usage;
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
        .app_data(aw::QueryConfig::default().error_handler(|e: QueryPayloadError, _| {
            ApiError::BadRequest(format!("invalid query string: {e}")).into()
        }));
    // The API's description, made once from the same table.
    static DOCS: std::sync::OnceLock<std::sync::Arc<openapi::ApiDocs>> = std::sync::OnceLock::new();
    let operations = table::operations();
    let docs = DOCS.get_or_init(|| std::sync::Arc::new(openapi::ApiDocs::new(&operations)));
    cfg.app_data(aw::Data::from(docs.clone()));
    // One resource per path, its methods together, in the table's order.
    let mut resources: Vec<(&'static str, actix_web::Resource)> = Vec::new();
    for op in operations {
        match resources.iter_mut().find(|(path, _)| *path == op.path) {
            Some((_, resource)) => {
                let taken = std::mem::replace(resource, aw::resource(op.path));
                *resource = taken.route((op.route)());
            }
            None => resources.push((op.path, res(op.path).route((op.route)()))),
        }
    }
    for (_, resource) in resources {
        cfg.service(resource);
    }
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
