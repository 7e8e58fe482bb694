//! The document library: uploads checked and recorded ([`Library::upload`]),
//! read into passages off the request path by extractor tasks that claim
//! waiting documents from the database (so a restart, or another node,
//! picks up what was left), and searched for panels through the engine's
//! evidence port ([`StoreEvidence`]).
//!
//! [`extract`] holds the pure rules (formats, paragraphs, passages);
//! [`pdf`] reads PDFs in a child process with hard limits.

pub mod choice;
pub mod extract;
pub mod pdf;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use askpanel_actors::domain::TenantId;
use askpanel_actors::evidence::{self, DocumentId, Evidence, EvidenceQuery, Passage};
use chrono::Utc;
use futures::future::BoxFuture;
use tokio::sync::Notify;

use self::extract::{ExtractError, Format};
use crate::configuration::{DocumentSettings, Limits};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::documents::{Claim, DocumentRecord, DocumentStatus, Extracted, LibraryQuota, PassageQuery};
use crate::store::{Store, StoreError};

/// The longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 300;
/// The longest file name kept, in characters.
const FILENAME_MAX_CHARS: usize = 255;
/// Claims a document gets before it is failed for good.
const MAX_ATTEMPTS: u32 = 3;
/// Uploads from this size on record their progress as they are read.
const PROGRESS_FROM_BYTES: usize = 1024 * 1024;
/// The most words of a search.
pub const MAX_SEARCH_TERMS: usize = 40;

/// An upload as received.
pub struct Upload {
    pub title: Option<String>,
    pub filename: Option<String>,
    pub format: Format,
    pub bytes: Vec<u8>,
}

/// Uploads, extraction and search.
#[derive(Clone)]
pub struct Library {
    store: Arc<dyn Store>,
    settings: DocumentSettings,
    program: PathBuf,
    metrics: Arc<Metrics>,
    wake: Arc<Notify>,
    uploads: Arc<tokio::sync::Semaphore>,
}

impl Library {
    /// `program` runs `extract-pdf` (normally this binary).
    pub fn new(store: Arc<dyn Store>, settings: DocumentSettings, program: PathBuf, metrics: Arc<Metrics>) -> Self {
        let uploads = Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent_uploads.max(1)));
        Self { store, settings, program, metrics, wake: Arc::new(Notify::new()), uploads }
    }

    pub fn settings(&self) -> &DocumentSettings {
        &self.settings
    }

    /// A place among the uploads read at once on this node, or 429.
    pub fn upload_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.uploads.clone().try_acquire_owned().map_err(|_| ApiError::RateLimited { retry_after: 5 })
    }

    /// The largest upload a tenant with these limits may send, in bytes.
    pub fn max_upload_bytes(&self, limits: &Limits) -> usize {
        let mb = u64::from(limits.max_document_mb).min(self.settings.max_upload_mb);
        (mb * 1024 * 1024) as usize
    }

    /// Records an upload as `pending` (within the tenant's quota) and wakes an extractor.
    pub async fn upload(
        &self,
        tenant: TenantId,
        created_by: &str,
        limits: &Limits,
        upload: Upload,
    ) -> Result<DocumentRecord, ApiError> {
        if upload.bytes.is_empty() {
            return Err(ApiError::field("file", "is empty"));
        }
        let max = self.max_upload_bytes(limits);
        if upload.bytes.len() > max {
            return Err(ApiError::PayloadTooLarge(max));
        }
        let filename = upload.filename.map(|f| clean_line(&f, FILENAME_MAX_CHARS)).filter(|f| !f.is_empty());
        let title = match upload.title.as_deref().map(str::trim) {
            Some(t) if t.chars().count() > TITLE_MAX_CHARS => {
                return Err(ApiError::field("title", format!("at most {TITLE_MAX_CHARS} characters")));
            }
            Some(t) if !t.is_empty() => clean_line(t, TITLE_MAX_CHARS),
            _ => filename.clone().unwrap_or_else(|| "Untitled document".into()),
        };
        let now = Utc::now();
        let document = DocumentRecord {
            id: DocumentId::new(),
            tenant_id: tenant,
            title,
            filename,
            media_type: upload.format.media_type().into(),
            bytes: upload.bytes.len() as u64,
            status: DocumentStatus::Pending,
            progress: 0.0,
            error: None,
            pages: None,
            passages: 0,
            chars: 0,
            created_by: created_by.into(),
            created_at: now,
            updated_at: now,
        };
        let quota = LibraryQuota {
            max_bytes: u64::from(limits.max_storage_mb) * 1024 * 1024,
            max_documents: u64::from(limits.max_documents),
        };
        self.store.create_document(&document, &upload.bytes, &quota).await?;
        self.metrics.documents.with_label_values(&["uploaded"]).inc();
        self.wake.notify_one();
        Ok(document)
    }

    /// Runs `settings.extractors` extractor tasks until the process ends.
    /// `max_pages` gives a tenant's page limit (`None`: not known now; the
    /// document is left to its lease and taken up again later).
    pub fn start(&self, max_pages: impl Fn(TenantId) -> BoxFuture<'static, Option<u32>> + Send + Sync + 'static) {
        let max_pages = Arc::new(max_pages);
        for _ in 0..self.settings.extractors.max(1) {
            let library = self.clone();
            let max_pages = max_pages.clone();
            tokio::spawn(async move {
                loop {
                    match library.store.claim_document(library.settings.lease_s).await {
                        Ok(Some(claim)) if claim.attempt > MAX_ATTEMPTS => {
                            let why = format!(
                                "reading the document was tried {MAX_ATTEMPTS} times and never finished (the reader crashed or stalled on it)"
                            );
                            library.fail(&claim, &why).await;
                        }
                        Ok(Some(claim)) => match max_pages(claim.tenant).await {
                            Some(pages) => library.extract_one(claim, pages).await,
                            None => tokio::time::sleep(Duration::from_secs(2)).await,
                        },
                        Ok(None) => {
                            // Woken by an upload on this node, or polling for other nodes' uploads.
                            let _ = tokio::time::timeout(Duration::from_secs(2), library.wake.notified()).await;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "could not claim a document to extract");
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        }
                    }
                }
            });
        }
    }

    async fn fail(&self, claim: &Claim, why: &str) {
        tracing::info!(tenant_id = %claim.tenant, document_id = %claim.id, %why, "document could not be read");
        match self.store.fail_document(claim.tenant, claim.id, Some(claim.attempt), why).await {
            Ok(()) => self.metrics.documents.with_label_values(&["failed"]).inc(),
            Err(error) => tracing::warn!(%error, "a failed document could not be recorded"),
        }
    }

    /// Reads one claimed document into passages, or fails it with a reason.
    /// The claim is renewed while it reads; if it is lost (another extractor
    /// took over after a stall), this attempt stops and writes nothing.
    #[tracing::instrument(skip(self), fields(tenant_id = %claim.tenant, document_id = %claim.id, attempt = claim.attempt))]
    pub async fn extract_one(&self, claim: Claim, max_pages: u32) {
        let started = std::time::Instant::now();
        let progress = Arc::new(std::sync::atomic::AtomicU64::new(0.0f64.to_bits()));
        let lease = self.settings.lease_s;
        let renew = async {
            loop {
                tokio::time::sleep(Duration::from_secs(u64::from(lease / 3).max(1))).await;
                let now = f64::from_bits(progress.load(std::sync::atomic::Ordering::Relaxed));
                if let Ok(false) = self.store.extraction_progress(&claim, now, lease).await {
                    return;
                }
            }
        };
        let outcome = tokio::select! {
            outcome = self.read(&claim, max_pages, &progress) => outcome,
            () = renew => {
                tracing::warn!("the claim on the document was lost; another extractor has it");
                return;
            }
        };
        let result = match outcome {
            Ok(Some(extracted)) => self
                .store
                .finish_document(&claim, &extracted)
                .await
                .map(|finished| if finished { "ready" } else { "gone" }),
            Ok(None) => Ok("gone"),
            Err(Failure::Unreadable(why)) => {
                tracing::info!(%why, "document could not be read");
                self.store.fail_document(claim.tenant, claim.id, Some(claim.attempt), &why).await.map(|_| "failed")
            }
            Err(Failure::Store(error)) => Err(error),
        };
        match result {
            Ok(outcome) => {
                self.metrics.documents.with_label_values(&[outcome]).inc();
                tracing::info!(outcome, elapsed_ms = started.elapsed().as_millis() as u64, "document extracted");
            }
            // The claim runs out and the document is taken up again.
            Err(error) => tracing::warn!(%error, "document extraction could not be recorded"),
        }
    }

    async fn read(
        &self,
        claim: &Claim,
        max_pages: u32,
        progress: &std::sync::atomic::AtomicU64,
    ) -> Result<Option<Extracted>, Failure> {
        let (tenant, id) = (claim.tenant, claim.id);
        let Some(document) = self.store.get_document(tenant, id).await? else { return Ok(None) };
        let Some(bytes) = self.store.document_content(tenant, id).await? else {
            return Err(Failure::Unreadable("the upload is missing".into()));
        };
        let format = Format::from_media_type(&document.media_type)
            .ok_or_else(|| Failure::Unreadable(format!("unsupported type {}", document.media_type)))?;
        let lease = self.settings.lease_s;
        let _work = crate::memory::work();
        // Progress is worth a write only where reading takes a while.
        let report = bytes.len() >= PROGRESS_FROM_BYTES || format == Format::Pdf;
        let step = |value: f64| {
            progress.store(value.to_bits(), std::sync::atomic::Ordering::Relaxed);
            async move {
                if report {
                    self.store.extraction_progress(claim, value, lease).await?;
                }
                Ok::<_, Failure>(())
            }
        };
        step(0.1).await?;
        let (blocks, pages) = match format {
            Format::Pdf => {
                let limits = pdf::PdfLimits {
                    memory_bytes: self.settings.pdf_memory_mb * 1024 * 1024,
                    cpu_s: self.settings.pdf_cpu_s,
                    timeout: Duration::from_secs(self.settings.pdf_timeout_s),
                    max_pages,
                };
                let pages = pdf::extract_pages(&self.program, &bytes, &limits).await.map_err(unreadable)?;
                step(0.6).await?;
                let count = pages.len() as u32;
                (tokio::task::spawn_blocking(move || extract::page_blocks(&pages)).await.map_err(join)?, Some(count))
            }
            _ => {
                let blocks = tokio::task::spawn_blocking(move || {
                    let text = extract::utf8_text(&bytes, format.media_type())?;
                    Ok::<_, ExtractError>(match format {
                        Format::Markdown => extract::markdown_blocks(text),
                        Format::Html => extract::html_blocks(text),
                        _ => extract::text_blocks(text, None, None),
                    })
                })
                .await
                .map_err(join)?
                .map_err(unreadable)?;
                step(0.6).await?;
                (blocks, None)
            }
        };
        let extracted = tokio::task::spawn_blocking(move || extract::passages(&blocks, pages))
            .await
            .map_err(join)?
            .map_err(unreadable)?;
        step(0.9).await?;
        Ok(Some(extracted))
    }

    /// Passages of the tenant ranked for a free-text query.
    pub async fn search(
        &self,
        tenant: TenantId,
        text: &str,
        documents: Option<Vec<DocumentId>>,
        limit: u32,
    ) -> Result<Vec<crate::store::documents::PassageHit>, StoreError> {
        let query = PassageQuery { terms: search_terms(text), documents, limit };
        self.store.search_passages(tenant, &query).await
    }
}

/// The words of a search: distinct, no stop words, at most [`MAX_SEARCH_TERMS`].
pub fn search_terms(text: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in evidence::words(text) {
        if terms.len() == MAX_SEARCH_TERMS {
            break;
        }
        if !evidence::is_stop_word(&word) && !terms.contains(&word) && word.chars().count() <= 64 {
            terms.push(word);
        }
    }
    terms
}

/// One line of text for a title or file name: control characters dropped, clipped.
fn clean_line(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect::<String>().trim().to_string()
}

enum Failure {
    Unreadable(String),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

fn unreadable(e: ExtractError) -> Failure {
    Failure::Unreadable(e.to_string())
}

fn join(e: tokio::task::JoinError) -> Failure {
    // A panic in the pure rules is a bug; the document fails with a plain reason.
    tracing::error!(error = %e, "document extraction panicked");
    Failure::Unreadable("the document could not be read (an internal error; it was logged)".into())
}

/// The engine's evidence port over the store: the tenant's ready passages
/// of the panel's documents, ranked for the turn's query.
pub struct StoreEvidence {
    store: Arc<dyn Store>,
}

impl StoreEvidence {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

impl Evidence for StoreEvidence {
    fn retrieve(&self, tenant: TenantId, query: EvidenceQuery) -> BoxFuture<'static, Result<Vec<Passage>, String>> {
        let store = self.store.clone();
        Box::pin(async move {
            let query = PassageQuery {
                terms: search_terms(&query.text),
                documents: Some(query.documents),
                limit: query.limit.min(100) as u32,
            };
            let hits = store.search_passages(tenant, &query).await.map_err(|e| e.to_string())?;
            Ok(hits.into_iter().map(|hit| Passage::from(hit.passage)).collect())
        })
    }
}
