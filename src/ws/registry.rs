//! The node's open streams, WebSocket sessions and SSE streams alike:
//! counted per holder (a key, a user, a share link: each may hold a bounded
//! number of them), closed together when their key is revoked, their
//! session ends, their tenant is suspended, or the server shuts down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::prelude::*;
use askpanel_actors::domain::TenantId;
use dashmap::DashMap;
use uuid::Uuid;

/// Ask a session to close its socket with a code and reason.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct CloseSession {
    /// The WebSocket close code (1008 policy, 1001 going away...).
    pub code: u16,
    pub reason: String,
}

/// A frame for a socket that no subscription carries (a notification).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct PushFrame(pub String);

/// How an open stream is told to close.
enum Closer {
    /// A WebSocket session actor (closes with the code and reason; takes pushed frames).
    Socket(Recipient<CloseSession>, Recipient<PushFrame>),
    /// An SSE stream's task (ends the response).
    Stream(Arc<tokio::sync::Notify>),
}

struct Entry {
    /// The key's, user's or share link's id.
    holder: Uuid,
    /// A user's sign-in session.
    session: Option<Uuid>,
    tenant_id: TenantId,
    closer: Closer,
}

#[derive(Default)]
pub struct SessionRegistry {
    sessions: DashMap<u64, Entry>,
    per_holder: DashMap<Uuid, usize>,
    next_id: AtomicU64,
}

impl SessionRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reserves a socket for a holder; `None` when it holds `max` already.
    pub fn reserve(&self, holder: Uuid, max: usize) -> Option<u64> {
        let mut count = self.per_holder.entry(holder).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    pub fn register(
        &self,
        id: u64,
        holder: Uuid,
        session: Option<Uuid>,
        tenant_id: TenantId,
        addr: Recipient<CloseSession>,
        push: Recipient<PushFrame>,
    ) {
        self.sessions.insert(id, Entry { holder, session, tenant_id, closer: Closer::Socket(addr, push) });
    }

    /// Registers an SSE stream reserved with [`SessionRegistry::reserve`]; the
    /// stream ends when the returned signal fires.
    pub fn register_stream(
        &self,
        id: u64,
        holder: Uuid,
        session: Option<Uuid>,
        tenant_id: TenantId,
    ) -> Arc<tokio::sync::Notify> {
        let close = Arc::new(tokio::sync::Notify::new());
        self.sessions.insert(id, Entry { holder, session, tenant_id, closer: Closer::Stream(close.clone()) });
        close
    }

    /// Forgets a session (or a reservation that never opened).
    pub fn unregister(&self, id: u64, holder: Uuid) {
        self.sessions.remove(&id);
        if let Some(mut count) = self.per_holder.get_mut(&holder) {
            *count = count.saturating_sub(1);
        }
        self.per_holder.remove_if(&holder, |_, c| *c == 0);
    }

    pub fn count(&self) -> usize {
        self.sessions.len()
    }

    /// Closes every socket of a key, user or share link (revocation, removal).
    pub fn close_holder(&self, holder: Uuid, code: u16, reason: &str) -> usize {
        self.close_where(|e| e.holder == holder, code, reason)
    }

    /// Closes every socket opened under one sign-in session (sign-out).
    pub fn close_session(&self, session: Uuid, code: u16, reason: &str) -> usize {
        self.close_where(|e| e.session == Some(session), code, reason)
    }

    /// Closes every socket of a tenant (suspension).
    pub fn close_tenant(&self, tenant_id: TenantId, code: u16, reason: &str) -> usize {
        self.close_where(|e| e.tenant_id == tenant_id, code, reason)
    }

    /// Closes every socket (shutdown).
    pub fn close_all(&self, code: u16, reason: &str) -> usize {
        self.close_where(|_| true, code, reason)
    }

    /// Sends a frame to every WebSocket of a holder in a tenant (SSE streams
    /// carry only their panel). Returns how many sockets it went to.
    pub fn push_to_holder(&self, tenant_id: TenantId, holder: Uuid, text: &str) -> usize {
        let mut sent = 0;
        for entry in self.sessions.iter().filter(|e| e.holder == holder && e.tenant_id == tenant_id) {
            if let Closer::Socket(_, push) = &entry.closer {
                // Bounded: a full mailbox drops the frame (the page reads the
                // list again when it reconnects or opens the bell).
                if push.try_send(PushFrame(text.to_string())).is_ok() {
                    sent += 1;
                }
            }
        }
        sent
    }

    fn close_where(&self, select: impl Fn(&Entry) -> bool, code: u16, reason: &str) -> usize {
        let mut closed = 0;
        for entry in self.sessions.iter().filter(|e| select(e)) {
            match &entry.closer {
                // One close per socket, once: bounded.
                Closer::Socket(addr, _) => addr.do_send(CloseSession { code, reason: reason.to_string() }),
                // A stored permit: the stream ends even if it is not waiting right now.
                Closer::Stream(close) => close.notify_one(),
            }
            closed += 1;
        }
        closed
    }
}
