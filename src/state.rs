//! What every handler and session shares: the top of the module map, where
//! the application's parts meet (built by [`crate::startup`]).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use askpanel_actors::engine::Engine;

use crate::auth::AuthService;
use crate::bus::Bus;
use crate::catalog::Catalog;
use crate::cluster::{Cluster, Control};
use crate::configuration::Settings;
use crate::limits::{FailureLimiter, RateLimiter};
use crate::metrics::Metrics;
use crate::store::Store;
use crate::tenants::TenantChanges;
use crate::ws::registry::SessionRegistry;

/// Which expert model is in use, as the API and the page show it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelInfo {
    /// `simulated` or `openai`.
    pub provider: String,
    /// The model's name (`simulated` for the simulated experts).
    pub model: String,
    pub simulated: bool,
}

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub engine: Engine,
    pub catalog: Arc<Catalog>,
    pub bus: Arc<Bus>,
    pub auth: Arc<AuthService>,
    pub limiter: Arc<RateLimiter>,
    /// Failed authentications per client address.
    pub auth_failures: Arc<FailureLimiter>,
    /// Failed password sign-ins per client address.
    pub signin_failures: Arc<FailureLimiter>,
    /// Password reset requests per client address.
    pub reset_requests: Arc<FailureLimiter>,
    /// Outgoing email.
    pub mailer: Arc<crate::mail::Mailer>,
    pub passwords: crate::accounts::passwords::Hasher,
    /// Single sign-on, when an identity provider is configured.
    pub oidc: Option<Arc<crate::accounts::oidc::Oidc>>,
    pub metrics: Arc<Metrics>,
    /// The document library (uploads, extraction, search).
    pub library: crate::documents::Library,
    pub sessions: Arc<SessionRegistry>,
    /// Who watches which panel (this node's share, merged across nodes).
    pub presence: Arc<crate::presence::PresenceTracker>,
    pub model: ModelInfo,
    /// Set when a shutdown begins: new work is refused.
    pub shutting_down: Arc<AtomicBool>,
    /// Applies tenant and key changes on this node.
    pub tenants: TenantChanges,
    /// Wakes the job runner and the webhook sender.
    pub notify_wake: Arc<crate::notify::Wake>,
    /// The other nodes (Redis), when there are several.
    pub cluster: Option<Arc<Cluster>>,
}

impl AppState {
    /// Tells every node (this one included) about a change, when there are several.
    pub async fn tell_nodes(&self, control: Control) {
        if let Some(cluster) = &self.cluster {
            cluster.broadcast_control(&control).await;
        }
    }
}
