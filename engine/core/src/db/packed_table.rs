//! The scalable encoding of hashes and sets ("hashtable"): a chained hash table with no heap
//! allocation per element.
//!
//! ```text
//!  buckets: [u32 head]…            power of two, NIL = empty; bucket = xxh3(key, seed) & mask
//!  nodes:   [next u32 | offset u32]…   a chain link and where the record lies; free slots are
//!                                       chained through `next` (offset = FREE)
//!  arena:   [len k][k…]([len v][v…])…  records (packed.rs); replaced ones are garbage
//! ```
//!
//! Why: Redis's dict spends a 24-byte dictEntry plus an sds header and allocation per element,
//! 40 to 60 bytes before the data. Here an element costs its record (data plus a length byte or
//! two), an 8-byte node and 4 to 8 bytes of bucket: three allocations for the whole table, so
//! `heap_bytes` is three class lookups (O(1)) and exact. Lookups hash once and compare bytes
//! in place, with no allocation.
//!
//! Invariants (`check_invariants`): every live node is in exactly one chain, the one its key
//! hashes to; `len` counts them and `len <= buckets` (load factor at most 1: the table doubles
//! when an insert passes it, rehashing all at once); free slots are exactly the free list;
//! `garbage_bytes` is the arena minus the live records. The table halves (rebuilds) when
//! `len < buckets / SHRINK_RATIO`, never below `BUCKETS_MIN`; it rebuilds densely when free node
//! slots outnumber live ones, and compacts the arena when garbage outweighs live bytes. A
//! compaction moves records and rewrites offsets but keeps chains; a rebuild renumbers nodes
//! but keeps their relative order. Either way every key stays in the bucket its hash picks, so
//! SCAN's reverse-binary cursor (Redis's dictScan) visits every element present throughout a
//! scan at least once, however the table grows or shrinks between calls.
//!
//! Limits: node indexes and arena offsets are `u32`, so a table holds at most `ELEMENTS_MAX`
//! elements and `ARENA_MAX_BYTES` bytes of records (Redis also caps collections near 2^32
//! elements); passing either is an assertion naming the limit, never a wrapped index.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::packed::{get_str, put_str, reserve_class, str_len, vec_bytes, with_class_capacity};

/// Marks an empty bucket and the end of a chain.
const NIL: u32 = u32::MAX;
/// A free node slot's offset.
const FREE: u32 = u32::MAX;
/// Node indexes stay below `NIL`.
pub const ELEMENTS_MAX: usize = NIL as usize - 1;
/// Record offsets fit a `u32` (and `FREE` is never a live offset: a record has bytes).
pub const ARENA_MAX_BYTES: usize = u32::MAX as usize;
const BUCKETS_MIN: usize = 4;
/// Below one element per this many buckets the table halves (Redis: 10%).
const SHRINK_RATIO: usize = 8;
/// `random` draws this many node slots before counting its way to a uniform pick.
const RANDOM_TRIES_MAX: usize = 64;

const _: () = assert!(BUCKETS_MIN.is_power_of_two());
const _: () = assert!(ELEMENTS_MAX < NIL as usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Node {
    next: u32,
    offset: u32,
}

/// The table; `VALUES` says whether records carry a value after the key (hash) or not (set).
#[derive(Clone, Debug)]
pub struct PackedTable<const VALUES: bool> {
    arena: Vec<u8>,
    nodes: Vec<Node>,
    buckets: Vec<u32>,
    free_head: u32,
    len: u32,
    garbage_bytes: u32,
    seed: u64,
}

/// Reverse-binary cursor increment (Redis's dictScan): set the bits above the mask, reverse,
/// add one, reverse back. Growing or shrinking the mask keeps every unvisited bucket ahead.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    let v = (cursor | !mask).reverse_bits().wrapping_add(1);
    v.reverse_bits()
}

/// Buckets for `len` elements at load factor at most 1.
fn buckets_for(len: usize) -> usize {
    len.next_power_of_two().max(BUCKETS_MIN)
}

impl<const VALUES: bool> PackedTable<VALUES> {
    /// An empty table sized for `capacity` elements.
    pub fn new(seed: u64, capacity: usize) -> PackedTable<VALUES> {
        PackedTable {
            arena: Vec::new(),
            nodes: with_class_capacity(capacity),
            buckets: vec![NIL; buckets_for(capacity)],
            free_head: NIL,
            len: 0,
            garbage_bytes: 0,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// The three buffers, by class (not this struct itself). O(1).
    pub fn heap_bytes(&self) -> usize {
        vec_bytes(&self.arena) + vec_bytes(&self.nodes) + vec_bytes(&self.buckets)
    }

    fn mask(&self) -> u64 {
        self.buckets.len() as u64 - 1
    }

    #[inline]
    fn bucket_of(&self, key: &[u8]) -> usize {
        (xxh3_64_with_seed(key, self.seed) & self.mask()) as usize
    }

    /// The record at `offset`: (key, value, offset past it). A set's value is empty.
    #[inline]
    fn record(&self, offset: u32) -> (&[u8], &[u8], usize) {
        let (key, value_at) = get_str(&self.arena, offset as usize);
        if !VALUES {
            return (key, &[], value_at);
        }
        let (value, end) = get_str(&self.arena, value_at);
        (key, value, end)
    }

    fn record_len(&self, offset: u32) -> usize {
        self.record(offset).2 - offset as usize
    }

    /// The node holding `key` and its predecessor in the chain (NIL: the bucket's head).
    #[inline]
    fn find(&self, bucket: usize, key: &[u8]) -> Option<(u32, u32)> {
        let mut prev = NIL;
        let mut at = self.buckets[bucket];
        while at != NIL {
            let node = self.nodes[at as usize];
            if self.record(node.offset).0 == key {
                return Some((prev, at));
            }
            prev = at;
            at = node.next;
        }
        None
    }

    /// (key, value) of a live node.
    pub fn entry(&self, node: u32) -> (&[u8], &[u8]) {
        let offset = self.nodes[node as usize].offset;
        assert!(offset != FREE, "node {node} is free");
        let (key, value, _) = self.record(offset);
        (key, value)
    }

    pub fn get(&self, key: &[u8]) -> Option<(&[u8], &[u8])> {
        let (_, node) = self.find(self.bucket_of(key), key)?;
        Some(self.entry(node))
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.find(self.bucket_of(key), key).is_some()
    }

    /// Appends a record; returns its offset. Compacts first rather than pass the arena limit.
    fn append(&mut self, key: &[u8], value: &[u8]) -> u32 {
        let bytes = str_len(key) + if VALUES { str_len(value) } else { 0 };
        if self.arena.len() + bytes > ARENA_MAX_BYTES && self.garbage_bytes > 0 {
            self.compact_arena();
        }
        assert!(
            self.arena.len() + bytes <= ARENA_MAX_BYTES,
            "a hash or set holds at most ARENA_MAX_BYTES ({ARENA_MAX_BYTES}) bytes of records"
        );
        reserve_class(&mut self.arena, bytes);
        let offset = self.arena.len() as u32;
        put_str(&mut self.arena, key);
        if VALUES {
            put_str(&mut self.arena, value);
        }
        offset
    }

    /// Sets `key` to `value` (a set passes an empty value); true when the key is new.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        let bucket = self.bucket_of(key);
        if let Some((_, node)) = self.find(bucket, key) {
            if VALUES {
                self.replace_value(node, value);
            }
            return false;
        }
        assert!(
            self.len() < ELEMENTS_MAX,
            "a hash or set holds at most ELEMENTS_MAX ({ELEMENTS_MAX}) elements"
        );
        let offset = self.append(key, value);
        let head = self.buckets[bucket];
        let node = self.alloc_node(Node { next: head, offset });
        self.buckets[bucket] = node;
        self.len += 1;
        if self.len() > self.buckets.len() {
            self.relink(self.buckets.len() * 2);
        }
        true
    }

    /// A hash field's new value: in place when the record keeps its length, else a new record
    /// (key copied within the arena, no allocation) and the old one left as garbage.
    fn replace_value(&mut self, node: u32, value: &[u8]) {
        let offset = self.nodes[node as usize].offset;
        let (_, old, end) = self.record(offset);
        if old.len() == value.len() {
            self.arena[end - value.len()..end].copy_from_slice(value);
            return;
        }
        let key_end = end - str_len(old);
        let old_len = end - offset as usize;
        let bytes = key_end - offset as usize + str_len(value);
        self.garbage_bytes += old_len as u32;
        if self.arena.len() + bytes > ARENA_MAX_BYTES {
            // Near the limit `append` may compact, which drops a FREE node's old record.
            let key = self.record(offset).0.to_vec();
            self.nodes[node as usize].offset = FREE;
            let offset = self.append(&key, value);
            self.nodes[node as usize].offset = offset;
        } else {
            reserve_class(&mut self.arena, bytes);
            let new_offset = self.arena.len() as u32;
            self.arena.extend_from_within(offset as usize..key_end);
            put_str(&mut self.arena, value);
            self.nodes[node as usize].offset = new_offset;
        }
        self.maybe_compact();
    }

    fn alloc_node(&mut self, node: Node) -> u32 {
        if self.free_head != NIL {
            let at = self.free_head;
            self.free_head = self.nodes[at as usize].next;
            self.nodes[at as usize] = node;
            return at;
        }
        reserve_class(&mut self.nodes, 1);
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    /// Removes `key`; true when it was there.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        let bucket = self.bucket_of(key);
        let Some((prev, at)) = self.find(bucket, key) else {
            return false;
        };
        let node = self.nodes[at as usize];
        if prev == NIL {
            self.buckets[bucket] = node.next;
        } else {
            self.nodes[prev as usize].next = node.next;
        }
        self.garbage_bytes += self.record_len(node.offset) as u32;
        self.nodes[at as usize] = Node {
            next: self.free_head,
            offset: FREE,
        };
        self.free_head = at;
        self.len -= 1;
        self.after_remove();
        true
    }

    fn after_remove(&mut self) {
        let len = self.len();
        let free = self.nodes.len() - len;
        if self.buckets.len() > BUCKETS_MIN && len * SHRINK_RATIO < self.buckets.len() {
            self.rebuild(buckets_for(len));
        } else if free > len.max(BUCKETS_MIN) {
            self.rebuild(self.buckets.len());
        } else {
            self.maybe_compact();
        }
    }

    fn maybe_compact(&mut self) {
        let garbage = self.garbage_bytes as usize;
        if garbage > self.arena.len() - garbage {
            self.compact_arena();
        }
    }

    /// Copies the live records into a fresh arena and rewrites their offsets; chains stay.
    fn compact_arena(&mut self) {
        let live = self.arena.len() - self.garbage_bytes as usize;
        let mut arena = with_class_capacity(live);
        for node in self.nodes.iter_mut().filter(|n| n.offset != FREE) {
            let at = node.offset as usize;
            let (_, after_key) = get_str(&self.arena, at);
            let end = if VALUES {
                get_str(&self.arena, after_key).1
            } else {
                after_key
            };
            node.offset = arena.len() as u32;
            arena.extend_from_slice(&self.arena[at..end]);
        }
        self.arena = arena;
        self.garbage_bytes = 0;
    }

    /// Rehashes every live node into `buckets` chains (growth: nodes and arena stay).
    fn relink(&mut self, buckets: usize) {
        self.buckets = vec![NIL; buckets];
        for at in 0..self.nodes.len() {
            let offset = self.nodes[at].offset;
            if offset == FREE {
                continue;
            }
            let bucket = self.bucket_of(self.record(offset).0);
            self.nodes[at].next = self.buckets[bucket];
            self.buckets[bucket] = at as u32;
        }
    }

    /// Renumbers live nodes densely (keeping their order), compacts the arena and rehashes
    /// into `buckets` chains.
    fn rebuild(&mut self, buckets: usize) {
        self.compact_arena();
        let mut nodes = with_class_capacity(self.len());
        nodes.extend(self.nodes.iter().filter(|n| n.offset != FREE).copied());
        self.nodes = nodes;
        self.free_head = NIL;
        self.relink(buckets);
    }

    /// Live (key, value) pairs in node order: deterministic for a given seed and history.
    pub fn iter(&self) -> Iter<'_, VALUES> {
        Iter { table: self, at: 0 }
    }

    /// Visits the bucket `cursor` names; returns the next cursor (0: the scan is complete).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        let mask = self.mask();
        let mut at = self.buckets[(cursor & mask) as usize];
        while at != NIL {
            let node = self.nodes[at as usize];
            let (key, value, _) = self.record(node.offset);
            visit(key, value);
            at = node.next;
        }
        next_cursor(cursor, mask)
    }

    /// A live node drawn uniformly: rejection sampling over the node slots (at least half are
    /// live, see `after_remove`), then, after `RANDOM_TRIES_MAX` misses, the k-th live node.
    pub fn random(&self, mut draw: impl FnMut() -> u64) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        let slots = self.nodes.len() as u64;
        for _ in 0..RANDOM_TRIES_MAX {
            let at = (draw() % slots) as usize;
            if self.nodes[at].offset != FREE {
                return Some(at as u32);
            }
        }
        let k = (draw() % u64::from(self.len)) as usize;
        let at = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.offset != FREE)
            .nth(k);
        at.map(|(at, _)| at as u32)
    }

    /// Recounts everything the slow way and checks the invariants in the module doc.
    pub fn check_invariants(&self) {
        assert!(self.buckets.len().is_power_of_two() && self.buckets.len() >= BUCKETS_MIN);
        assert!(self.len() <= self.buckets.len(), "load factor above 1");
        let mut in_chains = 0;
        let mut live_bytes = 0;
        for (bucket, &head) in self.buckets.iter().enumerate() {
            let mut at = head;
            while at != NIL {
                let node = self.nodes[at as usize];
                assert!(node.offset != FREE, "free node {at} in chain {bucket}");
                assert_eq!(self.bucket_of(self.record(node.offset).0), bucket);
                live_bytes += self.record_len(node.offset);
                in_chains += 1;
                assert!(in_chains <= self.len(), "a chain loops or nodes repeat");
                at = node.next;
            }
        }
        assert_eq!(in_chains, self.len());
        let mut free = 0;
        let mut at = self.free_head;
        while at != NIL {
            assert_eq!(self.nodes[at as usize].offset, FREE);
            free += 1;
            assert!(free <= self.nodes.len(), "the free list loops");
            at = self.nodes[at as usize].next;
        }
        assert_eq!(free + self.len(), self.nodes.len());
        assert_eq!(live_bytes + self.garbage_bytes as usize, self.arena.len());
        let slow = vec_bytes(&self.arena) + vec_bytes(&self.nodes) + vec_bytes(&self.buckets);
        assert_eq!(slow, self.heap_bytes());
    }

    #[cfg(test)]
    pub fn buckets_len(&self) -> usize {
        self.buckets.len()
    }
}

/// `PackedTable::iter`: live nodes in slot order.
pub struct Iter<'a, const VALUES: bool> {
    table: &'a PackedTable<VALUES>,
    at: usize,
}

impl<'a, const VALUES: bool> Iterator for Iter<'a, VALUES> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let nodes = &self.table.nodes;
        while self.at < nodes.len() {
            let node = nodes[self.at];
            self.at += 1;
            if node.offset != FREE {
                let (key, value, _) = self.table.record(node.offset);
                return Some((key, value));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn key(i: u32) -> Vec<u8> {
        format!("member:{i}").into_bytes()
    }

    /// Runs a whole scan, calling `between` after every step; returns every key visited.
    fn scan_all(
        t: &mut PackedTable<false>,
        mut between: impl FnMut(&mut PackedTable<false>, usize),
    ) -> BTreeSet<Vec<u8>> {
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = t.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            if cursor == 0 {
                return seen;
            }
            between(t, step);
            t.check_invariants();
            step += 1;
        }
    }

    #[test]
    fn scan_visits_survivors_while_the_table_grows() {
        let mut t = PackedTable::<false>::new(11, 0);
        for i in 0..100 {
            t.insert(&key(i), &[]);
        }
        // Growth stops after 40 steps: a table that outgrows the cursor forever never ends.
        let seen = scan_all(&mut t, |t, step| {
            for j in 0..40 * u32::from(step < 40) {
                t.insert(&key(1_000 + step as u32 * 40 + j), &[]);
            }
        });
        assert!(t.buckets_len() >= 1024, "grew during the scan");
        assert!((0..100).all(|i| seen.contains(&key(i))));
    }

    #[test]
    fn scan_visits_survivors_while_the_table_shrinks() {
        let mut t = PackedTable::<false>::new(12, 0);
        for i in 0..2_000 {
            t.insert(&key(i), &[]);
        }
        let buckets_before = t.buckets_len();
        let mut next_victim = 100;
        let seen = scan_all(&mut t, |t, _| {
            for _ in 0..60 {
                if next_victim < 2_000 {
                    assert!(t.remove(&key(next_victim)));
                    next_victim += 1;
                }
            }
        });
        assert!(
            t.buckets_len() < buckets_before / 4,
            "shrank during the scan"
        );
        assert!((0..100).all(|i| seen.contains(&key(i))));
    }

    #[test]
    fn scan_of_a_steady_table_visits_each_element_once() {
        let mut t = PackedTable::<true>::new(13, 0);
        for i in 0..500 {
            t.insert(&key(i), b"v");
        }
        let mut visits = 0;
        let mut cursor = 0;
        loop {
            cursor = t.scan(cursor, |_, v| {
                assert_eq!(v, b"v");
                visits += 1;
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(visits, 500);
    }

    #[test]
    fn updates_leave_garbage_that_compaction_reclaims() {
        let mut t = PackedTable::<true>::new(14, 0);
        for i in 0..50 {
            t.insert(&key(i), b"short");
        }
        for round in 0..20usize {
            for i in 0..50 {
                let value = vec![b'x'; 1 + (round + i as usize) % 30];
                assert!(!t.insert(&key(i), &value));
                assert_eq!(t.get(&key(i)).unwrap().1, value.as_slice());
                t.check_invariants();
            }
        }
        assert!(t.garbage_bytes as usize <= t.arena.len() / 2 + 64);
    }

    #[test]
    fn random_is_uniform_over_live_elements_with_free_slots() {
        let mut t = PackedTable::<false>::new(15, 0);
        for i in 0..64 {
            t.insert(&key(i), &[]);
        }
        for i in (0..64).step_by(2) {
            t.remove(&key(i));
        }
        assert!(t.nodes.len() > t.len(), "free slots remain");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut draw = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..32_000 {
            let node = t.random(&mut draw).unwrap();
            *counts.entry(t.entry(node).0.to_vec()).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 32);
        assert!(
            counts.values().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn random_falls_back_to_counting_when_draws_miss() {
        let mut t = PackedTable::<false>::new(16, 0);
        t.insert(b"a", &[]);
        t.insert(b"b", &[]);
        t.remove(b"a");
        // Always draws slot 0, which is free (or, after a rebuild, the live one).
        let node = t.random(|| 0).unwrap();
        assert_eq!(t.entry(node).0, b"b");
    }

    #[test]
    fn next_cursor_walks_every_bucket_once() {
        for mask in [3u64, 7, 1023] {
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            loop {
                assert!(seen.insert(cursor & mask));
                cursor = next_cursor(cursor, mask);
                if cursor == 0 {
                    break;
                }
            }
            assert_eq!(seen.len() as u64, mask + 1);
        }
    }
}
