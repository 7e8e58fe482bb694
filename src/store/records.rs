//! The decision record's storage (`docs/records.md`): the panel search index
//! and its filters, lineage (follow-ups and re-runs), and share links, behind
//! one trait both stores implement.

use askpanel_actors::domain::lineage::Relation;
use askpanel_actors::domain::{ExpertId, PanelId, PanelStatus, PanelType, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{PanelSummary, StoreResult};

mod search;
pub use search::{Bind, Dialect, HitRow, search_sql};

/// A share link's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ShareId(pub Uuid);

impl ShareId {
    /// The holder of the link's open streams in the registry (an id no key or user has).
    pub fn stream_key(self) -> Uuid {
        self.0
    }
}

/// A read-only link to one panel (the token itself is never stored).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShareRecord {
    pub id: ShareId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub panel_id: PanelId,
    pub label: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ShareRecord {
    /// Whether the link opens its panel at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// What a panel search asks for; every part is optional.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PanelSearch {
    /// Words that must all match, each in the question, a turn or the
    /// recommendation (stop words dropped; see [`search_terms`]).
    pub terms: Vec<String>,
    pub panel_type: Option<PanelType>,
    pub status: Option<PanelStatus>,
    pub created_by: Option<String>,
    pub expert: Option<ExpertId>,
    /// `created_at >= from`.
    pub from: Option<DateTime<Utc>>,
    /// `created_at < to`.
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
    /// Without terms: panels older than this one (newest first).
    pub before: Option<PanelId>,
    /// With terms: results skipped (ranked order).
    pub offset: u32,
}

/// Where a panel's best match is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PanelMatch {
    pub kind: String,
    pub seq: u64,
}

/// A panel found, with its best match when searched by words.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelHit {
    pub panel: PanelSummary,
    pub matched: Option<PanelMatch>,
}

/// A panel started from another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChildLink {
    pub id: PanelId,
    pub relation: Relation,
    pub created_at: DateTime<Utc>,
}

/// A searchable text of a panel: the question, a turn, the recommendation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexText {
    pub seq: u64,
    pub kind: &'static str,
    pub text: String,
}

/// What one step of the indexer writes for a panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexBatch {
    /// The seq indexed up to before this batch (the claim: the write is
    /// refused when another node moved it on).
    pub from_seq: u64,
    /// The last seq this batch covers.
    pub to_seq: u64,
    pub texts: Vec<IndexText>,
    pub experts: Vec<ExpertId>,
    pub parent: Option<(PanelId, Relation)>,
}

/// The most words of a search.
pub const MAX_TERMS: usize = 8;

/// PostgreSQL's English stop words (its `english.stop`, the Snowball list):
/// dropped on both backends, so a word counts, or not, the same on each.
const POSTGRES_ENGLISH_STOP: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "did",
    "do",
    "does",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "s",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// The words of a search query: letters and digits, lower case, stop words
/// and duplicates dropped, at most [`MAX_TERMS`] of at most 64 characters.
pub fn search_terms(q: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in askpanel_actors::evidence::words(q) {
        let stop = askpanel_actors::evidence::is_stop_word(&word) || POSTGRES_ENGLISH_STOP.contains(&word.as_str());
        if stop || word.chars().count() > 64 || terms.contains(&word) {
            continue;
        }
        terms.push(word);
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// The relation's wire name, as stored.
pub fn relation_name(relation: Relation) -> &'static str {
    relation.as_str()
}

/// A stored relation.
pub fn parse_relation(text: &str) -> Option<Relation> {
    match text {
        "follow_up" => Some(Relation::FollowUp),
        "rerun" => Some(Relation::Rerun),
        _ => None,
    }
}

#[async_trait]
pub trait RecordStore: Send + Sync {
    /// Panels of the tenant matching the search, ranked by relevance with
    /// terms, else newest first.
    async fn search_panels(&self, tenant: TenantId, search: &PanelSearch) -> StoreResult<Vec<PanelHit>>;
    /// The panels started from `panel`, oldest first.
    async fn children(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<ChildLink>>;
    /// Panels (any tenant) whose log the index has not followed to the end,
    /// with the seq indexed so far.
    async fn unindexed_panels(&self, limit: u32) -> StoreResult<Vec<(TenantId, PanelId, u64)>>;
    /// Writes one indexer step for a panel; `false` when another indexer
    /// moved the panel on first (nothing is written then).
    async fn index_panel(&self, tenant: TenantId, panel: PanelId, batch: &IndexBatch) -> StoreResult<bool>;

    /// Records a panel's parent as soon as the panel is created (the indexer
    /// records it too, from `panel_created`, should this write be lost).
    async fn link_parent(
        &self,
        tenant: TenantId,
        panel: PanelId,
        parent: PanelId,
        relation: Relation,
    ) -> StoreResult<()>;

    /// Stores a new link; `false` when the panel already has `max_live` live links.
    async fn create_share(&self, share: &ShareRecord, token_hash: &str, max_live: u32) -> StoreResult<bool>;
    /// The panel's links, newest first.
    async fn list_shares(&self, tenant: TenantId, panel: PanelId) -> StoreResult<Vec<ShareRecord>>;
    /// Revokes a link (idempotent); `None` when the panel has no such link.
    async fn revoke_share(&self, tenant: TenantId, panel: PanelId, share: ShareId) -> StoreResult<Option<ShareRecord>>;
    /// The link with this token hash, whatever its tenant or state.
    async fn find_share(&self, token_hash: &str) -> StoreResult<Option<ShareRecord>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_statements_read_every_column_of_a_link() {
        for sql in [LIST_SHARES, REVOKE_SHARE] {
            assert!(sql.contains(SHARE_COLUMNS), "{sql}");
        }
    }

    #[test]
    fn search_terms_are_words_without_stop_words_or_repeats() {
        let table: &[(&str, &[&str])] = &[
            ("Battery RECALL battery", &["battery", "recall"]),
            ("the 510(k) route", &["510", "k", "route"]),
            ("\"quoted\" OR NEAR(a b)", &["quoted", "near", "b"]),
            ("ourselves yourselves further", &[]),
            ("", &[]),
            ("the and of", &[]),
            ("a1 b2 c3 d4 e5 f6 g7 h8 i9 j10", &["a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8"]),
        ];
        for (q, expected) in table {
            assert_eq!(search_terms(q), expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{q}");
        }
    }
}

/// A child panel as read.
#[derive(sqlx::FromRow)]
pub struct ChildRow {
    id: Uuid,
    relation: Option<String>,
    created_at: DateTime<Utc>,
}

impl ChildRow {
    pub fn into_link(self) -> Option<ChildLink> {
        Some(ChildLink {
            id: PanelId(self.id),
            relation: parse_relation(self.relation.as_deref()?)?,
            created_at: self.created_at,
        })
    }
}

/// The panels started from one (`tenant_id = $1, parent_id = $2`).
pub const CHILDREN: &str =
    "SELECT id, relation, created_at FROM panels WHERE tenant_id = $1 AND parent_id = $2 ORDER BY id LIMIT 200";
/// The indexer's claim, with what it learnt: `$1` the seq indexed to, `$2`
/// the panel, `$3` the tenant, `$4` the seq it started from, `$5` and `$6`
/// the parent and relation (or NULLs).
pub const CLAIM_INDEX: &str = "UPDATE panels SET indexed_seq = $1, \
     index_done = (status IN ('completed', 'failed', 'cancelled') AND head_seq = $1), \
     parent_id = COALESCE(parent_id, $5), relation = COALESCE(relation, $6) \
     WHERE id = $2 AND tenant_id = $3 AND indexed_seq = $4 AND head_seq >= $1";
/// A panel's parent (`$1` parent, `$2` relation, `$3` panel, `$4` tenant).
pub const LINK_PARENT: &str = "UPDATE panels SET parent_id = $1, relation = $2 WHERE id = $3 AND tenant_id = $4";
/// A panel's live links (`tenant_id = $1, panel_id = $2`, now `$3`).
pub const COUNT_LIVE_SHARES: &str = "SELECT COUNT(*) FROM panel_shares WHERE tenant_id = $1 AND panel_id = $2 AND revoked_at IS NULL AND expires_at > $3";
/// A new link.
pub const INSERT_SHARE: &str = "INSERT INTO panel_shares \
     (id, tenant_id, panel_id, token_hash, label, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
/// A panel's links, newest first (`tenant_id = $1, panel_id = $2`).
pub const LIST_SHARES: &str = "SELECT id, tenant_id, panel_id, label, created_by, created_at, expires_at, revoked_at \
     FROM panel_shares WHERE tenant_id = $1 AND panel_id = $2 ORDER BY created_at DESC, id DESC LIMIT 500";
/// Revokes a link, keeping the first revocation's time (`$1` now, `$2`
/// tenant, `$3` panel, `$4` the link).
pub const REVOKE_SHARE: &str = "UPDATE panel_shares SET revoked_at = COALESCE(revoked_at, $1) \
     WHERE tenant_id = $2 AND panel_id = $3 AND id = $4 \
     RETURNING id, tenant_id, panel_id, label, created_by, created_at, expires_at, revoked_at";

/// The columns of a share link.
pub const SHARE_COLUMNS: &str = "id, tenant_id, panel_id, label, created_by, created_at, expires_at, revoked_at";

/// A share link as read.
#[derive(sqlx::FromRow)]
pub struct ShareRow {
    id: Uuid,
    tenant_id: Uuid,
    panel_id: Uuid,
    label: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ShareRow> for ShareRecord {
    fn from(row: ShareRow) -> Self {
        ShareRecord {
            id: ShareId(row.id),
            tenant_id: TenantId(row.tenant_id),
            panel_id: PanelId(row.panel_id),
            label: row.label,
            created_by: row.created_by,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        }
    }
}
