//! `/v1/panels`: create, list, read, events (JSON or Server-Sent Events),
//! human input and moderation.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askpanel_actors::domain::{PanelId, PanelStatus, TenantId};
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
use crate::store::{Role, StoredEvent};
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
    let (panel, existing) = panels::create(&state, &principal, body.into_inner(), idempotency_key, None).await?;
    let mut response = if existing { HttpResponse::Ok() } else { HttpResponse::Created() };
    Ok(response.insert_header((header::LOCATION, format!("/v1/panels/{}", panel.id))).json(panel))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    q: Option<String>,
    panel_type: Option<String>,
    #[serde(rename = "type")]
    type_alias: Option<String>,
    created_by: Option<String>,
    expert: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A date filter: RFC 3339, or a day (`YYYY-MM-DD`: its start, or with
/// `end_of_day` the start of the next day, so `to=` a day includes it).
pub(super) fn parse_date(raw: &str, end_of_day: bool) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::Datelike;
    // Years both databases store: 1 to 9999.
    let in_range = |at: chrono::DateTime<chrono::Utc>| {
        if (1..=9999).contains(&at.year()) { Ok(at) } else { Err("must be a year from 1 to 9999".to_string()) }
    };
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(raw) {
        return in_range(at.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| "must be an RFC 3339 time or a date YYYY-MM-DD".to_string())?;
    let day = if end_of_day { day.succ_opt().ok_or("is out of range")? } else { day };
    in_range(day.and_hms_opt(0, 0, 0).ok_or("is out of range")?.and_utc())
}

/// `GET /v1/panels`: newest first, or with `q` ranked by relevance; filters
/// by type, status, creator, expert and creation date (docs/records.md).
pub async fn list_panels(
    principal: Principal,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::store::records::{PanelSearch, search_terms};
    let mut fields = std::collections::BTreeMap::new();
    let mut invalid = |field: &str, why: String| {
        fields.insert(field.to_string(), why);
    };
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        invalid("limit", "must be 1 to 100".into());
    }
    let mut search = PanelSearch { limit: limit + 1, ..PanelSearch::default() };
    if let Some(q) = nonempty(&query.q) {
        if q.chars().count() > 500 {
            invalid("q", "at most 500 characters".into());
        }
        search.terms = search_terms(&q);
        if search.terms.is_empty() {
            invalid("q", "has no word to search for (common words like 'the' are ignored)".into());
        }
    }
    if let Some(s) = nonempty(&query.status) {
        match s.parse::<PanelStatus>() {
            Ok(status) => search.status = Some(status),
            Err(e) => invalid("status", e),
        }
    }
    let (type_field, panel_type) = match (nonempty(&query.panel_type), nonempty(&query.type_alias)) {
        (Some(t), _) => ("panel_type", Some(t)),
        (None, t) => ("type", t),
    };
    if let Some(t) = panel_type {
        match serde_json::from_value::<askpanel_actors::domain::PanelType>(json!(t)) {
            Ok(t) => search.panel_type = Some(t),
            Err(_) => invalid(type_field, "must be structured, open, socratic, adversarial, delphi or hybrid".into()),
        }
    }
    if let Some(by) = nonempty(&query.created_by) {
        if by.len() > 100 {
            invalid("created_by", "at most 100 characters".into());
        }
        search.created_by = Some(by);
    }
    if let Some(expert) = nonempty(&query.expert) {
        match expert.parse::<uuid::Uuid>() {
            Ok(id) => search.expert = Some(askpanel_actors::domain::ExpertId(id)),
            Err(_) => invalid("expert", "is not an expert id".into()),
        }
    }
    for (field, raw, end) in [("from", nonempty(&query.from), false), ("to", nonempty(&query.to), true)] {
        let Some(raw) = raw else { continue };
        match parse_date(&raw, end) {
            Ok(at) if field == "from" => search.from = Some(at),
            Ok(at) => search.to = Some(at),
            Err(why) => invalid(field, why),
        }
    }
    if let Some(c) = nonempty(&query.cursor) {
        // A ranked search pages by offset (`o40`), a listing by the last id.
        match (search.terms.is_empty(), c.strip_prefix('o').map(str::parse::<u32>)) {
            (false, Some(Ok(offset))) if offset <= 10_000 => search.offset = offset,
            (true, None) => match c.parse::<uuid::Uuid>() {
                Ok(id) => search.before = Some(PanelId(id)),
                Err(_) => invalid("cursor", "not a cursor from this API".into()),
            },
            _ => invalid("cursor", "not a cursor from this API".into()),
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation { message: "the search is not valid".into(), fields });
    }
    let mut hits = state.store.search_panels(principal.tenant_id(), &search).await?;
    let more = hits.len() > limit as usize;
    hits.truncate(limit as usize);
    let next_cursor = match (more, search.terms.is_empty()) {
        (false, _) => None,
        (true, true) => hits.last().map(|h| h.panel.id.to_string()),
        (true, false) => Some(format!("o{}", search.offset + limit)),
    };
    let mut items = Vec::with_capacity(hits.len());
    for hit in hits {
        let mut item = serde_json::to_value(&hit.panel).map_err(|e| ApiError::Internal(e.into()))?;
        if let Some(matched) = hit.matched {
            item["match"] = json!(matched);
        }
        items.push(item);
    }
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next_cursor})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    let view = panels::get(&state, principal.tenant_id(), panel, read).await?;
    // Follow-ups and re-runs start only from ended panels: only those are asked for children.
    let children = if view.status.is_terminal() {
        serde_json::to_string(&state.store.children(principal.tenant_id(), panel).await?)
    } else {
        Ok("[]".to_string())
    };
    // The panel's JSON with `children` appended (no second serialisation).
    let mut body = serde_json::to_string(&*view).map_err(|e| ApiError::Internal(e.into()))?;
    let children = children.map_err(|e| ApiError::Internal(e.into()))?;
    if body.ends_with('}') {
        body.pop();
        body.push_str(",\"children\":");
        body.push_str(&children);
        body.push('}');
    }
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    pub after: Option<u64>,
    pub limit: Option<u32>,
}

pub async fn events(
    principal: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<EventsQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let panel = panel_span(PanelId(path_id(&id)?));
    events_response(
        &state,
        principal.tenant_id(),
        panel,
        &query,
        &req,
        Viewer::Principal {
            watcher: crate::ws::session::watcher(&principal),
            session: principal.session_id().map(|s| s.0),
        },
    )
    .await
}

/// Who reads a panel's events: a tenant key, or a share link (which sees
/// them redacted, and whose streams end when it is revoked or expires).
pub enum Viewer {
    /// A key or a signed-in person.
    Principal { watcher: crate::presence::Watcher, session: Option<uuid::Uuid> },
    Share {
        id: crate::store::records::ShareId,
        expires_at: chrono::DateTime<chrono::Utc>,
        /// The token's hash: a stream checks its link is still live.
        token_hash: String,
    },
}

/// `GET .../events`: a JSON page, or with `Accept: text/event-stream` a
/// Server-Sent Events stream that follows the panel live.
pub async fn events_response(
    state: &AppState,
    tenant: TenantId,
    panel: PanelId,
    query: &EventsQuery,
    req: &HttpRequest,
    viewer: Viewer,
) -> Result<HttpResponse, ApiError> {
    let summary = state.store.get_panel(tenant, panel).await?.ok_or(ApiError::NotFound)?;
    let wants_sse = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"));
    let redact = matches!(viewer, Viewer::Share { .. });
    if wants_sse {
        let last_event_id =
            req.headers().get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let after = last_event_id.or(query.after).unwrap_or(0);
        if !crate::origins::request_allowed(req.headers(), &state.settings.server.allowed_origins) {
            return Err(ApiError::Forbidden("pages of this origin may not open event streams here".into()));
        }
        // An SSE stream counts towards the key's (or the link's) streams like
        // a socket, and ends like one when the key or link is revoked or the
        // tenant suspended.
        let (watcher, session, until, recheck) = match viewer {
            Viewer::Principal { watcher, session } => (watcher, session, None, None),
            Viewer::Share { id, expires_at, token_hash } => {
                let watcher = crate::presence::Watcher {
                    kind: crate::presence::WatcherKind::Share,
                    id: id.stream_key(),
                    name: String::new(),
                };
                (watcher, None, Some(expires_at), Some(token_hash))
            }
        };
        let holder = watcher.id;
        let max = state.settings.ws.max_sockets_per_key;
        let id = state
            .sessions
            .reserve(holder, max)
            .ok_or_else(|| ApiError::LimitExceeded(format!("at most {max} streams per key, person or link")))?;
        let close = state.sessions.register_stream(id, holder, session, tenant);
        let stream = SseStream { id, holder, close, until, redact, recheck, watcher };
        return Ok(sse_response(state.clone(), tenant, panel, after, stream));
    }
    let limit = query.limit.unwrap_or(500);
    if !(1..=EVENTS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::field("limit", format!("must be 1 to {EVENTS_PAGE_MAX}")));
    }
    let page = state.store.events_page(tenant, panel, query.after.unwrap_or(0), limit).await?;
    let head = page.last().map_or(summary.head_seq, |e| e.seq.max(summary.head_seq));
    // The stored JSON of each event goes out as it is: no re-serialisation
    // (a share link's view redacts the few kinds that name a key).
    let mut body = String::with_capacity(page.iter().map(|e| e.body.len() + 1).sum::<usize>() + 40);
    body.push_str("{\"events\":[");
    for (i, event) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        match redact.then(|| crate::records::shares::redact_event(&event.kind, &event.body)).flatten() {
            Some(redacted) => body.push_str(&redacted),
            None => body.push_str(&event.body),
        }
    }
    body.push_str(&format!("],\"head_seq\":{head}}}"));
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

/// An SSE stream's place in the registry of open streams.
struct SseStream {
    id: u64,
    holder: uuid::Uuid,
    /// Fires when the key (or link) is revoked, the tenant suspended or the server stops.
    close: Arc<tokio::sync::Notify>,
    /// A share link's expiry: the stream ends then.
    until: Option<chrono::DateTime<chrono::Utc>>,
    /// A share link's stream: events that name a key are redacted.
    redact: bool,
    /// A share link's token hash: the stream checks the link is still live
    /// right after it registers (a revocation in between closed nothing) and
    /// then every [`SHARE_RECHECK`] (a node that missed the revocation's
    /// message still ends the stream).
    recheck: Option<String>,
    /// Who watches (presence).
    watcher: crate::presence::Watcher,
}

const SHARE_RECHECK: Duration = Duration::from_secs(10);

/// Server-Sent Events: the events after `after`, then live ones, each once.
fn sse_response(state: AppState, tenant: TenantId, panel: PanelId, after: u64, stream: SseStream) -> HttpResponse {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    actix_web::rt::spawn(async move {
        // The receiver first, as for WebSockets: nothing committed later is missed.
        let mut live = state.bus.subscribe(panel);
        let _watching = state.presence.join(panel, stream.watcher.clone(), Vec::new());
        let mut sink = SseSink { tx, redact: stream.redact };
        let expiry = async {
            match stream.until {
                Some(until) => tokio::time::sleep((until - chrono::Utc::now()).to_std().unwrap_or_default()).await,
                None => std::future::pending::<()>().await,
            }
        };
        let store = state.store.clone();
        let revoked = async {
            let Some(hash) = &stream.recheck else { return std::future::pending::<()>().await };
            loop {
                match store.find_share(hash).await {
                    Ok(Some(share)) if share.is_live(chrono::Utc::now()) => {}
                    Ok(_) => return,
                    // A database hiccup does not end a stream; the next check decides.
                    Err(_) => {}
                }
                tokio::time::sleep(SHARE_RECHECK).await;
            }
        };
        tokio::select! {
            _ = sse_feed(&state, tenant, panel, after, &mut sink, &mut live) => {}
            () = stream.close.notified() => {}
            () = expiry => {}
            () = revoked => {}
        }
        drop(live);
        state.bus.release(panel);
        state.sessions.unregister(stream.id, stream.holder);
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
    redact: bool,
}

impl Sink for SseSink {
    async fn stored(&mut self, panel: PanelId, event: &StoredEvent) -> bool {
        let redacted = self.redact.then(|| crate::records::shares::redact_event(&event.kind, &event.body)).flatten();
        let text = event_frame_text(panel, redacted.as_deref().unwrap_or(&event.body));
        self.tx.send(Bytes::from(format!("id: {}\nevent: {}\ndata: {text}\n\n", event.seq, event.kind))).await.is_ok()
    }

    async fn event(&mut self, frame: &Arc<Frame>) -> Delivery {
        let FrameKind::Event { seq, .. } = frame.kind else { return Delivery::Skipped };
        let redacted =
            self.redact.then(|| crate::records::shares::redact_event(frame.event_kind, &frame.text)).flatten();
        let chunk =
            format!("id: {seq}\nevent: {}\ndata: {}\n\n", frame.event_kind, redacted.as_deref().unwrap_or(&frame.text));
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
