//! The statement of a panel search, for both dialects: each word's matches
//! in a query of its own (FTS5 BM25 on SQLite, a constant tsquery the GIN
//! index answers on PostgreSQL), a panel kept when every word matched one of
//! its texts, ranked by the sum of its matches.

use askpanel_actors::domain::TenantId;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{PanelHit, PanelMatch, PanelSearch};
use crate::store::{PanelSummary, StoreResult};

/// The SQL dialects the stores speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a search statement, in placeholder order.
#[derive(Clone, Debug, PartialEq)]
pub enum Bind {
    Uuid(Uuid),
    Text(String),
    Time(DateTime<Utc>),
    Int(i64),
}

/// A found panel as read (`PANEL_COLUMNS` plus where it matched).
#[derive(sqlx::FromRow)]
pub struct HitRow {
    #[sqlx(flatten)]
    panel: crate::store::rows::PanelRow,
    match_seq: Option<i64>,
    match_kind: Option<String>,
}

impl TryFrom<HitRow> for PanelHit {
    type Error = crate::store::StoreError;
    fn try_from(row: HitRow) -> StoreResult<Self> {
        Ok(PanelHit {
            panel: PanelSummary::try_from(row.panel)?,
            matched: match (row.match_seq, row.match_kind) {
                (Some(seq), Some(kind)) => Some(PanelMatch { kind, seq: seq.max(0) as u64 }),
                _ => None,
            },
        })
    }
}

/// The statement of a panel search and its values (`$1` is the tenant).
/// With terms, each must match one of the panel's texts; the panel's rank
/// sums its matches (BM25 on SQLite, `ts_rank` on PostgreSQL) and its best
/// match is reported. The tenant scopes the index rows and the panels both.
pub fn search_sql(tenant: TenantId, search: &PanelSearch, dialect: Dialect) -> (String, Vec<Bind>) {
    let mut binds = vec![Bind::Uuid(tenant.0)];
    let next = |binds: &mut Vec<Bind>, value: Bind| {
        binds.push(value);
        format!("${}", binds.len())
    };
    let columns = crate::store::rows::PANEL_COLUMNS;
    let mut sql = if search.terms.is_empty() {
        let nulls = match dialect {
            Dialect::Sqlite => "NULL AS match_seq, NULL AS match_kind",
            Dialect::Postgres => "NULL::bigint AS match_seq, NULL::text AS match_kind",
        };
        format!("SELECT {columns}, {nulls} FROM panels p WHERE p.tenant_id = $1")
    } else {
        match dialect {
            Dialect::Sqlite => {
                let token = format!("t{}", tenant.0.simple());
                // Each term's matches, ranked by bm25() in a query of its own
                // (FTS5 functions cannot be used once the planner merges them).
                let mut ctes = Vec::new();
                let mut union = Vec::new();
                for (i, term) in search.terms.iter().enumerate() {
                    let placeholder = next(&mut binds, Bind::Text(format!("tenant : {token} AND text : \"{term}\"")));
                    ctes.push(format!(
                        "h{i} AS MATERIALIZED (SELECT rowid, bm25(panel_texts_fts) AS score FROM panel_texts_fts WHERE panel_texts_fts MATCH {placeholder})"
                    ));
                    union.push(format!("SELECT rowid, score, {i} AS term FROM h{i}"));
                }
                // One min() in the group: SQLite takes the bare seq and kind from its row.
                format!(
                    "WITH {} SELECT {columns}, m.match_seq, m.match_kind FROM (\
                     SELECT t.panel_id AS match_panel, SUM(f.score) AS match_rank, MIN(f.score) AS best, t.seq AS match_seq, t.kind AS match_kind \
                     FROM ({}) f JOIN panel_texts t ON t.id = f.rowid WHERE t.tenant_id = $1 \
                     GROUP BY t.panel_id HAVING COUNT(DISTINCT f.term) = {}) m \
                     JOIN panels p ON p.id = m.match_panel WHERE p.tenant_id = $1",
                    ctes.join(", "),
                    union.join(" UNION ALL "),
                    search.terms.len()
                )
            }
            Dialect::Postgres => {
                // Each term's matches in a query of its own, with its tsquery a
                // constant, so the GIN index finds them (a join over a list of
                // tsqueries read every row of the tenant).
                let mut ctes = Vec::new();
                let mut union = Vec::new();
                for (i, term) in search.terms.iter().enumerate() {
                    let placeholder = next(&mut binds, Bind::Text(term.clone()));
                    ctes.push(format!(
                        "h{i} AS (SELECT t.panel_id, t.seq, t.kind, ts_rank(t.tsv, q)::float8 AS score, {i} AS term \
                         FROM panel_texts t, to_tsquery('english', {placeholder}) q WHERE t.tenant_id = $1 AND t.tsv @@ q)"
                    ));
                    union.push(format!("SELECT * FROM h{i}"));
                }
                format!(
                    "WITH {} SELECT {columns}, m.match_seq, m.match_kind FROM (\
                     SELECT h.panel_id AS match_panel, SUM(h.score) AS match_rank, \
                     (array_agg(h.seq ORDER BY h.score DESC))[1] AS match_seq, (array_agg(h.kind ORDER BY h.score DESC))[1] AS match_kind \
                     FROM ({}) h GROUP BY h.panel_id HAVING COUNT(DISTINCT h.term) = {}) m \
                     JOIN panels p ON p.id = m.match_panel WHERE p.tenant_id = $1",
                    ctes.join(", "),
                    union.join(" UNION ALL "),
                    search.terms.len()
                )
            }
        }
    };
    if let Some(panel_type) = search.panel_type {
        sql.push_str(&format!(" AND p.panel_type = {}", next(&mut binds, Bind::Text(panel_type.as_str().to_string()))));
    }
    if let Some(status) = search.status {
        sql.push_str(&format!(" AND p.status = {}", next(&mut binds, Bind::Text(status.as_str().to_string()))));
    }
    if let Some(created_by) = &search.created_by {
        sql.push_str(&format!(" AND p.created_by = {}", next(&mut binds, Bind::Text(created_by.clone()))));
    }
    if let Some(from) = search.from {
        sql.push_str(&format!(" AND p.created_at >= {}", next(&mut binds, Bind::Time(from))));
    }
    if let Some(to) = search.to {
        sql.push_str(&format!(" AND p.created_at < {}", next(&mut binds, Bind::Time(to))));
    }
    if let Some(expert) = search.expert {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM panel_experts e WHERE e.panel_id = p.id AND e.tenant_id = $1 AND e.expert_id = {})",
            next(&mut binds, Bind::Uuid(expert.0))
        ));
    }
    if search.terms.is_empty() {
        if let Some(before) = search.before {
            sql.push_str(&format!(" AND p.id < {}", next(&mut binds, Bind::Uuid(before.0))));
        }
        sql.push_str(&format!(" ORDER BY p.id DESC LIMIT {}", next(&mut binds, Bind::Int(i64::from(search.limit)))));
    } else {
        let order = match dialect {
            Dialect::Sqlite => "m.match_rank ASC",
            Dialect::Postgres => "m.match_rank DESC",
        };
        let limit = next(&mut binds, Bind::Int(i64::from(search.limit)));
        let offset = next(&mut binds, Bind::Int(i64::from(search.offset)));
        sql.push_str(&format!(" ORDER BY {order}, p.id DESC LIMIT {limit} OFFSET {offset}"));
    }
    (sql, binds)
}
