//! Command names to table rows, case-insensitively, in a few instructions: every command pays for
//! this lookup, so it is a small open-addressing hash table rather than a search over sorted
//! names.
//!
//! A name's first 8 bytes, upper-cased all at once (SWAR: eight bytes in one `u64`), are its
//! "word"; the hash mixes the word and the length. A probe compares the length and the word,
//! then, for the few names longer than 8 bytes, the rest byte by byte. So `get`, `GET` and `gEt`
//! hash and compare alike, and a typical lookup is one multiply and one compare. Indexed names
//! are upper case. The table is built once from the command table and never changes; it is
//! sized to stay at most a quarter full, so a probe sequence is short.

/// Slots per name, at least (a power of two at or above names × this).
const SLOTS_PER_NAME_MIN: usize = 4;
/// Marks an empty slot.
const EMPTY: u16 = u16::MAX;
/// Bytes of a name held in its word.
const WORD_BYTES: usize = 8;

/// An index from names to positions in a list of names.
#[derive(Clone, Debug)]
pub struct NameIndex {
    /// Positions into the caller's list, or `EMPTY`; the length is a power of two.
    slots: Vec<u16>,
    /// Per position: the name's length and word.
    keys: Vec<(usize, u64)>,
}

impl NameIndex {
    /// Indexes `names`: upper case, distinct. Position `i` of the list is what `find` answers
    /// for `names[i]`.
    pub fn new<'a>(names: impl ExactSizeIterator<Item = &'a [u8]>) -> NameIndex {
        let len = names.len();
        assert!(
            len < usize::from(EMPTY),
            "{len} names do not fit a u16 index"
        );
        let slots_len = (len * SLOTS_PER_NAME_MIN).next_power_of_two().max(1);
        let mut index = NameIndex {
            slots: vec![EMPTY; slots_len],
            keys: Vec::with_capacity(len),
        };
        let mask = slots_len - 1;
        for (position, name) in names.enumerate() {
            assert_eq!(
                name,
                name.to_ascii_uppercase(),
                "indexed names are upper case"
            );
            let word = upper_word(name);
            index.keys.push((name.len(), word));
            let mut slot = slot_hash(name.len(), word) & mask;
            while index.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            index.slots[slot] = position as u16;
        }
        index
    }

    /// The position of the name equal to `name` without case; `name_at` gives the indexed
    /// list's names (read only for names longer than a word).
    pub fn find<'a>(&self, name: &[u8], name_at: impl Fn(usize) -> &'a [u8]) -> Option<usize> {
        let word = upper_word(name);
        let mask = self.slots.len() - 1;
        let mut slot = slot_hash(name.len(), word) & mask;
        loop {
            let position = usize::from(self.slots[slot]);
            if position == usize::from(EMPTY) {
                return None;
            }
            if self.keys[position] == (name.len(), word)
                && (name.len() <= WORD_BYTES
                    || name_at(position)[WORD_BYTES..].eq_ignore_ascii_case(&name[WORD_BYTES..]))
            {
                return Some(position);
            }
            slot = (slot + 1) & mask;
        }
    }
}

fn slot_hash(len: usize, word: u64) -> usize {
    const MIX: u64 = 0x9e37_79b9_7f4a_7c15;
    // The high half of the product mixes every input bit.
    ((word ^ len as u64).wrapping_mul(MIX) >> 32) as usize
}

/// The first `WORD_BYTES` bytes of `name`, little-endian, zero-padded, ASCII letters upper-cased.
fn upper_word(name: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut word = 0u64;
    for (i, &byte) in name.iter().take(WORD_BYTES).enumerate() {
        word |= u64::from(byte) << (8 * i);
    }
    // Per byte, without carries between bytes: the high bit of `from_a` is set when the low
    // seven bits are at least `a`, that of `past_z` when they are past `z`; a byte is a lower
    // case letter when the first holds, the second does not, and its own high bit is clear.
    let low7 = word & (0x7f * ONES);
    let from_a = low7 + (0x80 - u64::from(b'a')) * ONES;
    let past_z = low7 + (0x80 - u64::from(b'z') - 1) * ONES;
    let lower = from_a & !past_z & !word & (0x80 * ONES);
    // 0x80 >> 2 is the case bit, 0x20.
    word - (lower >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_name_in_any_case_and_nothing_else() {
        let names: Vec<&[u8]> = vec![
            b"GET",
            b"SET",
            b"GETSET",
            b"CLIENT",
            b"A",
            b"",
            b"X|Y-1",
            b"ZRANGEBYSCORE",
            b"ZRANGEBYLEX",
            b"GETRANGE",
        ];
        let index = NameIndex::new(names.iter().copied());
        let at = |i: usize| names[i];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(index.find(name, at), Some(i));
            assert_eq!(index.find(&name.to_ascii_lowercase(), at), Some(i));
        }
        assert_eq!(index.find(b"gEtSeT", at), Some(2));
        assert_eq!(index.find(b"x|y-1", at), Some(6));
        assert_eq!(index.find(b"zRangeByScore", at), Some(7));
        for absent in [
            &b"GE"[..],
            b"GETS",
            b"GET\0",
            b"b",
            b"SETGET",
            b"ZRANGEBYSCORF",
            b"ZRANGEBYSCORES",
            b"GETRANGE\0",
            b"A\0",
        ] {
            assert_eq!(index.find(absent, at), None, "{absent:?}");
        }
    }

    #[test]
    fn an_empty_index_finds_nothing() {
        let index = NameIndex::new(std::iter::empty());
        assert_eq!(index.find(b"GET", |_| unreachable!()), None);
    }

    #[test]
    fn words_upper_case_exactly_the_ascii_letters() {
        for byte in 0..=255u8 {
            for at in 0..WORD_BYTES {
                let mut name = *b"@aZ{`z~\x7f";
                name[at] = byte;
                let expected: Vec<u8> = name.to_ascii_uppercase();
                let mut padded = [0u8; WORD_BYTES];
                padded.copy_from_slice(&expected);
                assert_eq!(upper_word(&name), u64::from_le_bytes(padded), "{name:?}");
            }
        }
        assert_eq!(upper_word(b"get"), u64::from_le_bytes(*b"GET\0\0\0\0\0"));
        assert_eq!(upper_word(b"getrange!"), upper_word(b"GETRANGE"));
    }
}
