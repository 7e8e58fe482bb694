//! `ExpertActor`: one per AI member of a running panel. It holds the
//! member's persona and owns the member's model calls (turns and bids)
//! through the model port; what the member is shown comes with each request
//! (the panel's [`MemberView`]), so it keeps no copy of the panel. It lives
//! on its panel's arbiter.
//!
//! Independent positions (round 1) may be prepared ahead: the panel sends
//! [`PrepareTurn`] to every member of the round at once, each expert starts
//! its model call and buffers what streams in, and when the member's turn
//! comes [`TakeTurn`] replays the buffer and continues live, so clients
//! still see one turn at a time in the declared order. A prepared turn is
//! used only when the member would be shown exactly the same view (a
//! moderator's injection in between, for example, runs it afresh).
//!
//! In a panel with documents, each turn first retrieves the passages most
//! relevant to the question, the round's focus and the persona through the
//! [`Evidence`] port, gives the model those that fit the turn's budget, and
//! checks every citation of the finished text against them
//! ([`crate::evidence`]): an invented one is marked invalid and flagged.

use std::sync::Arc;

use actix::prelude::*;
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use crate::domain::{ExpertProfile, MemberId, PanelId, SimulationConfig, TenantId, TurnFlag};
use crate::evidence::{self, Evidence, EvidenceQuery, GivenPassage, PanelDocument};
use crate::model::{Bid, BidRequest, ExpertModel, ModelError, TurnChunk, TurnRequest, TurnStream, Usage};
use crate::panel::strategy::MemberView;

/// Chunks a prepared turn may buffer before its model call waits (a turn is
/// bounded by the model's `max_tokens`, so this is rarely reached).
const PREPARED_CHUNKS: usize = 4096;

/// A turn started ahead of its place in the speaking order.
struct Prepared {
    view: MemberView,
    attempt: u32,
    chunks: mpsc::Receiver<Result<TurnChunk, ModelError>>,
    handle: SpawnHandle,
}

/// The documents of a panel, for its experts' turns.
#[derive(Clone)]
pub struct Grounding {
    /// Where passages come from.
    pub evidence: Arc<dyn Evidence>,
    /// The panel's documents (none: turns are not grounded).
    pub documents: Vec<PanelDocument>,
    /// Characters of passage text a turn is given.
    pub budget: u32,
}

/// One AI member of a running panel: writes its turns and bids through the model port.
pub struct ExpertActor {
    tenant_id: TenantId,
    panel_id: PanelId,
    profile: Arc<ExpertProfile>,
    model: Arc<dyn ExpertModel>,
    simulation: SimulationConfig,
    grounding: Option<Grounding>,
    /// Boxed: a member view is large and most experts hold none.
    prepared: Option<Box<Prepared>>,
    /// The parent of everything this actor logs: tenant, panel and member.
    span: tracing::Span,
}

impl ExpertActor {
    /// An expert for one member of one panel.
    pub fn new(
        tenant_id: TenantId,
        panel_id: PanelId,
        profile: Arc<ExpertProfile>,
        model: Arc<dyn ExpertModel>,
        simulation: SimulationConfig,
    ) -> Self {
        let span =
            tracing::info_span!("expert", tenant_id = %tenant_id, panel_id = %panel_id, member_id = %profile.member_id);
        Self { tenant_id, panel_id, profile, model, simulation, grounding: None, prepared: None, span }
    }

    /// Grounds the expert's turns in the panel's documents (when it has any).
    pub fn grounded(mut self, grounding: Grounding) -> Self {
        self.grounding = (!grounding.documents.is_empty()).then_some(grounding);
        self
    }

    fn request(&self, view: MemberView, attempt: u32) -> TurnRequest {
        TurnRequest {
            tenant_id: self.tenant_id,
            panel_id: self.panel_id,
            member_id: self.profile.member_id,
            profile: self.profile.clone(),
            view,
            simulation: self.simulation.clone(),
            attempt,
            evidence: Vec::new(),
        }
    }

    /// The turn's model stream: in a panel with documents, the passages are
    /// retrieved first and the finished text's citations checked.
    fn turn_stream(&self, view: MemberView, attempt: u32) -> TurnStream {
        let mut request = self.request(view, attempt);
        let Some(grounding) = self.grounding.clone() else { return to_contract(self.model.stream_turn(request)) };
        let model = self.model.clone();
        let span = self.span.clone();
        let query = EvidenceQuery {
            documents: grounding.documents.iter().map(|d| d.id).collect(),
            text: evidence::query_text(&request.profile, &request.view),
            limit: evidence::MAX_PASSAGES * 2,
        };
        let retrieval = grounding.evidence.retrieve(self.tenant_id, query);
        futures::stream::once(async move {
            let (given, used) = match retrieval.await {
                Ok(passages) => evidence::give(&grounding.documents, passages, grounding.budget),
                Err(error) => {
                    // The turn goes on without evidence; the event says why.
                    tracing::warn!(parent: &span, %error, "passages could not be retrieved");
                    let used = evidence::EvidenceUse {
                        budget: grounding.budget as u64,
                        error: Some(format!("passages could not be retrieved: {error}")),
                        ..Default::default()
                    };
                    (Vec::new(), used)
                }
            };
            request.evidence = given.clone();
            to_contract(model.stream_turn(request)).map(move |chunk| cite(chunk, &given, &used))
        })
        .flatten()
        .boxed()
    }

    /// The member it speaks for.
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

    fn handle(&mut self, msg: TakeTurn, ctx: &mut Context<Self>) -> Self::Result {
        tracing::debug!(parent: &self.span, round = msg.view.round, attempt = msg.attempt, "expert takes a turn");
        if let Some(prepared) = self.prepared.take() {
            if prepared.view == msg.view && prepared.attempt == msg.attempt {
                let chunks =
                    futures::stream::unfold(
                        prepared.chunks,
                        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
                    );
                return MessageResult(to_contract(chunks.boxed()));
            }
            // Prepared for another view: its call is cancelled with its buffer.
            ctx.cancel_future(prepared.handle);
        }
        MessageResult(self.turn_stream(msg.view, msg.attempt))
    }
}

/// Start a turn ahead of its place in the order (independent positions).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PrepareTurn {
    /// What the member will be shown when its turn comes.
    pub view: MemberView,
    /// Which attempt at this turn (1 = first).
    pub attempt: u32,
}

impl Handler<PrepareTurn> for ExpertActor {
    type Result = ();

    fn handle(&mut self, msg: PrepareTurn, ctx: &mut Context<Self>) {
        if let Some(old) = self.prepared.take() {
            ctx.cancel_future(old.handle);
        }
        let (tx, rx) = mpsc::channel(PREPARED_CHUNKS);
        let mut stream = self.turn_stream(msg.view.clone(), msg.attempt);
        let forward = async move {
            while let Some(chunk) = stream.next().await {
                if tx.send(chunk).await.is_err() {
                    break;
                }
            }
        };
        let handle = ctx.spawn(forward.into_actor(self));
        self.prepared = Some(Box::new(Prepared { view: msg.view, attempt: msg.attempt, chunks: rx, handle }));
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
            .bid(BidRequest {
                tenant_id: self.tenant_id,
                panel_id: self.panel_id,
                profile: self.profile.clone(),
                view: msg.view,
                simulation: self.simulation.clone(),
            })
            .boxed()
    }
}

/// A grounded turn's result with what the member was given and its
/// citations checked against it; an invented citation flags the turn.
fn cite(
    chunk: Result<TurnChunk, ModelError>,
    given: &[GivenPassage],
    used: &evidence::EvidenceUse,
) -> Result<TurnChunk, ModelError> {
    let Ok(TurnChunk::Done(mut output)) = chunk else { return chunk };
    output.citations = evidence::check_turn(&output.text, given);
    if output.citations.iter().any(|c| !c.valid) && !output.flags.contains(&TurnFlag::InventedCitation) {
        output.flags.push(TurnFlag::InventedCitation);
    }
    output.evidence = Some(used.clone());
    Ok(TurnChunk::Done(output))
}

/// The reason of a turn whose model stream ended before its result.
pub const ENDED_EARLY: &str = "the model's stream ended before the turn was complete";

/// Holds a model's turn stream to the port's contract, whatever the model:
/// text deltas, then exactly one `Done` or one error, then nothing. A stream
/// that ends before its `Done` ends with an error (the panel voids the turn
/// and runs it again); anything after the end is dropped.
pub fn to_contract(stream: TurnStream) -> TurnStream {
    futures::stream::unfold(Some(stream), |state| async move {
        let mut stream = state?;
        match stream.next().await {
            Some(Ok(TurnChunk::Delta(delta))) => Some((Ok(TurnChunk::Delta(delta)), Some(stream))),
            // The end: whatever the model would send after it is not read.
            Some(last) => Some((last, None)),
            None => Some((Err(ModelError::Stream(ENDED_EARLY.into())), None)),
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use futures::stream;

    use super::*;
    use crate::model::TurnOutput;

    type Chunks = Vec<Result<TurnChunk, ModelError>>;

    async fn collect(chunks: Chunks) -> Chunks {
        to_contract(stream::iter(chunks).boxed()).collect().await
    }

    #[actix::test]
    async fn a_turn_stream_ends_with_exactly_one_result_or_error() {
        let delta = |t: &str| Ok(TurnChunk::Delta(t.into()));
        let done = || Ok(TurnChunk::Done(TurnOutput::default()));
        let failed = || Err(ModelError::Stream("broke".into()));
        let early = || Err(ModelError::Stream(ENDED_EARLY.into()));
        let table: Vec<(&str, Chunks, Chunks)> = vec![
            ("complete", vec![delta("a"), delta("b"), done()], vec![delta("a"), delta("b"), done()]),
            ("cut off", vec![delta("a")], vec![delta("a"), early()]),
            ("empty", vec![], vec![early()]),
            ("chunks after the result", vec![delta("a"), done(), delta("late"), done()], vec![delta("a"), done()]),
            ("chunks after an error", vec![delta("a"), failed(), delta("late")], vec![delta("a"), failed()]),
        ];
        for (name, input, expected) in table {
            assert_eq!(collect(input).await, expected, "{name}");
        }
    }
}
