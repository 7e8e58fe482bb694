//! Several nodes on one PostgreSQL and one Redis. Redis carries what must
//! cross nodes; durable state stays in the database.
//!
//! - Fan-out: each node publishes its panels' frames to `P:panel:{id}` and
//!   subscribes to the panels its clients watch. Pub/sub is at most once: a
//!   subscriber that sees a gap fills it from the database, and after a Redis
//!   outage every watching subscriber is told to catch up (`lagged`).
//! - Ownership ([`lease`]): a panel runs on the node holding its lease
//!   (`P:lease:{id}`). Taking a panel over raises its epoch in the database;
//!   the owner's writes carry its epoch, so a stale owner (paused past its
//!   lease) is fenced.
//! - Takeover ([`node`]): every node scans for unfinished panels without a
//!   lease and takes them, resuming them from their log.
//! - Routing ([`rpc`]): human input and moderator commands for a panel owned
//!   elsewhere go to the owner over `P:node:{id}` and the answer comes back
//!   on `P:reply:{id}`.
//! - Rate limits and tenant changes hold across nodes (`P:rate:*`, and
//!   [`Control`] messages on `P:control`).
//!
//! [`wire`] holds what crosses Redis; this file the connection, its push
//! handler (which sorts what arrives), fan-out and the rate counter.

mod lease;
mod node;
mod rpc;
mod wire;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use askpanel_actors::domain::{PanelId, TenantId};
use futures::FutureExt;
use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use self::lease::LeaseKeeper;
pub use self::node::{Inbound, NodeHandles, run};
pub use self::rpc::RouteError;
use self::rpc::Waiters;
pub use self::wire::Control;
use self::wire::{decode_frame, encode_frame};
use crate::bus::{Bus, Frame, RemoteFanout};
use crate::configuration::RedisSettings;
use crate::store::event_log::{Epochs, Leases};

/// Frames queued for publishing before new ones are dropped (remote
/// subscribers then fill the gap from the database).
const PUBLISH_QUEUE: usize = 16_384;
/// Commands and control messages waiting for the node loop.
const INBOX: usize = 1024;

/// Counts a request in the current minute's window, which outlives the minute a little.
const RATE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n";

/// Writes (or removes) a node's presence share of a panel and returns the
/// view's next number and every share: `KEYS` the shares' hash and the
/// number; `ARGV` the node, its share's JSON (empty: none) and the TTL.
const PRESENCE: &str = r"
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local v = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {v, redis.call('HVALS', KEYS[1])}";

/// How long a panel's presence outlives its last write in Redis.
const PRESENCE_TTL_MS: u64 = 60_000;

/// This node's link to the others.
pub struct Cluster {
    pub node_id: String,
    prefix: String,
    manager: ConnectionManager,
    publish: mpsc::Sender<(String, Vec<u8>)>,
    watch: mpsc::UnboundedSender<(bool, PanelId)>,
    waiters: Arc<Waiters>,
    leases: LeaseKeeper,
    /// Panels this node owns, with their lease epochs (shared with the event log).
    pub epochs: Arc<Epochs>,
    rpc_timeout: Duration,
    /// Set when the link to Redis dropped; cleared once subscribers were told to resync.
    link_lost: Arc<AtomicBool>,
    /// A takeover scan is running (one at a time).
    scanning: AtomicBool,
    rate: redis::Script,
    presence: redis::Script,
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

/// Sorts what Redis pushes to this node. Runs on Redis's connection task:
/// it must never block.
struct PushHandler {
    node_id: String,
    panel_prefix: String,
    node_channel: String,
    reply_channel: String,
    control_channel: String,
    bus: Arc<Bus>,
    waiters: Arc<Waiters>,
    link_lost: Arc<AtomicBool>,
    inbox: mpsc::Sender<Inbound>,
}

impl PushHandler {
    fn handle(&self, info: PushInfo) {
        match info.kind {
            PushKind::Disconnection => self.link_lost.store(true, Ordering::SeqCst),
            PushKind::Message => {
                let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
                    (info.data.first(), info.data.get(1))
                else {
                    return;
                };
                let Ok(channel) = std::str::from_utf8(channel) else { return };
                self.message(channel, payload);
            }
            _ => {}
        }
    }

    fn message(&self, channel: &str, payload: &[u8]) {
        if let Some(panel) = channel.strip_prefix(self.panel_prefix.as_str()) {
            if let (Ok(panel), Some((origin, frame))) = (panel.parse::<PanelId>(), decode_frame(payload))
                && origin != self.node_id
            {
                self.bus.inject(panel, frame);
            }
        } else if channel == self.reply_channel {
            self.waiters.deliver(payload);
        } else if channel == self.node_channel || channel == self.control_channel {
            let message = if channel == self.node_channel {
                serde_json::from_slice(payload).map(Inbound::Command)
            } else {
                serde_json::from_slice(payload).map(Inbound::Control)
            };
            match message {
                Ok(message) => {
                    if self.inbox.try_send(message).is_err() {
                        tracing::warn!("cluster inbox full; a command or control message was dropped");
                    }
                }
                Err(error) => tracing::warn!(%channel, %error, "unreadable cluster message"),
            }
        }
    }
}

impl Cluster {
    fn key(&self, parts: &str) -> String {
        format!("{}:{parts}", self.prefix)
    }

    /// Connects to Redis and starts the publisher and subscription tasks.
    /// Returns the cluster and the receiver of commands and control messages
    /// for [`run`].
    pub async fn connect(
        settings: &RedisSettings,
        bus: Arc<Bus>,
        epochs: Arc<Epochs>,
    ) -> anyhow::Result<(Arc<Cluster>, mpsc::Receiver<Inbound>)> {
        let node_id = if settings.node_id.is_empty() {
            uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
        } else {
            settings.node_id.clone()
        };
        let prefix = settings.prefix.clone();
        let waiters = Arc::new(Waiters::default());
        let link_lost = Arc::new(AtomicBool::new(false));
        let (inbox_tx, inbox) = mpsc::channel::<Inbound>(INBOX);
        let handler = PushHandler {
            node_id: node_id.clone(),
            panel_prefix: format!("{prefix}:panel:"),
            node_channel: format!("{prefix}:node:{node_id}"),
            reply_channel: format!("{prefix}:reply:{node_id}"),
            control_channel: format!("{prefix}:control"),
            bus: bus.clone(),
            waiters: waiters.clone(),
            link_lost: link_lost.clone(),
            inbox: inbox_tx,
        };
        let own_channels =
            [handler.node_channel.clone(), handler.reply_channel.clone(), handler.control_channel.clone()];
        let client = redis::Client::open(with_resp3(&settings.url))?;
        let config = ConnectionManagerConfig::new()
            .set_push_sender(move |info: PushInfo| -> Result<(), redis::aio::SendError> {
                handler.handle(info);
                Ok(())
            })
            .set_automatic_resubscription()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)));
        let mut manager = client.get_connection_manager_with_config(config).await?;
        for channel in &own_channels {
            manager.subscribe(channel).await?;
        }
        let (publish, publish_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (watch, watch_rx) = mpsc::unbounded_channel();
        let lease_ttl = Duration::from_millis(settings.lease_ttl_ms.max(1000));
        let cluster = Arc::new(Cluster {
            leases: LeaseKeeper::new(manager.clone(), &prefix, node_id.clone(), lease_ttl),
            node_id,
            manager: manager.clone(),
            publish,
            watch,
            waiters,
            epochs,
            rpc_timeout: Duration::from_millis(settings.rpc_timeout_ms.max(100)),
            link_lost,
            scanning: AtomicBool::new(false),
            rate: redis::Script::new(RATE),
            presence: redis::Script::new(PRESENCE),
            prefix,
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

    /// The node holding a panel's lease.
    pub async fn owner_of(&self, panel: PanelId) -> redis::RedisResult<Option<String>> {
        self.leases.owner_of(panel).await
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
        if let Err(error) =
            redis::cmd("PUBLISH").arg(self.key("control")).arg(payload).query_async::<i64>(&mut manager).await
        {
            tracing::warn!(%error, "could not tell the other nodes");
        }
    }
}

impl RemoteFanout for Cluster {
    fn publish(&self, panel: PanelId, frame: &Frame) {
        let Some(payload) = encode_frame(&self.node_id, frame) else { return };
        // A full queue drops the frame: remote subscribers see the gap and
        // fill it from the database.
        let _ = self.publish.try_send((format!("{}:panel:{panel}", self.prefix), payload));
    }

    fn watch(&self, panel: PanelId) {
        let _ = self.watch.send((true, panel));
    }

    fn unwatch(&self, panel: PanelId) {
        let _ = self.watch.send((false, panel));
    }
}

/// Each node's presence share of a panel is a field of `P:presence:{id}`.
impl crate::presence::SharedPresence for Cluster {
    fn write(
        &self,
        panel: PanelId,
        share: Option<crate::presence::NodeShare>,
    ) -> BoxFuture<'_, Option<(u64, Vec<crate::presence::NodeShare>)>> {
        async move {
            let json = match &share {
                Some(share) => serde_json::to_string(share).ok()?,
                None => String::new(),
            };
            let mut manager = self.manager.clone();
            let (version, shares): (u64, Vec<String>) = self
                .presence
                .key(self.key(&format!("presence:{panel}")))
                .key(self.key(&format!("presence-version:{panel}")))
                .arg(&self.node_id)
                .arg(json)
                .arg(PRESENCE_TTL_MS)
                .invoke_async(&mut manager)
                .await
                .inspect_err(|error| tracing::debug!(%error, "presence could not be shared"))
                .ok()?;
            Some((version, shares.iter().filter_map(|s| serde_json::from_str(s).ok()).collect()))
        }
        .boxed()
    }

    fn read_others(&self, panel: PanelId) -> BoxFuture<'_, Vec<crate::presence::NodeShare>> {
        async move {
            let mut manager = self.manager.clone();
            let shares: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
                .arg(self.key(&format!("presence:{panel}")))
                .query_async(&mut manager)
                .await
                .unwrap_or_default();
            shares
                .into_iter()
                .filter(|(node, _)| *node != self.node_id)
                .filter_map(|(_, share)| serde_json::from_str(&share).ok())
                .collect()
        }
        .boxed()
    }
}

/// The event log takes a new panel's lease before writing it, and gives it up when the panel ends.
impl Leases for Cluster {
    fn acquire_new(&self, panel: PanelId) -> BoxFuture<'static, Result<(), String>> {
        let leases = self.leases.clone();
        async move {
            let taken = leases.acquire(panel).await.map_err(|e| e.to_string())?;
            taken.then_some(()).ok_or_else(|| "the lease is held elsewhere".to_string())
        }
        .boxed()
    }

    fn release(&self, panel: PanelId) {
        let leases = self.leases.clone();
        tokio::spawn(async move { leases.release(panel).await });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_resp3() {
        assert_eq!(with_resp3("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379?protocol=resp3");
        assert_eq!(with_resp3("redis://h:1/2"), "redis://h:1/2?protocol=resp3");
        assert_eq!(with_resp3("redis://h/?db=1"), "redis://h/?db=1&protocol=resp3");
    }
}
