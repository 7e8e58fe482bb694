//! Tracing: pretty or JSON lines, filtered by `log.level` or `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls do nothing (tests call it per app).
pub fn init(format: &str, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},sqlx=warn,actix_server=warn,actix_web=warn")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if format == "json" { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}
