//! The `GET /v1/ws` upgrade: authenticate (a `?token=` from `/v1/ws-tokens`,
//! or the `Authorization` header), reserve a socket for the key, start the
//! session actor.

use actix_web::body::{BodyStream, MessageBody};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::auth::bearer;
use crate::error::ApiError;
use crate::extract::{admit, authenticate, principal_for_ws_claims};
use crate::state::AppState;
use crate::ws::session::WsSession;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    token: Option<String>,
}

pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<WsQuery>,
) -> Result<HttpResponse, ApiError> {
    if !crate::origins::request_allowed(req.headers(), &state.settings.server.allowed_origins) {
        return Err(ApiError::Forbidden("pages of this origin may not open sockets here".into()));
    }
    if state.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::Unavailable("the server is shutting down".into()));
    }
    let principal = match (&query.token, bearer(req.headers().get("authorization").and_then(|h| h.to_str().ok()))) {
        (Some(token), _) => {
            let claims = state.auth.verify_ws_token(token)?;
            principal_for_ws_claims(&state, &claims).await?
        }
        (None, Some(key)) => authenticate(&state, &req, key).await?,
        (None, None) => {
            return Err(ApiError::Unauthorized(
                "authenticate with ?token= from /v1/ws-tokens or an Authorization header".into(),
            ));
        }
    };
    admit(&state, &req, &principal).await?;
    let max = state.settings.ws.max_sockets_per_key;
    let id = state
        .sessions
        .reserve(principal.holder(), max)
        .ok_or_else(|| ApiError::LimitExceeded(format!("at most {max} sockets per key or person")))?;
    let mut response = match actix_http::ws::handshake(req.head()) {
        Ok(response) => response,
        Err(e) => {
            state.sessions.unregister(id, principal.holder());
            return Err(ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")));
        }
    };
    let (_, body) = WsSession::start(id, principal, state.get_ref().clone(), body.into_inner());
    let response = response
        .message_body(BodyStream::new(body).boxed())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("the upgrade response: {e}")))?;
    Ok(HttpResponse::from(response))
}
