//! A hash value (HSET and friends): field → value, with Redis 7.0's two encodings.
//!
//! STUB: a plain vector of pairs standing in for both encodings until the real structures land
//! (listpack: packed records in insertion order; hashtable: a chained table with a stable SCAN
//! cursor). The API is the contract the hash family is written against.

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
            // redis-server 7.0's built-in default (config.c), not the 128 of the other types.
            listpack_entries_max: 512,
            listpack_value_max_bytes: 64,
        }
    }
}

#[derive(Clone, Debug)]
pub struct HashValue {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    table: bool,
    seed: u64,
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
            pairs: Vec::new(),
            table: false,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// OBJECT ENCODING's name: "listpack" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        if self.table {
            "hashtable"
        } else {
            "listpack"
        }
    }

    /// Heap bytes this value owns, by allocator class (not the value's own box). O(1).
    pub fn heap_bytes(&self) -> usize {
        class_bytes(self.pairs.capacity() * 48)
            + self
                .pairs
                .iter()
                .map(|(f, v)| class_bytes(f.capacity()) + class_bytes(v.capacity()))
                .sum::<usize>()
            + usize::from(self.seed == u64::MAX)
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_slice())
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true when the field is new. Converts to a hashtable when the
    /// field count or a length passes `limits` (never back).
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &HashLimits) -> bool {
        if field.len() > limits.listpack_value_max_bytes
            || value.len() > limits.listpack_value_max_bytes
        {
            self.table = true;
        }
        let new = match self.pairs.iter_mut().find(|(f, _)| f == field) {
            Some((_, v)) => {
                *v = value.to_vec();
                false
            }
            None => {
                self.pairs.push((field.to_vec(), value.to_vec()));
                true
            }
        };
        if self.pairs.len() > limits.listpack_entries_max {
            self.table = true;
        }
        new
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.pairs.iter().position(|(f, _)| f == field) {
            Some(i) => {
                self.pairs.remove(i);
                true
            }
            None => false,
        }
    }

    /// Every (field, value): insertion order for a listpack, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.pairs.iter().map(|(f, v)| (f.as_slice(), v.as_slice()))
    }

    /// The `index`th pair in `iter` order (HRANDFIELD draws indexes below `len`).
    pub fn nth(&self, index: usize) -> Option<(&[u8], &[u8])> {
        self.pairs
            .get(index)
            .map(|(f, v)| (f.as_slice(), v.as_slice()))
    }

    /// One step of HSCAN: visits some pairs, returns the next cursor (0: done). A pair present
    /// for the whole scan is visited at least once however the hash grows. A listpack is
    /// visited whole in one step (cursor 0 back), as Redis does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        let _ = cursor;
        for (f, v) in self.iter() {
            visit(f, v);
        }
        0
    }
}
