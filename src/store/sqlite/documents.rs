//! The document library on SQLite: FTS5 over the passages, ranked by BM25.

use askpanel_actors::domain::TenantId;
use askpanel_actors::evidence::DocumentId;
use async_trait::async_trait;
use chrono::{Duration, Utc};
use sqlx::{AssertSqlSafe, Row};

use super::SqliteStore;
use crate::store::documents::{
    Claim, DOCUMENT_COLUMNS, DocumentRecord, DocumentRow, DocumentStatus, DocumentStore, Extracted, HitRow,
    INSERT_DOCUMENT, LibraryQuota, LibraryUsage, NewPassage, PASSAGE_COLUMNS, PassageHit, PassageQuery, PassageRecord,
    PassageRow, READY, fts5_query, library_refusal,
};
use crate::store::{StoreError, StoreResult, rows};

/// `$n, $n+1...` placeholders for a list bound after `first - 1` others.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn create_document(
        &self,
        document: &DocumentRecord,
        content: &[u8],
        quota: &LibraryQuota,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let usage = usage_of(&mut tx, document.tenant_id).await?;
        if let Some(why) = library_refusal(quota, usage, document.bytes) {
            return Err(StoreError::LimitExceeded(why));
        }
        sqlx::query(INSERT_DOCUMENT)
            .bind(document.id.0)
            .bind(document.tenant_id.0)
            .bind(&document.title)
            .bind(&document.filename)
            .bind(&document.media_type)
            .bind(document.bytes as i64)
            .bind(document.status.as_str())
            .bind(&document.created_by)
            .bind(document.created_at)
            .bind(content)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_documents(
        &self,
        tenant: TenantId,
        status: Option<DocumentStatus>,
        limit: u32,
        before: Option<DocumentId>,
    ) -> StoreResult<Vec<DocumentRecord>> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4"
        );
        rows::all(
            sqlx::query_as::<_, DocumentRow>(AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(status.map(DocumentStatus::as_str))
                .bind(before.map(|d| d.0))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn library_usage(&self, tenant: TenantId) -> StoreResult<LibraryUsage> {
        let mut connection = self.pool.acquire().await?;
        usage_of(&mut connection, tenant).await
    }

    async fn get_document(&self, tenant: TenantId, id: DocumentId) -> StoreResult<Option<DocumentRecord>> {
        let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 AND id = $2");
        rows::one(
            sqlx::query_as::<_, DocumentRow>(AssertSqlSafe(sql))
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn get_documents(&self, tenant: TenantId, ids: &[DocumentId]) -> StoreResult<Vec<DocumentRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE tenant_id = $1 AND id IN ({})",
            placeholders(2, ids.len())
        );
        let mut query = sqlx::query_as::<_, DocumentRow>(AssertSqlSafe(sql)).bind(tenant.0);
        for id in ids {
            query = query.bind(id.0);
        }
        rows::all(query.fetch_all(&self.pool).await?)
    }

    async fn delete_document(&self, tenant: TenantId, id: DocumentId) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        // The passages first, one statement, so the FTS index follows them.
        sqlx::query("DELETE FROM passages WHERE tenant_id = $1 AND document_id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM documents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted > 0)
    }

    async fn claim_document(&self, lease_s: u32) -> StoreResult<Option<Claim>> {
        let now = Utc::now();
        let until = now + Duration::seconds(i64::from(lease_s));
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "UPDATE documents SET status = 'extracting', lease_until = $1, updated_at = $2, attempts = attempts + 1 \
             WHERE id = (SELECT id FROM documents WHERE status = 'pending' OR (status = 'extracting' AND lease_until < $2) \
             ORDER BY created_at LIMIT 1) RETURNING tenant_id, id, attempts",
        )
        .bind(until)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(match row {
            Some(row) => Some(Claim {
                tenant: TenantId(row.try_get("tenant_id")?),
                id: DocumentId(row.try_get("id")?),
                attempt: row.try_get::<i64, _>("attempts")?.max(0) as u32,
            }),
            None => None,
        })
    }

    async fn document_content(&self, tenant: TenantId, id: DocumentId) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar::<_, Option<Vec<u8>>>("SELECT content FROM documents WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .flatten())
    }

    async fn extraction_progress(&self, claim: &Claim, progress: f64, lease_s: u32) -> StoreResult<bool> {
        let now = Utc::now();
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(
            "UPDATE documents SET progress = $1, lease_until = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND id = $5 AND status = 'extracting' AND attempts = $6",
        )
        .bind(progress.clamp(0.0, 1.0))
        .bind(now + Duration::seconds(i64::from(lease_s)))
        .bind(now)
        .bind(claim.tenant.0)
        .bind(claim.id.0)
        .bind(i64::from(claim.attempt))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(updated > 0)
    }

    async fn finish_document(&self, claim: &Claim, extracted: &Extracted) -> StoreResult<bool> {
        let (tenant, id) = (claim.tenant, claim.id);
        // The passages go in in batches of their own transactions, so that a
        // large document never holds SQLite's write lock (and the panels'
        // event writer) for long; a document is searched only once `ready`,
        // and what an earlier, interrupted attempt left is cleared first.
        let mut tx = self.write_tx().await?;
        let owned = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM documents WHERE tenant_id = $1 AND id = $2 AND status = 'extracting' AND attempts = $3",
        )
        .bind(tenant.0)
        .bind(id.0)
        .bind(i64::from(claim.attempt))
        .fetch_one(&mut *tx)
        .await?;
        if owned == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM passages WHERE tenant_id = $1 AND document_id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        for batch in extracted.passages.chunks(1000) {
            let mut tx = self.write_tx().await?;
            insert_passages(&mut tx, tenant, id, batch).await?;
            tx.commit().await?;
        }
        let mut tx = self.write_tx().await?;
        let updated = sqlx::query(
            "UPDATE documents SET status = 'ready', progress = 1, error = NULL, pages = $1, passages = $2, chars = $3, \
             content = NULL, lease_until = NULL, updated_at = $4 \
             WHERE tenant_id = $5 AND id = $6 AND status = 'extracting' AND attempts = $7",
        )
        .bind(extracted.pages.map(i64::from))
        .bind(extracted.passages.len() as i64)
        .bind(extracted.chars as i64)
        .bind(Utc::now())
        .bind(tenant.0)
        .bind(id.0)
        .bind(i64::from(claim.attempt))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            // Deleted or claimed anew meanwhile: what this attempt wrote goes.
            sqlx::query(
                "DELETE FROM passages WHERE tenant_id = $1 AND document_id = $2 \
                 AND NOT EXISTS (SELECT 1 FROM documents WHERE id = $2 AND status = 'ready')",
            )
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(updated > 0)
    }

    async fn fail_document(
        &self,
        tenant: TenantId,
        id: DocumentId,
        claim: Option<u32>,
        error: &str,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE documents SET status = 'failed', error = $1, content = NULL, lease_until = NULL, updated_at = $2 \
             WHERE tenant_id = $3 AND id = $4 AND status IN ('pending', 'extracting') AND ($5 IS NULL OR attempts = $5)",
        )
        .bind(error)
        .bind(Utc::now())
        .bind(tenant.0)
        .bind(id.0)
        .bind(claim.map(i64::from))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM passages WHERE tenant_id = $1 AND document_id = $2 AND EXISTS (SELECT 1 FROM documents WHERE id = $2 AND status = 'failed')")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn passages(
        &self,
        tenant: TenantId,
        id: DocumentId,
        after: u32,
        limit: u32,
    ) -> StoreResult<Vec<PassageRecord>> {
        let sql = format!(
            "SELECT {PASSAGE_COLUMNS} FROM passages p WHERE p.tenant_id = $1 AND p.document_id = $2 AND p.n > $3 {READY} ORDER BY p.n LIMIT $4"
        );
        Ok(sqlx::query_as::<_, PassageRow>(AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(id.0)
            .bind(i64::from(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(PassageRecord::from)
            .collect())
    }

    async fn passage(&self, tenant: TenantId, id: DocumentId, n: u32) -> StoreResult<Option<PassageRecord>> {
        let sql = format!(
            "SELECT {PASSAGE_COLUMNS} FROM passages p WHERE p.tenant_id = $1 AND p.document_id = $2 AND p.n = $3 {READY}"
        );
        Ok(sqlx::query_as::<_, PassageRow>(AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(id.0)
            .bind(i64::from(n))
            .fetch_optional(&self.pool)
            .await?
            .map(PassageRecord::from))
    }

    async fn search_passages(&self, tenant: TenantId, query: &PassageQuery) -> StoreResult<Vec<PassageHit>> {
        if query.terms.is_empty() || query.documents.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        // The index itself is scoped to the tenant (and the documents), so
        // it drives the query: matches are ranked, cut to the limit, then joined.
        let mut scope = format!("tenant : t{}", tenant.0.simple());
        if let Some(documents) = &query.documents {
            let docs: Vec<String> = documents.iter().map(|d| format!("d{}", d.0.simple())).collect();
            scope.push_str(&format!(" AND doc : ({})", docs.join(" OR ")));
        }
        let matched = format!("{scope} AND {{text heading}} : ({})", fts5_query(&query.terms));
        // bm25() is lower for better matches; the text counts more than the heading.
        let sql = format!(
            "SELECT {PASSAGE_COLUMNS}, d.title, -f.score AS score \
             FROM (SELECT rowid, bm25(passages_fts, 1.0, 0.5, 0.0, 0.0) AS score FROM passages_fts \
                   WHERE passages_fts MATCH $1 ORDER BY score LIMIT $3 * 4 + 20) f \
             JOIN passages p ON p.id = f.rowid JOIN documents d ON d.id = p.document_id \
             WHERE p.tenant_id = $2 AND d.tenant_id = $2 AND d.status = 'ready' ORDER BY f.score LIMIT $3"
        );
        let hits = sqlx::query_as::<_, HitRow>(AssertSqlSafe(sql))
            .bind(matched)
            .bind(tenant.0)
            .bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(hits.into_iter().map(PassageHit::from).collect())
    }
}

/// Writes passages, a hundred rows a statement.
async fn insert_passages(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    tenant: TenantId,
    id: DocumentId,
    passages: &[NewPassage],
) -> StoreResult<()> {
    for batch in passages.chunks(100) {
        let rows: Vec<String> = (0..batch.len())
            .map(|i| {
                let b = 3 + i * 6;
                format!("($1, $2, ${}, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4, b + 5)
            })
            .collect();
        let sql = format!(
            "INSERT INTO passages (tenant_id, document_id, n, page, heading, start_char, end_char, text) VALUES {}",
            rows.join(", ")
        );
        let mut insert = sqlx::query(AssertSqlSafe(sql)).bind(tenant.0).bind(id.0);
        for passage in batch {
            insert = insert
                .bind(i64::from(passage.n))
                .bind(passage.page.map(i64::from))
                .bind(passage.heading.as_deref())
                .bind(passage.start as i64)
                .bind(passage.end as i64)
                .bind(passage.text.as_str());
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn usage_of(connection: &mut sqlx::SqliteConnection, tenant: TenantId) -> StoreResult<LibraryUsage> {
    let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM documents WHERE tenant_id = $1 AND status <> 'failed'")
        .bind(tenant.0)
        .fetch_one(&mut *connection)
        .await?;
    Ok(LibraryUsage {
        documents: row.try_get::<i64, _>("n")?.max(0) as u64,
        bytes: row.try_get::<i64, _>("bytes")?.max(0) as u64,
    })
}
