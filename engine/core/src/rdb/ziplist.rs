//! Reading the ziplist, the packed encoding of small lists, hashes and sorted sets in RDB
//! files written before Redis 7.0 (and of quicklist nodes before 7.0).
//!
//! ```text
//!  [total bytes u32 LE][offset of the last entry u32 LE][count u16 LE] entry … [0xFF]
//!  entry = [prevlen][encoding + data]
//! ```
//!
//! `prevlen` is the previous entry's size: one byte below 254, else 0xFE and a u32 LE.
//! Encodings: `00LLLLLL` string up to 63 bytes; `01LLLLLL L8` up to 16383 (big-endian);
//! `10000000 L32` (big-endian) longer; `0xC0` i16, `0xD0` i32, `0xE0` i64, `0xF0` i24,
//! `0xFE` i8 (all little-endian); `0xF1`..`0xFD` the immediates 0..12. The count saturates at
//! 65535. Only reading: we never write ziplists.

use super::listpack::Elem;
use super::RdbError;

const HEADER_BYTES: usize = 10;
const END: u8 = 0xFF;
const BIG_PREVLEN: u8 = 0xFE;

fn corrupt(why: &'static str) -> RdbError {
    RdbError::Corrupt(why)
}

/// Checks a whole ziplist (sizes, back links, tail offset, count) and returns its elements.
pub fn parse(blob: &[u8]) -> Result<Vec<Elem<'_>>, RdbError> {
    if blob.len() < HEADER_BYTES + 1 {
        return Err(corrupt("ziplist shorter than its header"));
    }
    let u32_at = |at: usize| u32::from_le_bytes(blob[at..at + 4].try_into().expect("4")) as usize;
    if u32_at(0) != blob.len() {
        return Err(corrupt("ziplist size differs from its header"));
    }
    let tail = u32_at(4);
    let count = usize::from(u16::from_le_bytes([blob[8], blob[9]]));
    let mut elems = Vec::with_capacity(count.min(blob.len()));
    let mut at = HEADER_BYTES;
    let (mut prev_size, mut last_start) = (0usize, HEADER_BYTES);
    loop {
        let Some(&first) = blob.get(at) else {
            return Err(corrupt("ziplist without its end byte"));
        };
        if first == END {
            if at + 1 != blob.len() {
                return Err(corrupt("bytes after a ziplist's end"));
            }
            break;
        }
        let (prevlen, head) = if first == BIG_PREVLEN {
            let bytes = blob
                .get(at + 1..at + 5)
                .ok_or_else(|| corrupt("ziplist entry cut short"))?;
            (u32::from_le_bytes(bytes.try_into().expect("4")) as usize, 5)
        } else {
            (usize::from(first), 1)
        };
        if prevlen != prev_size {
            return Err(corrupt("ziplist back length mismatch"));
        }
        let (elem, body) = entry(blob, at + head)?;
        elems.push(elem);
        last_start = at;
        prev_size = head + body;
        at += prev_size;
    }
    if tail != last_start {
        return Err(corrupt("ziplist tail offset mismatch"));
    }
    if count != usize::from(u16::MAX) && count != elems.len() {
        return Err(corrupt("ziplist count differs from its entries"));
    }
    Ok(elems)
}

fn entry(blob: &[u8], at: usize) -> Result<(Elem<'_>, usize), RdbError> {
    let take = |from: usize, n: usize| {
        blob.get(from..from + n)
            .ok_or_else(|| corrupt("ziplist entry cut short"))
    };
    let first = *blob
        .get(at)
        .ok_or_else(|| corrupt("ziplist entry cut short"))?;
    let int_le = |n: usize| -> Result<i64, RdbError> {
        let bytes = take(at + 1, n)?;
        let mut wide = [0u8; 8];
        wide[..n].copy_from_slice(bytes);
        let shift = 64 - 8 * n as u32;
        Ok((i64::from_le_bytes(wide) << shift) >> shift)
    };
    let string = |head: usize, len: usize| -> Result<(Elem<'_>, usize), RdbError> {
        Ok((Elem::Str(take(at + head, len)?), head + len))
    };
    match first >> 6 {
        0 => return string(1, usize::from(first & 0x3f)),
        1 => {
            let low = take(at + 1, 1)?[0];
            return string(2, (usize::from(first & 0x3f) << 8) | usize::from(low));
        }
        2 => {
            if first != 0x80 {
                return Err(corrupt("unknown ziplist encoding"));
            }
            let len = u32::from_be_bytes(take(at + 1, 4)?.try_into().expect("4"));
            return string(5, len as usize);
        }
        _ => {}
    }
    match first {
        0xC0 => Ok((Elem::Int(int_le(2)?), 3)),
        0xD0 => Ok((Elem::Int(int_le(4)?), 5)),
        0xE0 => Ok((Elem::Int(int_le(8)?), 9)),
        0xF0 => Ok((Elem::Int(int_le(3)?), 4)),
        0xFE => Ok((Elem::Int(int_le(1)?), 2)),
        0xF1..=0xFD => Ok((Elem::Int(i64::from(first & 0x0f) - 1), 1)),
        _ => Err(corrupt("unknown ziplist encoding")),
    }
}

/// Builds ziplists, for tests of the old formats (no old Redis is at hand to write them).
#[cfg(test)]
pub fn build(elems: &[Elem<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev_size = 0usize;
    let mut last_start = HEADER_BYTES;
    for e in elems {
        let start = body.len();
        last_start = HEADER_BYTES + start;
        if prev_size < 254 {
            body.push(prev_size as u8);
        } else {
            body.push(BIG_PREVLEN);
            body.extend_from_slice(&(prev_size as u32).to_le_bytes());
        }
        match *e {
            Elem::Int(n) if (0..=12).contains(&n) => body.push(0xF1 + n as u8),
            Elem::Int(n) if i8::try_from(n).is_ok() => {
                body.push(0xFE);
                body.push(n as u8);
            }
            Elem::Int(n) if i16::try_from(n).is_ok() => {
                body.push(0xC0);
                body.extend_from_slice(&(n as i16).to_le_bytes());
            }
            Elem::Int(n) if (-(1 << 23)..(1 << 23)).contains(&n) => {
                body.push(0xF0);
                body.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
            }
            Elem::Int(n) if i32::try_from(n).is_ok() => {
                body.push(0xD0);
                body.extend_from_slice(&(n as i32).to_le_bytes());
            }
            Elem::Int(n) => {
                body.push(0xE0);
                body.extend_from_slice(&n.to_le_bytes());
            }
            Elem::Str(s) if s.len() < 64 => {
                body.push(s.len() as u8);
                body.extend_from_slice(s);
            }
            Elem::Str(s) if s.len() < 16384 => {
                body.push(0x40 | (s.len() >> 8) as u8);
                body.push(s.len() as u8);
                body.extend_from_slice(s);
            }
            Elem::Str(s) => {
                body.push(0x80);
                body.extend_from_slice(&(s.len() as u32).to_be_bytes());
                body.extend_from_slice(s);
            }
        }
        prev_size = body.len() - start;
    }
    let total = HEADER_BYTES + body.len() + 1;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(last_start as u32).to_le_bytes());
    out.extend_from_slice(&(elems.len().min(65535) as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hand_built_bytes_parse() {
        // An empty ziplist: 11 bytes, tail at the header's end, no entries.
        assert_eq!(
            parse(&[11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xFF]).unwrap(),
            vec![]
        );
        // ["ab", 7]: "ab" is [prevlen 0][0x02 'a' 'b'], 7 is [prevlen 4][0xF8].
        let blob = [
            17, 0, 0, 0, 14, 0, 0, 0, 2, 0, 0, 2, b'a', b'b', 4, 0xF8, 0xFF,
        ];
        assert_eq!(parse(&blob).unwrap(), vec![Elem::Str(b"ab"), Elem::Int(7)]);
        assert_eq!(build(&[Elem::Str(b"ab"), Elem::Int(7)]), blob.to_vec());
        let mut bad_prev = blob;
        bad_prev[14] = 3;
        assert!(parse(&bad_prev).is_err());
        let mut bad_tail = blob;
        bad_tail[4] = 10;
        assert!(parse(&bad_tail).is_err());
    }

    proptest! {
        #[test]
        fn built_ziplists_parse_back(ints in proptest::collection::vec(any::<i64>(), 0..20),
                                     strs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..400), 0..20)) {
            let mut elems: Vec<Elem<'_>> = ints.iter().map(|&n| Elem::Int(n)).collect();
            elems.extend(strs.iter().map(|s| Elem::Str(s)));
            let blob = build(&elems);
            prop_assert_eq!(parse(&blob).unwrap(), elems);
        }

        #[test]
        fn garbage_never_panics(blob in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&blob);
        }
    }
}
