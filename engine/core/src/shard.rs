//! A shard: the logical databases for the keys that hash to it, its expiry sweep and counters.
//! A shard is touched only by its own thread; other threads reach it with hops.

use crate::config::MaxmemoryPolicy;
use crate::cx::Cx;
use crate::db::Db;
use crate::watch::WatchRegistry;

/// Buckets the active-expiry sweep visits per tick, across all databases: bounded work per tick.
pub const SWEEP_BUCKETS_PER_TICK_MAX: usize = 64;
/// Redis's default `hz` is 10: a sweep tick every 100 ms.
pub const SWEEP_INTERVAL_US: u64 = 100_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
}

pub struct Shard {
    dbs: Vec<Db>,
    /// The latest time any command on this shard ran at: commands never run earlier, so one
    /// shard's view of expiry never goes back (a hop stamped long ago, or a wall clock that
    /// stepped back, still sees what later commands saw).
    clock_floor_ms: u64,
    sweep_db: usize,
    sweep_cursor: u64,
    pub stats: ShardStats,
    /// A copy of the node's `maxmemory-policy` (CONFIG SET updates it): OBJECT FREQ and
    /// IDLETIME answer by it.
    pub maxmemory_policy: MaxmemoryPolicy,
    /// Who WATCHes keys of this shard.
    pub watches: WatchRegistry,
    /// When set, every modification signalled on this shard is also logged here: a scratch
    /// shard (commands run on copies) reports what it modified, changed data or not.
    pub modified_log: Option<Vec<(u16, Vec<u8>)>>,
}

impl Shard {
    /// `seed` comes from `Cx`, so table order is deterministic per seed.
    pub fn new(dbs_len: usize, seed: u64) -> Shard {
        assert!(dbs_len > 0, "a shard needs at least one database");
        Shard {
            dbs: (0..dbs_len)
                .map(|i| Db::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9)))
                .collect(),
            clock_floor_ms: 0,
            sweep_db: 0,
            sweep_cursor: 0,
            stats: ShardStats::default(),
            maxmemory_policy: MaxmemoryPolicy::default(),
            watches: WatchRegistry::default(),
            modified_log: None,
        }
    }

    /// The time a command that wants to run at `now_ms` runs at on this shard.
    pub fn observe_time_ms(&mut self, now_ms: u64) -> u64 {
        self.clock_floor_ms = self.clock_floor_ms.max(now_ms);
        self.clock_floor_ms
    }

    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    pub fn db_ref(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    pub fn dbs_len(&self) -> usize {
        self.dbs.len()
    }

    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }

    pub fn flush_all(&mut self) {
        for db in &mut self.dbs {
            db.clear();
        }
    }

    /// One tick of the active expiry sweep: visits at most `SWEEP_BUCKETS_PER_TICK_MAX` buckets
    /// and removes the expired entries in them, resuming where the last tick stopped.
    pub fn sweep_expired(&mut self, now_ms: u64) -> usize {
        let mut removed_total = 0;
        let mut budget = SWEEP_BUCKETS_PER_TICK_MAX;
        let mut dbs_visited = 0;
        while budget > 0 && dbs_visited < self.dbs.len() {
            let db = &mut self.dbs[self.sweep_db];
            if db.expires_len() == 0 {
                self.next_sweep_db();
                dbs_visited += 1;
                continue;
            }
            let (next, removed) = db.sweep_bucket(self.sweep_cursor, now_ms);
            removed_total += removed;
            budget -= 1;
            self.sweep_cursor = next;
            if next == 0 {
                self.next_sweep_db();
                dbs_visited += 1;
            }
        }
        self.stats.expired_keys += removed_total as u64;
        removed_total
    }

    fn next_sweep_db(&mut self) {
        self.sweep_db = (self.sweep_db + 1) % self.dbs.len();
        self.sweep_cursor = 0;
    }

    pub fn keys_len(&self) -> usize {
        self.dbs.iter().map(Db::len).sum()
    }

    /// Database `db` is about to be emptied, or swapped with `replaced_by`: its watched keys
    /// that live in either count as modified (Redis's touchAllWatchedKeysInDb).
    pub fn modified_db(&mut self, db: usize, replaced_by: Option<usize>, now_ms: u64) {
        if self.watches.is_empty() {
            return;
        }
        let dbs = &mut self.dbs;
        self.watches.touch_db(db as u16, |key| {
            dbs[db].contains(key, now_ms)
                || replaced_by.is_some_and(|r| dbs[r].contains(key, now_ms))
        });
    }

    /// A command modified (database, key): Redis's signalModifiedKey.
    pub fn modified(&mut self, db: u16, key: &[u8]) {
        self.watches.touch(db, key);
        if let Some(log) = &mut self.modified_log {
            log.push((db, key.to_vec()));
        }
    }

    pub fn check_invariants(&self) {
        for db in &self.dbs {
            db.check_invariants();
        }
        self.watches.check_invariants();
    }
}

/// What a command handler running on a shard sees: the shard, the connection's database, the
/// time of this step (one time for the whole hop) and the context for randomness and marks.
pub struct ExecCx<'a> {
    pub shard: &'a mut Shard,
    pub db: usize,
    pub now_ms: u64,
    pub cx: &'a mut Cx,
}

impl ExecCx<'_> {
    pub fn db(&mut self) -> &mut Db {
        self.shard.db(self.db)
    }

    /// The command modified `key` in its database (see `Shard::modified`).
    pub fn modified(&mut self, key: &[u8]) {
        self.shard.modified(self.db as u16, key);
    }

    /// The time reads compare deadlines against. Planted bug `SkipExpiryCheckOnRead` makes
    /// every key look alive to readers.
    pub fn read_now_ms(&self) -> u64 {
        if self.cx.planted(crate::cx::Plant::SkipExpiryCheckOnRead) {
            0
        } else {
            self.now_ms
        }
    }
}
