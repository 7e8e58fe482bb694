//! The monthly token budget: a tenant over `tokens_per_month` cannot start
//! panels (checked at creation) and its running panels pause with the reason
//! `token_budget_exhausted`, resuming when the budget allows again (a new
//! month, or a raised limit). This watcher checks the tenants with panels on
//! this node every few seconds.

use std::time::Duration;

use chrono::Utc;

use crate::limits::effective_limits;
use crate::state::AppState;
use crate::store::month_of;

/// Checks budgets until the server shuts down.
pub async fn watch(state: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if state.shutting_down.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let month = month_of(Utc::now());
        for tenant_id in state.engine.active_tenants() {
            let Ok(Some(tenant)) = state.auth.tenant(state.store.as_ref(), tenant_id).await else { continue };
            let Ok(usage) = state.store.usage(tenant_id, &month).await else { continue };
            let limit = effective_limits(&state.settings, &tenant).tokens_per_month;
            state.engine.set_budget_exhausted(tenant_id, usage.tokens_in + usage.tokens_out >= limit);
        }
    }
}
