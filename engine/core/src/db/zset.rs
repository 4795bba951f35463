//! A sorted-set value (ZADD and friends), with Redis 7.0's two encodings by name: "listpack"
//! while there are at most `zset-max-listpack-entries` members of at most
//! `zset-max-listpack-value` bytes each, else "skiplist" (Redis's name; ours is a tree).
//!
//! - "listpack" (listpack.rs): (member, score) records in one buffer in key order (score, then
//!   member bytes), each member front-coded against the one before, found by a linear scan. As in Redis, whose listpack keeps a score as
//!   text and reads `-0` back as the integer 0, a `-0` score is stored as 0 here.
//! - "skiplist" (tree.rs + index.rs): an order-statistic B+tree of the records, for ranks and
//!   ranges in O(log n), and a (hash, score) table for member -> score, which confirms a
//!   candidate in the tree, so a member's bytes are kept once. ZSCORE is O(log n), not O(1).
//!
//! Conversion follows zsetAdd: adding a member that would pass either limit converts first;
//! nothing converts back (ZREM to one member keeps a tree). Every operation is positional, by
//! rank: a range by score or lex is two `count_below` descents and a walk between them.
//! `heap_bytes` is O(1): a listpack owns one buffer; a tree its box, its nodes and the table.

mod index;
mod listpack;
mod record;
mod tree;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use self::index::ScoreIndex;
use self::listpack::Listpack;
use self::tree::Tree;
use super::size_class::class_bytes;

pub use self::record::cmp_key as cmp_entries;

/// Redis's `zset-max-listpack-entries` and `zset-max-listpack-value` (bytes of a member).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZSetLimits {
    pub listpack_entries_max: usize,
    pub listpack_value_max_bytes: usize,
}

impl Default for ZSetLimits {
    fn default() -> ZSetLimits {
        ZSetLimits {
            listpack_entries_max: 128,
            listpack_value_max_bytes: 64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ZSetValue {
    repr: Repr,
}

#[derive(Clone, Debug)]
enum Repr {
    Listpack { lp: Listpack, seed: u64 },
    Tree(Box<Big>),
}

#[derive(Clone, Debug)]
struct Big {
    tree: Tree,
    index: ScoreIndex,
    seed: u64,
}

/// A member found in a tree: its index slot, score and rank.
struct Found {
    slot: u32,
    score: f64,
    rank: usize,
}

impl Big {
    fn hash(&self, member: &[u8]) -> u32 {
        xxh3_64_with_seed(member, self.seed) as u32
    }

    fn find(&self, member: &[u8]) -> Option<Found> {
        self.index
            .candidates(self.hash(member))
            .find_map(|(slot, score)| {
                let rank = self.tree.rank(score, member)?;
                Some(Found { slot, score, rank })
            })
    }
}

impl PartialEq for ZSetValue {
    /// Equal (member, score) pairs, whatever the encoding.
    fn eq(&self, other: &ZSetValue) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut equal = true;
        let mut rank = 0;
        self.visit_range(0, self.len(), false, &mut |member, score| {
            let (m, s) = other.nth(rank);
            equal = m == member && s.to_bits() == score.to_bits();
            rank += 1;
            equal
        });
        equal
    }
}

/// The score a listpack stores for `score` (its text form reads `-0` back as 0).
fn listpack_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

impl ZSetValue {
    /// An empty listpack; `seed` keys the table it may convert to.
    pub fn new(seed: u64) -> ZSetValue {
        ZSetValue {
            repr: Repr::Listpack {
                lp: Listpack::default(),
                seed,
            },
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.len(),
            Repr::Tree(big) => big.tree.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name: "listpack" or "skiplist".
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack { .. } => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }

    /// Heap bytes this value owns, by allocator class (not the value's own box). O(1).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.heap_bytes(),
            Repr::Tree(big) => {
                class_bytes(std::mem::size_of::<Big>())
                    + big.tree.heap_bytes()
                    + big.index.heap_bytes()
            }
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.score(member),
            Repr::Tree(big) => big.find(member).map(|found| found.score),
        }
    }

    /// The member's rank (ascending) and score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.rank(member),
            Repr::Tree(big) => big.find(member).map(|found| (found.rank, found.score)),
        }
    }

    /// The pair at `rank` (< len), copied (a listpack rebuilds its front-coded members).
    pub fn nth(&self, rank: usize) -> (Vec<u8>, f64) {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.nth(rank),
            Repr::Tree(big) => {
                let (m, s) = big.tree.nth(rank);
                (m.to_vec(), s)
            }
        }
    }

    /// How many pairs are `below`, a predicate true on a prefix of the pairs in order.
    pub fn count_below(&self, below: &dyn Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.count_below(below),
            Repr::Tree(big) => big.tree.count_below(below),
        }
    }

    /// Visits ranks `start..end` (clamped) ascending, or descending from `end - 1` when `rev`,
    /// until `visit` answers false.
    pub fn visit_range(
        &self,
        start: usize,
        end: usize,
        rev: bool,
        visit: &mut dyn FnMut(&[u8], f64) -> bool,
    ) {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.visit_range(start, end.min(lp.len()), rev, visit),
            Repr::Tree(big) => big.tree.visit_range(start, end, rev, visit),
        }
    }

    /// Every pair in order, copied (for the set algebra and conversions).
    pub fn to_pairs(&self) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(self.len());
        self.visit_range(0, self.len(), false, &mut |m, s| {
            out.push((m.to_vec(), s));
            true
        });
        out
    }

    /// Sets `member`'s score, adding it when absent; returns the previous score. Converts to a
    /// tree first when a new member would pass `limits` (zsetAdd's rule). A score equal to the
    /// present one (`==`, so -0 equals 0) changes nothing.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &ZSetLimits) -> Option<f64> {
        assert!(!score.is_nan(), "a score is never NaN");
        if let Repr::Listpack { lp, .. } = &mut self.repr {
            let old = lp.score(member);
            let too_big = lp.len() + 1 > limits.listpack_entries_max
                || member.len() > limits.listpack_value_max_bytes;
            if old.is_some() || !too_big {
                if old != Some(score) {
                    if old.is_some() {
                        lp.remove(member);
                    }
                    lp.insert(member, listpack_score(score));
                }
                return old;
            }
            self.convert();
        }
        let Repr::Tree(big) = &mut self.repr else {
            unreachable!("converted above")
        };
        match big.find(member) {
            Some(found) => {
                if found.score != score {
                    big.tree.remove(member, found.score);
                    big.tree.insert(member, score);
                    big.index.set_score(found.slot, score);
                }
                Some(found.score)
            }
            None => {
                big.tree.insert(member, score);
                let hash = big.hash(member);
                big.index.insert(hash, score);
                None
            }
        }
    }

    /// Turns a listpack into a tree (a tree stays).
    fn convert(&mut self) {
        let Repr::Listpack { lp, seed } = &self.repr else {
            return;
        };
        let mut big = Big {
            tree: Tree::new(),
            index: ScoreIndex::with_capacity(lp.len() + 1),
            seed: *seed,
        };
        for (member, score) in lp.to_pairs() {
            big.tree.insert(&member, score);
            let hash = big.hash(&member);
            big.index.insert(hash, score);
        }
        self.repr = Repr::Tree(Box::new(big));
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack { lp, .. } => lp.remove(member),
            Repr::Tree(big) => match big.find(member) {
                Some(found) => {
                    big.tree.remove(member, found.score);
                    big.index.remove(found.slot);
                    true
                }
                None => false,
            },
        }
    }

    /// Removes ranks `start..end` (clamped); returns how many went.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        if let Repr::Listpack { lp, .. } = &mut self.repr {
            return lp.remove_range(start, end);
        }
        let mut doomed = Vec::with_capacity(end - start);
        self.visit_range(start, end, false, &mut |m, _| {
            doomed.push(m.to_vec());
            true
        });
        for member in &doomed {
            let removed = self.remove(member);
            assert!(removed, "a member in range is present");
        }
        doomed.len()
    }

    /// One step of ZSCAN: a listpack whole (cursor 0); a tree from the first score at or past
    /// the cursor's, at least `count` pairs and then every pair sharing the last one's score, so
    /// the next cursor (that score, order-preserving) loses nothing present throughout.
    pub fn scan(&self, cursor: u64, count: usize, visit: &mut dyn FnMut(&[u8], f64)) -> u64 {
        if let Repr::Listpack { lp, .. } = &self.repr {
            for (m, s) in lp.to_pairs() {
                visit(&m, s);
            }
            return 0;
        }
        let from = if cursor == 0 {
            0
        } else {
            let resume = score_of_cursor(cursor);
            self.count_below(&|s, _| s < resume)
        };
        let mut seen = 0;
        let mut last: Option<f64> = None;
        let mut next = 0;
        self.visit_range(from, self.len(), false, &mut |m, s| {
            if seen >= count && last.is_some_and(|l| l != s) {
                next = cursor_of_score(s);
                return false;
            }
            visit(m, s);
            seen += 1;
            last = Some(s);
            true
        });
        next
    }

    /// Recounts the slow way and checks the encoding's invariants (tests, simulator).
    pub fn check_invariants(&self) {
        match &self.repr {
            Repr::Listpack { lp, .. } => lp.check_invariants(),
            Repr::Tree(big) => {
                big.tree.check_invariants();
                big.index.check_invariants();
                assert_eq!(big.index.len(), big.tree.len(), "index and tree sizes");
                let mut want: Vec<(u32, u64)> =
                    big.index.entries().map(|(h, s)| (h, s.to_bits())).collect();
                let mut got = Vec::with_capacity(big.tree.len());
                big.tree.visit_range(0, big.tree.len(), false, &mut |m, s| {
                    got.push((big.hash(m), s.to_bits()));
                    true
                });
                want.sort_unstable();
                got.sort_unstable();
                assert_eq!(want, got, "the index is the tree's (hash, score) multiset");
            }
        }
    }
}

/// ZSCAN's cursor for "resume at score `s`": the score's order-preserving bits, never 0.
fn cursor_of_score(s: f64) -> u64 {
    let bits = s.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn score_of_cursor(cursor: u64) -> f64 {
    let bits = if cursor >> 63 == 1 {
        cursor & !(1 << 63)
    } else {
        !cursor
    };
    let s = f64::from_bits(bits);
    if s.is_nan() {
        f64::INFINITY
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
