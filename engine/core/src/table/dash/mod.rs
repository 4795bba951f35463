//! A Dash-style segmented hash table: the shard's keyspace table (`table::Table` is this type).
//!
//! After "Dash: Scalable Hashing on Persistent Memory" (Lu et al., VLDB 2020) as Dragonfly's
//! dashtable adapts it; papers/dash.md tells the paper, what we changed and our measurements.
//!
//! ```text
//!  hash = xxh3_64(key, seed)                                                       bit 0
//!  ┌───────────── 32 bits ─────────────┬─────────── 24 bits ───────────┬── 8 bits ──┐
//!  │ position: picks the segment       │ home bucket (mod 52)          │ fingerprint│
//!  └───────────────────────────────────┴───────────────────────────────┴────────────┘
//!
//!  directory: 2^global_depth segment indices, indexed by the top global_depth bits
//!    [00] [01] [10] [11]
//!      │    │    │    └──► segment C   local depth 2, owns positions 11…
//!      │    │    └───────► segment B   local depth 2, owns positions 10…
//!      └────┴────────────► segment A   local depth 1, owns positions 0…
//!
//!  segment: 52 regular buckets + 4 stash buckets, 14 inline slots each (784 slots)
//!    ┌────┬────┬────┬─────┬─────┐ ┌────┬────┬────┬────┐
//!    │ b0 │ b1 │ b2 │ ... │ b51 │ │ s0 │ s1 │ s2 │ s3 │   an entry whose home is b lives in
//!    └────┴────┴────┴─────┴─────┘ └────┴────┴────┴────┘   b, b+1 (mod 52) or the stash
//!  bucket: [Option<E>; 14] slots, [u8; 14] fingerprints, [u8; 14] home buckets, len
//! ```
//!
//! **Lookup** hashes once, follows the directory, and compares fingerprints (and the home byte)
//! in the home and neighbour buckets before touching any key; the stash is probed only when
//! `stashed[home] > 0`. **Insert** (segment.rs, `try_insert`) takes the less full of home and
//! neighbour (Dash's balanced insert), then displaces one entry forward (from the neighbour to
//! the bucket after it) or backward (from home to the bucket before it, that entry's own home),
//! then uses the stash. When all fail the segment **splits** alone: entries whose next position
//! bit is 1 move to a new segment *at the same bucket and slot* (homes do not depend on the
//! segment, so this cannot fail), both stashes drain back into regular buckets, and the
//! directory doubles only if that segment's local depth equalled the global depth. No global
//! rehash ever happens. **Remove** frees the slot; when a segment and its buddy (same depth,
//! other half of the range) hold at most `MERGE_LEN_MAX` entries together they **merge**, and the
//! directory halves when no segment needs its last bit. Merging only when the stash alone could
//! hold the pair makes a merge impossible to fail, and leaves wide hysteresis against splitting.
//!
//! **SCAN cursor** (stateless): `cursor = home << DIRECTORY_DEPTH_MAX | position`. A call
//! visits one *logical* bucket: every entry of the segment owning `position` whose home is
//! `home`, wherever it sits (home, neighbour or stash), so moves inside a segment never hide an
//! entry. The next cursor is the end of that segment's range, then the next home bucket. So
//! cursors grow monotonically and a key's coordinates (home, position) are fixed by its hash:
//! the scan has visited exactly the coordinates below the cursor. A split only refines the
//! segment boundaries a cursor stands on, so under growth every key present for the whole scan
//! is returned exactly once (K = 1). After a merge a cursor can stand inside a segment, and
//! the visit repeats the part below it; each repeat of a key needs a merged segment twice as
//! large as the last one that returned it, so a key is returned at most `1 + local depth` times
//! (K ≤ 1 + DIRECTORY_DEPTH_MAX; dash/tests.rs checks the bound actually observed).
//!
//! **Versions**: each logical bucket has a u64 bumped on every insert, remove, move or
//! `get_mut` of an entry with that home, and on every split or merge of its segment (taking the
//! max of both halves), so the version covering a key's coordinates never decreases, even
//! across `clear`. `bucket_version(cursor)` reads it; the snapshot work will use it.
//!
//! Hashes come from a seed the owner passes in (from `Cx`), so layout, iteration and SCAN order
//! are deterministic per seed and never depend on addresses.

mod segment;
#[cfg(test)]
mod tests;

use std::cell::Cell;

use super::Keyed;
use segment::{InsertPath, Pos, Segment};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Entries one bucket holds inline (Dragonfly's figure; papers/dash.md has our load factors).
pub const BUCKET_SLOTS: usize = 14;
/// Regular (home) buckets per segment. Dragonfly has 56; with 8-byte slots a bucket is 144
/// bytes, and 56 + 4 buckets (8,640 bytes) would take mimalloc's 10,240-byte class, while
/// 52 + 4 (8,064 bytes) fit the 8,192-byte class (papers/dash.md, "Compact entries").
pub const SEGMENT_BUCKETS: usize = 52;
/// Overflow buckets per segment, shared by all its regular buckets.
pub const STASH_BUCKETS: usize = 4;
/// Regular plus stash buckets per segment.
pub const SEGMENT_BUCKETS_TOTAL: usize = SEGMENT_BUCKETS + STASH_BUCKETS;
/// Entries one segment holds at most.
pub const SEGMENT_SLOTS: usize = SEGMENT_BUCKETS_TOTAL * BUCKET_SLOTS;
/// Top hash bits that can pick a segment: the directory has at most 2^this entries, and the
/// cursor's position field is this wide.
pub const DIRECTORY_DEPTH_MAX: u32 = 32;
/// Low hash bits kept in each slot and compared before the key.
const FINGERPRINT_BITS: u32 = 8;
/// Hash bits (above the fingerprint) that pick the home bucket, modulo `SEGMENT_BUCKETS`.
const HOME_HASH_BITS: u32 = 24;
/// Buddies merge when together they hold at most this many entries: the stash alone holds
/// them, so re-inserting them into one segment cannot fail.
pub const MERGE_LEN_MAX: usize = STASH_BUCKETS * BUCKET_SLOTS;
/// Random bucket draws before `random_entry` walks to the next non-empty bucket instead.
const RANDOM_TRIES_MAX: usize = 32;
/// Width of the table cursor: home bucket above the position.
pub const CURSOR_BITS: u32 =
    DIRECTORY_DEPTH_MAX + u64::BITS - (SEGMENT_BUCKETS as u64).leading_zeros();

const _: () = assert!(BUCKET_SLOTS <= u8::MAX as usize, "bucket len is a u8");
const _: () = assert!(
    SEGMENT_BUCKETS <= u8::MAX as usize,
    "home buckets are u8 bytes"
);
const _: () = assert!(
    SEGMENT_BUCKETS >= 3,
    "previous, home and neighbour are distinct"
);
const _: () = assert!(MERGE_LEN_MAX <= u8::MAX as usize, "stashed counts are u8");
const _: () = assert!(
    MERGE_LEN_MAX * 4 <= SEGMENT_SLOTS,
    "merge far below the split point"
);
const _: () = assert!(
    (SEGMENT_BUCKETS as u64) < 1 << HOME_HASH_BITS,
    "home bits suffice"
);
const _: () = assert!(
    FINGERPRINT_BITS + HOME_HASH_BITS + DIRECTORY_DEPTH_MAX <= u64::BITS,
    "fingerprint, home and position come from disjoint hash bits"
);

/// The fields of a key's hash the table uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hashed {
    /// Top `DIRECTORY_DEPTH_MAX` bits: which segment owns the key, and its SCAN position.
    position: u64,
    home: u8,
    fingerprint: u8,
}

impl Hashed {
    fn new(hash: u64) -> Hashed {
        let home_bits = (hash >> FINGERPRINT_BITS) & ((1 << HOME_HASH_BITS) - 1);
        Hashed {
            position: hash >> (u64::BITS - DIRECTORY_DEPTH_MAX),
            home: (home_bits % SEGMENT_BUCKETS as u64) as u8,
            fingerprint: hash as u8,
        }
    }
}

/// The bucket after `bucket`, where its overflow goes (wrapping, as Dragonfly does).
fn neighbour(bucket: usize) -> usize {
    (bucket + 1) % SEGMENT_BUCKETS
}

fn previous(bucket: usize) -> usize {
    (bucket + SEGMENT_BUCKETS - 1) % SEGMENT_BUCKETS
}

/// Positions a segment of `local_depth` owns.
fn span(local_depth: u32) -> u64 {
    1 << (DIRECTORY_DEPTH_MAX - local_depth)
}

/// What the table has done since it was made (kept across `clear`); tests assert each path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DashStats {
    pub inserts_home: u64,
    pub inserts_neighbour: u64,
    pub inserts_displaced_forward: u64,
    pub inserts_displaced_backward: u64,
    pub inserts_stash: u64,
    pub splits: u64,
    pub directory_doublings: u64,
    pub merges: u64,
    pub directory_halvings: u64,
    /// Sum over splits of the overflowing segment's entries (mean fill at split = sum / splits).
    pub split_segment_len_sum: u64,
    /// Fewest entries a segment held when it split; 0 before the first split.
    pub split_segment_len_min: u64,
}

pub struct DashTable<E> {
    /// `2^global_depth` indices into `segments`; empty until the first insert.
    directory: Vec<u32>,
    segments: Vec<Segment<E>>,
    global_depth: u32,
    len: usize,
    seed: u64,
    /// Versions a new first segment starts from, so versions never go back across `clear`.
    version_floor: u64,
    stats: DashStats,
    /// `capacity_bytes` for the (segments, segments' capacity, directory's capacity) it was
    /// computed for: memory admission asks on every write, and the shape rarely changes.
    capacity_bytes_memo: Cell<(usize, usize, usize, usize)>,
}

impl<E> DashTable<E> {
    pub fn new(seed: u64) -> DashTable<E> {
        DashTable {
            directory: Vec::new(),
            segments: Vec::new(),
            global_depth: 0,
            len: 0,
            seed,
            version_floor: 0,
            stats: DashStats::default(),
            capacity_bytes_memo: Cell::new((0, 0, 0, 0)),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Logical buckets: the number of `scan_bucket` calls a full scan makes.
    pub fn buckets_len(&self) -> usize {
        self.segments.len() * SEGMENT_BUCKETS
    }

    pub fn segments_len(&self) -> usize {
        self.segments.len()
    }

    pub fn global_depth(&self) -> u32 {
        self.global_depth
    }

    /// Slots allocated (occupied or not): the denominator of the load factor.
    pub fn capacity(&self) -> usize {
        self.segments.len() * SEGMENT_SLOTS
    }

    /// Bytes the table owns for `E` = this table's entry type, not counting what entries point
    /// to: slots, fingerprints, homes and counts of every bucket, segment headers, directory;
    /// each allocation counted by its allocator class (db::size_class).
    pub fn capacity_bytes(&self) -> usize {
        use crate::size_class::class_bytes;
        if self.segments.capacity() == 0 && self.directory.capacity() == 0 {
            // Most of a shard's 16 databases are empty; the shard sums all of them per write.
            return 0;
        }
        let shape = (
            self.segments.len(),
            self.segments.capacity(),
            self.directory.capacity(),
        );
        let (segments, segments_capacity, directory_capacity, bytes) =
            self.capacity_bytes_memo.get();
        if shape == (segments, segments_capacity, directory_capacity) {
            return bytes;
        }
        let buckets_bytes = class_bytes(Self::buckets_alloc_bytes());
        let bytes = class_bytes(shape.1 * std::mem::size_of::<Segment<E>>())
            + shape.0 * buckets_bytes
            + class_bytes(shape.2 * std::mem::size_of::<u32>());
        self.capacity_bytes_memo
            .set((shape.0, shape.1, shape.2, bytes));
        bytes
    }

    /// The most `capacity_bytes` can grow by in one insert: a split's new bucket array, plus the
    /// segment list's and the directory's reallocation when either is at capacity.
    pub fn split_growth_bytes(&self) -> usize {
        use crate::size_class::class_bytes;
        let grown = |len: usize, cap: usize, size: usize| {
            if len < cap {
                0
            } else {
                class_bytes((cap * 2).max(4) * size) - class_bytes(cap * size)
            }
        };
        let segment_size = std::mem::size_of::<Segment<E>>();
        class_bytes(Self::buckets_alloc_bytes())
            + grown(self.segments.len(), self.segments.capacity(), segment_size)
            + grown(self.directory.len(), self.directory.capacity(), 4)
    }

    /// The size of one segment's bucket array (one allocation).
    pub fn buckets_alloc_bytes() -> usize {
        SEGMENT_BUCKETS_TOTAL * std::mem::size_of::<segment::Bucket<E>>()
    }

    pub fn stats(&self) -> &DashStats {
        &self.stats
    }

    /// Removes every entry and frees every segment; the seed, stats and versions carry on.
    pub fn clear(&mut self) {
        let versions_max = self
            .segments
            .iter()
            .flat_map(|s| s.versions)
            .max()
            .unwrap_or(0);
        self.version_floor = self.version_floor.max(versions_max + 1);
        self.directory = Vec::new();
        self.segments = Vec::new();
        self.global_depth = 0;
        self.len = 0;
    }

    /// Every entry, segment by segment (deterministic for a seed and history of operations).
    pub fn iter(&self) -> impl Iterator<Item = &E> {
        self.segments.iter().flat_map(|segment| {
            segment
                .buckets
                .iter()
                .flat_map(|bucket| bucket.slots.iter().flatten())
        })
    }

    /// The segment that owns `position`.
    fn segment_index(&self, position: u64) -> usize {
        let prefix = position >> (DIRECTORY_DEPTH_MAX - self.global_depth);
        self.directory[prefix as usize] as usize
    }

    /// The segment and home bucket a cursor names; `None` for an empty table or a cursor this
    /// table never hands out.
    fn locate(&self, cursor: u64) -> Option<(usize, usize)> {
        let home = usize::try_from(cursor >> DIRECTORY_DEPTH_MAX).ok()?;
        if self.segments.is_empty() || home >= SEGMENT_BUCKETS {
            return None;
        }
        let position = cursor & (span(0) - 1);
        Some((self.segment_index(position), home))
    }

    /// The cursor after visiting `home` in segment `s`: the end of its range, then the next
    /// home bucket, then 0 when the scan is complete.
    fn cursor_after(&self, s: usize, home: usize) -> u64 {
        let segment = &self.segments[s];
        let end = segment.start + span(segment.local_depth);
        if end < span(0) {
            (home as u64) << DIRECTORY_DEPTH_MAX | end
        } else if home + 1 < SEGMENT_BUCKETS {
            ((home + 1) as u64) << DIRECTORY_DEPTH_MAX
        } else {
            0
        }
    }

    /// Visits the logical bucket at `cursor` and returns the next cursor (0 when the scan is
    /// complete). A key present for the whole scan is returned at least once (see the module
    /// doc for how many times at most).
    pub fn scan_bucket(&self, cursor: u64, mut visit: impl FnMut(&E)) -> u64 {
        let Some((s, home)) = self.locate(cursor) else {
            return 0;
        };
        let segment = &self.segments[s];
        for bucket in segment.logical_buckets(home) {
            for slot in 0..BUCKET_SLOTS {
                if let Some(entry) = segment.buckets[bucket].entry_with_home(slot, home) {
                    visit(entry);
                }
            }
        }
        self.cursor_after(s, home)
    }

    /// The version of the logical bucket at `cursor` (see the module doc): it changes whenever
    /// an entry `scan_bucket(cursor)` would visit is inserted, removed, moved or lent out by
    /// `get_mut`. An empty table answers the version its first segment will start from.
    pub fn bucket_version(&self, cursor: u64) -> u64 {
        match self.locate(cursor) {
            Some((s, home)) => self.segments[s].versions[home],
            None => self.version_floor,
        }
    }

    /// A uniform-ish random entry: draws a segment and a bucket until one is non-empty, then a
    /// slot in it; after `RANDOM_TRIES_MAX` empty draws it walks to the next non-empty bucket.
    pub fn random_entry(&self, mut random: impl FnMut() -> u64) -> Option<&E> {
        if self.len == 0 {
            return None;
        }
        let buckets_total = (self.segments.len() * SEGMENT_BUCKETS_TOTAL) as u64;
        let bucket_at =
            |i: usize| &self.segments[i / SEGMENT_BUCKETS_TOTAL].buckets[i % SEGMENT_BUCKETS_TOTAL];
        let mut index = (random() % buckets_total) as usize;
        for _ in 1..RANDOM_TRIES_MAX {
            if bucket_at(index).len > 0 {
                break;
            }
            index = (random() % buckets_total) as usize;
        }
        while bucket_at(index).len == 0 {
            index = (index + 1) % buckets_total as usize;
        }
        let bucket = bucket_at(index);
        let nth = (random() % u64::from(bucket.len)) as usize;
        bucket.slots.iter().flatten().nth(nth)
    }

    /// Points the directory entries of the range `start..start + span(local_depth)` at `s`.
    fn point(&mut self, start: u64, local_depth: u32, s: usize) {
        let first = (start >> (DIRECTORY_DEPTH_MAX - self.global_depth)) as usize;
        let count = 1usize << (self.global_depth - local_depth);
        let index = u32::try_from(s).expect("segments fit in u32 indices");
        self.directory[first..first + count].fill(index);
    }

    fn double_directory(&mut self) {
        assert!(
            self.global_depth < DIRECTORY_DEPTH_MAX,
            "directory depth past {DIRECTORY_DEPTH_MAX} at {} entries",
            self.len
        );
        self.directory = self.directory.iter().flat_map(|&s| [s, s]).collect();
        self.global_depth += 1;
        self.stats.directory_doublings += 1;
    }

    /// Halves the directory while no segment needs its last bit.
    fn shrink_directory(&mut self) {
        while self.global_depth > 0
            && self
                .segments
                .iter()
                .all(|s| s.local_depth < self.global_depth)
        {
            self.directory = self.directory.iter().step_by(2).copied().collect();
            self.global_depth -= 1;
            self.stats.directory_halvings += 1;
        }
    }
}

/// The SCAN coordinates of `key` in a table hashed with `seed`, as a cursor: a scan whose
/// cursor has passed this value has visited the key (see the module doc). Fixed by the hash,
/// so it holds across splits and merges.
pub fn cursor_of(seed: u64, key: &[u8]) -> u64 {
    let hashed = Hashed::new(xxh3_64_with_seed(key, seed));
    u64::from(hashed.home) << DIRECTORY_DEPTH_MAX | hashed.position
}

impl<E: Keyed> DashTable<E> {
    pub fn hash(&self, key: &[u8]) -> u64 {
        xxh3_64_with_seed(key, self.seed)
    }

    fn hashed(&self, key: &[u8]) -> Hashed {
        Hashed::new(self.hash(key))
    }

    /// The segment and position of `key`, if present.
    fn find(&self, key: &[u8]) -> Option<(usize, Pos)> {
        self.find_hashed(self.hashed(key), key)
    }

    fn find_hashed(&self, hashed: Hashed, key: &[u8]) -> Option<(usize, Pos)> {
        if self.segments.is_empty() {
            return None;
        }
        let s = self.segment_index(hashed.position);
        Some((s, self.segments[s].find(hashed, key)?))
    }

    pub fn get(&self, key: &[u8]) -> Option<&E> {
        let (s, pos) = self.find(key)?;
        Some(self.segments[s].entry(pos))
    }

    /// The entry under `key`, for changing in place; bumps its bucket's version.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut E> {
        let (s, pos) = self.find(key)?;
        Some(self.segments[s].entry_mut(pos))
    }

    /// Moves `key` one slot toward the head of its bucket (a cache hit); false when absent.
    pub fn promote(&mut self, key: &[u8]) -> bool {
        let Some((s, pos)) = self.find(key) else {
            return false;
        };
        self.segments[s].promote(pos);
        true
    }

    /// Removes one entry that `eligible` accepts, nearest the tail of the buckets where `key`
    /// would live (whether or not it is present), else elsewhere in its segment, else in the
    /// next segments, visiting at most `segments_max` segments. Eviction frees the slot an
    /// insert of `key` is about to need, so a full segment is emptied rather than split.
    pub fn evict_near(
        &mut self,
        key: &[u8],
        segments_max: usize,
        eligible: impl Fn(&E) -> bool,
    ) -> Option<E> {
        if self.segments.is_empty() {
            return None;
        }
        let hashed = self.hashed(key);
        let first = self.segment_index(hashed.position);
        let home = usize::from(hashed.home);
        for i in 0..segments_max.min(self.segments.len()) {
            let s = (first + i) % self.segments.len();
            if let Some(pos) = self.segments[s].eviction_victim(home, &eligible) {
                let taken = self.segments[s].unplace(pos);
                self.len -= 1;
                return Some(taken.entry);
            }
        }
        None
    }

    /// Inserts `entry`, returning the entry it replaced.
    pub fn insert(&mut self, entry: E) -> Option<E> {
        let hashed = self.hashed(entry.key());
        if let Some((s, pos)) = self.find_hashed(hashed, entry.key()) {
            return Some(std::mem::replace(self.segments[s].entry_mut(pos), entry));
        }
        if self.segments.is_empty() {
            self.segments
                .push(Segment::new(0, 0, [self.version_floor; SEGMENT_BUCKETS]));
            self.directory.push(0);
        }
        let mut entry = entry;
        loop {
            let s = self.segment_index(hashed.position);
            match self.segments[s].try_insert(hashed, entry) {
                Ok(path) => {
                    self.count_insert(path);
                    self.len += 1;
                    return None;
                }
                Err(back) => {
                    entry = back;
                    self.split(s);
                }
            }
        }
    }

    fn count_insert(&mut self, path: InsertPath) {
        let counter = match path {
            InsertPath::Home => &mut self.stats.inserts_home,
            InsertPath::Neighbour => &mut self.stats.inserts_neighbour,
            InsertPath::DisplacedForward => &mut self.stats.inserts_displaced_forward,
            InsertPath::DisplacedBackward => &mut self.stats.inserts_displaced_backward,
            InsertPath::Stash => &mut self.stats.inserts_stash,
        };
        *counter += 1;
    }

    /// Splits segment `s` in two, doubling the directory first if `s` is as deep as it.
    fn split(&mut self, s: usize) {
        let segment_len = self.segments[s].len as u64;
        let stats = &mut self.stats;
        stats.splits += 1;
        stats.split_segment_len_sum += segment_len;
        if stats.split_segment_len_min == 0 || segment_len < stats.split_segment_len_min {
            stats.split_segment_len_min = segment_len;
        }
        if self.segments[s].local_depth == self.global_depth {
            self.double_directory();
        }
        let seed = self.seed;
        let segment = &mut self.segments[s];
        let upper_start = segment.start + span(segment.local_depth + 1);
        let upper = segment.split_off(upper_start, |key| Hashed::new(xxh3_64_with_seed(key, seed)));
        self.point(upper.start, upper.local_depth, self.segments.len());
        self.segments.push(upper);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let (s, pos) = self.find(key)?;
        let taken = self.segments[s].unplace(pos);
        self.len -= 1;
        self.merge_from(s);
        Some(taken.entry)
    }

    /// Like `scan_bucket` but lets the visitor remove entries (the expiry sweep); returns the
    /// next cursor and how many entries went.
    pub fn sweep_bucket(
        &mut self,
        cursor: u64,
        mut remove_if: impl FnMut(&E) -> bool,
    ) -> (u64, usize) {
        let Some((s, home)) = self.locate(cursor) else {
            return (0, 0);
        };
        let next = self.cursor_after(s, home);
        let segment = &mut self.segments[s];
        let mut removed = 0;
        for bucket in segment.logical_buckets(home) {
            for slot in 0..BUCKET_SLOTS {
                let due = segment.buckets[bucket]
                    .entry_with_home(slot, home)
                    .is_some_and(&mut remove_if);
                if due {
                    segment.unplace(Pos { bucket, slot });
                    removed += 1;
                }
            }
        }
        self.len -= removed;
        if removed > 0 {
            // Merging mid-sweep is safe: `next` was taken first and the cursor contract holds.
            self.merge_from(s);
        }
        (next, removed)
    }

    /// Merges segment `s` with its buddy while the pair is small enough, then shrinks the
    /// directory as far as the remaining depths allow.
    fn merge_from(&mut self, mut s: usize) {
        while let Some(merged) = self.try_merge(s) {
            s = merged;
        }
        self.shrink_directory();
    }

    /// Merges `s` with its buddy if both are as deep and hold at most `MERGE_LEN_MAX` entries
    /// together; returns the merged segment's index.
    fn try_merge(&mut self, s: usize) -> Option<usize> {
        let segment = &self.segments[s];
        let depth = segment.local_depth;
        if depth == 0 {
            return None;
        }
        let buddy_start = segment.start ^ span(depth);
        let b = self.segment_index(buddy_start);
        let buddy = &self.segments[b];
        if buddy.local_depth != depth || segment.len + buddy.len > MERGE_LEN_MAX {
            return None;
        }
        let (lower, upper) = if segment.start < buddy_start {
            (s, b)
        } else {
            (b, s)
        };
        // Free `upper`'s index by moving the last segment into it.
        let last = self.segments.len() - 1;
        let upper_segment = self.segments.swap_remove(upper);
        if upper != last {
            let moved = &self.segments[upper];
            self.point(moved.start, moved.local_depth, upper);
        }
        let lower = if lower == last { upper } else { lower };
        let seed = self.seed;
        let merged = &mut self.segments[lower];
        merged.absorb(upper_segment, |key| {
            Hashed::new(xxh3_64_with_seed(key, seed))
        });
        let (start, local_depth) = (merged.start, merged.local_depth);
        self.point(start, local_depth, lower);
        self.stats.merges += 1;
        Some(lower)
    }

    /// Asserts the structure's invariants (module doc and segment.rs); O(entries), for tests
    /// and the simulator.
    pub fn check_invariants(&self) {
        if self.segments.is_empty() {
            assert!(self.directory.is_empty() && self.len == 0 && self.global_depth == 0);
            return;
        }
        assert_eq!(
            self.directory.len(),
            1 << self.global_depth,
            "directory size"
        );
        let mut directory_entries = 0;
        for (s, segment) in self.segments.iter().enumerate() {
            assert!(
                segment.local_depth <= self.global_depth,
                "segment {s} deeper than directory"
            );
            assert_eq!(
                segment.start % span(segment.local_depth),
                0,
                "segment {s} misaligned"
            );
            let first = (segment.start >> (DIRECTORY_DEPTH_MAX - self.global_depth)) as usize;
            let count = 1usize << (self.global_depth - segment.local_depth);
            assert!(
                self.directory[first..first + count]
                    .iter()
                    .all(|&d| d as usize == s),
                "directory range of segment {s}"
            );
            directory_entries += count;
            self.check_segment(segment);
        }
        assert_eq!(
            directory_entries,
            self.directory.len(),
            "segments tile the directory"
        );
        let len: usize = self.segments.iter().map(|s| s.len).sum();
        assert_eq!(len, self.len, "len out of step with the segments");
        let depth_max = self.segments.iter().map(|s| s.local_depth).max();
        assert_eq!(
            depth_max,
            Some(self.global_depth),
            "directory deeper than needed"
        );
    }

    fn check_segment(&self, segment: &Segment<E>) {
        let mut stashed = [0u8; SEGMENT_BUCKETS];
        for (b, bucket) in segment.buckets.iter().enumerate() {
            let occupied = bucket.slots.iter().flatten().count();
            assert_eq!(usize::from(bucket.len), occupied, "bucket {b} len");
        }
        for pos in segment.occupied() {
            let bucket = &segment.buckets[pos.bucket];
            let hashed = self.hashed(segment.entry(pos).key());
            let home = usize::from(hashed.home);
            assert_eq!(
                bucket.fingerprints[pos.slot], hashed.fingerprint,
                "fingerprint at {pos:?}"
            );
            assert_eq!(bucket.homes[pos.slot], hashed.home, "home at {pos:?}");
            let range = segment.start..segment.start + span(segment.local_depth);
            assert!(
                range.contains(&hashed.position),
                "entry at {pos:?} in the wrong segment"
            );
            if pos.bucket >= SEGMENT_BUCKETS {
                stashed[home] += 1;
            } else {
                assert!(
                    pos.bucket == home || pos.bucket == neighbour(home),
                    "{pos:?} far from home"
                );
            }
        }
        assert_eq!(stashed, segment.stashed, "stash counts");
        assert_eq!(segment.len, segment.occupied().count(), "segment len");
    }
}
