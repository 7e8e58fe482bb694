//! Latency samples and the run's report.

use std::collections::BTreeMap;

use serde::Serialize;

/// Percentiles of a latency sample, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub n: usize,
}

/// Nearest-rank percentiles of `samples` (sorted in place).
pub fn percentiles(samples: &mut [f32]) -> Percentiles {
    if samples.is_empty() {
        return Percentiles::default();
    }
    samples.sort_by(f32::total_cmp);
    let at = |p: f64| {
        let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        round2(f64::from(samples[rank - 1]))
    };
    Percentiles {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: round2(f64::from(samples[samples.len() - 1])),
        n: samples.len(),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Default, Serialize)]
pub struct HttpLatency {
    pub create: Percentiles,
    pub get: Percentiles,
}

/// The last line of output: one JSON object.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub panels_started: usize,
    pub panels_completed: usize,
    pub panels_failed: usize,
    pub panels_unfinished: usize,
    pub lost_events: u64,
    pub duplicate_events: u64,
    pub reordered_events: u64,
    pub token_text_mismatches: u64,
    pub lagged: u64,
    pub wall_s: f64,
    pub panels_per_s: f64,
    pub events_per_s: f64,
    pub frames_per_s: f64,
    pub events_delivered: u64,
    /// Events delivered from the log (committed before the subscriber joined): no latency sample.
    pub events_replayed: u64,
    pub frames_delivered: u64,
    pub event_latency_ms: Percentiles,
    pub token_latency_ms: Percentiles,
    pub http_latency_ms: HttpLatency,
    pub errors: BTreeMap<String, u64>,
    pub server_peak_rss_mb: f64,
    pub server_cpu_s: f64,
    /// Frames delivered per second of server CPU (all of it: model stream,
    /// panel actor, bus, sessions, sockets), the CPU cost of a frame.
    pub frames_per_server_cpu_s: f64,
    pub sockets: usize,
    pub config: serde_json::Value,
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let p = |x: &Percentiles| {
            format!("p50 {:>8.2}  p90 {:>8.2}  p99 {:>8.2}  max {:>8.2}  (n {})", x.p50, x.p90, x.p99, x.max, x.n)
        };
        let mut out = String::new();
        out.push_str("askpanel load test\n");
        out.push_str(&format!(
            "  panels          started {}  completed {}  failed {}  unfinished {}\n",
            self.panels_started, self.panels_completed, self.panels_failed, self.panels_unfinished
        ));
        out.push_str(&format!(
            "  delivery        lost {}  duplicate {}  reordered {}  text mismatches {}  lagged {}\n",
            self.lost_events, self.duplicate_events, self.reordered_events, self.token_text_mismatches, self.lagged
        ));
        out.push_str(&format!(
            "  throughput      wall {:.1} s  panels/s {:.2}  events/s {:.0}  frames/s {:.0}  sockets {}\n",
            self.wall_s, self.panels_per_s, self.events_per_s, self.frames_per_s, self.sockets
        ));
        out.push_str(&format!("  event latency   {} ms\n", p(&self.event_latency_ms)));
        out.push_str(&format!("  token latency   {} ms\n", p(&self.token_latency_ms)));
        out.push_str(&format!("  POST /panels    {} ms\n", p(&self.http_latency_ms.create)));
        out.push_str(&format!("  GET /panels/id  {} ms\n", p(&self.http_latency_ms.get)));
        out.push_str(&format!(
            "  server          peak RSS {:.1} MB  CPU {:.1} s  frames per CPU second {:.0}\n",
            self.server_peak_rss_mb, self.server_cpu_s, self.frames_per_server_cpu_s
        ));
        if !self.errors.is_empty() {
            out.push_str(&format!("  errors          {:?}\n", self.errors));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s: Vec<f32> = (1..=100).map(|x| x as f32).collect();
        let p = percentiles(&mut s);
        assert_eq!((p.p50, p.p90, p.p99, p.max, p.n), (50.0, 90.0, 99.0, 100.0, 100));
        assert_eq!(percentiles(&mut []).n, 0);
    }
}
