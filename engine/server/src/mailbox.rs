//! Cross-thread mailboxes: the only place where proactor threads touch each other.
//!
//! A `Mailbox` is a mutex-guarded queue plus a wake-up `Signal`. Producers (any thread) push one
//! item, or a batch in one lock (`push_all`: a thread sends what one burst of engine steps produced
//! for a thread at once); the consumer (the owning thread) takes *everything* queued in one lock,
//! so a busy thread pays one lock per batch, not per message. `close` is the shutdown flag: it is
//! kept inside the same mutex as the queue, so "closed" and "empty" are read together and a
//! consumer can never see one without the other.
//!
//! Wake-up protocol (the part loom checks): the consumer says it is going to sleep by finding the
//! queue empty with `try_recv_or_sleep`, which marks it asleep under the queue's lock; any other
//! drain (`try_recv`) marks it awake. A producer signals only when its push found the consumer
//! marked asleep, and clears the mark, so one signal answers one sleep however many producers
//! push. That is enough because the consumer looks at the queue before every wait: a push while
//! it is awake is seen by that look, and a push after the look finds the mark. The signal must
//! keep a permit when nobody is waiting, as `tokio::sync::Notify::notify_one` does, so a push
//! that lands between the consumer's "empty" verdict and its wait is never lost. A stale permit
//! costs one empty drain. A busy consumer (the common case under load) costs producers no
//! signal at all. (Signalling on every empty-to-non-empty push instead cost 7,071 eventfd writes
//! per 100,000 GETs at pipeline 1 on two threads; now ring messages, and fewer of them.)
//!
//! Why not `tokio::sync::mpsc`: it is correct too, but it hands out one message per `recv`, and
//! we cannot run its internals under our loom model. This file is small enough to check.
//!
//! Bound: the queue has no fixed cap. What flows through it is bounded by the engine: a
//! connection has at most one hop in flight per shard (it waits for the answer), so hops are at
//! most `clients × threads`; new-connection handoffs are bounded by the accept rate and refused
//! by the engine past `maxclients`.
//!
//! Loom model (the `loom_tests` module below; CI's `loom` step), run with
//!   CARGO_TARGET_DIR=/tmp/target-loom RUSTFLAGS="--cfg loom" \
//!     cargo test -p damselfly-server --release --bin damselfly mailbox
//! (`--bin` keeps integration tests, which need tokio's net, out of a loom build; a separate
//! target dir because the flag rebuilds every dependency.) Under `--cfg loom` the crate builds
//! only this module (see main.rs). Checked that it bites: signalling on the wrong transition,
//! or closing without a signal, both fail as loom deadlocks.

use std::collections::VecDeque;

#[cfg(all(loom, test))]
use loom::sync::Mutex;
#[cfg(not(all(loom, test)))]
use std::sync::Mutex;

/// A wake-up that keeps one permit when nobody waits (a later wait returns at once).
pub trait Signal {
    fn notify(&self);
}

impl Signal for tokio::sync::Notify {
    fn notify(&self) {
        self.notify_one();
    }
}

/// A proactor thread's wake-up. The epoll backend's mailbox task awaits a tokio `Notify`; the
/// uring backend's loop is woken by a completion on its ring (see `RingWake`).
pub enum ThreadWake {
    Task(tokio::sync::Notify),
    Ring(RingWake),
}

/// How a uring loop is woken. Another uring loop posts a completion straight into this ring
/// with a message of its own ring (`IORING_OP_MSG_RING`), which rides on that loop's next submit;
/// anyone else (the timer helper, or when messages are unavailable) writes the eventfd, on which
/// the loop keeps a read armed. An eventfd's counter is the permit: a write while nobody reads
/// is seen by the next read.
pub struct RingWake {
    pub eventfd: std::fs::File,
    /// The loop's ring while it runs and accepts messages; -1 otherwise.
    pub ring_fd: std::sync::atomic::AtomicI32,
}

impl Signal for ThreadWake {
    fn notify(&self) {
        match self {
            ThreadWake::Task(notify) => notify.notify_one(),
            ThreadWake::Ring(ring) => {
                use std::io::Write;
                // Fails only if the counter would pass u64::MAX - 1, and then a wake is pending.
                drop((&ring.eventfd).write(&1u64.to_ne_bytes()));
            }
        }
    }
}

/// What the queue holds: items while open, nothing once closed.
enum State<T> {
    Open {
        items: VecDeque<T>,
        /// The consumer found the queue empty and will wait for the signal.
        consumer_asleep: bool,
    },
    Closed,
}

/// What one `try_recv` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    /// At least one item was moved to the caller's buffer.
    Items,
    /// Open but empty: wait for the signal, then try again.
    Empty,
    /// Closed: the consumer should stop.
    Closed,
}

pub struct Mailbox<T, S = tokio::sync::Notify> {
    state: Mutex<State<T>>,
    signal: S,
}

impl<T, S: Signal> Mailbox<T, S> {
    pub fn new(signal: S) -> Mailbox<T, S> {
        Mailbox {
            state: Mutex::new(State::Open {
                items: VecDeque::new(),
                consumer_asleep: false,
            }),
            signal,
        }
    }

    /// The wake-up producers signal (the uring loop arms its read on the eventfd inside).
    pub fn signal(&self) -> &S {
        &self.signal
    }

    /// Queues `item`; hands it back when the mailbox is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut item = Some(item);
        let wake = self.enqueue(|items| items.extend(item.take()));
        match wake {
            Ok(wake) => {
                self.wake_if(wake);
                Ok(())
            }
            Err(()) => Err(item.expect("a closed mailbox left the item alone")),
        }
    }

    /// Queues every item of `items` in order, in one lock and with at most one signal; leaves
    /// them in `items` when the mailbox is closed. (The threads use `push_all_unsignalled` and
    /// wake each other their own way; this is its checked, self-signalling form.)
    #[cfg(test)]
    pub fn push_all(&self, items: &mut VecDeque<T>) -> Result<(), ()> {
        let wake = self.push_all_unsignalled(items)?;
        self.wake_if(wake);
        Ok(())
    }

    /// `push_all` that leaves the signal to the caller: returns whether the consumer must be
    /// woken (it is asleep). The uring loop wakes another ring by a message of its own ring,
    /// which rides on its next submit instead of costing a write syscall here.
    pub fn push_all_unsignalled(&self, items: &mut VecDeque<T>) -> Result<bool, ()> {
        if items.is_empty() {
            return Ok(false);
        }
        self.enqueue(|queued| queued.append(items))
    }

    fn enqueue(&self, add: impl FnOnce(&mut VecDeque<T>)) -> Result<bool, ()> {
        let mut state = self.lock();
        let State::Open {
            items,
            consumer_asleep,
        } = &mut *state
        else {
            return Err(());
        };
        add(items);
        Ok(std::mem::take(consumer_asleep))
    }

    fn wake_if(&self, wake: bool) {
        // Outside the lock: the woken consumer would only block on it.
        if wake {
            self.signal.notify();
        }
    }

    /// Moves every queued item to the back of `out`; the consumer is awake (it will look again
    /// before it sleeps), so producers need not signal.
    pub fn try_recv(&self, out: &mut VecDeque<T>) -> Recv {
        self.take(out, false)
    }

    /// `try_recv` by a consumer that will wait for the signal when it finds nothing: an empty
    /// queue marks it asleep, so the next push signals.
    pub fn try_recv_or_sleep(&self, out: &mut VecDeque<T>) -> Recv {
        self.take(out, true)
    }

    fn take(&self, out: &mut VecDeque<T>, sleep_when_empty: bool) -> Recv {
        let mut state = self.lock();
        match &mut *state {
            State::Open {
                items,
                consumer_asleep,
            } => {
                if items.is_empty() {
                    *consumer_asleep = sleep_when_empty;
                    Recv::Empty
                } else {
                    *consumer_asleep = sleep_when_empty;
                    out.append(items);
                    Recv::Items
                }
            }
            State::Closed => Recv::Closed,
        }
    }

    /// Closes the mailbox and wakes the consumer; returns what was still queued.
    pub fn close(&self) -> VecDeque<T> {
        let state = std::mem::replace(&mut *self.lock(), State::Closed);
        self.signal.notify();
        match state {
            State::Open { items, .. } => items,
            State::Closed => VecDeque::new(),
        }
    }

    fn lock(&self) -> impl std::ops::DerefMut<Target = State<T>> + '_ {
        // No code panics while holding the lock, so poisoning cannot carry a broken queue.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<T> Mailbox<T, tokio::sync::Notify> {
    /// Waits until items arrive (moved to `out`, returns true) or the mailbox closes (false).
    pub async fn recv(&self, out: &mut VecDeque<T>) -> bool {
        loop {
            match self.try_recv_or_sleep(out) {
                Recv::Items => return true,
                Recv::Closed => return false,
                Recv::Empty => self.signal.notified().await,
            }
        }
    }
}

impl<T> Mailbox<T, ThreadWake> {
    /// `Mailbox::recv` for a thread's mailbox under the epoll backend.
    pub async fn recv(&self, out: &mut VecDeque<T>) -> bool {
        let ThreadWake::Task(notify) = &self.signal else {
            panic!("an eventfd mailbox is drained by the uring loop, never awaited");
        };
        loop {
            match self.try_recv_or_sleep(out) {
                Recv::Items => return true,
                Recv::Closed => return false,
                Recv::Empty => notify.notified().await,
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Arc;

    use super::{Mailbox, Recv};

    const ITEMS_PER_PRODUCER: u32 = 10_000;

    #[test]
    fn drains_everything_in_one_batch_in_fifo_order() {
        let mailbox: Mailbox<u32> = Mailbox::new(tokio::sync::Notify::new());
        let mut out = VecDeque::new();
        assert_eq!(mailbox.try_recv(&mut out), Recv::Empty);
        for i in 0..5 {
            mailbox.push(i).unwrap();
        }
        assert_eq!(mailbox.try_recv(&mut out), Recv::Items);
        assert_eq!(out, [0, 1, 2, 3, 4]);
        assert_eq!(mailbox.try_recv(&mut out), Recv::Empty);
    }

    #[test]
    fn batches_keep_their_order_behind_earlier_items() {
        let mailbox: Mailbox<u32> = Mailbox::new(tokio::sync::Notify::new());
        mailbox.push(0).unwrap();
        let mut batch: VecDeque<u32> = (1..4).collect();
        mailbox.push_all(&mut batch).unwrap();
        assert!(batch.is_empty());
        mailbox.push_all(&mut VecDeque::new()).unwrap();
        let mut out = VecDeque::new();
        assert_eq!(mailbox.try_recv(&mut out), Recv::Items);
        assert_eq!(out, [0, 1, 2, 3]);
        mailbox.close();
        let mut refused: VecDeque<u32> = (7..9).collect();
        assert_eq!(mailbox.push_all(&mut refused), Err(()));
        assert_eq!(
            refused,
            [7, 8],
            "a closed mailbox leaves the batch with the sender"
        );
    }

    #[test]
    fn close_returns_leftovers_and_refuses_pushes() {
        let mailbox: Mailbox<u32> = Mailbox::new(tokio::sync::Notify::new());
        mailbox.push(7).unwrap();
        assert_eq!(mailbox.close(), [7]);
        assert_eq!(mailbox.push(8), Err(8));
        assert_eq!(mailbox.try_recv(&mut VecDeque::new()), Recv::Closed);
        assert!(mailbox.close().is_empty(), "closing twice is harmless");
    }

    /// Counts signals.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicU32);

    impl super::Signal for Count {
        fn notify(&self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn producers_signal_only_a_consumer_that_said_it_sleeps() {
        let mailbox: Mailbox<u32, Count> = Mailbox::new(Count::default());
        let signals = || {
            mailbox
                .signal()
                .0
                .load(std::sync::atomic::Ordering::Relaxed)
        };
        let mut out = VecDeque::new();
        mailbox.push(1).unwrap();
        assert_eq!(signals(), 0, "a consumer that never slept is awake");
        assert_eq!(mailbox.try_recv_or_sleep(&mut out), Recv::Items);
        assert_eq!(mailbox.try_recv_or_sleep(&mut out), Recv::Empty);
        mailbox.push(2).unwrap();
        mailbox.push_all(&mut VecDeque::from([3, 4])).unwrap();
        assert_eq!(signals(), 1, "one signal answers one sleep");
        assert_eq!(mailbox.try_recv_or_sleep(&mut out), Recv::Items);
        assert_eq!(mailbox.try_recv_or_sleep(&mut out), Recv::Empty);
        assert_eq!(mailbox.try_recv(&mut out), Recv::Empty);
        mailbox.push(5).unwrap();
        assert_eq!(signals(), 1, "a plain drain marks the consumer awake");
        assert_eq!(mailbox.try_recv_or_sleep(&mut out), Recv::Items);
        assert_eq!(mailbox.try_recv_or_sleep(&mut out), Recv::Empty);
        let mut batch = VecDeque::from([6]);
        assert_eq!(mailbox.push_all_unsignalled(&mut batch), Ok(true));
        assert_eq!(signals(), 1, "the caller signals an unsignalled push");
        assert_eq!(
            mailbox.push_all_unsignalled(&mut VecDeque::new()),
            Ok(false)
        );
        assert_eq!(out, [1, 2, 3, 4, 5]);
        mailbox.close();
        assert_eq!(signals(), 2, "close always signals");
    }

    /// Two producer threads push while an async consumer sleeps and wakes; every item arrives,
    /// each producer's in order, and close ends the consumer.
    #[test]
    fn async_consumer_sees_every_item_then_close() {
        let mailbox: Arc<Mailbox<(u8, u32)>> = Arc::new(Mailbox::new(tokio::sync::Notify::new()));
        let producers: Vec<_> = (0..2u8)
            .map(|p| {
                let mailbox = Arc::clone(&mailbox);
                std::thread::Builder::new()
                    .spawn(move || {
                        for i in 0..ITEMS_PER_PRODUCER {
                            mailbox.push((p, i)).unwrap();
                        }
                    })
                    .unwrap()
            })
            .collect();
        let closer = {
            let mailbox = Arc::clone(&mailbox);
            move || {
                for producer in producers {
                    producer.join().unwrap();
                }
                mailbox.close()
            }
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut next = [0u32; 2];
        let mut check = |(p, i): (u8, u32)| {
            assert_eq!(i, next[usize::from(p)], "producer {p} out of order");
            next[usize::from(p)] += 1;
        };
        let closer = std::thread::Builder::new().spawn(closer).unwrap();
        rt.block_on(async {
            let mut batch = VecDeque::new();
            while mailbox.recv(&mut batch).await {
                batch.drain(..).for_each(&mut check);
            }
        });
        // What the consumer had not drained when the closer ran comes back from close.
        closer.join().unwrap().into_iter().for_each(&mut check);
        assert_eq!(next, [ITEMS_PER_PRODUCER; 2]);
    }
}

/// Loom explores every interleaving of the threads below. A lost wake-up shows as a deadlock
/// (the consumer waits forever with an item queued), which loom reports as a failure.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::collections::VecDeque;

    use loom::sync::{Arc, Condvar, Mutex};

    use super::{Mailbox, Recv, Signal};

    /// `tokio::sync::Notify`'s contract for one waiter: `notify` leaves a single permit that the
    /// next `wait` consumes, whether the waiter was already asleep or not.
    struct Permit {
        set: Mutex<bool>,
        cv: Condvar,
    }

    impl Permit {
        fn new() -> Permit {
            Permit {
                set: Mutex::new(false),
                cv: Condvar::new(),
            }
        }

        fn wait(&self) {
            let mut set = self.set.lock().unwrap();
            while !*set {
                set = self.cv.wait(set).unwrap();
            }
            *set = false;
        }
    }

    impl Signal for Permit {
        fn notify(&self) {
            *self.set.lock().unwrap() = true;
            self.cv.notify_one();
        }
    }

    /// `count` producer threads, each pushing its own number.
    fn spawn_producers(
        mailbox: &Arc<Mailbox<u32, Permit>>,
        count: u32,
    ) -> Vec<loom::thread::JoinHandle<()>> {
        (0..count)
            .map(|p| {
                let mailbox = Arc::clone(mailbox);
                loom::thread::spawn(move || mailbox.push(p).unwrap())
            })
            .collect()
    }

    /// The consumer loop of `Mailbox::recv`, blocking instead of awaiting.
    fn recv(mailbox: &Mailbox<u32, Permit>, out: &mut VecDeque<u32>) -> bool {
        loop {
            match mailbox.try_recv_or_sleep(out) {
                Recv::Items => return true,
                Recv::Closed => return false,
                Recv::Empty => mailbox.signal.wait(),
            }
        }
    }

    #[test]
    fn mailbox_no_lost_wakeup_two_producers() {
        loom::model(|| {
            let mailbox = Arc::new(Mailbox::new(Permit::new()));
            let producers = spawn_producers(&mailbox, 2);
            let mut seen = VecDeque::new();
            while seen.len() < 2 {
                assert!(recv(&mailbox, &mut seen));
            }
            for producer in producers {
                producer.join().unwrap();
            }
            seen.make_contiguous().sort_unstable();
            assert_eq!(seen, [0, 1]);
        });
    }

    /// One producer pushes twice: the second push finds the queue non-empty (or drained) and
    /// may skip the signal; the consumer must still see both.
    #[test]
    fn mailbox_no_lost_wakeup_skipped_signal() {
        loom::model(|| {
            let mailbox = Arc::new(Mailbox::new(Permit::new()));
            let producer = {
                let mailbox = Arc::clone(&mailbox);
                loom::thread::spawn(move || {
                    mailbox.push(1).unwrap();
                    mailbox.push(2).unwrap();
                })
            };
            let mut seen = VecDeque::new();
            while seen.len() < 2 {
                assert!(recv(&mailbox, &mut seen));
            }
            producer.join().unwrap();
            assert_eq!(seen, [1, 2]);
        });
    }

    /// A batch and a single push race: the consumer sees all three, the batch in its order.
    #[test]
    fn mailbox_no_lost_wakeup_batch() {
        loom::model(|| {
            let mailbox = Arc::new(Mailbox::new(Permit::new()));
            let batcher = {
                let mailbox = Arc::clone(&mailbox);
                loom::thread::spawn(move || {
                    let mut batch: VecDeque<u32> = [1, 2].into();
                    mailbox.push_all(&mut batch).unwrap();
                })
            };
            let single = {
                let mailbox = Arc::clone(&mailbox);
                loom::thread::spawn(move || mailbox.push(3).unwrap())
            };
            let mut seen = VecDeque::new();
            while seen.len() < 3 {
                assert!(recv(&mailbox, &mut seen));
            }
            batcher.join().unwrap();
            single.join().unwrap();
            let batch: Vec<u32> = seen.iter().copied().filter(|&i| i != 3).collect();
            assert_eq!(batch, [1, 2]);
        });
    }

    /// The uring loop's consumer: it drains awake (`try_recv`) when a wake-up ended its wait,
    /// and looks once more, marking itself asleep, before every wait. A push that lands while
    /// it is awake skips the signal; the look before the wait must find it.
    #[test]
    fn mailbox_no_lost_wakeup_awake_drains() {
        loom::model(|| {
            let mailbox = Arc::new(Mailbox::new(Permit::new()));
            let producers = spawn_producers(&mailbox, 2);
            let mut seen = VecDeque::new();
            while seen.len() < 2 {
                assert_ne!(mailbox.try_recv(&mut seen), Recv::Closed);
                if seen.len() == 2 {
                    break;
                }
                match mailbox.try_recv_or_sleep(&mut seen) {
                    Recv::Items => {}
                    Recv::Empty => mailbox.signal.wait(),
                    Recv::Closed => unreachable!("nobody closes"),
                }
            }
            for producer in producers {
                producer.join().unwrap();
            }
            seen.make_contiguous().sort_unstable();
            assert_eq!(seen, [0, 1]);
        });
    }

    /// A push racing a close is either delivered, returned by `close`, or refused: never lost;
    /// and the consumer always observes the close.
    #[test]
    fn mailbox_shutdown_is_observed() {
        loom::model(|| {
            let mailbox = Arc::new(Mailbox::new(Permit::new()));
            let producer = {
                let mailbox = Arc::clone(&mailbox);
                loom::thread::spawn(move || mailbox.push(1).is_ok())
            };
            let closer = {
                let mailbox = Arc::clone(&mailbox);
                loom::thread::spawn(move || mailbox.close().len())
            };
            let mut seen = VecDeque::new();
            while recv(&mailbox, &mut seen) {}
            let accepted = producer.join().unwrap();
            let leftover = closer.join().unwrap();
            let delivered = seen.len();
            assert_eq!(usize::from(accepted), delivered + leftover);
        });
    }
}
