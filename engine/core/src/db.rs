//! A logical database (SELECT index) on one shard: the table of entries, the count of entries
//! carrying a TTL, and lazy expiry.
//!
//! Invariant: `expires_len` equals the number of entries whose `expire_at_ms` is set; the TTL
//! lives inside the entry (no second table). A key whose deadline has passed is logically gone:
//! every lookup removes it before answering.

use crate::table::{Keyed, Table};

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

impl StrValue {
    /// Encodes `bytes` as Redis's SET does: an integer when the text is a canonical i64 of at
    /// most 20 characters, else embedded or raw bytes by length.
    pub fn from_bytes(bytes: Vec<u8>) -> StrValue {
        if bytes.len() <= 20 {
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
        match self {
            StrValue::Int(n) => n.to_string().into_bytes(),
            StrValue::Bytes { bytes, .. } => bytes.clone(),
        }
    }

    pub fn len_bytes(&self) -> usize {
        match self {
            StrValue::Int(n) => decimal_len(*n),
            StrValue::Bytes { bytes, .. } => bytes.len(),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Bytes { raw: false, .. } => "embstr",
            StrValue::Bytes { raw: true, .. } => "raw",
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

/// A value of any type. Later families add lists, hashes, sets and sorted sets.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
}

impl Value {
    /// The name TYPE answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
        }
    }
}

/// One key and its value, TTL and access metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: Vec<u8>,
    pub value: Value,
    /// Unix ms deadline; `None` for a persistent key.
    pub expire_at_ms: Option<u64>,
    /// Wall ms of the last access (OBJECT IDLETIME).
    pub accessed_ms: u64,
}

impl Keyed for Entry {
    fn key(&self) -> &[u8] {
        &self.key
    }
}

impl Entry {
    pub fn new(key: Vec<u8>, value: Value, now_ms: u64) -> Entry {
        Entry {
            key,
            value,
            expire_at_ms: None,
            accessed_ms: now_ms,
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms.is_some_and(|at| at <= now_ms)
    }
}

pub struct Db {
    table: Table<Entry>,
    expires_len: usize,
}

impl Db {
    pub fn new(seed: u64) -> Db {
        Db {
            table: Table::new(seed),
            expires_len: 0,
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

    /// Removes `key` if its deadline has passed; true when it did.
    fn expire_if_due(&mut self, key: &[u8], now_ms: u64) -> bool {
        let due = self.table.get(key).is_some_and(|e| e.is_expired(now_ms));
        if due {
            self.remove(key);
        }
        due
    }

    /// The live entry under `key`, updating its access time.
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.expire_if_due(key, now_ms);
        let entry = self.table.get_mut(key)?;
        entry.accessed_ms = now_ms;
        Some(entry)
    }

    /// The live entry under `key`, without touching its access time (OBJECT, TYPE-free peeks).
    pub fn peek(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.expire_if_due(key, now_ms);
        self.table.get(key)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.peek(key, now_ms).is_some()
    }

    /// Inserts or replaces the whole entry, returning the live entry it replaced.
    pub fn insert(&mut self, entry: Entry, now_ms: u64) -> Option<Entry> {
        let had_ttl = entry.expire_at_ms.is_some();
        let old = self.table.insert(entry);
        if had_ttl {
            self.expires_len += 1;
        }
        let old = old?;
        if old.expire_at_ms.is_some() {
            self.expires_len -= 1;
        }
        (!old.is_expired(now_ms)).then_some(old)
    }

    /// Removes `key` whether or not it has expired.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.table.remove(key)?;
        if old.expire_at_ms.is_some() {
            self.expires_len -= 1;
        }
        Some(old)
    }

    /// Removes the live entry under `key`.
    pub fn take(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let old = self.remove(key)?;
        (!old.is_expired(now_ms)).then_some(old)
    }

    /// Sets or clears the deadline of an existing key; false when the key is absent.
    pub fn set_expire(&mut self, key: &[u8], expire_at_ms: Option<u64>) -> bool {
        let Some(entry) = self.table.get_mut(key) else {
            return false;
        };
        match (entry.expire_at_ms.is_some(), expire_at_ms.is_some()) {
            (false, true) => self.expires_len += 1,
            (true, false) => self.expires_len -= 1,
            _ => {}
        }
        entry.expire_at_ms = expire_at_ms;
        true
    }

    pub fn clear(&mut self) {
        self.table.clear();
        self.expires_len = 0;
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
        let mut with_ttl_removed = 0;
        let (next, removed) = self.table.sweep_bucket(cursor, |e| {
            let due = e.is_expired(now_ms);
            with_ttl_removed += usize::from(due);
            due
        });
        self.expires_len -= with_ttl_removed;
        (next, removed)
    }

    pub fn buckets_len(&self) -> usize {
        self.table.buckets_len()
    }

    pub fn random_entry(&self, random: impl FnMut() -> u64) -> Option<&Entry> {
        self.table.random_entry(random)
    }

    /// Runs `visit` on the live entry under `key` in one table lookup (removing the entry
    /// instead when its deadline has passed); `None` when there is none. The access time is
    /// the visitor's to update. For hot paths: `peek` and `get_mut` return a borrow, so they
    /// look twice (once to expire, once to borrow); a visitor's result borrows nothing.
    pub fn visit_live<R>(
        &mut self,
        key: &[u8],
        now_ms: u64,
        visit: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        match self.table.get_mut(key) {
            None => return None,
            Some(entry) if !entry.is_expired(now_ms) => return Some(visit(entry)),
            Some(_) => {}
        }
        self.remove(key);
        None
    }

    /// Checks the invariant that `expires_len` counts the entries with a TTL.
    pub fn check_invariants(&self) {
        let counted = self
            .table
            .iter()
            .filter(|e| e.expire_at_ms.is_some())
            .count();
        assert_eq!(
            counted, self.expires_len,
            "expires_len out of step with the table"
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
        let mut e = Entry::new(b"k".to_vec(), string("v"), 0);
        e.expire_at_ms = Some(100);
        db.insert(e, 0);
        db.insert(Entry::new(b"p".to_vec(), string("v"), 0), 0);
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
        let mut e = Entry::new(b"k".to_vec(), string("v"), 0);
        e.expire_at_ms = Some(100);
        db.insert(e, 0);
        assert_eq!(
            db.visit_live(b"k", 99, |e| e.key.clone()),
            Some(b"k".to_vec())
        );
        assert_eq!(db.visit_live(b"missing", 99, |_| ()), None);
        assert_eq!(db.visit_live(b"k", 100, |_| ()), None);
        assert_eq!((db.len(), db.expires_len()), (0, 0), "the due entry went");
        db.check_invariants();
    }

    #[test]
    fn sweep_removes_only_due_entries() {
        let mut db = Db::new(3);
        for i in 0..50u64 {
            let mut e = Entry::new(format!("k{i}").into_bytes(), string("v"), 0);
            e.expire_at_ms = Some(i * 10);
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
