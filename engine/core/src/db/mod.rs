//! A logical database (SELECT index) on one shard: the table of entries, the count of entries
//! carrying a TTL, the bytes they take, and lazy expiry.
//!
//! Invariants (checked by `check_invariants`): `expires_len` equals the number of entries with
//! a deadline; `entries_bytes` equals the sum of `Entry::heap_bytes` over the table. The TTL
//! lives inside the entry (no second table). A key whose deadline has passed is logically gone:
//! every lookup removes it before answering.
//!
//! Every change to an entry goes through `Db` (insert, remove, `set_expire`, the sweep) or
//! through the `EntryMut` guard `get_mut` lends, which settles both counts when it is dropped;
//! so the counts are exact after every step, with no allocator query.

pub mod bits;
mod entry;
pub mod geohash;
pub mod hash;
pub mod hll;
mod intset;
pub mod list;
mod listpack;
#[cfg(test)]
mod memory_shapes;
mod packed;
mod packed_table;
pub mod set;
pub mod snapshot;
pub use crate::size_class;
pub mod stream;
pub mod zset;

pub use entry::MemcacheMeta;
pub use entry::{lru_clock, Entry, LRU_CLOCK_MAX};
pub use hash::{HashLimits, HashValue};
pub use list::{End, ListLimits, ListValue};
pub use set::{Member, SetLimits, SetValue};
pub use stream::{StreamLimits, StreamValue};
pub use zset::{cmp_entries as cmp_zset_entries, ZSetLimits, ZSetValue};

use crate::table::{Keyed, Table};

/// The encoding thresholds of collections, from CONFIG (`hash-max-listpack-*`,
/// `set-max-intset-entries`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CollectionLimits {
    pub hash: HashLimits,
    pub set: SetLimits,
    pub zset: ZSetLimits,
    pub list: ListLimits,
    pub stream: StreamLimits,
    pub strings: StringLimits,
}

/// The limits of string edits that CONFIG can change: how far SETBIT and BITFIELD may reach
/// (`proto-max-bulk-len`) and when a sparse HyperLogLog turns dense (`hll-sparse-max-bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StringLimits {
    pub proto_max_bulk_len_bytes: u64,
    pub hll_sparse_max_bytes: u64,
    /// `rdbcompression`: how DUMP and DEBUG OBJECT encode strings.
    pub rdb_compression: bool,
}

/// Redis's `proto-max-bulk-len` default (config.rs asserts it agrees with its own).
pub const PROTO_MAX_BULK_LEN_DEFAULT_BYTES: u64 = 512 * 1024 * 1024;

impl Default for StringLimits {
    fn default() -> StringLimits {
        StringLimits {
            proto_max_bulk_len_bytes: PROTO_MAX_BULK_LEN_DEFAULT_BYTES,
            hll_sparse_max_bytes: hll::SPARSE_MAX_BYTES_DEFAULT,
            rdb_compression: true,
        }
    }
}

/// A string value, with the encoding Redis would report (OBJECT ENCODING).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrValue {
    /// An integer kept as an integer ("int").
    Int(i64),
    /// Bytes; `raw` mirrors Redis's embstr/raw distinction (APPEND and SETRANGE make raw).
    Bytes { bytes: Vec<u8>, raw: bool },
}

/// Redis keeps strings of up to 44 bytes embedded in the object header.
pub const EMBSTR_LEN_MAX_BYTES: usize = 44;
/// Redis tries the integer encoding only for strings of at most this many characters.
pub const INT_TEXT_LEN_MAX_BYTES: usize = 20;

impl StrValue {
    /// Encodes `bytes` as Redis's SET does: an integer when the text is a canonical i64 of at
    /// most 20 characters, else embedded or raw bytes by length.
    pub fn from_bytes(bytes: Vec<u8>) -> StrValue {
        if bytes.len() <= INT_TEXT_LEN_MAX_BYTES {
            if let Some(n) = crate::numfmt::parse_i64(&bytes) {
                return StrValue::Int(n);
            }
        }
        let raw = bytes.len() > EMBSTR_LEN_MAX_BYTES;
        StrValue::Bytes { bytes, raw }
    }

    /// Bytes kept as given, never turned into an integer, in raw encoding (APPEND, SETRANGE).
    pub fn raw(bytes: Vec<u8>) -> StrValue {
        StrValue::Bytes { bytes, raw: true }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.as_ref().to_bytes()
    }

    pub fn len_bytes(&self) -> usize {
        self.as_ref().len_bytes()
    }

    pub fn encoding(&self) -> &'static str {
        self.as_ref().encoding()
    }

    /// OBJECT ENCODING would say "raw".
    pub fn is_raw(&self) -> bool {
        matches!(self, StrValue::Bytes { raw: true, .. })
    }

    pub fn as_ref(&self) -> StrRef<'_> {
        match self {
            StrValue::Int(n) => StrRef::Int(*n),
            StrValue::Bytes { bytes, raw } => StrRef::Bytes { bytes, raw: *raw },
        }
    }
}

/// A string value as an entry holds it, borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrRef<'a> {
    Int(i64),
    Bytes { bytes: &'a [u8], raw: bool },
}

impl StrRef<'_> {
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            StrRef::Int(n) => n.to_string().into_bytes(),
            StrRef::Bytes { bytes, .. } => bytes.to_vec(),
        }
    }

    /// Appends the value's bytes to `out` (the hot path's reply buffer; allocates nothing).
    pub fn write_to(self, out: &mut Vec<u8>) {
        match self {
            StrRef::Int(n) => crate::numfmt::fmt_i64(n, out),
            StrRef::Bytes { bytes, .. } => out.extend_from_slice(bytes),
        }
    }

    pub fn len_bytes(self) -> usize {
        match self {
            StrRef::Int(n) => decimal_len(n),
            StrRef::Bytes { bytes, .. } => bytes.len(),
        }
    }

    pub fn encoding(self) -> &'static str {
        match self {
            StrRef::Int(_) => "int",
            StrRef::Bytes { raw: false, .. } => "embstr",
            StrRef::Bytes { raw: true, .. } => "raw",
        }
    }

    pub fn to_owned(self) -> StrValue {
        match self {
            StrRef::Int(n) => StrValue::Int(n),
            StrRef::Bytes { bytes, raw } => StrValue::Bytes {
                bytes: bytes.to_vec(),
                raw,
            },
        }
    }
}

fn decimal_len(n: i64) -> usize {
    let sign = usize::from(n < 0);
    let mut digits = 1;
    let mut m = n.unsigned_abs();
    while m >= 10 {
        m /= 10;
        digits += 1;
    }
    sign + digits
}

/// Whether a lookup counts as an access (access time, cache-mode promotion) or only looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Touch,
    Peek,
}

/// A value of any type: a string, or a collection kept behind one pointer in the entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
    Coll(Box<Collection>),
}

impl Value {
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Str(s) => ValueRef::Str(s.as_ref()),
            Value::Coll(c) => ValueRef::Coll(c),
        }
    }

    /// The name TYPE answers.
    pub fn type_name(&self) -> &'static str {
        self.as_ref().type_name()
    }

    pub fn encoding(&self) -> &'static str {
        self.as_ref().encoding()
    }
}

/// A collection value. Each kind has a compact encoding while small and a scalable one above
/// Redis's thresholds, and keeps its own byte count (`heap_bytes` is O(1)).
#[derive(Clone, Debug, PartialEq)]
pub enum Collection {
    Hash(HashValue),
    Set(SetValue),
    List(ListValue),
    ZSet(ZSetValue),
    Stream(StreamValue),
}

impl Collection {
    pub fn type_name(&self) -> &'static str {
        self.kind().type_name()
    }

    pub fn kind(&self) -> Kind {
        match self {
            Collection::Hash(_) => Kind::Hash,
            Collection::Set(_) => Kind::Set,
            Collection::List(_) => Kind::List,
            Collection::ZSet(_) => Kind::ZSet,
            Collection::Stream(_) => Kind::Stream,
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Collection::Hash(h) => h.encoding(),
            Collection::Set(s) => s.encoding(),
            Collection::List(l) => l.encoding(),
            Collection::ZSet(z) => z.encoding(),
            Collection::Stream(s) => s.encoding(),
        }
    }

    /// Elements (fields, members): an empty collection is never stored.
    pub fn len(&self) -> usize {
        match self {
            Collection::Hash(h) => h.len(),
            Collection::Set(s) => s.len(),
            Collection::List(l) => l.len(),
            Collection::ZSet(z) => z.len(),
            Collection::Stream(s) => s.len(),
        }
    }

    /// An empty collection is removed, except a stream: it lives on empty (XDEL of every entry,
    /// XGROUP CREATE MKSTREAM) until deleted, as in Redis.
    pub fn is_empty(&self) -> bool {
        match self {
            Collection::Stream(_) => false,
            _ => self.len() == 0,
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Collection::Hash(h) => h.heap_bytes(),
            Collection::Set(s) => s.heap_bytes(),
            Collection::List(l) => l.heap_bytes(),
            Collection::ZSet(z) => z.heap_bytes(),
            Collection::Stream(s) => s.heap_bytes(),
        }
    }

    /// Recounts the collection the slow way against what it keeps (its byte count, chains).
    pub fn check_invariants(&self) {
        match self {
            Collection::Hash(h) => h.check_invariants(),
            Collection::Set(s) => s.check_invariants(),
            Collection::List(l) => l.check_invariants(),
            Collection::ZSet(z) => z.check_invariants(),
            Collection::Stream(s) => s.check_invariants(),
        }
    }
}

/// The type of a value, as TYPE names it and as a typed lookup expects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Hash,
    Set,
    List,
    ZSet,
    Stream,
}

impl Kind {
    pub fn type_name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::List => "list",
            Kind::ZSet => "zset",
            Kind::Stream => "stream",
        }
    }
}

/// A value as an entry holds it, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    Str(StrRef<'a>),
    Coll(&'a Collection),
}

impl ValueRef<'_> {
    pub fn kind(self) -> Kind {
        match self {
            ValueRef::Str(_) => Kind::Str,
            ValueRef::Coll(c) => c.kind(),
        }
    }

    /// The name TYPE answers.
    pub fn type_name(self) -> &'static str {
        self.kind().type_name()
    }

    pub fn encoding(self) -> &'static str {
        match self {
            ValueRef::Str(s) => s.encoding(),
            ValueRef::Coll(c) => c.encoding(),
        }
    }

    pub fn to_owned(self) -> Value {
        match self {
            ValueRef::Str(s) => Value::Str(s.to_owned()),
            ValueRef::Coll(c) => Value::Coll(Box::new(c.clone())),
        }
    }
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        Entry::key(self)
    }
}

/// An entry lent out for changing in place; when dropped it settles the database's TTL count
/// and byte count with whatever the borrower did.
pub struct EntryMut<'a> {
    entry: &'a mut Entry,
    expires_len: &'a mut usize,
    entries_bytes: &'a mut usize,
    had_ttl: bool,
    heap_bytes_before: usize,
}

impl std::ops::Deref for EntryMut<'_> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        self.entry
    }
}

impl std::ops::DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut Entry {
        self.entry
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        let has_ttl = self.entry.expire_at_ms().is_some();
        match (self.had_ttl, has_ttl) {
            (false, true) => *self.expires_len += 1,
            (true, false) => *self.expires_len -= 1,
            _ => {}
        }
        *self.entries_bytes =
            *self.entries_bytes - self.heap_bytes_before + self.entry.heap_bytes();
    }
}

pub struct Db {
    table: Table<Entry>,
    /// Keys the hash functions of this database's collections (deterministic per seed).
    seed: u64,
    expires_len: usize,
    /// Sum of `Entry::heap_bytes` over the table.
    entries_bytes: usize,
    /// Hits move an entry toward its bucket's head (an evicting policy is set).
    promote_on_hit: bool,
    /// Expired keys read here stay in the table (they read as absent). Set while a transaction
    /// is queued on the shard: it may still read at a time before their deadline.
    keep_expired: bool,
    /// A snapshot in progress: every change first keeps what the snapshot is owed.
    snapshot: Option<Box<snapshot::DbSnapshot>>,
    /// While the shard journals its changes: keys that left without a command removing them
    /// (expired, evicted), in order, for the journal to record as DELs.
    dropped: Option<Vec<Vec<u8>>>,
}

impl Db {
    pub fn new(seed: u64) -> Db {
        Db {
            table: Table::new(seed),
            seed,
            expires_len: 0,
            entries_bytes: 0,
            promote_on_hit: false,
            keep_expired: false,
            snapshot: None,
            dropped: None,
        }
    }

    /// Starts or stops logging keys that expire or are evicted (`take_dropped`).
    pub fn log_dropped(&mut self, on: bool) {
        self.dropped = on.then(Vec::new);
    }

    /// Keys that expired or were evicted since the last call, oldest first.
    pub fn take_dropped(&mut self) -> Vec<Vec<u8>> {
        match self.dropped.as_mut() {
            Some(dropped) => std::mem::take(dropped),
            None => Vec::new(),
        }
    }

    fn note_dropped(&mut self, key: &[u8]) {
        if let Some(dropped) = self.dropped.as_mut() {
            dropped.push(key.to_vec());
        }
    }

    /// Starts a snapshot of this database, cut now (see `snapshot.rs`).
    pub fn start_snapshot(&mut self, db_index: u16, cut_ms: u64) {
        self.snapshot = Some(Box::new(snapshot::DbSnapshot::new(db_index, cut_ms)));
    }

    pub fn plant_snapshot_skips_keep(&mut self) {
        if let Some(snap) = self.snapshot.as_mut() {
            snap.skip_keep = true;
        }
    }

    pub fn drop_snapshot(&mut self) {
        self.snapshot = None;
    }

    pub fn snapshot(&self) -> Option<&snapshot::DbSnapshot> {
        self.snapshot.as_deref()
    }

    /// Moves the snapshot on by up to `buckets_max` buckets, handing each owed entry to `out`
    /// with the database index of the cut; true when this database owes nothing more (its
    /// snapshot is then dropped). No snapshot: true.
    pub fn snapshot_step(&mut self, buckets_max: usize, out: &mut impl FnMut(u16, &Entry)) -> bool {
        let Some(snap) = self.snapshot.as_mut() else {
            return true;
        };
        let db_index = snap.db_index;
        let table = &self.table;
        let scan = |cursor: u64, visit: &mut dyn FnMut(&Entry)| table.scan_bucket(cursor, visit);
        let done = snap.step(self.seed, buckets_max, scan, &mut |e: &Entry| {
            out(db_index, e)
        });
        if done {
            self.snapshot = None;
        }
        done
    }

    /// Whether the snapshot is still owed `key`'s cut value.
    fn owed(&self, key: &[u8]) -> bool {
        self.snapshot
            .as_ref()
            .is_some_and(|s| s.owes(self.seed, key))
    }

    /// `key` is about to change: the snapshot keeps its cut value first (a copy; a change in
    /// place needs one).
    fn keep_for_snapshot(&mut self, key: &[u8]) {
        if self.owed(key) {
            let cut_value = self.table.get(key).cloned();
            self.snapshot.as_mut().expect("owed").keep(key, cut_value);
        }
    }

    /// `old` left the table under `key` (removed, replaced, evicted): the snapshot keeps it if
    /// it is owed, without a copy.
    fn keep_removed_for_snapshot(&mut self, key: &[u8], old: Option<&Entry>) {
        if self.owed(key) {
            self.snapshot
                .as_mut()
                .expect("owed")
                .keep(key, old.cloned());
        }
    }

    /// The seed a new collection's hash table is keyed with.
    pub fn collection_seed(&self) -> u64 {
        self.seed
    }

    pub fn set_keep_expired(&mut self, keep: bool) {
        self.keep_expired = keep;
    }

    /// Whether hits reorder buckets for eviction (only under an evicting policy: it costs a
    /// second probe per hit).
    pub fn set_promote_on_hit(&mut self, on: bool) {
        self.promote_on_hit = on;
    }

    /// Evicts one `eligible` entry near `key`'s place in the table (see
    /// `DashTable::evict_near`).
    pub fn evict_near(
        &mut self,
        key: &[u8],
        segments_max: usize,
        eligible: impl Fn(&Entry) -> bool,
    ) -> Option<Entry> {
        let evicted = self.table.evict_near(key, segments_max, eligible)?;
        self.keep_removed_for_snapshot(evicted.key(), Some(&evicted));
        self.note_dropped(evicted.key());
        self.forget(&evicted);
        Some(evicted)
    }

    fn promote(&mut self, key: &[u8]) {
        if self.promote_on_hit {
            self.table.promote(key);
        }
    }

    /// Keys, including ones expired but not yet removed.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires_len
    }

    /// Heap bytes of the entries (blocks and value buffers, by allocator class).
    pub fn entries_bytes(&self) -> usize {
        self.entries_bytes
    }

    /// Bytes of the table itself: segments, buckets and directory.
    pub fn table_bytes(&self) -> usize {
        self.table.capacity_bytes()
    }

    /// The most one insert can add to the table's bytes (a segment split; see
    /// `DashTable::split_growth_bytes`).
    pub fn split_growth_bytes(&self) -> usize {
        self.table.split_growth_bytes()
    }

    /// All the bytes this database accounts for.
    pub fn used_bytes(&self) -> usize {
        self.entries_bytes + self.table_bytes()
    }

    /// Removes `key` if its deadline has passed (unless expired keys are kept); true when due.
    pub fn expire_if_due(&mut self, key: &[u8], now_ms: u64) -> bool {
        let due = self.table.get(key).is_some_and(|e| e.is_expired(now_ms));
        if due && !self.keep_expired {
            self.remove(key);
            self.note_dropped(key);
        }
        due
    }

    /// The live entry under `key`, updating its access time, for changing in place.
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<EntryMut<'_>> {
        if self.expire_if_due(key, now_ms) {
            return None;
        }
        self.promote(key);
        if self.snapshot.is_some() {
            self.keep_for_snapshot(key);
        }
        let entry = self.table.get_mut(key)?;
        entry.touch(now_ms);
        Some(EntryMut {
            had_ttl: entry.expire_at_ms().is_some(),
            heap_bytes_before: entry.heap_bytes(),
            entry,
            expires_len: &mut self.expires_len,
            entries_bytes: &mut self.entries_bytes,
        })
    }

    /// The live entry under `key`, updating its access time (a read that counts as an access).
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        if self.expire_if_due(key, now_ms) {
            return None;
        }
        self.promote(key);
        let entry = self.table.get_mut(key)?;
        entry.touch(now_ms);
        Some(entry)
    }

    /// Runs `visit` on the live entry under `key` in one table lookup; `None` when there is
    /// none. A due entry is removed (unless expired keys are kept). With `Access::Touch` the
    /// visit counts as an access, as `get` does. For hot paths: `get` and `peek` look the key up
    /// twice (once to expire, once to borrow); a visitor's result borrows nothing.
    pub fn visit_live<R>(
        &mut self,
        key: &[u8],
        now_ms: u64,
        access: Access,
        visit: impl FnOnce(&Entry) -> R,
    ) -> Option<R> {
        let entry = self.table.get_mut(key)?;
        if entry.is_expired(now_ms) {
            if !self.keep_expired {
                self.remove(key);
                self.note_dropped(key);
            }
            return None;
        }
        if access == Access::Peek {
            return Some(visit(entry));
        }
        entry.touch(now_ms);
        let seen = visit(entry);
        self.promote(key);
        Some(seen)
    }

    /// The live entry under `key`, without touching its access time (OBJECT, TYPE-free peeks).
    pub fn peek(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        if self.expire_if_due(key, now_ms) {
            return None;
        }
        self.table.get(key)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.peek(key, now_ms).is_some()
    }

    /// Inserts or replaces the whole entry, returning the live entry it replaced.
    pub fn insert(&mut self, entry: Entry, now_ms: u64) -> Option<Entry> {
        if self.snapshot.is_some() {
            self.keep_for_snapshot(entry.key());
        }
        let had_ttl = entry.expire_at_ms().is_some();
        self.entries_bytes += entry.heap_bytes();
        let old = self.table.insert(entry);
        if had_ttl {
            self.expires_len += 1;
        }
        let old = old?;
        self.forget(&old);
        if old.is_expired(now_ms) {
            // An expired key kept for a queued transaction, replaced now: it expired first.
            self.note_dropped(old.key());
            return None;
        }
        Some(old)
    }

    /// Takes a removed entry out of the counts.
    fn forget(&mut self, old: &Entry) {
        if old.expire_at_ms().is_some() {
            self.expires_len -= 1;
        }
        self.entries_bytes -= old.heap_bytes();
    }

    /// Removes `key` whether or not it has expired.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.table.remove(key)?;
        if self.snapshot.is_some() {
            self.keep_removed_for_snapshot(key, Some(&old));
        }
        self.forget(&old);
        Some(old)
    }

    /// Removes the live entry under `key`.
    pub fn take(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let old = self.remove(key)?;
        if old.is_expired(now_ms) {
            self.note_dropped(key);
            return None;
        }
        Some(old)
    }

    /// Sets or clears the deadline of an existing key; false when the key is absent.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: Option<u64>) -> bool {
        if self.snapshot.is_some() {
            self.keep_for_snapshot(key);
        }
        let Some(entry) = self.table.get_mut(key) else {
            return false;
        };
        match (entry.expire_at_ms().is_some(), expire_at_ms.is_some()) {
            (false, true) => self.expires_len += 1,
            (true, false) => self.expires_len -= 1,
            _ => {}
        }
        self.entries_bytes -= entry.heap_bytes();
        entry.set_expire_at_ms(expire_at_ms);
        self.entries_bytes += entry.heap_bytes();
        true
    }

    pub fn clear(&mut self) {
        if let Some(snap) = self.snapshot.as_mut() {
            snap.aborted = true;
        }
        self.table.clear();
        self.expires_len = 0;
        self.entries_bytes = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.table.iter()
    }

    /// Visits one bucket of the SCAN; returns the next cursor.
    pub fn scan_bucket(&self, cursor: u64, visit: impl FnMut(&Entry)) -> u64 {
        self.table.scan_bucket(cursor, visit)
    }

    /// Removes expired entries from one bucket; returns the next cursor and how many went.
    pub fn sweep_bucket(&mut self, cursor: u64, now_ms: u64) -> (u64, usize) {
        self.sweep_bucket_telling(cursor, now_ms, |_| {})
    }

    /// `sweep_bucket`, telling `removed_key` each key it removes.
    pub fn sweep_bucket_telling(
        &mut self,
        cursor: u64,
        now_ms: u64,
        mut removed_key: impl FnMut(&[u8]),
    ) -> (u64, usize) {
        let mut bytes_removed = 0;
        let (seed, snapshot, dropped) = (self.seed, &mut self.snapshot, &mut self.dropped);
        let (next, removed) = self.table.sweep_bucket(cursor, |e| {
            let due = e.is_expired(now_ms);
            if due {
                bytes_removed += e.heap_bytes();
                removed_key(e.key());
                if let Some(dropped) = dropped.as_mut() {
                    dropped.push(e.key().to_vec());
                }
                if let Some(snap) = snapshot.as_mut().filter(|s| s.owes(seed, e.key())) {
                    snap.keep(e.key(), Some(e.clone()));
                }
            }
            due
        });
        // Only entries with a deadline can be due.
        self.expires_len -= removed;
        self.entries_bytes -= bytes_removed;
        (next, removed)
    }

    pub fn buckets_len(&self) -> usize {
        self.table.buckets_len()
    }

    pub fn random_entry(&self, random: impl FnMut() -> u64) -> Option<&Entry> {
        self.table.random_entry(random)
    }

    /// Checks that `expires_len` counts the entries with a TTL and `entries_bytes` their bytes.
    pub fn check_invariants(&self) {
        let (mut with_ttl, mut bytes) = (0, 0);
        for e in self.table.iter() {
            with_ttl += usize::from(e.expire_at_ms().is_some());
            bytes += e.heap_bytes();
            if let ValueRef::Coll(c) = e.value() {
                assert!(
                    !c.is_empty(),
                    "an empty collection is stored under {:?}",
                    e.key()
                );
                c.check_invariants();
            }
        }
        assert_eq!(
            with_ttl, self.expires_len,
            "expires_len out of step with the table"
        );
        assert_eq!(
            bytes, self.entries_bytes,
            "entries_bytes out of step with the table"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Value {
        Value::Str(StrValue::from_bytes(s.as_bytes().to_vec()))
    }

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(StrValue::from_bytes(b"12".to_vec()).encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"012".to_vec()).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(vec![b'x'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(vec![b'x'; 45]).encoding(), "raw");
        assert_eq!(StrValue::Int(-120).len_bytes(), 4);
    }

    #[test]
    fn lazy_expiry_and_ttl_count() {
        let mut db = Db::new(1);
        let e = Entry::new(b"k", string("v"), 0).with_expire_at_ms(Some(100));
        db.insert(e, 0);
        db.insert(Entry::new(b"p", string("v"), 0), 0);
        assert_eq!(db.expires_len(), 1);
        assert!(db.get_mut(b"k", 99).is_some());
        assert!(db.get_mut(b"k", 100).is_none());
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_len(), 0);
        db.check_invariants();
    }

    #[test]
    fn visit_live_sees_live_entries_and_expires_due_ones() {
        let mut db = Db::new(2);
        db.insert(
            Entry::new(b"k", string("v"), 0).with_expire_at_ms(Some(100)),
            0,
        );
        let key_of = |e: &Entry| e.key().to_vec();
        assert_eq!(
            db.visit_live(b"k", 99, Access::Touch, key_of),
            Some(b"k".to_vec())
        );
        assert_eq!(db.visit_live(b"missing", 99, Access::Peek, |_| ()), None);
        db.set_keep_expired(true);
        assert_eq!(db.visit_live(b"k", 100, Access::Peek, |_| ()), None);
        assert_eq!(db.len(), 1, "kept while a transaction is queued");
        db.set_keep_expired(false);
        assert_eq!(db.visit_live(b"k", 100, Access::Touch, |_| ()), None);
        assert_eq!((db.len(), db.expires_len()), (0, 0), "the due entry went");
        db.check_invariants();
    }

    #[test]
    fn sweep_removes_only_due_entries() {
        let mut db = Db::new(3);
        for i in 0..50u64 {
            let key = format!("k{i}").into_bytes();
            let e = Entry::new(&key, string("v"), 0).with_expire_at_ms(Some(i * 10));
            db.insert(e, 0);
        }
        let mut cursor = 0;
        loop {
            cursor = db.sweep_bucket(cursor, 250).0;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(db.len(), 24);
        db.check_invariants();
    }
}

#[cfg(test)]
mod accounting_tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Set {
            key: u8,
            len: usize,
            ttl: Option<u64>,
        },
        SetInt {
            key: u8,
            n: i64,
        },
        Append {
            key: u8,
            len: usize,
        },
        Expire {
            key: u8,
            at_ms: Option<u64>,
        },
        Incr {
            key: u8,
        },
        Remove {
            key: u8,
        },
        Get {
            key: u8,
        },
        Sweep {
            cursor_steps: u8,
            now_ms: u64,
        },
        Evict {
            near: u8,
            volatile_only: bool,
        },
        Rename {
            from: u8,
            to: u8,
        },
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = 0u8..40;
        let len = prop_oneof![0usize..20, 20usize..300, Just(1024usize), 1000usize..3000];
        prop_oneof![
            4 => (key.clone(), len.clone(), proptest::option::of(0u64..100))
                .prop_map(|(key, len, ttl)| Op::Set { key, len, ttl }),
            1 => (key.clone(), any::<i64>()).prop_map(|(key, n)| Op::SetInt { key, n }),
            2 => (key.clone(), len).prop_map(|(key, len)| Op::Append { key, len }),
            1 => (key.clone(), proptest::option::of(0u64..100))
                .prop_map(|(key, at_ms)| Op::Expire { key, at_ms }),
            1 => key.clone().prop_map(|key| Op::Incr { key }),
            2 => key.clone().prop_map(|key| Op::Remove { key }),
            2 => key.clone().prop_map(|key| Op::Get { key }),
            1 => (any::<u8>(), 0u64..120)
                .prop_map(|(cursor_steps, now_ms)| Op::Sweep { cursor_steps, now_ms }),
            1 => (key.clone(), any::<bool>())
                .prop_map(|(near, volatile_only)| Op::Evict { near, volatile_only }),
            1 => (key.clone(), key).prop_map(|(from, to)| Op::Rename { from, to }),
            1 => Just(Op::Clear),
        ]
    }

    fn name(key: u8) -> Vec<u8> {
        // Some keys long enough for wide blocks.
        if key.is_multiple_of(13) {
            vec![b'k'; 256 + usize::from(key)]
        } else {
            format!("key:{key}").into_bytes()
        }
    }

    fn apply(db: &mut Db, op: &Op) {
        let now_ms = 10;
        match op {
            Op::Set { key, len, ttl } => {
                let value = Value::Str(StrValue::from_bytes(vec![b'v'; *len]));
                let entry = Entry::new(&name(*key), value, now_ms).with_expire_at_ms(*ttl);
                db.insert(entry, now_ms);
            }
            Op::SetInt { key, n } => {
                let entry = Entry::new(&name(*key), Value::Str(StrValue::Int(*n)), now_ms);
                db.insert(entry, now_ms);
            }
            Op::Append { key, len } => {
                if let Some(mut e) = db.get_mut(&name(*key), now_ms) {
                    e.edit_raw(|b| b.extend(std::iter::repeat_n(b'a', *len)));
                }
            }
            Op::Expire { key, at_ms } => {
                db.set_expire(&name(*key), *at_ms);
            }
            Op::Incr { key } => {
                if let Some(mut e) = db.get_mut(&name(*key), now_ms) {
                    e.set_value(Value::Str(StrValue::Int(7)));
                }
            }
            Op::Remove { key } => {
                db.remove(&name(*key));
            }
            Op::Get { key } => {
                db.set_promote_on_hit(true);
                db.get(&name(*key), now_ms);
            }
            Op::Sweep {
                cursor_steps,
                now_ms,
            } => {
                let mut cursor = 0;
                for _ in 0..*cursor_steps {
                    cursor = db.sweep_bucket(cursor, *now_ms).0;
                    if cursor == 0 {
                        break;
                    }
                }
            }
            Op::Evict {
                near,
                volatile_only,
            } => {
                let volatile_only = *volatile_only;
                db.evict_near(&name(*near), 4, |e| {
                    !volatile_only || e.expire_at_ms().is_some()
                });
            }
            Op::Rename { from, to } => {
                if let Some(e) = db.remove(&name(*from)) {
                    db.insert(e.with_key(&name(*to)), now_ms);
                }
            }
            Op::Clear => db.clear(),
        }
    }

    proptest! {
        /// After any sequence of writes, deadlines, edits, sweeps and evictions, the bytes the
        /// database accounts equal the sum over its entries (and the TTL count holds).
        #[test]
        fn accounted_bytes_equal_the_sum_over_entries(
            ops in proptest::collection::vec(op(), 1..120)
        ) {
            let mut db = Db::new(5);
            for op in &ops {
                apply(&mut db, op);
                db.check_invariants();
            }
            let sum: usize = db.iter().map(Entry::heap_bytes).sum();
            prop_assert_eq!(db.entries_bytes(), sum);
            db.clear();
            prop_assert_eq!(db.entries_bytes(), 0);
        }
    }
}
