//! Command names to table rows, case-insensitively, in a few instructions: every command pays for
//! this lookup, so it is a small open-addressing hash table rather than a search over sorted
//! names. The hash folds ASCII case before mixing, so `get`, `GET` and `gEt` land in one slot;
//! the probe then compares lengths and the bytes without case. The table is built once from the
//! command table and never changes; it is sized to stay at most a quarter full, so a probe
//! sequence is short.

/// Slots per name, at least (a power of two at or above names × this).
const SLOTS_PER_NAME_MIN: usize = 4;
/// Marks an empty slot.
const EMPTY: u16 = u16::MAX;

/// An index from names to positions in a list of names.
#[derive(Clone, Debug)]
pub struct NameIndex {
    /// Positions into the caller's list, or `EMPTY`; the length is a power of two.
    slots: Vec<u16>,
}

impl NameIndex {
    /// Indexes `names` (distinct without case). Position `i` of the list is what `find`
    /// answers for `names[i]`.
    pub fn new<'a>(names: impl ExactSizeIterator<Item = &'a [u8]>) -> NameIndex {
        let len = names.len();
        assert!(
            len < usize::from(EMPTY),
            "{len} names do not fit a u16 index"
        );
        let slots_len = (len * SLOTS_PER_NAME_MIN).next_power_of_two().max(1);
        let mut index = NameIndex {
            slots: vec![EMPTY; slots_len],
        };
        let mask = slots_len - 1;
        for (position, name) in names.enumerate() {
            let mut slot = folded_hash(name) as usize & mask;
            while index.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            index.slots[slot] = position as u16;
        }
        index
    }

    /// The position of the name equal to `name` without case; `name_at` gives the indexed
    /// list's names.
    pub fn find<'a>(&self, name: &[u8], name_at: impl Fn(usize) -> &'a [u8]) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut slot = folded_hash(name) as usize & mask;
        loop {
            let position = self.slots[slot];
            if position == EMPTY {
                return None;
            }
            let candidate = name_at(usize::from(position));
            if candidate.len() == name.len() && candidate.eq_ignore_ascii_case(name) {
                return Some(usize::from(position));
            }
            slot = (slot + 1) & mask;
        }
    }
}

/// FNV-1a over the bytes with ASCII letters folded to lower case. Folding only letters keeps
/// the hash equal wherever `eq_ignore_ascii_case` is.
fn folded_hash(name: &[u8]) -> u32 {
    const FNV_OFFSET: u32 = 0x811c_9dc5;
    const FNV_PRIME: u32 = 0x0100_0193;
    let mut hash = FNV_OFFSET;
    for &byte in name {
        hash = (hash ^ u32::from(byte.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
    }
    // Fold the high bits in: the mask keeps only low ones.
    hash ^ (hash >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_in_any_case_and_nothing_else() {
        let names: Vec<&[u8]> = vec![b"GET", b"SET", b"GETSET", b"CLIENT", b"A", b""];
        let index = NameIndex::new(names.iter().copied());
        let at = |i: usize| names[i];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.find(name, at), Some(i));
            assert_eq!(index.find(&name.to_ascii_lowercase(), at), Some(i));
        }
        assert_eq!(index.find(b"gEtSeT", at), Some(2));
        for absent in [&b"GE"[..], b"GETS", b"GET\0", b"b", b"SETGET"] {
            assert_eq!(index.find(absent, at), None, "{absent:?}");
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index = NameIndex::new(std::iter::empty());
        assert_eq!(index.find(b"GET", |_| unreachable!()), None);
    }

    #[test]
    fn only_letters_fold() {
        // '@' and '`' differ from each other only in the bit case folding clears in letters.
        assert_ne!(folded_hash(b"@"), folded_hash(b"`"));
        assert_eq!(folded_hash(b"Get"), folded_hash(b"gET"));
    }
}
