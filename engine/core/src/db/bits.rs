//! Bit algorithms on byte strings, as Redis 7.0's bitops.c numbers bits: bit 0 is the most
//! significant bit of byte 0. Pure functions over slices, shared by SETBIT, GETBIT, BITCOUNT,
//! BITPOS, BITOP and BITFIELD (`cmd/family/bitmap.rs`), which own the parsing and the keyspace.
//!
//! Reads past the end of a string see zeros (a missing key is an infinite run of zero bits);
//! writes need the caller to have grown the string first.

/// Whether a range counts bytes or bits (BITCOUNT's and BITPOS's BYTE | BIT).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeUnit {
    Byte,
    Bit,
}

/// An inclusive range of bit positions, non-empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitRange {
    pub first: u64,
    pub last: u64,
}

/// Redis's index rules for BITCOUNT/BITPOS ranges over a string of `len_bytes`: negative
/// indexes count from the end, both clamp into the string, then an inverted range is empty.
pub fn resolve_range(len_bytes: usize, start: i64, end: i64, unit: RangeUnit) -> Option<BitRange> {
    let len = match unit {
        RangeUnit::Byte => len_bytes as i64,
        RangeUnit::Bit => (len_bytes as i64) << 3,
    };
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(match unit {
        RangeUnit::Byte => BitRange {
            first: start * 8,
            last: end * 8 + 7,
        },
        RangeUnit::Bit => BitRange {
            first: start,
            last: end,
        },
    })
}

/// The range of every bit of a string of `len_bytes`, or `None` for an empty string.
pub fn whole(len_bytes: usize) -> Option<BitRange> {
    resolve_range(len_bytes, 0, -1, RangeUnit::Byte)
}

/// The bits of byte `i` that lie within `range`.
fn range_mask(i: u64, range: BitRange) -> u8 {
    let mut mask = 0xffu8;
    if i == range.first / 8 {
        mask &= 0xff >> (range.first % 8);
    }
    if i == range.last / 8 {
        mask &= 0xff << (7 - range.last % 8);
    }
    mask
}

/// Byte `i` with only the bits of `range` kept (the others cleared).
fn masked_byte(bytes: &[u8], i: u64, range: BitRange) -> u8 {
    bytes.get(i as usize).copied().unwrap_or(0) & range_mask(i, range)
}

/// Set bits within `range` (BITCOUNT).
pub fn count_ones(bytes: &[u8], range: BitRange) -> u64 {
    let (first_byte, last_byte) = (range.first / 8, range.last / 8);
    let edge_ones = |i: u64| u64::from(masked_byte(bytes, i, range).count_ones());
    if first_byte == last_byte {
        return edge_ones(first_byte);
    }
    // Past the end of the string every byte reads as zero.
    let end = (last_byte as usize).min(bytes.len());
    let inner = bytes
        .get((first_byte + 1) as usize..end)
        .unwrap_or_default();
    edge_ones(first_byte) + popcount(inner) + edge_ones(last_byte)
}

/// Set bits in a whole slice, eight bytes at a time.
pub fn popcount(bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    let mut ones: u64 = words
        .by_ref()
        .map(|w| u64::from(u64::from_ne_bytes(w.try_into().expect("8 bytes")).count_ones()))
        .sum();
    ones += words
        .remainder()
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum::<u64>();
    ones
}

/// The first position in `range` whose bit is `bit` (BITPOS's search), if any.
pub fn find_bit(bytes: &[u8], bit: bool, range: BitRange) -> Option<u64> {
    // A byte with nothing to find: all zeros when looking for a one, all ones for a zero.
    let skip = if bit { 0x00 } else { 0xff };
    let (first_byte, last_byte) = (range.first / 8, range.last / 8);
    for i in first_byte..=last_byte {
        let raw = bytes.get(i as usize).copied().unwrap_or(0);
        // Bits outside the range must not be found: cleared for a one, set for a zero.
        let mask = range_mask(i, range);
        let byte = if bit { raw & mask } else { raw | !mask };
        if byte == skip {
            continue;
        }
        let in_byte = if bit {
            byte.leading_zeros()
        } else {
            (!byte).leading_zeros()
        };
        return Some(i * 8 + u64::from(in_byte));
    }
    None
}

/// Bit `offset` of `bytes` (GETBIT); past the end reads zero.
pub fn get_bit(bytes: &[u8], offset: u64) -> bool {
    let byte = bytes.get((offset >> 3) as usize).copied().unwrap_or(0);
    byte & (0x80 >> (offset & 7)) != 0
}

/// Sets bit `offset` (the string reaches it) and answers its old value (SETBIT).
pub fn set_bit(bytes: &mut [u8], offset: u64, on: bool) -> bool {
    let (byte, mask) = ((offset >> 3) as usize, 0x80u8 >> (offset & 7));
    let old = bytes[byte] & mask != 0;
    if on {
        bytes[byte] |= mask;
    } else {
        bytes[byte] &= !mask;
    }
    old
}

/// `bits` bits from `offset`, most significant first, as an unsigned number (zeros past the end).
pub fn get_unsigned(bytes: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0u64, |value, j| {
        (value << 1) | u64::from(get_bit(bytes, offset + j))
    })
}

/// `get_unsigned` sign-extended from `bits` bits.
pub fn get_signed(bytes: &[u8], offset: u64, bits: u32) -> i64 {
    let value = get_unsigned(bytes, offset, bits);
    if bits < 64 && value & (1 << (bits - 1)) != 0 {
        (value | (u64::MAX << bits)) as i64
    } else {
        value as i64
    }
}

/// Writes the low `bits` bits of `value` at `offset`, most significant first.
pub fn set_unsigned(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits {
        let on = (value >> (bits - 1 - j)) & 1 != 0;
        set_bit(bytes, offset + u64::from(j), on);
    }
}

/// BITFIELD's OVERFLOW behaviours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    Wrap,
    Sat,
    Fail,
}

/// A BITFIELD integer type: signed up to 64 bits, unsigned up to 63.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldType {
    pub signed: bool,
    pub bits: u32,
}

pub const SIGNED_BITS_MAX: u32 = 64;
pub const UNSIGNED_BITS_MAX: u32 = 63;

/// `value + incr` stored in `bits` bits under `mode` (checkUnsignedBitfieldOverflow): `None` when
/// it overflows under FAIL. SET is an add of 0 to the new value.
pub fn unsigned_add(value: u64, incr: i64, bits: u32, mode: Overflow) -> Option<u64> {
    debug_assert!((1..=UNSIGNED_BITS_MAX).contains(&bits));
    let max = (1u64 << bits) - 1;
    // Redis's arithmetic: u64 differences read as i64.
    let incr_max = max.wrapping_sub(value) as i64;
    let incr_min = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & max;
    if value > max || (incr > 0 && incr > incr_max) {
        match mode {
            Overflow::Wrap => Some(wrapped()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        }
    } else if incr < 0 && incr < incr_min {
        match mode {
            Overflow::Wrap => Some(wrapped()),
            Overflow::Sat => Some(0),
            Overflow::Fail => None,
        }
    } else {
        Some(value.wrapping_add(incr as u64))
    }
}

/// The signed counterpart (checkSignedBitfieldOverflow).
pub fn signed_add(value: i64, incr: i64, bits: u32, mode: Overflow) -> Option<i64> {
    debug_assert!((1..=SIGNED_BITS_MAX).contains(&bits));
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let incr_max = (max as u64).wrapping_sub(value as u64) as i64;
    let incr_min = min.wrapping_sub(value);
    let wrapped = || {
        let sum = (value as u64).wrapping_add(incr as u64);
        if bits == 64 {
            return sum as i64;
        }
        let high = u64::MAX << bits;
        if sum & (1 << (bits - 1)) != 0 {
            (sum | high) as i64
        } else {
            (sum & !high) as i64
        }
    };
    let wide = bits != 64;
    if value > max || (wide && incr > incr_max) || (value >= 0 && incr > 0 && incr > incr_max) {
        match mode {
            Overflow::Wrap => Some(wrapped()),
            Overflow::Sat => Some(max),
            Overflow::Fail => None,
        }
    } else if value < min || (wide && incr < incr_min) || (value < 0 && incr < 0 && incr < incr_min)
    {
        match mode {
            Overflow::Wrap => Some(wrapped()),
            Overflow::Sat => Some(min),
            Overflow::Fail => None,
        }
    } else {
        Some(value.wrapping_add(incr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_count(bytes: &[u8], range: BitRange) -> u64 {
        (range.first..=range.last)
            .filter(|&i| get_bit(bytes, i))
            .count() as u64
    }

    fn naive_find(bytes: &[u8], bit: bool, range: BitRange) -> Option<u64> {
        (range.first..=range.last).find(|&i| get_bit(bytes, i) == bit)
    }

    #[test]
    fn count_and_find_agree_with_bit_by_bit() {
        let bytes = [0x00, 0xff, 0xf0, 0x0f, 0x81, 0x00, 0xff];
        let total = bytes.len() as u64 * 8;
        for first in 0..total {
            for last in first..total {
                let range = BitRange { first, last };
                assert_eq!(count_ones(&bytes, range), naive_count(&bytes, range));
                for bit in [false, true] {
                    assert_eq!(
                        find_bit(&bytes, bit, range),
                        naive_find(&bytes, bit, range),
                        "{range:?} {bit}"
                    );
                }
            }
        }
    }

    #[test]
    fn ranges_past_the_end_read_zeros() {
        let bytes = [0xff, 0x01];
        let range = BitRange {
            first: 3,
            last: 200,
        };
        assert_eq!(count_ones(&bytes, range), naive_count(&bytes, range));
        assert_eq!(
            find_bit(&bytes, false, range),
            naive_find(&bytes, false, range)
        );
        assert_eq!(
            find_bit(
                &bytes,
                true,
                BitRange {
                    first: 16,
                    last: 99
                }
            ),
            None
        );
    }

    #[test]
    fn ranges_follow_redis_index_rules() {
        assert_eq!(resolve_range(3, 0, -1, RangeUnit::Byte), whole(3));
        assert_eq!(
            resolve_range(3, -2, 100, RangeUnit::Byte),
            Some(BitRange { first: 8, last: 23 })
        );
        assert_eq!(
            resolve_range(3, 5, 9, RangeUnit::Bit),
            Some(BitRange { first: 5, last: 9 })
        );
        assert_eq!(resolve_range(3, 2, 1, RangeUnit::Byte), None);
        assert_eq!(resolve_range(0, 0, -1, RangeUnit::Byte), None);
        assert_eq!(
            resolve_range(3, i64::MIN, i64::MAX, RangeUnit::Bit),
            Some(BitRange { first: 0, last: 23 })
        );
    }

    #[test]
    fn fields_round_trip_at_every_width_and_offset() {
        let mut bytes = vec![0u8; 12];
        for bits in 1..=63 {
            for offset in [0u64, 1, 7, 13] {
                let value = 0x5555_5555_5555_5555u64 & ((1 << bits) - 1);
                set_unsigned(&mut bytes, offset, bits, value);
                assert_eq!(get_unsigned(&bytes, offset, bits), value);
            }
        }
        set_unsigned(&mut bytes, 3, 64, (-2i64) as u64);
        assert_eq!(get_signed(&bytes, 3, 64), -2);
        set_unsigned(&mut bytes, 3, 5, 0b10000);
        assert_eq!(get_signed(&bytes, 3, 5), -16);
    }

    /// The overflow rules as redis-server 7.0.15 answered them (see bitmap.txt).
    #[test]
    fn overflow_matches_redis() {
        assert_eq!(
            signed_add(i64::MAX, 2, 64, Overflow::Wrap),
            Some(i64::MIN + 1)
        );
        assert_eq!(
            signed_add(i64::MIN, -3, 64, Overflow::Wrap),
            Some(i64::MAX - 2)
        );
        assert_eq!(signed_add(100, 100, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_add(100, 100, 8, Overflow::Fail), None);
        assert_eq!(signed_add(100, 100, 8, Overflow::Wrap), Some(-56));
        assert_eq!(unsigned_add(-1i64 as u64, 0, 8, Overflow::Wrap), Some(255));
        assert_eq!(unsigned_add(-5i64 as u64, 0, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_add(3, -5, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_add(3, -5, 8, Overflow::Wrap), Some(254));
        assert_eq!(signed_add(200, 0, 8, Overflow::Wrap), Some(-56));
    }
}
