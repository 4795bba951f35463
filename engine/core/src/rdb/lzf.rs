//! LZF, the compression RDB uses for strings (`rdbcompression yes`).
//!
//! The stream is a sequence of runs, each opened by a control byte:
//!
//! ```text
//!  000LLLLL  + L+1 literal bytes                       (1..=32 literals)
//!  LLLOOOOO  OOOOOOOO                                  back reference, length LLL+2 (3..=8)
//!  111OOOOO  LLLLLLLL  OOOOOOOO                        back reference, length L+9 (9..=264)
//! ```
//!
//! A back reference copies `length` bytes starting `offset + 1` bytes behind the output's end
//! (13-bit offset, so within the last 8 KiB; the copy may overlap what it writes). Any encoder
//! that emits valid runs is compatible: Redis only decompresses what it reads. Ours hashes
//! three-byte prefixes into a table of recent positions, as liblzf does; the table is sized to
//! the input so compressing many small strings stays cheap.

/// Longest literal run one control byte opens.
const LITERALS_MAX: usize = 32;
/// Furthest a back reference reaches.
const OFFSET_MAX: usize = 1 << 13;
/// Longest back reference: 7 + 255 + 2.
const MATCH_MAX: usize = 264;
const MATCH_MIN: usize = 3;
/// The hash table's size: at most liblzf's 2^16 slots, fewer for short inputs.
const TABLE_BITS_MAX: u32 = 16;
const TABLE_BITS_MIN: u32 = 8;

fn table_bits(len: usize) -> u32 {
    let bits = usize::BITS - len.leading_zeros();
    bits.clamp(TABLE_BITS_MIN, TABLE_BITS_MAX)
}

fn hash3(bytes: &[u8], at: usize, bits: u32) -> usize {
    let v = u32::from(bytes[at]) << 16 | u32::from(bytes[at + 1]) << 8 | u32::from(bytes[at + 2]);
    (v.wrapping_mul(2_654_435_761) >> (32 - bits)) as usize
}

/// Compresses `input`; `None` when the result would take more than `out_max` bytes (the
/// caller then stores the bytes as they are).
pub fn compress(input: &[u8], out_max: usize) -> Option<Vec<u8>> {
    let bits = table_bits(input.len());
    // Positions + 1; 0 is "none yet".
    let mut table = vec![0u32; 1 << bits];
    let mut out = Vec::with_capacity(out_max.min(input.len()));
    let mut literal_start = 0;
    let mut at = 0;
    while at + MATCH_MIN <= input.len() {
        let slot = hash3(input, at, bits);
        let candidate = table[slot] as usize;
        table[slot] = (at + 1) as u32;
        if candidate != 0 {
            let from = candidate - 1;
            let distance = at - from;
            if distance <= OFFSET_MAX && input[from..from + MATCH_MIN] == input[at..at + MATCH_MIN]
            {
                let limit = MATCH_MAX.min(input.len() - at);
                let mut len = MATCH_MIN;
                while len < limit && input[from + len] == input[at + len] {
                    len += 1;
                }
                flush_literals(&input[literal_start..at], &mut out);
                put_reference(len, distance - 1, &mut out);
                if out.len() > out_max {
                    return None;
                }
                for p in at + 1..(at + len).min(input.len().saturating_sub(MATCH_MIN - 1)) {
                    table[hash3(input, p, bits)] = (p + 1) as u32;
                }
                at += len;
                literal_start = at;
                continue;
            }
        }
        at += 1;
    }
    flush_literals(&input[literal_start..], &mut out);
    (out.len() <= out_max).then_some(out)
}

fn flush_literals(literals: &[u8], out: &mut Vec<u8>) {
    for run in literals.chunks(LITERALS_MAX) {
        out.push((run.len() - 1) as u8);
        out.extend_from_slice(run);
    }
}

fn put_reference(len: usize, offset: usize, out: &mut Vec<u8>) {
    let encoded = len - 2;
    let high = (offset >> 8) as u8;
    if encoded < 7 {
        out.push(((encoded as u8) << 5) | high);
    } else {
        out.push((7 << 5) | high);
        out.push((encoded - 7) as u8);
    }
    out.push(offset as u8);
}

/// Decompresses `input`, which must expand to exactly `out_len` bytes; `None` when it is not a
/// valid LZF stream of that length.
pub fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut at = 0;
    while at < input.len() {
        let control = usize::from(input[at]);
        at += 1;
        if control < LITERALS_MAX {
            let run = control + 1;
            let literals = input.get(at..at + run)?;
            if out.len() + run > out_len {
                return None;
            }
            out.extend_from_slice(literals);
            at += run;
            continue;
        }
        let mut len = control >> 5;
        if len == 7 {
            len += usize::from(*input.get(at)?);
            at += 1;
        }
        len += 2;
        let low = usize::from(*input.get(at)?);
        at += 1;
        let back = ((control & 0x1f) << 8) + low + 1;
        if back > out.len() || out.len() + len > out_len {
            return None;
        }
        let from = out.len() - back;
        for i in 0..len {
            let byte = out[from + i];
            out.push(byte);
        }
    }
    (out.len() == out_len).then_some(out)
}

/// liblzf's hash table size as Redis builds it (`HLOG 16`).
const LIBLZF_TABLE_BITS: u32 = 16;

/// liblzf's slot for the four bytes ending at a position (its `IDX` with `VERY_FAST`).
fn liblzf_slot(h: u32) -> usize {
    let mask = (1u32 << LIBLZF_TABLE_BITS) - 1;
    ((h >> (24 - LIBLZF_TABLE_BITS)).wrapping_sub(h.wrapping_mul(5)) & mask) as usize
}

/// The back reference's length from a three-byte match at `from`/`at`, as liblzf counts it:
/// the bytes matched, capped at `len_max` except that its unrolled first 16 steps may run
/// past the cap by one or two (the reference then ends exactly at the input's end).
fn liblzf_match_len(input: &[u8], from: usize, at: usize, len_max: usize) -> usize {
    let mut len = 2;
    if len_max > 16 {
        for _ in 0..16 {
            len += 1;
            if input[from + len] != input[at + len] {
                return len;
            }
        }
    }
    loop {
        len += 1;
        if !(len < len_max && input[from + len] == input[at + len]) {
            return len;
        }
    }
}

/// `compress` as redis-server's liblzf 3.6 does it, byte for byte (FUNCTION DUMP payloads
/// must equal Redis's): the same hash of four bytes, the same choice of reference, the same
/// two positions re-hashed after each reference. The table starts zeroed (liblzf leaves it
/// uninitialised, and its bounds checks make stale slots misses in practice).
pub fn compress_as_liblzf(input: &[u8], out_max: usize) -> Option<Vec<u8>> {
    let len = input.len();
    if len < 2 || out_max == 0 {
        return None;
    }
    let mut table = vec![0u32; 1 << LIBLZF_TABLE_BITS];
    // Room past `out_max` for the run header the end may open; checked like liblzf's.
    let mut out = vec![0u8; out_max + 4];
    let (mut at, mut op, mut lit) = (0usize, 1usize, 0usize);
    let mut h = u32::from(input[0]) << 8 | u32::from(input[1]);
    while at + 2 < len {
        h = h << 8 | u32::from(input[at + 2]);
        let slot = liblzf_slot(h);
        let from = table[slot] as usize;
        table[slot] = at as u32;
        let matched = from > 0
            && from < at
            && at - from - 1 < OFFSET_MAX
            && input[from..from + 3] == input[at..at + 3];
        if !matched {
            if op >= out_max {
                return None;
            }
            out[op] = input[at];
            (op, at, lit) = (op + 1, at + 1, lit + 1);
            if lit == LITERALS_MAX {
                out[op - lit - 1] = (lit - 1) as u8;
                (lit, op) = (0, op + 1);
            }
            continue;
        }
        let offset = at - from - 1;
        let len_max = (len - at - 2).min(MATCH_MAX);
        if op + 4 >= out_max && op - usize::from(lit == 0) + 4 >= out_max {
            return None;
        }
        out[op - lit - 1] = (lit as u8).wrapping_sub(1);
        op -= usize::from(lit == 0);
        let encoded = liblzf_match_len(input, from, at, len_max) - 2;
        at += 1;
        if encoded < 7 {
            out[op] = ((offset >> 8) + (encoded << 5)) as u8;
            op += 1;
        } else {
            out[op] = ((offset >> 8) + (7 << 5)) as u8;
            out[op + 1] = (encoded - 7) as u8;
            op += 2;
        }
        out[op] = offset as u8;
        (op, lit) = (op + 2, 0);
        at += encoded + 1;
        if at + 2 >= len {
            break;
        }
        at -= 2;
        h = u32::from(input[at]) << 8 | u32::from(input[at + 1]);
        for _ in 0..2 {
            h = h << 8 | u32::from(input[at + 2]);
            table[liblzf_slot(h)] = at as u32;
            at += 1;
        }
    }
    if op + 3 > out_max {
        return None;
    }
    while at < len {
        out[op] = input[at];
        (op, at, lit) = (op + 1, at + 1, lit + 1);
        if lit == LITERALS_MAX {
            out[op - lit - 1] = (lit - 1) as u8;
            (lit, op) = (0, op + 1);
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repetitive_input_shrinks_and_comes_back() {
        let input: Vec<u8> = b"abcabcabcabcabcabcabcabcabcabcabcabc".repeat(40);
        let packed = compress(&input, input.len() - 4).expect("compressible");
        assert!(packed.len() < input.len() / 10, "{} bytes", packed.len());
        assert_eq!(
            decompress(&packed, input.len()).as_deref(),
            Some(&input[..])
        );
    }

    #[test]
    fn incompressible_input_is_refused_within_budget() {
        let input: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(compress(&input, input.len() - 4), None);
    }

    #[test]
    fn decoding_a_hand_built_stream() {
        // "abc" as literals, then a reference of length 6 one offset of 2 (distance 3).
        let stream = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&stream, 9).as_deref(), Some(&b"abcabcabc"[..]));
        assert_eq!(decompress(&stream, 8), None, "longer than announced");
        assert_eq!(decompress(&stream, 10), None, "shorter than announced");
        assert_eq!(
            decompress(&[(1 << 5), 0], 3),
            None,
            "reference before any output"
        );
        assert_eq!(decompress(&[5, b'a'], 6), None, "literal run cut short");
    }

    proptest! {
        #[test]
        fn round_trips(input in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..3000)) {
            if let Some(packed) = compress(&input, input.len().saturating_sub(4)) {
                prop_assert!(packed.len() + 4 <= input.len());
                prop_assert_eq!(decompress(&packed, input.len()), Some(input));
            }
        }

        #[test]
        fn decoding_garbage_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200), len in 0usize..1000) {
            let _ = decompress(&input, len);
        }
    }
}
