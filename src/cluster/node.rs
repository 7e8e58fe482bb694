//! The node loop: this node's cluster duties. It answers commands routed
//! here and control messages from other nodes, renews this node's leases
//! (giving up panels whose lease another node took), takes over orphaned
//! panels, and tells subscribers to catch up after a Redis outage. It works
//! on the handles it is given ([`NodeHandles`]), not on the application.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use askpanel_actors::engine::Engine;
use tokio::sync::mpsc;

use super::wire::{Control, RpcRequest};
use super::{Cluster, rpc};
use crate::bus::Bus;
use crate::store::Store;
use crate::tenants::TenantChanges;

/// Panels one takeover scan resumes at most (the next scan takes more).
const TAKEOVERS_PER_SCAN: usize = 64;
/// How often the link to Redis is checked after an outage.
const HEALTH_EVERY: Duration = Duration::from_millis(500);
/// Time for the automatic resubscription to finish before subscribers catch up.
const RESUBSCRIBE_SETTLE: Duration = Duration::from_millis(500);

/// What the node loop acts on.
#[derive(Clone)]
pub struct NodeHandles {
    pub engine: Engine,
    pub store: Arc<dyn Store>,
    /// Told to resync its subscribers after a Redis outage.
    pub bus: Arc<Bus>,
    /// Applies other nodes' tenant and key changes here.
    pub tenants: TenantChanges,
    /// Set when a shutdown begins: the loop ends.
    pub shutting_down: Arc<AtomicBool>,
}

/// What arrives for the node loop from Redis.
pub enum Inbound {
    /// A command for a panel this node owns.
    Command(RpcRequest),
    Control(Control),
}

/// Runs the node's cluster duties until the shutdown begins.
pub async fn run(node: NodeHandles, cluster: Arc<Cluster>, mut inbox: mpsc::Receiver<Inbound>, scan_every: Duration) {
    let mut renew = tokio::time::interval(cluster.leases.ttl() / 3);
    let mut scan = tokio::time::interval(scan_every);
    let mut health = tokio::time::interval(HEALTH_EVERY);
    loop {
        if node.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        tokio::select! {
            Some(message) = inbox.recv() => match message {
                Inbound::Command(request) => rpc::serve(node.engine.clone(), cluster.clone(), request),
                Inbound::Control(control) => apply_control(&node, &cluster.node_id, control).await,
            },
            _ = renew.tick() => {
                let held: Vec<_> = cluster.epochs.iter().map(|e| *e.key()).collect();
                for panel in cluster.leases.renew_all(&held).await {
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
                    tokio::time::sleep(RESUBSCRIBE_SETTLE).await;
                    cluster.link_lost.store(false, Ordering::SeqCst);
                    tracing::info!("redis is back; telling subscribers to catch up");
                    node.bus.resync_all();
                }
            }
        }
    }
}

async fn apply_control(node: &NodeHandles, node_id: &str, control: Control) {
    match control {
        Control::KeyRevoked { key_id } => {
            node.tenants.key_revoked(key_id);
        }
        Control::TenantChanged { tenant_id } => node.tenants.reload(tenant_id).await,
        Control::ShareRevoked { share_id } => {
            node.tenants.share_revoked(crate::store::records::ShareId(share_id));
        }
        Control::SessionsEnded { user_id, session_id } => {
            node.tenants.sessions_ended(user_id, session_id.map(crate::store::accounts::SessionId));
        }
        Control::UserChanged { user_id } => {
            node.tenants.user_changed(user_id);
        }
        Control::Notified { origin, tenant_id, user_id, frame } => {
            if origin != node_id {
                node.tenants.notified(tenant_id, user_id, &frame);
            }
        }
    }
}

/// Takes the lease of unfinished panels nobody holds and resumes them here.
async fn take_over(node: &NodeHandles, cluster: &Cluster) {
    let Ok(mut unfinished) = node.store.unfinished_panels().await else { return };
    // Spread takeovers among nodes: each starts at a different point.
    let offset = (crate::auth::random_bytes::<2>()[0] as usize) % unfinished.len().max(1);
    unfinished.rotate_left(offset);
    let mut taken = 0;
    for (tenant, panel) in unfinished {
        if cluster.epochs.contains_key(&panel) || node.engine.is_running_here(panel) {
            continue;
        }
        match cluster.leases.acquire(panel).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(_) => return,
        }
        let epoch = match node.store.claim_panel(tenant, panel).await {
            Ok(epoch) => epoch,
            Err(error) => {
                tracing::warn!(%panel, %error, "could not claim the panel");
                cluster.leases.release(panel).await;
                continue;
            }
        };
        cluster.epochs.insert(panel, epoch);
        let policy = node.tenants.policy_of(tenant).await;
        tracing::info!(%tenant, %panel, epoch, node = %cluster.node_id, "taking the panel over");
        if let Err(error) = node.engine.recover_panel(tenant, panel, policy).await {
            tracing::warn!(%panel, %error, "could not resume the panel");
            cluster.epochs.remove(&panel);
            cluster.leases.release(panel).await;
        }
        taken += 1;
        if taken >= TAKEOVERS_PER_SCAN {
            return;
        }
    }
}
