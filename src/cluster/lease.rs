//! Panel leases in Redis (`P:lease:{panel}` holds the owner node's id):
//! taken with one `SET NX PX`, renewed and released by compare-then-act Lua
//! scripts, so a node only ever extends or deletes its own lease. The
//! scripts are loaded once (`EVALSHA`, their source sent again only if Redis
//! forgot them).

use std::time::Duration;

use askpanel_actors::domain::PanelId;
use redis::aio::ConnectionManager;

/// Keeps a lease if it is ours, takes it back if it vanished (a Redis
/// restart), else reports it lost (0).
const RENEW: &str = r"
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not owner then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0";

/// Deletes a lease only if it is ours.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Panels renewed together in one round of concurrent calls.
const RENEW_CHUNK: usize = 64;

/// This node's side of the panel leases. Cheap to clone.
#[derive(Clone)]
pub struct LeaseKeeper {
    manager: ConnectionManager,
    /// `{prefix}:lease:`
    key_prefix: String,
    node_id: String,
    ttl: Duration,
    renew: redis::Script,
    release: redis::Script,
}

impl LeaseKeeper {
    pub fn new(manager: ConnectionManager, prefix: &str, node_id: String, ttl: Duration) -> Self {
        Self {
            manager,
            key_prefix: format!("{prefix}:lease:"),
            node_id,
            ttl,
            renew: redis::Script::new(RENEW),
            release: redis::Script::new(RELEASE),
        }
    }

    /// How long a lease lasts without renewal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn key(&self, panel: PanelId) -> String {
        format!("{}{panel}", self.key_prefix)
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// Tries to take a panel's lease; true when this node holds it now.
    pub async fn acquire(&self, panel: PanelId) -> redis::RedisResult<bool> {
        let mut manager = self.manager.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(panel))
            .arg(&self.node_id)
            .arg("NX")
            .arg("PX")
            .arg(self.ttl_ms())
            .query_async(&mut manager)
            .await?;
        Ok(set.is_some())
    }

    /// Gives a lease up, if this node still holds it.
    pub async fn release(&self, panel: PanelId) {
        let mut manager = self.manager.clone();
        let result: redis::RedisResult<i64> =
            self.release.key(self.key(panel)).arg(&self.node_id).invoke_async(&mut manager).await;
        if let Err(error) = result {
            // It expires by itself.
            tracing::debug!(%panel, %error, "lease release failed");
        }
    }

    /// The node holding a panel's lease.
    pub async fn owner_of(&self, panel: PanelId) -> redis::RedisResult<Option<String>> {
        let mut manager = self.manager.clone();
        redis::cmd("GET").arg(self.key(panel)).query_async(&mut manager).await
    }

    /// Renews the leases of `panels`; returns those another node took.
    pub async fn renew_all(&self, panels: &[PanelId]) -> Vec<PanelId> {
        let mut lost = Vec::new();
        for chunk in panels.chunks(RENEW_CHUNK) {
            let renewals = chunk.iter().map(|panel| {
                let (mut manager, key, panel) = (self.manager.clone(), self.key(*panel), *panel);
                let mut invocation = self.renew.key(key);
                invocation.arg(&self.node_id).arg(self.ttl_ms());
                async move { (panel, invocation.invoke_async::<i64>(&mut manager).await) }
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
}
