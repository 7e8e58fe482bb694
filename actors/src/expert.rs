//! `ExpertActor`: one per AI member of a running panel. It holds the
//! member's persona and memory of its own turns and produces turns and bids
//! through the model port. It lives on its panel's arbiter.

use std::sync::Arc;

use actix::prelude::*;
use futures::FutureExt;

use crate::domain::{ExpertProfile, MemberId, PanelId, SimulationConfig, TenantId};
use crate::model::{Bid, BidRequest, ExpertModel, MemoryItem, ModelError, TurnRequest, TurnStream, Usage};
use crate::panel::strategy::MemberView;

pub struct ExpertActor {
    tenant_id: TenantId,
    panel_id: PanelId,
    profile: ExpertProfile,
    model: Arc<dyn ExpertModel>,
    simulation: SimulationConfig,
    memory: Vec<MemoryItem>,
}

impl ExpertActor {
    pub fn new(tenant_id: TenantId, panel_id: PanelId, profile: ExpertProfile, model: Arc<dyn ExpertModel>, simulation: SimulationConfig, memory: Vec<MemoryItem>) -> Self {
        Self { tenant_id, panel_id, profile, model, simulation, memory }
    }

    pub fn member_id(&self) -> MemberId {
        self.profile.member_id
    }
}

impl Actor for ExpertActor {
    type Context = Context<Self>;
}

/// Produce one turn; the reply is the stream of its deltas and final output.
#[derive(Message)]
#[rtype(result = "TurnStream")]
pub struct TakeTurn {
    /// What the member is shown.
    pub view: MemberView,
    /// Which attempt at this turn (1 = first).
    pub attempt: u32,
}

impl Handler<TakeTurn> for ExpertActor {
    type Result = MessageResult<TakeTurn>;

    fn handle(&mut self, msg: TakeTurn, _: &mut Context<Self>) -> Self::Result {
        tracing::debug!(tenant_id = %self.tenant_id, panel_id = %self.panel_id, member_id = %self.profile.member_id, round = msg.view.round, attempt = msg.attempt, "expert takes a turn");
        MessageResult(self.model.stream_turn(TurnRequest {
            tenant_id: self.tenant_id,
            panel_id: self.panel_id,
            member_id: self.profile.member_id,
            profile: self.profile.clone(),
            view: msg.view,
            memory: self.memory.clone(),
            simulation: self.simulation.clone(),
            attempt: msg.attempt,
        }))
    }
}

/// Record a completed turn of this member in its memory.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Remember {
    /// The turn as it was committed.
    pub item: MemoryItem,
}

impl Handler<Remember> for ExpertActor {
    type Result = ();

    fn handle(&mut self, msg: Remember, _: &mut Context<Self>) {
        self.memory.push(msg.item);
    }
}

/// Open panels: ask whether the member wants to speak this round.
#[derive(Message)]
#[rtype(result = "Result<(Bid, Usage), ModelError>")]
pub struct RequestBid {
    /// What the member is shown (known ideas included).
    pub view: MemberView,
}

impl Handler<RequestBid> for ExpertActor {
    type Result = ResponseFuture<Result<(Bid, Usage), ModelError>>;

    fn handle(&mut self, msg: RequestBid, _: &mut Context<Self>) -> Self::Result {
        self.model
            .bid(BidRequest { tenant_id: self.tenant_id, panel_id: self.panel_id, profile: self.profile.clone(), view: msg.view, simulation: self.simulation.clone() })
            .boxed()
    }
}
