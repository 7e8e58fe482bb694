//! Share links (`docs/records.md`, "Sharing"): read-only access to one
//! panel with an unguessable token and no key. Only the token's hash is
//! stored; a link is found by it, checked (live, tenant active), rate
//! limited like its tenant, and what it shows is stripped of what would
//! reveal the tenant.

use actix_web::HttpRequest;
use askpanel_actors::domain::PanelId;
use chrono::{Duration, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::limits::effective_limits;
use crate::state::AppState;
use crate::store::TenantStatus;
use crate::store::records::{ShareId, ShareRecord};

/// Every token starts so (it tells people and scanners what it is).
pub const TOKEN_PREFIX: &str = "aps_";
/// The longest label of a link.
pub const LABEL_MAX_CHARS: usize = 100;
/// The shortest lifetime a link may be given.
pub const MIN_LIFETIME_S: u64 = 60;

/// A new token: 256 random bits, base64url.
pub fn new_token() -> String {
    use base64::Engine as _;
    let bytes = crate::auth::random_bytes::<32>();
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether text could be a token at all (checked before any lookup).
pub fn plausible(token: &str) -> bool {
    token.len() == TOKEN_PREFIX.len() + 43
        && token.starts_with(TOKEN_PREFIX)
        && token[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new link's record, checked: lifetime within bounds, label short.
pub fn new_share(
    state: &AppState,
    tenant: askpanel_actors::domain::TenantId,
    panel: PanelId,
    created_by: String,
    expires_in_s: Option<u64>,
    label: Option<String>,
) -> Result<ShareRecord, ApiError> {
    let settings = &state.settings.records;
    let lifetime = expires_in_s.unwrap_or(settings.share_default_s);
    let mut fields = std::collections::BTreeMap::new();
    if !(MIN_LIFETIME_S..=settings.share_max_s).contains(&lifetime) {
        fields.insert("expires_in_s".to_string(), format!("must be {MIN_LIFETIME_S} to {}", settings.share_max_s));
    }
    let label = label.map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
    if label.as_ref().is_some_and(|l| l.chars().count() > LABEL_MAX_CHARS || l.chars().any(char::is_control)) {
        fields.insert("label".to_string(), format!("at most {LABEL_MAX_CHARS} characters, on one line"));
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation { message: "the share link is not valid".into(), fields });
    }
    let now = Utc::now();
    Ok(ShareRecord {
        id: ShareId(Uuid::now_v7()),
        tenant_id: tenant,
        panel_id: panel,
        label,
        created_by,
        created_at: now,
        expires_at: now + Duration::seconds(lifetime as i64),
        revoked_at: None,
    })
}

/// The live link a token opens, for a request: unknown, revoked or expired
/// links and those of a suspended tenant are all 404; unknown tokens count
/// as failed authentications of the address, and the tenant's rate limit
/// applies to each link on its own.
pub async fn open(state: &AppState, req: &HttpRequest, token: &str) -> Result<ShareRecord, ApiError> {
    let address = req.peer_addr().map(|a| a.ip());
    if let Some(address) = address {
        state
            .auth_failures
            .check(address, state.settings.auth.failed_auth_per_minute)
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    }
    let found = if plausible(token) { state.store.find_share(&crate::auth::hash_key(token)).await? } else { None };
    let Some(share) = found.filter(|s| s.is_live(Utc::now())) else {
        if let Some(address) = address {
            state.auth_failures.failed(address);
        }
        return Err(ApiError::NotFound);
    };
    let tenant = state.auth.tenant(state.store.as_ref(), share.tenant_id).await?.ok_or(ApiError::NotFound)?;
    if tenant.status == TenantStatus::Suspended {
        return Err(ApiError::NotFound);
    }
    // Each link has its own bucket at the tenant's rate: a link posted in
    // public cannot use up the rate of the tenant's own keys.
    let limits = effective_limits(&state.settings, &tenant);
    let bucket = askpanel_actors::domain::TenantId(share.id.0);
    let shared = match &state.cluster {
        Some(cluster) => cluster.rate_check(bucket, limits.requests_per_minute).await,
        None => None,
    };
    shared
        .unwrap_or_else(|| state.limiter.check(bucket, limits.requests_per_minute))
        .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
    Ok(share)
}

/// The panel JSON without what would reveal the tenant: its id, the
/// creator's key id, the human members' key ids and people, why each
/// expert was seated (the tenant's preferences), the children.
pub fn redact_panel(mut panel: Value) -> Value {
    if let Some(object) = panel.as_object_mut() {
        object.remove("tenant_id");
        object.remove("created_by");
        object.remove("children");
        if let Some(members) = object.get_mut("members").and_then(Value::as_array_mut) {
            for member in members {
                if let Some(member) = member.as_object_mut() {
                    member.remove("key_id");
                    member.remove("user_id");
                    member.remove("selection");
                }
            }
        }
    }
    panel
}

/// An event (or an event frame) as a link shows it: `panel_created`'s panel
/// redacted, and who moderated or cancelled shown as `moderator`. Other
/// events are returned as they are (`None`).
pub fn redact_event(kind: &str, json: &str) -> Option<String> {
    if !matches!(kind, "panel_created" | "moderator_action" | "panel_cancelled") {
        return None;
    }
    let mut value: Value = serde_json::from_str(json).ok()?;
    let data = value.get_mut("data")?.as_object_mut()?;
    match kind {
        "panel_created" => {
            if let Some(panel) = data.remove("panel") {
                data.insert("panel".into(), redact_panel(panel));
            }
            // The personas are the tenant's experts: a link shows who sat, not how they are made.
            if let Some(profiles) =
                data.get_mut("setup").and_then(|s| s.get_mut("profiles")).and_then(Value::as_array_mut)
            {
                for profile in profiles {
                    if let Some(profile) = profile.as_object_mut() {
                        profile.retain(|k, _| matches!(k.as_str(), "member_id" | "name" | "title" | "domain"));
                    }
                }
            }
        }
        _ => {
            if data.contains_key("by") {
                data.insert("by".into(), Value::String("moderator".into()));
            }
        }
    }
    serde_json::to_string(&value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_recognised() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(plausible(&a), "{a}");
        for bad in ["", "aps_", "aps_short", &format!("apx_{}", &a[4..]), &format!("{a}x"), &a.replace('_', "/")] {
            assert!(!plausible(bad), "{bad}");
        }
    }

    #[test]
    fn what_a_link_shows_names_no_key_and_no_tenant() {
        let created = serde_json::json!({
            "seq": 1, "ts": "2026-12-02T00:00:00Z", "kind": "panel_created",
            "data": {"panel": {"id": "p", "tenant_id": "t", "created_by": "k", "query": "q",
                               "members": [{"id": "m", "name": "Dr. Lee", "key_id": "k2",
                                            "selection": {"basis": "relevance", "preferred": true, "score": 4.2}}]},
                     "setup": {"profiles": [{"member_id": "m", "name": "Dr. Lee", "title": "Cardiologist",
                                             "domain": "clinical", "persona": "secret persona", "tags": ["t9"],
                                             "concerns": ["c9"], "model": "m9"}]}}
        })
        .to_string();
        let out = redact_event("panel_created", &created).expect("redacted");
        for secret in [
            "\"t\"",
            "\"k\"",
            "k2",
            "tenant_id",
            "created_by",
            "key_id",
            "secret persona",
            "t9",
            "c9",
            "m9",
            "preferred",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(out.contains("Dr. Lee") && out.contains("Cardiologist") && out.contains("\"query\":\"q\""));
        let action = r#"{"seq":5,"kind":"moderator_action","data":{"action":"pause","by":"0190-key"}}"#;
        let out = redact_event("moderator_action", action).expect("redacted");
        assert!(out.contains("\"by\":\"moderator\"") && !out.contains("0190-key"), "{out}");
        assert_eq!(redact_event("turn_completed", "{}"), None);
        // A frame (the event with `type` and `panel_id` added) is redacted the same way.
        let frame = r#"{"type":"event","panel_id":"p","seq":9,"kind":"panel_cancelled","data":{"by":"key"}}"#;
        assert!(redact_event("panel_cancelled", frame).unwrap().contains("\"by\":\"moderator\""));
    }
}
