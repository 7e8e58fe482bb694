//! Several nodes on one PostgreSQL and one Redis. Redis carries what must
//! cross nodes; durable state stays in the database.
//!
//! - Fan-out: each node publishes its panels' frames to `P:panel:{id}` and
//!   subscribes to the panels its clients watch. Pub/sub is at most once: a
//!   subscriber that sees a gap fills it from the database, and after a Redis
//!   outage every watching subscriber is told to catch up (`lagged`).
//! - Ownership: a panel runs on the node holding its lease (`P:lease:{id}`,
//!   `SET NX PX`, renewed, released by compare-and-delete). Taking a panel
//!   over raises its epoch in the database; the owner's writes carry its
//!   epoch, so a stale owner (paused past its lease) is fenced.
//! - Takeover: every node scans for unfinished panels without a lease and
//!   takes them, resuming them from their log.
//! - Routing: human input and moderator commands for a panel owned elsewhere
//!   go to the owner over `P:node:{id}` and the answer comes back on
//!   `P:reply:{id}`.
//! - Rate limits and key revocations hold across nodes (`P:rate:*`,
//!   `P:control`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use askpanel_actors::domain::{Caller, KeyId, MemberId, PanelId, TenantId};
use askpanel_actors::engine::{Engine, EngineError};
use askpanel_actors::event::ModeratorActionKind;
use askpanel_actors::panel::messages::{Command, PanelCommand, PanelError};
use bytestring::ByteString;
use dashmap::DashMap;
use futures::FutureExt;
use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::bus::{Bus, Frame, FrameKind, RemoteFanout};
use crate::configuration::RedisSettings;
use crate::store::Store;
use crate::store::event_log::{Epochs, Leases};
use crate::tenants::TenantChanges;

/// Frames queued for publishing before new ones are dropped (remote
/// subscribers then fill the gap from the database).
const PUBLISH_QUEUE: usize = 16_384;
const SEP: u8 = 0x1f;

/// Keeps a lease if it is ours, takes it back if it vanished (a Redis restart), else reports it lost.
const RENEW: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not owner then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0";
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";
const RATE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";

/// A command sent to the node owning a panel.
#[derive(Serialize, Deserialize)]
struct RpcRequest {
    id: u64,
    from: String,
    tenant: TenantId,
    panel: PanelId,
    caller: WireCaller,
    command: WireCommand,
}

#[derive(Serialize, Deserialize)]
struct WireCaller {
    id: String,
    key_id: Option<KeyId>,
    is_moderator: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireCommand {
    Input { member_id: MemberId, text: String, rating: Option<u8>, confidence: Option<f64> },
    Moderate { action: ModeratorActionKind, text: Option<String> },
}

#[derive(Serialize, Deserialize)]
struct RpcReply {
    id: u64,
    /// `None` for success, else the error.
    error: Option<WireError>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireError {
    NotFound,
    NotRunning,
    Forbidden { message: String },
    Conflict { message: String },
    Invalid { field: String, message: String },
    Unavailable { message: String },
}

impl From<PanelError> for WireError {
    fn from(e: PanelError) -> Self {
        match e {
            PanelError::NotFound => WireError::NotFound,
            PanelError::Forbidden(message) => WireError::Forbidden { message },
            PanelError::Conflict(message) => WireError::Conflict { message },
            PanelError::Invalid { field, message } => WireError::Invalid { field, message },
            PanelError::Unavailable(message) => WireError::Unavailable { message },
        }
    }
}

/// What one node tells all (`P:control`), as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Control {
    /// An API key was revoked: forget cached keys and close the key's sockets.
    KeyRevoked { key_id: KeyId },
    /// A tenant's record changed: read it again and apply it.
    TenantChanged { tenant_id: TenantId },
}

/// What arrives for this node's loop ([`run`]).
pub enum Inbound {
    Command(String),
    Control(String),
}

/// Why a routed command failed.
#[derive(Debug)]
pub enum RouteError {
    /// Nobody holds the panel's lease (it is being taken over, or ended).
    NoOwner,
    /// The owner did not answer in time.
    Timeout,
    /// The owner answered that the panel does not run there (it moved).
    NotRunning,
    Panel(PanelError),
    Redis(String),
}

pub struct Cluster {
    pub node_id: String,
    prefix: String,
    manager: ConnectionManager,
    publish: mpsc::Sender<(String, Vec<u8>)>,
    watch: mpsc::UnboundedSender<(bool, PanelId)>,
    pending: Arc<DashMap<u64, oneshot::Sender<RpcReply>>>,
    next_id: AtomicU64,
    /// Panels this node owns, with their lease epochs (shared with the event log).
    pub epochs: Arc<Epochs>,
    lease_ttl: Duration,
    rpc_timeout: Duration,
    /// Set when the link to Redis dropped; cleared once subscribers were told to resync.
    link_lost: Arc<AtomicBool>,
    /// A takeover scan is running (one at a time).
    scanning: AtomicBool,
    pub dropped_frames: AtomicU64,
    renew: redis::Script,
    release: redis::Script,
    rate: redis::Script,
}

fn with_resp3(url: &str) -> String {
    if url.contains("protocol=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

fn decode_frame(payload: &[u8]) -> Option<(String, Frame)> {
    let mut parts = payload.splitn(6, |b| *b == SEP);
    let node = std::str::from_utf8(parts.next()?).ok()?.to_string();
    let kind = parts.next()?;
    let a: u64 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let b: u64 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let event_kind = std::str::from_utf8(parts.next()?).ok()?;
    let text = std::str::from_utf8(parts.next()?).ok()?;
    let kind = match kind {
        b"e" => FrameKind::Event { seq: a, terminal: b == 1 },
        b"t" => FrameKind::Token { turn_seq: a, offset: b as usize },
        _ => return None,
    };
    // Event kinds are a closed set: map back to the static names.
    let event_kind = askpanel_actors::event::EVENT_KINDS.iter().copied().find(|k| *k == event_kind).unwrap_or("token");
    Some((node, Frame { kind, text: ByteString::from(text), event_kind, published_at: Instant::now() }))
}

fn encode_frame(node: &str, frame: &Frame) -> Option<Vec<u8>> {
    let (kind, a, b) = match frame.kind {
        FrameKind::Event { seq, terminal } => ("e", seq, u64::from(terminal)),
        FrameKind::Token { turn_seq, offset } => ("t", turn_seq, offset as u64),
        FrameKind::Resync => return None,
    };
    let mut out = Vec::with_capacity(frame.text.len() + 64);
    for (i, part) in [node, kind, &a.to_string(), &b.to_string(), frame.event_kind].iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(part.as_bytes());
    }
    out.push(SEP);
    out.extend_from_slice(frame.text.as_bytes());
    Some(out)
}

impl Cluster {
    fn key(&self, parts: &str) -> String {
        format!("{}:{parts}", self.prefix)
    }

    fn lease_key(&self, panel: PanelId) -> String {
        self.key(&format!("lease:{panel}"))
    }

    /// Connects to Redis and starts the publisher and subscription tasks.
    /// Returns the cluster and the receiver of commands and control messages
    /// for [`run`].
    pub async fn connect(settings: &RedisSettings, bus: Arc<Bus>, epochs: Arc<Epochs>) -> anyhow::Result<(Arc<Cluster>, mpsc::Receiver<Inbound>)> {
        let node_id = if settings.node_id.is_empty() { uuid::Uuid::new_v4().simple().to_string()[..12].to_string() } else { settings.node_id.clone() };
        let prefix = settings.prefix.clone();
        let pending: Arc<DashMap<u64, oneshot::Sender<RpcReply>>> = Arc::new(DashMap::new());
        let link_lost = Arc::new(AtomicBool::new(false));
        let (inbox_tx, inbox) = mpsc::channel::<Inbound>(1024);
        let panel_prefix = format!("{prefix}:panel:");
        let node_channel = format!("{prefix}:node:{node_id}");
        let reply_channel = format!("{prefix}:reply:{node_id}");
        let control_channel = format!("{prefix}:control");
        let on_push = {
            let (pending, link_lost, node_id, bus) = (pending.clone(), link_lost.clone(), node_id.clone(), bus.clone());
            let (node_channel, reply_channel, control_channel) = (node_channel.clone(), reply_channel.clone(), control_channel.clone());
            // Runs on Redis's connection task: it must never block.
            move |info: PushInfo| -> Result<(), redis::aio::SendError> {
                match info.kind {
                    PushKind::Disconnection => link_lost.store(true, Ordering::SeqCst),
                    PushKind::Message => {
                        let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) = (info.data.first(), info.data.get(1)) else { return Ok(()) };
                        let Ok(channel) = std::str::from_utf8(channel) else { return Ok(()) };
                        if let Some(panel) = channel.strip_prefix(panel_prefix.as_str()) {
                            if let (Ok(panel), Some((origin, frame))) = (panel.parse::<PanelId>(), decode_frame(payload)) {
                                if origin != node_id {
                                    bus.inject(panel, frame);
                                }
                            }
                        } else if channel == reply_channel {
                            if let Ok(reply) = serde_json::from_slice::<RpcReply>(payload) {
                                if let Some((_, waiter)) = pending.remove(&reply.id) {
                                    let _ = waiter.send(reply);
                                }
                            }
                        } else if channel == node_channel || channel == control_channel {
                            let text = String::from_utf8_lossy(payload).into_owned();
                            let message = if channel == node_channel { Inbound::Command(text) } else { Inbound::Control(text) };
                            if inbox_tx.try_send(message).is_err() {
                                tracing::warn!("cluster inbox full; a command or control message was dropped");
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
        };
        let client = redis::Client::open(with_resp3(&settings.url))?;
        let config = ConnectionManagerConfig::new()
            .set_push_sender(on_push)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)));
        let mut manager = client.get_connection_manager_with_config(config).await?;
        for channel in [&node_channel, &reply_channel, &control_channel] {
            manager.subscribe(channel).await?;
        }
        let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (watch, watch_rx) = mpsc::unbounded_channel();
        let cluster = Arc::new(Cluster {
            node_id,
            prefix,
            manager: manager.clone(),
            publish,
            watch,
            pending,
            next_id: AtomicU64::new(1),
            epochs,
            lease_ttl: Duration::from_millis(settings.lease_ttl_ms.max(1000)),
            rpc_timeout: Duration::from_millis(settings.rpc_timeout_ms.max(100)),
            link_lost,
            scanning: AtomicBool::new(false),
            dropped_frames: AtomicU64::new(0),
            renew: redis::Script::new(RENEW),
            release: redis::Script::new(RELEASE),
            rate: redis::Script::new(RATE),
        });
        tokio::spawn(publisher(manager.clone(), publish_rx));
        tokio::spawn(watcher(manager, watch_rx, format!("{}:panel:", cluster.prefix)));
        bus.set_remote(cluster.clone());
        Ok((cluster, inbox))
    }

    pub async fn ping(&self) -> bool {
        let mut manager = self.manager.clone();
        redis::cmd("PING").query_async::<String>(&mut manager).await.is_ok()
    }

    /// Tries to take a panel's lease; true when this node holds it now.
    pub async fn try_lease(&self, panel: PanelId) -> redis::RedisResult<bool> {
        let mut manager = self.manager.clone();
        let set: Option<String> =
            redis::cmd("SET").arg(self.lease_key(panel)).arg(&self.node_id).arg("NX").arg("PX").arg(self.lease_ttl.as_millis() as u64).query_async(&mut manager).await?;
        Ok(set.is_some())
    }

    /// The node holding a panel's lease.
    pub async fn owner_of(&self, panel: PanelId) -> redis::RedisResult<Option<String>> {
        let mut manager = self.manager.clone();
        redis::cmd("GET").arg(self.lease_key(panel)).query_async(&mut manager).await
    }

    async fn release_lease(&self, panel: PanelId) {
        let mut manager = self.manager.clone();
        let _: redis::RedisResult<i64> = self.release.key(self.lease_key(panel)).arg(&self.node_id).invoke_async(&mut manager).await;
    }

    /// Renews every lease this node holds; returns the panels whose lease another node took.
    pub async fn renew_all(&self) -> Vec<PanelId> {
        let panels: Vec<PanelId> = self.epochs.iter().map(|e| *e.key()).collect();
        let mut lost = Vec::new();
        let ttl = self.lease_ttl.as_millis() as u64;
        for chunk in panels.chunks(64) {
            let renewals = chunk.iter().map(|panel| {
                let (mut manager, key, node, panel) = (self.manager.clone(), self.lease_key(*panel), self.node_id.clone(), *panel);
                let script = self.renew.clone();
                async move {
                    let result = script.key(key).arg(node).arg(ttl).invoke_async::<i64>(&mut manager).await;
                    (panel, result)
                }
            });
            for (panel, result) in futures::future::join_all(renewals).await {
                match result {
                    Ok(0) => lost.push(panel),
                    Ok(_) => {}
                    // Redis unreachable: nobody else can take the lease either; try again next time.
                    Err(error) => tracing::debug!(%panel, %error, "lease renewal failed"),
                }
            }
        }
        lost
    }

    /// Counts a request against a tenant's per-minute limit across nodes;
    /// `Err(seconds)` to wait when over it. `None` when Redis cannot answer.
    pub async fn rate_check(&self, tenant: TenantId, per_minute: u32) -> Option<Result<(), u64>> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let key = self.key(&format!("rate:{tenant}:{}", now / 60));
        let mut manager = self.manager.clone();
        let count: i64 = self.rate.key(key).arg(61_000).invoke_async(&mut manager).await.ok()?;
        Some(if count as u64 > u64::from(per_minute) { Err(60 - now % 60) } else { Ok(()) })
    }

    /// Tells every node (this one included) something changed.
    pub async fn broadcast_control(&self, message: &Control) {
        let Ok(payload) = serde_json::to_vec(message) else { return };
        let mut manager = self.manager.clone();
        if let Err(error) = redis::cmd("PUBLISH").arg(self.key("control")).arg(payload).query_async::<i64>(&mut manager).await {
            tracing::warn!(%error, "could not tell the other nodes");
        }
    }

    /// Sends a command to the node owning the panel and waits for its answer.
    pub async fn route(&self, tenant: TenantId, panel: PanelId, caller: &Caller, command: &Command) -> Result<(), RouteError> {
        let owner = self.owner_of(panel).await.map_err(|e| RouteError::Redis(e.to_string()))?.ok_or(RouteError::NoOwner)?;
        let command = match command {
            Command::HumanInput { member_id, text, rating, confidence } => {
                WireCommand::Input { member_id: *member_id, text: text.clone(), rating: *rating, confidence: *confidence }
            }
            Command::Moderate { action, text } => WireCommand::Moderate { action: *action, text: text.clone() },
            _ => return Err(RouteError::Panel(PanelError::Forbidden("platform commands are not routed".into()))),
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let request = RpcRequest {
            id,
            from: self.node_id.clone(),
            tenant,
            panel,
            caller: WireCaller { id: caller.id.clone(), key_id: caller.key_id, is_moderator: caller.is_moderator },
            command,
        };
        let (tx, rx) = oneshot::channel();
        self.pending.insert(id, tx);
        let payload = serde_json::to_vec(&request).map_err(|e| RouteError::Redis(e.to_string()))?;
        let mut manager = self.manager.clone();
        let receivers: i64 = match redis::cmd("PUBLISH").arg(self.key(&format!("node:{owner}"))).arg(payload).query_async(&mut manager).await {
            Ok(n) => n,
            Err(e) => {
                self.pending.remove(&id);
                return Err(RouteError::Redis(e.to_string()));
            }
        };
        if receivers == 0 {
            self.pending.remove(&id);
            return Err(RouteError::NoOwner);
        }
        let reply = match tokio::time::timeout(self.rpc_timeout, rx).await {
            Ok(Ok(reply)) => reply,
            _ => {
                self.pending.remove(&id);
                return Err(RouteError::Timeout);
            }
        };
        match reply.error {
            None => Ok(()),
            Some(WireError::NotRunning) => Err(RouteError::NotRunning),
            Some(WireError::NotFound) => Err(RouteError::Panel(PanelError::NotFound)),
            Some(WireError::Forbidden { message }) => Err(RouteError::Panel(PanelError::Forbidden(message))),
            Some(WireError::Conflict { message }) => Err(RouteError::Panel(PanelError::Conflict(message))),
            Some(WireError::Invalid { field, message }) => Err(RouteError::Panel(PanelError::Invalid { field, message })),
            Some(WireError::Unavailable { message }) => Err(RouteError::Panel(PanelError::Unavailable(message))),
        }
    }

    async fn answer(&self, to: &str, reply: &RpcReply) {
        let Ok(payload) = serde_json::to_vec(reply) else { return };
        let mut manager = self.manager.clone();
        let _: redis::RedisResult<i64> = redis::cmd("PUBLISH").arg(self.key(&format!("reply:{to}"))).arg(payload).query_async(&mut manager).await;
    }
}

impl RemoteFanout for Cluster {
    fn publish(&self, panel: PanelId, frame: &Frame) {
        let Some(payload) = encode_frame(&self.node_id, frame) else { return };
        if self.publish.try_send((format!("{}:panel:{panel}", self.prefix), payload)).is_err() {
            self.dropped_frames.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn watch(&self, panel: PanelId) {
        let _ = self.watch.send((true, panel));
    }

    fn unwatch(&self, panel: PanelId) {
        let _ = self.watch.send((false, panel));
    }
}

impl Leases for Cluster {
    fn acquire_new(&self, panel: PanelId) -> BoxFuture<'static, Result<(), String>> {
        let mut manager = self.manager.clone();
        let (key, node, ttl) = (self.lease_key(panel), self.node_id.clone(), self.lease_ttl.as_millis() as u64);
        async move {
            let set: Option<String> = redis::cmd("SET").arg(key).arg(node).arg("NX").arg("PX").arg(ttl).query_async(&mut manager).await.map_err(|e| e.to_string())?;
            set.map(|_| ()).ok_or_else(|| "the lease is held elsewhere".to_string())
        }
        .boxed()
    }

    fn release(&self, panel: PanelId) {
        let mut manager = self.manager.clone();
        let (script_key, node) = (self.lease_key(panel), self.node_id.clone());
        let script = redis::Script::new(RELEASE);
        tokio::spawn(async move {
            let _: redis::RedisResult<i64> = script.key(script_key).arg(node).invoke_async(&mut manager).await;
        });
    }
}

/// Publishes queued frames, pipelining whatever accumulated.
async fn publisher(mut manager: ConnectionManager, mut queue: mpsc::Receiver<(String, Vec<u8>)>) {
    let mut batch = Vec::with_capacity(256);
    while queue.recv_many(&mut batch, 256).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, payload) in batch.drain(..) {
            pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        }
        if let Err(error) = pipe.query_async::<()>(&mut manager).await {
            tracing::debug!(%error, "publishing to other nodes failed; they will catch up from the database");
        }
    }
}

/// Subscribes to and unsubscribes from panels' channels as local subscribers come and go.
async fn watcher(mut manager: ConnectionManager, mut ops: mpsc::UnboundedReceiver<(bool, PanelId)>, prefix: String) {
    let mut watched: HashSet<PanelId> = HashSet::new();
    while let Some((watch, panel)) = ops.recv().await {
        let channel = format!("{prefix}{panel}");
        let changed = if watch { watched.insert(panel) } else { watched.remove(&panel) };
        if !changed {
            continue;
        }
        let result = if watch { manager.subscribe(&channel).await } else { manager.unsubscribe(&channel).await };
        if let Err(error) = result {
            tracing::warn!(%panel, %error, "redis subscription change failed");
        }
    }
}

/// What the node loop acts on: the handles it needs, not the whole application.
#[derive(Clone)]
pub struct NodeHandles {
    pub engine: Engine,
    pub store: Arc<dyn Store>,
    pub bus: Arc<Bus>,
    pub tenants: TenantChanges,
    /// Set when a shutdown begins: the loop ends.
    pub shutting_down: Arc<AtomicBool>,
}

/// The node's cluster duties: answering routed commands and control
/// messages, renewing leases, taking over orphaned panels, and telling
/// subscribers to catch up after a Redis outage.
pub async fn run(node: NodeHandles, cluster: Arc<Cluster>, mut inbox: mpsc::Receiver<Inbound>, scan_every: Duration) {
    let renew_every = cluster.lease_ttl / 3;
    let mut renew = tokio::time::interval(renew_every);
    let mut scan = tokio::time::interval(scan_every);
    let mut health = tokio::time::interval(Duration::from_millis(500));
    loop {
        if node.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        tokio::select! {
            Some(message) = inbox.recv() => handle_inbound(&node, &cluster, message).await,
            _ = renew.tick() => {
                for panel in cluster.renew_all().await {
                    tracing::warn!(%panel, "lease lost to another node; giving the panel up");
                    cluster.epochs.remove(&panel);
                    node.engine.relinquish(panel);
                }
            }
            // Off this loop: a claim may wait on a lock, and lease renewals must not wait with it.
            _ = scan.tick() => {
                if !cluster.scanning.swap(true, Ordering::SeqCst) {
                    let (node, cluster) = (node.clone(), cluster.clone());
                    tokio::spawn(async move {
                        take_over(&node, &cluster).await;
                        cluster.scanning.store(false, Ordering::SeqCst);
                    });
                }
            }
            _ = health.tick() => {
                if cluster.link_lost.load(Ordering::SeqCst) && cluster.ping().await {
                    // Back after an outage: frames published meanwhile are lost to this node.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    cluster.link_lost.store(false, Ordering::SeqCst);
                    tracing::info!("redis is back; telling subscribers to catch up");
                    node.bus.resync_all();
                }
            }
        }
    }
}

async fn handle_inbound(node: &NodeHandles, cluster: &Arc<Cluster>, message: Inbound) {
    match message {
        Inbound::Command(text) => {
            let Ok(request) = serde_json::from_str::<RpcRequest>(&text) else { return };
            let command = match request.command {
                WireCommand::Input { member_id, text, rating, confidence } => Command::HumanInput { member_id, text, rating, confidence },
                WireCommand::Moderate { action, text } => Command::Moderate { action, text },
            };
            let caller = Caller { id: request.caller.id, key_id: request.caller.key_id, is_moderator: request.caller.is_moderator };
            let msg = PanelCommand { tenant_id: request.tenant, panel_id: request.panel, caller, command };
            let (cluster, engine, from, id) = (cluster.clone(), node.engine.clone(), request.from, request.id);
            // Answer off this loop: a command waits for its commit.
            tokio::spawn(async move {
                let error = match engine.command(msg).await {
                    Ok(()) => None,
                    Err(EngineError::NotRunning) => Some(WireError::NotRunning),
                    Err(EngineError::Panel(e)) => Some(e.into()),
                    Err(other) => Some(WireError::Unavailable { message: other.to_string() }),
                };
                cluster.answer(&from, &RpcReply { id, error }).await;
            });
        }
        Inbound::Control(text) => match serde_json::from_str::<Control>(&text) {
            Ok(Control::KeyRevoked { key_id }) => {
                node.tenants.key_revoked(key_id);
            }
            Ok(Control::TenantChanged { tenant_id }) => node.tenants.reload(tenant_id).await,
            Err(error) => tracing::warn!(%error, "unreadable control message"),
        },
    }
}

/// Takes the lease of unfinished panels nobody holds and resumes them here.
async fn take_over(node: &NodeHandles, cluster: &Arc<Cluster>) {
    let Ok(mut unfinished) = node.store.unfinished_panels().await else { return };
    // Spread takeovers among nodes: each starts at a different point.
    let offset = (crate::auth::random_bytes::<2>()[0] as usize) % unfinished.len().max(1);
    unfinished.rotate_left(offset);
    let mut taken = 0;
    for (tenant, panel) in unfinished {
        if cluster.epochs.contains_key(&panel) || node.engine.is_running_here(panel) {
            continue;
        }
        match cluster.try_lease(panel).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        let epoch = match node.store.claim_panel(tenant, panel).await {
            Ok(epoch) => epoch,
            Err(error) => {
                tracing::warn!(%panel, %error, "could not claim the panel");
                cluster.release_lease(panel).await;
                continue;
            }
        };
        cluster.epochs.insert(panel, epoch);
        let policy = node.tenants.policy_of(tenant).await;
        tracing::info!(%tenant, %panel, epoch, node = %cluster.node_id, "taking the panel over");
        if let Err(error) = node.engine.recover_panel(tenant, panel, policy).await {
            tracing::warn!(%panel, %error, "could not resume the panel");
            cluster.epochs.remove(&panel);
            cluster.release_lease(panel).await;
        }
        taken += 1;
        if taken >= 64 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_nodes_unchanged() {
        for kind in [FrameKind::Event { seq: 42, terminal: true }, FrameKind::Token { turn_seq: 7, offset: 1234 }] {
            let frame = Frame { kind, text: ByteString::from("{\"type\":\"event\",\"x\":\"a\\u001fb\"}"), event_kind: "panel_completed", published_at: Instant::now() };
            let bytes = encode_frame("node-a", &frame).unwrap();
            let (node, back) = decode_frame(&bytes).unwrap();
            assert_eq!(node, "node-a");
            assert_eq!(back.kind, frame.kind);
            assert_eq!(back.text, frame.text);
        }
        assert!(decode_frame(b"garbage").is_none());
    }

    #[test]
    fn urls_get_resp3() {
        assert_eq!(with_resp3("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379?protocol=resp3");
        assert_eq!(with_resp3("redis://h:1/2"), "redis://h:1/2?protocol=resp3");
        assert_eq!(with_resp3("redis://h/?db=1"), "redis://h/?db=1&protocol=resp3");
    }
}
