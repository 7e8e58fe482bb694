//! The panel actor's lifecycle and messages.

use actix::prelude::*;
use tokio::sync::oneshot;

use super::{Advance, PanelActor, Then};
use crate::consensus::ConsensusActor;
use crate::domain::PauseReason;
use crate::event::EventData;
use crate::expert::{ExpertActor, Grounding};
use crate::panel::commands;
use crate::panel::messages::{ExitStatus, GetSnapshot, PanelCommand, PanelError, PanelExited, Relinquish, Shutdown};

impl Actor for PanelActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(parent: &self.span, head_seq = self.state.head_seq(), "panel actor started");
        let simulation = self.simulation();
        let config = &self.state.setup.config;
        let grounding = Grounding {
            evidence: self.deps.evidence.clone(),
            documents: config.documents.clone(),
            budget: config.evidence_chars.unwrap_or(crate::domain::grounding::DEFAULT_BUDGET_CHARS),
        };
        for profile in &self.state.setup.profiles {
            let expert = ExpertActor::new(
                self.tenant_id,
                self.panel_id,
                profile.clone(),
                self.deps.model.clone(),
                simulation.clone(),
            )
            .grounded(grounding.clone())
            .start();
            self.experts.insert(profile.member_id, expert);
        }
        self.consensus =
            Some(ConsensusActor::new(self.tenant_id, self.panel_id, self.deps.model.clone(), simulation).start());
        if matches!(commands::paused_reason(&self.state), Some(PauseReason::ModelUnavailable(_))) {
            self.watch_model(ctx);
        }
        ctx.notify(Advance);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // Every way this actor decides to stop records why first; stopping
        // without a reason means a handler panicked (the runtime caught it and
        // dropped the actor's context): a crash, restarted from the log.
        let status = self.exit.clone().unwrap_or(ExitStatus::Panicked);
        tracing::debug!(parent: &self.span, ?status, "panel actor stopped");
        if let Some(supervisor) = &self.supervisor {
            // One message per panel lifetime: bounded by the number of panels.
            supervisor.do_send(PanelExited {
                tenant_id: self.tenant_id,
                panel_id: self.panel_id,
                status,
                turns_ended: self.turns_ended,
            });
        }
    }
}

impl Handler<Advance> for PanelActor {
    type Result = ();

    fn handle(&mut self, _: Advance, ctx: &mut Context<Self>) {
        self.advance(ctx);
    }
}

impl Handler<PanelCommand> for PanelActor {
    type Result = ResponseFuture<Result<(), PanelError>>;

    fn handle(&mut self, msg: PanelCommand, ctx: &mut Context<Self>) -> Self::Result {
        if msg.tenant_id != self.tenant_id || msg.panel_id != self.panel_id {
            return Box::pin(async { Err(PanelError::NotFound) });
        }
        let (tx, rx) = oneshot::channel();
        self.handle_command(ctx, msg.caller, msg.command, tx);
        // A command may have freed the panel to go on (resume, skip...).
        if !self.committing {
            self.advance(ctx);
        }
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(PanelError::Unavailable("the panel stopped".into()))) })
    }
}

impl Handler<GetSnapshot> for PanelActor {
    type Result = Result<crate::panel::view::PanelView, PanelError>;

    fn handle(&mut self, msg: GetSnapshot, _: &mut Context<Self>) -> Self::Result {
        if msg.tenant_id != self.tenant_id || msg.panel_id != self.panel_id {
            return Err(PanelError::NotFound);
        }
        Ok(self.snapshot())
    }
}

impl Handler<Relinquish> for PanelActor {
    type Result = ();

    fn handle(&mut self, _: Relinquish, ctx: &mut Context<Self>) {
        self.relinquish(ctx);
    }
}

impl Handler<Shutdown> for PanelActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        if let Some((_, handle)) = self.human_timer.take() {
            ctx.cancel_future(handle);
        }
        match self.cancel_in_flight(ctx) {
            Some((member_id, round)) if !self.committing && self.blocked.is_none() => {
                let data = EventData::TurnAborted { member_id, round, reason: "interrupted".into(), error: None };
                self.commit(ctx, vec![data], Then::Stop, None);
            }
            _ => {
                self.exit = Some(ExitStatus::Stopped);
                ctx.stop();
            }
        }
    }
}
