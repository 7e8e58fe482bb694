//! The audit trail (`docs/audit.md`): every security-relevant action,
//! recorded with who, what, on what, when and from where, and read back by
//! the tenant's admins (`GET /v1/audit`). Entries are appended after the
//! action has taken effect; an entry that cannot be written is logged and
//! counted (`askpanel_errors_total{kind="audit_write"}`), never silently lost.

use std::time::Duration;

use actix_web::HttpRequest;
use askpanel_actors::domain::TenantId;
use chrono::Utc;
use serde_json::Value;

use crate::auth::Principal;
use crate::limits::effective_limits;
use crate::state::AppState;
use crate::store::audit::{AuditActor, AuditEntry, AuditTarget};

/// The longest detail kept, in bytes of JSON.
const DETAIL_MAX_BYTES: usize = 2048;

/// The key or person behind a request.
pub fn actor(principal: &Principal) -> AuditActor {
    AuditActor { kind: principal.kind().into(), id: principal.holder().to_string() }
}

/// A person (who is not the caller: signing in, or someone unknown by address).
pub fn user(id: askpanel_actors::domain::UserId) -> AuditActor {
    AuditActor { kind: "user".into(), id: id.to_string() }
}

/// Nobody known (a sign-in for an address with no account).
pub fn anonymous() -> AuditActor {
    AuditActor { kind: "anonymous".into(), id: "-".into() }
}

/// The platform admin.
pub fn platform() -> AuditActor {
    AuditActor { kind: "platform".into(), id: "admin".into() }
}

/// The client's address as the server saw it.
pub fn address(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

/// A target of an action.
pub fn target(kind: &str, id: impl ToString) -> Option<AuditTarget> {
    Some(AuditTarget { kind: kind.to_string(), id: id.to_string() })
}

/// Appends an entry to the tenant's trail.
pub async fn record(
    state: &AppState,
    tenant: TenantId,
    actor: AuditActor,
    action: &str,
    target: Option<AuditTarget>,
    address: Option<String>,
    detail: Value,
) {
    let detail =
        if detail.to_string().len() > DETAIL_MAX_BYTES { serde_json::json!({"truncated": true}) } else { detail };
    let entry = AuditEntry {
        id: uuid::Uuid::now_v7(),
        tenant_id: tenant,
        at: Utc::now(),
        actor,
        action: action.to_string(),
        target,
        address,
        detail,
    };
    if let Err(error) = state.store.append_audit(&entry).await {
        state.metrics.errors.with_label_values(&["audit_write"]).inc();
        tracing::error!(%tenant, action, %error, "an audit entry could not be written");
    }
}

/// Purges each tenant's entries older than its tier's `audit_retention_days`, every `every`.
pub async fn retain(state: AppState, every: Duration) {
    loop {
        match state.store.list_tenants().await {
            Ok(tenants) => {
                for tenant in tenants {
                    let days = effective_limits(&state.settings, &tenant).audit_retention_days;
                    let before = Utc::now() - chrono::Duration::days(i64::from(days));
                    match state.store.purge_audit(tenant.id, before).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(tenant_id = %tenant.id, purged = n, days, "audit entries past retention purged")
                        }
                        Err(error) => tracing::warn!(tenant_id = %tenant.id, %error, "audit retention failed"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "audit retention could not list tenants"),
        }
        tokio::time::sleep(every).await;
    }
}
