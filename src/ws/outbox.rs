//! A socket's outbound queues, shared by the session (and its
//! subscriptions), which push, and the socket's response body
//! ([`crate::ws::writer::SocketBody`]), which drains them.
//!
//! Two bounded queues: control frames (acks, errors, pongs, lagged) have
//! their own small one so they get through when data backs up; a close
//! goes before both. One lock and
//! one allocation per socket hold both queues, the close the session asked
//! for, and the signals between the three parties (the body's waker, the
//! inbound stream's waker, room for a waiting sender). An idle socket's
//! queues hold no allocation; a drained queue that grew gives its memory back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use actix_http::ws::CloseReason;
use bytestring::ByteString;
use serde_json::Value;
use tokio::sync::Notify;

use askpanel_actors::domain::PanelId;

use crate::bus::Frame;
use crate::ws::protocol::ServerFrame;

/// Control frames queued per socket (acks, errors, pongs, lagged).
pub const CONTROL_QUEUE: usize = 64;
/// A drained queue whose buffer grew past this many frames frees it.
const KEEP_CAPACITY: usize = 32;

/// A frame on its way to the socket.
#[derive(Debug)]
pub enum Outbound {
    /// A frame made for this socket (an ack, an error, a snapshot...).
    Text(ByteString),
    /// A frame of the bus, serialised once and shared by every subscriber.
    Shared(Arc<Frame>),
    Ping(bytes::Bytes),
    Pong(bytes::Bytes),
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full: the client does not read fast enough.
    Full,
    /// The connection is gone.
    Gone,
}

#[derive(Default)]
struct Queues {
    control: VecDeque<Outbound>,
    data: VecDeque<Outbound>,
    /// The close the session asked for (`Some(None)`: a close without a reason).
    close: Option<Option<CloseReason>>,
    /// Live [`Outbox`] handles; none left means the session is gone.
    senders: usize,
    /// Nothing more will be written (closing, or the connection is gone).
    gone: bool,
    /// The connection dropped the body.
    dropped: bool,
    /// A sender waits for room in the data queue.
    waiting: bool,
    body: Option<Waker>,
    inbound: Option<Waker>,
}

struct Shared {
    queues: Mutex<Queues>,
    data_capacity: usize,
    room: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A panic while the lock was held leaves the queues consistent (every
        // change is one push, pop or flag): go on with them.
        self.queues.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The session's handle on a socket's queues; cloned into subscriptions and
/// commands. When the last one is dropped the body closes the socket.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// What the body finds when it polls the queues.
#[derive(Debug, PartialEq, Eq)]
pub enum Polled {
    /// Frames were handed to the writer (control first).
    Frames,
    /// The session asked to close (after the frames already written).
    Close(Option<CloseReason>),
    /// Every sender is gone without a close.
    Ended,
    Idle,
}

/// The body's handle on the queues. Dropping it tells the inbound stream
/// and every waiting sender that the connection is gone.
pub struct Receiver {
    shared: Arc<Shared>,
}

/// The inbound stream's handle: tells it when the connection is gone.
pub struct GoneSignal {
    shared: Arc<Shared>,
}

/// A socket's queues: the session's outbox, the body's receiver and the
/// inbound stream's signal.
pub fn socket(data_capacity: usize) -> (Outbox, Receiver, GoneSignal) {
    let shared = Arc::new(Shared {
        queues: Mutex::new(Queues { senders: 1, ..Queues::default() }),
        data_capacity: data_capacity.max(1),
        room: Notify::new(),
    });
    (Outbox { shared: shared.clone() }, Receiver { shared: shared.clone() }, GoneSignal { shared })
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        Outbox { shared: self.shared.clone() }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut queues = self.shared.lock();
        queues.senders -= 1;
        if queues.senders == 0
            && let Some(waker) = queues.body.take()
        {
            drop(queues);
            waker.wake();
        }
    }
}

impl Outbox {
    /// Queues a frame on the control queue; false when it is full or the
    /// connection is gone.
    pub fn push_control(&self, item: Outbound) -> bool {
        let mut queues = self.shared.lock();
        if queues.gone || queues.close.is_some() || queues.control.len() >= CONTROL_QUEUE {
            return false;
        }
        queues.control.push_back(item);
        wake_body(queues);
        true
    }

    /// Queues a control frame; false when even the control queue is full.
    pub fn control(&self, text: String) -> bool {
        self.push_control(Outbound::Text(ByteString::from(text)))
    }

    pub fn error(&self, reference: Option<&Value>, code: &str, message: &str, panel_id: Option<PanelId>) -> bool {
        self.control(ServerFrame::Error { reference, code, message, panel_id }.to_text())
    }

    /// Queues a data frame without waiting.
    pub fn try_data(&self, item: Outbound) -> Result<(), Refused> {
        self.try_data_or_return(item, false).map_err(|(refused, _)| refused)
    }

    /// `will_wait`: when the queue is full, the caller waits for room (it is
    /// noted under the same lock, so a drain between the two cannot miss it).
    fn try_data_or_return(&self, item: Outbound, will_wait: bool) -> Result<(), (Refused, Outbound)> {
        let mut queues = self.shared.lock();
        if queues.gone || queues.close.is_some() {
            return Err((Refused::Gone, item));
        }
        if queues.data.len() >= self.shared.data_capacity {
            queues.waiting |= will_wait;
            return Err((Refused::Full, item));
        }
        queues.data.push_back(item);
        wake_body(queues);
        Ok(())
    }

    /// Queues a data frame, waiting for room; `Err` when the connection is gone.
    pub async fn data(&self, mut item: Outbound) -> Result<(), Refused> {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            match self.try_data_or_return(item, true) {
                Ok(()) => return Ok(()),
                Err((Refused::Gone, _)) => return Err(Refused::Gone),
                Err((Refused::Full, back)) => {
                    item = back;
                    room.await;
                }
            }
        }
    }

    /// Asks the body to write a close frame next, instead of what is still
    /// queued, and end. Frames queued after this are refused.
    pub fn close(&self, reason: Option<CloseReason>) {
        let mut queues = self.shared.lock();
        if queues.close.is_none() && !queues.gone {
            queues.close = Some(reason);
            wake_body(queues);
        }
    }
}

fn wake_body(mut queues: MutexGuard<'_, Queues>) {
    if let Some(waker) = queues.body.take() {
        drop(queues);
        waker.wake();
    }
}

impl Receiver {
    /// Hands what one write carries to `write`: every control frame, then
    /// data frames while `write` says there is room (it returns false when
    /// the write is full). Registers the body's waker when there is nothing
    /// to write.
    pub fn poll(&self, cx: &mut Context<'_>, mut write: impl FnMut(Outbound) -> bool) -> Polled {
        let mut queues = self.shared.lock();
        if let Some(reason) = queues.close.take() {
            // A close goes first: what is still queued is not written (a
            // revoked key gets nothing more).
            queues.gone = true;
            queues.control = VecDeque::new();
            queues.data = VecDeque::new();
            return Polled::Close(reason);
        }
        if queues.control.is_empty() && queues.data.is_empty() {
            if queues.senders == 0 {
                queues.gone = true;
                return Polled::Ended;
            }
            if !queues.body.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                queues.body = Some(cx.waker().clone());
            }
            return Polled::Idle;
        }
        while let Some(item) = queues.control.pop_front() {
            write(item);
        }
        let mut took = false;
        while let Some(item) = queues.data.pop_front() {
            took = true;
            if !write(item) {
                break;
            }
        }
        let both = &mut *queues;
        for queue in [&mut both.control, &mut both.data] {
            if queue.is_empty() && queue.capacity() > KEEP_CAPACITY {
                *queue = VecDeque::new();
            }
        }
        let notify = took && std::mem::take(&mut queues.waiting);
        drop(queues);
        if notify {
            self.shared.room.notify_waiters();
        }
        Polled::Frames
    }

    /// Frames in the data queue now (for tests and the batch size).
    pub fn queued(&self) -> usize {
        self.shared.lock().data.len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut queues = self.shared.lock();
        queues.gone = true;
        queues.dropped = true;
        queues.control.clear();
        queues.data.clear();
        let inbound = queues.inbound.take();
        drop(queues);
        self.shared.room.notify_waiters();
        if let Some(waker) = inbound {
            waker.wake();
        }
    }
}

impl GoneSignal {
    /// Ready once the connection dropped the body.
    pub fn poll_gone(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut queues = self.shared.lock();
        if queues.dropped {
            return Poll::Ready(());
        }
        if !queues.inbound.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            queues.inbound = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn text(s: &str) -> Outbound {
        Outbound::Text(ByteString::from(s.to_string()))
    }

    /// Polls once, taking at most `max_data` data frames: (control, data) taken.
    fn frames(body: &Receiver, max_data: usize) -> (usize, usize) {
        let mut cx = Context::from_waker(Waker::noop());
        let (mut control, mut data) = (0, 0);
        let polled = body.poll(&mut cx, |item| {
            match item {
                Outbound::Text(t) if t.starts_with('c') => control += 1,
                _ => data += 1,
            }
            data < max_data
        });
        assert_eq!(polled, Polled::Frames);
        (control, data)
    }

    fn idle(body: &Receiver) -> Polled {
        let mut cx = Context::from_waker(Waker::noop());
        body.poll(&mut cx, |_| panic!("nothing to write"))
    }

    #[test]
    fn queues_are_bounded_and_a_full_data_queue_is_told_apart_from_a_gone_socket() {
        let (outbox, body, _gone) = socket(2);
        assert_eq!(outbox.try_data(text("a")), Ok(()));
        assert_eq!(outbox.try_data(text("b")), Ok(()));
        assert_eq!(outbox.try_data(text("c")), Err(Refused::Full));
        for _ in 0..CONTROL_QUEUE {
            assert!(outbox.control("c".into()));
        }
        assert!(!outbox.control("c: one too many".into()), "the control queue is bounded");
        assert_eq!(frames(&body, 1), (CONTROL_QUEUE, 1), "every control frame, then data while it fits");
        assert_eq!(frames(&body, 8), (0, 1));
        assert_eq!(idle(&body), Polled::Idle);
        drop(body);
        assert_eq!(outbox.try_data(text("d")), Err(Refused::Gone));
        assert!(!outbox.control("late".into()));
    }

    #[test]
    fn a_close_goes_before_what_is_still_queued_and_refuses_what_comes_after() {
        let (outbox, body, _gone) = socket(8);
        outbox.try_data(text("not written")).unwrap();
        outbox.close(None);
        assert_eq!(outbox.try_data(text("after")), Err(Refused::Gone));
        assert_eq!(idle(&body), Polled::Close(None));
        assert_eq!(body.queued(), 0);
    }

    #[test]
    fn the_last_sender_gone_ends_the_body() {
        let (outbox, body, _gone) = socket(8);
        let clone = outbox.clone();
        drop(outbox);
        assert_eq!(idle(&body), Polled::Idle, "a clone still sends");
        drop(clone);
        assert_eq!(idle(&body), Polled::Ended);
    }

    #[test]
    fn a_drained_queue_that_grew_frees_its_buffer() {
        let (outbox, body, _gone) = socket(512);
        for _ in 0..300 {
            outbox.try_data(text("t")).unwrap();
        }
        assert_eq!(frames(&body, 1000), (0, 300));
        assert_eq!(body.shared.lock().data.capacity(), 0);
    }

    #[tokio::test]
    async fn a_waiting_sender_gets_room_when_the_body_drains_and_an_error_when_it_is_gone() {
        let (outbox, body, _gone) = socket(1);
        outbox.try_data(text("full")).unwrap();
        let waiter = outbox.clone();
        let sent = tokio::spawn(async move { waiter.data(text("next")).await });
        tokio::task::yield_now().await;
        assert!(!sent.is_finished(), "it waits for room");
        assert_eq!(frames(&body, 8), (0, 1));
        assert_eq!(sent.await.unwrap(), Ok(()));
        assert_eq!(body.queued(), 1);
        let waiter = outbox.clone();
        let refused = tokio::spawn(async move { waiter.data(text("never")).await });
        tokio::task::yield_now().await;
        drop(body);
        assert_eq!(refused.await.unwrap(), Err(Refused::Gone));
    }

    #[test]
    fn the_inbound_side_learns_when_the_connection_dropped_the_body() {
        let (outbox, body, gone) = socket(8);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(gone.poll_gone(&mut cx).is_pending());
        drop(body);
        assert!(gone.poll_gone(&mut cx).is_ready());
        drop(outbox);
    }
}
