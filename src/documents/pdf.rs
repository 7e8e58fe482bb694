//! PDF text, read in a child process: a hostile PDF (a zip bomb in a
//! stream, objects nested a million deep, a parser panic) can exhaust memory
//! or the stack, and neither can be caught in-process. The child
//! (`askpanel extract-pdf`) caps its own address space and CPU time, reads
//! the PDF on stdin and writes `{"pages": [...]}` or `{"error": "..."}` to a
//! file; the parent kills it past a deadline, and a child that dies of a
//! limit or a signal fails only its document, with a reason.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::extract::ExtractError;

/// What the child writes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildAnswer {
    Pages(Vec<String>),
    Error(String),
}

/// The bounds of one extraction.
#[derive(Clone, Debug)]
pub struct PdfLimits {
    /// The child's address space, in bytes.
    pub memory_bytes: u64,
    /// The child's CPU time, in seconds.
    pub cpu_s: u64,
    /// Wall-clock time before the child is killed.
    pub timeout: Duration,
    /// The most pages read.
    pub max_pages: u32,
}

/// The child's side: `askpanel extract-pdf --out FILE --max-pages N
/// --memory-mb M --cpu-s S`, the PDF on stdin. Exits 0 once it has written
/// an answer (a PDF that cannot be read is an answer too).
pub fn child_main(out: &Path, max_pages: u32, memory_mb: u64, cpu_s: u64) -> anyhow::Result<()> {
    let bytes = memory_mb.saturating_mul(1024 * 1024);
    rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes)?;
    rlimit::setrlimit(rlimit::Resource::CPU, cpu_s, cpu_s)?;
    let mut pdf = Vec::new();
    std::io::stdin().read_to_end(&mut pdf)?;
    let answer = match read_pages(&pdf, max_pages) {
        Ok(pages) => ChildAnswer::Pages(pages),
        Err(why) => ChildAnswer::Error(why),
    };
    std::fs::write(out, serde_json::to_vec(&answer)?)?;
    Ok(())
}

fn read_pages(pdf: &[u8], max_pages: u32) -> Result<Vec<String>, String> {
    if !pdf.starts_with(b"%PDF-") && !pdf[..pdf.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
        return Err("the file is not a PDF (no %PDF- header)".into());
    }
    let document = lopdf::Document::load_mem(pdf).map_err(|e| format!("the PDF could not be parsed: {e}"))?;
    if document.is_encrypted() {
        return Err("the PDF is encrypted; upload a copy without a password".into());
    }
    let pages = document.get_pages().len();
    if pages > max_pages as usize {
        return Err(format!("the PDF has {pages} pages; the limit is {max_pages}"));
    }
    drop(document);
    // pdf-extract panics on some malformed files: a panic is an answer too.
    match std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(pdf)) {
        Ok(Ok(pages)) => Ok(pages),
        Ok(Err(e)) => Err(format!("the PDF's text could not be read: {e}")),
        Err(_) => Err("the PDF's text could not be read (the reader gave up on a malformed object)".into()),
    }
}

/// The parent's side: runs `program extract-pdf` on the PDF within the limits.
pub async fn extract_pages(program: &Path, pdf: &[u8], limits: &PdfLimits) -> Result<Vec<String>, ExtractError> {
    let out = tempfile::Builder::new()
        .prefix("askpanel-pdf-")
        .tempfile()
        .map_err(|e| ExtractError::Pdf(format!("no temporary file for the extractor: {e}")))?;
    let out_path: PathBuf = out.path().to_path_buf();
    let mut child = tokio::process::Command::new(program)
        .arg("extract-pdf")
        .arg("--out")
        .arg(&out_path)
        .arg("--max-pages")
        .arg(limits.max_pages.to_string())
        .arg("--memory-mb")
        .arg((limits.memory_bytes / (1024 * 1024)).max(64).to_string())
        .arg("--cpu-s")
        .arg(limits.cpu_s.max(1).to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ExtractError::Pdf(format!("the PDF extractor could not start: {e}")))?;
    let mut stdin = child.stdin.take().ok_or_else(|| ExtractError::Pdf("the extractor has no stdin".into()))?;
    let status = tokio::time::timeout(limits.timeout, async {
        // A child that dies early closes its stdin: the write fails, the wait tells why.
        let _ = stdin.write_all(pdf).await;
        drop(stdin);
        child.wait().await
    })
    .await;
    let status = match status {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(ExtractError::Pdf(format!("the PDF extractor failed: {e}"))),
        Err(_) => {
            return Err(ExtractError::Pdf(format!(
                "reading the PDF took longer than {} s; it may be malformed or far too complex",
                limits.timeout.as_secs()
            )));
        }
    };
    if !status.success() {
        return Err(ExtractError::Pdf(died(status)));
    }
    // The answer is bounded like the text it holds (JSON escapes at most double it).
    let size = tokio::fs::metadata(&out_path).await.map(|m| m.len()).unwrap_or(0);
    if size > (super::extract::MAX_TEXT_CHARS as u64) * 8 {
        return Err(ExtractError::TooMuchText);
    }
    let answer = tokio::fs::read(&out_path)
        .await
        .map_err(|e| ExtractError::Pdf(format!("no answer from the extractor: {e}")))?;
    match serde_json::from_slice::<ChildAnswer>(&answer) {
        Ok(ChildAnswer::Pages(pages)) => Ok(pages),
        Ok(ChildAnswer::Error(why)) => Err(ExtractError::Pdf(why)),
        Err(e) => Err(ExtractError::Pdf(format!("the extractor's answer could not be read: {e}"))),
    }
}

/// Why the child died, for a person.
fn died(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        // SIGXCPU, SIGKILL: out of CPU time (or killed).
        Some(24) | Some(9) => "reading the PDF used more CPU time than allowed; it may be malformed".into(),
        // SIGSEGV (stack overflow), SIGABRT (allocation failure, abort).
        Some(11) | Some(6) => {
            "reading the PDF exhausted the extractor's memory or stack (a compressed stream too large, or objects nested too deep)".into()
        }
        Some(signal) => format!("the PDF extractor was stopped by signal {signal}"),
        None => "the PDF extractor failed (it may have run out of memory)".into(),
    }
}
