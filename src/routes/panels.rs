//! `/v1/panels`: create, list, read, events (JSON or Server-Sent Events),
//! human input and moderation.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askpanel_actors::domain::{KeyId, PanelId, PanelStatus, TenantId};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::{JsonBody, panel_span, path_id};
use crate::auth::Principal;
use crate::bus::follow::{self, Delivery, Followed, Sink};
use crate::bus::{Frame, FrameKind, event_frame_text};
use crate::error::ApiError;
use crate::panels;
use crate::state::AppState;
use crate::store::{PanelCursor, Role, StoredEvent};
use crate::validation::Body;

const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);
const EVENTS_PAGE_MAX: u32 = 1000;

pub async fn create_panel(
    principal: Principal,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let idempotency_key = match req.headers().get("idempotency-key") {
        None => None,
        Some(v) => {
            Some(v.to_str().map_err(|_| ApiError::field("Idempotency-Key", "must be visible ASCII"))?.to_string())
        }
    };
    let (panel, existing) = panels::create(&state, &principal, body.into_inner(), idempotency_key).await?;
    let mut response = if existing { HttpResponse::Ok() } else { HttpResponse::Created() };
    Ok(response.insert_header((header::LOCATION, format!("/v1/panels/{}", panel.id))).json(panel))
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list_panels(
    principal: Principal,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 100"));
    }
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<PanelStatus>().map_err(|e| ApiError::field("status", e))?),
    };
    let cursor = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            Some(PanelCursor(PanelId(c.parse().map_err(|_| ApiError::field("cursor", "not a cursor from this API"))?)))
        }
    };
    let mut items = state.store.list_panels(principal.tenant_id(), status, limit + 1, cursor).await?;
    let next_cursor = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        items.last().map(|p| p.id.to_string())
    });
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor.flatten()})))
}

#[derive(Deserialize)]
pub struct GetQuery {
    /// `true`: ask the panel's actor, for the text so far of a turn in progress.
    live: Option<bool>,
}

/// The panel as of its last committed event, read without a message to its
/// actor; `?live=true` asks the actor, for the text so far of a turn in progress.
pub async fn get_panel(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<GetQuery>,
) -> Result<HttpResponse, ApiError> {
    let panel = panel_span(PanelId(path_id(&id)?));
    let read = if query.live == Some(true) { panels::Read::Live } else { panels::Read::Committed };
    Ok(HttpResponse::Ok().json(&*panels::get(&state, principal.tenant_id(), panel, read).await?))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<u64>,
    limit: Option<u32>,
}

pub async fn events(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<EventsQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let panel = panel_span(PanelId(path_id(&id)?));
    let tenant = principal.tenant_id();
    let summary = state.store.get_panel(tenant, panel).await?.ok_or(ApiError::NotFound)?;
    let wants_sse = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    if wants_sse {
        let last_event_id =
            req.headers().get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let after = last_event_id.or(query.after).unwrap_or(0);
        if !crate::origins::request_allowed(req.headers(), &state.settings.server.allowed_origins) {
            return Err(ApiError::Forbidden("pages of this origin may not open event streams here".into()));
        }
        // An SSE stream counts towards the key's streams like a socket, and
        // ends like one when the key is revoked or the tenant suspended.
        let max = state.settings.ws.max_sockets_per_key;
        let id = state
            .sessions
            .reserve(principal.key_id, max)
            .ok_or_else(|| ApiError::LimitExceeded(format!("at most {max} streams per key")))?;
        let close = state.sessions.register_stream(id, principal.key_id, tenant);
        let stream = SseStream { id, key_id: principal.key_id, close };
        return Ok(sse_response(state.get_ref().clone(), tenant, panel, after, stream));
    }
    let limit = query.limit.unwrap_or(500);
    if !(1..=EVENTS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::field("limit", format!("must be 1 to {EVENTS_PAGE_MAX}")));
    }
    let page = state.store.events_page(tenant, panel, query.after.unwrap_or(0), limit).await?;
    let head = page.last().map_or(summary.head_seq, |e| e.seq.max(summary.head_seq));
    // The stored JSON of each event goes out as it is: no re-serialisation.
    let mut body = String::with_capacity(page.iter().map(|e| e.body.len() + 1).sum::<usize>() + 40);
    body.push_str("{\"events\":[");
    for (i, event) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&event.body);
    }
    body.push_str(&format!("],\"head_seq\":{head}}}"));
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

/// An SSE stream's place in the registry of open streams.
struct SseStream {
    id: u64,
    key_id: KeyId,
    /// Fires when the key is revoked, the tenant suspended or the server stops.
    close: Arc<tokio::sync::Notify>,
}

/// Server-Sent Events: the events after `after`, then live ones, each once.
fn sse_response(state: AppState, tenant: TenantId, panel: PanelId, after: u64, stream: SseStream) -> HttpResponse {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    actix_web::rt::spawn(async move {
        // The receiver first, as for WebSockets: nothing committed later is missed.
        let mut live = state.bus.subscribe(panel);
        let mut sink = SseSink { tx };
        tokio::select! {
            _ = sse_feed(&state, tenant, panel, after, &mut sink, &mut live) => {}
            () = stream.close.notified() => {}
        }
        drop(live);
        state.bus.release(panel);
        state.sessions.unregister(stream.id, stream.key_id);
    });
    let body =
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx)) },
        );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

/// The SSE stream's side of following: every frame waits for room (the
/// stream is the client's own pace), an idle stream gets keep-alive
/// comments, and tokens are not sent (SSE carries durable events only).
struct SseSink {
    tx: mpsc::Sender<Bytes>,
}

impl Sink for SseSink {
    async fn stored(&mut self, panel: PanelId, event: &StoredEvent) -> bool {
        let text = event_frame_text(panel, &event.body);
        self.tx.send(Bytes::from(format!("id: {}\nevent: {}\ndata: {text}\n\n", event.seq, event.kind))).await.is_ok()
    }

    async fn event(&mut self, frame: &Arc<Frame>) -> Delivery {
        let FrameKind::Event { seq, .. } = frame.kind else { return Delivery::Skipped };
        let chunk = format!("id: {seq}\nevent: {}\ndata: {}\n\n", frame.event_kind, frame.text);
        if self.tx.send(Bytes::from(chunk)).await.is_ok() { Delivery::Sent } else { Delivery::Gone }
    }

    async fn token(&mut self, _: &Arc<Frame>, _: u64, _: usize, _: u64) -> Delivery {
        Delivery::Skipped
    }

    fn idle_after(&self) -> Option<Duration> {
        Some(SSE_KEEP_ALIVE)
    }

    async fn idle(&mut self) -> bool {
        self.tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_ok()
    }
}

/// Replays after `after`, then follows; a stream that falls behind catches
/// up from the log by itself (SSE has no `lagged`: the stream just goes on).
async fn sse_feed(
    state: &AppState,
    tenant: TenantId,
    panel: PanelId,
    after: u64,
    sink: &mut SseSink,
    live: &mut tokio::sync::broadcast::Receiver<Arc<Frame>>,
) -> Option<()> {
    sink.tx.send(Bytes::from_static(b": askpanel event stream\nretry: 2000\n\n")).await.ok()?;
    let store = state.store.as_ref();
    let mut last = follow::replay(store, tenant, panel, after, None, sink).await.ok()?;
    let summary = state.store.get_panel(tenant, panel).await.ok()??;
    if summary.status.is_terminal() && last >= summary.head_seq {
        return Some(());
    }
    loop {
        match follow::follow(store, tenant, panel, live, last, sink).await {
            Followed::Behind { last: behind } => {
                last = follow::replay(store, tenant, panel, behind, None, sink).await.ok()?
            }
            Followed::Completed | Followed::StoreFailed { .. } | Followed::Gone => return Some(()),
        }
    }
}

pub async fn input(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Member)?;
    let panel = panel_span(PanelId(path_id(&id)?));
    let mut body = Body::new(body.into_inner())?;
    let member_id: Option<String> = body.required("member_id");
    let text: Option<String> = body.required("text");
    let rating: Option<u8> = body.optional("rating");
    let confidence: Option<f64> = body.optional("confidence");
    body.finish()?;
    let (Some(member_id), Some(text)) = (member_id, text) else { unreachable!("required fields were checked") };
    panels::input(&state, &principal, panel, &member_id, text, rating, confidence).await?;
    Ok(HttpResponse::Accepted().json(json!({"status": "accepted"})))
}

pub async fn moderate(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    principal.require(Role::Moderator)?;
    let panel = panel_span(PanelId(path_id(&id)?));
    let mut body = Body::new(body.into_inner())?;
    let action: Option<String> = body.required("action");
    let text: Option<String> = body.optional("text");
    body.finish()?;
    let Some(action) = action else { unreachable!("required fields were checked") };
    panels::moderate(&state, &principal, panel, &action, text).await?;
    Ok(HttpResponse::Accepted().json(json!({"status": "accepted"})))
}
