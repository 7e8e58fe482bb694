//! The audit trail's storage: append, read with filters, and purge past the
//! retention. There is no update path; on PostgreSQL the application role
//! cannot update or delete entries at all (purging goes through an
//! owner-rights function).

use askpanel_actors::domain::TenantId;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::StoreResult;

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditActor {
    /// `key`, `platform` (the platform admin) or `system`.
    pub kind: String,
    /// The key id, or a name for the others.
    pub id: String,
}

/// What was acted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditTarget {
    /// `key`, `tenant`, `panel`, `share`, `document`, `expert`.
    pub kind: String,
    pub id: String,
}

/// One entry of the trail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: Uuid,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub at: DateTime<Utc>,
    pub actor: AuditActor,
    /// `key.created`, `share.revoked`, `panel.moderated`... (docs/audit.md).
    pub action: String,
    pub target: Option<AuditTarget>,
    /// The client's address, when a request did it.
    pub address: Option<String>,
    /// What else matters (the role given, the action taken...), as JSON.
    pub detail: serde_json::Value,
}

/// What a reading of the trail asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditQuery {
    /// Actions equal to this, or starting with it when it ends in `.` (`key.`).
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Entries older than this one (newest first).
    pub before: Option<Uuid>,
    pub limit: u32,
}

/// Appends an entry (the values in [`AUDIT_COLUMNS`]' order).
pub const INSERT_AUDIT: &str = "INSERT INTO audit_events \
     (id, tenant_id, at, actor_kind, actor_id, action, target_kind, target_id, address, detail) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub const AUDIT_COLUMNS: &str =
    "id, tenant_id, at, actor_kind, actor_id, action, target_kind, target_id, address, detail";

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: Uuid,
    tenant_id: Uuid,
    at: DateTime<Utc>,
    actor_kind: String,
    actor_id: String,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    address: Option<String>,
    detail: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(row: AuditRow) -> Self {
        AuditEntry {
            id: row.id,
            tenant_id: TenantId(row.tenant_id),
            at: row.at,
            actor: AuditActor { kind: row.actor_kind, id: row.actor_id },
            action: row.action,
            target: match (row.target_kind, row.target_id) {
                (Some(kind), Some(id)) => Some(AuditTarget { kind, id }),
                _ => None,
            },
            address: row.address,
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The statement reading a tenant's trail (`$1` the tenant) and its values in order.
pub fn list_sql(query: &AuditQuery) -> (String, Vec<AuditBind>) {
    let mut binds = Vec::new();
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE tenant_id = $1");
    let mut push = |sql: &mut String, clause: &str, value: AuditBind| {
        binds.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len() + 1)));
    };
    match query.action.as_deref() {
        Some(prefix) if prefix.ends_with('.') => {
            // A prefix match on the index: `key.` is `key.` <= action < `key/`.
            let mut upper = prefix.to_string();
            upper.pop();
            upper.push('/');
            push(&mut sql, " AND action >= ?", AuditBind::Text(prefix.to_string()));
            push(&mut sql, " AND action < ?", AuditBind::Text(upper));
        }
        Some(action) => push(&mut sql, " AND action = ?", AuditBind::Text(action.to_string())),
        None => {}
    }
    if let Some(actor) = &query.actor_id {
        push(&mut sql, " AND actor_id = ?", AuditBind::Text(actor.clone()));
    }
    if let Some(target) = &query.target_id {
        push(&mut sql, " AND target_id = ?", AuditBind::Text(target.clone()));
    }
    if let Some(from) = query.from {
        push(&mut sql, " AND at >= ?", AuditBind::Time(from));
    }
    if let Some(to) = query.to {
        push(&mut sql, " AND at < ?", AuditBind::Time(to));
    }
    if let Some(before) = query.before {
        push(&mut sql, " AND id < ?", AuditBind::Uuid(before));
    }
    push(&mut sql, " ORDER BY id DESC LIMIT ?", AuditBind::Int(i64::from(query.limit)));
    (sql, binds)
}

/// A value bound to [`list_sql`]'s statement.
#[derive(Clone, Debug, PartialEq)]
pub enum AuditBind {
    Text(String),
    Time(DateTime<Utc>),
    Uuid(Uuid),
    Int(i64),
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry (its id orders the trail: UUID v7).
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// The tenant's entries matching the query, newest first.
    async fn list_audit(&self, tenant: TenantId, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Removes the tenant's entries older than `before`; returns how many.
    async fn purge_audit(&self, tenant: TenantId, before: DateTime<Utc>) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_reads_a_range_of_the_index_and_values_follow_their_placeholders() {
        let (sql, binds) = list_sql(&AuditQuery {
            action: Some("key.".into()),
            actor_id: Some("k1".into()),
            limit: 10,
            ..AuditQuery::default()
        });
        assert!(sql.contains("action >= $2 AND action < $3 AND actor_id = $4 ORDER BY id DESC LIMIT $5"), "{sql}");
        assert_eq!(
            binds,
            vec![
                AuditBind::Text("key.".into()),
                AuditBind::Text("key/".into()),
                AuditBind::Text("k1".into()),
                AuditBind::Int(10)
            ]
        );
        let (sql, _) =
            list_sql(&AuditQuery { action: Some("share.revoked".into()), limit: 5, ..AuditQuery::default() });
        assert!(sql.contains("action = $2"), "{sql}");
    }
}
