//! The outbound side of a socket: the HTTP response body of the upgrade
//! itself. The connection polls it when it can write; it then takes every
//! frame queued (control frames first, then data, up to [`BATCH_BYTES`]),
//! encodes them into one buffer and hands that over as one write. So there
//! is no writer task between the queues and the socket, and frames queued
//! together leave in one write.
//!
//! A close (from the session) is written after what is already encoded and
//! ends the body. actix-ws's own body for the upgrade is kept here unpolled
//! and dropped with this one: dropping it tells the inbound message stream
//! that the connection is gone.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_http::ws::{CloseReason, OpCode, Parser};
use actix_web::body::BoxBody;
use actix_web::web::{Bytes, BytesMut};
use futures::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::ws::subscription::Outbound;

/// Bytes of frames gathered into one write at most (a frame larger than
/// this still goes out whole, alone).
pub const BATCH_BYTES: usize = 64 * 1024;

/// The response body that writes a socket's queued frames.
pub struct SocketBody {
    control: mpsc::Receiver<Outbound>,
    data: mpsc::Receiver<Outbound>,
    close: Option<oneshot::Receiver<CloseReason>>,
    metrics: Arc<Metrics>,
    done: bool,
    /// actix-ws's body of the upgrade, dropped with this one (see the module).
    _upgrade: Option<BoxBody>,
}

impl SocketBody {
    pub fn new(
        control: mpsc::Receiver<Outbound>,
        data: mpsc::Receiver<Outbound>,
        close: oneshot::Receiver<CloseReason>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self { control, data, close: Some(close), metrics, done: false, _upgrade: None }
    }

    /// Keeps actix-ws's body of the upgrade until this one is dropped.
    pub fn holding(mut self, upgrade: BoxBody) -> Self {
        self._upgrade = Some(upgrade);
        self
    }

    /// Encodes one queued frame; true for a text frame (a data or control message).
    fn encode(&self, item: Outbound, buf: &mut BytesMut) -> bool {
        match item {
            Outbound::Text(text) => {
                Parser::write_message(buf, text.as_bytes(), OpCode::Text, true, false);
                true
            }
            Outbound::Shared(frame) => {
                Parser::write_message(buf, frame.text.as_bytes(), OpCode::Text, true, false);
                self.metrics.fanout_latency.observe(frame.published_at.elapsed().as_secs_f64());
                true
            }
            Outbound::Ping(bytes) => write_control(buf, &bytes, OpCode::Ping),
            Outbound::Pong(bytes) => write_control(buf, &bytes, OpCode::Pong),
        }
    }
}

/// A ping or pong, its payload cut to the 125 bytes a control frame may
/// carry; false: not a text frame.
fn write_control(buf: &mut BytesMut, payload: &[u8], op: OpCode) -> bool {
    Parser::write_message(buf, &payload[..payload.len().min(125)], op, true, false);
    false
}

/// A close frame's reason, cut to what a control frame may carry (125
/// bytes: the code and at most 123 bytes of text, on a character boundary).
fn bounded(mut reason: CloseReason) -> CloseReason {
    if let Some(description) = reason.description.as_mut()
        && description.len() > 123
    {
        let mut end = 123;
        while !description.is_char_boundary(end) {
            end -= 1;
        }
        description.truncate(end);
    }
    reason
}

impl Stream for SocketBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let mut buf = BytesMut::new();
        // The session asked to close: what is encoded so far, then the close.
        let closing = match this.close.as_mut().map(|c| Pin::new(c).poll(cx)) {
            Some(Poll::Ready(reason)) => Some(reason.ok().map(bounded)),
            _ => None,
        };
        if let Some(reason) = closing {
            this.close = None;
            this.done = true;
            Parser::write_close(&mut buf, reason, false);
            return Poll::Ready(Some(Ok(buf.freeze())));
        }
        let mut texts = 0u64;
        let mut open = 2;
        loop {
            match this.control.poll_recv(cx) {
                Poll::Ready(Some(item)) => texts += u64::from(this.encode(item, &mut buf)),
                Poll::Ready(None) => {
                    open -= 1;
                    break;
                }
                Poll::Pending => break,
            }
        }
        while buf.len() < BATCH_BYTES {
            match this.data.poll_recv(cx) {
                Poll::Ready(Some(item)) => texts += u64::from(this.encode(item, &mut buf)),
                Poll::Ready(None) => {
                    open -= 1;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if texts > 0 {
            this.metrics.frames_sent.inc_by(texts);
        }
        if open == 0 && buf.is_empty() {
            // The session is gone without a close: close normally.
            this.done = true;
            Parser::write_close(&mut buf, None, false);
        }
        if buf.is_empty() { Poll::Pending } else { Poll::Ready(Some(Ok(buf.freeze()))) }
    }
}

#[cfg(test)]
mod tests {
    use actix_http::ws::CloseCode;
    use bytestring::ByteString;

    use crate::bus::{Frame, FrameKind};
    use futures::StreamExt;

    use super::*;

    fn text(s: &str) -> Outbound {
        Outbound::Text(ByteString::from(s.to_string()))
    }

    /// Every frame in a written buffer as a client reads it: (opcode, payload).
    fn frames(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some((fin, op, payload)) = Parser::parse(&mut buf, false, usize::MAX).unwrap() {
            assert!(fin, "every frame is whole");
            out.push((op, payload.map(|p| p.to_vec()).unwrap_or_default()));
        }
        assert!(buf.is_empty(), "a partial frame was left");
        out
    }

    #[actix_web::test]
    async fn queued_frames_leave_in_one_write_control_first_then_the_close() {
        let (control_tx, control) = mpsc::channel(8);
        let (data_tx, data) = mpsc::channel(8);
        let (close_tx, close) = oneshot::channel();
        let metrics = Arc::new(Metrics::new());
        let mut body = SocketBody::new(control, data, close, metrics.clone());
        data_tx.try_send(text("one")).unwrap();
        let shared = Arc::new(Frame {
            kind: FrameKind::Token { turn_seq: 3, offset: 0 },
            text: ByteString::from_static("two"),
            event_kind: "token",
            published_at: std::time::Instant::now(),
        });
        data_tx.try_send(Outbound::Shared(shared)).unwrap();
        control_tx.try_send(Outbound::Pong(Bytes::from_static(b"p"))).unwrap();
        control_tx.try_send(text("ack")).unwrap();
        let first = body.next().await.unwrap().unwrap();
        let expected = vec![
            (OpCode::Pong, b"p".to_vec()),
            (OpCode::Text, b"ack".to_vec()),
            (OpCode::Text, b"one".to_vec()),
            (OpCode::Text, b"two".to_vec()),
        ];
        assert_eq!(frames(&first), expected);
        assert_eq!(metrics.frames_sent.get(), 3);
        assert_eq!(metrics.fanout_latency.get_sample_count(), 1, "a bus frame's latency is observed");
        let long = "\u{e9}".repeat(100);
        close_tx.send(CloseReason { code: CloseCode::Policy, description: Some(long) }).unwrap();
        let last = body.next().await.unwrap().unwrap();
        match frames(&last).as_slice() {
            [(OpCode::Close, payload)] => {
                let reason = Parser::try_parse_close_payload(payload).unwrap().expect("a reason");
                assert_eq!(reason.code, CloseCode::Policy);
                // 122 bytes: 61 two-byte characters, cut on a character boundary.
                assert_eq!(reason.description.as_deref().map(str::len), Some(122));
            }
            other => panic!("expected one close frame, got {other:?}"),
        }
        assert!(body.next().await.is_none(), "nothing after the close");
    }

    #[actix_web::test]
    async fn a_batch_stops_near_its_size_and_the_rest_follows() {
        let (_control_tx, control) = mpsc::channel(8);
        let (data_tx, data) = mpsc::channel(64);
        let (_close_tx, close) = oneshot::channel();
        let mut body = SocketBody::new(control, data, close, Arc::new(Metrics::new()));
        let big = "y".repeat(BATCH_BYTES / 4);
        for _ in 0..8 {
            data_tx.try_send(text(&big)).unwrap();
        }
        let first = frames(&body.next().await.unwrap().unwrap()).len();
        let second = frames(&body.next().await.unwrap().unwrap()).len();
        assert_eq!((first, second), (4, 4));
    }

    #[actix_web::test]
    async fn a_session_gone_without_a_close_closes_normally() {
        let (control_tx, control) = mpsc::channel(8);
        let (data_tx, data) = mpsc::channel::<Outbound>(8);
        let (close_tx, close) = oneshot::channel::<CloseReason>();
        let mut body = SocketBody::new(control, data, close, Arc::new(Metrics::new()));
        drop((control_tx, data_tx, close_tx));
        let bytes = body.next().await.unwrap().unwrap();
        assert_eq!(frames(&bytes), vec![(OpCode::Close, Vec::new())]);
        assert!(body.next().await.is_none());
    }
}
