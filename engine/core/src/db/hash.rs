//! A hash value (HSET and friends): field → value, with Redis 7.0's two encodings.
//!
//! - "listpack" (listpack.rs): the pairs packed in one buffer in insertion order, scanned
//!   linearly, while there are at most `hash-max-listpack-entries` pairs and no field or value
//!   is longer than `hash-max-listpack-value`. An update keeps the pair's place; a removal
//!   closes the gap. HSCAN returns it whole, cursor 0.
//! - "hashtable" (packed_table.rs): a chained table over one arena of records, keyed by
//!   xxh3 with the value's seed, so its order is deterministic; HSCAN walks one bucket per call
//!   with Redis's reverse-binary cursor.
//!
//! An insert that would break either listpack limit converts first (the 129th field, a
//! 65-byte field or value, with the defaults), as Redis's hashTypeTryConversion and
//! hashTypeSet do; nothing converts back. `heap_bytes` is O(1): a listpack owns one buffer, a
//! table its box and three buffers, each counted by its allocator class.

use super::listpack::{Listpack, ListpackIter};
use super::packed_table::{self, PackedTable};
use super::size_class::class_bytes;

/// Redis's `hash-max-listpack-entries` / `hash-max-listpack-value`: above either, a hash is a
/// hashtable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    pub listpack_entries_max: usize,
    pub listpack_value_max_bytes: usize,
}

impl Default for HashLimits {
    fn default() -> HashLimits {
        HashLimits {
            listpack_entries_max: 128,
            listpack_value_max_bytes: 64,
        }
    }
}

type Table = PackedTable<true>;

#[derive(Clone, Debug)]
pub struct HashValue {
    repr: Repr,
}

/// The encoding, holding only what it needs; the seed waits in the listpack for conversion.
#[derive(Clone, Debug)]
enum Repr {
    Listpack { pairs: Listpack, seed: u64 },
    Table(Box<Table>),
}

impl PartialEq for HashValue {
    /// Equal contents, whatever the encoding or order.
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl HashValue {
    /// An empty hash (listpack). `seed` keys the hashtable's hash function once it converts.
    pub fn new(seed: u64) -> HashValue {
        HashValue {
            repr: Repr::Listpack {
                pairs: Listpack::default(),
                seed,
            },
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack { pairs, .. } => pairs.len(),
            Repr::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name: "listpack" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack { .. } => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Heap bytes this value owns, by allocator class (not the value's own box). O(1).
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Listpack { pairs, .. } => pairs.heap_bytes(),
            Repr::Table(t) => class_bytes(std::mem::size_of::<Table>()) + t.heap_bytes(),
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack { pairs, .. } => pairs.get(field),
            Repr::Table(t) => t.get(field).map(|(_, v)| v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true when the field is new. Converts to a hashtable when the
    /// field count or a length passes `limits` (never back).
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        let value_max = limits.listpack_value_max_bytes;
        if field.len() > value_max || value.len() > value_max {
            self.convert(1);
        }
        match &mut self.repr {
            Repr::Listpack { pairs, .. } => {
                let new = pairs.insert(field, value);
                if pairs.len() > limits.listpack_entries_max {
                    self.convert(0);
                }
                new
            }
            Repr::Table(t) => t.insert(field, value),
        }
    }

    /// Turns a listpack into a table with room for `extra` more pairs (a table stays).
    fn convert(&mut self, extra: usize) {
        let Repr::Listpack { pairs, seed } = &self.repr else {
            return;
        };
        let mut table = Table::new(*seed, pairs.len() + extra);
        for (f, v) in pairs.iter() {
            table.insert(f, v);
        }
        self.repr = Repr::Table(Box::new(table));
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack { pairs, .. } => pairs.remove(field),
            Repr::Table(t) => t.remove(field),
        }
    }

    /// Every (field, value): insertion order for a listpack, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        match &self.repr {
            Repr::Listpack { pairs, .. } => Iter::Listpack(pairs.iter()),
            Repr::Table(t) => Iter::Table(t.iter()),
        }
    }

    /// The `index`th pair in `iter` order (HRANDFIELD draws indexes below `len`).
    pub fn nth(&self, index: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(index)
    }

    /// A pair drawn uniformly (HRANDFIELD): `draw` gives random u64s. O(1) expected for a
    /// hashtable, O(n) for a listpack (at most `hash-max-listpack-entries`).
    pub fn random(&self, mut draw: impl FnMut() -> u64) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Listpack { pairs, .. } if pairs.len() == 0 => None,
            Repr::Listpack { pairs, .. } => {
                pairs.iter().nth((draw() % pairs.len() as u64) as usize)
            }
            Repr::Table(t) => t.random(draw).map(|node| t.entry(node)),
        }
    }

    /// One step of HSCAN: visits some pairs, returns the next cursor (0: done). A pair present
    /// for the whole scan is visited at least once however the hash grows. A listpack is
    /// visited whole in one step (cursor 0 back), as Redis does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.repr {
            Repr::Listpack { pairs, .. } => {
                for (f, v) in pairs.iter() {
                    visit(f, v);
                }
                0
            }
            Repr::Table(t) => t.scan(cursor, visit),
        }
    }

    /// Recounts the slow way and checks the encoding's invariants (tests, simulator).
    pub fn check_invariants(&self) {
        match &self.repr {
            Repr::Listpack { pairs, .. } => {
                assert_eq!(pairs.iter().count(), pairs.len(), "listpack count");
            }
            Repr::Table(t) => t.check_invariants(),
        }
    }
}

/// `iter`'s iterator: one arm per encoding.
enum Iter<'a> {
    Listpack(ListpackIter<'a>),
    Table(packed_table::Iter<'a, true>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            Iter::Listpack(it) => it.next(),
            Iter::Table(it) => it.next(),
        }
    }
}
