//! The outbound side of a socket: the HTTP response body of the upgrade
//! itself. The connection polls it when it can write; it then takes every
//! frame queued (control frames first, then data, up to [`BATCH_BYTES`]),
//! encodes them into one buffer and hands that over as one write. So there
//! is no writer task between the queues and the socket, and frames queued
//! together leave in one write.
//!
//! A close (from the session) is written instead of what is still queued
//! and ends the body; so does the session's end. Dropping the body (the
//! connection is gone) tells the inbound stream and any sender waiting for
//! room ([`crate::ws::outbox`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_http::ws::{CloseReason, OpCode, Parser};
use actix_web::web::{Bytes, BytesMut};
use futures::Stream;

use crate::metrics::Metrics;
use crate::ws::outbox::{Outbound, Polled, Receiver};

/// Bytes of frames gathered into one write at most (a frame larger than
/// this still goes out whole, alone).
pub const BATCH_BYTES: usize = 64 * 1024;

/// The response body that writes a socket's queued frames.
pub struct SocketBody {
    queues: Receiver,
    metrics: Arc<Metrics>,
    done: bool,
}

impl SocketBody {
    pub fn new(queues: Receiver, metrics: Arc<Metrics>) -> Self {
        Self { queues, metrics, done: false }
    }
}

/// Encodes one queued frame; true for a text frame (a data or control message).
fn encode(metrics: &Metrics, item: Outbound, buf: &mut BytesMut) -> bool {
    match item {
        Outbound::Text(text) => {
            Parser::write_message(buf, text.as_bytes(), OpCode::Text, true, false);
            true
        }
        Outbound::Shared(frame) => {
            Parser::write_message(buf, frame.text.as_bytes(), OpCode::Text, true, false);
            metrics.fanout_latency.observe(frame.published_at.elapsed().as_secs_f64());
            true
        }
        Outbound::Ping(bytes) => write_control(buf, &bytes, OpCode::Ping),
        Outbound::Pong(bytes) => write_control(buf, &bytes, OpCode::Pong),
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
        let mut texts = 0u64;
        let metrics = &this.metrics;
        let polled = this.queues.poll(cx, |item| {
            texts += u64::from(encode(metrics, item, &mut buf));
            buf.len() < BATCH_BYTES
        });
        match polled {
            Polled::Idle => return Poll::Pending,
            Polled::Frames => {}
            Polled::Close(reason) => {
                this.done = true;
                Parser::write_close(&mut buf, reason.map(bounded), false);
            }
            // The session is gone without a close: close normally.
            Polled::Ended => {
                this.done = true;
                Parser::write_close(&mut buf, None, false);
            }
        }
        if texts > 0 {
            this.metrics.frames_sent.inc_by(texts);
        }
        Poll::Ready(Some(Ok(buf.freeze())))
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
        let (outbox, queues, _gone) = crate::ws::outbox::socket(8);
        let metrics = Arc::new(Metrics::new());
        let mut body = SocketBody::new(queues, metrics.clone());
        outbox.try_data(text("one")).unwrap();
        let shared = Arc::new(Frame {
            kind: FrameKind::Token { turn_seq: 3, offset: 0 },
            text: ByteString::from_static("two"),
            event_kind: "token",
            published_at: std::time::Instant::now(),
        });
        outbox.try_data(Outbound::Shared(shared)).unwrap();
        assert!(outbox.push_control(Outbound::Pong(Bytes::from_static(b"p"))));
        assert!(outbox.push_control(text("ack")));
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
        outbox.try_data(text("dropped by the close")).unwrap();
        outbox.close(Some(CloseReason { code: CloseCode::Policy, description: Some(long) }));
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
        let (outbox, queues, _gone) = crate::ws::outbox::socket(64);
        let mut body = SocketBody::new(queues, Arc::new(Metrics::new()));
        let big = "y".repeat(BATCH_BYTES / 4);
        for _ in 0..8 {
            outbox.try_data(text(&big)).unwrap();
        }
        let first = frames(&body.next().await.unwrap().unwrap()).len();
        let second = frames(&body.next().await.unwrap().unwrap()).len();
        assert_eq!((first, second), (4, 4));
    }

    #[actix_web::test]
    async fn a_session_gone_without_a_close_closes_normally() {
        let (outbox, queues, _gone) = crate::ws::outbox::socket(8);
        let mut body = SocketBody::new(queues, Arc::new(Metrics::new()));
        drop(outbox);
        let bytes = body.next().await.unwrap().unwrap();
        assert_eq!(frames(&bytes), vec![(OpCode::Close, Vec::new())]);
        assert!(body.next().await.is_none());
    }
}
