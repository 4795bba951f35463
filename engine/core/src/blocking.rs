//! Which keys of one shard have clients blocked on them (BLPOP and its kin), and which of those
//! keys a write has touched since the node last served its waiters: Redis's `blocking_keys` and
//! `ready_keys`. The waiters themselves (who, and what they run) belong to the node
//! (`node::blocking`); the shard only needs to know which keys to signal, so that the one write
//! path (`Shard::modified`) can mark a key ready without knowing about commands.
//!
//! Empty unless someone blocks, so a write costs one emptiness check.

use std::collections::{BTreeMap, BTreeSet};

/// A (database, key) pair.
pub type BlockedKey = (u16, Vec<u8>);

#[derive(Debug, Default)]
pub struct BlockedKeys {
    /// Waiters per key (a client blocked on one key twice counts once).
    waiters: BTreeMap<BlockedKey, u32>,
    /// Keys touched since the node last looked, in the order they were first touched (Redis
    /// serves ready keys in that order).
    ready: Vec<BlockedKey>,
    ready_set: BTreeSet<BlockedKey>,
}

impl BlockedKeys {
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// One more waiter on (db, key).
    pub fn add(&mut self, db: u16, key: &[u8]) {
        *self.waiters.entry((db, key.to_vec())).or_default() += 1;
    }

    /// One waiter fewer on (db, key).
    pub fn remove(&mut self, db: u16, key: &[u8]) {
        let k = (db, key.to_vec());
        if let Some(n) = self.waiters.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.waiters.remove(&k);
            }
        }
    }

    /// A write touched (db, key): ready when someone waits on it.
    pub fn signal(&mut self, db: u16, key: &[u8]) {
        if self.waiters.is_empty() {
            return;
        }
        let k = (db, key.to_vec());
        if self.waiters.contains_key(&k) && self.ready_set.insert(k.clone()) {
            self.ready.push(k);
        }
    }

    /// Every key with waiters in database `db` is ready (its contents were swapped).
    pub fn signal_db(&mut self, db: u16) {
        let keys: Vec<BlockedKey> = self
            .waiters
            .keys()
            .filter(|(d, _)| *d == db)
            .cloned()
            .collect();
        for (db, key) in keys {
            self.signal(db, &key);
        }
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The ready keys, oldest first; the list starts afresh.
    pub fn take_ready(&mut self) -> Vec<BlockedKey> {
        self.ready_set.clear();
        std::mem::take(&mut self.ready)
    }

    pub fn waiters_on(&self, db: u16, key: &[u8]) -> u32 {
        self.waiters.get(&(db, key.to_vec())).copied().unwrap_or(0)
    }

    pub fn check_invariants(&self) {
        assert_eq!(self.ready.len(), self.ready_set.len(), "ready keys twice");
        assert!(
            self.waiters.values().all(|&n| n > 0),
            "a key with no waiter"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_keys_with_waiters_become_ready_once_each_in_touch_order() {
        let mut keys = BlockedKeys::default();
        keys.signal(0, b"a");
        assert!(!keys.has_ready(), "nobody waits yet");
        keys.add(0, b"a");
        keys.add(0, b"b");
        keys.add(0, b"b");
        keys.signal(0, b"b");
        keys.signal(1, b"a");
        keys.signal(0, b"a");
        keys.signal(0, b"b");
        assert_eq!(
            keys.take_ready(),
            vec![(0, b"b".to_vec()), (0, b"a".to_vec())]
        );
        assert!(!keys.has_ready());
        keys.remove(0, b"b");
        assert_eq!(keys.waiters_on(0, b"b"), 1);
        keys.remove(0, b"b");
        keys.remove(0, b"a");
        assert!(keys.is_empty());
        keys.check_invariants();
    }
}
