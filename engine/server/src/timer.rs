//! A proactor thread's timers, kept by a helper OS thread, so the thread's runtime needs no
//! time driver.
//!
//! Why: tokio's time driver works on every park of its thread (a lock, two clock reads, the
//! wheel), about half again the cost of the epoll wait itself; at pipeline 1 a thread parks
//! between most requests. Timers are rare here (the expiry sweep every 100 ms, DEBUG SLEEP
//! wake-ups, an accept retry), so a helper that sleeps on a condition variable until the
//! earliest deadline, then hands each due event to a delivery function (which posts it to the
//! thread's mailbox, like any cross-thread message), costs nothing on the hot path.
//!
//! Contract: an event is delivered at or after its deadline on the process's monotonic clock,
//! in deadline order (ties in arming order), never twice. `stop` (or dropping `Timers`) wakes
//! and joins the helper; events not yet due are dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::clock::Clock;

struct State<T> {
    /// (deadline, arming order, event), earliest first.
    heap: BinaryHeap<Reverse<(u64, u64, T)>>,
    armed_total: u64,
    stopped: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// Signalled when an event is armed or the timers stop.
    changed: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The lock is never held across code that can panic, so poisoning cannot leave a
        // broken heap behind.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct Timers<T> {
    shared: Arc<Shared<T>>,
    helper: Mutex<Option<JoinHandle<()>>>,
}

impl<T: Ord + Send + 'static> Timers<T> {
    /// Starts the helper thread `name`; `deliver` runs on it for each due event.
    pub fn start(
        name: String,
        clock: Clock,
        deliver: impl Fn(T) + Send + 'static,
    ) -> std::io::Result<Timers<T>> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                heap: BinaryHeap::new(),
                armed_total: 0,
                stopped: false,
            }),
            changed: Condvar::new(),
        });
        let helper = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(name)
                .spawn(move || run(&shared, clock, deliver))?
        };
        Ok(Timers {
            shared,
            helper: Mutex::new(Some(helper)),
        })
    }

    /// Delivers `event` at or after `at_mono_us`.
    pub fn arm(&self, at_mono_us: u64, event: T) {
        let mut state = self.shared.lock();
        let order = state.armed_total;
        state.armed_total += 1;
        state.heap.push(Reverse((at_mono_us, order, event)));
        drop(state);
        self.shared.changed.notify_one();
    }
}

impl<T> Timers<T> {
    /// Stops and joins the helper; idempotent.
    pub fn stop(&self) {
        self.shared.lock().stopped = true;
        self.shared.changed.notify_one();
        let helper = self
            .helper
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(helper) = helper {
            if helper.join().is_err() {
                tracing::error!("timer thread panicked");
            }
        }
    }
}

impl<T> Drop for Timers<T> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run<T: Ord>(shared: &Shared<T>, clock: Clock, deliver: impl Fn(T)) {
    let mut state = shared.lock();
    while !state.stopped {
        let now = Instant::now();
        let next_at = state
            .heap
            .peek()
            .map(|Reverse((at, ..))| clock.instant_at(*at));
        state = match next_at {
            Some(at) if at <= now => {
                let Some(Reverse((.., event))) = state.heap.pop() else {
                    unreachable!("peeked an event");
                };
                // Deliver outside the lock: arming from the delivery path must not deadlock.
                drop(state);
                deliver(event);
                shared.lock()
            }
            Some(at) => {
                let (state, _) = shared
                    .changed
                    .wait_timeout(state, at - now)
                    .unwrap_or_else(PoisonError::into_inner);
                state
            }
            None => shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use std::time::Duration;

    use super::*;

    #[test]
    fn events_come_at_their_deadlines_in_order() {
        let clock = Clock::start();
        let (tx, rx) = mpsc::channel();
        let fired = {
            let tx = tx.clone();
            move |event: u32| tx.send((event, clock.now_mono_us())).unwrap()
        };
        let timers = Timers::start("timers-test".into(), clock, fired).unwrap();
        let base = clock.now_mono_us();
        // Armed out of order; two share a deadline and keep their arming order.
        timers.arm(base + 30_000, 3);
        timers.arm(base + 10_000, 1);
        timers.arm(base + 20_000, 2);
        timers.arm(base + 20_000, 0);
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(rx.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert_eq!(
            got.iter().map(|g| g.0).collect::<Vec<_>>(),
            vec![1, 2, 0, 3]
        );
        for (event, at) in got {
            let due = base + [20_000, 10_000, 20_000, 30_000][event as usize];
            assert!(at >= due, "event {event} came at {at}, before {due}");
        }
        // Not yet due when stopped: never delivered.
        timers.arm(clock.now_mono_us() + 60_000_000, 9);
        timers.stop();
        drop(tx);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    }
}
