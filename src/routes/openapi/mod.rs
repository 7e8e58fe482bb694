//! The API's description, generated from the code: the operations from the
//! route table ([`super::table`]), query parameters from the handlers'
//! query types (`utoipa::IntoParams`), request bodies from their schema
//! types ([`bodies`], `utoipa::ToSchema`). Served as OpenAPI 3.1 at
//! `/v1/openapi.json`, as a page at `/docs/api` ([`reference`]), and the
//! WebSocket protocol as AsyncAPI 3.0 at `/v1/asyncapi.json`.

pub mod bodies;
mod page;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::op::{Answer, Auth, Op};

/// The AsyncAPI document of the WebSocket (docs/asyncapi.json, checked by tests).
pub const ASYNCAPI: &str = include_str!("../../../docs/asyncapi.json");

/// The path as OpenAPI writes it: `{file:.*}` is `{file}`.
pub fn openapi_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let name = rest[open + 1..close].split(':').next().unwrap_or("");
        out.push_str(&format!("{{{name}}}"));
        rest = rest.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// The names of a path's parameters.
fn path_params(path: &str) -> Vec<String> {
    openapi_path(path)
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(str::to_string)
        .collect()
}

fn security(auth: Auth) -> Value {
    match auth {
        Auth::Public | Auth::Share => json!([]),
        Auth::Platform => json!([{"platformKey": []}]),
        Auth::Person => json!([{"session": []}]),
        Auth::Role(_) => json!([{"apiKey": []}, {"session": []}]),
    }
}

fn who(auth: Auth) -> String {
    match auth {
        Auth::Public => "No authentication.".into(),
        Auth::Share => "No authentication: the share link's token is the capability.".into(),
        Auth::Platform => "The platform admin key.".into(),
        Auth::Person => "A signed-in person (session cookie and X-CSRF-Token on writes); not an API key.".into(),
        Auth::Role(role) => format!("A tenant API key or a signed-in person, role `{role}` or above."),
    }
}

fn success(answer: Answer) -> (String, Value) {
    let json_body = |description: &str| json!({"description": description, "content": {"application/json": {"schema": {"type": "object"}}}});
    match answer {
        Answer::Json(status) => (status.to_string(), json_body("Success")),
        Answer::NoContent => ("204".into(), json!({"description": "Done; no body"})),
        Answer::Html => (
            "200".into(),
            json!({"description": "An HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}),
        ),
        Answer::Text => (
            "200".into(),
            json!({"description": "Plain text", "content": {"text/plain": {"schema": {"type": "string"}}}}),
        ),
        Answer::Bytes => (
            "200".into(),
            json!({"description": "The file; its type in Content-Type", "content": {"*/*": {"schema": {"type": "string", "contentEncoding": "binary"}}}}),
        ),
        Answer::Redirect => ("302".into(), json!({"description": "Redirect (Location)"})),
        Answer::Upgrade => {
            ("101".into(), json!({"description": "Switching protocols: the WebSocket (see /v1/asyncapi.json)"}))
        }
    }
}

fn operation(op: &Op, bodies: &[bodies::RequestBody], schemas: &mut Map<String, Value>) -> Value {
    let mut parameters: Vec<Value> = path_params(op.path)
        .into_iter()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    for p in (op.query)() {
        parameters.push(serde_json::to_value(p).unwrap_or(Value::Null));
    }
    let (status, answer) = success(op.answer);
    let mut responses = Map::new();
    responses.insert(status, answer);
    if op.auth != Auth::Public {
        responses.insert("401".into(), json!({"$ref": "#/components/responses/Error"}));
    }
    if matches!(op.auth, Auth::Role(_) | Auth::Person | Auth::Platform) {
        responses.insert("403".into(), json!({"$ref": "#/components/responses/Error"}));
    }
    if op.path.contains('{') {
        responses.insert("404".into(), json!({"$ref": "#/components/responses/Error"}));
    }
    responses.insert("default".into(), json!({"$ref": "#/components/responses/Error"}));
    let method = op.method.to_ascii_uppercase();
    let mut out = json!({
        "operationId": operation_id(op),
        "tags": [op.tag],
        "summary": op.summary,
        "description": who(op.auth),
        "security": security(op.auth),
        "responses": responses,
    });
    if !parameters.is_empty() {
        out["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = bodies.iter().find(|b| b.method == method && b.path == op.path) {
        for (name, schema) in &body.nested {
            schemas.insert(name.clone(), serde_json::to_value(schema).unwrap_or(Value::Null));
        }
        schemas.insert(body.name.clone(), serde_json::to_value(&body.schema).unwrap_or(Value::Null));
        out["requestBody"] = json!({
            "required": body.required,
            "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", body.name)}}},
        });
    } else if op.method == "put" && op.path == "/v1/tenant/logo" {
        let image = json!({"schema": {"type": "string", "contentEncoding": "binary", "maxLength": super::tenant::MAX_LOGO_BYTES}});
        out["requestBody"] = json!({"required": true, "content": {
            "image/png": image, "image/jpeg": image, "image/gif": image, "image/webp": image}});
    }
    out
}

/// `getV1PanelsIdEvents` from `get /v1/panels/{id}/events`.
pub fn operation_id(op: &Op) -> String {
    let mut id = op.method.to_string();
    for word in openapi_path(op.path).split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    if op.path == "/" {
        id.push_str("Root");
    }
    id
}

/// The OpenAPI document of these operations.
pub fn build(operations: &[Op]) -> Value {
    let bodies = bodies::request_bodies();
    let mut schemas = Map::new();
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "description": "snake_case, e.g. not_found, validation_failed"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}, "description": "why each field was refused"}}}}}),
    );
    let mut paths = Map::new();
    let mut tags: Vec<&str> = Vec::new();
    for op in operations {
        if !tags.contains(&op.tag) {
            tags.push(op.tag);
        }
        let entry = paths.entry(openapi_path(op.path)).or_insert_with(|| json!({}));
        entry[op.method] = operation(op, &bodies, &mut schemas);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "askpanel",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Multi-tenant expert panels: ask a question, a panel of AI experts (and people) deliberates in rounds, the consensus is measured and the recommendation streams live. Every non-2xx answer has the Error body. A resource of another tenant answers exactly as one that does not exist (404).",
        },
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "A tenant API key: Authorization: Bearer <key>"},
                "platformKey": {"type": "http", "scheme": "bearer", "description": "The platform admin key"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::accounts::SESSION_COOKIE, "description": "A signed-in person's session (writes also send X-CSRF-Token)"},
            },
        },
    })
}

/// The document and the page, made once from the route table and shared
/// by every worker (`app_data`).
pub struct ApiDocs {
    json: String,
    page: String,
}

impl ApiDocs {
    pub fn new(operations: &[Op]) -> Self {
        let doc = build(operations);
        Self { page: page::render(&doc), json: serde_json::to_string(&doc).unwrap_or_default() }
    }
}

/// `GET /v1/openapi.json`
pub async fn document(docs: web::Data<ApiDocs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(docs.json.clone())
}

/// `GET /v1/asyncapi.json`
pub async fn asyncapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(ASYNCAPI)
}

/// `GET /docs/api`
pub async fn reference(docs: web::Data<ApiDocs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"))
        .body(docs.page.clone())
}

#[cfg(test)]
mod tests;
