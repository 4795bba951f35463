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
//! that emits valid runs is compatible, but ours writes what Redis's liblzf writes, byte for
//! byte, so our dumps and DUMP payloads equal Redis's and DEBUG OBJECT's serializedlength
//! agrees. (Redis leaves liblzf's table uninitialised, INIT_HTAB 0; its stale slots can only
//! add matches the byte check confirms, rarely; we start from a zeroed table.)

/// Longest literal run one control byte opens (liblzf's MAX_LIT).
const LITERALS_MAX: usize = 32;
/// Furthest a back reference reaches (MAX_OFF).
const OFFSET_MAX: usize = 1 << 13;
/// Longest back reference: 7 + 255 + 2 (MAX_REF).
const MATCH_MAX: usize = 264;
/// Byte comparisons liblzf unrolls before its bounded loop.
const UNROLLED_COMPARES: usize = 16;
/// liblzf's hash size as Redis builds it (HLOG 16).
const HASH_LOG: u32 = 16;

/// liblzf's IDX under VERY_FAST: `hval` holds the last four bytes read, the top one shifted
/// out of the 24 the hash is meant for, as the C code's `unsigned int` does.
fn slot_of(hval: u32) -> u16 {
    ((hval >> (24 - HASH_LOG)).wrapping_sub(hval.wrapping_mul(5)) & ((1 << HASH_LOG) - 1)) as u16
}

/// liblzf's hash table (slot → last position hashed there), kept as an open-addressing map
/// sized to the input rather than 2^16 slots zeroed per string: the same answers, since no
/// input inserts more than one position per byte.
struct Slots {
    keys: Vec<u32>,
    positions: Vec<u32>,
    mask: usize,
}

impl Slots {
    fn new(len: usize) -> Slots {
        let size = (2 * len).next_power_of_two().max(64);
        Slots {
            keys: vec![0; size],
            positions: vec![0; size],
            mask: size - 1,
        }
    }

    fn find(&self, slot: u16) -> usize {
        let key = u32::from(slot) + 1;
        let mut at = usize::from(slot) & self.mask;
        while self.keys[at] != 0 && self.keys[at] != key {
            at = (at + 1) & self.mask;
        }
        at
    }

    /// The position last stored under `slot` (0, "the input's start", when none: as the
    /// zeroed table of liblzf's INIT_HTAB), replaced by `position`.
    fn swap(&mut self, slot: u16, position: usize) -> usize {
        let at = self.find(slot);
        self.keys[at] = u32::from(slot) + 1;
        std::mem::replace(&mut self.positions[at], position as u32) as usize
    }
}

/// Compresses `input` as Redis's liblzf (`lzf_compress`, VERY_FAST, HLOG 16, a zeroed table)
/// into at most `out_max` bytes, byte for byte what Redis writes; `None` where liblzf returns
/// 0 (the output would not fit, by liblzf's own conservative checks), and Redis stores the
/// string as it is.
pub fn compress(input: &[u8], out_max: usize) -> Option<Vec<u8>> {
    let len = input.len();
    if len == 0 || out_max == 0 {
        return None;
    }
    let mut slots = Slots::new(len);
    // `out[run]` is the open literal run's control byte, written when the run closes.
    let mut out: Vec<u8> = vec![0];
    let mut run = 0;
    let mut lit = 0usize;
    let mut ip = 0usize;
    let mut hval: u32 = if len >= 2 {
        u32::from(input[0]) << 8 | u32::from(input[1])
    } else {
        0
    };
    while ip + 2 < len {
        hval = hval << 8 | u32::from(input[ip + 2]);
        let reference = slots.swap(slot_of(hval), ip);
        let matches = reference < ip
            && ip - reference - 1 < OFFSET_MAX
            && reference > 0
            && input[reference..reference + 3] == input[ip..ip + 3];
        if !matches {
            if out.len() >= out_max {
                return None;
            }
            out.push(input[ip]);
            ip += 1;
            lit += 1;
            if lit == LITERALS_MAX {
                out[run] = (lit - 1) as u8;
                lit = 0;
                run = out.len();
                out.push(0);
            }
            continue;
        }
        let offset = ip - reference - 1;
        let max_len = (len - ip - 2).min(MATCH_MAX);
        if out.len() + 4 >= out_max && out.len() - usize::from(lit == 0) + 4 >= out_max {
            return None;
        }
        let matched = match_len(input, reference, ip, max_len);
        // The open run closes (or, empty, is taken back).
        if lit == 0 {
            out.pop();
        } else {
            out[run] = (lit - 1) as u8;
        }
        let encoded = matched - 2;
        if encoded < 7 {
            out.push((offset >> 8) as u8 + ((encoded as u8) << 5));
        } else {
            out.push((offset >> 8) as u8 + (7 << 5));
            out.push((encoded - 7) as u8);
        }
        out.push(offset as u8);
        lit = 0;
        run = out.len();
        out.push(0);
        ip += matched;
        if ip + 2 >= len {
            break;
        }
        // VERY_FAST: hash the two positions before the next one.
        ip -= 2;
        hval = u32::from(input[ip]) << 8 | u32::from(input[ip + 1]);
        for _ in 0..2 {
            hval = hval << 8 | u32::from(input[ip + 2]);
            slots.swap(slot_of(hval), ip);
            ip += 1;
        }
    }
    if out.len() + 3 > out_max {
        return None;
    }
    while ip < len {
        out.push(input[ip]);
        ip += 1;
        lit += 1;
        if lit == LITERALS_MAX {
            out[run] = (lit - 1) as u8;
            lit = 0;
            run = out.len();
            out.push(0);
        }
    }
    if lit == 0 {
        out.pop();
    } else {
        out[run] = (lit - 1) as u8;
    }
    Some(out)
}

/// How many bytes at `ip` repeat those at `reference` (three known equal), as liblzf counts
/// them: past `max_len` 16, it first compares 16 bytes unrolled without the bound, so a match
/// may run two bytes past `max_len` (never past the input: `max_len` leaves two).
fn match_len(input: &[u8], reference: usize, ip: usize, max_len: usize) -> usize {
    let mut len = 2;
    if max_len > UNROLLED_COMPARES {
        for _ in 0..UNROLLED_COMPARES {
            len += 1;
            if input[reference + len] != input[ip + len] {
                return len;
            }
        }
    }
    loop {
        len += 1;
        if len >= max_len || input[reference + len] != input[ip + len] {
            return len;
        }
    }
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
