//! A set value (SADD and friends), with Redis 7.0's two encodings: intset (sorted integers)
//! while every member is an integer and there are at most `set-max-intset-entries`, else
//! hashtable.
//!
//! STUB: a plain vector standing in for both encodings until the real structures land. The
//! API is the contract the set family is written against.

use super::size_class::class_bytes;

/// Redis's `set-max-intset-entries`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetLimits {
    pub intset_entries_max: usize,
}

impl Default for SetLimits {
    fn default() -> SetLimits {
        SetLimits {
            intset_entries_max: 512,
        }
    }
}

/// A member as the set holds it: an intset keeps integers, a hashtable bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(n) => n.to_string().into_bytes(),
            Member::Bytes(b) => b.to_vec(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct SetValue {
    members: Vec<Vec<u8>>,
    table: bool,
    seed: u64,
}

impl PartialEq for SetValue {
    /// Equal members, whatever the encoding or order.
    fn eq(&self, other: &SetValue) -> bool {
        self.len() == other.len() && self.members.iter().all(|m| other.contains(m))
    }
}

/// The integer an intset would hold for `member` (Redis's string2ll: canonical i64 text).
fn as_int(member: &[u8]) -> Option<i64> {
    crate::numfmt::parse_i64(member)
}

impl SetValue {
    /// An empty set in the encoding Redis's setTypeCreate picks for its first member: intset
    /// when `first` is an integer, else hashtable. `seed` keys the hashtable's hash function.
    pub fn new_for(first: &[u8], seed: u64) -> SetValue {
        SetValue {
            members: Vec::new(),
            table: as_int(first).is_none(),
            seed,
        }
    }

    /// An empty intset (SINTERSTORE, SUNIONSTORE and SDIFFSTORE build into one).
    pub fn new_intset(seed: u64) -> SetValue {
        SetValue {
            members: Vec::new(),
            table: false,
            seed,
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// OBJECT ENCODING's name: "intset" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        if self.table {
            "hashtable"
        } else {
            "intset"
        }
    }

    /// Heap bytes this value owns, by allocator class (not the value's own box). O(1).
    pub fn heap_bytes(&self) -> usize {
        class_bytes(self.members.capacity() * 24)
            + self
                .members
                .iter()
                .map(|m| class_bytes(m.capacity()))
                .sum::<usize>()
            + usize::from(self.seed == u64::MAX)
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.iter().any(|m| m == member)
    }

    /// Adds `member`; true when it is new. Converts to a hashtable (never back) when the member
    /// is not an integer or the intset would pass `limits`.
    pub fn insert(&mut self, member: &[u8], limits: &SetLimits) -> bool {
        if self.contains(member) {
            return false;
        }
        if as_int(member).is_none() || self.members.len() + 1 > limits.intset_entries_max {
            self.table = true;
        }
        self.members.push(member.to_vec());
        if !self.table {
            self.members
                .sort_by_key(|m| as_int(m).expect("intset members are integers"));
        }
        true
    }

    /// Removes `member`; true when it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.members.iter().position(|m| m == member) {
            Some(i) => {
                self.members.remove(i);
                true
            }
            None => false,
        }
    }

    /// Every member: ascending for an intset, table order for a hashtable.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        let table = self.table;
        self.members.iter().map(move |m| match (table, as_int(m)) {
            (false, Some(n)) => Member::Int(n),
            _ => Member::Bytes(m),
        })
    }

    /// The `index`th member in `iter` order (SRANDMEMBER and SPOP draw indexes below `len`).
    pub fn nth(&self, index: usize) -> Option<Member<'_>> {
        self.iter().nth(index)
    }

    /// One step of SSCAN: visits some members, returns the next cursor (0: done). A member
    /// present for the whole scan is visited at least once however the set grows. An intset
    /// is visited whole in one step, as Redis does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(Member<'_>)) -> u64 {
        let _ = cursor;
        for m in self.iter() {
            visit(m);
        }
        0
    }
}
