//! Notifications (`docs/notifications.md`): what people hear about panels,
//! in the page (a bell, over the WebSocket) and by email.
//!
//! [`rules`] are pure (what events announce, reminders, preferences, who
//! gets what); [`announce`] follows the event logs and [`jobs`] runs the
//! deferred work (emails, reminders); the store records what the announcer
//! finds in one transaction with its claim. The store depends on the rules
//! only, never on the workers.

pub mod announce;
pub mod jobs;
pub mod rules;

pub use rules::*;
