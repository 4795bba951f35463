//! The shard's hash table: `Table` is the Dash-style segmented table of `dash`, keyed by
//! bytes (see that module for the layout, the SCAN cursor and the growth and shrink rules).
//!
//! SCAN contract (both tables): a key present for the whole scan is returned at least once
//! however the table grows or shrinks in between; `scan_bucket` returns 0 when the scan is
//! complete, and table cursors fit in 64 - `SCAN_SHARD_BITS` bits.
//!
//! `ChainedTable`, the table this one replaced, stays for comparison benches: a power-of-two
//! array of chained buckets with global rehash and Redis's reverse-binary cursor.
//!
//! Hashes come from a seed the owner passes in (from `Cx`), so iteration order is deterministic
//! for a given seed and never depends on addresses.

pub mod dash;

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The shard's table.
pub type Table<E> = dash::DashTable<E>;

/// What the table needs from its entries.
pub trait Keyed {
    fn key(&self) -> &[u8];
}

/// Buckets per key before the table doubles.
const LOAD_FACTOR_MAX: usize = 1;
/// Below one key per this many buckets the table halves (Redis: 10%).
const SHRINK_RATIO: usize = 8;
const BUCKETS_MIN: usize = 4;

/// The chained table with global rehash (Redis's dict without incremental rehash).
pub struct ChainedTable<E> {
    buckets: Vec<Vec<E>>,
    len: usize,
    seed: u64,
}

impl<E: Keyed> ChainedTable<E> {
    pub fn new(seed: u64) -> ChainedTable<E> {
        ChainedTable {
            buckets: (0..BUCKETS_MIN).map(|_| Vec::new()).collect(),
            len: 0,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn buckets_len(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> u64 {
        self.buckets.len() as u64 - 1
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        xxh3_64_with_seed(key, self.seed)
    }

    fn bucket_of(&self, key: &[u8]) -> usize {
        (self.hash(key) & self.mask()) as usize
    }

    pub fn get(&self, key: &[u8]) -> Option<&E> {
        self.buckets[self.bucket_of(key)]
            .iter()
            .find(|e| e.key() == key)
    }

    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut E> {
        let b = self.bucket_of(key);
        self.buckets[b].iter_mut().find(|e| e.key() == key)
    }

    /// Inserts `entry`, returning the entry it replaced.
    pub fn insert(&mut self, entry: E) -> Option<E> {
        let b = self.bucket_of(entry.key());
        let bucket = &mut self.buckets[b];
        if let Some(slot) = bucket.iter_mut().find(|e| e.key() == entry.key()) {
            return Some(std::mem::replace(slot, entry));
        }
        bucket.push(entry);
        self.len += 1;
        if self.len > self.buckets.len() * LOAD_FACTOR_MAX {
            self.resize(self.buckets.len() * 2);
        }
        None
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let b = self.bucket_of(key);
        let bucket = &mut self.buckets[b];
        let pos = bucket.iter().position(|e| e.key() == key)?;
        let entry = bucket.swap_remove(pos);
        self.len -= 1;
        self.maybe_shrink();
        Some(entry)
    }

    fn maybe_shrink(&mut self) {
        let buckets = self.buckets.len();
        if buckets > BUCKETS_MIN && self.len * SHRINK_RATIO < buckets {
            self.resize((buckets / 2).max(BUCKETS_MIN));
        }
    }

    fn resize(&mut self, buckets_len: usize) {
        debug_assert!(buckets_len.is_power_of_two());
        let old = std::mem::replace(
            &mut self.buckets,
            (0..buckets_len).map(|_| Vec::new()).collect(),
        );
        for entry in old.into_iter().flatten() {
            let b = self.bucket_of(entry.key());
            self.buckets[b].push(entry);
        }
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        *self = ChainedTable::new(self.seed);
    }

    pub fn iter(&self) -> impl Iterator<Item = &E> {
        self.buckets.iter().flatten()
    }

    /// Bytes the table owns for entries of type `E` (bucket headers plus chain capacity), for
    /// comparing with `DashTable::capacity_bytes`.
    pub fn capacity_bytes(&self) -> usize {
        let chains: usize = self.buckets.iter().map(Vec::capacity).sum();
        self.buckets.capacity() * std::mem::size_of::<Vec<E>>() + chains * std::mem::size_of::<E>()
    }

    /// Visits the bucket at `cursor` and returns the next cursor (0 when the scan is complete).
    pub fn scan_bucket(&self, cursor: u64, mut visit: impl FnMut(&E)) -> u64 {
        let mask = self.mask();
        for entry in &self.buckets[(cursor & mask) as usize] {
            visit(entry);
        }
        next_cursor(cursor, mask)
    }

    /// Like `scan_bucket` but lets the visitor remove entries (the expiry sweep).
    pub fn sweep_bucket(
        &mut self,
        cursor: u64,
        mut remove_if: impl FnMut(&E) -> bool,
    ) -> (u64, usize) {
        let mask = self.mask();
        let bucket = &mut self.buckets[(cursor & mask) as usize];
        let before = bucket.len();
        bucket.retain(|e| !remove_if(e));
        let removed = before - bucket.len();
        self.len -= removed;
        let next = next_cursor(cursor, mask);
        // Shrinking mid-sweep is safe: the cursor contract holds across resizes.
        self.maybe_shrink();
        (next, removed)
    }

    /// A bucket chosen at random among the non-empty ones' neighbourhood, as Redis's
    /// dictGetFairRandomKey approximates: sample buckets until one holds an entry.
    pub fn random_entry(&self, mut random: impl FnMut() -> u64) -> Option<&E> {
        if self.len == 0 {
            return None;
        }
        loop {
            let bucket = &self.buckets[(random() & self.mask()) as usize];
            if !bucket.is_empty() {
                return Some(&bucket[(random() % bucket.len() as u64) as usize]);
            }
        }
    }
}

/// Redis's reverse-binary increment: set the bits above the mask, reverse, add one, reverse.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    let v = cursor | !mask;
    let v = v.reverse_bits().wrapping_add(1);
    v.reverse_bits()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[derive(Debug, PartialEq)]
    struct Item(Vec<u8>, u32);

    impl Keyed for Item {
        fn key(&self) -> &[u8] {
            &self.0
        }
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    #[test]
    fn insert_get_remove_grow_shrink() {
        let mut table = Table::new(42);
        for i in 0..1000 {
            assert!(table.insert(Item(key(i), i)).is_none());
        }
        assert_eq!(table.len(), 1000);
        // Dash buckets hold BUCKET_SLOTS entries each, so count slots, not buckets.
        assert!(table.capacity() >= 1000);
        assert_eq!(table.insert(Item(key(7), 70)), Some(Item(key(7), 7)));
        for i in 0..1000 {
            assert!(table.get(&key(i)).is_some());
        }
        for i in 0..990 {
            assert!(table.remove(&key(i)).is_some());
        }
        assert_eq!(table.len(), 10);
        assert!(
            table.buckets_len() <= 128,
            "table shrinks: {}",
            table.buckets_len()
        );
        assert!(table.get(&key(995)).is_some());
    }

    /// A key present for the whole scan is returned, even while the table grows and shrinks.
    #[test]
    fn scan_survives_growth_and_shrink() {
        let mut table = Table::new(9);
        for i in 0..100 {
            table.insert(Item(key(i), i));
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = table.scan_bucket(cursor, |e| {
                seen.insert(e.1);
            });
            step += 1;
            // Grow hard in the middle of the scan, then shrink back below the start.
            if step == 20 {
                for i in 1000..5000 {
                    table.insert(Item(key(i), i));
                }
            }
            if step == 200 {
                for i in 1000..5000 {
                    table.remove(&key(i));
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100 {
            assert!(seen.contains(&i), "key {i} missed by the scan");
        }
    }
}
