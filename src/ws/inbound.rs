//! The inbound side of a socket: the client's frames, decoded from the
//! upgrade's request payload with actix-http's WebSocket codec, fragmented
//! messages gathered whole (bounded), text checked to be UTF-8. The stream
//! ends when the client's bytes end or when the connection dropped the
//! socket's response body ([`crate::ws::outbox::GoneSignal`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_codec::Decoder;
use actix_http::Payload;
use actix_http::ws::{CloseCode, Codec, Frame, Item, ProtocolError};
use actix_web::web::{Bytes, BytesMut};
use bytestring::ByteString;
use futures::Stream;

use crate::ws::outbox::GoneSignal;

/// A whole message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Text(ByteString),
    Binary,
    Ping(Bytes),
    Pong,
    Close,
}

/// Why the client's frames cannot be read on; each closes the socket with
/// its code ([`InboundError::close`]).
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("frame too large")]
    FrameTooLarge,
    #[error("message too large")]
    MessageTooLarge,
    #[error("text frames must be UTF-8")]
    NotUtf8,
    #[error("protocol error: {0}")]
    Protocol(ProtocolError),
    #[error("connection error: {0}")]
    Connection(String),
}

impl InboundError {
    /// The close code and reason (RFC 6455 §7.4.1): a message over the size
    /// limit, whole or in fragments, is 1009; a text message that is not
    /// UTF-8 is 1007; anything else (reserved bits, bad opcodes, unmasked
    /// frames) is 1002.
    pub fn close(&self) -> (CloseCode, &'static str) {
        match self {
            InboundError::FrameTooLarge => (CloseCode::Size, "frame too large"),
            InboundError::MessageTooLarge => (CloseCode::Size, "message too large"),
            InboundError::NotUtf8 => (CloseCode::Invalid, "text frames must be UTF-8"),
            InboundError::Protocol(_) | InboundError::Connection(_) => (CloseCode::Protocol, "protocol error"),
        }
    }
}

/// A fragmented message being gathered.
struct Fragments {
    text: bool,
    parts: Vec<Bytes>,
    size: usize,
}

/// The client's messages.
pub struct Inbound {
    payload: Payload,
    gone: GoneSignal,
    codec: Codec,
    buf: BytesMut,
    max_message: usize,
    fragments: Option<Fragments>,
    /// The client's bytes ended (what is buffered is still read).
    ended: bool,
    /// An error was yielded: nothing more is read.
    failed: bool,
}

impl Inbound {
    /// `max_frame`: the largest frame; `max_message`: the largest message
    /// gathered from fragments.
    pub fn new(payload: Payload, gone: GoneSignal, max_frame: usize, max_message: usize) -> Self {
        Inbound {
            payload,
            gone,
            codec: Codec::new().max_size(max_frame),
            buf: BytesMut::new(),
            max_message,
            fragments: None,
            ended: false,
            failed: false,
        }
    }

    /// One decoded frame: a whole message, or `None` while a fragmented one gathers.
    fn message(&mut self, frame: Frame) -> Result<Option<ClientMessage>, InboundError> {
        let part = match frame {
            Frame::Text(bytes) => return text(bytes).map(Some),
            Frame::Binary(_) => return Ok(Some(ClientMessage::Binary)),
            Frame::Ping(bytes) => return Ok(Some(ClientMessage::Ping(bytes))),
            Frame::Pong(_) => return Ok(Some(ClientMessage::Pong)),
            Frame::Close(_) => return Ok(Some(ClientMessage::Close)),
            Frame::Continuation(item) => item,
        };
        let (bytes, last) = match part {
            Item::FirstText(bytes) => {
                self.fragments = Some(Fragments { text: true, parts: Vec::new(), size: 0 });
                (bytes, false)
            }
            Item::FirstBinary(bytes) => {
                self.fragments = Some(Fragments { text: false, parts: Vec::new(), size: 0 });
                (bytes, false)
            }
            Item::Continue(bytes) => (bytes, false),
            Item::Last(bytes) => (bytes, true),
        };
        let Some(fragments) = self.fragments.as_mut() else {
            return Err(InboundError::Protocol(ProtocolError::ContinuationNotStarted));
        };
        fragments.size += bytes.len();
        if fragments.size > self.max_message {
            self.fragments = None;
            return Err(InboundError::MessageTooLarge);
        }
        if !bytes.is_empty() {
            fragments.parts.push(bytes);
        }
        if !last {
            return Ok(None);
        }
        let whole = self.fragments.take().expect("checked above");
        if !whole.text {
            return Ok(Some(ClientMessage::Binary));
        }
        let mut joined = BytesMut::with_capacity(whole.size);
        for part in &whole.parts {
            joined.extend_from_slice(part);
        }
        text(joined.freeze()).map(Some)
    }
}

fn text(bytes: Bytes) -> Result<ClientMessage, InboundError> {
    ByteString::try_from(bytes).map(ClientMessage::Text).map_err(|_| InboundError::NotUtf8)
}

impl Stream for Inbound {
    type Item = Result<ClientMessage, InboundError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.failed {
            return Poll::Ready(None);
        }
        loop {
            match this.codec.decode(&mut this.buf) {
                Ok(Some(frame)) => match this.message(frame) {
                    Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                    Ok(None) => continue,
                    Err(e) => {
                        this.failed = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    this.failed = true;
                    let error = match e {
                        ProtocolError::Overflow => InboundError::FrameTooLarge,
                        other => InboundError::Protocol(other),
                    };
                    return Poll::Ready(Some(Err(error)));
                }
            }
            if this.ended {
                return Poll::Ready(None);
            }
            if this.gone.poll_gone(cx).is_ready() {
                this.ended = true;
                continue;
            }
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    if this.buf.is_empty() {
                        this.buf = BytesMut::from(bytes);
                    } else {
                        this.buf.extend_from_slice(&bytes);
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.failed = true;
                    return Poll::Ready(Some(Err(InboundError::Connection(e.to_string()))));
                }
                Poll::Ready(None) => this.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_codec::Encoder;
    use actix_http::ws::Message;
    use futures::StreamExt;

    use super::*;

    /// The client's frames (masked, as a client sends them) as one payload.
    fn payload(frames: Vec<Message>) -> (Payload, crate::ws::outbox::Outbox, crate::ws::outbox::Receiver, GoneSignal) {
        let mut codec = Codec::new().client_mode();
        let mut buf = BytesMut::new();
        for frame in frames {
            codec.encode(frame, &mut buf).unwrap();
        }
        let bytes = buf.freeze();
        let stream: actix_http::BoxedPayloadStream = Box::pin(futures::stream::iter(
            bytes
                .chunks(7)
                .map(|c| Ok::<_, actix_http::error::PayloadError>(Bytes::copy_from_slice(c)))
                .collect::<Vec<_>>(),
        ));
        let (outbox, body, gone) = crate::ws::outbox::socket(8);
        (Payload::Stream { payload: stream }, outbox, body, gone)
    }

    async fn read(frames: Vec<Message>, max_frame: usize, max_message: usize) -> Vec<Result<ClientMessage, String>> {
        let (payload, _outbox, _body, gone) = payload(frames);
        Inbound::new(payload, gone, max_frame, max_message)
            .map(|r| r.map_err(|e| e.close().1.to_string()))
            .collect()
            .await
    }

    #[actix_web::test]
    async fn messages_whole_and_gathered_from_fragments_in_small_reads() {
        let got = read(
            vec![
                Message::Text("hello".into()),
                Message::Continuation(Item::FirstText(Bytes::from_static(b"fra"))),
                Message::Ping(Bytes::from_static(b"p")),
                Message::Continuation(Item::Continue(Bytes::from_static(b"gmen"))),
                Message::Continuation(Item::Last(Bytes::from_static(b"ted"))),
                Message::Binary(Bytes::from_static(b"\x00")),
                Message::Pong(Bytes::new()),
                Message::Close(None),
            ],
            1024,
            1024,
        )
        .await;
        let expected = vec![
            Ok(ClientMessage::Text("hello".into())),
            Ok(ClientMessage::Ping(Bytes::from_static(b"p"))),
            Ok(ClientMessage::Text("fragmented".into())),
            Ok(ClientMessage::Binary),
            Ok(ClientMessage::Pong),
            Ok(ClientMessage::Close),
        ];
        assert_eq!(got, expected);
    }

    #[actix_web::test]
    async fn bad_input_ends_with_its_close_code() {
        let big_frame = read(vec![Message::Text("x".repeat(100).into())], 64, 1024).await;
        let fragments = vec![
            Message::Continuation(Item::FirstText(Bytes::from(vec![b'a'; 60]))),
            Message::Continuation(Item::Last(Bytes::from(vec![b'a'; 60]))),
        ];
        let big_message = read(fragments, 64, 100).await;
        let not_utf8 = read(vec![Message::Binary(Bytes::new()), Message::Text(ByteString::new())], 64, 100).await;
        assert_eq!(big_frame, vec![Err("frame too large".to_string())]);
        // Nothing is read after an error, not even what was already buffered.
        let then_more = read(vec![Message::Text("x".repeat(100).into()), Message::Text("ok".into())], 64, 1024);
        let then_more =
            tokio::time::timeout(std::time::Duration::from_secs(5), then_more).await.expect("the stream ends");
        assert_eq!(then_more, vec![Err("frame too large".to_string())]);
        assert_eq!(big_message, vec![Err("message too large".to_string())]);
        assert_eq!(not_utf8.len(), 2, "a valid empty text is fine");
        let invalid = {
            let mut codec = Codec::new().client_mode();
            let mut buf = BytesMut::new();
            codec.encode(Message::Binary(Bytes::from_static(&[0xff, 0xfe])), &mut buf).unwrap();
            buf[0] = 0x81; // the same bytes, sent as text
            let (_outbox, _body, gone) = crate::ws::outbox::socket(8);
            let stream: actix_http::BoxedPayloadStream =
                Box::pin(futures::stream::iter(vec![Ok::<_, actix_http::error::PayloadError>(buf.freeze())]));
            let payload = Payload::Stream { payload: stream };
            Inbound::new(payload, gone, 64, 64).collect::<Vec<_>>().await
        };
        assert!(matches!(invalid.as_slice(), [Err(InboundError::NotUtf8)]), "{invalid:?}");
        let table = [
            (InboundError::FrameTooLarge, CloseCode::Size),
            (InboundError::MessageTooLarge, CloseCode::Size),
            (InboundError::NotUtf8, CloseCode::Invalid),
            (InboundError::Protocol(ProtocolError::UnmaskedFrame), CloseCode::Protocol),
            (InboundError::Protocol(ProtocolError::BadOpCode), CloseCode::Protocol),
            (InboundError::Connection("reset".into()), CloseCode::Protocol),
        ];
        for (error, code) in table {
            assert_eq!(error.close().0, code, "{error}");
        }
    }

    #[actix_web::test]
    async fn the_stream_ends_when_the_connection_dropped_the_body() {
        let (outbox, body, gone) = crate::ws::outbox::socket(8);
        let pending: actix_http::BoxedPayloadStream = Box::pin(futures::stream::pending());
        let never = Payload::Stream { payload: pending };
        let mut inbound = Inbound::new(never, gone, 64, 64);
        let next = actix_web::rt::spawn(async move { inbound.next().await.is_none() });
        tokio::task::yield_now().await;
        assert!(!next.is_finished());
        drop(body);
        assert!(next.await.unwrap(), "ended");
        drop(outbox);
    }
}
