//! WATCH on one shard: which connections watch which keys here, and which of them saw a
//! watched key modified since.
//!
//! A connection's EXEC fails when, since it watched key K: a command modified K (handlers call
//! `ExecCx::modified` where Redis calls signalModifiedKey: a write that really writes, even the
//! same value), a FLUSHDB/FLUSHALL/SWAPDB emptied or swapped K's database while K existed, or K
//! was alive when watched and is not alive any more (it expired, deleted or not). A key already
//! expired when watched that is deleted later fails nothing, as in Redis 7.0.
//!
//! The registry is empty unless someone watches, so a write costs one emptiness check.

use std::collections::{BTreeMap, BTreeSet};

use crate::env::{ConnId, ThreadId};

/// A watching connection: its thread and id.
pub type Watcher = (ThreadId, ConnId);
/// A watched key: (database, key).
type WatchedKey = (u16, Vec<u8>);

#[derive(Debug, Default)]
pub struct WatchRegistry {
    /// (database, key) → its watchers, each with whether the key was alive when watched.
    by_key: BTreeMap<WatchedKey, Vec<(Watcher, bool)>>,
    /// What each watcher watches here.
    by_watcher: BTreeMap<Watcher, Vec<WatchedKey>>,
    /// Watchers whose watched key was modified.
    dirty: BTreeSet<Watcher>,
}

impl WatchRegistry {
    pub fn is_empty(&self) -> bool {
        self.by_watcher.is_empty()
    }

    /// Starts watching (database, key); `alive` says whether the key lives now.
    pub fn watch(&mut self, who: Watcher, db: u16, key: &[u8], alive: bool) {
        let watchers = self.by_key.entry((db, key.to_vec())).or_default();
        if watchers.iter().any(|(w, _)| *w == who) {
            return; // watched already: the first WATCH's view stands, as in Redis
        }
        watchers.push((who, alive));
        self.by_watcher
            .entry(who)
            .or_default()
            .push((db, key.to_vec()));
    }

    /// A command modified (database, key): its watchers' transactions will fail.
    pub fn touch(&mut self, db: u16, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(watchers) = self.by_key.get(&(db, key.to_vec())) {
            self.dirty.extend(watchers.iter().map(|(w, _)| *w));
        }
    }

    /// The shard deleted (database, key) on its own, as eviction does: only the watchers that
    /// saw the key alive fail. One that watched it already past its deadline sees no change,
    /// as in Redis 7.0's touchWatchedKey (an expired key that is then deleted is logically
    /// unchanged); had the key come back to life since, the write that revived it failed the
    /// watcher already.
    pub fn touch_deleted(&mut self, db: u16, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(watchers) = self.by_key.get(&(db, key.to_vec())) {
            let saw_it_alive = watchers.iter().filter(|(_, alive)| *alive);
            self.dirty.extend(saw_it_alive.map(|(w, _)| *w));
        }
    }

    /// A database is being emptied or swapped: every watched key of `db` for which `exists`
    /// holds counts as modified.
    pub fn touch_db(&mut self, db: u16, mut exists: impl FnMut(&[u8]) -> bool) {
        for ((key_db, key), watchers) in &self.by_key {
            if *key_db == db && exists(key) {
                self.dirty.extend(watchers.iter().map(|(w, _)| *w));
            }
        }
    }

    /// Whether `who`'s transaction may run as far as this shard knows (`alive_now` tells
    /// whether a key lives now); forgets what `who` watched here either way.
    pub fn check_and_forget(
        &mut self,
        who: Watcher,
        mut alive_now: impl FnMut(u16, &[u8]) -> bool,
    ) -> bool {
        let mut clean = !self.dirty.contains(&who);
        for (db, key) in self.by_watcher.get(&who).into_iter().flatten() {
            let alive_then = self.by_key[&(*db, key.clone())]
                .iter()
                .any(|(w, alive)| *w == who && *alive);
            if clean && alive_then && !alive_now(*db, key) {
                clean = false;
            }
        }
        self.forget(who);
        clean
    }

    /// Drops everything `who` watches here (UNWATCH, EXEC, DISCARD, RESET, disconnect).
    pub fn forget(&mut self, who: Watcher) {
        self.dirty.remove(&who);
        let Some(keys) = self.by_watcher.remove(&who) else {
            return;
        };
        for key in keys {
            if let Some(watchers) = self.by_key.get_mut(&key) {
                watchers.retain(|(w, _)| *w != who);
                if watchers.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }

    /// The two indexes describe the same watches, and only watchers are dirty.
    pub fn check_invariants(&self) {
        let from_keys: usize = self.by_key.values().map(Vec::len).sum();
        let from_watchers: usize = self.by_watcher.values().map(Vec::len).sum();
        assert_eq!(from_keys, from_watchers, "watch indexes out of step");
        for w in &self.dirty {
            assert!(
                self.by_watcher.contains_key(w),
                "dirty watcher {w:?} watches nothing"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Watcher = (ThreadId(0), ConnId(1));
    const B: Watcher = (ThreadId(1), ConnId(2));

    #[test]
    fn a_touch_fails_only_the_watchers_of_that_key() {
        let mut r = WatchRegistry::default();
        r.watch(A, 0, b"k", true);
        r.watch(B, 0, b"j", true);
        r.touch(0, b"k");
        r.touch(1, b"j"); // another database
        r.check_invariants();
        assert!(!r.check_and_forget(A, |_, _| true));
        assert!(r.check_and_forget(B, |_, _| true));
        assert!(r.is_empty());
    }

    #[test]
    fn a_key_alive_when_watched_and_gone_now_fails() {
        let mut r = WatchRegistry::default();
        r.watch(A, 0, b"k", true);
        r.watch(B, 0, b"k", false);
        assert!(!r.check_and_forget(A, |_, _| false));
        assert!(
            r.check_and_forget(B, |_, _| false),
            "absent when watched, absent now: nothing changed"
        );
    }

    #[test]
    fn deleting_a_key_expired_when_watched_fails_nobody() {
        // Sim seed 7017310: a key watched past its deadline, then evicted before EXEC.
        let mut r = WatchRegistry::default();
        r.watch(A, 0, b"k", true);
        r.watch(B, 0, b"k", false);
        r.touch_deleted(0, b"k");
        assert!(!r.check_and_forget(A, |_, _| true), "alive when watched");
        assert!(r.check_and_forget(B, |_, _| false), "expired when watched");
    }

    #[test]
    fn flushing_fails_only_watchers_of_existing_keys() {
        let mut r = WatchRegistry::default();
        r.watch(A, 0, b"there", true);
        r.watch(B, 0, b"missing", false);
        r.touch_db(0, |k| k == b"there");
        assert!(!r.check_and_forget(A, |_, _| false));
        assert!(r.check_and_forget(B, |_, _| false));
    }

    #[test]
    fn forgetting_clears_dirt_and_both_indexes() {
        let mut r = WatchRegistry::default();
        r.watch(A, 0, b"k", true);
        r.watch(A, 0, b"k", true);
        r.touch(0, b"k");
        r.forget(A);
        r.check_invariants();
        assert!(r.is_empty());
        r.watch(A, 0, b"k", true);
        assert!(r.check_and_forget(A, |_, _| true), "a fresh watch is clean");
    }
}
