//! `GET /v1/ws`: the WebSocket protocol of API.md. [`protocol`] parses and
//! builds frames (pure), [`session`] is the session actor, [`subscription`]
//! the per-panel forwarder, [`outbox`] a socket's outbound queues,
//! [`writer`] the body that writes them, [`inbound`] the client's frames,
//! [`registry`] the node's open sockets.

pub mod inbound;
pub mod outbox;
pub mod protocol;
pub mod registry;
pub mod route;
pub mod session;
pub mod subscription;
pub mod writer;
