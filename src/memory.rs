//! Giving freed memory back to the system. glibc's allocator keeps what
//! finished panels freed inside its arenas: after a 1000-panel burst had
//! ended, about 90 KB per panel stayed resident though the live heap was back
//! near idle (`askpanel-membench`, README); a burst of 40 password checks
//! (argon2, 19 MiB each) left 707 MB. While the node is busy, a task asks the
//! allocator once every [`TRIM_EVERY`] to return its free pages
//! (`malloc_trim`), on a blocking thread; so what finished work leaves
//! behind is bounded by what is still live, not by the peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::metrics::Metrics;

/// How often a busy node returns freed memory.
pub const TRIM_EVERY: Duration = Duration::from_secs(15);

/// Work that allocates and that the metrics below do not count: sockets
/// opened and closed (the sessions gauge alone would miss sockets that open
/// and close between two looks), passwords hashed (argon2 takes megabytes a
/// check), documents extracted, reports made.
static OTHER_WORK: AtomicU64 = AtomicU64::new(0);

/// Work of the kind [`OTHER_WORK`] counts was done: the next tick trims.
pub fn note_work() {
    OTHER_WORK.fetch_add(1, Ordering::Relaxed);
}

/// Notes work when dropped, that is once the work has freed what it took
/// (noted before, a tick between the note and the end would trim too early
/// and the next would see nothing new): `let _work = memory::work();` at the
/// start of a piece of work, on every way out of it.
#[must_use = "the work is noted when this is dropped"]
pub struct Work(());

impl Drop for Work {
    fn drop(&mut self) {
        note_work();
    }
}

/// The start of a piece of work that allocates: see [`Work`].
pub fn work() -> Work {
    Work(())
}

/// How much [`OTHER_WORK`] was noted so far.
pub fn work_noted() -> u64 {
    OTHER_WORK.load(Ordering::Relaxed)
}

/// Trims every [`TRIM_EVERY`] after activity (events published, frames
/// sent, [`note_work`]; an idle node has nothing new to return), and once at
/// the start, until the runtime stops.
pub async fn trim_while_busy(metrics: Arc<Metrics>) {
    let activity = |m: &Metrics| (m.events_published.get(), m.frames_sent.get(), work_noted());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_noted_when_it_ends() {
        let work = work();
        let before = work_noted();
        drop(work);
        assert!(work_noted() > before);
    }
}
