//! askpanel's deliberation engine: the actor system that runs panels.
//!
//! Map (dependencies flow downwards):
//! - [`ids`], [`domain`]: id newtypes, panel types, members, configuration.
//! - [`event`]: the durable events of a panel's log and live token deltas.
//! - [`consensus`]: pure statistics (RAND/UCLA, confidence-weighted,
//!   majority) and the `ConsensusActor` that measures rounds and drafts.
//! - [`panel`]: the fold of events into state ([`panel::state`]), the six
//!   formats as one pure state machine ([`panel::strategy`]), the API view,
//!   creation rules, and the `PanelActor` (the single writer of a panel).
//! - [`model`]: the expert model port and the simulated model.
//! - [`evidence`]: grounded panels: passages given to members, citations
//!   checked against them, the sources of a recommendation.
//! - [`expert`]: the `ExpertActor`, one per AI member.
//! - [`ports`]: the event log and fan-out traits the server implements.
//! - [`supervisor`]: the `TenantSupervisor`, one per tenant.
//! - [`runtime`]: what the engine's parts share: errors, settings, the
//!   panel actors' ports, the arbiter pool, the running-panel index.
//! - [`engine`]: the facade: supervisors, routing.
//! - [`testing`]: in-memory ports for tests and the CLI.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod consensus;
pub mod domain;
pub mod engine;
pub mod event;
pub mod evidence;
pub mod expert;
pub mod ids;
pub mod model;
pub mod panel;
pub mod ports;
pub mod runtime;
pub mod supervisor;
pub mod testing;

pub use engine::{Engine, EngineError, EngineSettings, PanelDeps};
pub use event::{Event, EventData, TokenDelta};
