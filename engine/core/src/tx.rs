//! VLL on one shard: the transaction queue and the intent locks (after Ren, Thomson and Abadi,
//! "VLL: a lock manager redesign for main memory database systems", as Dragonfly adapts it).
//!
//! Every key a scheduled transaction touches carries counters of shared and exclusive intents.
//! Transactions enter the queue in txid order (a shard refuses a txid lower than one it already
//! scheduled, and the coordinator retries with a fresh one), so every shard orders conflicting
//! transactions the same way and no cycle of waits can form: no deadlock by construction.
//!
//! A transaction is *free* when, as it was scheduled, none of its keys carried a conflicting
//! intent: nothing earlier can touch its keys, so its hops may run at once, out of queue order.
//! Any other transaction runs only at the head of the queue. A command that is not part of a
//! transaction runs at once unless one of its keys carries a conflicting intent; then it is
//! queued like a one-hop transaction behind the ones it conflicts with.
//!
//! Invariant: the lock counters equal the sum of the intents of the queued transactions.

use std::collections::{BTreeMap, VecDeque};

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

/// What a transaction locks on one shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockSet {
    /// (database, key, mode) for each key it touches here.
    Keys(Vec<(u16, Vec<u8>, LockMode)>),
    /// Every key of every database (FLUSHALL, FLUSHDB, SWAPDB, the snapshot cut).
    Everything,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Intents {
    shared: u32,
    exclusive: u32,
}

impl Intents {
    fn conflicts(&self, mode: LockMode) -> bool {
        match mode {
            LockMode::Shared => self.exclusive > 0,
            LockMode::Exclusive => self.exclusive > 0 || self.shared > 0,
        }
    }
}

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
    free: bool,
    /// Hops waiting for this transaction to become runnable, in arrival order.
    parked: VecDeque<Hop>,
    /// The coordinator waiting to hear that this transaction can run here.
    watch: Option<RunnableWatch>,
    /// Who coordinates it, for assertion messages.
    coordinator: (ThreadId, ConnId),
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
    stats: TxStats,
    /// The highest txid ever scheduled here; lower ones are refused.
    last_scheduled: Option<TxId>,
    intents: BTreeMap<(u16, Vec<u8>), Intents>,
    /// Transactions holding `LockSet::Everything`.
    global_holders: u32,
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

    /// Whether a command outside any transaction must wait before touching `key` in `mode`.
    /// Costs one emptiness check when nothing is scheduled: the common case.
    pub fn blocks(&self, db: u16, key: &[u8], mode: LockMode) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        if self.global_holders > 0 {
            return true;
        }
        self.intents
            .get(&(db, key.to_vec()))
            .is_some_and(|i| i.conflicts(mode))
    }

    /// Whether a transaction with `locks` would conflict with any queued one.
    fn conflicts(&self, locks: &LockSet) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        match locks {
            LockSet::Everything => true,
            LockSet::Keys(keys) => {
                self.global_holders > 0
                    || keys.iter().any(|(db, key, mode)| {
                        self.intents
                            .get(&(*db, key.clone()))
                            .is_some_and(|i| i.conflicts(*mode))
                    })
            }
        }
    }

    /// Enters `txid` into the queue and takes its intents. Refused (false) when a higher txid
    /// was already scheduled here: the coordinator must cancel everywhere and retry.
    /// `ignore_conflicts` is the planted bug that makes every transaction free.
    pub fn schedule(
        &mut self,
        txid: TxId,
        locks: LockSet,
        coordinator: (ThreadId, ConnId),
        ignore_conflicts: bool,
    ) -> bool {
        if self.last_scheduled.is_some_and(|last| txid <= last) {
            self.stats.refused += 1;
            return false;
        }
        self.last_scheduled = Some(txid);
        let free = ignore_conflicts || !self.conflicts(&locks);
        self.add_intents(&locks, 1);
        self.queue.insert(
            txid,
            QueuedTx {
                locks,
                free,
                parked: VecDeque::new(),
                watch: None,
                coordinator,
            },
        );
        true
    }

    fn add_intents(&mut self, locks: &LockSet, delta: i32) {
        match locks {
            LockSet::Everything => {
                self.global_holders = self
                    .global_holders
                    .checked_add_signed(delta)
                    .expect("global intents")
            }
            LockSet::Keys(keys) => {
                for (db, key, mode) in keys {
                    let intents = self.intents.entry((*db, key.clone())).or_default();
                    let counter = match mode {
                        LockMode::Shared => &mut intents.shared,
                        LockMode::Exclusive => &mut intents.exclusive,
                    };
                    *counter = counter
                        .checked_add_signed(delta)
                        .expect("intent counter underflow");
                    if *intents == Intents::default() {
                        self.intents.remove(&(*db, key.clone()));
                    }
                }
            }
        }
    }

    pub fn contains(&self, txid: TxId) -> bool {
        self.queue.contains_key(&txid)
    }

    /// Whether `txid`'s hops may run now: it is free, or first in the queue.
    pub fn runnable(&self, txid: TxId) -> bool {
        let Some(tx) = self.queue.get(&txid) else {
            return false;
        };
        tx.free || self.queue.keys().next() == Some(&txid)
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

    /// Removes `txid` (concluded or cancelled) and releases its intents.
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
        self.add_intents(&tx.locks, -1);
    }

    /// Hops that can run now that the queue changed: those of the runnable transactions.
    pub fn take_runnable_hops(&mut self) -> Vec<Hop> {
        let head = self.queue.keys().next().copied();
        let mut ready = Vec::new();
        for (txid, tx) in self.queue.iter_mut() {
            if (tx.free || Some(*txid) == head) && !tx.parked.is_empty() {
                ready.extend(tx.parked.drain(..));
            }
        }
        ready
    }

    /// The coordinators to tell, now that the queue changed, that their transaction can run.
    pub fn take_runnable_watches(&mut self) -> Vec<(TxId, RunnableWatch)> {
        let head = self.queue.keys().next().copied();
        let mut ready = Vec::new();
        for (txid, tx) in self.queue.iter_mut() {
            if tx.free || Some(*txid) == head {
                if let Some(watch) = tx.watch.take() {
                    ready.push((*txid, watch));
                }
            }
        }
        ready
    }

    /// Checks that the intent counters equal the sum of the queued transactions' locks.
    pub fn check_invariants(&self) {
        let mut expected: BTreeMap<(u16, Vec<u8>), Intents> = BTreeMap::new();
        let mut global = 0;
        for tx in self.queue.values() {
            match &tx.locks {
                LockSet::Everything => global += 1,
                LockSet::Keys(keys) => {
                    for (db, key, mode) in keys {
                        let i = expected.entry((*db, key.clone())).or_default();
                        match mode {
                            LockMode::Shared => i.shared += 1,
                            LockMode::Exclusive => i.exclusive += 1,
                        }
                    }
                }
            }
        }
        assert_eq!(
            expected, self.intents,
            "intent counters out of step with the queue"
        );
        assert_eq!(
            global, self.global_holders,
            "global intents out of step with the queue"
        );
        if let (Some(last), Some((max, _))) = (self.last_scheduled, self.queue.last_key_value()) {
            assert!(
                *max <= last,
                "queued {max:?} above the last scheduled {last:?}"
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

    const WHO: (ThreadId, ConnId) = (ThreadId(0), ConnId(1));

    #[test]
    fn lower_txids_are_refused() {
        let mut q = TxQueue::default();
        assert!(q.schedule(TxId(5), keys(&[("a", LockMode::Exclusive)]), WHO, false));
        assert!(!q.schedule(TxId(3), keys(&[("b", LockMode::Exclusive)]), WHO, false));
        assert!(q.schedule(TxId(6), keys(&[("b", LockMode::Exclusive)]), WHO, false));
        q.check_invariants();
    }

    #[test]
    fn free_transactions_run_out_of_order_and_conflicting_ones_wait() {
        let mut q = TxQueue::default();
        q.schedule(TxId(1), keys(&[("a", LockMode::Exclusive)]), WHO, false);
        q.schedule(TxId(2), keys(&[("b", LockMode::Shared)]), WHO, false);
        q.schedule(TxId(3), keys(&[("a", LockMode::Shared)]), WHO, false);
        q.schedule(TxId(4), keys(&[("b", LockMode::Shared)]), WHO, false);
        assert!(q.runnable(TxId(1)));
        assert!(q.runnable(TxId(2)), "no conflict: free");
        assert!(!q.runnable(TxId(3)), "reads a key tx 1 writes");
        assert!(q.runnable(TxId(4)), "shared with shared does not conflict");
        assert!(q.blocks(0, b"a", LockMode::Shared));
        assert!(!q.blocks(0, b"b", LockMode::Shared));
        assert!(q.blocks(0, b"b", LockMode::Exclusive));
        q.remove(TxId(1));
        q.remove(TxId(2));
        assert!(q.runnable(TxId(3)), "now at the head");
        q.remove(TxId(3));
        q.remove(TxId(4));
        assert!(q.is_empty());
        assert!(!q.blocks(0, b"a", LockMode::Exclusive));
        q.check_invariants();
    }

    #[test]
    fn everything_locks_block_all_keys() {
        let mut q = TxQueue::default();
        q.schedule(TxId(1), LockSet::Everything, WHO, false);
        assert!(q.blocks(3, b"any", LockMode::Shared));
        q.schedule(TxId(2), keys(&[("a", LockMode::Shared)]), WHO, false);
        assert!(!q.runnable(TxId(2)));
        q.remove(TxId(1));
        assert!(q.runnable(TxId(2)));
        q.check_invariants();
    }
}
