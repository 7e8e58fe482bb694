//! One clock for every paced stream of the process: a hashed timer wheel
//! turned by one thread. A paced simulated turn waits for its next delta's
//! due tick here instead of arming a runtime timer per token, so 10,000
//! paced panels cost one thread waking every [`TICK`] (only while anything
//! waits), a slot push per delta, and one wake per due delta.
//!
//! Deadlines are absolute (the turn's start plus n intervals), so a turn's
//! pace does not drift with the time its deltas take to handle; a delta is
//! released at its deadline or up to one tick later, never earlier.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The wheel's resolution: how late at most a delta is released.
pub const TICK: Duration = Duration::from_millis(5);
/// Slots of the wheel (about 5 s of ticks; a later deadline waits in its
/// slot for the turns of the wheel before it).
const SLOTS: u64 = 1024;

struct Wheel {
    /// Ticks since the pacer's start, as far as the clock thread has turned.
    now: u64,
    /// Waiting sleeps by due tick modulo [`SLOTS`]: (due tick, waker).
    slots: Vec<Vec<(u64, Waker)>>,
    waiting: usize,
}

impl Wheel {
    /// Turns the wheel to `target`; returns the wakers now due.
    fn turn_to(&mut self, target: u64, due: &mut Vec<Waker>) {
        if target <= self.now {
            return;
        }
        // After a long sleep, every slot once is enough.
        let from = self.now.max(target.saturating_sub(SLOTS)) + 1;
        self.now = target;
        for tick in from..=target {
            let slot = &mut self.slots[(tick % SLOTS) as usize];
            if slot.is_empty() {
                continue;
            }
            let before = due.len();
            let mut kept = Vec::new();
            for (at, waker) in slot.drain(..) {
                if at <= target { due.push(waker) } else { kept.push((at, waker)) }
            }
            *slot = kept;
            self.waiting -= due.len() - before;
        }
    }
}

/// The process's paced clock.
pub struct Pacer {
    start: Instant,
    wheel: Mutex<Wheel>,
    work: Condvar,
}

static PACER: OnceLock<&'static Pacer> = OnceLock::new();

impl Pacer {
    /// The process's pacer; its thread starts with the first call.
    pub fn global() -> &'static Pacer {
        PACER.get_or_init(|| {
            let pacer: &'static Pacer = Box::leak(Box::new(Pacer::new()));
            std::thread::Builder::new()
                .name("askpanel-pacer".into())
                .spawn(move || pacer.run())
                .expect("the pacer's thread starts");
            pacer
        })
    }

    fn new() -> Self {
        Self {
            start: Instant::now(),
            wheel: Mutex::new(Wheel { now: 0, slots: (0..SLOTS).map(|_| Vec::new()).collect(), waiting: 0 }),
            work: Condvar::new(),
        }
    }

    /// The first tick at or after `at`.
    fn tick_of(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.start).as_nanos();
        nanos.div_ceil(TICK.as_nanos()) as u64
    }

    /// Completes at `at` (or up to one tick later).
    pub fn sleep_until(&'static self, at: Instant) -> PaceSleep {
        PaceSleep { pacer: self, due: self.tick_of(at), registered: None }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Wheel> {
        // A panic while holding the lock leaves the wheel consistent (a push
        // or a drain); go on with it.
        self.wheel.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock thread: turns the wheel every tick while anything waits.
    fn run(&self) {
        let mut due = Vec::new();
        loop {
            {
                let mut wheel = self.lock();
                while wheel.waiting == 0 {
                    wheel = self.work.wait(wheel).unwrap_or_else(|e| e.into_inner());
                }
                let target = (self.start.elapsed().as_nanos() / TICK.as_nanos()) as u64;
                wheel.turn_to(target, &mut due);
            }
            for waker in due.drain(..) {
                waker.wake();
            }
            let next = self.start + Duration::from_nanos(TICK.as_nanos() as u64 * (self.lock().now + 1));
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
        }
    }
}

/// A wait on the pacer.
pub struct PaceSleep {
    pacer: &'static Pacer,
    due: u64,
    registered: Option<Waker>,
}

impl Future for PaceSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let pacer = self.pacer;
        let mut wheel = pacer.lock();
        if wheel.now >= self.due {
            // The clock thread released (and removed) any registration.
            self.registered = None;
            return Poll::Ready(());
        }
        if self.registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let slot = (self.due % SLOTS) as usize;
        wheel.slots[slot].push((self.due, cx.waker().clone()));
        wheel.waiting += 1;
        if wheel.waiting == 1 {
            pacer.work.notify_one();
        }
        drop(wheel);
        self.registered = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for PaceSleep {
    /// A wait given up (its turn cancelled) leaves the wheel at once, not at
    /// its deadline: the clock thread stops when nothing waits.
    fn drop(&mut self) {
        let Some(registered) = self.registered.take() else { return };
        let mut wheel = self.pacer.lock();
        if wheel.now >= self.due {
            return;
        }
        let slot = &mut wheel.slots[(self.due % SLOTS) as usize];
        if let Some(at) = slot.iter().position(|(due, waker)| *due == self.due && waker.will_wake(&registered)) {
            slot.swap_remove(at);
            wheel.waiting -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn wheel() -> Wheel {
        Wheel { now: 0, slots: (0..SLOTS).map(|_| Vec::new()).collect(), waiting: 0 }
    }

    #[test]
    fn a_turn_releases_exactly_the_due_waits_even_a_whole_wheel_later() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut w = wheel();
        // Due at 3, at 3 + SLOTS (same slot, a turn later) and at 10.
        for at in [3, 3 + SLOTS, 10] {
            w.slots[(at % SLOTS) as usize].push((at, waker.clone()));
            w.waiting += 1;
        }
        let table: [(u64, usize, usize); 4] = [(2, 0, 3), (3, 1, 2), (9 + SLOTS, 3, 0), (9 + SLOTS, 3, 0)];
        let mut due = Vec::new();
        for (target, released, waiting) in table {
            w.turn_to(target, &mut due);
            assert_eq!((due.len(), w.waiting), (released, waiting), "turned to {target}");
        }
    }

    #[test]
    fn a_wait_given_up_leaves_the_wheel() {
        let pacer = Pacer::global();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count);
        let mut cx = Context::from_waker(&waker);
        let far = Instant::now() + Duration::from_secs(3600);
        let mut sleep = Box::pin(pacer.sleep_until(far));
        let due = sleep.due;
        assert!(sleep.as_mut().poll(&mut cx).is_pending());
        let waiting = |p: &Pacer| p.lock().slots[(due % SLOTS) as usize].iter().filter(|(at, _)| *at == due).count();
        assert_eq!(waiting(pacer), 1);
        drop(sleep);
        assert_eq!(waiting(pacer), 0);
    }

    #[test]
    fn a_sleep_is_never_early() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let pacer = Pacer::global();
            for ms in [0u64, 1, 7, 23] {
                let asked = Instant::now() + Duration::from_millis(ms);
                pacer.sleep_until(asked).await;
                assert!(Instant::now() >= asked, "released before {ms} ms");
            }
        });
    }
}
