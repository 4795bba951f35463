//! A hash's compact encoding (Redis's listpack): every (field, value) pair as one packed record
//! in one buffer, in insertion order, found by a linear scan.
//!
//! ```text
//!  bytes: [len f][f…][len v][v…] [len f][f…][len v][v…] …      (len: LEB128, packed.rs)
//! ```
//!
//! Why: a small hash is one allocation with two bytes of overhead per pair (Redis's listpack
//! spends about three: an encoding byte and a back-length per string), and a scan over at most
//! `hash-max-listpack-entries` short records is as fast as a hash lookup at that size. Updating a
//! field rewrites its value where it is, so order stays insertion order, as in Redis; a removal
//! closes the gap. There is no back-length: nothing walks a hash backwards. The pair count is
//! kept beside the buffer so HLEN is O(1).

use super::packed::{get_str, put_str, reserve_class, str_len, vec_bytes, VARINT_BYTES_MAX};

#[derive(Clone, Debug, Default)]
pub struct Listpack {
    bytes: Vec<u8>,
    len: u32,
}

/// Where a pair's record lies: `[at, value_at)` the field, `[value_at, end)` the value.
struct Found {
    at: usize,
    value_at: usize,
    end: usize,
}

impl Listpack {
    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn heap_bytes(&self) -> usize {
        vec_bytes(&self.bytes)
    }

    fn find(&self, field: &[u8]) -> Option<Found> {
        let mut at = 0;
        while at < self.bytes.len() {
            let (f, value_at) = get_str(&self.bytes, at);
            let (_, end) = get_str(&self.bytes, value_at);
            if f == field {
                return Some(Found { at, value_at, end });
            }
            at = end;
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field)
            .map(|found| get_str(&self.bytes, found.value_at).0)
    }

    /// Sets `field` to `value` (in place when present); true when the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let Some(found) = self.find(field) else {
            reserve_class(&mut self.bytes, str_len(field) + str_len(value));
            put_str(&mut self.bytes, field);
            put_str(&mut self.bytes, value);
            self.len = self
                .len
                .checked_add(1)
                .expect("a listpack holds fewer than 2^32 pairs");
            return true;
        };
        let old_bytes = found.end - found.value_at;
        let new_bytes = str_len(value);
        if new_bytes > old_bytes {
            reserve_class(&mut self.bytes, new_bytes - old_bytes);
        }
        let mut head = [0u8; VARINT_BYTES_MAX];
        let head_len = encode_len(&mut head, value.len());
        if new_bytes == old_bytes {
            let value_from = found.value_at + head_len;
            self.bytes[found.value_at..value_from].copy_from_slice(&head[..head_len]);
            self.bytes[value_from..found.end].copy_from_slice(value);
        } else {
            let encoded = head[..head_len].iter().chain(value).copied();
            self.bytes.splice(found.value_at..found.end, encoded);
        }
        false
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let Some(found) = self.find(field) else {
            return false;
        };
        self.bytes.drain(found.at..found.end);
        self.len -= 1;
        true
    }

    pub fn iter(&self) -> ListpackIter<'_> {
        ListpackIter {
            bytes: &self.bytes,
            at: 0,
        }
    }

    /// Recounts pairs and bytes the slow way: the buffer holds the records and nothing else.
    pub fn check_invariants(&self) {
        assert_eq!(self.iter().count(), self.len(), "listpack pair count");
        let records: usize = self.iter().map(|(f, v)| str_len(f) + str_len(v)).sum();
        assert_eq!(records, self.bytes.len(), "listpack bytes");
    }
}

/// Writes `len` as LEB128 into `out`; returns the bytes written.
fn encode_len(out: &mut [u8; VARINT_BYTES_MAX], len: usize) -> usize {
    let mut n = u32::try_from(len).expect("a value length fits u32");
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    i + 1
}

/// The pairs in insertion order.
pub struct ListpackIter<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for ListpackIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        if self.at >= self.bytes.len() {
            return None;
        }
        let (f, value_at) = get_str(self.bytes, self.at);
        let (v, end) = get_str(self.bytes, value_at);
        self.at = end;
        Some((f, v))
    }
}
