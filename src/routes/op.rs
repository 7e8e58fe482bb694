//! An operation of the route table: its method, path, handler and what
//! the API's description says of it ([`super::table`] lists them,
//! [`super::configure`] routes them, [`super::openapi`] describes them).

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Anyone (no credentials).
    Public,
    /// A tenant's API key or a signed-in person, with at least this role.
    Role(&'static str),
    /// A signed-in person (a session), not a key.
    Person,
    /// The platform admin key.
    Platform,
    /// Anyone holding a live share link (the token is in the path).
    Share,
}

/// What an operation answers with when it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// JSON, with this status.
    Json(u16),
    /// 204, no body.
    NoContent,
    /// An HTML page.
    Html,
    /// Plain text (Prometheus' exposition format).
    Text,
    /// Bytes of a type named at run time (images, assets, reports).
    Bytes,
    /// A redirect (302).
    Redirect,
    /// The WebSocket upgrade (101).
    Upgrade,
}

/// One operation: a method on a path.
pub struct Op {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: &'static str,
    /// The path as actix routes it (`{id}`; `{file:.*}` takes the rest).
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub answer: Answer,
    /// Query parameters, from the handler's query type.
    pub query: fn() -> Vec<utoipa::openapi::path::Parameter>,
    /// The actix route (method and handler).
    pub route: fn() -> actix_web::Route,
}
