//! Messages of the panel actor. Every command names its tenant and panel;
//! the actor refuses one that does not match as if the panel did not exist.

use actix::prelude::*;
use thiserror::Error;

use crate::domain::{Caller, MemberId, PanelId, PauseReason, TenantId};
use crate::event::ModeratorActionKind;
use crate::panel::view::PanelView;

/// Why a panel refused a command.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum PanelError {
    /// No such panel for this tenant (also for another tenant's panel).
    #[error("panel not found")]
    NotFound,
    /// The caller may not do this (not a moderator, not this member's key).
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The command does not fit the panel's state (not your turn, already paused...).
    #[error("{0}")]
    Conflict(String),
    /// A field of the command is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field at fault.
        field: String,
        /// Why it is invalid.
        message: String,
    },
    /// The panel cannot take commands now (storage down, restarting).
    #[error("panel unavailable: {0}")]
    Unavailable(String),
}

/// What a caller asks of a panel.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// A human member's turn.
    HumanInput {
        /// The human member whose turn it is.
        member_id: MemberId,
        /// What they say, possibly with a rating trailer.
        text: String,
        /// An explicit rating of the draft (else read from a trailer in `text`).
        rating: Option<u8>,
        /// An explicit confidence in [0, 1] for that rating.
        confidence: Option<f64>,
    },
    /// A moderator's action (`moderate` in API.md).
    Moderate {
        /// What the moderator does.
        action: ModeratorActionKind,
        /// The question or instruction, required for `inject`.
        text: Option<String>,
    },
    /// The platform pauses the panel (tenant suspended, budget spent).
    SystemPause {
        /// Why the platform pauses the panel.
        reason: PauseReason,
    },
    /// Lifts a [`Command::SystemPause`] with the same reason.
    SystemResume {
        /// The pause to lift.
        reason: PauseReason,
    },
}

/// A command for a running panel; replies once its events are durable.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<(), PanelError>")]
pub struct PanelCommand {
    /// The caller's tenant: checked against the panel's.
    pub tenant_id: TenantId,
    /// The panel commanded.
    pub panel_id: PanelId,
    /// Who issues the command, for authorisation.
    pub caller: Caller,
    /// What is asked.
    pub command: Command,
}

/// The panel as it stands, with the text streamed so far of the turn in progress.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "Result<PanelView, PanelError>")]
pub struct GetSnapshot {
    /// The caller's tenant: checked against the panel's.
    pub tenant_id: TenantId,
    /// The panel to show.
    pub panel_id: PanelId,
}

/// Stop for a server shutdown: checkpoint a turn in flight and stop.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Shutdown;

/// How a panel actor ended.
#[derive(Clone, Debug, PartialEq)]
pub enum ExitStatus {
    /// `panel_completed` is in the log.
    Completed,
    /// `panel_cancelled` is in the log.
    Cancelled,
    /// `panel_failed` is in the log.
    Failed(String),
    /// It stopped on an error and should be restarted from its log.
    Crashed(String),
    /// It stopped without deciding to (a panic in a handler): restarted from its log like a crash.
    Panicked,
    /// Stopped for a shutdown; it resumes at the next start.
    Stopped,
    /// Another node owns the panel now (lease lost, or a write was fenced): stopped without writing.
    Relinquished,
}

/// Give the panel up at once, writing nothing: another node owns it now.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct Relinquish;

/// Sent by a panel actor to its supervisor when it stops.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct PanelExited {
    /// The panel's tenant.
    pub tenant_id: TenantId,
    /// The panel that stopped.
    pub panel_id: PanelId,
    /// How it ended.
    pub status: ExitStatus,
    /// Turns this incarnation ended durably (completed, or aborted by a model
    /// error): progress, which resets the restart budget. An aborted turn
    /// counts because the log bounds what follows it: after
    /// `MAX_TURN_ATTEMPTS` the member is skipped, and a panel with too few
    /// members able to speak fails. A model outage thus never spends the
    /// budget meant for crash loops.
    pub turns_ended: u32,
}
