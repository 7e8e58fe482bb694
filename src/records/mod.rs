//! The decision record around a panel (`docs/records.md`): its report in
//! four formats, share links, the search index, follow-ups and re-runs.
//! The rules (report building, redaction, index batches, a follow-up's
//! request) are pure functions here and in `crate::report`; the HTTP edge
//! is `routes::records`.

pub mod index;
pub mod lineage;
pub mod shares;

use actix_web::HttpResponse;
use actix_web::http::header;
use askpanel_actors::domain::{PanelId, TenantId};
use chrono::Utc;

use crate::error::ApiError;
use crate::panels::{self, Read};
use crate::report::{self, Report};
use crate::state::AppState;

/// The report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    Html,
    Pdf,
}

impl Format {
    /// `json`, `md` (or `markdown`), `html`, `pdf`; absent means JSON.
    pub fn parse(raw: Option<&str>) -> Result<Format, ApiError> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("json") => Ok(Format::Json),
            Some("md" | "markdown") => Ok(Format::Markdown),
            Some("html") => Ok(Format::Html),
            Some("pdf") => Ok(Format::Pdf),
            Some(_) => Err(ApiError::field("format", "must be json, md, html or pdf")),
        }
    }
}

/// The report of a panel as it stands (committed events only).
pub async fn report(state: &AppState, tenant: TenantId, panel: PanelId) -> Result<Report, ApiError> {
    let view = panels::get(state, tenant, panel, Read::Committed).await?;
    let events = state.store.load_events(tenant, panel).await?;
    let branding = branding(state, tenant).await?;
    // Building and rendering are CPU work on a long panel: off the async workers.
    let mut report = blocking(move || Ok(report::build(&view, &events, Utc::now()))).await?;
    report.branding = branding;
    Ok(report)
}

/// The tenant's branding for its reports, the logo inline when the server holds it.
async fn branding(state: &AppState, tenant: TenantId) -> Result<Option<report::ReportBranding>, ApiError> {
    let Some(record) = state.auth.tenant(state.store.as_ref(), tenant).await? else { return Ok(None) };
    let b = record.branding;
    let logo_data_uri = match b.logo_url.as_deref().and_then(|u| u.strip_prefix("/v1/logos/")) {
        // A logo that cannot be read leaves the report without it, not unmade.
        Some(hash) => match state.store.logo_by_hash(hash).await {
            Ok(logo) => logo.map(|logo| {
                use base64::Engine as _;
                let data = base64::engine::general_purpose::STANDARD.encode(&logo.bytes);
                format!("data:{};base64,{data}", logo.content_type)
            }),
            Err(e) => {
                tracing::warn!(tenant_id = %tenant, error = %e, "the logo could not be read for a report");
                None
            }
        },
        None => None,
    };
    Ok(Some(report::ReportBranding {
        display_name: b.display_name,
        primary_color: b.primary_color,
        secondary_color: b.secondary_color,
        logo_url: b.logo_url,
        logo_data_uri,
    }))
}

/// Runs CPU work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    actix_web::rt::task::spawn_blocking(move || {
        let _work = crate::memory::work();
        work()
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the report could not be made: {e}")))?
}

/// The report in a format, as a response: Markdown and PDF as attachments,
/// JSON and HTML inline unless `download`.
pub async fn respond(report: Report, format: Format, download: bool) -> Result<HttpResponse, ApiError> {
    let (content_type, ext, attach) = match format {
        Format::Json => ("application/json", "json", download),
        Format::Markdown => ("text/markdown; charset=utf-8", "md", true),
        Format::Html => ("text/html; charset=utf-8", "html", download),
        Format::Pdf => ("application/pdf", "pdf", true),
    };
    let file_name = report::file_name(&report, ext);
    let body = blocking(move || match format {
        Format::Json => serde_json::to_vec(&report).map_err(|e| ApiError::Internal(e.into())),
        Format::Markdown => Ok(report::markdown::render(&report).into_bytes()),
        Format::Html => Ok(report::html::render(&report).into_bytes()),
        Format::Pdf => report::pdf::render(&report)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("the PDF could not be made: {e}"))),
    })
    .await?;
    let mut response = HttpResponse::Ok();
    response.content_type(content_type).insert_header((header::CACHE_CONTROL, "no-store"));
    if format == Format::Html {
        // The page is self-contained: nothing may load or run in it.
        response.insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
        ));
    }
    if attach {
        response.insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")));
    }
    Ok(response.body(body))
}
