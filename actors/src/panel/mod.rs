//! A panel: its state (the fold of its events), the formats' strategy, the
//! view API clients see, creation rules, and the `PanelActor`.

pub mod actor;
pub mod anonymity;
pub mod commands;
pub mod feedback;
#[cfg(test)]
pub(crate) mod fixture;
pub mod ideas;
pub mod messages;
pub mod new;
pub mod state;
pub mod stopping;
pub mod strategy;
pub mod view;

pub use actor::PanelActor;
pub use messages::{Command, ExitStatus, GetSnapshot, PanelCommand, PanelError, PanelExited};
pub use state::PanelState;
pub use view::PanelView;
