//! Following one panel: the algorithm every subscriber (WebSocket or SSE)
//! runs, with what differs between them behind the [`Sink`] trait.
//!
//! Exactly once, in order: the caller takes the bus receiver before it reads
//! the database, so every event committed later arrives on it. An event is
//! delivered only when its seq is the next one expected: older ones are
//! dropped, a gap is filled from the log first. When the subscriber cannot
//! keep up (the bus overflowed, the link to other nodes dropped, its queue is
//! full) following stops with [`Followed::Behind`], and the caller decides:
//! a WebSocket tells its client `lagged` (the client resumes with
//! `after_seq`), an SSE stream catches up from the log by itself.

use std::sync::Arc;
use std::time::Duration;

use askpanel_actors::domain::{PanelId, TenantId};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::bus::{Frame, FrameKind};
use crate::store::{Store, StoredEvent};

/// Events read from the log per query while catching up.
pub const REPLAY_PAGE: u32 = 500;

/// What became of a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the client.
    Sent,
    /// Not for this client (a token of a turn it has not seen begin...).
    Skipped,
    /// The client's queue is full: it fell behind.
    Full,
    /// The client is gone.
    Gone,
}

/// How following ended; each carries the last seq delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Followed {
    /// The panel's last event was delivered.
    Completed,
    /// The subscriber fell behind; it must catch up from the log after `last`.
    Behind { last: u64 },
    /// The log could not be read to fill a gap.
    StoreFailed { last: u64 },
    /// The client is gone (or the bus closed).
    Gone,
}

/// What differs between subscribers: how frames reach the client.
pub trait Sink {
    /// A stored event read from the log while catching up. It may wait for
    /// room (the client's own catch-up); false when the client is gone.
    async fn stored(&mut self, panel: PanelId, event: &StoredEvent) -> bool;
    /// A live event, the next in order.
    async fn event(&mut self, frame: &Arc<Frame>) -> Delivery;
    /// A live token of the turn opened at `turn_seq`; `last` is the last event delivered.
    async fn token(&mut self, frame: &Arc<Frame>, turn_seq: u64, offset: usize, last: u64) -> Delivery;
    /// Who watches the panel now (the `version`th view); skipped unless a sink wants it.
    async fn presence(&mut self, _frame: &Arc<Frame>, _version: u64) -> Delivery {
        Delivery::Skipped
    }
    /// How long without frames before [`Sink::idle`] (None: never).
    fn idle_after(&self) -> Option<Duration> {
        None
    }
    /// Nothing arrived for [`Sink::idle_after`]; false when the client is gone.
    async fn idle(&mut self) -> bool {
        true
    }
}

/// Why a catch-up from the log stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The log could not be read.
    Store,
    /// The client is gone.
    Gone,
}

/// Sends the stored events after `from` (up to `until` when given) to the
/// sink, a page at a time; returns the last seq sent.
pub async fn replay(
    store: &dyn Store,
    tenant: TenantId,
    panel: PanelId,
    mut from: u64,
    until: Option<u64>,
    sink: &mut impl Sink,
) -> Result<u64, ReplayError> {
    loop {
        let page = store.events_page(tenant, panel, from, REPLAY_PAGE).await.map_err(|error| {
            tracing::warn!(tenant_id = %tenant, panel_id = %panel, %error, "replay from the event log failed");
            ReplayError::Store
        })?;
        let full = page.len() as u32 == REPLAY_PAGE;
        for event in page {
            if until.is_some_and(|u| event.seq > u) {
                return Ok(from);
            }
            if !sink.stored(panel, &event).await {
                return Err(ReplayError::Gone);
            }
            from = event.seq;
        }
        if !full {
            return Ok(from);
        }
    }
}

/// Follows the live frames of a panel after event `last` until it ends,
/// the subscriber falls behind, or the client goes.
pub async fn follow(
    store: &dyn Store,
    tenant: TenantId,
    panel: PanelId,
    live: &mut broadcast::Receiver<Arc<Frame>>,
    mut last: u64,
    sink: &mut impl Sink,
) -> Followed {
    loop {
        let received = match sink.idle_after() {
            Some(after) => match tokio::time::timeout(after, live.recv()).await {
                Ok(received) => received,
                Err(_) => {
                    if !sink.idle().await {
                        return Followed::Gone;
                    }
                    continue;
                }
            },
            None => live.recv().await,
        };
        let frame = match received {
            Ok(frame) => frame,
            Err(RecvError::Lagged(_)) => return Followed::Behind { last },
            Err(RecvError::Closed) => return Followed::Gone,
        };
        let delivery = match frame.kind {
            FrameKind::Event { seq, terminal } => {
                if seq <= last {
                    continue;
                }
                if seq > last + 1 {
                    // Missed events (another node published them, or a restart): fill from the log.
                    match replay(store, tenant, panel, last, Some(seq - 1), sink).await {
                        Ok(filled) => last = filled,
                        Err(ReplayError::Store) => return Followed::StoreFailed { last },
                        Err(ReplayError::Gone) => return Followed::Gone,
                    }
                    if seq != last + 1 {
                        return Followed::Behind { last };
                    }
                }
                let delivery = sink.event(&frame).await;
                if delivery == Delivery::Sent {
                    last = seq;
                    if terminal {
                        return Followed::Completed;
                    }
                }
                delivery
            }
            // Frames from other nodes may have been lost: catch up from the log.
            FrameKind::Resync => return Followed::Behind { last },
            FrameKind::Token { turn_seq, offset } => sink.token(&frame, turn_seq, offset, last).await,
            FrameKind::Presence { version } => sink.presence(&frame, version).await,
        };
        match delivery {
            Delivery::Sent | Delivery::Skipped => {}
            Delivery::Full => return Followed::Behind { last },
            Delivery::Gone => return Followed::Gone,
        }
    }
}
