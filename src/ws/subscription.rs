//! One panel subscription of a socket: authorise, snapshot, replay from the
//! database after `after_seq`, then forward live frames from the bus.
//!
//! Exactly once, in order: the bus receiver is taken before the database is
//! read, so every event committed later arrives on it; events are forwarded
//! only when their seq is the next one expected (older ones are dropped,
//! a gap is filled from the database). Tokens are forwarded only for a turn
//! whose `turn_started` the client has, and not again for the part of the
//! turn already in the snapshot. A client that cannot keep up (its queue is
//! full, or the bus buffer overflowed) gets `lagged` and this subscription
//! ends; it resumes with `after_seq`.

use std::time::Instant;

use askpanel_actors::domain::{PanelId, TenantId};
use bytestring::ByteString;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::bus::{FrameKind, event_frame_text};
use crate::panels;
use crate::state::AppState;
use crate::ws::protocol::ServerFrame;

/// Events read from the database per query during a replay.
const REPLAY_PAGE: u32 = 500;

/// A frame on its way to the socket.
#[derive(Debug)]
pub enum Outbound {
    Text { text: ByteString, published_at: Option<Instant> },
    Ping(bytes::Bytes),
    Pong(bytes::Bytes),
}

/// The two queues of a socket: control frames (acks, errors, lagged, pongs)
/// have their own small queue so they get through when data backs up.
#[derive(Clone)]
pub struct Outbox {
    pub data: mpsc::Sender<Outbound>,
    pub control: mpsc::Sender<Outbound>,
}

impl Outbox {
    /// Queues a control frame; false when even the control queue is full.
    pub fn control(&self, text: String) -> bool {
        self.control.try_send(Outbound::Text { text: ByteString::from(text), published_at: None }).is_ok()
    }

    pub fn error(&self, reference: Option<&Value>, code: &str, message: &str, panel_id: Option<PanelId>) -> bool {
        self.control(ServerFrame::Error { reference, code, message, panel_id }.to_text())
    }
}

/// How a subscription ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SubscriptionEnd {
    /// Refused (unknown panel, storage error): an error frame was sent.
    Refused,
    /// The panel ended and its last event was delivered.
    Completed,
    /// The client fell behind: `lagged` was sent.
    Lagged,
    /// The socket is gone.
    Closed,
}

pub struct Subscription {
    pub state: AppState,
    pub tenant: TenantId,
    pub panel: PanelId,
    pub after_seq: Option<u64>,
    pub reference: Option<Value>,
    pub outbox: Outbox,
}

enum Push {
    Sent,
    Full,
    Closed,
}

impl Subscription {
    fn push(&self, text: ByteString, published_at: Option<Instant>) -> Push {
        match self.outbox.data.try_send(Outbound::Text { text, published_at }) {
            Ok(()) => Push::Sent,
            Err(mpsc::error::TrySendError::Full(_)) => Push::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Push::Closed,
        }
    }

    /// Stops following the panel and tells the client where to resume. The
    /// `lagged` frame queues behind the frames already queued for this
    /// client, so it arrives right after event `last`: the client's last seq
    /// equals `resume_after_seq`. Waiting for room holds nothing but this
    /// task (the bus drops what it no longer reads).
    async fn lagged(&self, last: u64) -> SubscriptionEnd {
        self.state.metrics.lagged.inc();
        let text = ByteString::from(ServerFrame::Lagged { panel_id: self.panel, resume_after_seq: last }.to_text());
        match self.outbox.data.send(Outbound::Text { text, published_at: None }).await {
            Ok(()) => SubscriptionEnd::Lagged,
            Err(_) => SubscriptionEnd::Closed,
        }
    }

    /// Sends the stored events after `from` (up to `until` when given);
    /// returns the last seq sent, or how the subscription ended.
    async fn replay(&self, mut from: u64, until: Option<u64>) -> Result<u64, SubscriptionEnd> {
        loop {
            let page = match self.state.store.events_page(self.tenant, self.panel, from, REPLAY_PAGE).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(tenant_id = %self.tenant, panel_id = %self.panel, %error, "replay failed");
                    self.outbox.error(
                        self.reference.as_ref(),
                        "unavailable",
                        "the event log is unavailable; resubscribe with after_seq",
                        Some(self.panel),
                    );
                    return Err(SubscriptionEnd::Refused);
                }
            };
            let full = page.len() as u32 == REPLAY_PAGE;
            for event in page {
                if until.is_some_and(|u| event.seq > u) {
                    return Ok(from);
                }
                let text = ByteString::from(event_frame_text(self.panel, &event.body));
                // A replay may wait for the client: it is the client's own catch-up.
                if self.outbox.data.send(Outbound::Text { text, published_at: None }).await.is_err() {
                    return Err(SubscriptionEnd::Closed);
                }
                from = event.seq;
            }
            if !full {
                return Ok(from);
            }
        }
    }

    pub async fn run(self) -> SubscriptionEnd {
        let (tenant, panel) = (self.tenant, self.panel);
        match self.state.store.get_panel(tenant, panel).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                self.outbox.error(self.reference.as_ref(), "not_found", "panel not found", Some(panel));
                return SubscriptionEnd::Refused;
            }
            Err(_) => {
                self.outbox.error(self.reference.as_ref(), "unavailable", "the database is unavailable", Some(panel));
                return SubscriptionEnd::Refused;
            }
        }
        // The receiver first: what is committed from now on reaches it.
        let mut live = self.state.bus.subscribe(panel);
        let snapshot = match panels::get(&self.state, tenant, panel, panels::Read::Live).await {
            Ok(view) => view,
            Err(e) => {
                self.outbox.error(self.reference.as_ref(), e.code(), &e.public_message(), Some(panel));
                return SubscriptionEnd::Refused;
            }
        };
        let head = snapshot.head_seq;
        let terminal = snapshot.status.is_terminal();
        // The part of the current turn the snapshot already holds.
        let partial = snapshot.current_turn.as_ref().map(|t| (t.turn_seq, t.text.chars().count()));
        let subscribed = ServerFrame::Subscribed {
            panel_id: panel,
            head_seq: head,
            snapshot: &snapshot,
            reference: self.reference.as_ref(),
        }
        .to_text();
        if let Some(reference) = &self.reference {
            self.outbox.control(ServerFrame::Ack { reference }.to_text());
        }
        if self
            .outbox
            .data
            .send(Outbound::Text { text: ByteString::from(subscribed), published_at: None })
            .await
            .is_err()
        {
            return SubscriptionEnd::Closed;
        }
        drop(snapshot);
        let mut last = match self.after_seq {
            Some(after) if after < head => match self.replay(after, None).await {
                Ok(last) => last,
                Err(end) => return end,
            },
            Some(after) => after,
            None => head,
        };
        if terminal && last >= head {
            return SubscriptionEnd::Completed;
        }
        loop {
            let frame = match live.recv().await {
                Ok(frame) => frame,
                Err(RecvError::Lagged(_)) => return self.lagged(last).await,
                Err(RecvError::Closed) => return SubscriptionEnd::Closed,
            };
            match frame.kind {
                FrameKind::Event { seq, terminal } => {
                    if seq <= last {
                        continue;
                    }
                    if seq > last + 1 {
                        // Missed events (another node published them, or a restart): fill from the log.
                        match self.replay(last, Some(seq - 1)).await {
                            Ok(filled) => last = filled,
                            Err(end) => return end,
                        }
                        if seq != last + 1 {
                            return self.lagged(last).await;
                        }
                    }
                    match self.push(frame.text.clone(), Some(frame.published_at)) {
                        Push::Sent => last = seq,
                        Push::Full => return self.lagged(last).await,
                        Push::Closed => return SubscriptionEnd::Closed,
                    }
                    if terminal {
                        return SubscriptionEnd::Completed;
                    }
                }
                // Frames from other nodes may have been lost: the client resumes from the log.
                FrameKind::Resync => return self.lagged(last).await,
                FrameKind::Token { turn_seq, offset } => {
                    let seen_start = turn_seq <= last;
                    let in_snapshot = partial.is_some_and(|(t, chars)| t == turn_seq && offset < chars);
                    if !seen_start || in_snapshot {
                        continue;
                    }
                    match self.push(frame.text.clone(), Some(frame.published_at)) {
                        Push::Sent => {}
                        Push::Full => return self.lagged(last).await,
                        Push::Closed => return SubscriptionEnd::Closed,
                    }
                }
            }
        }
    }
}
