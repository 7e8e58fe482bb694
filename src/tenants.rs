//! Tenant changes on this node: what follows when a tenant's record changes
//! or one of its keys is revoked, whether the change was made here or another
//! node told us about it (see [`crate::cluster`]'s control messages).
//!
//! It holds only the handles a change touches (the credential cache, the
//! engine, the open sockets, the settings and the store), so the cluster's
//! node loop can apply changes without the whole application state.

use std::sync::Arc;

use askpanel_actors::domain::{KeyId, TenantId, UserId};
use askpanel_actors::engine::Engine;
use askpanel_actors::supervisor::TenantPolicy;

use crate::auth::AuthService;
use crate::configuration::Settings;
use crate::limits::policy;
use crate::store::accounts::SessionId;
use crate::store::{Store, TenantRecord, TenantStatus};
use crate::ws::registry::SessionRegistry;

/// Applies tenant and key changes to this node's caches, panels and sockets.
#[derive(Clone)]
pub struct TenantChanges {
    settings: Arc<Settings>,
    store: Arc<dyn Store>,
    engine: Engine,
    auth: Arc<AuthService>,
    sessions: Arc<SessionRegistry>,
}

impl TenantChanges {
    pub fn new(
        settings: Arc<Settings>,
        store: Arc<dyn Store>,
        engine: Engine,
        auth: Arc<AuthService>,
        sessions: Arc<SessionRegistry>,
    ) -> Self {
        Self { settings, store, engine, auth, sessions }
    }

    /// Applies a tenant's changed record: cached credentials are dropped,
    /// running panels get the new limits (suspension pauses them,
    /// reactivation resumes them), and a suspended tenant's open sockets
    /// close with 1008.
    pub fn apply(&self, tenant: &TenantRecord) {
        self.auth.invalidate_tenant(tenant.id);
        self.engine.update_policy(tenant.id, policy(&self.settings, tenant));
        if tenant.status == TenantStatus::Suspended {
            self.sessions.close_tenant(tenant.id, 1008, "tenant suspended");
        }
    }

    /// Another node changed a tenant: reads the record again and applies it.
    pub async fn reload(&self, tenant: TenantId) {
        match self.store.get_tenant(tenant).await {
            Ok(Some(record)) => self.apply(&record),
            // Not readable now: at least nothing stale is served from the cache.
            _ => self.auth.invalidate_tenant(tenant),
        }
    }

    /// A key was revoked: cached keys are forgotten and the key's open
    /// sockets close with 1008. Returns how many closed.
    pub fn key_revoked(&self, key: KeyId) -> usize {
        self.auth.invalidate_keys();
        self.sessions.close_holder(key.0, 1008, "api key revoked")
    }

    /// Sign-in sessions ended (`session`: one; else every one of `user`):
    /// cached sessions are forgotten and their open streams close with 1008.
    pub fn sessions_ended(&self, user: UserId, session: Option<SessionId>) -> usize {
        self.auth.invalidate_sessions();
        match session {
            Some(session) => self.sessions.close_session(session.0, 1008, "signed out"),
            None => self.sessions.close_holder(user.0, 1008, "signed out"),
        }
    }

    /// A person's role changed: cached sessions are read again, and their
    /// open sockets and streams (which hold the old role) close with 1008 so
    /// that the page reconnects with the new one.
    pub fn user_changed(&self, user: UserId) -> usize {
        self.auth.invalidate_sessions();
        self.sessions.close_holder(user.0, 1008, "role changed")
    }

    /// A notification for a person: its frame goes to their open sockets on
    /// this node. Returns how many.
    pub fn notified(&self, tenant: TenantId, user: UserId, frame: &str) -> usize {
        self.sessions.push_to_holder(tenant, user.0, frame)
    }

    /// Ends the open streams of a revoked share link on this node.
    pub fn share_revoked(&self, share: crate::store::records::ShareId) -> usize {
        self.sessions.close_holder(share.stream_key(), 1008, "share link revoked")
    }

    /// What the engine enforces for a tenant whose panel resumes here (the
    /// defaults when the tenant cannot be read).
    pub async fn policy_of(&self, tenant: TenantId) -> TenantPolicy {
        match self.auth.tenant(self.store.as_ref(), tenant).await {
            Ok(Some(record)) => policy(&self.settings, &record),
            _ => TenantPolicy::default(),
        }
    }
}
