//! `GET /v1/ws`: the WebSocket protocol of API.md. [`protocol`] parses and
//! builds frames (pure), [`session`] is the session actor, [`subscription`]
//! the per-panel forwarder, [`writer`] the socket's outbound frames,
//! [`registry`] the node's open sockets.

pub mod protocol;
pub mod registry;
pub mod route;
pub mod session;
pub mod subscription;
pub mod writer;
