//! Bodies of the tenant's experts (`routes/experts.rs`, `docs/experts.md`)
//! and documents (`routes/documents.rs`, `docs/documents.md`).

// Schema types: described, never built.
#![allow(dead_code)]

use utoipa::ToSchema;

/// `POST /v1/experts` (admin): an expert of the tenant's own. Text is
/// stored trimmed; `domain` lower-cased with spaces as `_`, `tags`
/// lower-cased.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Dr. Amara Nwosu",
    "title": "Director of Nursing Quality",
    "domain": "nursing",
    "persona": "You have run nursing quality programmes in three hospital trusts and judge proposals by what they ask of the night shift.",
    "background": "Twenty years on wards, ten leading patient-safety audits.",
    "weighs": ["patient safety incidents", "staff workload"],
    "sceptical_of": ["changes without a pilot"],
    "tags": ["nursing", "handover", "patient safety"],
    "concerns": ["handover time at shift change"]
}))]
pub struct CreateExpertBody {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    #[schema(min_length = 1, max_length = 60, pattern = r"\S")]
    domain: String,
    /// The text the model speaks from.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    persona: String,
    /// May be empty.
    #[schema(max_length = 200)]
    title: Option<String>,
    /// Where the expert's judgement comes from; may be empty.
    #[schema(max_length = 2000)]
    background: Option<String>,
    /// What the expert weighs most.
    #[schema(max_items = 10, min_length = 1, max_length = 200, pattern = r"\S")]
    weighs: Option<Vec<String>>,
    #[schema(max_items = 10, min_length = 1, max_length = 200, pattern = r"\S")]
    sceptical_of: Option<Vec<String>>,
    /// Search tags (selection counts them three times).
    #[schema(max_items = 30, min_length = 1, max_length = 60, pattern = r"\S")]
    tags: Option<Vec<String>>,
    /// What the simulated model has the expert raise.
    #[schema(max_items = 30, min_length = 1, max_length = 200, pattern = r"\S")]
    concerns: Option<Vec<String>>,
    /// The model behind the expert (default the server's).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    model: Option<String>,
}

/// `PATCH /v1/experts/{id}` (admin): the tenant's own experts take any
/// content field; any expert (platform or own) takes `hidden` and
/// `preferred`. A content field on a platform or archived expert is a 422.
/// What is absent (or `null`) is kept; a list given replaces the list.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Chief Nursing Officer",
    "tags": ["nursing", "handover", "staffing"],
    "preferred": true
}))]
pub struct UpdateExpertBody {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: Option<String>,
    #[schema(min_length = 1, max_length = 60, pattern = r"\S")]
    domain: Option<String>,
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    persona: Option<String>,
    /// `""` clears it.
    #[schema(max_length = 200)]
    title: Option<String>,
    /// `""` clears it.
    #[schema(max_length = 2000)]
    background: Option<String>,
    #[schema(max_items = 10, min_length = 1, max_length = 200, pattern = r"\S")]
    weighs: Option<Vec<String>>,
    #[schema(max_items = 10, min_length = 1, max_length = 200, pattern = r"\S")]
    sceptical_of: Option<Vec<String>>,
    #[schema(max_items = 30, min_length = 1, max_length = 60, pattern = r"\S")]
    tags: Option<Vec<String>>,
    #[schema(max_items = 30, min_length = 1, max_length = 200, pattern = r"\S")]
    concerns: Option<Vec<String>>,
    /// Cannot be cleared (`null` keeps it).
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    model: Option<String>,
    /// Left out of the tenant's panels and listings; hiding drops a preference.
    hidden: Option<bool>,
    /// Counted 1.5 times as relevant in selection; a hidden expert cannot
    /// be preferred (422 until it is unhidden).
    preferred: Option<bool>,
}

/// The format of a document sent as JSON text.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    Text,
    Markdown,
    Html,
}

/// `POST /v1/documents` (member), JSON form (`Content-Type:
/// application/json`): a document given as text, then extracted in the
/// background (202, `status: "pending"`). The other form is
/// `multipart/form-data` with a `file` part (PDF, Markdown, plain text or
/// HTML) and an optional `title` part. The text is at most the tenant's
/// `max_document_mb` (413 beyond); the tenant's storage and document
/// quotas apply.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Night-shift handover policy 2025",
    "text": "# Handover policy\n\nEvery patient is handed over at the bedside, using the SBAR checklist.\n",
    "format": "markdown"
}))]
pub struct UploadDocumentBody {
    /// Stored trimmed, control characters removed; default "Untitled document".
    #[schema(max_length = 300)]
    title: Option<String>,
    /// The document's content (not empty; `null` is refused).
    #[schema(min_length = 1)]
    text: String,
    /// Default `text`.
    format: Option<DocumentFormat>,
}
