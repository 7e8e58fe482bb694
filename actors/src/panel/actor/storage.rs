//! The panel actor when its storage fails: the uncommitted events wait,
//! retried with backoff, and the panel shows as paused meanwhile.

use std::time::Duration;

use actix::prelude::*;

use super::{Blocked, PanelActor, STORAGE_RETRY_MAX};
use crate::domain::{PanelStatus, PauseReason};
use crate::event::EventData;
use crate::ports::LogError;

impl PanelActor {
    /// Freezes the panel after a storage failure and schedules a retry.
    pub(super) fn block(&mut self, ctx: &mut Context<Self>, blocked: Blocked) {
        tracing::warn!(parent: &self.span, attempts = blocked.attempts, error = %blocked.error, "storage unavailable; panel paused until it is back");
        self.cancel_in_flight(ctx);
        if let Some((_, handle)) = self.human_timer.take() {
            ctx.cancel_future(handle);
        }
        let delay = Duration::from_millis(100u64.saturating_mul(1 << blocked.attempts.min(10))).min(STORAGE_RETRY_MAX);
        self.blocked = Some(blocked);
        self.publish_view();
        ctx.run_later(delay, |act, ctx| act.retry_blocked(ctx));
    }

    pub(super) fn retry_blocked(&mut self, ctx: &mut Context<Self>) {
        let Some(blocked) = self.blocked.take() else { return };
        if self.exit.is_some() {
            return;
        }
        let status = self.state.status();
        let mut data = Vec::new();
        // Record the pause, unless a moderator had paused the panel already.
        if status != PanelStatus::Paused && !status.is_terminal() {
            data.push(EventData::PanelPaused {
                reason: PauseReason::StorageUnavailable(blocked.error.clone()).as_string(),
            });
            data.push(EventData::PanelResumed {});
        }
        data.extend(blocked.data.iter().cloned());
        let events = self.stamp(data);
        let status_after = self.state.status_after(&events);
        let events = match super::seal(events) {
            Ok(events) => events,
            Err(error) => return self.crash(ctx, error),
        };
        self.committing = true;
        let append = self.deps.log.append(self.tenant_id, self.panel_id, events.clone(), status_after);
        ctx.wait(append.into_actor(self).map(move |result, act, ctx| {
            act.committing = false;
            match result {
                Ok(()) => {
                    tracing::info!(parent: &act.span, attempts = blocked.attempts + 1, "storage is back; panel continues");
                    act.committed(ctx, events, blocked.then);
                }
                Err(LogError::Storage(error)) => act.block(ctx, Blocked { attempts: blocked.attempts + 1, error, ..blocked }),
                Err(LogError::Fenced) => act.relinquish(ctx),
                Err(error) => act.crash(ctx, format!("event log append refused: {error}")),
            }
        }));
    }
}
