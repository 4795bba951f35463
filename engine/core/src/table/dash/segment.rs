//! One segment of the Dash table: `SEGMENT_BUCKETS` regular buckets and `STASH_BUCKETS` stash
//! buckets of `BUCKET_SLOTS` slots each, plus the per-home-bucket stash counts and versions.
//!
//! Everything here is local to a segment and blind to the directory: the table (mod.rs) picks
//! the segment, this file places, finds, moves and removes entries inside it. Invariants, checked
//! by `DashTable::check_invariants`:
//! - an entry whose home bucket is `h` lives in bucket `h`, in bucket `neighbour(h)`, or in a
//!   stash bucket, and its slot's `homes` byte is `h` and `fingerprints` byte its fingerprint;
//! - `stashed[h]` counts the stash entries whose home is `h` (so a lookup skips the stash when
//!   it is 0), and `len` counts every entry;
//! - a bucket's `len` counts its occupied slots.

use super::{neighbour, previous, Hashed, BUCKET_SLOTS, SEGMENT_BUCKETS, SEGMENT_BUCKETS_TOTAL};
use crate::table::Keyed;

/// A slot's worth of data on its way from one place to another.
pub(super) struct Taken<E> {
    pub entry: E,
    pub fingerprint: u8,
    pub home: u8,
}

/// The high bit of each byte of the result is set exactly where `word`'s byte is zero (no
/// borrow crosses bytes, so there are no false hits; every other bit is clear).
fn zero_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((word & LOW7).wrapping_add(LOW7)) | word | LOW7)
}

/// `BUCKET_SLOTS` entries stored inline, with a fingerprint and a home byte per slot that are
/// compared before any key is (the fingerprint array is 14 bytes: one cache line holds it).
pub(super) struct Bucket<E> {
    pub slots: [Option<E>; BUCKET_SLOTS],
    /// One byte of the entry's hash; meaningful only where `slots` holds an entry.
    pub fingerprints: [u8; BUCKET_SLOTS],
    /// The entry's home bucket; in a regular bucket `b` it is `b` or `previous(b)`.
    pub homes: [u8; BUCKET_SLOTS],
    pub len: u8,
}

impl<E> Bucket<E> {
    fn new() -> Bucket<E> {
        Bucket {
            slots: std::array::from_fn(|_| None),
            fingerprints: [0; BUCKET_SLOTS],
            homes: [0; BUCKET_SLOTS],
            len: 0,
        }
    }

    pub fn is_full(&self) -> bool {
        usize::from(self.len) == BUCKET_SLOTS
    }

    /// The last free slot: new entries enter at a bucket's tail, the end eviction takes from,
    /// and climb toward slot 0 on hits (`Segment::promote`).
    fn free_slot(&self) -> Option<usize> {
        self.slots.iter().rposition(Option::is_none)
    }

    /// The occupied slot nearest the tail, at or after `slot_min`, whose entry `eligible`
    /// accepts.
    fn tail_slot(&self, slot_min: usize, eligible: &impl Fn(&E) -> bool) -> Option<usize> {
        let slot = self.slots[slot_min..]
            .iter()
            .rposition(|slot| slot.as_ref().is_some_and(eligible))?;
        Some(slot_min + slot)
    }

    /// The occupied slot whose entry has this home, if any (a candidate for displacement).
    fn slot_with_home(&self, home: usize) -> Option<usize> {
        (0..BUCKET_SLOTS).find(|&i| self.slots[i].is_some() && usize::from(self.homes[i]) == home)
    }

    /// The entry with home `home` at `slot`, if that slot holds one.
    pub fn entry_with_home(&self, slot: usize, home: usize) -> Option<&E> {
        let entry = self.slots[slot].as_ref()?;
        (usize::from(self.homes[slot]) == home).then_some(entry)
    }

    fn put(&mut self, slot: usize, taken: Taken<E>) {
        assert!(self.slots[slot].is_none(), "slot {slot} is occupied");
        self.slots[slot] = Some(taken.entry);
        self.fingerprints[slot] = taken.fingerprint;
        self.homes[slot] = taken.home;
        self.len += 1;
    }

    fn take(&mut self, slot: usize) -> Taken<E> {
        let entry = self.slots[slot].take().expect("take from an empty slot");
        self.len -= 1;
        Taken {
            entry,
            fingerprint: self.fingerprints[slot],
            home: self.homes[slot],
        }
    }
}

impl<E: Keyed> Bucket<E> {
    /// The slot holding `key`: fingerprint and home first, then the key bytes.
    ///
    /// The fingerprints are compared eight at a time in a u64 (SWAR), so a lookup visits only
    /// the slots whose fingerprint matches (one in 256 of the others) instead of all fourteen:
    /// the probe of two buckets was a quarter of a GET's instructions.
    fn find(&self, hashed: Hashed, key: &[u8]) -> Option<usize> {
        const { assert!(BUCKET_SLOTS > 8 && BUCKET_SLOTS <= 16) };
        let fingerprints = &self.fingerprints;
        let mut low = [0; 8];
        low.copy_from_slice(&fingerprints[..8]);
        // The padding bytes past the last slot can never equal the fingerprint.
        let mut high = [!hashed.fingerprint; 8];
        high[..BUCKET_SLOTS - 8].copy_from_slice(&fingerprints[8..]);
        let spread = u64::from_le_bytes([hashed.fingerprint; 8]);
        for (first, word) in [(0, low), (8, high)] {
            let mut hits = zero_bytes(u64::from_le_bytes(word) ^ spread);
            while hits != 0 {
                let i = first + (hits.trailing_zeros() / 8) as usize;
                if self.homes[i] == hashed.home
                    && self.slots[i].as_ref().is_some_and(|e| e.key() == key)
                {
                    return Some(i);
                }
                hits &= hits - 1;
            }
        }
        None
    }
}

/// Where an entry sits inside its segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pos {
    pub bucket: usize,
    pub slot: usize,
}

/// Which path an insert took; the table counts them in `DashStats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum InsertPath {
    /// The home bucket, which was no fuller than its neighbour.
    Home,
    /// The neighbour bucket, which was less full than the home bucket.
    Neighbour,
    /// Both full: an entry living at home in the neighbour moved one bucket further on.
    DisplacedForward,
    /// Both full: an entry living in the home bucket as its predecessor's neighbour moved back
    /// to its own home.
    DisplacedBackward,
    /// A stash bucket.
    Stash,
}

pub(super) struct Segment<E> {
    /// `SEGMENT_BUCKETS` regular buckets, then `STASH_BUCKETS` stash buckets.
    pub buckets: Box<[Bucket<E>]>,
    /// Per home bucket: how many of its entries live in the stash.
    pub stashed: [u8; SEGMENT_BUCKETS],
    /// Per home (logical) bucket: bumped on every change to an entry with that home.
    pub versions: [u64; SEGMENT_BUCKETS],
    /// The directory prefix bits this segment owns; its hash range is `start..start + span`.
    pub local_depth: u32,
    /// First position (top `DIRECTORY_DEPTH_MAX` hash bits) of the range this segment owns.
    pub start: u64,
    pub len: usize,
}

impl<E> Segment<E> {
    pub fn new(local_depth: u32, start: u64, versions: [u64; SEGMENT_BUCKETS]) -> Segment<E> {
        Segment {
            buckets: (0..SEGMENT_BUCKETS_TOTAL).map(|_| Bucket::new()).collect(),
            stashed: [0; SEGMENT_BUCKETS],
            versions,
            local_depth,
            start,
            len: 0,
        }
    }

    /// The buckets where entries with home `home` can live, in the order a visit walks them:
    /// home, neighbour, then the stash only when the home bucket has entries there.
    pub fn logical_buckets(&self, home: usize) -> impl Iterator<Item = usize> {
        let stash_end = if self.stashed[home] > 0 {
            SEGMENT_BUCKETS_TOTAL
        } else {
            SEGMENT_BUCKETS
        };
        [home, neighbour(home)]
            .into_iter()
            .chain(SEGMENT_BUCKETS..stash_end)
    }

    pub fn entry(&self, pos: Pos) -> &E {
        self.buckets[pos.bucket].slots[pos.slot]
            .as_ref()
            .expect("a found position holds an entry")
    }

    pub fn entry_mut(&mut self, pos: Pos) -> &mut E {
        let home = usize::from(self.buckets[pos.bucket].homes[pos.slot]);
        self.versions[home] += 1;
        self.buckets[pos.bucket].slots[pos.slot]
            .as_mut()
            .expect("a found position holds an entry")
    }

    /// Puts `taken` at `pos`, keeping the counts and bumping its home's version.
    pub fn place(&mut self, pos: Pos, taken: Taken<E>) {
        let home = usize::from(taken.home);
        if pos.bucket >= SEGMENT_BUCKETS {
            self.stashed[home] += 1;
        }
        self.versions[home] += 1;
        self.len += 1;
        self.buckets[pos.bucket].put(pos.slot, taken);
    }

    /// Takes the entry at `pos` out, keeping the counts and bumping its home's version.
    pub fn unplace(&mut self, pos: Pos) -> Taken<E> {
        let taken = self.buckets[pos.bucket].take(pos.slot);
        let home = usize::from(taken.home);
        if pos.bucket >= SEGMENT_BUCKETS {
            self.stashed[home] -= 1;
        }
        self.versions[home] += 1;
        self.len -= 1;
        taken
    }

    /// Puts `taken` in a free slot of `bucket`, which must have one.
    fn place_in(&mut self, bucket: usize, taken: Taken<E>) {
        let slot = self.buckets[bucket]
            .free_slot()
            .expect("placing into a bucket with room");
        self.place(Pos { bucket, slot }, taken);
    }

    /// Inserts an entry known to be absent. Dash's order: the less full of home and neighbour
    /// (balanced insert), then displacement either way, then the stash; `Err` gives the entry
    /// back when all fail and the segment must split.
    pub fn try_insert(&mut self, hashed: Hashed, entry: E) -> Result<InsertPath, E> {
        let home = usize::from(hashed.home);
        let next = neighbour(home);
        let (home_len, next_len) = (self.buckets[home].len, self.buckets[next].len);
        let (bucket, path) = if !self.buckets[home].is_full() && home_len <= next_len {
            (home, InsertPath::Home)
        } else if !self.buckets[next].is_full() {
            (next, InsertPath::Neighbour)
        } else if self.displace(next, next, neighbour(next)) {
            (next, InsertPath::DisplacedForward)
        } else if self.displace(home, previous(home), previous(home)) {
            (home, InsertPath::DisplacedBackward)
        } else if let Some(stash) = self.stash_with_room(home) {
            (stash, InsertPath::Stash)
        } else {
            return Err(entry);
        };
        let taken = Taken {
            entry,
            fingerprint: hashed.fingerprint,
            home: hashed.home,
        };
        self.place_in(bucket, taken);
        Ok(path)
    }

    /// Frees a slot in bucket `from` by moving one of its entries whose home is `home` into
    /// bucket `to` (one of that entry's two allowed buckets); false when none can move.
    fn displace(&mut self, from: usize, home: usize, to: usize) -> bool {
        if self.buckets[to].is_full() {
            return false;
        }
        let Some(slot) = self.buckets[from].slot_with_home(home) else {
            return false;
        };
        let taken = self.unplace(Pos { bucket: from, slot });
        self.place_in(to, taken);
        true
    }

    /// The first stash bucket with a free slot, starting from one the home bucket picks so that
    /// overflow from different home buckets spreads over the stash.
    fn stash_with_room(&self, home: usize) -> Option<usize> {
        let stash_len = SEGMENT_BUCKETS_TOTAL - SEGMENT_BUCKETS;
        (0..stash_len)
            .map(|i| SEGMENT_BUCKETS + (home + i) % stash_len)
            .find(|&b| !self.buckets[b].is_full())
    }

    /// Moves stash entries back to their home or neighbour bucket where either has room (after
    /// a split has freed slots), so lookups leave the stash alone again.
    pub fn drain_stash(&mut self) {
        for bucket in SEGMENT_BUCKETS..SEGMENT_BUCKETS_TOTAL {
            for slot in 0..BUCKET_SLOTS {
                if self.buckets[bucket].slots[slot].is_none() {
                    continue;
                }
                let home = usize::from(self.buckets[bucket].homes[slot]);
                let next = neighbour(home);
                let (home_len, next_len) = (self.buckets[home].len, self.buckets[next].len);
                let to = if !self.buckets[home].is_full() && home_len <= next_len {
                    home
                } else if !self.buckets[next].is_full() {
                    next
                } else {
                    continue;
                };
                let taken = self.unplace(Pos { bucket, slot });
                self.place_in(to, taken);
            }
        }
    }

    /// Moves the entry at `pos` one slot toward its bucket's head (swapping with the entry there,
    /// if any): the hit half of the 2Q-like eviction order, with no per-entry metadata.
    pub fn promote(&mut self, pos: Pos) {
        if pos.slot == 0 {
            return;
        }
        let bucket = &mut self.buckets[pos.bucket];
        let ahead = pos.slot - 1;
        bucket.slots.swap(ahead, pos.slot);
        bucket.fingerprints.swap(ahead, pos.slot);
        bucket.homes.swap(ahead, pos.slot);
    }

    /// The position eviction takes next, looking from `home`: the tail of the home bucket, the
    /// neighbour, the stash, then the other buckets of the segment in order. A bucket's head
    /// (slot 0, where repeated hits lead) is the protected part of the 2Q order: it is taken
    /// only when no bucket has anything behind its head.
    pub fn eviction_victim(&self, home: usize, eligible: impl Fn(&E) -> bool) -> Option<Pos> {
        let order = || {
            [home, neighbour(home)]
                .into_iter()
                .chain(SEGMENT_BUCKETS..SEGMENT_BUCKETS_TOTAL)
                .chain((0..SEGMENT_BUCKETS - 2).map(move |i| (home + 2 + i) % SEGMENT_BUCKETS))
        };
        for slot_min in [1, 0] {
            for bucket in order() {
                if let Some(slot) = self.buckets[bucket].tail_slot(slot_min, &eligible) {
                    return Some(Pos { bucket, slot });
                }
            }
        }
        None
    }

    /// Bumps every logical bucket's version (a split or merge changed the whole segment).
    pub fn bump_all_versions(&mut self) {
        for version in &mut self.versions {
            *version += 1;
        }
    }

    /// Every occupied position, in bucket then slot order.
    pub fn occupied(&self) -> impl Iterator<Item = Pos> + '_ {
        self.buckets.iter().enumerate().flat_map(|(bucket, b)| {
            (0..BUCKET_SLOTS)
                .filter(move |&slot| b.slots[slot].is_some())
                .map(move |slot| Pos { bucket, slot })
        })
    }
}

impl<E: Keyed> Segment<E> {
    /// The position of `key`, probing only the buckets its home allows.
    pub fn find(&self, hashed: Hashed, key: &[u8]) -> Option<Pos> {
        // `logical_buckets` spelled out: the iterator chain cost more than the probes.
        let home = usize::from(hashed.home);
        let probe = |bucket: usize| {
            let slot = self.buckets[bucket].find(hashed, key)?;
            Some(Pos { bucket, slot })
        };
        if let Some(pos) = probe(home).or_else(|| probe(neighbour(home))) {
            return Some(pos);
        }
        if self.stashed[home] == 0 {
            return None;
        }
        (SEGMENT_BUCKETS..SEGMENT_BUCKETS_TOTAL).find_map(probe)
    }

    /// Moves the entries whose position is at or past `upper_start` into a fresh segment at the
    /// same bucket and slot (always valid: home buckets do not depend on the segment), deepens
    /// both, and drains both stashes. No entry is rehashed into a new place, so a split cannot
    /// fail.
    pub fn split_off(&mut self, upper_start: u64, hash: impl Fn(&[u8]) -> Hashed) -> Segment<E> {
        self.local_depth += 1;
        let mut upper = Segment::new(self.local_depth, upper_start, self.versions);
        let moving: Vec<Pos> = self
            .occupied()
            .filter(|&pos| hash(self.entry(pos).key()).position >= upper_start)
            .collect();
        for pos in moving {
            let taken = self.unplace(pos);
            upper.place(pos, taken);
        }
        for segment in [&mut *self, &mut upper] {
            segment.bump_all_versions();
            segment.drain_stash();
        }
        upper
    }

    /// Takes in every entry of `upper`, its buddy, and becomes one level shallower. The caller
    /// guarantees the pair holds at most `MERGE_LEN_MAX` entries, which the stash alone can hold,
    /// so no insert here can fail.
    pub fn absorb(&mut self, mut upper: Segment<E>, hash: impl Fn(&[u8]) -> Hashed) {
        assert_eq!(self.local_depth, upper.local_depth, "merging non-buddies");
        self.local_depth -= 1;
        for (mine, theirs) in self.versions.iter_mut().zip(upper.versions) {
            *mine = (*mine).max(theirs) + 1;
        }
        let positions: Vec<Pos> = upper.occupied().collect();
        for pos in positions {
            let taken = upper.unplace(pos);
            let hashed = hash(taken.entry.key());
            let placed = self.try_insert(hashed, taken.entry).is_ok();
            assert!(placed, "a merge within MERGE_LEN_MAX cannot overflow");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::zero_bytes;

    #[test]
    fn zero_bytes_marks_exactly_the_zero_bytes() {
        // Every byte value in every position, beside neighbours that provoke borrows (0x00,
        // 0x01, 0x80, 0xff): the naive (x - 0x01..) & !x trick would flag 0x01 after a zero.
        for value in 0..=255u8 {
            for position in 0..8 {
                for filler in [0x00u8, 0x01, 0x80, 0xff] {
                    let mut bytes = [filler; 8];
                    bytes[position] = value;
                    let marks = zero_bytes(u64::from_le_bytes(bytes)).to_le_bytes();
                    for (byte, mark) in bytes.iter().zip(marks) {
                        assert_eq!(mark, if *byte == 0 { 0x80 } else { 0 }, "{bytes:?}");
                    }
                }
            }
        }
    }
}
