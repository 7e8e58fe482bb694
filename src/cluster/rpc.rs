//! Routing: a human's input or a moderator's action for a panel owned by
//! another node goes to the owner (`P:node:{owner}`); the owner runs it on
//! its engine and answers on the sender's `P:reply:{node}`, where the
//! waiting caller is found by the request's id.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use askpanel_actors::domain::{Caller, PanelId, TenantId};
use askpanel_actors::engine::{Engine, EngineError};
use askpanel_actors::panel::messages::{Command, PanelError};
use dashmap::DashMap;
use tokio::sync::oneshot;

use super::Cluster;
use super::wire::{RpcReply, RpcRequest, WireCaller, WireCommand, WireError};

/// Why a routed command failed.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// Nobody holds the panel's lease (it is being taken over, or ended).
    #[error("no node holds the panel's lease")]
    NoOwner,
    /// The owner did not answer in time.
    #[error("the owner node did not answer in time")]
    Timeout,
    /// The owner answered that the panel does not run there (it moved).
    #[error("the panel does not run on its owner node")]
    NotRunning,
    /// The panel refused the command.
    #[error(transparent)]
    Panel(#[from] PanelError),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("could not encode the command: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Callers waiting for their replies, by request id.
#[derive(Default)]
pub(super) struct Waiters {
    waiting: DashMap<u64, oneshot::Sender<RpcReply>>,
    next_id: AtomicU64,
}

impl Waiters {
    /// A new request id and where its reply will arrive.
    fn open(&self) -> (u64, oneshot::Receiver<RpcReply>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting.insert(id, tx);
        (id, rx)
    }

    fn forget(&self, id: u64) {
        self.waiting.remove(&id);
    }

    /// Hands a reply (`P:reply:{this node}`) to its caller; runs on Redis's
    /// connection task, so it never blocks.
    pub(super) fn deliver(&self, payload: &[u8]) {
        if let Ok(reply) = serde_json::from_slice::<RpcReply>(payload)
            && let Some((_, waiter)) = self.waiting.remove(&reply.id)
        {
            let _ = waiter.send(reply);
        }
    }
}

impl Cluster {
    /// Sends a command to the node owning the panel and waits for its answer.
    pub async fn route(
        &self,
        tenant: TenantId,
        panel: PanelId,
        caller: &Caller,
        command: &Command,
    ) -> Result<(), RouteError> {
        let owner = self.leases.owner_of(panel).await?.ok_or(RouteError::NoOwner)?;
        let command = WireCommand::from_command(command)
            .ok_or_else(|| PanelError::Forbidden("platform commands are not routed".into()))?;
        let (id, reply) = self.waiters.open();
        let request =
            RpcRequest { id, from: self.node_id.clone(), tenant, panel, caller: WireCaller::from(caller), command };
        let result = self.ask(&owner, &request, reply, self.rpc_timeout).await;
        if result.is_err() {
            self.waiters.forget(id);
        }
        match result?.error {
            None => Ok(()),
            Some(error) => Err(error.into_panel_error().map_or(RouteError::NotRunning, RouteError::Panel)),
        }
    }

    async fn ask(
        &self,
        owner: &str,
        request: &RpcRequest,
        reply: oneshot::Receiver<RpcReply>,
        timeout: Duration,
    ) -> Result<RpcReply, RouteError> {
        let payload = serde_json::to_vec(request)?;
        let mut manager = self.manager.clone();
        let receivers: i64 = redis::cmd("PUBLISH")
            .arg(self.key(&format!("node:{owner}")))
            .arg(payload)
            .query_async(&mut manager)
            .await?;
        if receivers == 0 {
            return Err(RouteError::NoOwner);
        }
        match tokio::time::timeout(timeout, reply).await {
            Ok(Ok(reply)) => Ok(reply),
            _ => Err(RouteError::Timeout),
        }
    }

    async fn answer(&self, to: &str, reply: &RpcReply) {
        let Ok(payload) = serde_json::to_vec(reply) else { return };
        let mut manager = self.manager.clone();
        let _: redis::RedisResult<i64> =
            redis::cmd("PUBLISH").arg(self.key(&format!("reply:{to}"))).arg(payload).query_async(&mut manager).await;
    }
}

/// Runs a command routed to this node on its engine and answers the sender.
/// Spawned: a command waits for its commit, and the node loop must not.
pub(super) fn serve(engine: Engine, cluster: Arc<Cluster>, request: RpcRequest) {
    let (from, id) = (request.from.clone(), request.id);
    let command = request.into_panel_command();
    tokio::spawn(async move {
        let error = match engine.command(command).await {
            Ok(()) => None,
            Err(EngineError::NotRunning) => Some(WireError::NotRunning),
            Err(EngineError::Panel(e)) => Some(e.into()),
            Err(other) => Some(WireError::Unavailable { message: other.to_string() }),
        };
        cluster.answer(&from, &RpcReply { id, error }).await;
    });
}
