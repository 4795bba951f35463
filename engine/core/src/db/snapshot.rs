//! One database's side of a fork-less, point-in-time snapshot (DESIGN.md, "Snapshots").
//!
//! At the cut every key of the database is owed to the snapshot with the value it holds then.
//! The snapshot walks the table with the SCAN cursor, a few buckets at a time, between
//! commands; writes keep flowing meanwhile. A key's SCAN coordinates are fixed by its hash
//! (`table::dash::cursor_of`), so "has the walk passed this key?" is one comparison. The one
//! rule: **before a key the walk has not passed changes, its cut value is kept first**
//! (captured for the snapshot, and the key is marked so the walk skips it). That covers a write
//! in place, a replacement, a removal, an expiry and an eviction alike; a key created after the
//! cut is marked without a value, so the walk skips it too. Nothing is copied that is not about
//! to change, and nothing forks: the extra memory is the captured values of keys written ahead
//! of the walk plus one marker per such key, both freed as the snapshot drains.
//!
//! A key the walk visits twice (a merged segment revisits the part below the cursor) is kept
//! once: the walk takes only keys at or past its cursor. Keys already expired at the cut are
//! not owed. FLUSHDB/FLUSHALL during a snapshot abort it, as Redis kills its save child.

use std::collections::BTreeSet;

use super::entry::Entry;
use crate::table::dash::cursor_of;

/// Buckets one `step` visits at most; about 14 entries each when the table is full.
pub const SNAPSHOT_STEP_BUCKETS: usize = 64;

#[derive(Debug)]
pub struct DbSnapshot {
    /// The database's index at the cut (SWAPDB moves databases, not what they owe).
    pub db_index: u16,
    /// The cut's time: keys expired by then are not owed.
    pub cut_ms: u64,
    /// Where the walk stands; keys below it were visited.
    cursor: u64,
    /// The walk has left cursor 0 (which is also where it ends).
    started: bool,
    /// The walk is over: nothing more is owed.
    walked: bool,
    /// Keys the walk must skip: kept already, or created after the cut.
    settled: BTreeSet<Vec<u8>>,
    /// Cut values of keys that changed ahead of the walk, not yet handed out.
    captured: Vec<Entry>,
    pub aborted: bool,
    /// The planted bug `snapshot-skips-keep`: changes ahead of the walk keep nothing.
    pub skip_keep: bool,
}

impl DbSnapshot {
    pub fn new(db_index: u16, cut_ms: u64) -> DbSnapshot {
        DbSnapshot {
            db_index,
            cut_ms,
            cursor: 0,
            started: false,
            walked: false,
            settled: BTreeSet::new(),
            captured: Vec::new(),
            aborted: false,
            skip_keep: false,
        }
    }

    /// Whether `key` is still owed by the walk: not passed, not settled.
    pub fn owes(&self, seed: u64, key: &[u8]) -> bool {
        !self.aborted
            && !self.skip_keep
            && !self.walked
            && !self.settled.contains(key)
            && (!self.started || cursor_of(seed, key) >= self.cursor)
    }

    /// `key` is about to change and `owes` it: keep `cut_value` (its entry now, if any) and
    /// settle the key.
    pub fn keep(&mut self, key: &[u8], cut_value: Option<Entry>) {
        if let Some(entry) = cut_value {
            if !entry.is_expired(self.cut_ms) {
                self.captured.push(entry);
            }
        }
        self.settled.insert(key.to_vec());
    }

    /// Hands out the captured cut values, then walks up to `buckets_max` buckets with `scan`
    /// (the table's `scan_bucket`) and hands out what they owe. True when the database is done.
    pub fn step(
        &mut self,
        seed: u64,
        buckets_max: usize,
        scan: impl Fn(u64, &mut dyn FnMut(&Entry)) -> u64,
        out: &mut impl FnMut(&Entry),
    ) -> bool {
        for entry in self.captured.drain(..) {
            out(&entry);
        }
        if self.aborted {
            return true;
        }
        for _ in 0..buckets_max {
            if self.started && self.cursor == 0 {
                break;
            }
            let from = self.cursor;
            let (settled, cut_ms) = (&self.settled, self.cut_ms);
            let next = scan(from, &mut |entry: &Entry| {
                let key = entry.key();
                if cursor_of(seed, key) >= from
                    && !settled.contains(key)
                    && !entry.is_expired(cut_ms)
                {
                    out(entry);
                }
            });
            self.started = true;
            self.cursor = next;
        }
        if self.started && self.cursor == 0 {
            self.walked = true;
            self.settled = BTreeSet::new();
        }
        self.walked
    }

    /// Keys settled ahead of the walk (the snapshot's own memory, besides captured values).
    pub fn settled_len(&self) -> usize {
        self.settled.len()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::db::{Db, Entry, StrValue, Value, ValueRef};

    type State = BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)>;
    /// What the snapshot handed out: (database index, key, value, deadline).
    type Handed = (u16, Vec<u8>, Vec<u8>, Option<u64>);

    fn string(bytes: Vec<u8>) -> Value {
        Value::Str(StrValue::from_bytes(bytes))
    }

    fn bytes_of(entry: &Entry) -> Vec<u8> {
        match entry.value() {
            ValueRef::Str(s) => s.to_bytes(),
            ValueRef::Coll(_) => unreachable!("strings only here"),
        }
    }

    /// The live keys at `now_ms`, as the snapshot must hand them out.
    fn live(db: &Db, now_ms: u64) -> State {
        db.iter()
            .filter(|e| !e.is_expired(now_ms))
            .map(|e| (e.key().to_vec(), (bytes_of(e), e.expire_at_ms())))
            .collect()
    }

    /// Whatever writes, deletes, expiries, evictions, splits and merges run between the
    /// snapshot's steps, it hands out exactly the live keys of the cut with their cut values,
    /// each once.
    #[test]
    fn a_snapshot_hands_out_the_cut_whatever_runs_meanwhile() {
        for seed in 0..80u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut db = Db::new(seed);
            let keys = rng.gen_range(0..3_000u32);
            let key = |n: u32| format!("k{n}").into_bytes();
            for n in 0..keys {
                let ttl = rng.gen_bool(0.2).then(|| rng.gen_range(1..200));
                let entry = Entry::new(&key(n), string(vec![b'a'; (n % 50) as usize]), 0)
                    .with_expire_at_ms(ttl);
                db.insert(entry, 0);
            }
            let mut now = rng.gen_range(0..100);
            let cut = live(&db, now);
            db.start_snapshot(3, now);
            let mut out: Vec<Handed> = Vec::new();
            let mut done = false;
            while !done {
                for _ in 0..rng.gen_range(0..40) {
                    let k = key(rng.gen_range(0..keys.max(1) * 2));
                    match rng.gen_range(0..7) {
                        0 => {
                            let value = string(vec![b'z'; rng.gen_range(0..70)]);
                            db.insert(Entry::new(&k, value, now), now);
                        }
                        1 => {
                            db.remove(&k);
                        }
                        2 => {
                            if let Some(mut e) = db.get_mut(&k, now) {
                                e.edit_raw(|b| b.push(b'+'));
                            }
                        }
                        3 => {
                            db.set_expire(&k, Some(now + rng.gen_range(1..50)));
                        }
                        4 => {
                            now += rng.gen_range(0..20);
                            let mut cursor = rng.gen();
                            for _ in 0..4 {
                                cursor = db.sweep_bucket(cursor, now).0;
                            }
                        }
                        5 => {
                            db.evict_near(&k, 2, |_| true);
                        }
                        _ => {
                            // A burst of new keys (splits) or of deletions (merges).
                            let base = rng.gen_range(0..keys.max(1) * 2);
                            let grow = rng.gen_bool(0.5);
                            for n in base..base + 500 {
                                if grow {
                                    db.insert(Entry::new(&key(n), string(b"n".to_vec()), now), now);
                                } else {
                                    db.remove(&key(n));
                                }
                            }
                        }
                    }
                }
                done = db.snapshot_step(rng.gen_range(1..8), &mut |index, e| {
                    out.push((index, e.key().to_vec(), bytes_of(e), e.expire_at_ms()))
                });
            }
            assert!(db.snapshot().is_none(), "dropped when done");
            let mut got = State::new();
            for (index, k, v, ttl) in out {
                assert_eq!(index, 3);
                assert!(
                    got.insert(k.clone(), (v, ttl)).is_none(),
                    "seed {seed}: {k:?} twice"
                );
            }
            assert_eq!(got.len(), cut.len(), "seed {seed}");
            assert!(got == cut, "seed {seed}: the snapshot differs from the cut");
            db.check_invariants();
        }
    }

    /// A flush during a snapshot aborts it, as Redis kills its save child.
    #[test]
    fn a_flush_aborts_the_snapshot() {
        let mut db = Db::new(9);
        for n in 0..100 {
            db.insert(
                Entry::new(format!("k{n}").as_bytes(), string(b"v".to_vec()), 0),
                0,
            );
        }
        db.start_snapshot(0, 0);
        let mut handed = 0;
        db.snapshot_step(1, &mut |_, _| handed += 1);
        db.clear();
        assert!(db.snapshot().is_some_and(|s| s.aborted));
        assert!(db.snapshot_step(64, &mut |_, _| handed += 1));
        assert!(handed < 100);
    }
}
