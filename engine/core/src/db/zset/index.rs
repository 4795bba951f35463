//! A large sorted set's member -> score lookup: a chained hash table of (hash, score) slots that
//! keeps no member bytes at all; the tree (tree.rs) holds each member once.
//!
//! ```text
//!  buckets: [u32 head]…                      power of two; bucket = hash & mask
//!  slots:   [score f64 | hash u32 | next u32]… a chain link; free slots have a NaN score
//! ```
//!
//! Why: a table that kept the members would store each one twice. Here a member costs a 16-byte
//! slot and 4 to 8 bytes of bucket. The catch is that a slot cannot say whose it is, so a lookup
//! confirms a candidate in the tree: for each slot in the member's chain with the member's hash,
//! the member is present with that slot's score exactly when the tree holds (score, member).
//! Two members with the same 32-bit hash and the same score have identical slots, so which of
//! the two slots a lookup settles on does not matter: the table is the multiset of
//! (hash, score) over the members, and every operation keeps it so.
//!
//! Invariants (`check_invariants`): every live slot is in the chain of its hash's bucket, `len`
//! counts them, `len <= buckets` (the table doubles past it, halves below an eighth, never below
//! `BUCKETS_MIN`), and free slots are exactly the free list (rebuilt densely when they outnumber
//! the live ones).

use crate::db::packed::{reserve_class, vec_bytes, with_class_capacity};

const NIL: u32 = u32::MAX;
const BUCKETS_MIN: usize = 4;
const SHRINK_RATIO: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Slot {
    score: f64,
    hash: u32,
    next: u32,
}

#[derive(Clone, Debug)]
pub struct ScoreIndex {
    buckets: Vec<u32>,
    slots: Vec<Slot>,
    free_head: u32,
    len: u32,
}

fn buckets_for(len: usize) -> usize {
    len.next_power_of_two().max(BUCKETS_MIN)
}

impl ScoreIndex {
    pub fn with_capacity(capacity: usize) -> ScoreIndex {
        ScoreIndex {
            buckets: vec![NIL; buckets_for(capacity)],
            slots: with_class_capacity(capacity),
            free_head: NIL,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn heap_bytes(&self) -> usize {
        vec_bytes(&self.buckets) + vec_bytes(&self.slots)
    }

    fn bucket(&self, hash: u32) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    /// The slots whose hash is `hash`, with their scores: the member's candidates.
    pub fn candidates(&self, hash: u32) -> impl Iterator<Item = (u32, f64)> + '_ {
        let mut at = self.buckets[self.bucket(hash)];
        std::iter::from_fn(move || {
            while at != NIL {
                let slot = self.slots[at as usize];
                let id = at;
                at = slot.next;
                if slot.hash == hash {
                    return Some((id, slot.score));
                }
            }
            None
        })
    }

    pub fn set_score(&mut self, slot: u32, score: f64) {
        assert!(!score.is_nan(), "a score is never NaN");
        self.slots[slot as usize].score = score;
    }

    pub fn insert(&mut self, hash: u32, score: f64) {
        assert!(!score.is_nan(), "a score is never NaN");
        let bucket = self.bucket(hash);
        let slot = Slot {
            score,
            hash,
            next: self.buckets[bucket],
        };
        let id = if self.free_head != NIL {
            let id = self.free_head;
            self.free_head = self.slots[id as usize].next;
            self.slots[id as usize] = slot;
            id
        } else {
            reserve_class(&mut self.slots, 1);
            self.slots.push(slot);
            u32::try_from(self.slots.len() - 1).expect("slot ids fit u32")
        };
        self.buckets[bucket] = id;
        self.len += 1;
        if self.len() > self.buckets.len() {
            self.relink(self.buckets.len() * 2);
        }
    }

    pub fn remove(&mut self, slot: u32) {
        let hash = self.slots[slot as usize].hash;
        let bucket = self.bucket(hash);
        let next = self.slots[slot as usize].next;
        if self.buckets[bucket] == slot {
            self.buckets[bucket] = next;
        } else {
            let mut at = self.buckets[bucket];
            while self.slots[at as usize].next != slot {
                at = self.slots[at as usize].next;
                assert!(at != NIL, "slot {slot} is in its chain");
            }
            self.slots[at as usize].next = next;
        }
        self.slots[slot as usize] = Slot {
            score: f64::NAN,
            hash: 0,
            next: self.free_head,
        };
        self.free_head = slot;
        self.len -= 1;
        let len = self.len();
        if self.buckets.len() > BUCKETS_MIN && len * SHRINK_RATIO < self.buckets.len() {
            self.rebuild(buckets_for(len));
        } else if self.slots.len() - len > len.max(BUCKETS_MIN) {
            self.rebuild(self.buckets.len());
        }
    }

    fn relink(&mut self, buckets: usize) {
        self.buckets = vec![NIL; buckets];
        for at in 0..self.slots.len() {
            if self.slots[at].score.is_nan() {
                continue;
            }
            let bucket = self.bucket(self.slots[at].hash);
            self.slots[at].next = self.buckets[bucket];
            self.buckets[bucket] = at as u32;
        }
    }

    /// Packs the live slots densely and rehashes them into `buckets` chains.
    fn rebuild(&mut self, buckets: usize) {
        let mut slots = with_class_capacity(self.len());
        slots.extend(self.slots.iter().filter(|s| !s.score.is_nan()).copied());
        self.slots = slots;
        self.free_head = NIL;
        self.relink(buckets);
    }

    /// Every live (hash, score), for the owner's cross-check against its tree.
    pub fn entries(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.slots
            .iter()
            .filter(|s| !s.score.is_nan())
            .map(|s| (s.hash, s.score))
    }

    pub fn check_invariants(&self) {
        assert!(self.buckets.len().is_power_of_two() && self.buckets.len() >= BUCKETS_MIN);
        assert!(self.len() <= self.buckets.len(), "load factor above 1");
        let mut in_chains = 0;
        for (bucket, &head) in self.buckets.iter().enumerate() {
            let mut at = head;
            while at != NIL {
                let slot = self.slots[at as usize];
                assert!(!slot.score.is_nan(), "free slot {at} in chain {bucket}");
                assert_eq!(self.bucket(slot.hash), bucket);
                in_chains += 1;
                assert!(in_chains <= self.len(), "a chain loops");
                at = slot.next;
            }
        }
        assert_eq!(in_chains, self.len());
        let mut free = 0;
        let mut at = self.free_head;
        while at != NIL {
            assert!(self.slots[at as usize].score.is_nan());
            free += 1;
            assert!(free <= self.slots.len(), "the free list loops");
            at = self.slots[at as usize].next;
        }
        assert_eq!(free + self.len(), self.slots.len());
    }
}
