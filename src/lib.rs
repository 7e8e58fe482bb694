//! askpanel's server: the engine of `askpanel-actors` behind HTTP and
//! WebSocket, on SQLite (embedded) or PostgreSQL.
//!
//! Map (dependencies flow downwards):
//! - [`startup`]: `Application::build` wires everything; `run` serves and shuts down.
//! - [`configuration`]: layered settings; [`telemetry`]: tracing.
//! - [`routes`]: HTTP handlers, one file per resource; [`ws`]: the WebSocket
//!   protocol, session actor and subscriptions.
//! - [`extract`], [`auth`]: who is calling (keys, roles, WebSocket tokens);
//!   [`limits`]: tenant limits and rate limiting; [`validation`]: strict bodies.
//! - [`panels`]: panel operations shared by HTTP and WebSocket.
//! - [`bus`]: fan-out of pre-serialised frames to this node's clients;
//!   [`cluster`]: several nodes over Redis (fan-out, leases, routing).
//! - [`store`]: every SQL query, behind the `Store` trait.
//! - [`catalog`]: expert personas and BM25 ranking; [`metrics`]: Prometheus.
//! - [`llm`]: the OpenAI-compatible expert model (prompts, streaming, retries, breaker).
//! - [`ask`]: the `ask` command, a panel in the terminal.
//! - [`error`]: `ApiError`, API.md's error body.

pub mod ask;
pub mod auth;
pub mod budget;
pub mod bus;
pub mod catalog;
pub mod cluster;
pub mod configuration;
pub mod error;
pub mod eval;
pub mod extract;
pub mod limits;
pub mod llm;
pub mod metrics;
pub mod panels;
pub mod routes;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod validation;
pub mod ws;

/// The platform catalog shipped with the binary (`config/experts.toml`).
pub const BUILTIN_CATALOG: &str = include_str!("../config/experts.toml");
