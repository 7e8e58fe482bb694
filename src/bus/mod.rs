//! Fan-out of what panels publish to this node's WebSocket and SSE clients.
//! Each event or token is serialised once into the exact frame clients get
//! and shared (reference-counted) by every subscriber through one
//! `tokio::sync::broadcast` send per panel. A subscriber that falls behind
//! the channel's buffer is told by `RecvError::Lagged` and resumes from the
//! database with `after_seq`.

pub(crate) mod follow;

use std::sync::Arc;
use std::time::Instant;

use askpanel_actors::domain::{PanelId, TenantId};
use askpanel_actors::event::{EventData, SealedEvent, TokenDelta};
use askpanel_actors::ports::EventPublisher;
use bytestring::ByteString;
use dashmap::DashMap;
use tokio::sync::broadcast;

use crate::metrics::Metrics;

/// What a frame carries, for de-duplication and filtering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// A durable event.
    Event { seq: u64, terminal: bool },
    /// A live token delta of the turn opened at `turn_seq`.
    Token { turn_seq: u64, offset: usize },
    /// Frames from other nodes may have been missed (their link was down):
    /// subscribers catch up from the database.
    Resync,
    /// Who watches the panel ([`crate::presence`]), the `version`th view of it.
    Presence { version: u64 },
}

/// A pre-serialised frame.
#[derive(Debug)]
pub struct Frame {
    pub kind: FrameKind,
    /// The WebSocket frame text: `{"type":"event",...}` or `{"type":"token",...}`.
    pub text: ByteString,
    /// The event kind (events only), for SSE's `event:` line.
    pub event_kind: &'static str,
    pub published_at: Instant,
}

/// The WebSocket frame of an event, from the event's stored JSON
/// (`{"seq",...}`): `{"type":"event","panel_id":"...","seq",...}`.
pub fn event_frame_text(panel: PanelId, event_json: &str) -> String {
    let rest = event_json.strip_prefix('{').unwrap_or(event_json);
    let mut text = String::with_capacity(event_json.len() + 64);
    text.push_str("{\"type\":\"event\",\"panel_id\":\"");
    text.push_str(&panel.to_string());
    text.push_str("\",");
    text.push_str(rest);
    text
}

/// The WebSocket frame of a token delta, written in one pass into one
/// buffer of the right size: `{"type":"token","panel_id":"...","ts":"...",
/// "turn_seq":n,"member_id":"...","offset":n,"delta":"..."}`; `ts` is when
/// the server published it (for latency measurements).
pub fn token_frame_text(panel: PanelId, ts: chrono::DateTime<chrono::Utc>, token: &TokenDelta) -> String {
    use std::fmt::Write;
    let mut uuid = uuid::Uuid::encode_buffer();
    // Fixed parts, two ids, a timestamp, two numbers and the escaped delta.
    let mut text = String::with_capacity(190 + token.delta.len() + token.delta.len() / 4);
    text.push_str("{\"type\":\"token\",\"panel_id\":\"");
    text.push_str(panel.0.hyphenated().encode_lower(&mut uuid));
    text.push_str("\",\"ts\":\"");
    // chrono's Debug of a UTC time is its serde form (RFC 3339, 0/3/6/9 digits, Z).
    let _ = write!(text, "{ts:?}");
    let _ = write!(text, "\",\"turn_seq\":{},\"member_id\":\"", token.turn_seq);
    text.push_str(token.member_id.0.hyphenated().encode_lower(&mut uuid));
    let _ = write!(text, "\",\"offset\":{},\"delta\":", token.offset);
    push_json_string(&mut text, &token.delta);
    text.push('}');
    text
}

/// Appends `value` as a JSON string (quoted and escaped as serde_json does).
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escape.is_empty() {
            use std::fmt::Write;
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

/// Frames to and from other nodes (the Redis fan-out), when there are several.
pub trait RemoteFanout: Send + Sync + 'static {
    /// Sends a frame published here to the other nodes.
    fn publish(&self, panel: PanelId, frame: &Frame);
    /// This node has subscribers for the panel: receive its frames from other nodes.
    fn watch(&self, panel: PanelId);
    fn unwatch(&self, panel: PanelId);
}

/// The per-panel broadcast channels of this node.
pub struct Bus {
    channels: DashMap<PanelId, broadcast::Sender<Arc<Frame>>>,
    capacity: usize,
    metrics: Arc<Metrics>,
    remote: std::sync::OnceLock<Arc<dyn RemoteFanout>>,
}

impl Bus {
    pub fn new(capacity: usize, metrics: Arc<Metrics>) -> Self {
        Self { channels: DashMap::new(), capacity, metrics, remote: std::sync::OnceLock::new() }
    }

    /// Connects the bus to the other nodes.
    pub fn set_remote(&self, remote: Arc<dyn RemoteFanout>) {
        let _ = self.remote.set(remote);
    }

    /// Subscribes to a panel's live frames. Subscribe before reading the
    /// database: whatever is committed later arrives here.
    pub fn subscribe(&self, panel: PanelId) -> broadcast::Receiver<Arc<Frame>> {
        let mut created = false;
        let rx = self
            .channels
            .entry(panel)
            .or_insert_with(|| {
                created = true;
                broadcast::channel(self.capacity).0
            })
            .subscribe();
        if created && let Some(remote) = self.remote.get() {
            remote.watch(panel);
        }
        rx
    }

    /// Whether this node holds a channel for the panel (someone listens, or
    /// did and has not been released).
    pub fn has_channel(&self, panel: PanelId) -> bool {
        self.channels.contains_key(&panel)
    }

    /// Drops a panel's channel once nobody listens.
    pub fn release(&self, panel: PanelId) {
        if self.channels.remove_if(&panel, |_, sender| sender.receiver_count() == 0).is_some()
            && let Some(remote) = self.remote.get()
        {
            remote.unwatch(panel);
        }
    }

    /// A frame from another node, for this node's subscribers only.
    pub fn inject(&self, panel: PanelId, frame: Frame) {
        let Some(sender) = self.channels.get(&panel).map(|s| s.clone()) else { return };
        let _ = sender.send(Arc::new(frame));
    }

    /// Tells every subscriber of the panels watched from other nodes to catch up from the database.
    pub fn resync_all(&self) {
        let panels: Vec<PanelId> = self.channels.iter().map(|e| *e.key()).collect();
        for panel in panels {
            self.inject(
                panel,
                Frame {
                    kind: FrameKind::Resync,
                    text: ByteString::new(),
                    event_kind: "resync",
                    published_at: Instant::now(),
                },
            );
        }
    }

    /// A panel's presence frame, to its subscribers here and on the other nodes.
    pub fn publish_presence(&self, panel: PanelId, version: u64, text: String) {
        let frame = Frame {
            kind: FrameKind::Presence { version },
            text: ByteString::from(text),
            event_kind: "presence",
            published_at: Instant::now(),
        };
        self.send(panel, frame);
    }

    fn send(&self, panel: PanelId, frame: Frame) {
        if let Some(remote) = self.remote.get() {
            remote.publish(panel, &frame);
        }
        let terminal = matches!(frame.kind, FrameKind::Event { terminal: true, .. });
        // Clone the sender out so no map guard is held while subscribers wake.
        let Some(sender) = self.channels.get(&panel).map(|s| s.clone()) else { return };
        let _ = sender.send(Arc::new(frame));
        if terminal || sender.receiver_count() == 0 {
            self.release(panel);
        }
    }
}

impl EventPublisher for Bus {
    fn publish_event(&self, _: TenantId, panel: PanelId, sealed: &SealedEvent) {
        self.metrics.events_published.inc();
        if let EventData::TurnCompleted { citations, .. } = &sealed.event.data {
            for citation in citations {
                self.metrics.citations.with_label_values(&[if citation.valid { "true" } else { "false" }]).inc();
            }
        }
        if !self.channels.contains_key(&panel) && self.remote.get().is_none() {
            return;
        }
        // The JSON the log stored: the event is not serialised again.
        let event = &sealed.event;
        let frame = Frame {
            kind: FrameKind::Event { seq: event.seq, terminal: event.data.is_terminal() },
            text: ByteString::from(event_frame_text(panel, &sealed.json)),
            event_kind: event.data.kind(),
            published_at: Instant::now(),
        };
        self.send(panel, frame);
    }

    fn publish_token(&self, _: TenantId, panel: PanelId, token: &TokenDelta) {
        self.metrics.tokens_published.inc();
        if !self.channels.contains_key(&panel) && self.remote.get().is_none() {
            return;
        }
        let text = token_frame_text(panel, chrono::Utc::now(), token);
        self.send(
            panel,
            Frame {
                kind: FrameKind::Token { turn_seq: token.turn_seq, offset: token.offset },
                text: ByteString::from(text),
                event_kind: "token",
                published_at: Instant::now(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use askpanel_actors::event::{Event, EventData};

    use super::*;

    /// The token frame as serde wrote it before it was written by hand.
    #[derive(serde::Serialize)]
    struct SerdeTokenFrame<'a> {
        r#type: &'static str,
        panel_id: PanelId,
        ts: chrono::DateTime<chrono::Utc>,
        turn_seq: u64,
        member_id: askpanel_actors::domain::MemberId,
        offset: usize,
        delta: &'a str,
    }

    #[test]
    fn a_token_frame_is_byte_for_byte_what_serde_writes() {
        use chrono::TimeZone;
        let base = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 16, 5, 9).unwrap();
        let times = [0, 120_000_000, 123_456_000, 123_456_789, 999_999_999]
            .map(|nanos| base + chrono::Duration::nanoseconds(nanos));
        let deltas = [
            "word ",
            "",
            "quote \" and \\ back",
            "tab\tnew\nline\r",
            "\u{0}\u{1f}\u{7f}\u{8}\u{c}",
            "caf\u{e9} \u{1f600} \u{2028}",
        ];
        let (panel, member) = (PanelId::new(), askpanel_actors::domain::MemberId::new());
        for ts in times {
            for (i, delta) in deltas.iter().enumerate() {
                let token = TokenDelta {
                    turn_seq: 40 + i as u64,
                    member_id: member,
                    offset: 1000 * i,
                    delta: delta.to_string(),
                };
                let serde = serde_json::to_string(&SerdeTokenFrame {
                    r#type: "token",
                    panel_id: panel,
                    ts,
                    turn_seq: token.turn_seq,
                    member_id: member,
                    offset: token.offset,
                    delta,
                })
                .unwrap();
                assert_eq!(token_frame_text(panel, ts, &token), serde, "{ts:?} {delta:?}");
            }
        }
    }

    #[test]
    fn an_event_goes_out_as_the_bytes_it_was_sealed_with() {
        let bus = Bus::new(16, Arc::new(Metrics::new()));
        let panel = PanelId::new();
        let mut live = bus.subscribe(panel);
        let event = Event { seq: 7, ts: chrono::Utc::now(), data: EventData::PanelStarted {} };
        // Bytes that a second serialisation would not reproduce (the spacing).
        let json: Arc<str> = format!(
            "{{\"seq\": 7,  \"ts\": \"{}\", \"kind\": \"panel_started\", \"data\": {{}}}}",
            event.ts.to_rfc3339()
        )
        .into();
        bus.publish_event(TenantId::new(), panel, &SealedEvent { event, json: json.clone() });
        let frame = live.try_recv().expect("a frame");
        assert_eq!(frame.kind, FrameKind::Event { seq: 7, terminal: false });
        assert_eq!(frame.text.as_ref(), event_frame_text(panel, &json));
        assert!(frame.text.contains("\"seq\": 7,  \"ts\""), "{}", frame.text);
    }
}
