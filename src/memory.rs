//! Giving freed memory back to the system. glibc's allocator keeps what
//! finished panels freed inside its arenas: after a 1000-panel burst had
//! ended, about 90 KB per panel stayed resident though the live heap was back
//! near idle (`askpanel-membench`, README). While the node is busy, a task
//! asks the allocator once every [`TRIM_EVERY`] to return its free pages
//! (`malloc_trim`), on a blocking thread; so what finished panels leave
//! behind is bounded by what is still live, not by the peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::metrics::Metrics;

/// How often a busy node returns freed memory.
pub const TRIM_EVERY: Duration = Duration::from_secs(15);

/// Sockets opened and closed on this node (the sessions gauge alone would
/// miss sockets that open and close between two looks).
static SOCKETS_CHANGED: AtomicU64 = AtomicU64::new(0);

/// A socket opened or closed.
pub fn socket_changed() {
    SOCKETS_CHANGED.fetch_add(1, Ordering::Relaxed);
}

/// Trims every [`TRIM_EVERY`] after activity (events published, frames
/// sent, sockets opened or closed; an idle node has nothing new to return),
/// and once at the start, until the runtime stops.
pub async fn trim_while_busy(metrics: Arc<Metrics>) {
    let activity =
        |m: &Metrics| (m.events_published.get(), m.frames_sent.get(), SOCKETS_CHANGED.load(Ordering::Relaxed));
    // Nothing seen yet: the first tick (at once) trims what start-up freed.
    let mut seen = (u64::MAX, u64::MAX, u64::MAX);
    let mut ticks = tokio::time::interval(TRIM_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = activity(&metrics);
        if now != seen {
            seen = now;
            let _ = tokio::task::spawn_blocking(release_free_memory).await;
        }
    }
}

/// Returns the allocator's free pages to the system (glibc only; elsewhere
/// the allocator does what it does).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    // SAFETY: malloc_trim takes no pointer and touches only the allocator's
    // own free lists, under its own locks; it is safe from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
