//! The document library's storage: documents, their passages and full-text
//! search over the passages (SQLite FTS5 with BM25; PostgreSQL `tsvector`
//! with `ts_rank`), behind one trait both stores implement. Every
//! function takes the tenant; the one cross-tenant call
//! ([`DocumentStore::claim_document`]) hands out extraction work.

use askpanel_actors::domain::TenantId;
use askpanel_actors::evidence::{DocumentId, Passage};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{StoreError, StoreResult};

/// Where a document is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Uploaded, waiting for an extractor.
    Pending,
    /// An extractor is reading it.
    Extracting,
    /// Its passages are searchable.
    Ready,
    /// It could not be read (`error` says why).
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Extracting => "extracting",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DocumentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown document status `{s}`"))
    }
}

/// A document as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DocumentRecord {
    pub id: DocumentId,
    #[serde(skip)]
    pub tenant_id: TenantId,
    pub title: String,
    pub filename: Option<String>,
    pub media_type: String,
    /// Size of the upload.
    pub bytes: u64,
    pub status: DocumentStatus,
    /// 0..1 while extracting; 1 once ready.
    pub progress: f64,
    pub error: Option<String>,
    pub pages: Option<u32>,
    pub passages: u32,
    /// Characters of extracted text.
    pub chars: u64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A passage as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassageRecord {
    pub document_id: DocumentId,
    pub n: u32,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// Character offsets in the document's extracted text.
    pub start: u64,
    pub end: u64,
    pub text: String,
}

impl From<PassageRecord> for Passage {
    fn from(p: PassageRecord) -> Self {
        Passage { document_id: p.document_id, n: p.n, page: p.page, heading: p.heading, text: p.text }
    }
}

/// A search result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PassageHit {
    pub document_id: DocumentId,
    pub title: String,
    pub passage: PassageRecord,
    /// Higher is better (BM25 on SQLite, `ts_rank` on PostgreSQL: not comparable across backends).
    pub score: f64,
}

/// What a search asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct PassageQuery {
    /// Words (letters and digits only), any of which may match; rank decides.
    pub terms: Vec<String>,
    /// Only these documents (the tenant's); every ready document when `None`.
    pub documents: Option<Vec<DocumentId>>,
    pub limit: u32,
}

/// The tenant's quota on its library, checked in the upload's transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LibraryQuota {
    pub max_bytes: u64,
    pub max_documents: u64,
}

/// What the tenant's library holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LibraryUsage {
    pub bytes: u64,
    pub documents: u64,
}

/// A passage to write.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPassage {
    pub n: u32,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub start: u64,
    pub end: u64,
    pub text: String,
}

/// A finished extraction.
#[derive(Clone, Debug, PartialEq)]
pub struct Extracted {
    pub pages: Option<u32>,
    pub chars: u64,
    pub passages: Vec<NewPassage>,
}

/// An extractor's claim on a document: `attempt` is its token (the
/// document's claim count); writes under an older one are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub tenant: TenantId,
    pub id: DocumentId,
    pub attempt: u32,
}

/// Why an upload is refused by the quota.
pub fn library_refusal(quota: &LibraryQuota, usage: LibraryUsage, bytes: u64) -> Option<String> {
    if usage.documents >= quota.max_documents {
        return Some(format!("this tenant's limit of {} documents is reached", quota.max_documents));
    }
    if usage.bytes + bytes > quota.max_bytes {
        return Some(format!(
            "this tenant's document storage of {} MB would be exceeded ({} bytes used, {} bytes uploaded)",
            quota.max_bytes / (1024 * 1024),
            usage.bytes,
            bytes
        ));
    }
    None
}

/// The full-text query of SQLite FTS5: each term quoted, any may match.
/// Terms are letters and digits only (see [`askpanel_actors::evidence::words`]).
pub fn fts5_query(terms: &[String]) -> String {
    terms.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(" OR ")
}

/// The full-text query of PostgreSQL's `to_tsquery`: any term may match.
pub fn tsquery(terms: &[String]) -> String {
    terms.join(" | ")
}

#[async_trait]
pub trait DocumentStore: Send + Sync + 'static {
    /// Records an upload (`pending`, with its content) unless the quota refuses it.
    async fn create_document(&self, document: &DocumentRecord, content: &[u8], quota: &LibraryQuota)
    -> StoreResult<()>;
    async fn list_documents(
        &self,
        tenant: TenantId,
        status: Option<DocumentStatus>,
        limit: u32,
        before: Option<DocumentId>,
    ) -> StoreResult<Vec<DocumentRecord>>;
    async fn library_usage(&self, tenant: TenantId) -> StoreResult<LibraryUsage>;
    async fn get_document(&self, tenant: TenantId, id: DocumentId) -> StoreResult<Option<DocumentRecord>>;
    /// The tenant's documents among `ids` (any status).
    async fn get_documents(&self, tenant: TenantId, ids: &[DocumentId]) -> StoreResult<Vec<DocumentRecord>>;
    /// Deletes a document and its passages; false when the tenant has no such document.
    async fn delete_document(&self, tenant: TenantId, id: DocumentId) -> StoreResult<bool>;

    /// Claims the oldest document waiting for extraction (or whose
    /// extractor's lease ran out), for `lease_s` seconds; any tenant.
    async fn claim_document(&self, lease_s: u32) -> StoreResult<Option<Claim>>;
    /// A claimed document's upload.
    async fn document_content(&self, tenant: TenantId, id: DocumentId) -> StoreResult<Option<Vec<u8>>>;
    /// Records progress and extends the claim (false: the claim is lost).
    async fn extraction_progress(&self, claim: &Claim, progress: f64, lease_s: u32) -> StoreResult<bool>;
    /// Writes the passages and makes the document `ready`; drops the
    /// upload. Nothing is searchable before the status turns `ready`. False
    /// when the document is gone or the claim was lost.
    async fn finish_document(&self, claim: &Claim, extracted: &Extracted) -> StoreResult<bool>;
    /// Marks the document `failed` with a reason and drops the upload, under
    /// the claim when given (else whatever claimed it).
    async fn fail_document(&self, tenant: TenantId, id: DocumentId, claim: Option<u32>, error: &str)
    -> StoreResult<()>;

    /// Passages of a document in order, after passage `after`.
    async fn passages(
        &self,
        tenant: TenantId,
        id: DocumentId,
        after: u32,
        limit: u32,
    ) -> StoreResult<Vec<PassageRecord>>;
    async fn passage(&self, tenant: TenantId, id: DocumentId, n: u32) -> StoreResult<Option<PassageRecord>>;
    /// Ready passages of the tenant ranked for the query, best first.
    async fn search_passages(&self, tenant: TenantId, query: &PassageQuery) -> StoreResult<Vec<PassageHit>>;
}

/// The columns a [`DocumentRow`] reads.
pub const DOCUMENT_COLUMNS: &str = "id, tenant_id, title, filename, media_type, bytes, status, progress, error, pages, passages, chars, created_by, created_at, updated_at";
/// Records an upload (`$1`..`$10`: id, tenant, title, filename, media type,
/// bytes, status, created by, created at, content), the same on both backends.
pub const INSERT_DOCUMENT: &str = "INSERT INTO documents (id, tenant_id, title, filename, media_type, bytes, status, progress, created_by, created_at, updated_at, content) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9, $10)";
/// Passages are read only of `ready` documents (an extraction writes them first).
pub const READY: &str = "AND EXISTS (SELECT 1 FROM documents r WHERE r.id = p.document_id AND r.status = 'ready')";
/// The columns a [`PassageRow`] reads (from `p`, the passages table).
pub const PASSAGE_COLUMNS: &str = "p.document_id, p.n, p.page, p.heading, p.start_char, p.end_char, p.text";

#[derive(sqlx::FromRow)]
pub struct DocumentRow {
    id: Uuid,
    tenant_id: Uuid,
    title: String,
    filename: Option<String>,
    media_type: String,
    bytes: i64,
    status: String,
    progress: f64,
    error: Option<String>,
    pages: Option<i64>,
    passages: i64,
    chars: i64,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DocumentRow> for DocumentRecord {
    type Error = StoreError;
    fn try_from(row: DocumentRow) -> StoreResult<Self> {
        Ok(DocumentRecord {
            id: DocumentId(row.id),
            tenant_id: TenantId(row.tenant_id),
            title: row.title,
            filename: row.filename,
            media_type: row.media_type,
            bytes: row.bytes.max(0) as u64,
            status: row.status.parse().map_err(StoreError::Corrupt)?,
            progress: row.progress,
            error: row.error,
            pages: row.pages.map(|p| p.max(0) as u32),
            passages: row.passages.max(0) as u32,
            chars: row.chars.max(0) as u64,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct PassageRow {
    document_id: Uuid,
    n: i64,
    page: Option<i64>,
    heading: Option<String>,
    start_char: i64,
    end_char: i64,
    text: String,
}

impl From<PassageRow> for PassageRecord {
    fn from(row: PassageRow) -> Self {
        PassageRecord {
            document_id: DocumentId(row.document_id),
            n: row.n.max(0) as u32,
            page: row.page.map(|p| p.max(0) as u32),
            heading: row.heading,
            start: row.start_char.max(0) as u64,
            end: row.end_char.max(0) as u64,
            text: row.text,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct HitRow {
    #[sqlx(flatten)]
    passage: PassageRow,
    title: String,
    score: f64,
}

impl From<HitRow> for PassageHit {
    fn from(row: HitRow) -> Self {
        let passage = PassageRecord::from(row.passage);
        PassageHit { document_id: passage.document_id, title: row.title, passage, score: row.score }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_past_the_library_quota_are_refused() {
        let quota = LibraryQuota { max_bytes: 1000, max_documents: 3 };
        let usage = |bytes, documents| LibraryUsage { bytes, documents };
        let table = [
            ("room", usage(0, 0), 1000, false),
            ("exactly full after", usage(400, 2), 600, false),
            ("one byte over", usage(400, 2), 601, true),
            ("count reached", usage(0, 3), 1, true),
        ];
        for (name, used, bytes, refused) in table {
            assert_eq!(library_refusal(&quota, used, bytes).is_some(), refused, "{name}");
        }
    }

    #[test]
    fn full_text_queries_quote_every_term() {
        let terms: Vec<String> = ["battery", "2024"].iter().map(|s| s.to_string()).collect();
        assert_eq!(fts5_query(&terms), "\"battery\" OR \"2024\"");
        assert_eq!(tsquery(&terms), "battery | 2024");
    }
}
