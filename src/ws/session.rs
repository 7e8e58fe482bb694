//! The WebSocket session actor. Inbound frames arrive as a stream into the
//! actor ([`crate::ws::inbound`]); outbound frames go through two bounded
//! queues (control and data, [`crate::ws::outbox`]) that the socket's
//! response body ([`crate::ws::writer`]) drains, so a client that does not
//! read never grows the server's memory: its data queue fills and its
//! subscriptions are told they lagged.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::ws::{CloseCode, CloseReason};
use askpanel_actors::domain::PanelId;
use futures::FutureExt;
use serde_json::Value;

use crate::auth::Principal;
use crate::panels;
use crate::state::AppState;
use crate::ws::inbound::{ClientMessage, Inbound, InboundError};
use crate::ws::outbox::{Outbound, Outbox};
use crate::ws::protocol::{ClientFrame, ServerFrame, parse_client_frame};
use crate::ws::registry::CloseSession;
use crate::ws::subscription::{Subscription, SubscriptionEnd};
use crate::ws::writer::SocketBody;

/// Consecutive refused frames (over the rate) before the socket is closed.
const FLOOD_LIMIT: u32 = 200;

pub struct WsSession {
    id: u64,
    principal: Principal,
    state: AppState,
    outbox: Outbox,
    /// Each subscription is its own task (a frame wakes it alone, not the
    /// session with its mailbox, inbound stream and heartbeat); dropping
    /// the entry ends it.
    subscriptions: HashMap<PanelId, Following>,
    /// Tells a subscription's end from the one that replaced it.
    next_subscription: u64,
    last_seen: Instant,
    /// Token bucket for client frames.
    allowance: f64,
    last_refill: Instant,
    refused_in_a_row: u32,
}

impl WsSession {
    /// Starts the session actor for an upgraded socket (the client's bytes
    /// are the upgrade's request payload); the returned body (the upgrade's
    /// response body) writes what the session queues.
    pub fn start(
        id: u64,
        principal: Principal,
        state: AppState,
        payload: actix_http::Payload,
    ) -> (Addr<WsSession>, SocketBody) {
        let (outbox, queues, gone) = crate::ws::outbox::socket(state.settings.ws.outbound_queue);
        let body = SocketBody::new(queues, state.metrics.clone());
        let max_frame = state.settings.ws.max_frame_bytes;
        let inbound = Inbound::new(payload, gone, max_frame, max_frame);
        let burst = f64::from(state.settings.ws.frames_per_second) * 2.0;
        let session = WsSession::create(|ctx| {
            ctx.add_stream(inbound);
            WsSession {
                id,
                principal,
                state,
                outbox,
                subscriptions: HashMap::new(),
                next_subscription: 0,
                last_seen: Instant::now(),
                allowance: burst,
                last_refill: Instant::now(),
                refused_in_a_row: 0,
            }
        });
        (session, body)
    }

    fn close_with(&mut self, ctx: &mut Context<Self>, code: CloseCode, reason: &str) {
        self.outbox.close(Some(CloseReason { code, description: Some(reason.to_string()) }));
        ctx.stop();
    }

    /// Takes one frame from the client's allowance.
    fn admit_frame(&mut self) -> bool {
        let rate = f64::from(self.state.settings.ws.frames_per_second);
        let now = Instant::now();
        self.allowance = (self.allowance + now.duration_since(self.last_refill).as_secs_f64() * rate).min(rate * 2.0);
        self.last_refill = now;
        if self.allowance >= 1.0 {
            self.allowance -= 1.0;
            true
        } else {
            false
        }
    }

    /// Counts a client frame against the rate: false when it is refused (the
    /// client is told; a sustained flood closes the socket).
    fn admit(&mut self, ctx: &mut Context<Self>) -> bool {
        if self.admit_frame() {
            self.refused_in_a_row = 0;
            return true;
        }
        self.refused_in_a_row += 1;
        if self.refused_in_a_row >= FLOOD_LIMIT {
            self.close_with(ctx, CloseCode::Policy, "too many frames");
        } else {
            self.outbox.error(None, "rate_limited", "too many frames; slow down", None);
        }
        false
    }

    fn on_text(&mut self, ctx: &mut Context<Self>, text: &str) {
        if !self.admit(ctx) {
            return;
        }
        let parsed = parse_client_frame(text);
        let reference = parsed.reference;
        match parsed.frame {
            Err(e) => {
                self.outbox.error(reference.as_ref(), e.code, &e.message, None);
            }
            Ok(ClientFrame::Ping { id }) => {
                self.outbox.control(ServerFrame::Pong { id: id.as_ref() }.to_text());
            }
            Ok(ClientFrame::Subscribe { panel_id, after_seq }) => self.subscribe(ctx, panel_id, after_seq, reference),
            Ok(ClientFrame::Unsubscribe { panel_id }) => {
                if self.subscriptions.remove(&panel_id).is_some() {
                    if let Some(reference) = &reference {
                        self.outbox.control(ServerFrame::Ack { reference }.to_text());
                    }
                } else {
                    self.outbox.error(
                        reference.as_ref(),
                        "not_subscribed",
                        "this socket is not subscribed to that panel",
                        Some(panel_id),
                    );
                }
            }
            Ok(ClientFrame::Input { panel_id, member_id, text, rating, confidence }) => {
                let (state, principal) = (self.state.clone(), self.principal.clone());
                self.answer(ctx, panel_id, reference, async move {
                    panels::input(&state, &principal, panel_id, &member_id, text, rating, confidence).await
                });
            }
            Ok(ClientFrame::Moderate { panel_id, action, text }) => {
                let (state, principal) = (self.state.clone(), self.principal.clone());
                self.answer(ctx, panel_id, reference, async move {
                    panels::moderate(&state, &principal, panel_id, &action, text).await
                });
            }
        }
    }

    /// Runs a command and answers with `ack` (when the frame had a ref) or `error`.
    fn answer(
        &mut self,
        ctx: &mut Context<Self>,
        panel_id: PanelId,
        reference: Option<Value>,
        command: impl std::future::Future<Output = Result<(), crate::error::ApiError>> + 'static,
    ) {
        let outbox = self.outbox.clone();
        ctx.spawn(
            async move {
                match command.await {
                    Ok(()) => {
                        if let Some(reference) = &reference {
                            outbox.control(ServerFrame::Ack { reference }.to_text());
                        }
                    }
                    Err(e) => {
                        outbox.error(reference.as_ref(), e.code(), &e.public_message(), Some(panel_id));
                    }
                }
            }
            .into_actor(self),
        );
    }

    fn subscribe(
        &mut self,
        ctx: &mut Context<Self>,
        panel_id: PanelId,
        after_seq: Option<u64>,
        reference: Option<Value>,
    ) {
        if self.subscriptions.remove(&panel_id).is_some() {
            // Subscribing again restarts the subscription from the given point.
        } else if self.subscriptions.len() >= self.state.settings.ws.max_subscriptions {
            let message = format!("at most {} subscriptions per socket", self.state.settings.ws.max_subscriptions);
            self.outbox.error(reference.as_ref(), "limit_exceeded", &message, Some(panel_id));
            return;
        }
        let task = Subscription {
            state: self.state.clone(),
            watcher: watcher(&self.principal),
            tenant: self.principal.tenant_id(),
            panel: panel_id,
            after_seq,
            reference,
            outbox: self.outbox.clone(),
        };
        let session = ctx.address();
        let id = self.next_subscription;
        self.next_subscription += 1;
        let outbox = self.outbox.clone();
        let handle = actix::spawn(async move {
            // A panic in a subscription ends it alone: the client is told,
            // the socket and its other subscriptions go on.
            let end = match std::panic::AssertUnwindSafe(task.run()).catch_unwind().await {
                Ok(end) => end,
                Err(_) => {
                    tracing::error!(panel_id = %panel_id, "a subscription panicked; it was ended");
                    outbox.error(None, "internal", "the subscription failed; subscribe again", Some(panel_id));
                    SubscriptionEnd::Refused
                }
            };
            session.do_send(SubscriptionEnded { panel: panel_id, id, end });
        });
        self.subscriptions.insert(panel_id, Following { id, task: handle });
    }
}

/// A subscription's task; dropping this ends it.
struct Following {
    id: u64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A subscription's task ended by itself.
#[derive(Message)]
#[rtype(result = "()")]
struct SubscriptionEnded {
    panel: PanelId,
    id: u64,
    end: SubscriptionEnd,
}

impl Handler<SubscriptionEnded> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: SubscriptionEnded, ctx: &mut Context<Self>) {
        if self.subscriptions.get(&msg.panel).is_some_and(|f| f.id == msg.id) {
            self.subscriptions.remove(&msg.panel);
        }
        if msg.end == SubscriptionEnd::Closed {
            ctx.stop();
        }
    }
}

/// A principal as presence shows it.
pub fn watcher(principal: &crate::auth::Principal) -> crate::presence::Watcher {
    let kind = if principal.user_id().is_some() {
        crate::presence::WatcherKind::User
    } else {
        crate::presence::WatcherKind::Key
    };
    crate::presence::Watcher { kind, id: principal.holder(), name: principal.name.clone() }
}

impl Actor for WsSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.state.sessions.register(
            self.id,
            self.principal.holder(),
            self.principal.session_id().map(|s| s.0),
            self.principal.tenant_id(),
            ctx.address().recipient(),
            ctx.address().recipient(),
        );
        self.state.metrics.ws_sessions.inc();
        crate::memory::note_work();
        tracing::debug!(session_id = self.id, tenant_id = %self.principal.tenant_id(), "websocket session started");
        let heartbeat = Duration::from_secs(self.state.settings.ws.heartbeat_s.max(1));
        let timeout = Duration::from_secs(self.state.settings.ws.client_timeout_s.max(2));
        ctx.run_interval(heartbeat, move |act, ctx| {
            if act.last_seen.elapsed() > timeout {
                return act.close_with(ctx, CloseCode::Away, "heartbeat timed out");
            }
            act.outbox.push_control(Outbound::Ping(bytes::Bytes::from_static(b"hb")));
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.subscriptions.clear();
        self.state.sessions.unregister(self.id, self.principal.holder());
        self.state.metrics.ws_sessions.dec();
        crate::memory::note_work();
        self.outbox.close(Some(CloseReason { code: CloseCode::Normal, description: None }));
        tracing::debug!(session_id = self.id, "websocket session stopped");
    }
}

impl StreamHandler<Result<ClientMessage, InboundError>> for WsSession {
    fn handle(&mut self, item: Result<ClientMessage, InboundError>, ctx: &mut Context<Self>) {
        self.last_seen = Instant::now();
        match item {
            Ok(ClientMessage::Text(text)) => self.on_text(ctx, &text),
            Ok(ClientMessage::Binary) => {
                self.outbox.error(
                    None,
                    "invalid_frame",
                    "binary frames are not supported; send JSON text frames",
                    None,
                );
            }
            // Control frames count in the frame rate like text frames: a ping
            // flood is refused (no pong) and, sustained, closes the socket.
            Ok(ClientMessage::Ping(bytes)) => {
                if self.admit(ctx) {
                    self.outbox.push_control(Outbound::Pong(bytes));
                }
            }
            Ok(ClientMessage::Pong) => {
                self.admit(ctx);
            }
            Ok(ClientMessage::Close) => self.close_with(ctx, CloseCode::Normal, "closed by the client"),
            Err(error) => {
                tracing::debug!(session_id = self.id, %error, "websocket protocol error");
                let (code, reason) = error.close();
                self.close_with(ctx, code, reason);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<crate::ws::registry::PushFrame> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: crate::ws::registry::PushFrame, _: &mut Context<Self>) {
        self.outbox.control(msg.0);
    }
}

impl Handler<CloseSession> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: CloseSession, ctx: &mut Context<Self>) {
        self.close_with(ctx, CloseCode::from(msg.code), &msg.reason);
    }
}
