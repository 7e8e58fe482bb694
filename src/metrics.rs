//! Prometheus metrics: a registry of this application's (no global
//! registry), rendered at `/metrics` with the process's RSS and CPU time.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub panels: IntGaugeVec,
    pub ws_sessions: IntGauge,
    /// Keys held in this node's key cache.
    pub auth_cache_keys: IntGauge,
    pub events_published: IntCounter,
    pub tokens_published: IntCounter,
    pub frames_sent: IntCounter,
    pub fanout_latency: Histogram,
    pub lagged: IntCounter,
    pub llm_duration: HistogramVec,
    pub llm_tokens: IntCounterVec,
    pub errors: IntCounterVec,
    /// Documents by what became of them (`uploaded`, `ready`, `failed`, `gone`).
    pub documents: IntCounterVec,
    /// Citations in AI turns, `valid` or not (`true`/`false`).
    pub citations: IntCounterVec,
    /// Notifications sent, by channel (`in_app`, `email`).
    pub notifications: IntCounterVec,
    /// Webhook attempts, by outcome (`delivered`, `retry`, `failed`).
    pub webhook_attempts: IntCounterVec,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    // Names are static and unique below, so registration cannot clash.
    registry.register(Box::new(metric.clone())).expect("metric registers once");
    metric
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let latency_buckets = vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
        Self {
            http_requests: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("askpanel_http_requests_total", "HTTP requests by route and status"),
                    &["method", "route", "status"],
                )
                .unwrap(),
            ),
            http_duration: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("askpanel_http_request_duration_seconds", "HTTP request duration")
                        .buckets(latency_buckets.clone()),
                    &["method", "route"],
                )
                .unwrap(),
            ),
            panels: register(
                &registry,
                IntGaugeVec::new(Opts::new("askpanel_panels", "Panels by status"), &["status"]).unwrap(),
            ),
            ws_sessions: register(&registry, IntGauge::new("askpanel_ws_sessions", "Open WebSocket sessions").unwrap()),
            auth_cache_keys: register(
                &registry,
                IntGauge::new("askpanel_auth_cache_keys", "Keys in the key cache").unwrap(),
            ),
            events_published: register(
                &registry,
                IntCounter::new("askpanel_events_published_total", "Durable events published").unwrap(),
            ),
            tokens_published: register(
                &registry,
                IntCounter::new("askpanel_tokens_published_total", "Token deltas published").unwrap(),
            ),
            frames_sent: register(
                &registry,
                IntCounter::new("askpanel_ws_frames_sent_total", "Frames written to WebSocket clients").unwrap(),
            ),
            fanout_latency: register(
                &registry,
                Histogram::with_opts(
                    HistogramOpts::new("askpanel_fanout_latency_seconds", "From publish to the socket write")
                        .buckets(latency_buckets.clone()),
                )
                .unwrap(),
            ),
            lagged: register(
                &registry,
                IntCounter::new("askpanel_ws_lagged_total", "Subscriptions dropped because the client lagged").unwrap(),
            ),
            llm_duration: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new("askpanel_llm_request_duration_seconds", "LLM call duration by tenant")
                        .buckets(vec![0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
                    &["tenant"],
                )
                .unwrap(),
            ),
            llm_tokens: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("askpanel_llm_tokens_total", "LLM tokens by tenant and direction"),
                    &["tenant", "direction"],
                )
                .unwrap(),
            ),
            errors: register(
                &registry,
                IntCounterVec::new(Opts::new("askpanel_errors_total", "Errors by kind"), &["kind"]).unwrap(),
            ),
            documents: register(
                &registry,
                IntCounterVec::new(Opts::new("askpanel_documents_total", "Documents by outcome"), &["outcome"])
                    .unwrap(),
            ),
            citations: register(
                &registry,
                IntCounterVec::new(Opts::new("askpanel_citations_total", "Citations in AI turns"), &["valid"]).unwrap(),
            ),
            notifications: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("askpanel_notifications_total", "Notifications sent, by channel"),
                    &["channel"],
                )
                .unwrap(),
            ),
            webhook_attempts: register(
                &registry,
                IntCounterVec::new(
                    Opts::new("askpanel_webhook_attempts_total", "Webhook delivery attempts, by outcome"),
                    &["outcome"],
                )
                .unwrap(),
            ),
            registry,
        }
    }

    /// The text exposition, with process figures appended.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        let mut text = String::from_utf8(buffer).unwrap_or_default();
        if let Some((rss, cpu)) = process_figures() {
            text.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\n");
            text.push_str(&format!("process_resident_memory_bytes {rss}\n"));
            text.push_str("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n# TYPE process_cpu_seconds_total counter\n");
            text.push_str(&format!("process_cpu_seconds_total {cpu}\n"));
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// RSS bytes and CPU seconds of this process, from /proc (Linux).
pub fn process_figures() -> Option<(u64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kb: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = 100.0; // USER_HZ on Linux
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((rss_kb * 1024, (utime + stime) / ticks))
}

/// The `method` label of a request: one of the methods the API knows, else
/// `other` (a label from the client's own text would let anyone create
/// series without bound).
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
