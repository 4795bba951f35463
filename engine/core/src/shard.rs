//! A shard: the logical databases for the keys that hash to it, its expiry sweep, counters and
//! memory budget. A shard is touched only by its own thread; other threads reach it with hops.
//!
//! Memory: the shard's bytes are what its databases account for (db.rs: entries by allocator
//! class, plus tables), never an allocator query, so every decision is the same under the
//! simulator. Its budget is `maxmemory / shards`. Before a command runs, `admit` does what
//! Redis's performEvictions and OOM check do, counting what the command may add: a DENYOOM
//! command brings its arguments, each by its allocator class (`incoming_bytes`), which bounds
//! the bytes its write adds (a write stores at most its arguments). Under an evicting policy
//! the shard evicts until its bytes plus those fit the budget, taking entries from the tails of
//! the buckets where the command's first key lives (DashTable::evict_near); a DENYOOM command
//! that still does not fit gets Redis's OOM error. Redis checks only that it is not over
//! already, so one large value can carry it far past its limit; here a write overshoots by its
//! entry's fixed overhead and a table split at most (`OVERSHOOT_BYTES_MAX`), whatever its size.
//! A value larger than a shard's whole budget is always refused, even when other shards have
//! room: shards share no memory figures.

use crate::blocking::BlockedKeys;
use crate::config::MaxmemoryPolicy;
use crate::db::Db;
use crate::error::CmdError;
use crate::journal::{Journal, Record};
use crate::watch::WatchRegistry;

/// Buckets the active-expiry sweep visits per tick, across all databases: bounded work per tick.
pub const SWEEP_BUCKETS_PER_TICK_MAX: usize = 64;
/// Redis's default `hz` is 10: a sweep tick every 100 ms.
pub const SWEEP_INTERVAL_US: u64 = 100_000;
/// Segments one eviction looks through for an eligible entry before giving up (bounded work
/// when, say, a volatile policy finds no key with a TTL).
pub const EVICTION_SEGMENTS_MAX: usize = 16;
/// Entries one command may evict at most before it is refused (Redis bounds its eviction loop
/// by time; we bound it by count, so it is deterministic).
pub const EVICTIONS_PER_COMMAND_MAX: usize = 1024;
/// What one admitted write may add beyond `incoming_bytes`, per shard: the entry's fixed part
/// and the key's and value's rounding past their classes (a few dozen bytes; `db::entry`),
/// and, under noeviction, one table split (an evicting shard keeps room for the split, see
/// `make_room`). A segment costs about 10 KiB; engine/server's maxmemory_large test measures
/// the node's overshoot against this.
pub const OVERSHOOT_BYTES_MAX: u64 = 16 * 1024;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub expired_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub evicted_keys: u64,
    /// Keys changed (Redis's `dirty`, INFO's rdb_changes_since_last_save).
    pub dirty: u64,
}

pub use crate::db::CollectionLimits;

/// The memory figures of one shard, for INFO and MEMORY STATS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardMemory {
    pub used_bytes: u64,
    /// The largest `used_bytes` seen before a command or by INFO.
    pub peak_bytes: u64,
    pub entries_bytes: u64,
    pub tables_bytes: u64,
    pub keys: u64,
}

pub struct Shard {
    dbs: Vec<Db>,
    /// What every database's `keep_expired` is set to.
    keep_expired: bool,
    /// The latest time any command on this shard ran at: commands never run earlier, so one
    /// shard's view of expiry never goes back (a hop stamped long ago, or a wall clock that
    /// stepped back, still sees what later commands saw).
    clock_floor_ms: u64,
    sweep_db: usize,
    sweep_cursor: u64,
    pub stats: ShardStats,
    /// A copy of the node's `maxmemory-policy` (CONFIG SET updates it): OBJECT FREQ and
    /// IDLETIME answer by it, and eviction follows it.
    pub maxmemory_policy: MaxmemoryPolicy,
    /// This shard's part of `maxmemory`; `None` without a limit (maxmemory 0).
    budget_bytes: Option<u64>,
    peak_bytes: u64,
    /// The process's resident bytes as the driver last read them (0: never told). The engine
    /// never reads it itself and decides nothing by it: INFO shows it.
    process_rss_bytes: u64,
    /// Who WATCHes keys of this shard.
    pub watches: WatchRegistry,
    /// Keys clients are blocked on, and those a write touched since (BLPOP and its kin).
    pub blocked: BlockedKeys,
    /// When collections change encoding (CONFIG SET updates it).
    pub limits: CollectionLimits,
    /// When set, every modification signalled on this shard is also logged here: a scratch
    /// shard (commands run on copies) reports what it modified, changed data or not.
    pub modified_log: Option<Vec<(u16, Vec<u8>)>>,
    /// When set, every eviction is logged here, in order: the simulator turns evictions into
    /// deletes in the history it checks.
    pub eviction_log: Option<Vec<Evicted>>,
    /// While the append-only file (or, later, a replica) needs them: the changes this shard
    /// made, as commands to replay (`journal.rs`).
    pub journal: Option<Journal>,
    /// The last CAS unique this shard gave a Memcached item (each write takes the next).
    pub memcache_cas_last: u64,
}

/// What the memory step needs to know of a command (the command table computes it, and only
/// when there is a budget to check).
#[derive(Clone, Copy, Debug)]
pub struct Admission<'a> {
    /// The command's first key: eviction starts near it.
    pub near: &'a [u8],
    /// What the command's write may add here (see `CommandSpec::incoming_bytes`).
    pub incoming_bytes: u64,
    /// The command may grow memory, so it is refused when over budget (Redis's DENYOOM).
    pub deny_oom: bool,
}

/// One eviction, for `Shard::eviction_log`: the entry's deadline tells whether it was still
/// live at a given instant (an entry past its deadline may wait in the table for expiry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evicted {
    pub db: u16,
    pub key: Vec<u8>,
    pub expire_at_ms: Option<u64>,
}

impl Shard {
    /// `seed` comes from `Cx`, so table order is deterministic per seed.
    pub fn new(dbs_len: usize, seed: u64) -> Shard {
        assert!(dbs_len > 0, "a shard needs at least one database");
        Shard {
            dbs: (0..dbs_len)
                .map(|i| Db::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9)))
                .collect(),
            keep_expired: false,
            clock_floor_ms: 0,
            sweep_db: 0,
            sweep_cursor: 0,
            stats: ShardStats::default(),
            maxmemory_policy: MaxmemoryPolicy::default(),
            budget_bytes: None,
            peak_bytes: 0,
            process_rss_bytes: 0,
            watches: WatchRegistry::default(),
            blocked: BlockedKeys::default(),
            limits: CollectionLimits::default(),
            modified_log: None,
            eviction_log: None,
            journal: None,
            memcache_cas_last: 0,
        }
    }

    /// Sets the memory limit: `maxmemory_bytes` for the node, split evenly over `shards`.
    pub fn set_memory_limits(
        &mut self,
        maxmemory_bytes: u64,
        shards: u16,
        policy: MaxmemoryPolicy,
    ) {
        self.budget_bytes =
            (maxmemory_bytes > 0).then(|| maxmemory_bytes / u64::from(shards.max(1)));
        self.maxmemory_policy = policy;
        let evicting = policy != MaxmemoryPolicy::NoEviction;
        for db in &mut self.dbs {
            db.set_promote_on_hit(evicting);
        }
    }

    pub fn budget_bytes(&self) -> Option<u64> {
        self.budget_bytes
    }

    /// The driver reports the process's resident memory (INFO used_memory_rss).
    pub fn set_process_rss_bytes(&mut self, rss_bytes: u64) {
        self.process_rss_bytes = rss_bytes;
    }

    pub fn process_rss_bytes(&self) -> u64 {
        self.process_rss_bytes
    }

    /// Redis's processCommand memory step for `spec` on this shard: evict while over budget
    /// (under an evicting policy), then refuse a DENYOOM command if still over.
    ///
    /// `locked` says which keys a queued transaction holds intents on: those are never evicted.
    /// A transaction may have run on another shard already and read or written its keys here
    /// in a hop still to come; deleting one under it would tear it (simulator seeds with a
    /// memory budget). Expiry waits for queued transactions for the same reason.
    #[inline]
    pub fn admit<'a>(
        &mut self,
        db: usize,
        request: impl FnOnce() -> Admission<'a>,
        locked: impl Fn(u16, &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        if self.budget_bytes.is_none() {
            // Without a limit nothing to decide: the peak is noted by the periodic tick and
            // when it is read, as Redis's serverCron does, not summed on every write. Inlined,
            // this is one compare on every command's path.
            return Ok(());
        }
        self.admit_within_budget(db, request(), locked)
    }

    /// `admit` with a budget: out of line, so that the common no-budget case inlines small.
    #[inline(never)]
    fn admit_within_budget(
        &mut self,
        db: usize,
        request: Admission<'_>,
        locked: impl Fn(u16, &[u8]) -> bool,
    ) -> Result<(), CmdError> {
        if self.make_room(db, request.near, request.incoming_bytes, locked) || !request.deny_oom {
            return Ok(());
        }
        Err(CmdError::OutOfMemory)
    }

    /// The memory step for work that is about to write here and must not be refused halfway:
    /// a transaction's admission on each of its shards (with what its writes here bring,
    /// `incoming_bytes`), or a command queued after MULTI (0: queueing writes nothing). Evicts
    /// near `near` until the shard's bytes plus `incoming_bytes` fit; true when they fit the
    /// budget (or there is none).
    pub fn make_room(
        &mut self,
        db: usize,
        near: &[u8],
        incoming_bytes: u64,
        locked: impl Fn(u16, &[u8]) -> bool,
    ) -> bool {
        let Some(budget_bytes) = self.budget_bytes else {
            return true;
        };
        self.note_peak();
        // What the shard may hold before the command, so that it fits after. A write larger
        // than the whole budget is refused, and the shard only takes Redis's own step (evict
        // while over budget): it does not empty itself for a write it refuses anyway.
        let fits = incoming_bytes <= budget_bytes;
        let budget_bytes = if fits {
            budget_bytes - incoming_bytes
        } else {
            budget_bytes
        };
        let evicting = self.maxmemory_policy != MaxmemoryPolicy::NoEviction;
        // An evicting shard keeps room for the split the command's insert may cause, so the
        // table's growth never carries it past the budget (only the command's own entry can).
        let headroom = if evicting {
            self.dbs[db].split_growth_bytes() as u64
        } else {
            0
        };
        let target_bytes = budget_bytes.saturating_sub(headroom);
        if self.used_memory_bytes() as u64 <= target_bytes {
            return fits;
        }
        let volatile_only = match self.maxmemory_policy {
            MaxmemoryPolicy::NoEviction => None,
            MaxmemoryPolicy::AllkeysLru
            | MaxmemoryPolicy::AllkeysLfu
            | MaxmemoryPolicy::AllkeysRandom => Some(false),
            MaxmemoryPolicy::VolatileLru
            | MaxmemoryPolicy::VolatileLfu
            | MaxmemoryPolicy::VolatileRandom
            | MaxmemoryPolicy::VolatileTtl => Some(true),
        };
        if let Some(volatile_only) = volatile_only {
            self.evict(db, near, volatile_only, target_bytes, locked);
        }
        fits && self.used_memory_bytes() as u64 <= budget_bytes
    }

    /// Evicts entries near `near` (in database `db` first, then the others) until the shard is
    /// within budget or nothing eligible is found. Each eviction is a modification (`evicted`).
    fn evict(
        &mut self,
        db: usize,
        near: &[u8],
        volatile_only: bool,
        budget_bytes: u64,
        locked: impl Fn(u16, &[u8]) -> bool,
    ) {
        let order: Vec<usize> = std::iter::once(db)
            .chain((0..self.dbs.len()).filter(|&d| d != db))
            .collect();
        let mut evicted = 0;
        for d in order {
            while self.used_memory_bytes() as u64 > budget_bytes
                && evicted < EVICTIONS_PER_COMMAND_MAX
            {
                let eligible = |e: &crate::db::Entry| {
                    (!volatile_only || e.expire_at_ms().is_some()) && !locked(d as u16, e.key())
                };
                let Some(entry) = self.dbs[d].evict_near(near, EVICTION_SEGMENTS_MAX, eligible)
                else {
                    break;
                };
                self.evicted(d as u16, entry.key());
                if let Some(log) = &mut self.eviction_log {
                    log.push(Evicted {
                        db: d as u16,
                        key: entry.key().to_vec(),
                        expire_at_ms: entry.expire_at_ms(),
                    });
                }
                evicted += 1;
            }
        }
        self.stats.evicted_keys += evicted as u64;
    }

    /// Eviction deleted (database, key): a modification, as in Redis (a WATCH on the key
    /// fails), except for a watcher that saw the key already expired (`touch_deleted`).
    fn evicted(&mut self, db: u16, key: &[u8]) {
        self.watches.touch_deleted(db, key);
        if let Some(log) = &mut self.modified_log {
            log.push((db, key.to_vec()));
        }
    }

    /// Raises the recorded peak to the current use (the periodic tick, and every memory step
    /// under a limit).
    pub fn note_peak(&mut self) {
        self.peak_bytes = self.peak_bytes.max(self.used_memory_bytes() as u64);
    }

    /// This shard's memory figures.
    pub fn memory(&self) -> ShardMemory {
        let used_bytes = self.used_memory_bytes() as u64;
        ShardMemory {
            used_bytes,
            peak_bytes: self.peak_bytes.max(used_bytes),
            entries_bytes: self.dbs.iter().map(|d| d.entries_bytes() as u64).sum(),
            tables_bytes: self.dbs.iter().map(|d| d.table_bytes() as u64).sum(),
            keys: self.keys_len() as u64,
        }
    }

    /// The time a command that wants to run at `now_ms` runs at on this shard.
    pub fn observe_time_ms(&mut self, now_ms: u64) -> u64 {
        self.clock_floor_ms = self.clock_floor_ms.max(now_ms);
        self.clock_floor_ms
    }

    /// Whether reads leave expired keys in place (see `Db::set_keep_expired`).
    /// Called before every message, so it costs one comparison unless the setting changes.
    pub fn set_keep_expired(&mut self, keep: bool) {
        if keep == self.keep_expired {
            return;
        }
        self.keep_expired = keep;
        for db in &mut self.dbs {
            db.set_keep_expired(keep);
        }
    }

    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    /// A database and the counters its lookups update, borrowed together.
    pub fn db_and_stats(&mut self, index: usize) -> (&mut Db, &mut ShardStats) {
        (&mut self.dbs[index], &mut self.stats)
    }

    pub fn db_ref(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    pub fn dbs_len(&self) -> usize {
        self.dbs.len()
    }

    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
        // Clients blocked on keys of either database may find them filled now (Redis's
        // scanDatabaseForReadyKeys after SWAPDB).
        self.blocked.signal_db(a as u16);
        self.blocked.signal_db(b as u16);
    }

    /// Cuts a snapshot of every database now (see `db::snapshot`): from here on each change
    /// first keeps what the snapshot is owed, and `snapshot_step` hands the cut out.
    pub fn start_snapshot(&mut self, cut_ms: u64) {
        for (index, db) in self.dbs.iter_mut().enumerate() {
            db.start_snapshot(index as u16, cut_ms);
        }
    }

    /// The planted `snapshot-skips-keep`: the running snapshot keeps nothing before writes.
    pub fn plant_snapshot_skips_keep(&mut self) {
        for db in &mut self.dbs {
            db.plant_snapshot_skips_keep();
        }
    }

    pub fn snapshot_active(&self) -> bool {
        self.dbs.iter().any(|db| db.snapshot().is_some())
    }

    /// Whether a running snapshot was aborted (a flush ran during it).
    pub fn snapshot_aborted(&self) -> bool {
        self.dbs
            .iter()
            .any(|db| db.snapshot().is_some_and(|s| s.aborted))
    }

    /// Moves the snapshot on by up to `buckets_max` buckets over the databases in order,
    /// handing each owed entry to `out` with its database index at the cut; true when the
    /// whole shard is done.
    pub fn snapshot_step(
        &mut self,
        buckets_max: usize,
        out: &mut impl FnMut(u16, &crate::db::Entry),
    ) -> bool {
        for db in &mut self.dbs {
            if db.snapshot().is_some() && !db.snapshot_step(buckets_max, out) {
                return false;
            }
        }
        true
    }

    /// Drops whatever snapshot runs (its save ended elsewhere, or failed).
    pub fn abort_snapshot(&mut self) {
        for db in &mut self.dbs {
            db.drop_snapshot();
        }
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
            // A key that expires under blocked clients is ready: a blocked XREADGROUP learns
            // that its stream is gone, as Redis signals deleted keys.
            let blocked = &mut self.blocked;
            let db_index = self.sweep_db as u16;
            let (next, removed) = if blocked.is_empty() {
                db.sweep_bucket(self.sweep_cursor, now_ms)
            } else {
                db.sweep_bucket_telling(self.sweep_cursor, now_ms, |key| {
                    blocked.signal(db_index, key)
                })
            };
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

    /// The bytes this shard accounts for: every database's entries and table.
    pub fn used_memory_bytes(&self) -> usize {
        self.dbs.iter().map(Db::used_bytes).sum()
    }

    /// Database `db` is about to be emptied, or swapped with `replaced_by`: its watched keys
    /// that live in either count as modified (Redis's touchAllWatchedKeysInDb), and its keys
    /// with blocked clients are ready.
    pub fn modified_db(&mut self, db: usize, replaced_by: Option<usize>, now_ms: u64) {
        // Its blocked clients look again (a blocked XREADGROUP learns its stream is gone).
        self.blocked.signal_db(db as u16);
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
        self.modified_quietly(db, key);
        self.blocked.signal(db, key);
    }

    /// `modified` for a change that only took something away: clients blocked on the key
    /// are not woken, since nothing arrived for them.
    pub fn modified_quietly(&mut self, db: u16, key: &[u8]) {
        self.stats.dirty += 1;
        self.watches.touch(db, key);
        if let Some(log) = &mut self.modified_log {
            log.push((db, key.to_vec()));
        }
    }

    /// Starts journaling every change (`journal.rs`); a journal already running goes on.
    pub fn start_journal(&mut self) {
        if self.journal.is_none() {
            self.journal = Some(Journal::default());
            for db in &mut self.dbs {
                db.log_dropped(true);
            }
        }
    }

    /// Stops journaling; what was not taken is dropped.
    pub fn stop_journal(&mut self) {
        self.journal = None;
        for db in &mut self.dbs {
            db.log_dropped(false);
        }
    }

    /// Journals the keys that expired or were evicted since the last call, as DELs.
    pub fn journal_dropped(&mut self) {
        let Some(journal) = self.journal.as_mut() else {
            return;
        };
        for (index, db) in self.dbs.iter_mut().enumerate() {
            for key in db.take_dropped() {
                journal.push(Record::del(index as u16, &key));
            }
        }
    }

    pub fn check_invariants(&self) {
        for db in &self.dbs {
            db.check_invariants();
        }
        self.watches.check_invariants();
        self.blocked.check_invariants();
    }
}
