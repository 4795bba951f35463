//! VLL on one shard: the transaction queue and the intent locks (after Ren, Thomson and Abadi,
//! "VLL: a lock manager redesign for main memory database systems", as Dragonfly adapts it).
//!
//! Every key a queued transaction touches carries its intent (shared for reads, exclusive for
//! writes), recorded with its txid. Each queued transaction counts its *blockers*: its conflicts
//! with lower txids queued here. It may run when it has none. One that had none when scheduled
//! is VLL's *free* transaction and runs at once, out of queue order; the head of the queue never
//! has any. So a conflicting transaction waits for the lower ones it conflicts with, not for
//! every lower one. A command that is not part of a transaction runs at once unless one of its
//! keys carries a conflicting intent; then it is queued like a one-hop transaction under a fresh
//! (highest) txid.
//!
//! Admission: a shard accepts a txid lower than ones it has queued unless the newcomer conflicts
//! with a *higher queued* transaction; only then does it refuse (the coordinator cancels
//! everywhere and retries with a fresh txid). Dragonfly refuses any txid below the highest it
//! has scheduled, whatever its keys: on two threads under pipelining that cost more than ten
//! retries per MSET (papers/vll.md).
//!
//! Why that is enough. On every shard:
//! 1. Of two conflicting transactions queued together, the higher cannot run until the lower is
//!    gone: the later scheduled is the higher (else it was refused) and counted the lower.
//! 2. Once runnable, a transaction stays runnable until it concludes here: a later arrival never
//!    adds to a queued transaction's blockers (a lower one that would is refused, a higher one
//!    counts only its own).
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
//! newcomer's. Nor deadlock: a transaction waits only for lower txids (its blockers here; on
//! other shards, where it waits for lower ones), and such waits cannot close a cycle.
//!
//! Invariants: the per-key intents are exactly the queued transactions' locks, and each queued
//! transaction's blocker count equals its conflicts with the lower queued ones.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;

use crate::cx::{ConnId, ThreadId};
use crate::hop::Hop;

/// A transaction's place in the global order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxId(pub u64);

/// How a transaction uses a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

impl LockMode {
    /// Two intents on one key conflict unless both are shared.
    fn conflicts_with(self, other: LockMode) -> bool {
        match (self, other) {
            (LockMode::Shared, LockMode::Shared) => false,
            (LockMode::Shared, LockMode::Exclusive)
            | (LockMode::Exclusive, LockMode::Shared)
            | (LockMode::Exclusive, LockMode::Exclusive) => true,
        }
    }
}

/// What a transaction locks on one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockSet {
    /// (database, key, mode) for each key it touches here.
    Keys(Vec<(u16, Vec<u8>, LockMode)>),
    /// Every key of every database (FLUSHALL, FLUSHDB, SWAPDB, the snapshot cut).
    Everything,
}

/// The intents queued transactions hold on one key: one (txid, mode) per lock, in txid order, a
/// transaction that names a key twice holding two. Rarely more than a few.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct KeyIntents(Vec<(TxId, LockMode)>);

impl KeyIntents {
    fn conflicts(&self, mode: LockMode) -> bool {
        self.0.iter().any(|(_, held)| held.conflicts_with(mode))
    }

    /// Whether a transaction above `txid` holds an intent conflicting with `mode`.
    fn conflicts_above(&self, txid: TxId, mode: LockMode) -> bool {
        self.0
            .iter()
            .any(|(holder, held)| *holder > txid && held.conflicts_with(mode))
    }

    /// How many intents below `txid` conflict with `mode`.
    fn conflicts_below(&self, txid: TxId, mode: LockMode) -> u32 {
        let below = self
            .0
            .iter()
            .filter(|(holder, held)| *holder < txid && held.conflicts_with(mode));
        below.count() as u32
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

#[derive(Debug)]
struct QueuedTx {
    locks: LockSet,
    /// Conflicts with lower queued transactions (pairs of intents on a shared key; one for each
    /// lower transaction when either side locks everything). Runnable at zero.
    blockers: u32,
    /// The planted bug `run-conflicting-out-of-order`: runnable whatever its blockers.
    ignores_blockers: bool,
    /// Hops waiting for this transaction to become runnable, in arrival order.
    parked: VecDeque<Hop>,
    /// The coordinator waiting to hear that this transaction can run here.
    watch: Option<RunnableWatch>,
    /// Who coordinates it, for assertion messages.
    coordinator: (ThreadId, ConnId),
}

impl QueuedTx {
    fn runnable(&self) -> bool {
        self.blockers == 0 || self.ignores_blockers
    }
}

/// Counters of one shard's scheduling, for INFO.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Schedules refused: each costs its coordinator a cancel and a retry.
    pub refused: u64,
    /// Schedules accepted below a higher txid already queued here.
    pub out_of_order: u64,
}

#[derive(Debug, Default)]
pub struct TxQueue {
    queue: BTreeMap<TxId, QueuedTx>,
    intents: IntentMap,
    /// Queued transactions holding `LockSet::Everything`.
    everything: BTreeSet<TxId>,
    stats: TxStats,
    /// The planted bug `accept-conflicting-lower-txid`: admit a transaction below a conflicting
    /// queued one (both may then run, in either order).
    accepts_conflicting_lower: bool,
}

impl TxQueue {
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
    pub fn schedule(
        &mut self,
        txid: TxId,
        locks: LockSet,
        coordinator: (ThreadId, ConnId),
        ignore_conflicts: bool,
    ) -> bool {
        assert!(
            !self.queue.contains_key(&txid),
            "{txid:?} (coordinator {coordinator:?}) scheduled twice"
        );
        let below_highest = self.queue.last_key_value().is_some_and(|(h, _)| *h > txid);
        if below_highest && !self.accepts_conflicting_lower && self.conflicts_above(txid, &locks) {
            self.stats.refused += 1;
            return false;
        }
        if below_highest {
            self.stats.out_of_order += 1;
        }
        let blockers = self.conflicts_below(txid, &locks);
        self.take_intents(txid, &locks);
        self.queue.insert(
            txid,
            QueuedTx {
                locks,
                blockers,
                ignores_blockers: ignore_conflicts,
                parked: VecDeque::new(),
                watch: None,
                coordinator,
            },
        );
        true
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

    /// How many conflicts `locks` have with transactions below `txid` queued here: the count a
    /// transaction scheduled now starts with.
    fn conflicts_below(&self, txid: TxId, locks: &LockSet) -> u32 {
        match locks {
            LockSet::Everything => self.queue.range(..txid).count() as u32,
            LockSet::Keys(keys) => {
                let everything = self.everything.range(..txid).count() as u32;
                let keyed: u32 = keys
                    .iter()
                    .filter_map(|(db, key, mode)| {
                        Some(self.key_intents(*db, key)?.conflicts_below(txid, *mode))
                    })
                    .sum();
                everything + keyed
            }
        }
    }

    fn take_intents(&mut self, txid: TxId, locks: &LockSet) {
        match locks {
            LockSet::Everything => {
                self.everything.insert(txid);
            }
            LockSet::Keys(keys) => {
                for (db, key, mode) in keys {
                    let by_key = self.intents.entry(*db).or_default();
                    match by_key.get_mut(key.as_slice()) {
                        Some(intents) => {
                            let at = intents.0.partition_point(|(held, _)| *held <= txid);
                            intents.0.insert(at, (txid, *mode));
                        }
                        None => {
                            by_key.insert(key.clone(), KeyIntents(vec![(txid, *mode)]));
                        }
                    }
                }
            }
        }
    }

    fn release_intents(&mut self, txid: TxId, locks: &LockSet) {
        match locks {
            LockSet::Everything => {
                let held = self.everything.remove(&txid);
                assert!(held, "{txid:?} released an everything lock it did not hold");
            }
            LockSet::Keys(keys) => {
                for (db, key, mode) in keys {
                    let by_key = self
                        .intents
                        .get_mut(db)
                        .expect("intents of a locked database");
                    let intents = by_key.get_mut(key.as_slice()).unwrap_or_else(|| {
                        panic!("{txid:?} releases db {db} key {key:?}, which has no intents")
                    });
                    let at = intents
                        .0
                        .iter()
                        .position(|held| *held == (txid, *mode))
                        .unwrap_or_else(|| panic!("{txid:?} held no {mode:?} intent on {key:?}"));
                    intents.0.remove(at);
                    if intents.0.is_empty() {
                        by_key.remove(key.as_slice());
                        if by_key.is_empty() {
                            self.intents.remove(db);
                        }
                    }
                }
            }
        }
    }

    /// Takes what `txid`, which held `locks`, blocked off the blocker counts of the higher
    /// queued transactions.
    fn unblock_above(&mut self, txid: TxId, locks: &LockSet) {
        let above = (Bound::Excluded(txid), Bound::Unbounded);
        let adjust = |queue: &mut BTreeMap<TxId, QueuedTx>, holder: TxId| {
            let tx = queue
                .get_mut(&holder)
                .expect("intents of a queued transaction");
            tx.blockers = tx.blockers.checked_sub(1).unwrap_or_else(|| {
                panic!(
                    "{holder:?} (coordinator {:?}): {txid:?} was not counted",
                    tx.coordinator
                )
            });
        };
        match locks {
            LockSet::Everything => {
                let higher: Vec<TxId> = self.queue.range(above).map(|(t, _)| *t).collect();
                for holder in higher {
                    adjust(&mut self.queue, holder);
                }
            }
            LockSet::Keys(keys) => {
                for &holder in self.everything.range(above) {
                    adjust(&mut self.queue, holder);
                }
                for (db, key, mode) in keys {
                    let Some(intents) = self.intents.get(db).and_then(|k| k.get(key.as_slice()))
                    else {
                        continue;
                    };
                    for (holder, held) in &intents.0 {
                        if *holder > txid && held.conflicts_with(*mode) {
                            adjust(&mut self.queue, *holder);
                        }
                    }
                }
            }
        }
    }

    pub fn contains(&self, txid: TxId) -> bool {
        self.queue.contains_key(&txid)
    }

    /// Whether `txid`'s hops may run now: no lower transaction queued here conflicts with it.
    pub fn runnable(&self, txid: TxId) -> bool {
        self.queue.get(&txid).is_some_and(QueuedTx::runnable)
    }

    pub fn park(&mut self, txid: TxId, hop: Hop) {
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

    /// Removes `txid` (concluded or cancelled), releases its intents and unblocks the higher
    /// transactions that conflicted with it.
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
        self.release_intents(txid, &tx.locks);
        self.unblock_above(txid, &tx.locks);
    }

    /// Hops that can run now that the queue changed: those of the runnable transactions.
    pub fn take_runnable_hops(&mut self) -> Vec<Hop> {
        let mut ready = Vec::new();
        for tx in self.queue.values_mut() {
            if tx.runnable() && !tx.parked.is_empty() {
                ready.extend(tx.parked.drain(..));
            }
        }
        ready
    }

    /// The coordinators to tell, now that the queue changed, that their transaction can run.
    pub fn take_runnable_watches(&mut self) -> Vec<(TxId, RunnableWatch)> {
        let mut ready = Vec::new();
        for (txid, tx) in self.queue.iter_mut() {
            if tx.runnable() {
                if let Some(watch) = tx.watch.take() {
                    ready.push((*txid, watch));
                }
            }
        }
        ready
    }

    /// Checks that the intents are the queued transactions' locks and that every blocker count
    /// is the transaction's conflicts with the lower queued ones.
    pub fn check_invariants(&self) {
        let mut expected = TxQueue::default();
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
            assert_eq!(
                tx.blockers,
                self.conflicts_below(*txid, &tx.locks),
                "{txid:?} (coordinator {:?}): blocker count out of step with the queue",
                tx.coordinator
            );
        }
        if let Some((head, tx)) = self.queue.first_key_value() {
            assert!(
                tx.blockers == 0,
                "the head {head:?} waits for {} blockers",
                tx.blockers
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

    fn schedule(q: &mut TxQueue, txid: u64, locks: LockSet) -> bool {
        let accepted = q.schedule(TxId(txid), locks, WHO, false);
        q.check_invariants();
        accepted
    }

    fn remove(q: &mut TxQueue, txid: u64) {
        q.remove(TxId(txid));
        q.check_invariants();
    }

    #[test]
    fn a_lower_txid_that_conflicts_with_nothing_higher_is_accepted() {
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
        assert!(schedule(&mut q, 5, x("a")));
        remove(&mut q, 5);
        assert!(schedule(&mut q, 3, x("a")));
        assert!(q.runnable(TxId(3)));
    }

    #[test]
    fn shared_intents_never_conflict() {
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
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
        let mut q = TxQueue::default();
        assert!(schedule(&mut q, 1, x("a")));
        assert!(schedule(&mut q, 2, x("a")));
        remove(&mut q, 1);
        assert!(q.runnable(TxId(2)));
    }

    #[test]
    #[should_panic(expected = "blocker count out of step")]
    fn the_invariants_catch_a_conflicting_lower_txid_let_in() {
        let mut q = TxQueue::default();
        q.plant_accept_conflicting_lower(true);
        assert!(schedule(&mut q, 5, x("a")));
        q.schedule(TxId(3), x("a"), WHO, false);
        assert!(
            q.runnable(TxId(3)) && q.runnable(TxId(5)),
            "both run: the bug"
        );
        q.check_invariants();
    }
}
