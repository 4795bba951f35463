//! VLL on one shard: the transaction queue and the intent locks (after Ren, Thomson and Abadi,
//! "VLL: a lock manager redesign for main memory database systems", as Dragonfly adapts it).
//!
//! Every key a queued transaction touches carries its intent (shared for reads, exclusive for
//! writes), recorded with its txid: VLL's per-key counters, kept as short sorted txid lists so
//! that the lowest and highest conflicting holder are at hand. A transaction may run once no
//! lower txid queued here conflicts with it. One that is runnable when scheduled is VLL's *free*
//! transaction and runs at once, out of queue order; the head of the queue is always runnable;
//! a blocked one waits for the lower ones it conflicts with, not for every lower one (when one
//! leaves, only the holders of its keys next in line are re-checked). A command that is not part
//! of a transaction runs at once unless one of its keys carries a conflicting intent; then it is
//! queued like a one-hop transaction under a fresh (highest) txid.
//!
//! Admission: a shard accepts a txid lower than ones it has queued unless the newcomer conflicts
//! with a *higher queued* transaction; only then does it refuse (the coordinator cancels
//! everywhere and retries with a fresh txid). Dragonfly refuses any txid below the highest it
//! has scheduled, whatever its keys: on two threads under pipelining that cost more than ten
//! retries per MSET (papers/vll.md).
//!
//! Why that is enough. On every shard:
//! 1. Of two conflicting transactions queued together, the higher cannot run until the lower is
//!    gone: the later scheduled is the higher (else it was refused), and the lower blocks it.
//! 2. Once runnable, a transaction stays runnable until it concludes here: a later arrival that
//!    conflicts with it is higher (a lower one is refused), and a higher one blocks only itself.
//! 3. A plain command runs only while no conflicting intent is queued.
//!
//! A coordinator launches its transaction only once it is runnable on every shard (papers/vll.md,
//! runnable-time rule); call that instant the transaction's point, and a plain command's point
//! the instant it runs. Say X ran before a conflicting Y on some shard. When Y became runnable
//! there, X was done there (so X had launched: its point came first); or X was not yet scheduled
//! there (then it arrived behind a runnable Y, which by 1 and 2 it cannot pass); or X was queued
//! and, by 1, not runnable, and could have run first only by becoming runnable while Y still was,
//! which 1 and 2 exclude. Plain commands: one that ran before a transaction ran before that
//! transaction was scheduled there (3), one that ran after it ran after it concluded there. So
//! every conflict goes the way of the points, and each point lies within its command's
//! lifetime: the history is linearizable. A transaction's one time, fixed at its point, is no
//! earlier than that of any conflicting work before it. Hence no refusal for a conflict with a
//! higher transaction that already *concluded* here: it ran at its point, before the
//! newcomer's. Nor deadlock: a transaction waits only for lower txids (conflicting ones here; on
//! other shards, where it waits for lower ones), and such waits cannot close a cycle.
//!
//! Invariants: the per-key intents are exactly the queued transactions' locks, and a queued
//! transaction is runnable exactly when no lower queued one conflicts with it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use crate::env::{ConnId, ThreadId};

/// A transaction's place in the global order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxId(pub u64);

/// How a transaction uses a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// What a transaction locks on one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockSet {
    /// (database, key, mode) for each key it touches here.
    Keys(Vec<(u16, Vec<u8>, LockMode)>),
    /// Every key of every database (FLUSHALL, FLUSHDB, SWAPDB, the snapshot cut).
    Everything,
}

/// The intents queued transactions hold on one key, each list in ascending txid order (a
/// transaction that names a key twice appears twice). Sorted, so the lowest and highest holder
/// of each mode, which decide every conflict question, are the ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct KeyIntents {
    shared: Vec<TxId>,
    exclusive: Vec<TxId>,
}

impl KeyIntents {
    fn holders_mut(&mut self, mode: LockMode) -> &mut Vec<TxId> {
        match mode {
            LockMode::Shared => &mut self.shared,
            LockMode::Exclusive => &mut self.exclusive,
        }
    }

    fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.exclusive.is_empty()
    }

    fn conflicts(&self, mode: LockMode) -> bool {
        !self.exclusive.is_empty() || (mode == LockMode::Exclusive && !self.shared.is_empty())
    }

    /// Whether a transaction above `txid` holds an intent conflicting with `mode`.
    fn conflicts_above(&self, txid: TxId, mode: LockMode) -> bool {
        let above = |holders: &Vec<TxId>| holders.last().is_some_and(|h| *h > txid);
        above(&self.exclusive) || (mode == LockMode::Exclusive && above(&self.shared))
    }

    /// Whether a transaction below `txid` holds an intent conflicting with `mode`.
    fn conflicts_below(&self, txid: TxId, mode: LockMode) -> bool {
        let below = |holders: &Vec<TxId>| holders.first().is_some_and(|h| *h < txid);
        below(&self.exclusive) || (mode == LockMode::Exclusive && below(&self.shared))
    }

    /// Adds to `out` the holders above `txid` that no longer conflict with any lower holder here
    /// now that `txid`, which held `mode`, has left: the lowest holder if it is exclusive, and,
    /// if `txid` was exclusive, the shared holders above it and below the lowest exclusive one.
    fn unblocked_by(&self, txid: TxId, mode: LockMode, out: &mut Vec<TxId>) {
        let lowest_exclusive = self.exclusive.first().copied();
        if let Some(e) = lowest_exclusive {
            // `<=`: a transaction holding the key in both modes does not block itself.
            if e > txid && self.shared.first().is_none_or(|s| e <= *s) {
                out.push(e);
            }
        }
        if mode == LockMode::Exclusive {
            let from = self.shared.partition_point(|h| *h <= txid);
            let to = lowest_exclusive.map_or(self.shared.len(), |e| {
                self.shared.partition_point(|h| *h < e)
            });
            out.extend(self.shared.get(from..to).unwrap_or_default());
        }
    }
}

/// Intents by database, then key (nested so a lookup borrows the key instead of copying it).
type IntentMap = BTreeMap<u16, BTreeMap<Vec<u8>, KeyIntents>>;

/// Where to say that a transaction became runnable: its coordinator's thread, connection and
/// request number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnableWatch {
    pub thread: ThreadId,
    pub conn: ConnId,
    pub seq: u64,
}

/// Whether a queued transaction may run here. It moves from `Blocked` to `Runnable` once,
/// never back (fact 2 of the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// A lower transaction queued here conflicts with it.
    Blocked,
    Runnable,
}

#[derive(Debug)]
struct QueuedTx<W> {
    locks: LockSet,
    turn: Turn,
    /// The planted bug `run-conflicting-out-of-order`: made runnable whatever its conflicts.
    planted_runnable: bool,
    /// Hops waiting for this transaction to become runnable, in arrival order.
    parked: VecDeque<W>,
    /// The coordinator waiting to hear that this transaction can run here.
    watch: Option<RunnableWatch>,
    /// Who coordinates it, for assertion messages.
    coordinator: (ThreadId, ConnId),
    /// The shard's clock when it was scheduled here.
    scheduled_at_ms: u64,
}

/// Counters of one shard's scheduling, for INFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Schedules refused: each costs its coordinator a cancel and a retry.
    pub refused: u64,
    /// Schedules accepted below a higher txid already queued here.
    pub out_of_order: u64,
}

/// One shard's transaction queue. `W` is the work a transaction parks here until it may run
/// (the node's hops): the queue orders it and never looks inside.
#[derive(Debug)]
pub struct TxQueue<W> {
    queue: BTreeMap<TxId, QueuedTx<W>>,
    intents: IntentMap,
    /// Queued transactions holding `LockSet::Everything`.
    everything: BTreeSet<TxId>,
    stats: TxStats,
    /// The planted bug `accept-conflicting-lower-txid`: admit a transaction below a conflicting
    /// queued one (both may then run, in either order).
    accepts_conflicting_lower: bool,
}

impl<W> Default for TxQueue<W> {
    fn default() -> Self {
        TxQueue {
            queue: BTreeMap::new(),
            intents: IntentMap::default(),
            everything: BTreeSet::new(),
            stats: TxStats::default(),
            accepts_conflicting_lower: false,
        }
    }
}

impl<W> TxQueue<W> {
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// Switches the planted bug `accept-conflicting-lower-txid` (never in production).
    pub fn plant_accept_conflicting_lower(&mut self, on: bool) {
        self.accepts_conflicting_lower = on;
    }

    /// Whether a command outside any transaction must wait before touching `key` in `mode`.
    /// Costs one emptiness check when nothing is scheduled: the common case.
    pub fn blocks(&self, db: u16, key: &[u8], mode: LockMode) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        if !self.everything.is_empty() {
            return true;
        }
        self.key_intents(db, key).is_some_and(|i| i.conflicts(mode))
    }

    fn key_intents(&self, db: u16, key: &[u8]) -> Option<&KeyIntents> {
        self.intents.get(&db)?.get(key)
    }

    /// Enters `txid` into the queue and takes its intents. Refused (false) when it conflicts
    /// with a higher transaction queued here: the coordinator must cancel everywhere and retry.
    /// `ignore_conflicts` is the planted bug that makes every transaction runnable at once.
    /// `shard_clock_ms` is the shard's clock now: the transaction will read at this time or
    /// later (`earliest_read_ms`).
    pub fn schedule(
        &mut self,
        txid: TxId,
        locks: LockSet,
        coordinator: (ThreadId, ConnId),
        ignore_conflicts: bool,
        shard_clock_ms: u64,
    ) -> bool {
        assert!(
            !self.queue.contains_key(&txid),
            "{txid:?} (coordinator {coordinator:?}) scheduled twice"
        );
        let below_highest = self.queue.last_key_value().is_some_and(|(h, _)| *h > txid);
        if below_highest {
            if !self.accepts_conflicting_lower && self.conflicts_above(txid, &locks) {
                self.stats.refused += 1;
                return false;
            }
            self.stats.out_of_order += 1;
        }
        let turn = if ignore_conflicts || !self.conflicts_below(txid, &locks) {
            Turn::Runnable
        } else {
            Turn::Blocked
        };
        self.take_intents(txid, &locks);
        self.queue.insert(
            txid,
            QueuedTx {
                locks,
                turn,
                planted_runnable: ignore_conflicts,
                parked: VecDeque::new(),
                watch: None,
                coordinator,
                scheduled_at_ms: shard_clock_ms,
            },
        );
        true
    }

    /// The earliest time any queued transaction can read at: each reads at a time fixed once it
    /// is runnable on every shard, never before this shard's clock when it was scheduled here.
    /// A key due by then is expired for all of them, so the sweep may delete it.
    pub fn earliest_read_ms(&self) -> Option<u64> {
        self.queue.values().map(|tx| tx.scheduled_at_ms).min()
    }

    /// Whether `locks` conflict with a transaction above `txid` queued here.
    fn conflicts_above(&self, txid: TxId, locks: &LockSet) -> bool {
        let above = (Bound::Excluded(txid), Bound::Unbounded);
        match locks {
            LockSet::Everything => self.queue.range(above).next().is_some(),
            LockSet::Keys(keys) => {
                self.everything.range(above).next().is_some()
                    || keys.iter().any(|(db, key, mode)| {
                        self.key_intents(*db, key)
                            .is_some_and(|i| i.conflicts_above(txid, *mode))
                    })
            }
        }
    }

    /// Whether `locks` conflict with a transaction below `txid` queued here: while they do,
    /// `txid` may not run.
    fn conflicts_below(&self, txid: TxId, locks: &LockSet) -> bool {
        match locks {
            LockSet::Everything => self.queue.first_key_value().is_some_and(|(h, _)| *h < txid),
            LockSet::Keys(keys) => {
                self.everything.first().is_some_and(|e| *e < txid)
                    || keys.iter().any(|(db, key, mode)| {
                        self.key_intents(*db, key)
                            .is_some_and(|i| i.conflicts_below(txid, *mode))
                    })
            }
        }
    }

    fn take_intents(&mut self, txid: TxId, locks: &LockSet) {
        let LockSet::Keys(keys) = locks else {
            self.everything.insert(txid);
            return;
        };
        for (db, key, mode) in keys {
            let by_key = self.intents.entry(*db).or_default();
            if !by_key.contains_key(key.as_slice()) {
                by_key.insert(key.clone(), KeyIntents::default());
            }
            let intents = by_key.get_mut(key.as_slice()).expect("inserted above");
            let holders = intents.holders_mut(*mode);
            let at = holders.partition_point(|h| *h <= txid);
            holders.insert(at, txid);
        }
    }

    /// Gives up `txid`'s intents; returns the transactions above it that its leaving may have
    /// let run (each still to be checked against its other keys).
    fn release_intents(&mut self, txid: TxId, locks: &LockSet) -> Vec<TxId> {
        let mut unblocked = Vec::new();
        let LockSet::Keys(keys) = locks else {
            let held = self.everything.remove(&txid);
            assert!(held, "{txid:?} released an everything lock it did not hold");
            if self.everything.first().is_none_or(|e| *e > txid) {
                let next = self.everything.first().copied();
                let above = (
                    Bound::Excluded(txid),
                    next.map_or(Bound::Unbounded, Bound::Excluded),
                );
                unblocked.extend(self.queue.range(above).map(|(t, _)| *t));
            }
            return unblocked;
        };
        for (db, key, mode) in keys {
            let by_key = self
                .intents
                .get_mut(db)
                .expect("intents of a locked database");
            let intents = by_key.get_mut(key.as_slice()).unwrap_or_else(|| {
                panic!("{txid:?} releases db {db} key {key:?}, which has no intents")
            });
            let holders = intents.holders_mut(*mode);
            let at = holders
                .binary_search(&txid)
                .unwrap_or_else(|_| panic!("{txid:?} held no {mode:?} intent on {key:?}"));
            holders.remove(at);
            intents.unblocked_by(txid, *mode, &mut unblocked);
            if intents.is_empty() {
                by_key.remove(key.as_slice());
                if by_key.is_empty() {
                    self.intents.remove(db);
                }
            }
        }
        unblocked
    }

    pub fn contains(&self, txid: TxId) -> bool {
        self.queue.contains_key(&txid)
    }

    /// Whether `txid`'s hops may run now: no lower transaction queued here conflicts with it.
    pub fn runnable(&self, txid: TxId) -> bool {
        self.queue
            .get(&txid)
            .is_some_and(|tx| tx.turn == Turn::Runnable)
    }

    pub fn park(&mut self, txid: TxId, hop: W) {
        let tx = self
            .queue
            .get_mut(&txid)
            .unwrap_or_else(|| panic!("parking a hop of {txid:?}, which is not queued"));
        tx.parked.push_back(hop);
    }

    /// Asks to be told (by `take_runnable_watches`) when `txid` becomes runnable.
    pub fn watch_runnable(&mut self, txid: TxId, watch: RunnableWatch) {
        let tx = self
            .queue
            .get_mut(&txid)
            .unwrap_or_else(|| panic!("watching {txid:?}, which is not queued"));
        tx.watch = Some(watch);
    }

    /// Removes `txid` (concluded or cancelled), releases its intents and lets run the higher
    /// transactions that waited only for it.
    pub fn remove(&mut self, txid: TxId) {
        let tx = self
            .queue
            .remove(&txid)
            .unwrap_or_else(|| panic!("concluding {txid:?}, which is not queued"));
        assert!(
            tx.parked.is_empty(),
            "{txid:?} (coordinator {:?}) concluded with parked hops",
            tx.coordinator
        );
        let mut unblocked = self.release_intents(txid, &tx.locks);
        // An everything lock waits for every lower transaction: it may run once it is the head.
        if let Some(head) = self.everything.first() {
            if self.queue.first_key_value().is_some_and(|(h, _)| h == head) {
                unblocked.push(*head);
            }
        }
        for candidate in unblocked {
            let Some(waiting) = self.queue.get(&candidate) else {
                unreachable!("{candidate:?} holds intents but is not queued")
            };
            if waiting.turn == Turn::Blocked && !self.conflicts_below(candidate, &waiting.locks) {
                self.queue.get_mut(&candidate).expect("queued").turn = Turn::Runnable;
            }
        }
    }

    /// Hops that can run now that the queue changed: those of the runnable transactions.
    pub fn take_runnable_hops(&mut self) -> Vec<W> {
        let mut ready = Vec::new();
        for tx in self.queue.values_mut() {
            if tx.turn == Turn::Runnable && !tx.parked.is_empty() {
                ready.extend(tx.parked.drain(..));
            }
        }
        ready
    }

    /// The coordinators to tell, now that the queue changed, that their transaction can run.
    pub fn take_runnable_watches(&mut self) -> Vec<(TxId, RunnableWatch)> {
        let mut ready = Vec::new();
        for (txid, tx) in self.queue.iter_mut() {
            if tx.turn == Turn::Runnable {
                if let Some(watch) = tx.watch.take() {
                    ready.push((*txid, watch));
                }
            }
        }
        ready
    }

    /// Checks that the intents are the queued transactions' locks, and that a transaction is
    /// runnable exactly when no lower queued one conflicts with it: none waits forever (a lost
    /// wake-up) and none runs early.
    pub fn check_invariants(&self) {
        let mut expected = TxQueue::<()>::default();
        for (txid, tx) in &self.queue {
            expected.take_intents(*txid, &tx.locks);
        }
        assert_eq!(
            expected.intents, self.intents,
            "intents out of step with the queue"
        );
        assert_eq!(
            expected.everything, self.everything,
            "everything locks out of step with the queue"
        );
        for (txid, tx) in &self.queue {
            let blocked = self.conflicts_below(*txid, &tx.locks);
            let turn = if blocked && !tx.planted_runnable {
                Turn::Blocked
            } else {
                Turn::Runnable
            };
            assert_eq!(
                tx.turn, turn,
                "{txid:?} (coordinator {:?}): turn out of step with the queue",
                tx.coordinator
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[(&str, LockMode)]) -> LockSet {
        LockSet::Keys(
            list.iter()
                .map(|(k, m)| (0, k.as_bytes().to_vec(), *m))
                .collect(),
        )
    }

    fn x(key: &str) -> LockSet {
        keys(&[(key, LockMode::Exclusive)])
    }

    fn s(key: &str) -> LockSet {
        keys(&[(key, LockMode::Shared)])
    }

    const WHO: (ThreadId, ConnId) = (ThreadId(0), ConnId(1));

    fn schedule(q: &mut TxQueue<()>, txid: u64, locks: LockSet) -> bool {
        let accepted = q.schedule(TxId(txid), locks, WHO, false, 0);
        q.check_invariants();
        accepted
    }

    fn remove(q: &mut TxQueue<()>, txid: u64) {
        q.remove(TxId(txid));
        q.check_invariants();
    }

    #[test]
    fn the_earliest_read_is_the_oldest_schedule_clock_still_queued() {
        let mut q = TxQueue::<()>::default();
        assert_eq!(q.earliest_read_ms(), None);
        assert!(q.schedule(TxId(7), x("a"), WHO, false, 500));
        assert!(q.schedule(TxId(3), x("b"), WHO, false, 800));
        assert!(q.schedule(TxId(9), x("a"), WHO, false, 650));
        assert_eq!(q.earliest_read_ms(), Some(500));
        remove(&mut q, 7);
        assert_eq!(
            q.earliest_read_ms(),
            Some(650),
            "a lower txid may carry a later clock"
        );
        remove(&mut q, 9);
        remove(&mut q, 3);
        assert_eq!(q.earliest_read_ms(), None);
    }

    #[test]
    fn a_lower_txid_that_conflicts_with_nothing_higher_is_accepted() {
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 5, x("a")));
        assert!(schedule(&mut q, 3, x("b")), "other key: no order to break");
        assert!(q.runnable(TxId(3)) && q.runnable(TxId(5)));
        assert_eq!(
            q.stats(),
            TxStats {
                refused: 0,
                out_of_order: 1
            }
        );
    }

    #[test]
    fn a_lower_txid_that_conflicts_with_a_queued_higher_one_is_refused() {
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 5, x("a")));
        assert!(!schedule(&mut q, 3, s("a")), "reads what 5 writes");
        assert!(!schedule(
            &mut q,
            4,
            keys(&[("b", LockMode::Shared), ("a", LockMode::Shared)])
        ));
        assert!(schedule(&mut q, 6, s("a")), "a higher one queues behind");
        assert!(!q.runnable(TxId(6)));
        assert_eq!(q.stats().refused, 2);
    }

    #[test]
    fn a_lower_txid_that_conflicts_with_a_concluded_higher_one_is_accepted() {
        // 5 ran here at its point; 3 is not runnable anywhere yet, so its point comes later.
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 5, x("a")));
        remove(&mut q, 5);
        assert!(schedule(&mut q, 3, x("a")));
        assert!(q.runnable(TxId(3)));
    }

    #[test]
    fn shared_intents_never_conflict() {
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 5, s("a")));
        assert!(schedule(&mut q, 3, s("a")), "two readers in either order");
        assert!(q.runnable(TxId(3)) && q.runnable(TxId(5)));
        assert!(
            !schedule(&mut q, 4, x("a")),
            "a writer below a queued reader"
        );
        assert!(schedule(&mut q, 7, x("a")));
        assert!(!q.runnable(TxId(7)));
        assert!(q.blocks(0, b"a", LockMode::Shared), "a writer is queued");
        remove(&mut q, 5);
        assert!(!q.runnable(TxId(7)), "still behind 3");
        remove(&mut q, 3);
        assert!(q.runnable(TxId(7)));
    }

    #[test]
    fn everything_conflicts_with_every_queued_transaction() {
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 5, x("a")));
        assert!(
            !schedule(&mut q, 4, LockSet::Everything),
            "5 is queued above"
        );
        assert!(schedule(&mut q, 6, LockSet::Everything));
        assert!(!q.runnable(TxId(6)));
        assert!(
            !schedule(&mut q, 3, s("zzz")),
            "below a queued everything lock"
        );
        assert!(q.blocks(3, b"any", LockMode::Shared));
        assert!(schedule(&mut q, 7, s("b")));
        assert!(!q.runnable(TxId(7)), "behind the everything lock");
        remove(&mut q, 5);
        assert!(q.runnable(TxId(6)) && !q.runnable(TxId(7)));
        remove(&mut q, 6);
        assert!(q.runnable(TxId(7)));
        remove(&mut q, 7);
        assert!(
            schedule(&mut q, 2, LockSet::Everything),
            "nothing queued above"
        );
        assert!(q.runnable(TxId(2)));
    }

    #[test]
    fn a_transaction_waits_only_for_the_lower_ones_it_conflicts_with() {
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 1, x("a")));
        assert!(schedule(&mut q, 2, x("b")));
        assert!(schedule(
            &mut q,
            3,
            keys(&[("b", LockMode::Shared), ("c", LockMode::Shared)])
        ));
        assert!(schedule(&mut q, 4, s("c")));
        assert!(q.runnable(TxId(1)) && q.runnable(TxId(2)));
        assert!(!q.runnable(TxId(3)), "reads what 2 writes");
        assert!(q.runnable(TxId(4)), "shared with shared");
        remove(&mut q, 2);
        assert!(
            q.runnable(TxId(3)),
            "1 is still queued, but conflicts with nothing of 3's"
        );
    }

    #[test]
    fn a_lower_arrival_leaves_a_waiting_higher_one_as_it_was() {
        // 2 waits for 1; 1 concludes and 2 is runnable, then a lower 0 that touches other keys
        // arrives: 2 must stay runnable (its coordinator may have launched it already).
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 1, x("a")));
        assert!(schedule(&mut q, 2, x("a")));
        assert!(!q.runnable(TxId(2)));
        remove(&mut q, 1);
        assert!(q.runnable(TxId(2)));
        assert!(schedule(&mut q, 0, x("b")));
        assert!(q.runnable(TxId(0)) && q.runnable(TxId(2)));
    }

    #[test]
    fn a_key_named_twice_counts_both_intents() {
        let mut q = TxQueue::<()>::default();
        assert!(schedule(
            &mut q,
            1,
            keys(&[("a", LockMode::Exclusive), ("a", LockMode::Exclusive)])
        ));
        assert!(schedule(
            &mut q,
            2,
            keys(&[("a", LockMode::Shared), ("a", LockMode::Shared)])
        ));
        assert!(!q.runnable(TxId(2)));
        remove(&mut q, 1);
        assert!(q.runnable(TxId(2)));
        remove(&mut q, 2);
        assert!(q.is_empty() && q.intents.is_empty());
    }

    #[test]
    fn plain_commands_wait_behind_conflicting_intents_only() {
        let mut q = TxQueue::<()>::default();
        assert!(!q.blocks(0, b"a", LockMode::Exclusive), "empty queue");
        assert!(schedule(&mut q, 1, x("a")));
        assert!(schedule(&mut q, 2, s("b")));
        assert!(q.blocks(0, b"a", LockMode::Shared));
        assert!(!q.blocks(0, b"b", LockMode::Shared));
        assert!(q.blocks(0, b"b", LockMode::Exclusive));
        assert!(!q.blocks(1, b"a", LockMode::Exclusive), "another database");
    }

    #[test]
    fn cancelling_unblocks_like_concluding() {
        let mut q = TxQueue::<()>::default();
        assert!(schedule(&mut q, 1, x("a")));
        assert!(schedule(&mut q, 2, x("a")));
        remove(&mut q, 1);
        assert!(q.runnable(TxId(2)));
    }

    #[test]
    #[should_panic(expected = "turn out of step")]
    fn the_invariants_catch_a_conflicting_lower_txid_let_in() {
        let mut q = TxQueue::<()>::default();
        q.plant_accept_conflicting_lower(true);
        assert!(schedule(&mut q, 5, x("a")));
        q.schedule(TxId(3), x("a"), WHO, false, 0);
        assert!(
            q.runnable(TxId(3)) && q.runnable(TxId(5)),
            "both run: the bug"
        );
        q.check_invariants();
    }

    /// Whether two lock sets conflict, the plain way: the model the queue must agree with.
    fn model_conflict(a: &LockSet, b: &LockSet) -> bool {
        let (LockSet::Keys(a), LockSet::Keys(b)) = (a, b) else {
            return true;
        };
        a.iter().any(|(adb, akey, amode)| {
            b.iter().any(|(bdb, bkey, bmode)| {
                adb == bdb
                    && akey == bkey
                    && (*amode == LockMode::Exclusive || *bmode == LockMode::Exclusive)
            })
        })
    }

    /// Random schedules and removals against the plain definitions: refused exactly when a
    /// higher queued transaction conflicts; runnable exactly when no lower queued one does.
    #[test]
    fn the_queue_agrees_with_the_plain_definitions() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        for _round in 0..200 {
            let mut q = TxQueue::<()>::default();
            let mut model: BTreeMap<u64, LockSet> = BTreeMap::new();
            for _step in 0..60 {
                if next(3) == 0 && !model.is_empty() {
                    let at = next(model.len() as u64) as usize;
                    let txid = *model.keys().nth(at).unwrap();
                    model.remove(&txid);
                    remove(&mut q, txid);
                } else {
                    let txid = next(40);
                    if model.contains_key(&txid) {
                        continue;
                    }
                    let locks = if next(15) == 0 {
                        LockSet::Everything
                    } else {
                        let names = ["a", "b", "c", "d"];
                        let list: Vec<(&str, LockMode)> = (0..1 + next(3))
                            .map(|_| {
                                let mode = if next(2) == 0 {
                                    LockMode::Shared
                                } else {
                                    LockMode::Exclusive
                                };
                                (names[next(4) as usize], mode)
                            })
                            .collect();
                        keys(&list)
                    };
                    let refuse = model
                        .range(txid + 1..)
                        .any(|(_, held)| model_conflict(held, &locks));
                    assert_eq!(schedule(&mut q, txid, locks.clone()), !refuse);
                    if !refuse {
                        model.insert(txid, locks);
                    }
                }
                for (txid, locks) in &model {
                    let blocked = model
                        .range(..txid)
                        .any(|(_, lower)| model_conflict(lower, locks));
                    assert_eq!(q.runnable(TxId(*txid)), !blocked, "{txid} in {model:?}");
                }
            }
        }
    }
}
