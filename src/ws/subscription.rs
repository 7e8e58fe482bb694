//! One panel subscription of a socket: authorise, snapshot, replay from the
//! database after `after_seq`, then forward live frames from the bus, with
//! the one follow algorithm of [`crate::bus::follow`] (exactly once, in
//! order, gaps filled from the log).
//!
//! What a socket adds: tokens are forwarded only for a turn whose
//! `turn_started` the client has, and not again for the part of the turn
//! already in the snapshot; a client that cannot keep up (its queue is full,
//! or the bus buffer overflowed) gets `lagged` and this subscription ends; it
//! resumes with `after_seq`.

use std::sync::Arc;

use askpanel_actors::domain::{PanelId, TenantId};
use bytestring::ByteString;
use serde_json::Value;

use crate::bus::follow::{self, Delivery, Followed, ReplayError, Sink};
use crate::bus::{Frame, event_frame_text};
use crate::panels;
use crate::state::AppState;
use crate::store::StoredEvent;
use crate::ws::outbox::{Outbound, Outbox, Refused};
use crate::ws::protocol::{ServerFrame, Snapshot};

/// The human seats of a panel and who holds each (a person or a key).
pub fn seats(view: &askpanel_actors::panel::view::PanelView) -> Vec<(askpanel_actors::domain::MemberId, uuid::Uuid)> {
    view.members
        .iter()
        .filter_map(|m| m.user_id.map(|u| u.0).or(m.key_id.map(|k| k.0)).map(|holder| (m.id, holder)))
        .collect()
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
    /// Who subscribes (shown in the panel's presence).
    pub watcher: crate::presence::Watcher,
    pub tenant: TenantId,
    pub panel: PanelId,
    pub after_seq: Option<u64>,
    pub reference: Option<Value>,
    pub outbox: Outbox,
}

impl Subscription {
    /// Stops following the panel and tells the client where to resume. The
    /// `lagged` frame queues behind the frames already queued for this
    /// client, so it arrives right after event `last`: the client's last seq
    /// equals `resume_after_seq`. Waiting for room holds nothing but this
    /// task (the bus drops what it no longer reads).
    async fn lagged(&self, last: u64) -> SubscriptionEnd {
        self.state.metrics.lagged.inc();
        let text = ByteString::from(ServerFrame::Lagged { panel_id: self.panel, resume_after_seq: last }.to_text());
        match self.outbox.data(Outbound::Text(text)).await {
            Ok(()) => SubscriptionEnd::Lagged,
            Err(_) => SubscriptionEnd::Closed,
        }
    }

    /// The log could not be read: the client is told to resubscribe.
    fn store_failed(&self) -> SubscriptionEnd {
        self.outbox.error(
            self.reference.as_ref(),
            "unavailable",
            "the event log is unavailable; resubscribe with after_seq",
            Some(self.panel),
        );
        SubscriptionEnd::Refused
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
        let mut live = Live { rx: Some(self.state.bus.subscribe(panel)), bus: self.state.bus.clone(), panel };
        let snapshot = match panels::get(&self.state, tenant, panel, panels::Read::Live).await {
            Ok(view) => view,
            Err(e) => {
                self.outbox.error(self.reference.as_ref(), e.code(), &e.public_message(), Some(panel));
                return SubscriptionEnd::Refused;
            }
        };
        // Watching from now until this subscription ends (the guard leaves).
        let _watching = self.state.presence.join(panel, self.watcher.clone(), seats(&snapshot));
        let presence = self.state.presence.view(panel).await;
        let head = snapshot.head_seq;
        let terminal = snapshot.status.is_terminal();
        // The part of the current turn the snapshot already holds.
        let partial = snapshot.current_turn.as_ref().map(|t| (t.turn_seq, t.text.chars().count()));
        let subscribed = ServerFrame::Subscribed {
            panel_id: panel,
            head_seq: head,
            snapshot: Snapshot { view: &snapshot, presence: &presence },
            reference: self.reference.as_ref(),
        }
        .to_text();
        if let Some(reference) = &self.reference {
            self.outbox.control(ServerFrame::Ack { reference }.to_text());
        }
        if self.outbox.data(Outbound::Text(ByteString::from(subscribed))).await.is_err() {
            return SubscriptionEnd::Closed;
        }
        drop(snapshot);
        let mut sink = SocketSink { data: self.outbox.clone(), partial, presence: 0 };
        let store = self.state.store.as_ref();
        let last = match self.after_seq {
            Some(after) if after < head => match follow::replay(store, tenant, panel, after, None, &mut sink).await {
                Ok(last) => last,
                Err(ReplayError::Store) => return self.store_failed(),
                Err(ReplayError::Gone) => return SubscriptionEnd::Closed,
            },
            Some(after) => after,
            None => head,
        };
        if terminal && last >= head {
            return SubscriptionEnd::Completed;
        }
        match follow::follow(store, tenant, panel, live.receiver(), last, &mut sink).await {
            Followed::Completed => SubscriptionEnd::Completed,
            Followed::Behind { last } => self.lagged(last).await,
            Followed::StoreFailed { .. } => self.store_failed(),
            Followed::Gone => SubscriptionEnd::Closed,
        }
    }
}

/// The live receiver of a panel's frames. Dropped (the subscription ended,
/// or its task was aborted), it lets the bus drop the panel's channel once
/// nobody else listens: the receiver goes first, then the release.
struct Live {
    rx: Option<tokio::sync::broadcast::Receiver<Arc<Frame>>>,
    bus: Arc<crate::bus::Bus>,
    panel: PanelId,
}

impl Live {
    fn receiver(&mut self) -> &mut tokio::sync::broadcast::Receiver<Arc<Frame>> {
        self.rx.as_mut().expect("taken only on drop")
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.rx = None;
        self.bus.release(self.panel);
    }
}

/// A socket's side of following: live frames are queued without waiting (a
/// full queue means the client fell behind); tokens go out only for a turn
/// whose `turn_started` the client has, and not again for the part of the
/// turn its snapshot held.
struct SocketSink {
    data: Outbox,
    /// (turn_seq, chars) of the turn in progress in the snapshot.
    partial: Option<(u64, usize)>,
    /// The number of the last presence view sent (an older one is never sent after it).
    presence: u64,
}

impl SocketSink {
    fn push(&self, frame: &Arc<Frame>) -> Delivery {
        match self.data.try_data(Outbound::Shared(frame.clone())) {
            Ok(()) => Delivery::Sent,
            Err(Refused::Full) => Delivery::Full,
            Err(Refused::Gone) => Delivery::Gone,
        }
    }
}

impl Sink for SocketSink {
    async fn stored(&mut self, panel: PanelId, event: &StoredEvent) -> bool {
        let text = ByteString::from(event_frame_text(panel, &event.body));
        // A replay may wait for the client: it is the client's own catch-up.
        self.data.data(Outbound::Text(text)).await.is_ok()
    }

    async fn event(&mut self, frame: &Arc<Frame>) -> Delivery {
        self.push(frame)
    }

    async fn presence(&mut self, frame: &Arc<Frame>, version: u64) -> Delivery {
        if version <= self.presence {
            return Delivery::Skipped;
        }
        match self.push(frame) {
            // Presence is not worth a lag: a client too busy for it gets the next one.
            Delivery::Full => Delivery::Skipped,
            delivery => {
                self.presence = version;
                delivery
            }
        }
    }

    async fn token(&mut self, frame: &Arc<Frame>, turn_seq: u64, offset: usize, last: u64) -> Delivery {
        let seen_start = turn_seq <= last;
        let in_snapshot = self.partial.is_some_and(|(t, chars)| t == turn_seq && offset < chars);
        if !seen_start || in_snapshot {
            return Delivery::Skipped;
        }
        self.push(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_receiver_dropped_releases_the_panels_channel_once_nobody_listens() {
        let bus = Arc::new(crate::bus::Bus::new(16, Arc::new(crate::metrics::Metrics::new())));
        let panel = PanelId(uuid::Uuid::new_v4());
        let first = Live { rx: Some(bus.subscribe(panel)), bus: bus.clone(), panel };
        let second = Live { rx: Some(bus.subscribe(panel)), bus: bus.clone(), panel };
        drop(first);
        assert!(bus.has_channel(panel), "another subscriber still listens");
        drop(second);
        assert!(!bus.has_channel(panel), "the last one gone, the channel is dropped");
    }
}
