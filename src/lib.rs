//! askpanel's server: the engine of `askpanel-actors` behind HTTP and
//! WebSocket, on SQLite (embedded) or PostgreSQL.
//!
//! Map (dependencies flow downwards):
//! - [`startup`]: `Application::build` wires everything; `run` serves and shuts down.
//! - [`routes`]: HTTP handlers, one file per resource; [`ws`]: the WebSocket
//!   protocol, session actor and subscriptions; [`extract`]: who is calling
//!   (keys, roles, rate limits); [`panels`]: panel operations shared by HTTP
//!   and WebSocket; [`budget`]: the monthly token budget watcher. These take
//!   the application state.
//! - [`state`]: `AppState`, where the parts meet. Nothing below imports it:
//!   the parts below take the narrow handles they need.
//! - [`tenants`]: what follows a tenant change or a key revocation on this
//!   node (caches, running panels, and open sockets through `ws::registry`,
//!   the one low part of [`ws`]).
//! - [`cluster`]: several nodes over Redis (fan-out, leases, routing,
//!   control messages, the node loop); it applies other nodes' changes
//!   through [`tenants`].
//! - [`auth`]: keys, roles, WebSocket tokens; [`limits`]: tenant limits,
//!   the engine's policy and the rate limiter; [`validation`]: strict bodies.
//! - [`bus`]: fan-out of pre-serialised frames to this node's clients.
//! - [`store`]: every SQL query, behind the `Store` trait.
//! - [`catalog`]: expert personas and BM25 ranking; [`metrics`]: Prometheus;
//!   [`configuration`]: layered settings; [`telemetry`]: tracing; [`memory`]:
//!   freed memory returned to the system while the node is busy.
//! - [`llm`]: the OpenAI-compatible expert model (prompts, streaming, retries, breaker).
//! - [`ask`]: the `ask` command, a panel in the terminal; [`eval`]: the eval command.
//! - [`error`]: `ApiError`, API.md's error body.

pub mod accounts;
pub mod ask;
pub mod audit;
pub mod auth;
pub mod budget;
pub mod bus;
pub mod catalog;
pub mod cluster;
pub mod configuration;
pub mod documents;
pub mod error;
pub mod eval;
pub mod extract;
pub mod limits;
pub mod llm;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod origins;
pub mod panels;
pub mod presence;
pub mod records;
pub mod report;
pub mod routes;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod usage;
pub mod validation;
pub mod webhooks;
pub mod ws;

/// The platform catalog shipped with the binary (`config/experts.toml`).
pub const BUILTIN_CATALOG: &str = include_str!("../config/experts.toml");
